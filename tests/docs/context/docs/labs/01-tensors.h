// tests/docs/context/docs/labs/01-tensors.h: what the samples of docs/labs/01-tensors.md take
// from the tests they were lifted from (tests/tensor/).
#pragma once

#include "tests/common/error_of.h"

using loom::test::error_of;
