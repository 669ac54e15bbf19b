# tests/bench/distributed.cmake: data-parallel IMDB training steps and gradient all-reduce,
# 1 vs N processes (lab 09). Included by tests/bench/CMakeLists.txt; run it through
# tests/bench/run_distributed_bench.sh (it needs mpiexec).
if(TARGET loom_distributed)
  add_executable(bench_distributed ${CMAKE_CURRENT_LIST_DIR}/bench_distributed.cpp)
  target_link_libraries(bench_distributed PRIVATE loom::distributed benchmark::benchmark)
  loom_target_defaults(bench_distributed)
endif()
