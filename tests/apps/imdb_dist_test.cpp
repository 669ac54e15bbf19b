// tests/apps/imdb_dist_test.cpp: `imdb train` on 2 (4, 8) processes under Open MPI's mpiexec,
// on the tiny generated dataset (apps/imdb/distributed.h has the rules these tests check).
//   TwoProcessesTrainLikeOne        2 ranks x 8 rows = 1 process x 16 rows: the same weights
//                                   (1e-5) and metrics; only rank 0 writes files and prints
//   FourAndEightProcesses...        the same at 4 x 4 and 8 x 2 rows
//   StoppedOnTwoResumedOnOne        a 2-rank run stopped mid-epoch, resumed by 1 process, ends
//                                   where an uninterrupted run ends
//   BadInputOnTwoRanks*             a bad flag, a bad launch: non-zero exit, one message, fast
//   SrunWithoutAnMpiPlugin...       plain srun's environment: a clear error before MPI starts
//   SigtermToMpirun...              Ctrl-C/SIGTERM to mpiexec: rank 0 checkpoints, all exit
//   SigusrOneToOneRank...           a signal on rank 1 only: every rank stops after the same step
//   ImdbPipeline.*                  --pipeline-stages 2 on 2 and 4 processes: like one (1e-6),
//                                   plain checkpoints (one process resumes), bad layouts refused
// The program runs as ONE process; each test starts mpiexec as a child, bounded by `timeout`,
// so a hang fails the test instead of blocking CI. Open MPI refuses root unless told (CI runs
// as root): the environment below allows it. Dropout is off in the comparisons.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

#include "apps/imdb/checkpoint.h"
#include "apps/imdb/metrics.h"
#include "nn/distributed/env.h"
#include "nn/safetensors.h"
#include "nn/serialize.h"
#include "tests/apps/app_fixture.h"

namespace loom::imdb {
namespace {

using namespace testing_support;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// mpiexec with the CI environment (root allowed, 2 ranks on fewer cores, no CMA copies) and
// each output line tagged "[1,R]<stdout>:" with its rank. `limit_s` bounds the whole job.
// `limit_s` > 0 bounds the whole job with `timeout`; 0 leaves that to the caller.
std::string mpiexec(int limit_s) {
  const std::string bound =
      limit_s > 0 ? "timeout --kill-after=5 " + std::to_string(limit_s) + " " : std::string();
  return "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
         "OMPI_MCA_btl_vader_single_copy_mechanism=none OMP_NUM_THREADS=1 "
         "LOOM_DIST_TIMEOUT_S=30 ASAN_OPTIONS=detect_leaks=0 " +  // tests/distributed/CMakeLists
         bound +
         "'" + LOOM_MPIEXEC + "' --oversubscribe --allow-run-as-root --tag-output";
}

std::string bin() {
  return std::string("'") + LOOM_IMDB_BIN + "'";
}

// No dropout: 1 and 2 processes then compute the same thing, up to rounding.
std::string flags(int epochs) {
  return " --epochs " + std::to_string(epochs) +
         " --spatial-dropout 0 --lstm-dropout 0 --recurrent-dropout 0 " + tiny_model_flags();
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1))
    ++n;
  return n;
}

// Max |a - b| over every tensor (weights, Adam's state) of two checkpoints with the same names;
// `worst` (if given) gets the name of the tensor where it is.
double max_tensor_diff(const std::string& a, const std::string& b,
                       std::string* worst_name = nullptr) {
  const nn::SafetensorsContents fa = nn::load_safetensors(a), fb = nn::load_safetensors(b);
  EXPECT_EQ(fa.tensors.size(), fb.tensors.size());
  double worst = 0;
  for (const nn::TensorRecord& r : fa.tensors) {
    const nn::TensorRecord* s = fb.find(r.name);
    if (s == nullptr) {
      ADD_FAILURE() << "tensor " << r.name << " is missing from " << b;
      return INFINITY;
    }
    const std::vector<double> va = nn::record_to_tensor(r).to_vector<double>();
    const std::vector<double> vb = nn::record_to_tensor(*s).to_vector<double>();
    EXPECT_EQ(va.size(), vb.size()) << r.name;
    for (size_t i = 0; i < va.size() && i < vb.size(); ++i) {
      if (std::abs(va[i] - vb[i]) > worst && worst_name != nullptr)
        *worst_name = r.name + " at " + std::to_string(i) + ": " + std::to_string(va[i]);
      worst = std::max(worst, std::abs(va[i] - vb[i]));
    }
  }
  return worst;
}

void expect_same_metrics(const std::string& one, const std::string& two) {
  const std::vector<EpochMetrics> a = read_metrics(one), b = read_metrics(two);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(a[i].train_loss, b[i].train_loss, 1e-5) << "epoch " << i + 1;
    EXPECT_DOUBLE_EQ(a[i].train_acc, b[i].train_acc) << "epoch " << i + 1;
    EXPECT_NEAR(a[i].val_loss, b[i].val_loss, 1e-5) << "epoch " << i + 1;
    EXPECT_DOUBLE_EQ(a[i].val_acc, b[i].val_acc) << "epoch " << i + 1;
    EXPECT_EQ(a[i].best, b[i].best) << "epoch " << i + 1;
  }
}

class ImdbDataParallel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(temp_dir("dist"));
    make_tiny_aclimdb(*root_, 40);  // 160 reviews: 128 training rows = 8 batches of 16
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }
  static std::string data() { return *root_ + "/aclImdb"; }
  static std::string dir(const std::string& name) { return *root_ + "/" + name; }
  static std::string* root_;
};
std::string* ImdbDataParallel::root_ = nullptr;

TEST_F(ImdbDataParallel, TwoProcessesTrainLikeOne) {
  const std::string one = dir("one");
  RunResult r = run_imdb("train --data " + data() + " --out " + one + flags(2));
  ASSERT_EQ(r.status, 0) << r.output;

  // Two app contexts, one rank each, in different working directories with a RELATIVE --out:
  // a file written by rank 1 would land under r1/, so "only rank 0 writes" is observable.
  const std::string r0 = dir("r0"), r1 = dir("r1");
  fs::create_directories(r0);
  fs::create_directories(r1);
  const std::string args = " train --data " + data() + " --out out" + flags(2);
  r = run_shell(mpiexec(60) + " -n 1 -wdir " + r0 + " " + bin() + args + " : -n 1 -wdir " + r1 +
                " " + bin() + args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("2 processes (mpi, launcher openmpi"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("global batch 16 = 2 x 8 rows"), std::string::npos) << r.output;

  // Only rank 0 wrote files, and only rank 0 printed.
  for (const char* f : {"config.json", "metrics.jsonl", "last.safetensors", "best.safetensors",
                        "epoch_002.safetensors"})
    EXPECT_TRUE(fs::exists(r0 + "/out/" + f)) << f;
  EXPECT_FALSE(fs::exists(r1 + "/out")) << "rank 1 wrote into its --out";
  EXPECT_EQ(count(r.output, "[1,1]<"), 0u) << "rank 1 printed:\n" << r.output;
  EXPECT_EQ(count(r.output, "[1,0]<stdout>:epoch "), 2u) << r.output;

  // The same weights and Adam state as one process on the whole batch, and the same metrics.
  const std::string two = r0 + "/out";
  EXPECT_LT(max_tensor_diff(one + "/last.safetensors", two + "/last.safetensors"), 1e-5);
  EXPECT_GT(max_tensor_diff(one + "/epoch_001.safetensors", two + "/last.safetensors"), 1e-3)
      << "the control: the second epoch must move the weights, or the comparison says nothing";
  expect_same_metrics(one + "/metrics.jsonl", two + "/metrics.jsonl");
  const std::vector<EpochMetrics> m1 = read_metrics(one + "/metrics.jsonl"),
                                  m2 = read_metrics(two + "/metrics.jsonl");
  ASSERT_EQ(m2.size(), 2u);
  EXPECT_EQ(m1[0].world_size, 1);
  EXPECT_EQ(m2[0].world_size, 2);
  EXPECT_EQ(m1[0].comm_time_s, 0.0);
  EXPECT_GT(m2[0].comm_time_s, 0.0);
}

// Beyond 2: 4 ranks of 4 rows and 8 ranks of 2 rows (oversubscribed on this machine's cores)
// reach the one-process weights and metrics too. Slower than the 2-rank test, not different in
// kind: what it adds is that nothing in the app assumes two ranks (sharding, the metric totals,
// validation split over more ranks than some batches have rows).
TEST_F(ImdbDataParallel, FourAndEightProcessesTrainLikeOne) {
  const std::string one = dir("one_for_4_8");
  RunResult r = run_imdb("train --data " + data() + " --out " + one + flags(2));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const int ranks : {4, 8}) {
    const std::string out = dir("ranks" + std::to_string(ranks));
    r = run_shell(mpiexec(120) + " -n " + std::to_string(ranks) + " " + bin() + " train --data " +
                  data() + " --out " + out + flags(2));
    ASSERT_EQ(r.status, 0) << ranks << " ranks:\n" << r.output;
    EXPECT_NE(r.output.find("global batch 16 = " + std::to_string(ranks) + " x " +
                            std::to_string(16 / ranks) + " rows"),
              std::string::npos)
        << r.output;
    EXPECT_LT(max_tensor_diff(one + "/last.safetensors", out + "/last.safetensors"), 1e-5)
        << ranks << " ranks";
    expect_same_metrics(one + "/metrics.jsonl", out + "/metrics.jsonl");
    EXPECT_EQ(read_metrics(out + "/metrics.jsonl").at(0).world_size, ranks);
  }
}

TEST_F(ImdbDataParallel, StoppedOnTwoResumedOnOne) {
  const std::string straight = dir("straight"), split = dir("split");
  RunResult r = run_imdb("train --data " + data() + " --out " + straight + flags(3));
  ASSERT_EQ(r.status, 0) << r.output;
  // 8 global steps per epoch: stop in the middle of epoch 2 on 2 ranks ...
  r = run_shell(mpiexec(60) + " -n 2 " + bin() + " train --data " + data() + " --out " + split +
                flags(3) + " --stop-after-steps 11");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("stopped by --stop-after-steps at epoch 2, step 3/8"), std::string::npos)
      << r.output;
  const Checkpoint ck = load_checkpoint(split + "/last.safetensors");
  EXPECT_EQ(ck.state.step_in_epoch, 3);
  EXPECT_EQ(ck.state.seen, 3 * 16) << "the job's rows of the partial epoch, not rank 0's";
  // ... and finish on 1 process: the global batches do not depend on the world size.
  r = run_imdb("train --out " + split + " --resume --threads 1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("resuming at epoch 2, step 3"), std::string::npos) << r.output;
  EXPECT_LT(max_tensor_diff(straight + "/last.safetensors", split + "/last.safetensors"), 1e-5);
  expect_same_metrics(straight + "/metrics.jsonl", split + "/metrics.jsonl");
}

// A command line every rank rejects: non-zero exit, quickly, and the message exactly once.
void expect_one_clean_failure(const std::string& args, const std::string& message) {
  const auto t0 = Clock::now();
  const RunResult r = run_shell(mpiexec(30) + " -n 2 " + bin() + " " + args);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.status, 124) << "timed out: a hang\n" << r.output;
  EXPECT_LT(seconds, 25) << r.output;
  EXPECT_EQ(count(r.output, message), 1u) << "expected once: " << message << "\n" << r.output;
  EXPECT_EQ(count(r.output, "[1,1]<"), 0u) << "rank 1 repeated it:\n" << r.output;
}

TEST_F(ImdbDataParallel, BadInputOnTwoRanksFailsOnceAndFast) {
  expect_one_clean_failure("train --no-such-flag", "--no-such-flag");
  expect_one_clean_failure("train --data " + data() + " --max-len 0",
                           "--max-len must be >= 1, got 0");
  expect_one_clean_failure("train --data " + data() + " --batch 15",
                           "--batch 15 is the global batch and must split evenly over the 2");
  expect_one_clean_failure("eval --checkpoint x.safetensors",
                           "imdb eval runs as one process, but this is rank 0 of 2");
}

TEST_F(ImdbDataParallel, AnErrorOnOneRankEndsTheJobWithItsRank) {
  // Missing data is found after MPI has started, inside run_distributed: both ranks fail alike
  // here, and each names itself; nobody hangs.
  const auto t0 = Clock::now();
  const RunResult r = run_shell(mpiexec(30) + " -n 2 " + bin() + " train --data " +
                                dir("no_such_data") + " --out " + dir("nodata") + flags(1));
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.status, 124) << "timed out: a hang\n" << r.output;
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 25);
  EXPECT_NE(r.output.find(" of 2: failed: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("no_such_data"), std::string::npos) << r.output;
}

TEST_F(ImdbDataParallel, SrunWithoutAnMpiPluginIsNamedBeforeMpiStarts) {
  if (!nn::distributed::linked_with_open_mpi()) GTEST_SKIP() << "the check is Open MPI's only";
  // What plain `srun -n 2 imdb train` (no --mpi=pmix) gives each task, faked for each rank in
  // turn (no Slurm needed). Under Slurm 22.05, Open MPI 4.1.4's MPI_Init then stops every task
  // with a message about how Open MPI was built; imdb names the launch first, rank 0 only.
  const std::string out = dir("plain_srun");
  for (const std::string rank : {"0", "1"}) {
    const RunResult r = run_shell(
        "env -u PMIX_RANK -u PMI_RANK -u PMI_FD -u OMPI_COMM_WORLD_RANK SLURM_PROCID=" + rank +
        " SLURM_LOCALID=" + rank +
        " SLURM_STEP_ID=0 SLURM_STEP_NUM_TASKS=2 SLURM_STEP_TASKS_PER_NODE=2 SLURM_NODEID=0 "
        "timeout 30 " +
        bin() + " train --data " + data() + " --out " + out + flags(1));
    EXPECT_EQ(r.status, 2) << "rank " << rank << ":\n" << r.output;
    const size_t expected = rank == "0" ? 1u : 0u;
    EXPECT_EQ(count(r.output, "srun started 2 tasks without an MPI plugin"), expected) << r.output;
    EXPECT_EQ(count(r.output, "srun --mpi=pmix"), expected) << r.output;
  }
  EXPECT_FALSE(fs::exists(out)) << "nothing may be written";
}

// Starts `command` through the shell in the background, in a session of its own (exec: the pid
// is the command's). Signal tests use this rather than `timeout`, which sends its own SIGTERM and
// SIGCONT on to the job and would blur what mpiexec does with the test's signal.
pid_t spawn(const std::string& command) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();
    ::execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// The parent pid of process `pid` (0 if it is gone).
pid_t parent_of(const std::string& pid) {
  std::ifstream stat("/proc/" + pid + "/stat");
  std::string pid_s, comm, state;
  pid_t ppid = 0;
  // comm is "(name)" and has no spaces for the programs that matter here.
  stat >> pid_s >> comm >> state >> ppid;
  return ppid;
}

// Every process below `ancestor` (mpiexec's ranks), by walking /proc.
std::vector<pid_t> descendants(pid_t ancestor) {
  std::vector<pid_t> found;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    int hops = 0;
    for (pid_t p = parent_of(name); p > 1 && hops < 8; p = parent_of(std::to_string(p)), ++hops)
      if (p == ancestor) {
        found.push_back(std::stoi(name));
        break;
      }
  }
  return found;
}

// The limits below are for an optimized build. Under AddressSanitizer (a Debug build, every
// access checked) the app runs several times slower, and on a loaded 2-core machine two epochs
// of the larger fixture took longer than 30 s once: give such builds 4x the time.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kTimeScale = 4;
#else
constexpr int kTimeScale = 1;
#endif

// Waits up to `limit_s` (times kTimeScale) for `pid`; past that, fails and kills it and every
// process below it (limit_s = 0: kills at once, without failing).
int wait_bounded(pid_t pid, int limit_s) {
  limit_s *= kTimeScale;
  const auto deadline = Clock::now() + std::chrono::seconds(limit_s);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() >= deadline) {
      if (limit_s > 0) ADD_FAILURE() << "still running after " << limit_s << " s: killing it";
      for (pid_t child : descendants(pid))
        ::kill(child, SIGKILL);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return status;
}

bool wait_for_file(const std::string& path, int limit_s) {
  const auto deadline = Clock::now() + std::chrono::seconds(limit_s * kTimeScale);
  while (!fs::exists(path) && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return fs::exists(path);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The process below `ancestor` whose environment holds OMPI_COMM_WORLD_RANK=rank; -1 if none.
pid_t rank_pid(pid_t ancestor, int rank) {
  const std::string want = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  for (pid_t pid : descendants(ancestor)) {
    const std::string env = read_file("/proc/" + std::to_string(pid) + "/environ");
    for (size_t p = 0; p < env.size();) {
      const size_t end = std::min(env.find('\0', p), env.size());
      if (env.compare(p, end - p, want) == 0) return pid;
      p = end + 1;
    }
  }
  return -1;
}

// A 2-rank run of 100000 epochs in the background (killed by the test if it outlives it),
// once its second epoch's checkpoint exists. `mpiexec_flags` go to mpiexec.
class RunningJob {
 public:
  RunningJob(const std::string& mpiexec_flags, const std::string& data, const std::string& out)
      : out_(out) {
    pid_ = spawn(mpiexec(0) + " " + mpiexec_flags + " -n 2 " + bin() + " train --data " + data +
                 " --out " + out + " --patience 0 " + flags(100000) + " > " + out + ".log 2>&1");
    started_ = pid_ > 0 && wait_for_file(out + "/epoch_002.safetensors", 30);
  }
  ~RunningJob() {
    if (pid_ > 0 && !done_) wait_bounded(pid_, 0);  // a failed test: kill it
  }
  bool started() const { return started_; }
  pid_t pid() const { return pid_; }
  // Waits (30 s at most, times kTimeScale) and returns the wait status.
  int wait() {
    done_ = true;
    return wait_bounded(pid_, 30);
  }
  std::string log() const { return read_file(out_ + ".log"); }

 private:
  std::string out_;
  pid_t pid_ = -1;
  bool started_ = false, done_ = false;
};

TEST_F(ImdbDataParallel, SigtermToMpirunCheckpointsAndEndsEveryRank) {
  // Open MPI's mpirun answers SIGTERM (and Ctrl-C) with SIGCONT to every rank, then, after
  // odls_base_sigkill_timeout seconds, SIGTERM, and after as many again SIGKILL (default 1 s;
  // measured with Open MPI 4.1.4). The tiny model's step and checkpoint fit in 1 s, but a
  // loaded CI machine may not: 3 s here. A real run wants more (apps/imdb/README.md).
  // Once mpirun has its SIGTERM it stops forwarding the ranks' output for a while, and a rank
  // that prints blocks: with the tiny dataset (an epoch line every few milliseconds) rank 0
  // would hang in printf before the SIGTERM reaches it. A larger dataset makes epochs last
  // about half a second, as a real run prints one line per epoch (minutes).
  const std::string big = dir("big");
  make_tiny_aclimdb(big, 1000);  // 3200 training rows: 200 steps per epoch
  RunningJob job("--mca odls_base_sigkill_timeout 3", big + "/aclImdb", dir("sigterm"));
  ASSERT_TRUE(job.started()) << job.log();
  ::kill(job.pid(), SIGTERM);
  job.wait();  // mpirun's own status is 1 after a SIGTERM, whatever the ranks return
  const std::string log = job.log();
  EXPECT_NE(log.find("[1,0]<stdout>:imdb: stopped by SIGTERM"), std::string::npos) << log;
  EXPECT_EQ(log.find("failed"), std::string::npos) << log;
  EXPECT_EQ(count(log, "[1,1]<"), 0u) << log;
  const Checkpoint ck = load_checkpoint(dir("sigterm") + "/last.safetensors");  // readable
  EXPECT_GE(ck.state.global_step, 2 * 200);
}

TEST_F(ImdbDataParallel, SigusrOneToOneRankStopsEveryRankAfterTheSameStep) {
  RunningJob job("", data(), dir("sigusr1"));
  ASSERT_TRUE(job.started()) << job.log();
  const pid_t rank1 = rank_pid(job.pid(), 1);
  ASSERT_GT(rank1, 0) << "no process below mpiexec with OMPI_COMM_WORLD_RANK=1";
  ::kill(rank1, SIGUSR1);  // rank 1 only: rank 0 learns it from the per-step agreement
  const int status = job.wait();
  const std::string log = job.log();
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "every rank exits 0 after a requested stop\n" << log;
  EXPECT_NE(log.find("[1,0]<stdout>:imdb: stopped by SIGUSR1"), std::string::npos) << log;
  const Checkpoint ck = load_checkpoint(dir("sigusr1") + "/last.safetensors");
  EXPECT_GE(ck.state.global_step, 16);
  EXPECT_FALSE(ck.state.finished);
}

// --pipeline-stages (nn/distributed/pipeline.h): the network cut into stages over processes.
// Without dropout, 2 stages (2 processes) and 2 stages x 2 replicas (4 processes) end with the
// weights and Adam state of one process (1e-6), and their checkpoint is a plain one.
class ImdbPipeline : public ImdbDataParallel {};

// flags() with lr 1e-3. Micro-batches sum a gradient in another order than one process does,
// and Adam's step lr * m / (sqrt(v) + eps) turns the float32 rounding of a gradient that nearly
// cancels (|g| near eps) into a step difference of up to about lr: at lr 1e-2 a weight here
// ends 1.4e-6 from one process's after 8 steps, at 1e-3 1.3e-7 (data parallelism alone: 2e-7).
std::string pipeline_flags(int epochs) {
  std::string f = flags(epochs);
  const size_t at = f.find("--lr 0.01");
  if (at != std::string::npos) f.replace(at, 9, "--lr 0.001");
  return f;
}

TEST_F(ImdbPipeline, TwoStagesTrainLikeOneProcess) {
  // One LSTM layer: stage 0 = embedding + LSTM, stage 1 = the head; 3 uneven micro-batches.
  const std::string one = dir("p_one"), two = dir("p_two");
  RunResult r = run_imdb("train --data " + data() + " --out " + one + pipeline_flags(2));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_shell(mpiexec(90) + " -n 2 " + bin() + " train --data " + data() + " --out " + two +
                pipeline_flags(2) + " --pipeline-stages 2 --micro-batches 3");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("2 pipeline stages x 1 replica(s)"), std::string::npos) << r.output;
  EXPECT_LT(max_tensor_diff(one + "/last.safetensors", two + "/last.safetensors"), 1e-6);
  EXPECT_GT(max_tensor_diff(one + "/epoch_001.safetensors", two + "/last.safetensors"), 1e-3)
      << "the control: the second epoch must move the weights";
  expect_same_metrics(one + "/metrics.jsonl", two + "/metrics.jsonl");
  // The pipelined run's checkpoint is a plain one: one process evaluates it.
  r = run_imdb("eval --checkpoint " + two + "/best.safetensors --data " + data() + " --threads 1");
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST_F(ImdbPipeline, TwoStagesTimesTwoReplicasTrainLikeOneProcess) {
  // Two LSTM layers: stage 0 = embedding + layer 0, stage 1 = layer 1 + head; 4 processes.
  const std::string layers = " --lstm-layers 2";
  const std::string one = dir("g_one"), grid = dir("g_grid");
  RunResult r = run_imdb("train --data " + data() + " --out " + one + pipeline_flags(1) + layers);
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_shell(mpiexec(120) + " -n 4 " + bin() + " train --data " + data() + " --out " + grid +
                pipeline_flags(1) + layers + " --pipeline-stages 2 --micro-batches 2");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("2 pipeline stages x 2 replica(s), global batch 16 = 2 x 8 rows"),
            std::string::npos)
      << r.output;
  std::string worst;
  EXPECT_LT(max_tensor_diff(one + "/last.safetensors", grid + "/last.safetensors", &worst), 1e-6)
      << worst;
  expect_same_metrics(one + "/metrics.jsonl", grid + "/metrics.jsonl");
}

TEST_F(ImdbPipeline, StoppedOnTwoStagesResumedOnOneProcess) {
  // The mid-epoch checkpoint is gathered from both stages; one process finishes the run.
  const std::string straight = dir("ps_straight"), split = dir("ps_split");
  RunResult r = run_imdb("train --data " + data() + " --out " + straight + pipeline_flags(2));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_shell(mpiexec(90) + " -n 2 " + bin() + " train --data " + data() + " --out " + split +
                pipeline_flags(2) + " --pipeline-stages 2 --micro-batches 2 --stop-after-steps 11");
  ASSERT_EQ(r.status, 0) << r.output;
  const Checkpoint ck = load_checkpoint(split + "/last.safetensors");
  EXPECT_EQ(ck.state.step_in_epoch, 3);
  EXPECT_EQ(ck.state.seen, 3 * 16) << "the last stage's rows, counted once";
  r = run_imdb("train --out " + split + " --resume --threads 1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_LT(max_tensor_diff(straight + "/last.safetensors", split + "/last.safetensors"), 1e-6);
}

TEST_F(ImdbPipeline, BadLayoutsAreRefusedNamingTheFlag) {
  expect_one_clean_failure("train --data " + data() + " --pipeline-stages 3",
                           "--pipeline-stages 3");
  expect_one_clean_failure("train --data " + data() + " --pipeline-stages 2 --clip-norm 1",
                           "--pipeline-stages 2 cannot clip");
  expect_one_clean_failure(
      "train --data " + data() + " --pipeline-stages 2 --micro-batches 17 " + tiny_model_flags(),
      "--micro-batches 17 is more than the 16 rows");
  expect_one_clean_failure("train --data " + data() + " --micro-batches 2",
                           "--micro-batches 2 cuts the batch for a pipeline");
}

}  // namespace
}  // namespace loom::imdb
