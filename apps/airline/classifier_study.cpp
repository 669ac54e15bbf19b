// apps/airline/classifier_study.cpp: the project's preprocessing and training loop
// (classifier_study.h).
#include "apps/airline/classifier_study.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "nn/linear.h"
#include "nn/losses.h"
#include "nn/optim/sgd.h"
#include "tensor/cpu/threads.h"

namespace loom::airline {
namespace {

constexpr int kClasses = 3;

// Windows [first, last) of the class sequence: x [window, N, 3] one-hot, y [N].
ClassSplit make_split(const std::vector<int64_t>& cls, int64_t window, int64_t first,
                      int64_t last) {
  const int64_t n = last - first;
  std::vector<double> x(static_cast<size_t>(window * n * kClasses), 0.0);
  std::vector<int64_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t t = 0; t < window; ++t) {
      const int64_t c = cls[static_cast<size_t>(first + i + t)];
      x[static_cast<size_t>((t * n + i) * kClasses + c)] = 1.0;
    }
    y[static_cast<size_t>(i)] = cls[static_cast<size_t>(first + i + window)];
  }
  return {from_vector<double>(x, {window, n, kClasses}), from_vector<int64_t>(y, {n})};
}

// Mean cross-entropy of the model on a split, and the share of windows it gets right.
double evaluate(nn::RNN& rnn, nn::Linear& fc, const ClassSplit& s, double* accuracy = nullptr) {
  NoGradGuard no_grad;
  const Variable logits = fc.forward(squeeze(rnn.forward_full(Variable(s.x)).h_n, 0));
  if (accuracy) {
    const std::vector<int64_t> pred = argmax(logits.data(), 1).to_vector<int64_t>();
    const std::vector<int64_t> y = s.y.to_vector<int64_t>();
    int64_t right = 0;
    for (size_t i = 0; i < y.size(); ++i)
      right += pred[i] == y[i];
    *accuracy = static_cast<double>(right) / static_cast<double>(y.size());
  }
  return nn::cross_entropy(logits, s.y).data().item<double>();
}

}  // namespace

std::vector<int64_t> kmeans_1d(const std::vector<double>& z, int k,
                               std::vector<double>* centroids) {
  LOOM_CHECK(k >= 1 && z.size() >= static_cast<size_t>(k), "k-means: ", k, " clusters need at ",
             "least ", k, " values, got ", z.size());
  std::vector<double> sorted = z;
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> c(static_cast<size_t>(k));
  for (int j = 0; j < k; ++j)  // min, ..., max: evenly spaced order statistics
    c[static_cast<size_t>(j)] = sorted[(sorted.size() - 1) * static_cast<size_t>(j) /
                                       static_cast<size_t>(std::max(k - 1, 1))];
  std::vector<int64_t> label(z.size(), -1);
  for (int iter = 0; iter < 100; ++iter) {
    bool changed = false;
    for (size_t i = 0; i < z.size(); ++i) {
      int64_t best = 0;
      for (int j = 1; j < k; ++j)
        if (std::abs(z[i] - c[static_cast<size_t>(j)]) <
            std::abs(z[i] - c[static_cast<size_t>(best)]))
          best = j;
      changed |= label[i] != best;
      label[i] = best;
    }
    if (!changed) break;
    for (int j = 0; j < k; ++j) {  // each centroid: the mean of its members (kept if none)
      double sum = 0;
      int64_t n = 0;
      for (size_t i = 0; i < z.size(); ++i)
        if (label[i] == j) sum += z[i], ++n;
      if (n > 0) c[static_cast<size_t>(j)] = sum / static_cast<double>(n);
    }
  }
  if (centroids) *centroids = c;  // ascending: started ascending, and 1-D Lloyd keeps the order
  return label;
}

ClassData prepare_classes(const MonthlySeries& s, const ClassifierConfig& c) {
  const int64_t n_changes = s.size() - 1;
  const int64_t used = static_cast<int64_t>(std::llround(c.used_fraction * n_changes));
  LOOM_CHECK(used - c.window >= 10, s.source, ": the last ", c.used_fraction * 100, "% of ",
             s.size(), " months gives ", used, " changes: too few for windows of ", c.window,
             " and an 80/10/10 split");
  std::vector<double> z;
  for (int64_t t = n_changes - used; t < n_changes; ++t)
    z.push_back(s.values[static_cast<size_t>(t + 1)] - s.values[static_cast<size_t>(t)]);
  double mean = 0, var = 0;
  for (double v : z)
    mean += v / static_cast<double>(z.size());
  for (double v : z)
    var += (v - mean) * (v - mean) / static_cast<double>(z.size());
  const double sd = std::sqrt(var) > 0 ? std::sqrt(var) : 1.0;
  for (double& v : z)
    v = (v - mean) / sd;
  ClassData d;
  const std::vector<int64_t> cls = kmeans_1d(z, kClasses, &d.centroids);
  d.counts.assign(kClasses, 0);
  for (int64_t k : cls)
    ++d.counts[static_cast<size_t>(k)];
  const int64_t windows = used - c.window;
  const int64_t n_train = std::llround(0.8 * windows), n_valid = std::llround(0.1 * windows);
  d.train = make_split(cls, c.window, 0, n_train);
  d.valid = make_split(cls, c.window, n_train, n_train + n_valid);
  d.test = make_split(cls, c.window, n_train + n_valid, windows);
  return d;
}

namespace {

ClassSplit to_device(const ClassSplit& s, Device device) {
  return {s.x.to(device), s.y.to(device)};
}

}  // namespace

ClassifierRun train_classifier(const ClassData& host, const ClassifierConfig& c, nn::RnnImpl impl,
                               int threads, const std::string& name, Device device) {
  const int saved_threads = get_num_threads();
  set_num_threads(threads);
  const auto start = std::chrono::steady_clock::now();
  // The weights are drawn on the CPU from the seed, then moved: every device starts alike.
  Generator gen(c.seed);
  nn::RNN rnn(nn::RNNOptions(kClasses, c.hidden).impl(impl), gen);
  nn::Linear fc(nn::LinearOptions(c.hidden, kClasses), gen);
  rnn.to(DType::Float64);
  fc.to(DType::Float64);
  rnn.to(device);
  fc.to(device);
  ClassData d;
  d.train = to_device(host.train, device);
  d.valid = to_device(host.valid, device);
  d.test = to_device(host.test, device);
  std::vector<Variable> params = rnn.parameters();
  for (const Variable& p : fc.parameters())
    params.push_back(p);
  nn::optim::SGD sgd(params, nn::optim::SGDOptions(c.lr));
  ClassifierRun run;
  run.name = name;
  run.threads = threads;
  run.losses.push_back({0, evaluate(rnn, fc, d.train), evaluate(rnn, fc, d.valid)});
  const int64_t n = d.train.y.size(0);
  for (int64_t epoch = 1; epoch <= c.epochs; ++epoch) {
    for (int64_t b0 = 0; b0 < n; b0 += c.batch) {  // in time order: no shuffling
      const int64_t nb = std::min(c.batch, n - b0);
      sgd.zero_grad(true);
      const Variable h = squeeze(rnn.forward_full(Variable(d.train.x.narrow(1, b0, nb))).h_n, 0);
      nn::cross_entropy(fc.forward(h), d.train.y.narrow(0, b0, nb)).backward();
      sgd.step();
    }
    run.losses.push_back({epoch, evaluate(rnn, fc, d.train), evaluate(rnn, fc, d.valid)});
  }
  evaluate(rnn, fc, d.test, &run.test_accuracy);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const Variable& p : params) {
    const Tensor t = p.data().to(kCPU).contiguous();
    const auto* b = static_cast<const unsigned char*>(t.raw_data());
    run.weight_bytes.insert(run.weight_bytes.end(), b, b + t.numel() * dtype_size(t.dtype()));
  }
  set_num_threads(saved_threads);
  return run;
}

}  // namespace loom::airline
