# tests/bench/gpu.cmake: the GPU training-step benchmark (lab 08), CUDA builds only. Run it
# through tests/bench/run_gpu_bench.sh, which also runs the PyTorch twin.
# A plain program (CUDA events, JSON on stdout), not Google Benchmark: the timing must be done
# with events on the stream, and each configuration runs in its own process.
if(LOOM_HAVE_CUDA)
  add_executable(bench_gpu_step ${CMAKE_CURRENT_LIST_DIR}/bench_gpu_step.cpp)
  # imdb_lib for the app's on-device dataset (apps/imdb/device_data.h), the --input resident mode.
  target_link_libraries(bench_gpu_step PRIVATE imdb_lib loom::nn loom::cuda
                                               nlohmann_json::nlohmann_json)
  loom_target_defaults(bench_gpu_step)
endif()
