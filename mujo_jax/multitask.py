"""Multitask strategies: which modality pairs train at which step, with which weights.

A `Multitask` is built (and validated) once from the config; the per-step functions are pure
and jittable with a traced `step`. Every pair loss is computed at every step (so each one can be
logged); a strategy only decides the weight vector over pairs:

- `joint`: all pairs every step, weight `pair_weights[p]` (default 1).
- `round_robin`: one pair per step, cycling: pair `active[step % n_active]`.
- `random_pair`: one pair per step drawn uniformly from `rng` (replicated across devices, so
  every device picks the same pair).
- `anchored`: only pairs that contain the `anchor` modality (text-anchored like LanguageBind,
  IMU-anchored like IMU2CLIP); the other pairs are logged with weight 0.
- `uncertainty`: Kendall, Gal & Cipolla (2018) homoscedastic weighting with one learned
  log-variance s_p per pair: L = Σ_p c_p (exp(−s_p) L_p + s_p), c_p = `pair_weights[p]`.
  The s_p live in the loss head's parameters.

"Active" pairs are those with a positive weight; the total is a sum over pairs, not a mean.
A pair with no valid example in the batch contributes nothing, including its s_p term (otherwise
the regulariser would drive s_p down for a pair that never occurs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp

Array = jax.Array

# The modality names, in the order of the batch schema; every module imports them from here.
MODALITIES = ('imu', 'pose', 'video', 'text')
STRATEGIES = ('joint', 'round_robin', 'random_pair', 'anchored', 'uncertainty')


def pair_name(pair: tuple[str, str]) -> str:
  return f'{pair[0]}-{pair[1]}'


def validate_modalities(modalities: Sequence[str] | str) -> tuple[str, ...]:
  """Returns modalities as a tuple; accepts 'imu+pose+text' strings. Unknown/duplicates raise."""
  if isinstance(modalities, str):
    modalities = tuple(m for m in modalities.replace(',', '+').split('+') if m)
  modalities = tuple(modalities)
  unknown = [m for m in modalities if m not in MODALITIES]
  if unknown:
    raise ValueError(
      f'modalities={modalities}: unknown {unknown}; expected a subset of {MODALITIES}'
    )
  if len(set(modalities)) != len(modalities):
    raise ValueError(f'modalities={modalities}: duplicates')
  if len(modalities) < 2:
    raise ValueError(f'modalities={modalities}: contrastive pretraining needs at least two')
  return modalities


def all_pairs(modalities: Sequence[str]) -> tuple[tuple[str, str], ...]:
  """Every unordered pair, each in `modalities` order: (imu, pose), (imu, video), ..."""
  modalities = tuple(modalities)
  return tuple((a, b) for i, a in enumerate(modalities) for b in modalities[i + 1 :])


def parse_pair(text: str, modalities: Sequence[str]) -> tuple[str, str]:
  """'text-imu' → ('imu', 'text') (canonical `modalities` order), or a ValueError."""
  parts = text.strip().split('-')
  if len(parts) != 2 or not all(parts):
    raise ValueError(f'multitask pair {text!r}: expected "<modality>-<modality>", e.g. "imu-text"')
  for part in parts:
    if part not in modalities:
      raise ValueError(
        f'multitask pair {text!r}: {part!r} is not one of modalities={tuple(modalities)}'
      )
  if parts[0] == parts[1]:
    raise ValueError(f'multitask pair {text!r}: a pair needs two different modalities')
  order = {m: i for i, m in enumerate(modalities)}
  first, second = sorted(parts, key=order.__getitem__)
  return first, second


def parse_pairs(
  spec: str | Sequence[str], modalities: Sequence[str]
) -> tuple[tuple[str, str], ...]:
  """'all', 'imu-text,imu-pose' / 'imu-text+imu-pose', or a sequence of 'a-b' strings."""
  if isinstance(spec, str):
    if spec.strip() == 'all':
      return all_pairs(modalities)
    spec = [s for s in spec.replace('+', ',').split(',') if s.strip()]
  pairs = tuple(parse_pair(s, modalities) for s in spec)
  if not pairs:
    raise ValueError('multitask.pairs is empty: give "all" or at least one "a-b" pair')
  if len(set(pairs)) != len(pairs):
    raise ValueError(f'multitask.pairs={tuple(spec)}: a pair is listed twice')
  ordered = all_pairs(modalities)
  return tuple(sorted(pairs, key=ordered.index))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Multitask:
  """A validated strategy over pairs of `modalities` (hashable: usable as a static field)."""

  modalities: tuple[str, ...]
  strategy: str
  pairs: tuple[tuple[str, str], ...]
  pair_weights: tuple[float, ...]  # c_p, one per pair.
  anchor: str | None = None

  @property
  def pair_names(self) -> tuple[str, ...]:
    return tuple(pair_name(p) for p in self.pairs)

  @property
  def pair_indices(self) -> tuple[tuple[int, int], ...]:
    """Each pair as indices into `modalities` (= columns of the batch's `present`)."""
    return tuple((self.modalities.index(a), self.modalities.index(b)) for a, b in self.pairs)

  @property
  def selection(self) -> tuple[float, ...]:
    """Static weight of each pair before the per-step choice (0 for excluded pairs)."""
    if self.strategy == 'anchored':
      return tuple(
        w if self.anchor in p else 0.0 for p, w in zip(self.pairs, self.pair_weights, strict=True)
      )
    return self.pair_weights

  @property
  def active(self) -> tuple[int, ...]:
    """Indices of pairs that can get a nonzero weight."""
    return tuple(i for i, w in enumerate(self.selection) if w > 0)

  @property
  def needs_rng(self) -> bool:
    return self.strategy == 'random_pair'

  @property
  def learns_log_vars(self) -> bool:
    return self.strategy == 'uncertainty'


@dataclasses.dataclass(frozen=True, kw_only=True)
class MultitaskConfig:
  """`config.multitask`, before it meets the modalities (`build_multitask` checks the rest).

  `pairs`: 'all', 'imu-text,imu-pose' / 'imu-text+imu-pose', or a tuple of 'a-b' strings.
  `pair_weights`: {'a-b': c_p >= 0} for some selected pairs; the others weigh 1.
  `anchor`: the modality every pair of strategy `anchored` contains; '' for other strategies.
  """

  strategy: str = 'joint'  # One of `STRATEGIES`.
  pairs: str | tuple[str, ...] = 'all'
  pair_weights: dict[str, float] | None = None
  anchor: str = ''

  def __post_init__(self):
    if self.strategy not in STRATEGIES:
      raise ValueError(f'multitask.strategy={self.strategy!r}: expected one of {STRATEGIES}')
    if not isinstance(self.pairs, str) and not (
      isinstance(self.pairs, tuple) and all(isinstance(p, str) for p in self.pairs)
    ):
      raise ValueError(
        f'multitask.pairs={self.pairs!r}: expected "all", "a-b,c-d" or a tuple of "a-b" strings'
      )
    if self.pair_weights is not None and not isinstance(self.pair_weights, Mapping):
      raise ValueError(
        f'multitask.pair_weights={self.pair_weights!r}: expected a mapping '
        f'{{"a-b": weight}} or None'
      )
    if self.anchor is not None and not isinstance(self.anchor, str):
      raise ValueError(f'multitask.anchor={self.anchor!r}: expected a modality name or ""')


def build_multitask(
  modalities: Sequence[str] | str, config: MultitaskConfig | None = None
) -> Multitask:
  """Validates `config` against `modalities` before any compute; unknown names raise ValueError.

  `config` None: `MultitaskConfig()`.
  """
  config = MultitaskConfig() if config is None else config
  modalities = validate_modalities(modalities)
  strategy = config.strategy
  pair_list = parse_pairs(config.pairs, modalities)
  weights = {p: 1.0 for p in pair_list}
  for key, value in dict(config.pair_weights or {}).items():
    pair = parse_pair(key, modalities)
    if pair not in weights:
      raise ValueError(
        f'multitask.pair_weights: {key!r} is not one of the selected pairs '
        f'{[pair_name(p) for p in pair_list]}'
      )
    value = float(value)
    if not value >= 0.0:
      raise ValueError(f'multitask.pair_weights[{key!r}]={value}: expected a weight >= 0')
    weights[pair] = value
  anchor = config.anchor or None
  if strategy == 'anchored':
    if anchor not in modalities:
      raise ValueError(
        f'multitask.anchor={anchor!r}: strategy "anchored" needs one of modalities={modalities}'
      )
    if not any(anchor in p for p in pair_list):
      raise ValueError(
        f'multitask.anchor={anchor!r}: no selected pair contains it '
        f'({[pair_name(p) for p in pair_list]})'
      )
  elif anchor is not None:
    raise ValueError(
      f'multitask.anchor={anchor!r} is only used by strategy "anchored" '
      f'(strategy={strategy!r}); leave it empty'
    )
  multitask = Multitask(
    modalities=modalities,
    strategy=strategy,
    pairs=pair_list,
    pair_weights=tuple(weights[p] for p in pair_list),
    anchor=anchor,
  )
  if not multitask.active:
    weights_by_pair = dict(zip(multitask.pair_names, multitask.selection, strict=True))
    raise ValueError(f'multitask: every selected pair has weight 0 ({weights_by_pair})')
  return multitask


def step_weights(
  multitask: Multitask, step: Array | int, rng: Array | None = None, log_vars: Array | None = None
) -> Array:
  """(P,) float32 weight of each pair loss at `step`; jittable with a traced step.

  For `uncertainty` this is c_p · exp(−s_p) (the regulariser Σ c_p s_p is added by
  `combine`). `rng` is required by `random_pair` only; `log_vars` by `uncertainty` only.
  """
  num_pairs = len(multitask.pairs)
  selection = jnp.asarray(multitask.selection, jnp.float32)
  active = jnp.asarray(multitask.active, jnp.int32)
  if multitask.strategy in ('joint', 'anchored'):
    return selection
  if multitask.strategy == 'round_robin':
    chosen = active[jnp.asarray(step, jnp.int32) % len(multitask.active)]
    return jnp.where(jnp.arange(num_pairs) == chosen, selection, 0.0)
  if multitask.strategy == 'random_pair':
    if rng is None:
      raise ValueError('multitask strategy "random_pair" needs an rng at every step')
    chosen = active[jax.random.randint(rng, (), 0, len(multitask.active))]
    return jnp.where(jnp.arange(num_pairs) == chosen, selection, 0.0)
  if multitask.strategy == 'uncertainty':
    if log_vars is None or log_vars.shape != (num_pairs,):
      raise ValueError(
        f'multitask strategy "uncertainty" needs log_vars of shape ({num_pairs},),'
        f' got {None if log_vars is None else log_vars.shape}'
      )
    return selection * jnp.exp(-log_vars.astype(jnp.float32))
  raise ValueError(f'multitask.strategy={multitask.strategy!r}: expected one of {STRATEGIES}')


def combine(
  multitask: Multitask,
  pair_losses: Array,
  pair_valid: Array,
  step: Array | int,
  rng: Array | None = None,
  log_vars: Array | None = None,
) -> tuple[Array, Array]:
  """Total loss from the (P,) pair losses; returns (total, the (P,) weights applied).

  `pair_valid[p]` is False when no example of the batch has both modalities of pair p.
  """
  weights = step_weights(multitask, step, rng, log_vars)
  pair_valid = pair_valid.astype(bool)
  terms = weights * pair_losses
  if multitask.strategy == 'uncertainty':
    terms = terms + jnp.asarray(multitask.selection, jnp.float32) * log_vars
  total = jnp.sum(jnp.where(pair_valid, terms, 0.0))
  return total, jnp.where(pair_valid, weights, 0.0)
