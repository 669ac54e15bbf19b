# tests/bench/lstm.cmake: the IMDB training-step benchmark, composed vs fused LSTM (lab 04).
# Included by tests/bench/CMakeLists.txt; run it through tests/bench/run_lstm_bench.sh.
add_executable(bench_lstm_step ${CMAKE_CURRENT_LIST_DIR}/bench_lstm_step.cpp)
target_link_libraries(bench_lstm_step PRIVATE loom::nn benchmark::benchmark)
loom_target_defaults(bench_lstm_step)
