r"""Full optimiser step of the JAX model against its PyTorch twin (eager and torch.compile).

  python benchmarks/train_step.py --size=small --batch_size=128

What is timed, per framework, on one cached batch of the default pretraining config
(`configs/pretrain.py`, four modalities, joint CLIP loss): forward of the four encoders and
heads, the multi-way loss, backward, global-norm clipping and AdamW — JAX through
`mujo_jax.train.make_train_step` (the jitted, donated step the training loop runs), the twin
(`benchmarks/torch_twin.py`) in eager mode and under `torch.compile`, both with fused AdamW.
Both start from the same parameters (the JAX initialisation copied into the twin), and the
script first checks that both compute the same loss on the batch.

The machine is shared, so the three are interleaved: each round times one step of each
framework (the order rotates between rounds), and every `--peak_every` rounds the fp32 matmul
peak is measured; figures are medians over rounds (the JAX ÷ torch ratios also as the median
of same-round ratios and as best ÷ best, which load inflates least), and MFU is
(model FLOPs per step from XLA's cost analysis ÷ JAX step time) ÷ the matmul peak measured in
the same run. On a GPU the model runs in bfloat16 and MFU is against the card's measured bf16
matmul peak.

Output: one JSON line per figure (`{"name": ..., "value": ...}`), then a table.
"""

from __future__ import annotations

import copy
import os
import sys
import time

import jax
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_util  # noqa: E402  pylint: disable=g-import-not-at-top
import torch_twin  # noqa: E402  pylint: disable=g-import-not-at-top

from mujo_jax import sharding, train  # noqa: E402
from mujo_jax.data import schema  # noqa: E402

_SIZE = flags.DEFINE_enum('size', 'small', ['tiny', 'small', 'base'], 'Model size preset.')
_BATCH_SIZE = flags.DEFINE_integer('batch_size', 128, 'Global batch size.')
_ROUNDS = flags.DEFINE_integer('rounds', 16, 'Interleaved rounds (one step of each per round).')
_PEAK_EVERY = flags.DEFINE_integer('peak_every', 4, 'Measure the matmul peak every N rounds.')
_WARMUP = flags.DEFINE_integer('warmup_steps', 2, 'Untimed steps per framework after compiling.')
_MODES = flags.DEFINE_list(
  'modes',
  ['jax', 'torch_eager', 'torch_compile', 'jax_forward', 'torch_eager_forward'],
  'What to time: the train steps jax, torch_eager, torch_compile; the forward alone '
  '(embedding, as evaluation and the Embedder run it) jax_forward, torch_eager_forward, '
  'torch_compile_forward.',
)
_STEP_MODES = ('jax', 'torch_eager', 'torch_compile')
_FORWARD_MODES = ('jax_forward', 'torch_eager_forward', 'torch_compile_forward')
_OVERRIDES = flags.DEFINE_string(
  'config', '', 'Extra configs/pretrain.py arguments, e.g. "loss=siglip,strategy=uncertainty".'
)
_ATTENTION = flags.DEFINE_string(
  'attention', None, 'JAX model.attention override (xla | einsum); default: config.'
)
_PEAK_SIZE = flags.DEFINE_integer('peak_size', 2048, 'Side of the square matmul of the peak.')
_PROFILE_DIR = flags.DEFINE_string(
  'profile_dir', None, 'If set, write a jax.profiler trace of 3 JAX steps here.'
)


def _jax_setup(config):
  run = train.setup(config)
  host_batch = bench_util.random_batch(schema.batch_spec(config, config.batch_size))
  batch = sharding.global_batch(host_batch, run.mesh)
  start = time.perf_counter()
  compiled = run.step_fn.lower(run.state, batch).compile()
  compile_seconds = time.perf_counter() - start
  flops = bench_util.xla_flops(compiled)
  return (run.model, run.state, batch, host_batch, compiled, flops, compile_seconds)


def main(argv):
  del argv
  unknown_modes = sorted(set(_MODES.value) - set(_STEP_MODES) - set(_FORWARD_MODES))
  if unknown_modes:
    raise ValueError(f'--modes: unknown {unknown_modes}; known {_STEP_MODES + _FORWARD_MODES}')
  import torch  # pylint: disable=g-import-not-at-top

  on_gpu = jax.default_backend() == 'gpu'
  config = bench_util.pretrain_config(_SIZE.value, _BATCH_SIZE.value, _OVERRIDES.value)
  if on_gpu:
    config.model.dtype = 'bfloat16'
  if _ATTENTION.value:
    config.model.attention = _ATTENTION.value
  load_start = bench_util.load_average()
  print(bench_util.machine_line(), flush=True)

  # ---- JAX: state, cached batch, compiled step, FLOPs.
  model, state, batch, host_batch, jax_step, model_flops, compile_seconds = _jax_setup(config)
  jax_params = jax.device_get(state.params)

  # ---- The twin: same parameters, same loss on the batch, same parameter count and FLOPs.
  device = 'cuda' if on_gpu and torch.cuda.is_available() else 'cpu'
  twin = torch_twin.JointTwin.from_jax(model, host_batch)
  parameter_count = torch_twin.assert_same_parameter_count(twin, jax_params)
  torch_twin.load_jax_params(twin, jax_params)
  torch_batch = torch_twin.to_torch_batch(host_batch)
  with torch.no_grad():
    twin_loss = float(twin(torch_batch))
  jax_embeddings = model.apply({'params': jax_params}, host_batch, method='embed')
  jax_loss = float(
    model.apply({'params': jax_params}, jax_embeddings, host_batch['present'], method='loss')[0]
  )
  torch_twin.set_attention_impl(twin, 'math')
  torch_matmul_flops = torch_twin.count_step_flops(twin, torch_batch)
  torch_twin.set_attention_impl(twin, 'sdpa')
  twin.to(device)
  torch_batch = torch_twin.to_torch_batch(host_batch, device)

  autocast = (
    torch.autocast('cuda', dtype=torch.bfloat16)
    if device == 'cuda'
    else torch.autocast('cpu', enabled=False)
  )
  steps = {}
  if 'torch_eager' in _MODES.value:
    steps['torch_eager'] = torch_twin.make_train_step(twin, config, compile_model=False, fused=True)
  if 'torch_compile' in _MODES.value:
    steps['torch_compile'] = torch_twin.make_train_step(
      copy.deepcopy(twin), config, compile_model=True, fused=True
    )
  counters = {name: 0 for name in steps}

  def run_torch(name):
    def go():
      with autocast:
        steps[name](torch_batch, counters[name])
      if device == 'cuda':
        torch.cuda.synchronize()
      counters[name] += 1

    return go

  holder = {'state': state}

  def run_jax():
    new_state, metrics = jax_step(holder['state'], batch)
    jax.block_until_ready((new_state, metrics))
    holder['state'] = new_state

  runners = {}
  if 'jax' in _MODES.value:
    runners['jax'] = run_jax
  for name in steps:
    runners[name] = run_torch(name)

  # ---- Forward alone: the embedding of the batch (no loss, no gradient), as the evaluation
  # job and `Embedder` run it: jitted `JointModel.embed` against the twin's `embed` under
  # `torch.no_grad` (eager, and compiled).
  forward_params = jax.device_put(jax_params)
  jax_embed = jax.jit(lambda params, b: model.apply({'params': params}, b, method='embed'))
  device_batch = {k: v for k, v in batch.items() if k != 'present'}

  def run_jax_forward():
    jax.block_until_ready(jax_embed(forward_params, device_batch))

  def run_torch_forward(embed_fn):
    def go():
      with torch.no_grad(), autocast:
        embed_fn(torch_batch)
      if device == 'cuda':
        torch.cuda.synchronize()

    return go

  if 'jax_forward' in _MODES.value:
    runners['jax_forward'] = run_jax_forward
  # An evaluation-mode copy: no dropout, as JAX's `embed` (train=False) and evaluation run it.
  eval_twin = copy.deepcopy(twin).eval() if set(_MODES.value) & set(_FORWARD_MODES) else None
  if 'torch_eager_forward' in _MODES.value:
    runners['torch_eager_forward'] = run_torch_forward(eval_twin.embed)
  if 'torch_compile_forward' in _MODES.value:
    runners['torch_compile_forward'] = run_torch_forward(torch.compile(eval_twin.embed))

  # ---- Warm-up (torch.compile compiles on its first call).
  warmup_seconds = {}
  for name, runner in runners.items():
    warmup_seconds[name] = bench_util.timed(runner)
    for _ in range(_WARMUP.value):
      runner()

  if _PROFILE_DIR.value and 'jax' in runners:
    with jax.profiler.trace(_PROFILE_DIR.value):
      for _ in range(3):
        runners['jax']()

  # ---- Interleaved rounds: one step of each framework per round, order rotating.
  peaks, loads = [], []

  def after_round(round_index):
    if round_index % _PEAK_EVERY.value == 0:
      peaks.append(max(bench_util.matmul_peak_flops(_PEAK_SIZE.value).values()))
    loads.append(bench_util.load_average())

  times, _ = bench_util.interleaved(runners, _ROUNDS.value, after_round)

  # ---- Figures.
  batch_size = config.batch_size
  step_seconds = {name: bench_util.median(values) for name, values in times.items()}
  samples_per_s = {name: batch_size / seconds for name, seconds in step_seconds.items()}
  peak_flops = bench_util.median(peaks)
  mfu_name = 'gpu_bf16_mfu' if on_gpu else 'cpu_mfu'
  rows = [
    ('model size / batch', f'{_SIZE.value} / {batch_size}'),
    ('parameters (JAX = torch)', f'{parameter_count:,}'),
    ('loss on the batch: JAX / torch', f'{jax_loss:.5f} / {twin_loss:.5f}'),
    ('JAX compile (s)', f'{compile_seconds:.1f}'),
  ]
  bench_util.emit('parameters', parameter_count)
  bench_util.emit('twin_loss_abs_diff', abs(jax_loss - twin_loss))
  for name in runners:
    bench_util.emit(f'{name}_samples_per_s', samples_per_s[name], 'samples/s')
    bench_util.emit(f'{name}_step_s', step_seconds[name], 's')
    rows.append(
      (
        f'{name} step (s, median of {len(times[name])})',
        f'{step_seconds[name]:.3f} (min {min(times[name]):.3f}, max {max(times[name]):.3f})',
      )
    )
    rows.append((f'{name} samples/s', f'{samples_per_s[name]:.1f}'))
  for jax_name, name in (
    ('jax', 'torch_eager'),
    ('jax', 'torch_compile'),
    ('jax_forward', 'torch_eager_forward'),
    ('jax_forward', 'torch_compile_forward'),
  ):
    if jax_name in samples_per_s and name in samples_per_s:
      ratio = samples_per_s[jax_name] / samples_per_s[name]
      # Same-round ratios: robust to load that drifts between rounds.
      paired = bench_util.median([t / j for t, j in zip(times[name], times[jax_name], strict=True)])
      best = min(times[name]) / min(times[jax_name])
      bench_util.emit(
        f'{jax_name}_over_{name}',
        ratio,
        'x',
        paired_median=round(paired, 3),
        best_over_best=round(best, 3),
      )
      rows.append(
        (
          f'{jax_name} ÷ {name} (medians / same-round / best)',
          f'{ratio:.2f}× / {paired:.2f}× / {best:.2f}×',
        )
      )
  bench_util.emit('model_flops_per_step', model_flops, 'FLOP', source='XLA cost analysis')
  bench_util.emit(
    'torch_matmul_flops_per_step',
    torch_matmul_flops,
    'FLOP',
    source='torch FlopCounterMode, matmuls only',
  )
  bench_util.emit(
    'matmul_peak_flops',
    peak_flops,
    'FLOP/s',
    dtype='bf16' if on_gpu else 'fp32',
    size=_PEAK_SIZE.value,
  )
  rows += [
    ('model FLOPs/step (XLA cost analysis)', f'{model_flops / 1e9:.2f} G'),
    ('twin matmul FLOPs/step (FlopCounterMode)', f'{torch_matmul_flops / 1e9:.2f} G'),
    (
      f'{"bf16" if on_gpu else "fp32"} matmul peak (this run, median)',
      f'{peak_flops / 1e9:.1f} GFLOP/s',
    ),
  ]
  for name in (n for n in runners if n in _STEP_MODES):
    achieved = model_flops / step_seconds[name]
    mfu = achieved / peak_flops
    bench_util.emit(mfu_name if name == 'jax' else f'{name}_mfu', mfu)
    bench_util.emit(f'{name}_achieved_flops', achieved, 'FLOP/s')
    rows.append((f'{name} achieved / MFU', f'{achieved / 1e9:.1f} GFLOP/s / {100 * mfu:.1f} %'))
  bench_util.emit(
    'load_average', bench_util.median(loads), start=round(load_start, 2), max=round(max(loads), 2)
  )
  rows.append(
    (
      'load average (start / median / max)',
      f'{load_start:.2f} / {bench_util.median(loads):.2f} / {max(loads):.2f}',
    )
  )
  for name, seconds in warmup_seconds.items():
    rows.append((f'{name} first call (s)', f'{seconds:.1f}'))
  print(bench_util.table(rows), flush=True)


if __name__ == '__main__':
  app.run(main)
