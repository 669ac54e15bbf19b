// tests/docs/context/data/README.h: what the samples of data/README.md take from
// the test they were lifted from (tests/data/pipeline_test.cpp, which writes the archive).
#pragma once

using namespace loom::data;

extern const std::string archive;     // a tiny aclImdb .tar.gz the test writes
extern const std::string vocab_path;  // where the vocabulary is saved
extern int64_t batches_seen;
extern double waited;
