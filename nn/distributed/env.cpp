// nn/distributed/env.cpp: ProcessInfo from the launcher's environment variables (see env.h).
#include "nn/distributed/env.h"

// Only for the OPEN_MPI macro (which MPI this build links): nothing here calls MPI.
#include <mpi.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <sstream>

#include "tensor/error.h"

namespace loom::nn::distributed {
namespace {

constexpr const char* kWhere = "process_info_from_env";

// The value of `name` as an int >= 0. Digits only: "", "-1", "2x", " 3" and overflow all throw.
int parse_count(const char* name, const char* text) {
  const char* end = text + std::char_traits<char>::length(text);
  int value = -1;
  const auto [ptr, ec] = std::from_chars(text, end, value);
  LOOM_CHECK(ec == std::errc() && ptr == end && text != end && value >= 0, kWhere, ": ", name, "='",
             text, "' is not a non-negative integer");
  return value;
}

// Reads `name`, which must be set (the launcher's other variables say it should be).
int required(const EnvLookup& get, const char* name, const char* because) {
  const char* text = get(name);
  LOOM_CHECK(text != nullptr, kWhere, ": ", because, " is set but ", name, " is not");
  return parse_count(name, text);
}

// Reads the first of `names` that is set; `fallback` when none is.
int first_of(const EnvLookup& get, std::initializer_list<const char*> names, int fallback) {
  for (const char* name : names)
    if (const char* text = get(name)) return parse_count(name, text);
  return fallback;
}

ProcessInfo from_openmpi(const EnvLookup& get) {
  ProcessInfo p;
  p.launcher = "openmpi";
  p.rank = parse_count("OMPI_COMM_WORLD_RANK", get("OMPI_COMM_WORLD_RANK"));
  p.world_size = required(get, "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK");
  // Open MPI always sets the local pair; if not, assume one node.
  p.local_rank = first_of(get, {"OMPI_COMM_WORLD_LOCAL_RANK"}, p.rank);
  p.local_size = first_of(get, {"OMPI_COMM_WORLD_LOCAL_SIZE"}, p.world_size);
  return p;
}

ProcessInfo from_slurm(const EnvLookup& get) {
  ProcessInfo p;
  p.launcher = "slurm";
  p.rank = parse_count("SLURM_PROCID", get("SLURM_PROCID"));
  // The step's task count (srun -n 2 inside a larger allocation) before the job's.
  p.world_size = first_of(get, {"SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_NPROCS"}, -1);
  LOOM_CHECK(p.world_size >= 0, kWhere,
             ": SLURM_PROCID is set but none of SLURM_STEP_NUM_TASKS, SLURM_NTASKS, SLURM_NPROCS");
  p.local_rank = first_of(get, {"SLURM_LOCALID"}, p.rank);
  const int node = first_of(get, {"SLURM_NODEID"}, 0);
  p.local_size = p.world_size;  // one node unless a variable says otherwise
  if (const char* t = get("SLURM_STEP_TASKS_PER_NODE")) {
    p.local_size = slurm_tasks_on_node(t, node, "SLURM_STEP_TASKS_PER_NODE");
  } else if (const char* t2 = get("SLURM_TASKS_PER_NODE")) {
    p.local_size = slurm_tasks_on_node(t2, node, "SLURM_TASKS_PER_NODE");
  } else if (const char* t3 = get("SLURM_NTASKS_PER_NODE")) {
    p.local_size = parse_count("SLURM_NTASKS_PER_NODE", t3);
  }
  return p;
}

ProcessInfo from_pmix(const EnvLookup& get) {
  ProcessInfo p;
  p.launcher = "pmix";
  p.rank = parse_count("PMIX_RANK", get("PMIX_RANK"));
  p.world_size = 0;  // not in the environment: MPI says after MPI_Init
  p.local_rank = 0;
  p.local_size = 0;
  return p;
}

ProcessInfo from_generic(const EnvLookup& get) {
  ProcessInfo p;
  p.launcher = "env";
  const bool has_rank = get("RANK") != nullptr;
  p.rank = has_rank ? parse_count("RANK", get("RANK")) : 0;
  p.world_size =
      has_rank ? required(get, "WORLD_SIZE", "RANK") : parse_count("WORLD_SIZE", get("WORLD_SIZE"));
  LOOM_CHECK(has_rank || p.world_size <= 1, kWhere, ": WORLD_SIZE=", p.world_size,
             " is set but RANK is not");
  p.local_rank = first_of(get, {"LOCAL_RANK"}, p.rank);
  p.local_size = first_of(get, {"LOCAL_WORLD_SIZE"}, p.world_size);
  return p;
}

void check_consistent(const ProcessInfo& p) {
  if (p.world_size == 0) return;  // pmix: checked by MpiCommunicator once MPI knows the size
  LOOM_CHECK(p.world_size >= 1, kWhere, " (", p.launcher, "): world size must be >= 1, got ",
             p.world_size);
  LOOM_CHECK(p.rank < p.world_size, kWhere, " (", p.launcher, "): rank ", p.rank,
             " is not below the world size ", p.world_size);
  LOOM_CHECK(p.local_size >= 1 && p.local_size <= p.world_size, kWhere, " (", p.launcher,
             "): local size ", p.local_size, " must be in [1, world size ", p.world_size, "]");
  LOOM_CHECK(p.local_rank < p.local_size, kWhere, " (", p.launcher, "): local rank ", p.local_rank,
             " is not below the local size ", p.local_size);
}

}  // namespace

std::string ProcessInfo::str() const {
  std::ostringstream out;
  out << "rank " << rank << " of " << (world_size > 0 ? std::to_string(world_size) : "?")
      << " (local " << local_rank << " of " << (local_size > 0 ? std::to_string(local_size) : "?")
      << ", launcher " << launcher << ")";
  return out.str();
}

int slurm_tasks_on_node(const std::string& text, int node, const char* variable) {
  LOOM_CHECK(node >= 0, kWhere, ": node index ", node, " is negative");
  // Entries "N" (one node) or "N(xM)" (M nodes with N tasks each), separated by commas.
  int first_node = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    const std::string entry = text.substr(pos, comma - pos);
    const std::size_t paren = entry.find('(');
    const std::string tasks_text = entry.substr(0, paren);
    int repeat = 1;
    if (paren != std::string::npos) {
      LOOM_CHECK(
          entry.size() > paren + 3 && entry.compare(paren, 2, "(x") == 0 && entry.back() == ')',
          kWhere, ": ", variable, "='", text, "': malformed entry '", entry, "'");
      const std::string count = entry.substr(paren + 2, entry.size() - paren - 3);
      repeat = parse_count(variable, count.c_str());
    }
    const int tasks = parse_count(variable, tasks_text.c_str());
    LOOM_CHECK(tasks >= 1 && repeat >= 1, kWhere, ": ", variable, "='", text, "': entry '", entry,
               "' has no tasks");
    if (node < first_node + repeat) return tasks;
    first_node += repeat;
    pos = comma + 1;
  }
  LOOM_FAIL(kWhere, ": ", variable, "='", text, "' describes ", first_node,
            " node(s) but SLURM_NODEID is ", node);
}

ProcessInfo process_info_from_env(const EnvLookup& get) {
  ProcessInfo p;
  if (get("OMPI_COMM_WORLD_RANK")) {
    p = from_openmpi(get);
  } else if (get("SLURM_PROCID") && get("SLURM_STEP_ID")) {
    p = from_slurm(get);
  } else if (get("PMIX_RANK")) {
    p = from_pmix(get);
  } else if (get("RANK") || get("WORLD_SIZE")) {
    p = from_generic(get);
  }
  check_consistent(p);
  if (get("PMIX_RANK")) {
    p.pmi = "pmix";
  } else if (get("PMI_RANK") || get("PMI_FD")) {
    p.pmi = "pmi";
  }
  return p;
}

ProcessInfo process_info_from_env() {
  return process_info_from_env([](const char* name) { return std::getenv(name); });
}

ProcessInfo process_info_from_env(const std::map<std::string, std::string>& vars) {
  return process_info_from_env([&vars](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

bool linked_with_open_mpi() {
#ifdef OPEN_MPI
  return true;
#else
  return false;
#endif
}

std::string mpi_launch_problem(const ProcessInfo& p, bool open_mpi) {
  if (!open_mpi || p.launcher != "slurm" || p.world_size <= 1 || !p.pmi.empty()) return "";
  std::ostringstream out;
  out << "srun started " << p.world_size
      << " tasks without an MPI plugin (no PMIx or PMI variables in the environment: srun "
         "--mpi=none, or MpiDefault=none in slurm.conf), so MPI in each task cannot find the "
         "others and Open MPI would stop in MPI_Init. Launch with srun --mpi=pmix (srun "
         "--mpi=list shows the plugins this Slurm has), or with mpirun inside the allocation";
  return out.str();
}

int gpu_for_local_rank(int local_rank, int local_size, int visible) {
  if (visible >= local_size && local_rank < visible) return local_rank;
  if (visible == 1) return 0;
  return -1;
}

}  // namespace loom::nn::distributed
