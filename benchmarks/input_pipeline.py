r"""Input pipeline headroom: grain throughput against the train step's consumption.

  python benchmarks/input_pipeline.py                       # default config (small, batch 64)
  python benchmarks/input_pipeline.py --config=batch_size=128

Three figures at the default pretraining config (`configs/pretrain.py`, synthetic corpus, its
`data.num_workers` grain workers and prefetch):
1. `pipeline_windows_per_s`: windows per second out of `pipeline.train_dataset` with nothing
   else running in this process (after the first batches, i.e. once workers are up);
2. `step_consumption_windows_per_s`: batch size ÷ the train step time on a cached batch;
   their ratio `pipeline_headroom` (goal ≥ 5×);
3. `real_over_cached_step_time`: the training loop's time per step fed by the real pipeline
   ÷ the same loop fed a cached batch (goal ≤ 1.05×). Both loops run as `train.py` does —
   `sharding.global_batch` then the jitted step, no host sync inside the loop — in alternating
   stretches of `--steps` steps, so machine load hits both alike. On this 2-core machine the
   grain worker competes with the step for the same cores: that cost is part of the figure.

The corpus is built on first use (`mujo_jax.data.synthetic_source`) when it is not in the TFDS
data directory yet.
"""

from __future__ import annotations

import itertools
import os
import sys
import time

import jax
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_util  # noqa: E402  pylint: disable=g-import-not-at-top

from configs import pretrain  # noqa: E402
from mujo_jax import config_validation, sharding, train  # noqa: E402
from mujo_jax.data import pipeline  # noqa: E402

_OVERRIDES = flags.DEFINE_string(
  'config', '', 'configs/pretrain.py arguments, e.g. "batch_size=128".'
)
_WORKERS = flags.DEFINE_integer('num_workers', None, 'Override config.data.num_workers.')
_PIPELINE_BATCHES = flags.DEFINE_integer(
  'pipeline_batches', 30, 'Batches timed for the pipeline alone.'
)
_STEPS = flags.DEFINE_integer('steps', 12, 'Steps per stretch of the loop comparison.')
_STRETCHES = flags.DEFINE_integer('stretches', 2, 'Stretches per feed (real, cached, …).')


def _loop_seconds(step_fn, state, batches, steps: int):
  """Seconds per step of the training loop over `steps` batches; returns (state, seconds)."""
  start = time.perf_counter()
  metrics = None
  for local_batch in itertools.islice(batches, steps):
    state, metrics = step_fn(state, local_batch())
  jax.block_until_ready((state, metrics))
  return state, (time.perf_counter() - start) / steps


def main(argv):
  del argv
  config = config_validation.resolve_pretrain_config(pretrain.get_config(_OVERRIDES.value))
  if _WORKERS.value is not None:
    config.data.num_workers = _WORKERS.value
  print(bench_util.machine_line(), flush=True)
  load_start = bench_util.load_average()
  batch_size = config.batch_size

  # ---- 1. The pipeline alone.
  iterator = iter(pipeline.train_dataset(config, 0, 1))
  start = time.perf_counter()
  first = next(iterator)
  first_batch_seconds = time.perf_counter() - start
  for _ in range(2):  # Workers up, buffers primed.
    next(iterator)
  start = time.perf_counter()
  for _ in range(_PIPELINE_BATCHES.value):
    next(iterator)
  pipeline_rate = _PIPELINE_BATCHES.value * batch_size / (time.perf_counter() - start)

  # ---- 2. The step on a cached batch.
  run = train.setup(config)
  mesh, state, step_fn = run.mesh, run.state, run.step_fn
  cached = dict(first)

  def real_batches():
    while True:
      local = next(iterator)
      yield lambda local=local: sharding.global_batch(local, mesh)

  def cached_batches():
    while True:
      yield lambda: sharding.global_batch(cached, mesh)

  state, _ = _loop_seconds(step_fn, state, cached_batches(), 3)  # Compile and warm up.
  real_times, cached_times = [], []
  for _ in range(_STRETCHES.value):
    state, seconds = _loop_seconds(step_fn, state, real_batches(), _STEPS.value)
    real_times.append(seconds)
    state, seconds = _loop_seconds(step_fn, state, cached_batches(), _STEPS.value)
    cached_times.append(seconds)
  real_step = bench_util.median(real_times)
  cached_step = bench_util.median(cached_times)
  consumption = batch_size / cached_step

  figures = [
    ('pipeline_windows_per_s', pipeline_rate, 'windows/s'),
    ('step_consumption_windows_per_s', consumption, 'windows/s'),
    ('pipeline_headroom', pipeline_rate / consumption, 'x'),
    ('cached_step_s', cached_step, 's'),
    ('real_pipeline_step_s', real_step, 's'),
    ('real_over_cached_step_time', real_step / cached_step, 'x'),
  ]
  for name, value, unit in figures:
    bench_util.emit(name, value, unit)
  load_end = bench_util.load_average()
  bench_util.emit('load_average', load_end, start=round(load_start, 2))
  rows = [
    (
      'config',
      f'{config.model.size}, batch {batch_size}, {config.data.name}/'
      f'{config.data.builder_config}, num_workers={config.data.num_workers}, '
      f'prefetch={config.data.prefetch_batches}',
    ),
    ('first batch (s)', f'{first_batch_seconds:.1f}'),
  ]
  rows += [(name, f'{value:.3f} {unit}') for name, value, unit in figures]
  rows.append(
    (
      'stretches real / cached (s/step)',
      ' '.join(f'{r:.3f}/{c:.3f}' for r, c in zip(real_times, cached_times, strict=True)),
    )
  )
  rows.append(('load average (start / end)', f'{load_start:.2f} / {load_end:.2f}'))
  print(bench_util.table(rows), flush=True)


if __name__ == '__main__':
  app.run(main)
