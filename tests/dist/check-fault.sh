#!/usr/bin/env bash
# Faults under mpiexec (3 processes): a rank killed mid-run, and a rank that fails to load
# its checkpoint. Each job must end with a non-zero status and a clear message within 30 s,
# and leave no worker process behind. (A status of 137 is mpiexec's own: 128 + SIGKILL,
# the victim's signal; timeout's 60 s never comes into play when the job ends in time.)
#   check-fault.sh WORKER MPIEXEC [MPIEXEC FLAGS...]
set -uo pipefail
worker=$1 mpiexec=$2
shift 2
flags=("$@")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1

fail=0
run_case() {
  local name=$1 want=$2
  shift 2
  local t0 t1 out rc secs
  t0=$(date +%s%N)
  out=$(timeout -k 5 60 "$mpiexec" -np 3 "${flags[@]}" "$worker" "$@" 2>&1)
  rc=$?
  t1=$(date +%s%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", (b - a) / 1e9}')
  echo "check-fault: $name: exit status $rc after ${secs} s"
  if [ "$rc" -eq 0 ]; then
    echo "FAIL: $name: want a non-zero status"; fail=1
  fi
  if ! awk -v s="$secs" 'BEGIN {exit !(s < 30)}'; then
    echo "FAIL: $name: took ${secs} s, want < 30 s"; fail=1
  fi
  if ! grep -q -- "$want" <<< "$out"; then
    echo "FAIL: $name: no message matching '$want' in:"; echo "$out"; fail=1
  fi
  sleep 1
  if pgrep -f -- "^$worker" > /dev/null; then
    echo "FAIL: $name: worker processes left behind:"; pgrep -af -- "^$worker"; fail=1
  fi
}

run_case "rank 1 killed at step 30" "exited on signal 9" kill 1 30
run_case "rank 2 fails to load its checkpoint" \
  "cannot load the checkpoint: rank 2: .*nonexistent/model.safetensors" fail-load 2
exit $fail
