#!/usr/bin/env bash
# Runs NUM_PROCESSES copies of mujo_jax.main on this machine as one JAX job (CPU collectives
# through gloo), e.g. to test multi-process code paths without a cluster:
#
#   launch/local_multiprocess.sh 2 -- --config=configs/pretrain.py:runlocal --workdir=/tmp/w
#
# DEVICES_PER_PROCESS (default 2) simulated CPU devices per process; PORT the coordinator port.
# Process 0 writes logs and summaries; all processes write their checkpoint shards.
set -euo pipefail
if [[ $# -lt 2 || "$2" != "--" ]]; then
  echo "usage: $0 NUM_PROCESSES -- <arguments of python -m mujo_jax.main>" >&2
  exit 2
fi
num_processes=$1
shift 2
devices=${DEVICES_PER_PROCESS:-2}
port=${PORT:-$((20000 + RANDOM % 20000))}
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for ((i = 0; i < num_processes; i++)); do
  JAX_PLATFORMS=cpu \
  XLA_FLAGS="--xla_force_host_platform_device_count=${devices} ${XLA_FLAGS:-}" \
  MUJO_COORDINATOR_ADDRESS="127.0.0.1:${port}" \
  MUJO_NUM_PROCESSES="${num_processes}" \
  MUJO_PROCESS_ID="${i}" \
    python -m mujo_jax.main "$@" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=$?
done
trap - EXIT
exit $status
