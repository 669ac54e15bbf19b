// tests/docs/context/docs/labs/13-time-series.h: what the samples of docs/labs/13-time-series.md
// need beyond the prelude: the RNN's header.
#pragma once

#include "nn/rnn.h"
