"""The from-scratch baseline: the same encoders + a linear head, trained on the labelled windows.

What pretraining buys is measured against a model that sees the same labelled fraction but no
pretraining: the pretrained model's architecture (the modality set's encoders and projection
heads, randomly initialised), the embeddings concatenated as in the probe, a linear
classification head, softmax cross-entropy, AdamW with a cosine schedule for a fixed number of
steps on minibatches drawn without replacement per epoch. No augmentation and no early stopping,
so the baseline costs a known, configurable number of steps. Absent IMU sites are masked exactly
as in the probe's input.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from mujo_jax.data import schema
from mujo_jax.eval import embedding, probe
from mujo_jax.models import joint


@dataclasses.dataclass(frozen=True, kw_only=True)
class SupervisedSettings:
  steps: int = 300
  batch_size: int = 64
  learning_rate: float = 1e-3
  weight_decay: float = 1e-4

  def __post_init__(self):
    if self.steps < 1 or self.batch_size < 1 or self.learning_rate <= 0 or self.weight_decay < 0:
      raise ValueError(
        f'supervised settings {self}: expected steps, batch_size >= 1, '
        f'learning_rate > 0, weight_decay >= 0'
      )


def site_masks(modality_set: probe.ModalitySet, dataset_sites: Sequence[str]) -> tuple:
  """Per term: the (S,) bool mask of the IMU sites it keeps (None for non-IMU terms)."""
  masks = []
  for term in modality_set.terms:
    if term.modality != 'imu':
      masks.append(None)
    else:
      kept = dataset_sites if term.sites is None else term.sites
      masks.append(tuple(site in kept for site in dataset_sites))
  return tuple(masks)


def _logits(
  model: joint.JointModel,
  params: Any,
  batch: dict[str, jax.Array],
  modality_set: probe.ModalitySet,
  masks: tuple,
  train: bool,
  rng: jax.Array,
) -> jax.Array:
  parts = []
  for term, mask in zip(modality_set.terms, masks, strict=True):
    if term.modality == 'imu':
      inputs = {
        'imu': batch['imu'],
        'imu_sites': batch['imu_sites'] & jnp.asarray(mask, bool)[None],
      }
    else:
      inputs = {term.modality: batch[term.modality]}
    parts.append(
      model.apply(
        {'params': params['model']},
        inputs,
        train=train,
        modalities=(term.modality,),
        method='embed',
        rngs={'dropout': rng},
      )[term.modality]
    )
  features = jnp.concatenate(parts, axis=-1)
  return features @ params['head']['kernel'] + params['head']['bias']


def _input_keys(modality_set: probe.ModalitySet) -> tuple[str, ...]:
  return tuple(sorted({k for t in modality_set.terms for k in joint.BATCH_KEYS[t.modality]}))


class _WindowCache:
  """Random access to windows by index; keeps small labelled subsets in memory."""

  def __init__(
    self, windows: Any, indices: np.ndarray, keys: Sequence[str], max_cached: int = 4096
  ):
    self._windows = windows
    self._keys = tuple(keys) + ('label',)
    self._cache: dict[int, dict[str, np.ndarray]] | None = (
      {} if len(indices) <= max_cached else None
    )

  def _get(self, index: int) -> dict[str, np.ndarray]:
    if self._cache is not None and index in self._cache:
      return self._cache[index]
    element = self._windows[int(index)]
    element = {k: np.asarray(element[k]) for k in self._keys}
    if self._cache is not None:
      self._cache[index] = element
    return element

  def batch(self, indices: np.ndarray) -> dict[str, np.ndarray]:
    elements = [self._get(i) for i in indices]
    return {k: np.stack([e[k] for e in elements]) for k in self._keys}


class FromScratch:
  """The baseline for one modality set: jitted init, step and classifier, compiled once.

  `fit` trains a fresh model (initialised from `seed`) on the given windows; `predict` labels
  windows with the trained parameters. The model config is the pretrained model's (with the
  dataset's IMU sites), so the architecture matches the probed encoders exactly.
  """

  def __init__(
    self,
    model_config: ml_collections.ConfigDict,
    modality_set: probe.ModalitySet,
    dataset_sites: Sequence[str],
    num_classes: int,
    settings: SupervisedSettings,
  ):
    self.model = joint.build_model(joint.JointModelSpec.from_config(model_config))
    self.modality_set = modality_set
    self.settings = settings
    self._keys = _input_keys(modality_set)
    masks = site_masks(modality_set, dataset_sites)
    model = self.model
    feature_dim = model.embed_dim * len(modality_set.terms)
    schedule = optax.cosine_decay_schedule(settings.learning_rate, settings.steps)
    self._tx = tx = optax.adamw(schedule, weight_decay=settings.weight_decay)

    def init(rng):
      params = {
        'model': joint.init_params(model, rng, schema.dummy_batch(model_config, 2)),
        'head': {
          'kernel': jnp.zeros((feature_dim, num_classes)),
          'bias': jnp.zeros((num_classes,)),
        },
      }
      return params, tx.init(params)

    def step(params, opt_state, batch, rng):
      def loss_fn(params):
        logits = _logits(model, params, batch, modality_set, masks, True, rng)
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch['label']).mean()

      loss, grads = jax.value_and_grad(loss_fn)(params)
      updates, opt_state = tx.update(grads, opt_state, params)
      return optax.apply_updates(params, updates), opt_state, loss

    def classify(params, batch):
      logits = _logits(model, params, batch, modality_set, masks, False, jax.random.key(0))
      return jnp.argmax(logits, axis=-1)

    self._init = jax.jit(init)
    self._step = jax.jit(step, donate_argnums=(0, 1))
    self._classify = jax.jit(classify)

  def fit(self, windows: Any, train_indices: np.ndarray, seed: int) -> Any:
    """Parameters after `settings.steps` steps on `windows[train_indices]`."""
    if len(train_indices) == 0:
      raise ValueError(f'supervised baseline {self.modality_set.name}: no labelled windows')
    init_rng, dropout_rng = jax.random.split(jax.random.key(seed))
    params, opt_state = self._init(init_rng)
    cache = _WindowCache(windows, train_indices, self._keys)
    batch_size = min(self.settings.batch_size, len(train_indices))
    order_rng = np.random.default_rng(seed)
    order = np.empty(0, np.int64)
    for index in range(self.settings.steps):
      if len(order) < batch_size:
        order = np.concatenate([order, order_rng.permutation(train_indices)])
      chosen, order = order[:batch_size], order[batch_size:]
      params, opt_state, _ = self._step(
        params, opt_state, cache.batch(chosen), jax.random.fold_in(dropout_rng, index)
      )
    return params

  def predict(self, params: Any, windows: Any, batch_size: int = 64) -> np.ndarray:
    """(N,) predicted class of every window, in order."""
    predictions = []
    for batch in embedding.iterate_batches(windows, batch_size):
      count = len(batch['label'])
      inputs = embedding.pad_batch(batch, batch_size, self._keys)
      predictions.append(np.asarray(self._classify(params, inputs))[:count])
    return np.concatenate(predictions)
