"""Multi-process start-up: `jax.distributed.initialize` when launched as several processes.

Launchers (launch/) set MUJO_COORDINATOR_ADDRESS, MUJO_NUM_PROCESSES and MUJO_PROCESS_ID; on
TPU pods and SLURM, `jax.distributed.initialize()` with no arguments finds them itself, which
MUJO_DISTRIBUTED=auto selects. A single process needs nothing.

A process that dies stops the others: the coordination service misses its heartbeats for
MUJO_HEARTBEAT_TIMEOUT_S (default 30; JAX's own default is 100) and ends every other process
with an error naming the lost task, instead of leaving them waiting in a collective.
"""

from __future__ import annotations

import os

import jax


def _heartbeat_timeout_s() -> int:
  value = os.environ.get('MUJO_HEARTBEAT_TIMEOUT_S', '30')
  if not value.isdigit() or int(value) < 1:
    raise ValueError(f'MUJO_HEARTBEAT_TIMEOUT_S={value!r}: expected a positive integer (seconds)')
  return int(value)


def initialize_from_env() -> None:
  mode = os.environ.get('MUJO_DISTRIBUTED', '')
  address = os.environ.get('MUJO_COORDINATOR_ADDRESS')
  if mode == 'auto':
    jax.distributed.initialize(heartbeat_timeout_seconds=_heartbeat_timeout_s())
    return
  if not address:
    return
  try:
    num_processes = int(os.environ['MUJO_NUM_PROCESSES'])
    process_id = int(os.environ['MUJO_PROCESS_ID'])
  except (KeyError, ValueError) as error:
    raise ValueError(
      'MUJO_COORDINATOR_ADDRESS is set, so MUJO_NUM_PROCESSES and MUJO_PROCESS_ID must be integers'
    ) from error
  # CPU devices of different processes talk through gloo; the setting only
  # affects the CPU backend, and asking which backend is in use would start it too early.
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(
    coordinator_address=address,
    num_processes=num_processes,
    process_id=process_id,
    heartbeat_timeout_seconds=_heartbeat_timeout_s(),
  )
