r"""The four towers' transformer stacks as four calls vs one call vmapped over a tower axis.

  python benchmarks/tower_stacking.py --size=small --batch_size=128

Issue 17's first structural idea: every tower has the same block shape, so each layer of all
towers could run as one batched call (parameters stacked on a tower axis, `nn.vmap` over it),
cutting the op count about 4×. Stacking needs one token count for all towers, so each tower's
tokens are padded to the longest tower's and the padding is masked out as keys; the padding is
compute. This script times exactly that trade, in one process, on the transformer stacks alone
(what stacking changes; the tokenisers, heads and loss are the same either way): forward +
backward of the sum of the pooled outputs w.r.t. the parameters, for

- `separate`: the four `Transformer` towers of today's model, each at its own token count
  (the default pretraining config: IMU 5 sites × 10 patches = 50, pose 15, video 40, text 96);
- `stacked`: one `nn.vmap`-ed `Transformer` over a tower axis of 4, tokens padded to 96;
- `stacked_similar`: IMU and video stacked (padded to 50), pose and text alone.

The variants are compiled once each, then timed alternately (`--rounds` rounds, one call of
each per round, the order rotating); medians, with the FLOPs of each from XLA's cost analysis.
Output: one JSON line per figure, then a table.
"""

from __future__ import annotations

import os
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_util  # noqa: E402  pylint: disable=g-import-not-at-top

from mujo_jax.models import config as model_config  # noqa: E402
from mujo_jax.models.transformer import Transformer, TransformerConfig, masked_mean  # noqa: E402

_SIZE = flags.DEFINE_enum('size', 'small', ['tiny', 'small', 'base'], 'Model size preset.')
_BATCH_SIZE = flags.DEFINE_integer('batch_size', 128, 'Batch size.')
_ROUNDS = flags.DEFINE_integer('rounds', 12, 'Interleaved rounds.')
_TOKENS = flags.DEFINE_list(
  'tokens', ['50', '15', '40', '96'], 'Token count of each tower (imu, pose, video, text).'
)

# Text keys are padded in real batches too: its mask is random 20 … 95 valid tokens, as in
# bench_util.random_batch; the other towers are fully valid.
_TEXT_TOWER = 3


class SeparateTowers(nn.Module):
  cfg: TransformerConfig

  @nn.compact
  def __call__(self, tokens, masks):
    outs = []
    for index, (x, mask) in enumerate(zip(tokens, masks, strict=True)):
      y = Transformer(self.cfg, name=f'tower_{index}')(x, mask, train=True)
      outs.append(masked_mean(y, mask))
    return jnp.stack(outs)


class StackedTowers(nn.Module):
  """One Transformer vmapped over the leading tower axis of tokens (G, B, N, D), masks (G, B, N)."""

  cfg: TransformerConfig

  @nn.compact
  def __call__(self, tokens, masks):
    stacked = nn.vmap(
      lambda module, x, m: masked_mean(module(x, m, train=True), m),
      variable_axes={'params': 0},
      split_rngs={'params': True},
      in_axes=(0, 0),
    )
    return stacked(Transformer(self.cfg, name='towers'), tokens, masks)


class GroupedTowers(nn.Module):
  """Towers in groups: each group stacked (padded to its longest), the groups separate."""

  cfg: TransformerConfig
  groups: tuple[tuple[int, ...], ...]

  @nn.compact
  def __call__(self, tokens, masks):
    outs = {}
    for group_index, group in enumerate(self.groups):
      length = max(tokens[i].shape[1] for i in group)
      xs = jnp.stack([_pad(tokens[i], length) for i in group])
      ms = jnp.stack([_pad(masks[i], length) for i in group])
      pooled = StackedTowers(self.cfg, name=f'group_{group_index}')(xs, ms)
      for slot, tower in enumerate(group):
        outs[tower] = pooled[slot]
    return jnp.stack([outs[i] for i in range(len(tokens))])


def _pad(x, length):
  """Pads axis 1 of x to `length` (zeros / False): padded tokens are masked keys."""
  pad = [(0, 0)] * x.ndim
  pad[1] = (0, length - x.shape[1])
  return jnp.pad(x, pad)


def main(argv):
  del argv
  print(bench_util.machine_line(), flush=True)
  cfg = model_config.ModelConfig(size=_SIZE.value).transformer()
  batch = _BATCH_SIZE.value
  counts = [int(n) for n in _TOKENS.value]
  rng = np.random.default_rng(0)
  tokens = [jnp.asarray(rng.normal(size=(batch, n, cfg.width)), jnp.float32) for n in counts]
  masks = [jnp.ones((batch, n), bool) for n in counts]
  text_len = rng.integers(min(20, counts[_TEXT_TOWER] - 1), counts[_TEXT_TOWER], batch)
  masks[_TEXT_TOWER] = jnp.asarray(np.arange(counts[_TEXT_TOWER])[None] < text_len[:, None])
  variants = {
    'separate': SeparateTowers(cfg),
    'stacked': GroupedTowers(cfg, (tuple(range(len(counts))),)),  # One group: all padded.
    'stacked_similar': GroupedTowers(cfg, ((0, 2), (1,), (3,))),
  }
  runners, flops = {}, {}
  for name, module in variants.items():
    params = module.init(jax.random.key(0), tokens, masks)['params']

    def loss(p, module=module):
      return jnp.sum(module.apply({'params': p}, tokens, masks))

    compiled = jax.jit(jax.grad(loss)).lower(params).compile()
    flops[name] = bench_util.xla_flops(compiled)
    runners[name] = lambda fn=compiled, params=params: jax.block_until_ready(fn(params))
    runners[name]()  # Warm-up.

  times, _ = bench_util.interleaved(runners, _ROUNDS.value)

  base = bench_util.median(times['separate'])
  rows = [('size / batch / tokens per tower', f'{_SIZE.value} / {batch} / {counts}')]
  for name in variants:
    median = bench_util.median(times[name])
    bench_util.emit(
      f'{name}_s', median, 's', flops=flops[name], vs_separate=round(median / base, 3)
    )
    rows.append(
      (
        f'{name}: median s (× separate), GFLOP',
        f'{median:.4f} ({median / base:.2f}×), {flops[name] / 1e9:.2f}',
      )
    )
  rows.append(('load average', f'{bench_util.load_average():.2f}'))
  print(bench_util.table(rows), flush=True)


if __name__ == '__main__':
  app.run(main)
