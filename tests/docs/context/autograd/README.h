// tests/docs/context/autograd/README.h: what the sample of autograd/README.md needs: record(),
// which only ops include (autograd/node.h).
#pragma once

#include "autograd/node.h"
