r"""Exact (GradCache) gradient accumulation: peak memory and time against naive accumulation.

  python benchmarks/accumulation.py --size=small --micro_batch=32

For k = 1, 2, 4, 8 accumulation steps at a fixed micro-batch m (global batch k·m), compiles
`train.make_train_step` with `accum_mode='exact'` and `'naive'` (k = 1 is one plain step) and
reports, per variant:
- peak memory of the compiled step from XLA's memory analysis: arguments + outputs − aliased
  (donated) buffers + temporaries; the temporaries are the activations, which accumulation is
  meant to keep at one micro-batch's size. The input batch itself is k times larger and the
  strided micro-batch split (`accumulation._split_micro`) holds a copy of it, so the figure is
  also given less twice the input batch;
- median step time, interleaved across variants round by round (the machine is shared), and the
  time per sample.
Goals: exact peak memory at k = 8 ≤ 1.25 × the k = 1 step; exact time per sample
≤ 1.35 × naive accumulation's at the same k (exact runs every encoder twice, once without
keeping activations, so it costs about 4/3 of naive in FLOPs).
"""

from __future__ import annotations

import os
import sys

import jax
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_util  # noqa: E402  pylint: disable=g-import-not-at-top

from mujo_jax import train  # noqa: E402

_SIZE = flags.DEFINE_enum('size', 'small', ['tiny', 'small', 'base'], 'Model size preset.')
_MICRO_BATCH = flags.DEFINE_integer('micro_batch', 32, 'Examples per micro-batch (fixed).')
_KS = flags.DEFINE_list('accum_steps', ['1', '2', '4', '8'], 'Values of k.')
_ROUNDS = flags.DEFINE_integer('rounds', 3, 'Interleaved timing rounds.')
_STEPS = flags.DEFINE_integer('steps_per_round', 2, 'Timed steps per variant per round.')
_OVERRIDES = flags.DEFINE_string('config', '', 'Extra configs/pretrain.py arguments.')


def _peak_bytes(compiled) -> dict[str, int]:
  stats = compiled.memory_analysis()
  live = (
    stats.argument_size_in_bytes
    + stats.output_size_in_bytes
    - stats.alias_size_in_bytes
    + stats.temp_size_in_bytes
  )
  return {
    'peak': int(live),
    'temp': int(stats.temp_size_in_bytes),
    'arguments': int(stats.argument_size_in_bytes),
  }


def main(argv):
  del argv
  print(bench_util.machine_line(), flush=True)
  load_start = bench_util.load_average()
  micro = _MICRO_BATCH.value
  variants = {}
  for k in (int(k) for k in _KS.value):
    for mode in ('exact',) if k == 1 else ('exact', 'naive'):
      config = bench_util.pretrain_config(_SIZE.value, k * micro, _OVERRIDES.value)
      config.accum_steps = k
      config.accum_mode = mode
      run = train.setup(config)
      batch = bench_util.global_random_batch(config, run.mesh)
      compiled = run.step_fn.lower(run.state, batch).compile()
      state = run.state
      state, metrics = compiled(state, batch)
      jax.block_until_ready((state, metrics))
      memory = _peak_bytes(compiled)
      memory['batch'] = int(sum(x.nbytes for x in jax.tree.leaves(batch)))
      variants[(k, mode)] = {
        'compiled': compiled,
        'state': state,
        'batch': batch,
        'memory': memory,
        'times': [],
        'batch_size': config.batch_size,
      }

  for round_index in range(_ROUNDS.value):
    keys = list(variants) if round_index % 2 == 0 else list(reversed(variants))
    for key in keys:
      variant = variants[key]
      for _ in range(_STEPS.value):

        def run(variant=variant):
          variant['state'], metrics = variant['compiled'](variant['state'], variant['batch'])
          jax.block_until_ready((variant['state'], metrics))

        variant['times'].append(bench_util.timed(run))

  base_peak = variants[(1, 'exact')]['memory']['peak'] if (1, 'exact') in variants else None
  rows = []
  for (k, mode), variant in variants.items():
    step = bench_util.median(variant['times'])
    per_sample = step / variant['batch_size']
    memory = variant['memory']
    bench_util.emit(f'accum_{mode}_k{k}_peak_bytes', memory['peak'], 'B', temp=memory['temp'])
    bench_util.emit(f'accum_{mode}_k{k}_step_s', step, 's')
    bench_util.emit(f'accum_{mode}_k{k}_ms_per_sample', 1e3 * per_sample, 'ms')
    variant['per_sample'] = per_sample
    ratio = f'{memory["peak"] / base_peak:.3f}×' if base_peak else '-'
    rows.append(
      (
        f'k={k} {mode} (batch {variant["batch_size"]})',
        f'peak {memory["peak"] / 2**20:7.1f} MiB ({ratio} k=1), input batch '
        f'{memory["batch"] / 2**20:5.1f} MiB, temp '
        f'{memory["temp"] / 2**20:7.1f} MiB, step {step:.3f} s, '
        f'{1e3 * per_sample:.2f} ms/sample',
      )
    )
  for (k, mode), variant in variants.items():
    if mode != 'exact' or k == 1:
      continue
    if base_peak:
      memory, base = variant['memory'], variants[(1, 'exact')]['memory']
      # The global input batch is k times larger by construction; without it (and the strided
      # micro-batch copy XLA makes of it) the rest is what accumulation keeps constant.
      without_batch = (memory['peak'] - 2 * memory['batch']) / (base['peak'] - 2 * base['batch'])
      bench_util.emit(
        f'accum_exact_k{k}_peak_over_k1',
        memory['peak'] / base_peak,
        'x',
        without_input_batch=round(without_batch, 3),
      )
      rows.append(
        (
          f'k={k} exact peak ÷ k=1 (all / less 2× input batch)',
          f'{memory["peak"] / base_peak:.3f}× / {without_batch:.3f}×',
        )
      )
    if (k, 'naive') in variants:
      ratio = variant['per_sample'] / variants[(k, 'naive')]['per_sample']
      bench_util.emit(f'accum_exact_over_naive_time_k{k}', ratio, 'x')
      rows.append((f'k={k} exact ÷ naive time per sample', f'{ratio:.3f}×'))
  load_end = bench_util.load_average()
  bench_util.emit('load_average', load_end, start=round(load_start, 2))
  rows.append(('micro-batch / size', f'{micro} / {_SIZE.value}'))
  rows.append(('load average (start / end)', f'{load_start:.2f} / {load_end:.2f}'))
  print(bench_util.table(rows), flush=True)


if __name__ == '__main__':
  app.run(main)
