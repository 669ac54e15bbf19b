// tests/docs/sample_prelude.h: what every C++ sample in the docs sees before its page's context
// header (tests/docs/context/<page>.h) and its own text: the public headers of tensor/,
// autograd/, nn/ and data/, GoogleTest (samples lifted from tests keep their EXPECT_ lines), and
// `using namespace loom`. docs/README.md says how samples are compiled.
// Leaves out: backend internals, cuda/, nn/distributed/ and the apps: a page whose samples use
// them includes them in its context header.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "autograd/variable.h"
#include "data/batch.h"
#include "data/csv.h"
#include "data/dataset.h"
#include "data/encode.h"
#include "data/example.h"
#include "data/fasttext.h"
#include "data/imdb_reader.h"
#include "data/prefetcher.h"
#include "data/readers.h"
#include "data/sampler.h"
#include "data/split.h"
#include "data/text_pipeline.h"
#include "data/token_corpus.h"
#include "data/vocab.h"
#include "nn/activation.h"
#include "nn/amp/autocast.h"
#include "nn/amp/grad_scaler.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/losses.h"
#include "nn/lstm.h"
#include "nn/module.h"
#include "nn/optim/adam.h"
#include "nn/optim/clip_grad.h"
#include "nn/optim/sgd.h"
#include "nn/sequential.h"
#include "nn/serialize.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"

using namespace loom;
