#!/usr/bin/env bash
# apps/imdb/slurm/local_cluster.sh: a one-node Slurm "cluster" on THIS machine, to try srun and
# the sbatch scripts in this folder without a real cluster.
#
#   sudo apt-get install -y slurm-wlm munge        # once (Debian/Ubuntu)
#   apps/imdb/slurm/local_cluster.sh up            # write the config, start the daemons
#   export SLURM_CONF=/tmp/loom-slurm/slurm.conf   # `up` prints this line: clients need it
#   srun -n 2 --mpi=pmix hostname                  # ... or sbatch, squeue, scancel, sinfo
#   apps/imdb/slurm/local_cluster.sh status
#   apps/imdb/slurm/local_cluster.sh down          # stop the daemons (state stays for next up)
#
# What it starts, all as root, in the background, with their files under one state directory
# ($LOOM_SLURM_DIR, default /tmp/loom-slurm):
#   munged     Slurm's authentication daemon (signs every message with a shared key),
#   slurmctld  the controller (queue, scheduler),
#   slurmd     the node daemon (starts the job steps' processes through slurmstepd).
# The machine is the single node, with the CPU count and memory `slurmd -C` detects, in one
# partition "local". The plugins are the ones that work in a container without systemd or
# cgroups: proctrack/linuxproc (finds a job's processes by walking /proc), task/none (no CPU
# binding), select/cons_tres (allocates single cores, so two jobs can share the node), no
# accounting database.
#
# NEEDS ROOT, and is for trying the scripts on one machine, NOT for production: everything runs
# as root, the munge key is made up on the spot, nothing is confined or accounted.
# Leaves out: several nodes, GPUs (no gres.conf), accounting (sacct), cgroups, systemd units.
# Tested with Debian bookworm's Slurm 22.05.8 and munge 0.5.15 (docs/results/slurm-local-cpu.md).
set -euo pipefail

STATE=${LOOM_SLURM_DIR:-/tmp/loom-slurm}
CONF=$STATE/slurm.conf
NODE=$(hostname -s)

die() {
  echo "local_cluster.sh: $*" >&2
  exit 1
}

# Every program `up` runs, with the package that provides it on Debian/Ubuntu.
need_programs() {
  local missing=() pkg prog
  for pair in munged:munge mungekey:munge slurmctld:slurmctld slurmd:slurmd \
    srun:slurm-client sinfo:slurm-client; do
    prog=${pair%%:*}
    pkg=${pair#*:}
    command -v "$prog" >/dev/null 2>&1 || missing+=("$pkg ($prog)")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    die "missing: ${missing[*]}. Install with:  apt-get install -y slurm-wlm munge"
  fi
}

# The pid in $1 (a pid file) when that process is alive; nothing otherwise.
live_pid() {
  local pid
  [[ -f $1 ]] || return 0
  pid=$(<"$1")
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

write_config() {
  # munged's checks: the key readable by root only, the socket's directory searchable by
  # everyone (clients connect to it) but writable by root only.
  mkdir -p "$STATE"/{munge,key,ctld,spool,log}
  chmod 755 "$STATE" "$STATE/munge"
  chmod 700 "$STATE/key"
  if [[ ! -f $STATE/key/munge.key ]]; then
    mungekey --create --keyfile="$STATE/key/munge.key"
    chmod 400 "$STATE/key/munge.key"
  fi
  # `slurmd -C` prints this node's line (CPUs, sockets, cores, threads, memory) as Slurm sees it.
  local node_line
  node_line=$(slurmd -C | head -n 1)
  [[ $node_line == NodeName=* ]] || die "slurmd -C printed '$node_line', not a NodeName line"
  cat >"$CONF" <<EOF
# Written by apps/imdb/slurm/local_cluster.sh: a one-node cluster for trying scripts. Not for
# production (everything runs as root).
ClusterName=loom-local
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
# munge on our own socket, so a system munged (if any) is left alone.
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$STATE/munge/munge.socket
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# No systemd/cgroups in a container: find job processes through /proc, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
# Allocate cores (not whole nodes), so a job of 2 tasks leaves the rest free.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Slurm's default: srun without --mpi starts plain processes (many sites set pmix here; the
# scripts pass --mpi=pmix themselves). A requeued job waits for its credentials to expire
# (AuthInfo cred_expire, 120 s by default) before it runs again: left at the default.
MpiDefault=none
# A node that was down (daemons restarted) comes back by itself.
ReturnToService=2
# After SIGTERM (scancel, time limit) a job's processes get KillWait seconds, then SIGKILL.
KillWait=30
$node_line State=UNKNOWN
PartitionName=local Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
  need_programs
  [[ $(id -u) -eq 0 ]] || die "must run as root (the daemons run as root; this is a test setup)"
  write_config
  if [[ -z $(live_pid "$STATE/munged.pid") ]]; then
    munged --socket="$STATE/munge/munge.socket" --key-file="$STATE/key/munge.key" \
      --pid-file="$STATE/munged.pid" --seed-file="$STATE/key/munged.seed" \
      --log-file="$STATE/log/munged.log"
  fi
  # Both daemons fork into the background and write their pid files.
  if [[ -z $(live_pid "$STATE/slurmctld.pid") ]]; then slurmctld -f "$CONF"; fi
  if [[ -z $(live_pid "$STATE/slurmd.pid") ]]; then slurmd -f "$CONF"; fi
  export SLURM_CONF=$CONF
  # The node registers with the controller within a few seconds, then shows as idle (or mixed /
  # allocated when jobs from an earlier `up` are still running).
  local state=""
  for _ in $(seq 1 30); do
    state=$(sinfo -h -N -n "$NODE" -o %t 2>/dev/null || true)
    [[ $state =~ ^(idle|mix|alloc) ]] && break
    sleep 1
  done
  if [[ ! $state =~ ^(idle|mix|alloc) ]]; then
    die "node $NODE is '${state:-not listed}' after 30 s; see $STATE/log/*.log"
  fi
  echo "local Slurm is up: node $NODE $state ($(grep -o 'CPUs=[0-9]*' "$CONF"))."
  echo "Clients need:  export SLURM_CONF=$CONF"
}

stop() {
  local name pid
  # slurmd first (it ends its job steps), then the controller, then munge.
  for name in slurmd slurmctld munged; do
    pid=$(live_pid "$STATE/$name.pid")
    [[ -n $pid ]] || continue
    kill -TERM "$pid"
    for _ in $(seq 1 20); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "local_cluster.sh: $name ($pid) ignored SIGTERM for 10 s; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$STATE/$name.pid"
  done
  echo "local Slurm is down (state kept in $STATE; remove it to start from scratch)."
}

status() {
  local name pid
  for name in munged slurmctld slurmd; do
    pid=$(live_pid "$STATE/$name.pid")
    if [[ -n $pid ]]; then
      printf '%-10s running, pid %s\n' "$name" "$pid"
    else
      printf '%-10s not running\n' "$name"
    fi
  done
  if [[ -n $(live_pid "$STATE/slurmctld.pid") ]]; then
    SLURM_CONF=$CONF sinfo -N -l || true
    SLURM_CONF=$CONF squeue || true
  fi
}

case ${1:-} in
  up) start ;;
  down) stop ;;
  status) status ;;
  *)
    echo "usage: $0 up|down|status   (state in \$LOOM_SLURM_DIR, default /tmp/loom-slurm)" >&2
    exit 2
    ;;
esac
