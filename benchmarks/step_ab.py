r"""In-process A/B of model-code variants: the whole train step and the forward, alternated.

  python benchmarks/step_ab.py --size=small --batch_size=128 \
      --variants=current,nn_grads,own_norm,nn_grads+own_norm

How BENCHMARKS.md's "predicted → measured" rows are measured: every variant's train step
(`train.make_train_step`, state donated) and forward (`JointModel.embed`) is traced and compiled
in this one process, each under its own patch of the model code, then run alternately
(`--rounds` rounds, one call of each per round, order rotating) on the same cached batch;
medians of wall time and of process CPU time per call. Load drifts affect every variant alike.

Variants: `current` (the code as it is), or patches of it joined by '+', each applied while
the variant is traced (compiled code does not see it later). The patches are the tries of
issue 17 that lost (BENCHMARKS.md), kept here so that each row there can be re-measured:
- `nn_grads`: every `nn.Dense` with a custom VJP that computes both gradients as plain
  matmuls on transposes materialised behind an optimisation barrier (instead of the
  transposed-operand dots XLA picks);
- `own_norm`: every `nn.LayerNorm` replaced by one with a hand-written backward (the textbook
  gradient from the saved x̂ and 1/σ; same parameters and values);
- `kt_barrier`: the CPU attention's kᵀ materialised behind an optimisation barrier, so that
  q·kᵀ is a plain (N × D)(D × N) matmul.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_util  # noqa: E402  pylint: disable=g-import-not-at-top

from mujo_jax import sharding, train  # noqa: E402
from mujo_jax.data import schema  # noqa: E402
from mujo_jax.models import transformer  # noqa: E402

_SIZE = flags.DEFINE_enum('size', 'small', ['tiny', 'small', 'base'], 'Model size preset.')
_BATCH_SIZE = flags.DEFINE_integer('batch_size', 128, 'Global batch size.')
_ROUNDS = flags.DEFINE_integer('rounds', 10, 'Interleaved rounds.')
_VARIANTS = flags.DEFINE_list(
  'variants', ['current', 'nn_grads', 'own_norm'], 'Variants to compare (the first is the base).'
)
_CONFIG = flags.DEFINE_string('config', '', 'Extra configs/pretrain.py arguments.')


@contextlib.contextmanager
def _patched(module, name, value):
  original = getattr(module, name)
  setattr(module, name, value)
  try:
    yield
  finally:
    setattr(module, name, original)


class _JnpKtBarrier:
  """`jax.numpy` for the transformer module, except that `swapaxes` (its one use: kᵀ in the CPU
  attention) materialises the transpose behind an optimisation barrier."""

  def __getattr__(self, name):
    return getattr(jnp, name)

  @staticmethod
  def swapaxes(x, axis1, axis2):
    return jax.lax.optimization_barrier(jnp.swapaxes(x, axis1, axis2))


@jax.custom_vjp
def _matmul_nn_grads(x, kernel):
  return jnp.matmul(x, kernel)


def _matmul_nn_grads_fwd(x, kernel):
  return jnp.matmul(x, kernel), (x, kernel)


def _matmul_nn_grads_bwd(residuals, grad):
  x, kernel = residuals
  x_t, kernel_t = jax.lax.optimization_barrier((x.T, kernel.T))
  return jnp.matmul(grad, kernel_t).astype(x.dtype), jnp.matmul(x_t, grad).astype(kernel.dtype)


_matmul_nn_grads.defvjp(_matmul_nn_grads_fwd, _matmul_nn_grads_bwd)


def _dot_general_nn_grads(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
  if lhs.ndim == 2 and dimension_numbers == (((1,), (0,)), ((), ())) and precision is None:
    return _matmul_nn_grads(lhs, rhs)
  return jax.lax.dot_general(lhs, rhs, dimension_numbers, precision, preferred_element_type)


class _DenseNNGrads(nn.Dense):
  dot_general: Any = _dot_general_nn_grads


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _layer_norm(x, scale, bias, epsilon):
  return _layer_norm_fwd(x, scale, bias, epsilon)[0]


def _layer_norm_fwd(x, scale, bias, epsilon):
  x32 = x.astype(jnp.float32)
  centered = x32 - jnp.mean(x32, axis=-1, keepdims=True)
  inv_std = jax.lax.rsqrt(jnp.mean(jnp.square(centered), axis=-1, keepdims=True) + epsilon)
  normalized = centered * inv_std
  return (normalized * scale + bias).astype(x.dtype), (normalized, inv_std, scale)


def _layer_norm_bwd(epsilon, residuals, grad):
  del epsilon
  normalized, inv_std, scale = residuals
  grad = grad.astype(jnp.float32)
  g = grad * scale
  dx = inv_std * (
    g
    - jnp.mean(g, axis=-1, keepdims=True)
    - normalized * jnp.mean(g * normalized, axis=-1, keepdims=True)
  )
  leading = tuple(range(grad.ndim - 1))
  return dx, jnp.sum(grad * normalized, axis=leading), jnp.sum(grad, axis=leading)


_layer_norm.defvjp(_layer_norm_fwd, _layer_norm_bwd)


class _OwnLayerNorm(nn.Module):
  """flax's parameters (scale, bias), ε = 1e-6 and float32 statistics; float32 models only."""

  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    scale = self.param('scale', nn.initializers.ones, (x.shape[-1],))
    bias = self.param('bias', nn.initializers.zeros, (x.shape[-1],))
    return _layer_norm(x, scale, bias, 1e-6).astype(self.dtype)


PATCHES = {
  'nn_grads': lambda: _patched(nn, 'Dense', _DenseNNGrads),
  'own_norm': lambda: _patched(nn, 'LayerNorm', _OwnLayerNorm),
  'kt_barrier': lambda: _patched(transformer, 'jnp', _JnpKtBarrier()),
}


@contextlib.contextmanager
def _variant(name):
  """`current`, or patches joined by '+' (e.g. `nn_grads+own_norm`)."""
  with contextlib.ExitStack() as stack:
    if name != 'current':
      for patch in name.split('+'):
        stack.enter_context(PATCHES[patch]())
    yield


def _compile(config, host_batch):
  run = train.setup(config)
  batch = sharding.global_batch(host_batch, run.mesh)
  step = run.step_fn.lower(run.state, batch).compile()
  embed_batch = {k: v for k, v in batch.items() if k != 'present'}
  embed = (
    jax.jit(lambda p, b: run.model.apply({'params': p}, b, method='embed'))
    .lower(run.state.params, embed_batch)
    .compile()
  )
  return run.state, batch, step, embed, embed_batch


def main(argv):
  del argv
  unknown = [
    v for v in _VARIANTS.value if v != 'current' and any(p not in PATCHES for p in v.split('+'))
  ]
  if unknown:
    raise ValueError(f'--variants: unknown {unknown}; known: current, {sorted(PATCHES)} and +')
  print(bench_util.machine_line(), flush=True)
  config = bench_util.pretrain_config(_SIZE.value, _BATCH_SIZE.value, _CONFIG.value)
  host_batch = bench_util.random_batch(schema.batch_spec(config, config.batch_size))
  compiled = {}
  for name in _VARIANTS.value:
    with _variant(name):
      compiled[name] = _compile(config, host_batch)

  holders = {name: {'state': compiled[name][0]} for name in compiled}

  def step_runner(name):
    _, batch, step, _, _ = compiled[name]

    def go():
      new_state, metrics = step(holders[name]['state'], batch)
      jax.block_until_ready((new_state, metrics))
      holders[name]['state'] = new_state

    return go

  def forward_runner(name):
    _, _, _, embed, embed_batch = compiled[name]
    return lambda: jax.block_until_ready(embed(holders[name]['state'].params, embed_batch))

  runners = {}
  for name in compiled:
    runners[f'{name}/step'] = step_runner(name)
    runners[f'{name}/forward'] = forward_runner(name)
  for runner in runners.values():  # Warm-up.
    runner()
  wall, cpu = bench_util.interleaved(runners, _ROUNDS.value)

  first = _VARIANTS.value[0]
  rows = [('size / batch / rounds', f'{_SIZE.value} / {config.batch_size} / {_ROUNDS.value}')]
  for name in runners:
    variant, part = name.split('/')
    median = bench_util.median(wall[name])
    base = bench_util.median(wall[f'{first}/{part}'])
    bench_util.emit(
      f'{variant}_{part}_s',
      median,
      's',
      cpu_s=round(bench_util.median(cpu[name]), 4),
      vs_first=round(median / base, 4),
    )
    rows.append(
      (
        f'{name}: wall s (÷ {first}) / CPU s',
        f'{median:.4f} ({median / base:.3f}×) / {bench_util.median(cpu[name]):.3f}',
      )
    )
  rows.append(('load average', f'{bench_util.load_average():.2f}'))
  print(bench_util.table(rows), flush=True)


if __name__ == '__main__':
  app.run(main)
