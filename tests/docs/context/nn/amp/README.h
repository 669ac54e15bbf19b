// tests/docs/context/nn/amp/README.h: what the sample of nn/amp/README.md needs: the loss scaler's
// Tensor ops it copies (tensor/loss_scale.h).
#pragma once

#include "tensor/loss_scale.h"
