// apps/airline/classifier_study.h: the NumPy/Numba student project's study, reproduced: a tanh
// RNN that reads a year of month-to-month changes, each encoded as one of three classes (down,
// flat, up), and predicts the next month's class.
//
// Preprocessing, as the project's notebook: the changes x[t+1] - x[t] of the last 60% of the
// series, normalised (zero mean, unit variance), clustered by 1-D k-means into 3 classes
// (centroids started at the minimum, median and maximum: deterministic), one-hot. Windows of 12
// classes predict the 13th; the windows, in time order, split 80/10/10 into train/valid/test.
// Model: RNN(3, 50) tanh -> the last h -> Linear(50, 3) -> cross-entropy; plain SGD, lr 0.1,
// 5 epochs, float64. "Sequential" is the composed RNN on one thread, "parallel" the fused RNN on
// every thread; both print each epoch's losses and must agree to the bit (nn/rnn.h). On a GPU the
// study adds "parallel (cuda)": the fused RNN on the device (cuda/kernels/rnn.cu, cuBLAS float64
// GEMMs), whose losses must agree with the CPU's within 1e-12 (its sums run in another order).
//
// Leaves out: the project's random initial weights (loom draws its own from a seed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/airline/series.h"
#include "nn/rnn.h"
#include "tensor/tensor.h"

namespace loom::airline {

struct ClassifierConfig {
  int64_t hidden = 50, window = 12, epochs = 5;
  int64_t batch = 1;  // windows per SGD step (1: one update per window, as the NumPy loop)
  double lr = 0.1, used_fraction = 0.6;
  uint64_t seed = 1;
};

// The windows of one split: x [window, N, 3] one-hot (time-major), y [N] class indices.
struct ClassSplit {
  Tensor x, y;
};
struct ClassData {
  std::vector<double> centroids;  // the three k-means centroids, normalised units, ascending
  std::vector<int64_t> counts;    // changes per class
  ClassSplit train, valid, test;
};

// Changes z (1-D), k clusters by Lloyd's algorithm from evenly spaced order statistics;
// returns the cluster of each value (0 = lowest centroid) and writes the sorted centroids.
std::vector<int64_t> kmeans_1d(const std::vector<double>& z, int k, std::vector<double>* centroids);

ClassData prepare_classes(const MonthlySeries& s, const ClassifierConfig& c);

struct EpochLoss {
  int64_t epoch;  // 0: before training
  double train, valid;
};
struct ClassifierRun {
  std::string name;  // "sequential" or "parallel"
  int threads = 1;
  std::vector<EpochLoss> losses;
  double test_accuracy = 0;
  double seconds = 0;                       // the whole run: every epoch and every evaluation
  std::vector<unsigned char> weight_bytes;  // the final parameters, to compare bit for bit
};

// Trains on `device` (the data and the model are copied there; weight_bytes come back to the
// CPU). `threads` sets the CPU's thread count for the run, whatever the device.
ClassifierRun train_classifier(const ClassData& d, const ClassifierConfig& c, nn::RnnImpl impl,
                               int threads, const std::string& name, Device device = kCPU);

}  // namespace loom::airline
