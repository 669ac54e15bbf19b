# tests/bench/gemm.cmake: the packed GEMM against Eigen and OpenBLAS, and the roofline (lab 10).
# Included by tests/bench/CMakeLists.txt; run it through tests/bench/run_gemm_bench.sh. OpenBLAS
# is opened at run time (dlopen), so neither loom nor this program links it.
add_executable(bench_gemm ${CMAKE_CURRENT_LIST_DIR}/bench_gemm.cpp)
target_link_libraries(bench_gemm PRIVATE loom::tensor Eigen3::Eigen OpenMP::OpenMP_CXX
                                         benchmark::benchmark ${CMAKE_DL_LIBS})
loom_target_defaults(bench_gemm)
# Same GCC 12 / AVX-512 false positive as in tensor/cpu (see tensor/CMakeLists.txt).
target_compile_options(bench_gemm PRIVATE -Wno-maybe-uninitialized -Wno-uninitialized)
