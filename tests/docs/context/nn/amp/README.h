// tests/docs/context/nn/amp/README.h: what the sample of nn/amp/README.md needs: the Backend's
// declarations it copies (tensor/backend.h), with the argument struct that Backend declares.
#pragma once

#include "tensor/backend.h"

using AmpScaleUpdate = loom::Backend::AmpScaleUpdate;
