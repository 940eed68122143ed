"""The end-of-pretraining check: does the IMU embedding separate the activities?

A logistic-regression probe on frozen embeddings of training windows, scored by macro F1 on
the validation split, for the trained parameters and for a randomly initialised model of the
same architecture — the baseline that shows pretraining learnt something.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import jax
import ml_collections
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mujo_jax import sharding
from mujo_jax.data import pipeline
from mujo_jax.eval import embedding
from mujo_jax.models import joint


def embed_split(model: Any, params: Any, config: ml_collections.ConfigDict, split: str,
                max_windows: int | None, mesh: jax.sharding.Mesh, modality: str,
                embed_fn: Any) -> dict[str, np.ndarray]:
  """Frozen `modality` embeddings of the deterministic windows of `split`, with labels."""
  embedded = embedding.embed_windows(
      model, params, pipeline.eval_windows(config, split, max_windows),
      embedding.EmbedRequest(modalities=(modality,)), mesh, embed_fn=embed_fn)
  return {modality: embedded[modality], 'label': embedded['label']}


def probe_macro_f1(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                   test_y: np.ndarray, seed: int = 0) -> float:
  classifier = make_pipeline(StandardScaler(),
                             LogisticRegression(max_iter=2000, C=1.0, random_state=seed))
  with warnings.catch_warnings():
    # Two labels per class trips scikit-learn's "looks like regression" heuristic.
    warnings.filterwarnings('ignore', message='The number of unique classes')
    classifier.fit(train_x, train_y)
  return float(f1_score(test_y, classifier.predict(test_x), average='macro'))


def _labelled(embedded: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """Only the windows with a known label (label -1 means unknown, DESIGN.md §4)."""
  keep = embedded['label'] >= 0
  return {k: v[keep] for k, v in embedded.items()}


def few_label_indices(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
  """`per_class` random examples of every class present (all of a class if it has fewer)."""
  rng = np.random.default_rng(seed)
  return np.concatenate([
      rng.choice(idx, min(per_class, len(idx)), replace=False)
      for idx in (np.flatnonzero(labels == c) for c in np.unique(labels))])


def pretrained_vs_random(model: Any, params: Any, config: ml_collections.ConfigDict,
                         mesh: jax.sharding.Mesh) -> dict[str, float]:
  """Probe macro F1 of `config.probe.modality` for `params` and for a random init.

  Two regimes: all `probe.train_windows` labelled, and `probe.labels_per_class` labelled windows
  per class (mean over `probe.seeds` draws) — the low-label regime MuJo is about, and the one
  where a random-feature probe cannot catch up by sheer numbers of labels.
  """
  from mujo_jax import train  # pylint: disable=g-import-not-at-top
  modality = config.probe.modality
  # One compiled embedding function for both models and both splits.
  embed_fn = embedding.make_embed_fn(model, embedding.EmbedRequest(modalities=(modality,)), mesh)
  random_params = jax.jit(lambda rng: joint.init_params(model, rng, train.dummy_batch(config, 2)),
                          out_shardings=sharding.replicated(mesh))(
                              jax.random.key(config.seed + 12345))
  results = {}
  for name, candidate in (('', params), ('_random_init', random_params)):
    fit = _labelled(embed_split(model, candidate, config, config.data.train_split,
                                config.probe.train_windows, mesh, modality, embed_fn))
    held_out = _labelled(embed_split(model, candidate, config, config.data.eval_split,
                                     config.probe.eval_windows, mesh, modality, embed_fn))
    if len(np.unique(fit['label'])) < 2 or not len(held_out['label']):
      # E.g. FiMAD clips whose chapter names no MM-Fit activity carry label -1.
      logging.warning('quick probe skipped: %s has fewer than 2 labelled classes',
                      config.data.name)
      return {}
    results[f'probe_macro_f1_{modality}{name}'] = probe_macro_f1(
        fit[modality], fit['label'], held_out[modality], held_out['label'], config.seed)
    few = [probe_macro_f1(fit[modality][idx], fit['label'][idx], held_out[modality],
                          held_out['label'], seed)
           for seed in range(config.probe.seeds)
           for idx in [few_label_indices(fit['label'], config.probe.labels_per_class, seed)]]
    results[f'probe_macro_f1_{modality}_{config.probe.labels_per_class}_per_class{name}'] = (
        float(np.mean(few)))
  return results
