#!/usr/bin/env bash
# Stops the one-node cluster that scripts/slurm/start.sh DIR started: slurmd, slurmctld, then
# munged, each by the pid in its pid file under DIR (never by name: another Slurm on this
# machine is left alone), waiting up to 10 s for each to exit. Jobs still running on the node
# are cancelled first. Safe to run twice.
set -uo pipefail

dir=${1:?usage: scripts/slurm/stop.sh DIR}
[ -d "$dir" ] || exit 0
dir=$(cd "$dir" && pwd)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

if [ -e "$dir/slurm.conf" ] && [ -e "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
  SLURM_CONF="$dir/slurm.conf" scancel --user="$(id -un)" 2>/dev/null || true
fi

stop_pid() { # NAME PIDFILE
  local name=$1 file=$2 pid
  [ -s "$file" ] || return 0
  pid=$(cat "$file")
  case "$pid" in '' | *[!0-9]*) echo "slurm/stop: $file does not hold a pid" >&2; return 0 ;; esac
  if kill -0 "$pid" 2>/dev/null; then
    $sudo kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "slurm/stop: $name (pid $pid) did not exit after SIGTERM; sending SIGKILL" >&2
      $sudo kill -KILL "$pid" 2>/dev/null
    fi
  fi
  rm -f "$file"
}

stop_pid slurmd "$dir/slurmd.pid"
stop_pid slurmctld "$dir/slurmctld.pid"
stop_pid munged "$dir/munge/munged.pid"
exit 0
