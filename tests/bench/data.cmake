# tests/bench/data.cmake: the data pipeline benchmark (included from tests/bench/CMakeLists.txt).
# Run it through tests/bench/run_data_bench.sh, which also times the Python reference.
add_executable(bench_data ${CMAKE_CURRENT_LIST_DIR}/bench_data.cpp)
target_link_libraries(bench_data PRIVATE loom::data)
loom_target_defaults(bench_data)
