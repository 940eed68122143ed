#!/usr/bin/env bash
# Runs NUM_PROCESSES copies of mujo_jax.main on this machine as one JAX job (CPU collectives
# through gloo), e.g. to test multi-process code paths without a cluster:
#
#   launch/local_multiprocess.sh 2 -- --config=configs/pretrain.py:runlocal --workdir=/tmp/w
#
# DEVICES_PER_PROCESS (default 2) simulated CPU devices per process; PORT the coordinator port.
# Process 0 writes logs and summaries; all processes write their checkpoint shards.
# When one process fails or dies, the launcher names it and stops the others: a job that has
# lost a process cannot finish (its collectives would wait for it).
set -euo pipefail
if [[ $# -lt 2 || "$2" != "--" ]]; then
  echo "usage: $0 NUM_PROCESSES -- <arguments of python -m mujo_jax.main>" >&2
  exit 2
fi
num_processes=$1
shift 2
devices=${DEVICES_PER_PROCESS:-2}
port=${PORT:-$((20000 + RANDOM % 20000))}
declare -A index_of=()
trap 'kill "${!index_of[@]}" 2>/dev/null || true' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
for ((i = 0; i < num_processes; i++)); do
  JAX_PLATFORMS=cpu \
  XLA_FLAGS="--xla_force_host_platform_device_count=${devices} ${XLA_FLAGS:-}" \
  MUJO_COORDINATOR_ADDRESS="127.0.0.1:${port}" \
  MUJO_NUM_PROCESSES="${num_processes}" \
  MUJO_PROCESS_ID="${i}" \
    python -m mujo_jax.main "$@" &
  index_of[$!]=$i
done
status=0
while ((${#index_of[@]} > 0)); do
  # Poll instead of `wait -n PIDS`: a process that dies before `wait -n` is called is
  # already reaped, and bash then reports "no such job" and waits for the others forever.
  finished=
  for pid in "${!index_of[@]}"; do
    kill -0 "$pid" 2>/dev/null || { finished=$pid; break; }
  done
  if [[ -z $finished ]]; then
    sleep 0.2
    continue
  fi
  code=0
  wait "$finished" || code=$?
  index=${index_of[$finished]}
  unset "index_of[$finished]"
  if ((code != 0)); then
    reason="exited with status ${code}"
    ((code > 128)) && reason="was killed by signal $((code - 128))"
    echo "local_multiprocess.sh: process ${index} (pid ${finished}) ${reason};" \
      "stopping the other ${#index_of[@]}" >&2
    status=$code
    break
  fi
done
trap - EXIT
if ((${#index_of[@]} > 0)); then
  kill "${!index_of[@]}" 2>/dev/null || true
  for ((tries = 0; tries < 50; tries++)); do  # 10 s to exit, then SIGKILL.
    [[ -z "$(jobs -rp)" ]] && break
    sleep 0.2
  done
  kill -9 "${!index_of[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
fi
exit $status
