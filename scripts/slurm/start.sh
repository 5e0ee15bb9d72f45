#!/usr/bin/env bash
# Starts a one-node Slurm cluster on this machine for tests and CI (see
# ../shared/docs/slurm-one-node.md): munged, slurmctld and slurmd, every file (config,
# state, spool, logs, pid files, the munge socket) under one directory.
#
#   scripts/slurm/start.sh DIR      start, wait until the node is idle, write DIR/env
#   . DIR/env                       SLURM_CONF (and the ports) for sbatch, squeue, dmlrun
#   scripts/slurm/stop.sh DIR       stop the daemons by the pids in DIR's pid files
#
# Installs Debian's slurm-wlm and munge when they are missing (apt-get, as
# scripts/install-deps.sh does). Needs root (or sudo): slurmd runs jobs as their user and
# munged runs as the munge user. No systemd is needed or used. The cluster has one node,
# "localhost", with this machine's CPUs and 80% of its memory, and one partition, "debug".
#
# Environment: SLURM_CTLD_PORT (default 16817) and SLURM_D_PORT (16818), so that it does not
# clash with a real Slurm on the standard ports; CRED_EXPIRE (default 10): seconds a
# requeued job waits before it may start again (Slurm's default, 120 s, is what clusters
# have; 10 keeps the requeue check short).
set -euo pipefail

dir=${1:?usage: scripts/slurm/start.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
ctld_port=${SLURM_CTLD_PORT:-16817}
d_port=${SLURM_D_PORT:-16818}
cred_expire=${CRED_EXPIRE:-10}

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# Install what is missing.
missing=()
for p in slurm-wlm munge; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "slurm/start: installing ${missing[*]}" >&2
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
for b in /usr/sbin/munged /usr/sbin/slurmctld /usr/sbin/slurmd /usr/bin/sinfo; do
  [ -x "$b" ] || { echo "slurm/start: $b is missing after installing slurm-wlm and munge" >&2; exit 1; }
done
[ -r /etc/munge/munge.key ] || { echo "slurm/start: /etc/munge/munge.key is missing (the munge package makes it; reinstall munge or run /usr/sbin/mungekey)" >&2; exit 1; }

if [ -e "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
  echo "slurm/start: a cluster from $dir is already running (pid $(cat "$dir/slurmctld.pid")); stop it with scripts/slurm/stop.sh $dir" >&2
  exit 1
fi

mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
# munged refuses directories others can write to, and runs as the munge user.
chmod 0755 "$dir"
$sudo chown munge:munge "$dir/munge"
chmod 0755 "$dir/munge"

# munged runs as munge: it must reach its folder through every folder above it.
if [ -z "$sudo" ]; then reach="su -s /bin/sh munge -c"; else reach="sudo -u munge sh -c"; fi
$reach "test -w '$dir/munge'" 2>/dev/null ||
  { echo "slurm/start: the munge user cannot reach $dir/munge: make the folders above it searchable by others (chmod o+x on each)" >&2; exit 1; }

cpus=$(nproc)
mem_mb=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)

cat >"$dir/slurm.conf" <<CONF
# Written by scripts/slurm/start.sh: a one-node cluster for tests.
ClusterName=dmlrun
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=$cred_expire
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without it each job takes all the memory and jobs run one at a time.
DefMemPerCPU=1000
SchedulerType=sched/backfill
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
AccountingStorageType=accounting_storage/none
# Plain sacct says "accounting storage is disabled"; sacct -c reads this file.
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
MinJobAge=3600
KillWait=10
InactiveLimit=0
# Else a job whose afterok parent failed stays PENDING forever (dmlrun apply --detach).
DependencyParameters=kill_invalid_depend
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF

cat >"$dir/env" <<ENV
export SLURM_CONF=$dir/slurm.conf
ENV
export SLURM_CONF="$dir/slurm.conf"

started=()
fail() {
  echo "slurm/start: $*" >&2
  for f in "$dir"/log/*.log; do [ -s "$f" ] && { echo "--- $f (last lines)" >&2; tail -n 20 "$f" >&2; }; done
  "$(dirname "$0")/stop.sh" "$dir" || true
  exit 1
}

munged_cmd="/usr/sbin/munged --socket=$dir/munge/munge.socket --pid-file=$dir/munge/munged.pid --log-file=$dir/munge/munged.log --seed-file=$dir/munge/munged.seed"
if [ -z "$sudo" ]; then
  su -s /bin/sh munge -c "$munged_cmd" || fail "munged did not start (see $dir/munge/munged.log)"
else
  sudo -u munge $munged_cmd || fail "munged did not start (see $dir/munge/munged.log)"
fi
/usr/sbin/slurmctld || fail "slurmctld did not start"
/usr/sbin/slurmd -N localhost || fail "slurmd did not start"

# Wait (up to 30 s, in 0.2 s steps) until the node takes jobs.
for _ in $(seq 150); do
  state=$(sinfo -h -o %t 2>/dev/null || true)
  [ "$state" = idle ] && { echo "slurm/start: one-node cluster up in $dir (SLURM_CONF=$SLURM_CONF)" >&2; exit 0; }
  sleep 0.2
done
fail "the node did not become idle within 30 s (sinfo says: ${state:-nothing})"
