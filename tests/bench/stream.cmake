# tests/bench/stream.cmake: the streamed-corpus benchmark (included from tests/bench/CMakeLists.txt).
# Run it through tests/bench/run_stream_bench.sh on the synthetic corpus.
add_executable(bench_stream ${CMAKE_CURRENT_LIST_DIR}/bench_stream.cpp)
target_link_libraries(bench_stream PRIVATE loom::data)
loom_target_defaults(bench_stream)
