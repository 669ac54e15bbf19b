# tests/bench/seq2cnn.cmake: the full-size Seq2CNN forward, batch 1 and batched (lab 12).
# Included by tests/bench/CMakeLists.txt; run it through tests/bench/run_seq2cnn_bench.sh.
if(TARGET imdb_lib)
  add_executable(bench_seq2cnn ${CMAKE_CURRENT_LIST_DIR}/bench_seq2cnn.cpp)
  target_link_libraries(bench_seq2cnn PRIVATE imdb_lib loom::nn)
  loom_target_defaults(bench_seq2cnn)
endif()
