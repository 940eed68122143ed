#!/usr/bin/env bash
# Runs the same command on every worker of a TPU VM pod slice; JAX finds the coordinator and
# the process ids itself (MUJO_DISTRIBUTED=auto → jax.distributed.initialize()).
#
#   launch/tpu_pod.sh TPU_NAME ZONE -- --config=configs/pretrain.py:size=base,batch_size=4096 \
#       --workdir=gs://bucket/mujo
#
# The global batch is divided evenly over the processes (hosts), each reading its own share.
#
# One member of an experiment (configs/experiments/*.py; indices from --config.print_commands)
# per slice: the member index passes through like any other flag.
#
#   launch/tpu_pod.sh TPU_NAME ZONE -- --config=configs/experiments/strategies.py \
#       --workdir=/mnt/shared/strategies --config.member=3
set -euo pipefail
if [[ $# -lt 3 || "$3" != "--" ]]; then
  echo "usage: $0 TPU_NAME ZONE -- <arguments of python -m mujo_jax.main>" >&2
  exit 2
fi
tpu=$1 zone=$2
shift 3
args=$(printf ' %q' "$@")
gcloud compute tpus tpu-vm ssh "$tpu" --zone "$zone" --worker=all --command \
  "cd ~/mujo_jax && pip install -q -e '.[tpu]' && MUJO_DISTRIBUTED=auto python -m mujo_jax.main${args}"
