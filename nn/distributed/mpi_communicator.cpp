// nn/distributed/mpi_communicator.cpp: MpiCommunicator, MPI's start and end, and the
// terminate handler that turns an uncaught exception into MPI_Abort (see mpi_communicator.h).
#include "nn/distributed/mpi_communicator.h"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>

#include "tensor/error.h"

namespace loom::nn::distributed {
namespace {

// Turns an MPI error code into loom::Error naming the call. Our communicators use
// MPI_ERRORS_RETURN, so MPI reports errors this way instead of aborting on its own.
void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  LOOM_FAIL("MpiCommunicator: ", call, " failed: ", std::string(text, length));
}
#define LOOM_MPI_CHECK(call) check_mpi((call), #call)

bool mpi_running() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

// Prints "loom: rank R of N: <message>" and ends every rank of `comm`'s job. MPI_Abort does not
// return in Open MPI; _Exit is the fallback if an implementation's does.
[[noreturn]] void abort_job(MPI_Comm comm, int rank, int size, int code,
                            const std::string& message) {
  std::fprintf(stderr, "loom: rank %d of %d: %s\n", rank, size, message.c_str());
  std::fflush(nullptr);
  MPI_Abort(comm, code);
  std::_Exit(code);
}

std::terminate_handler previous_terminate = nullptr;

// Installed when MPI starts: an exception that escapes everything (or std::terminate for any
// other reason) ends the whole job with a message instead of leaving the other ranks waiting.
[[noreturn]] void terminate_with_mpi_abort() {
  std::string what = "std::terminate called without an active exception";
  if (const std::exception_ptr e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = ex.what();
    } catch (...) {
      what = "an exception that is not a std::exception";
    }
  }
  if (mpi_running()) {
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    abort_job(MPI_COMM_WORLD, rank, size, 1, "failed (uncaught): " + what);
  }
  if (previous_terminate != nullptr) previous_terminate();
  std::abort();
}

// MPI_Init_thread on construction, MPI_Finalize on destruction (if loom started MPI).
class MpiRuntime {
 public:
  MpiRuntime() {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    LOOM_CHECK(!finalized,
               "MpiCommunicator: MPI was already finalized in this process (MPI can start only "
               "once per process)");
    if (!initialized) {
      // MULTIPLE: the watchdog thread may call MPI_Abort while the main thread is in a
      // collective. Open MPI grants it; if an MPI does not, the watchdog falls back to _Exit.
      LOOM_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &thread_level_));
      owns_ = true;
    } else {
      MPI_Query_thread(&thread_level_);
    }
    previous_terminate = std::set_terminate(terminate_with_mpi_abort);
  }
  ~MpiRuntime() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owns_ && !finalized) MPI_Finalize();
  }
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;
  int thread_level() const { return thread_level_; }

 private:
  bool owns_ = false;
  int thread_level_ = MPI_THREAD_SINGLE;
};

// One runtime per process. The static handle keeps MPI alive between communicators (MPI cannot
// restart), and each communicator holds a handle too, so MPI_Finalize runs after the last
// communicator is gone, at exit.
std::shared_ptr<MpiRuntime> mpi_runtime() {
  static std::mutex mutex;
  static std::shared_ptr<MpiRuntime> runtime;
  std::lock_guard<std::mutex> lock(mutex);
  if (!runtime) runtime = std::make_shared<MpiRuntime>();
  return runtime;
}

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return MPI_FLOAT;
    case DType::Float64:
      return MPI_DOUBLE;
    default:
      LOOM_FAIL("MpiCommunicator: no MPI type for ", dtype_name(dtype));
  }
}

// MPI counts are int: runs f(first_element, count) over chunks of at most INT_MAX elements.
template <typename F>
void in_chunks(int64_t n, F&& f) {
  for (int64_t start = 0; start < n; start += INT_MAX)
    f(start, static_cast<int>(std::min<int64_t>(INT_MAX, n - start)));
}

}  // namespace

struct MpiCommunicator::Impl {
  std::shared_ptr<MpiRuntime> runtime;
  MPI_Comm comm = MPI_COMM_NULL;
  std::unique_ptr<Watchdog> watchdog;  // declared last: stopped first

  ~Impl() {
    watchdog.reset();
    if (comm != MPI_COMM_NULL && mpi_running()) MPI_Comm_free(&comm);
  }
};

MpiCommunicator::MpiCommunicator(const ProcessInfo& info, double timeout_s)
    : impl_(std::make_unique<Impl>()) {
  // srun without an MPI plugin: Open MPI would stop inside MPI_Init with a message about how it
  // was built. Say what is wrong, and the fix, before starting it (env.h).
  const std::string problem = mpi_launch_problem(info);
  LOOM_CHECK(problem.empty(), "MpiCommunicator: ", problem);
  impl_->runtime = mpi_runtime();
  LOOM_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &impl_->comm));
  start(timeout_s);
  const bool size_differs = info.world_size > 0 && info.world_size != world_size_;
  LOOM_CHECK(!size_differs && info.rank == rank_, "MpiCommunicator: the launcher (", info.str(),
             ") and MPI (rank ", rank_, " of ", world_size_,
             ") disagree. The processes were not started by one MPI job: launch with mpirun -n N,"
             " or with srun --mpi=pmix (with no MPI plugin, some MPIs start N separate "
             "one-process jobs).");
}

MpiCommunicator::MpiCommunicator(std::unique_ptr<Impl> impl, double timeout_s)
    : impl_(std::move(impl)) {
  start(timeout_s);
}

void MpiCommunicator::start(double timeout_s) {
  timeout_s_ = timeout_s;
  LOOM_MPI_CHECK(MPI_Comm_set_errhandler(impl_->comm, MPI_ERRORS_RETURN));
  LOOM_MPI_CHECK(MPI_Comm_rank(impl_->comm, &rank_));
  LOOM_MPI_CHECK(MPI_Comm_size(impl_->comm, &world_size_));
  // Processes on this node: the ones that can share memory with this one.
  MPI_Comm node = MPI_COMM_NULL;
  LOOM_MPI_CHECK(
      MPI_Comm_split_type(impl_->comm, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
  MPI_Comm_rank(node, &local_rank_);
  MPI_Comm_size(node, &local_size_);
  MPI_Comm_free(&node);

  const int rank = rank_, size = world_size_;
  const bool can_abort = impl_->runtime->thread_level() == MPI_THREAD_MULTIPLE;
  MPI_Comm comm = impl_->comm;
  impl_->watchdog =
      std::make_unique<Watchdog>(timeout_s, [comm, rank, size, can_abort](const std::string& m) {
        if (can_abort) abort_job(comm, rank, size, 1, m);
        // Without MPI_THREAD_MULTIPLE this thread may not call MPI: exit non-zero without
        // MPI_Finalize, which mpirun treats as a failed job (it kills the other ranks).
        std::fprintf(stderr, "loom: rank %d of %d: %s\n", rank, size, m.c_str());
        std::fflush(nullptr);
        std::_Exit(1);
      });
}

MpiCommunicator::~MpiCommunicator() = default;

int MpiCommunicator::thread_level() const {
  return impl_->runtime->thread_level();
}

void MpiCommunicator::all_reduce_sum(const Tensor& t) {
  check_tensor(t, "all_reduce_sum");
  const int64_t n = t.numel();
  if (n == 0) return;
  const MPI_Datatype type = mpi_type(t.dtype());
  const std::size_t item = dtype_size(t.dtype());
  Watchdog::Scope watch(*impl_->watchdog, "all_reduce_sum", n * static_cast<int64_t>(item));
  char* base = static_cast<char*>(t.raw_data());
  in_chunks(n, [&](int64_t start, int count) {
    LOOM_MPI_CHECK(
        MPI_Allreduce(MPI_IN_PLACE, base + start * item, count, type, MPI_SUM, impl_->comm));
  });
}

void MpiCommunicator::broadcast(const Tensor& t, int root) {
  check_tensor(t, "broadcast");
  check_root(root, "broadcast");
  const int64_t n = t.numel();
  if (n == 0) return;
  const MPI_Datatype type = mpi_type(t.dtype());
  const std::size_t item = dtype_size(t.dtype());
  Watchdog::Scope watch(*impl_->watchdog, "broadcast", n * static_cast<int64_t>(item));
  char* base = static_cast<char*>(t.raw_data());
  in_chunks(n, [&](int64_t start, int count) {
    LOOM_MPI_CHECK(MPI_Bcast(base + start * item, count, type, root, impl_->comm));
  });
}

void MpiCommunicator::broadcast_bytes(void* data, std::size_t bytes, int root) {
  check_root(root, "broadcast_bytes");
  if (bytes == 0) return;
  Watchdog::Scope watch(*impl_->watchdog, "broadcast_bytes", static_cast<int64_t>(bytes));
  char* base = static_cast<char*>(data);
  in_chunks(static_cast<int64_t>(bytes), [&](int64_t start, int count) {
    LOOM_MPI_CHECK(MPI_Bcast(base + start, count, MPI_BYTE, root, impl_->comm));
  });
}

std::vector<double> MpiCommunicator::all_reduce_sum(std::vector<double> values) {
  if (values.empty()) return values;
  Watchdog::Scope watch(*impl_->watchdog, "all_reduce_sum(host values)",
                        static_cast<int64_t>(values.size() * sizeof(double)));
  LOOM_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()),
                               MPI_DOUBLE, MPI_SUM, impl_->comm));
  return values;
}

std::vector<double> MpiCommunicator::all_reduce_max(std::vector<double> values) {
  if (values.empty()) return values;
  Watchdog::Scope watch(*impl_->watchdog, "all_reduce_max(host values)",
                        static_cast<int64_t>(values.size() * sizeof(double)));
  LOOM_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()),
                               MPI_DOUBLE, MPI_MAX, impl_->comm));
  return values;
}

void MpiCommunicator::send(const Tensor& t, int dest, int tag) {
  check_peer(dest, tag, "send", &t);
  const int64_t bytes = t.numel() * static_cast<int64_t>(dtype_size(t.dtype()));
  Watchdog::Scope watch(*impl_->watchdog, "send", bytes);
  char* base = static_cast<char*>(t.raw_data());
  in_chunks(bytes, [&](int64_t start, int count) {
    LOOM_MPI_CHECK(MPI_Send(base + start, count, MPI_BYTE, dest, tag, impl_->comm));
  });
}

void MpiCommunicator::recv(const Tensor& t, int src, int tag) {
  check_peer(src, tag, "recv", &t);
  const int64_t bytes = t.numel() * static_cast<int64_t>(dtype_size(t.dtype()));
  Watchdog::Scope watch(*impl_->watchdog, "recv", bytes);
  char* base = static_cast<char*>(t.raw_data());
  in_chunks(bytes, [&](int64_t start, int count) {
    MPI_Status status;
    LOOM_MPI_CHECK(MPI_Recv(base + start, count, MPI_BYTE, src, tag, impl_->comm, &status));
    // A shorter message than expected means the two sides disagree about the shape.
    int got = 0;
    MPI_Get_count(&status, MPI_BYTE, &got);
    LOOM_CHECK(got == count, "MpiCommunicator recv: expected ", count, " bytes from rank ", src,
               " (tag ", tag, ", a tensor of shape ", shape_str(t.shape()), "), got ", got,
               ": the sender sent a tensor of another shape or dtype");
  });
}

std::unique_ptr<Communicator> MpiCommunicator::split(int color, int key) {
  LOOM_CHECK(color >= 0, "MpiCommunicator split: color ", color, " must be >= 0");
  auto impl = std::make_unique<Impl>();
  impl->runtime = impl_->runtime;
  {
    Watchdog::Scope watch(*impl_->watchdog, "split", 0);
    LOOM_MPI_CHECK(MPI_Comm_split(impl_->comm, color, key, &impl->comm));
  }
  return std::unique_ptr<Communicator>(new MpiCommunicator(std::move(impl), timeout_s_));
}

void MpiCommunicator::barrier() {
  Watchdog::Scope watch(*impl_->watchdog, "barrier", 0);
  LOOM_MPI_CHECK(MPI_Barrier(impl_->comm));
}

void MpiCommunicator::abort(int code, const std::string& message) {
  abort_job(impl_->comm, rank_, world_size_, code, message);
}

}  // namespace loom::nn::distributed
