# tests/bench/gpu.cmake: the GPU training-step benchmark (lab 08), CUDA builds only. Run it
# through tests/bench/run_gpu_bench.sh, which also runs the PyTorch twin.
# A plain program (CUDA events, JSON on stdout), not Google Benchmark: the timing must be done
# with events on the stream, and each configuration runs in its own process.
if(LOOM_HAVE_CUDA)
  add_executable(bench_gpu_step ${CMAKE_CURRENT_LIST_DIR}/bench_gpu_step.cpp)
  target_link_libraries(bench_gpu_step PRIVATE loom::nn loom::cuda loom::data
                                               nlohmann_json::nlohmann_json)
  loom_target_defaults(bench_gpu_step)
  # The persistent LSTM (issue 6 item 3c) may not be in every checkout: benchmark it only when
  # nn/lstm.h declares it, and report "skipped" otherwise.
  file(READ ${PROJECT_SOURCE_DIR}/nn/lstm.h _loom_lstm_h)
  string(FIND "${_loom_lstm_h}" "lstm_persistent_available" _loom_has_persistent)
  if(_loom_has_persistent GREATER -1)
    target_compile_definitions(bench_gpu_step PRIVATE LOOM_BENCH_HAVE_PERSISTENT=1)
  else()
    target_compile_definitions(bench_gpu_step PRIVATE LOOM_BENCH_HAVE_PERSISTENT=0)
  endif()
endif()
