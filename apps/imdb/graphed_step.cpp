// apps/imdb/graphed_step.cpp: see graphed_step.h.
#include "apps/imdb/graphed_step.h"

#include "tensor/error.h"

namespace loom::imdb {

GraphedStep::GraphedStep(ImdbModel& model, Inputs inputs, std::FILE* log)
    : model_(model), inputs_(std::move(inputs)), log_(log), graph_(model.device().index) {}

GraphedStep::Outputs GraphedStep::run() {
  if (!graph_.captured()) {
    try {
      graph_.capture([&] {
        // Set to none, so the captured backward creates the gradients in the graph's memory
        // (otherwise each replay would add to the gradients left from before the capture).
        model_.zero_grad(/*set_to_none=*/true);
        const auto [tokens, labels] = inputs_();
        const Variable logits = model_.forward(tokens);
        const Variable loss = model_.loss(logits, labels);
        model_.backward(loss);
        model_.step();
        out_ = Outputs{loss.data(), logits.data(), labels};
      });
    } catch (const Error& e) {
      LOOM_FAIL(
          "--cuda-graph: the training step could not be captured (run without "
          "--cuda-graph): ",
          e.what());
    }
    std::fprintf(log_, "cuda graph: captured the training step, %zu nodes in %.1f ms\n",
                 graph_.num_nodes(), graph_.capture_seconds() * 1e3);
  }
  graph_.replay();
  return out_;
}

}  // namespace loom::imdb
