"""Helpers shared by the benchmark scripts: the config, a cached batch, timing, reporting.

Benchmarks print one JSON line per figure (`{"name": ..., "value": ...}`) so that a CI job or the
lead can collect them, then a human-readable table. The machine is shared: every figure comes
with the load average at the time it was taken.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import ml_collections
import numpy as np

from configs import pretrain
from mujo_jax import config_validation, sharding
from mujo_jax.data import schema


def pretrain_config(size: str, batch_size: int, overrides: str = '') -> ml_collections.ConfigDict:
  """The default pretraining config (`configs/pretrain.py`) at `size` and `batch_size`."""
  arg = f'size={size},batch_size={batch_size}' + (f',{overrides}' if overrides else '')
  return config_validation.resolve_pretrain_config(pretrain.get_config(arg))


def random_batch(spec: dict[str, jax.ShapeDtypeStruct], seed: int = 0) -> dict[str, np.ndarray]:
  """A batch of the schema with plausible content (what matters for speed is the masks).

  Every modality and IMU site present; text of 20 … L−1 real tokens then padding, so the text
  key mask is realistic.
  """
  rng = np.random.default_rng(seed)
  batch = {}
  for key, struct in spec.items():
    shape, dtype = struct.shape, np.dtype(struct.dtype)
    if key == 'text':
      length = shape[1]
      lengths = rng.integers(min(20, length - 1), length, shape[0])
      tokens = rng.integers(3, 259, shape).astype(np.int32)
      tokens[np.arange(length)[None] >= lengths[:, None]] = 0
      batch[key] = tokens
    elif key == 'label':
      batch[key] = rng.integers(0, 11, shape).astype(np.int32)
    elif dtype == np.bool_:
      batch[key] = np.ones(shape, bool)
    elif dtype == np.uint8:
      batch[key] = rng.integers(0, 256, shape).astype(np.uint8)
    else:
      batch[key] = rng.normal(size=shape).astype(dtype)
  return batch


def global_random_batch(config: ml_collections.ConfigDict, mesh: jax.sharding.Mesh) -> dict:
  """`random_batch` of the config's schema at its batch size, placed on `mesh`."""
  return sharding.global_batch(random_batch(schema.batch_spec(config, config.batch_size)), mesh)


def timed(fn: Callable[[], Any]) -> float:
  """Seconds of one call of `fn` (which must block until its work is done)."""
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def interleaved(
  runners: dict[str, Callable[[], Any]],
  rounds: int,
  after_round: Callable[[int], None] | None = None,
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
  """Wall and process-CPU seconds of each runner over `rounds` interleaved rounds.

  Each round calls every runner once, the order rotating between rounds, so that load which
  drifts during the run affects every runner alike; `after_round(i)` runs after round i.
  """
  wall = {name: [] for name in runners}
  cpu = {name: [] for name in runners}
  order = list(runners)
  for round_index in range(rounds):
    shift = round_index % len(order)
    for name in order[shift:] + order[:shift]:
      cpu_start = time.process_time()
      wall[name].append(timed(runners[name]))
      cpu[name].append(time.process_time() - cpu_start)
    if after_round is not None:
      after_round(round_index)
  return wall, cpu


def xla_flops(compiled: Any) -> float:
  """FLOPs of a compiled JAX computation from XLA's cost analysis (a dict or [dict])."""
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost['flops'])


def median(values: list[float]) -> float:
  return float(statistics.median(values))


def load_average() -> float:
  return float(os.getloadavg()[0])


def cpu_model() -> str:
  try:
    with open('/proc/cpuinfo', encoding='utf-8') as cpuinfo:
      for line in cpuinfo:
        if line.startswith('model name'):
          return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or 'unknown'


def emit(name: str, value: float, unit: str = '', **extra: Any) -> None:
  """One figure as a JSON line."""
  record = {'name': name, 'value': round(float(value), 4)}
  if unit:
    record['unit'] = unit
  record.update(extra)
  print(json.dumps(record), flush=True)


def machine_line() -> str:
  import importlib.metadata as metadata  # pylint: disable=g-import-not-at-top

  versions = []
  for package in ('jax', 'jaxlib', 'flax', 'optax', 'torch', 'grain'):
    try:
      versions.append(f'{package} {metadata.version(package)}')
    except metadata.PackageNotFoundError:
      pass
  devices = jax.devices()
  return (
    f'{datetime.date.today().isoformat()} · {cpu_model()} × {os.cpu_count()} cores · '
    f'JAX backend {jax.default_backend()} ({devices[0].device_kind}) · ' + ', '.join(versions)
  )


def table(rows: list[tuple[str, str]]) -> str:
  width = max(len(name) for name, _ in rows)
  lines = [f'{"figure".ljust(width)} | value', f'{"-" * width}-|------']
  lines += [f'{name.ljust(width)} | {value}' for name, value in rows]
  return '\n'.join(lines)


def matmul_peak_flops(size: int = 2048, repeats: int = 5) -> dict[str, float]:
  """Best fp32 (CPU) or bf16 (GPU) square-matmul FLOP/s of JAX and of torch, median of repeats.

  The 'peak' of MFU is what this machine's BLAS reaches on a large square matmul in this very
  run (same load), not a datasheet number.
  """
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  on_gpu = jax.default_backend() == 'gpu'
  dtype = jnp.bfloat16 if on_gpu else jnp.float32
  size = 8192 if on_gpu else size
  a = jnp.ones((size, size), dtype)
  b = jnp.ones((size, size), dtype) * 0.5
  matmul = jax.jit(jnp.dot)
  matmul(a, b).block_until_ready()
  jax_seconds = median([timed(lambda: matmul(a, b).block_until_ready()) for _ in range(repeats)])
  figures = {'jax': 2 * size**3 / jax_seconds}
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    return figures
  device = 'cuda' if on_gpu and torch.cuda.is_available() else 'cpu'
  torch_dtype = torch.bfloat16 if on_gpu else torch.float32
  ta = torch.ones(size, size, dtype=torch_dtype, device=device)
  tb = torch.ones(size, size, dtype=torch_dtype, device=device)

  def torch_matmul():
    torch.mm(ta, tb)
    if device == 'cuda':
      torch.cuda.synchronize()

  torch_matmul()
  figures['torch'] = 2 * size**3 / median([timed(torch_matmul) for _ in range(repeats)])
  return figures


def dir_size_bytes(path: str) -> int:
  """Bytes of every file under `path`."""
  return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def time_tfds_build(name: str, manual_dir: str, data_dir: str) -> float:
  """Seconds of `tfds build tfds_builders/<name> --file_format=array_record` (quiet, checked)."""

  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  start = time.perf_counter()
  subprocess.run(
    [
      sys.executable,
      '-m',
      'tensorflow_datasets.scripts.cli.main',
      'build',  # = `tfds build`
      os.path.join(repo, 'tfds_builders', name),
      f'--manual_dir={manual_dir}',
      f'--data_dir={data_dir}',
      '--file_format=array_record',
    ],
    check=True,
    cwd=repo,
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
    env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=repo),
  )
  return time.perf_counter() - start


def emit_tfds_build(name: str, manual_dir: str, data_dir: str) -> None:
  """Times `tfds build` of `name` and emits `<name>_tfds_build_s` and the output size."""
  emit(
    f'{name}_tfds_build_s', time_tfds_build(name, manual_dir, data_dir), 's', cpus=os.cpu_count()
  )
  emit(f'{name}_output_size_mb', dir_size_bytes(os.path.join(data_dir, name)) / 1e6, 'MB')


def run_in_work_dir(run: Callable[[str], None], work_dir: str | None, prefix: str) -> None:
  """`run(dir)` in `work_dir` (kept) or in a temporary directory deleted afterwards."""
  if work_dir:
    os.makedirs(work_dir, exist_ok=True)
    run(work_dir)
    return
  import tempfile

  with tempfile.TemporaryDirectory(prefix=prefix) as directory:
    run(directory)
