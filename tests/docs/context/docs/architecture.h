// tests/docs/context/docs/architecture.h: what the sample of docs/architecture.md takes from the
// test it was lifted from (tests/autograd/test_engine.cpp reads a node's name).
#pragma once

#include "autograd/node.h"
