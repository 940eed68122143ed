"""Evaluation by its values: the probe's C follows the validation split, zero-shot follows the
prototypes, the from-scratch baseline learns a separable task.
"""

from __future__ import annotations

import numpy as np
import pytest

from configs import pretrain
from mujo_jax.eval import probe, supervised, zero_shot
from mujo_jax.facts import activities

C_GRID = (0.001, 0.1, 10.0)


def _nuisance_task(count: int, rng: np.random.Generator, coupled: bool):
  """Binary labels s = ±1 seen through feature 0 = s + n and feature 1.

  Coupled (the training distribution): feature 1 = n, so a weakly regularised probe learns
  feature 0 - feature 1 = s and is exact, while a strongly regularised one (weights near the
  class-mean difference) leans on feature 0 alone and suffers the nuisance n. Decoupled: feature
  0 is nearly clean and feature 1 is unrelated noise, so only the strong regulariser is right.
  """
  labels = np.arange(count) % 2
  signal = np.where(labels == 1, 1.0, -1.0)
  if coupled:
    nuisance = 2.0 * rng.normal(size=count)
    x = np.stack([signal + nuisance, nuisance + 0.05 * rng.normal(size=count)], axis=1)
  else:
    x = np.stack([signal + 0.3 * rng.normal(size=count), 4.0 * rng.normal(size=count)], axis=1)
  return x, labels


@pytest.fixture(scope='module')
def nuisance_splits():
  rng = np.random.default_rng(0)
  return {
    'train': _nuisance_task(200, rng, coupled=True),
    'coupled': _nuisance_task(400, rng, coupled=True),
    'decoupled': _nuisance_task(400, rng, coupled=False),
  }


@pytest.mark.parametrize('validation, expected_c', [('coupled', 10.0), ('decoupled', 0.001)])
def test_probe_c_is_the_one_the_validation_split_prefers(nuisance_splits, validation, expected_c):
  train_x, train_y = nuisance_splits['train']
  val_x, val_y = nuisance_splits[validation]
  settings = probe.ProbeSettings(c_grid=C_GRID, max_iter=2000)
  fitted = probe.fit_probe(train_x, train_y, val_x, val_y, settings)
  assert fitted.c == expected_c
  # Each C alone, scored on validation: the chosen one is the best by a clear margin.
  single = {
    c: probe.fit_probe(
      train_x, train_y, val_x, val_y, probe.ProbeSettings(c_grid=(c,), max_iter=2000)
    )
    for c in C_GRID
  }
  f1 = {c: probe.scores(val_y, p.predict(val_x))[0] for c, p in single.items()}
  assert f1[expected_c] == max(f1.values()) and f1[expected_c] > 0.85
  other_end = C_GRID[0] if expected_c == C_GRID[-1] else C_GRID[-1]
  assert f1[other_end] < f1[expected_c] - 0.2
  # The reported validation F1 is the returned classifier's, not another C's.
  assert fitted.validation_macro_f1 == pytest.approx(probe.scores(val_y, fitted.predict(val_x))[0])
  # The grid is walked in increasing order whatever order the config gives.
  reversed_grid = probe.ProbeSettings(c_grid=C_GRID[::-1], max_iter=2000)
  assert probe.fit_probe(train_x, train_y, val_x, val_y, reversed_grid).c == expected_c


def test_probe_c_is_never_chosen_on_the_test_split(nuisance_splits):
  train_x, train_y = nuisance_splits['train']
  everything = probe.LabelBudget(fraction=1.0)
  subsets = {(0, everything): np.arange(len(train_y))}
  settings = probe.ProbeSettings(c_grid=C_GRID, max_iter=2000)
  rows = probe.score_modality_set(
    'imu',
    (train_x, train_y),
    nuisance_splits['coupled'],
    {'test': nuisance_splits['decoupled'], 'validation': nuisance_splits['coupled']},
    subsets,
    (everything,),
    (0,),
    settings,
  )
  by_split = {row['split']: row for row in rows}
  # The test split prefers C = 0.001 (see above); the validation split decides: C = 10.
  assert {row['c'] for row in rows} == {10.0}
  assert by_split['validation']['macro_f1'] > 0.95
  assert by_split['test']['macro_f1'] < 0.8
  assert by_split['test']['validation_macro_f1'] == pytest.approx(
    by_split['validation']['macro_f1']
  )


def _clusters(
  count: int, rng: np.random.Generator, classes: int = 4, dim: int = 8, distance: float = 4.0
):
  labels = np.arange(count) % classes
  centres = distance * np.eye(dim)[:classes]
  return centres[labels] + rng.normal(size=(count, dim)), labels


def test_probe_f1_is_near_one_when_separable_and_chance_when_labels_are_shuffled():
  rng = np.random.default_rng(1)
  (train_x, train_y), (val_x, val_y), (test_x, test_y) = (_clusters(n, rng) for n in (80, 80, 800))
  settings = probe.ProbeSettings()
  fitted = probe.fit_probe(train_x, train_y, val_x, val_y, settings)
  f1, accuracy = probe.scores(test_y, fitted.predict(test_x))
  assert f1 > 0.98 and accuracy > 0.98
  shuffled = probe.fit_probe(
    train_x, rng.permutation(train_y), val_x, rng.permutation(val_y), settings
  )
  f1, accuracy = probe.scores(test_y, shuffled.predict(test_x))
  assert f1 < 0.4 and accuracy < 0.4  # Chance is 0.25 for four balanced classes.


def test_probe_c_ties_go_to_the_strongest_regulariser():
  rng = np.random.default_rng(2)
  (train_x, train_y), (val_x, val_y) = (_clusters(80, rng, distance=10.0) for _ in range(2))
  grid = (10.0, 1.0, 0.1, 0.01)  # Separable: every C scores 1.0 on validation.
  fitted = probe.fit_probe(train_x, train_y, val_x, val_y, probe.ProbeSettings(c_grid=grid))
  assert fitted.validation_macro_f1 == 1.0 and fitted.c == 0.01


def test_scores_are_macro_f1_and_accuracy():
  truth = np.array([0, 0, 0, 0, 1, 1])
  predicted = np.array([0, 0, 0, 0, 0, 1])
  f1, accuracy = probe.scores(truth, predicted)
  # Class 0: precision 4/5, recall 1 -> 8/9; class 1: precision 1, recall 1/2 -> 2/3.
  assert f1 == pytest.approx((8 / 9 + 2 / 3) / 2)
  assert accuracy == pytest.approx(5 / 6)


# ---------------------------------------------------------------- zero-shot


def _unit(x: np.ndarray) -> np.ndarray:
  return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _matching_embeddings(prototypes: np.ndarray, labels: np.ndarray, rng, noise: float = 0.1):
  return _unit(prototypes[labels] + noise * rng.normal(size=(len(labels), prototypes.shape[1])))


def test_zero_shot_on_embeddings_that_match_the_prototypes():
  rng = np.random.default_rng(0)
  classes, dim = 11, 32
  prototypes = _unit(rng.normal(size=(classes, dim))).astype(np.float32)
  labels = np.repeat(np.arange(classes), 20)
  embeddings = _matching_embeddings(prototypes, labels, rng)
  np.testing.assert_array_equal(zero_shot.classify(embeddings, prototypes), labels)
  # Prototypes listed in another order: class j now means prototype perm[j].
  perm = rng.permutation(classes)
  np.testing.assert_array_equal(
    zero_shot.classify(embeddings, prototypes[perm]), np.argsort(perm)[labels]
  )
  # Rows over keys, restricted to each key's valid windows.
  valid = np.arange(len(labels)) % 3 != 0
  broken = embeddings.copy()
  broken[~valid] = prototypes[(labels[~valid] + 1) % classes]  # Wrong, but invalid.
  rows = zero_shot.evaluate(
    {'imu': broken, 'valid/imu': valid, 'pose': embeddings}, labels, prototypes, ('imu', 'pose')
  )
  assert [(r['modality'], r['num_windows'], r['accuracy'], r['macro_f1']) for r in rows] == [
    ('imu', int(valid.sum()), 1.0, 1.0),
    ('pose', len(labels), 1.0, 1.0),
  ]
  rows = zero_shot.evaluate({'imu': broken}, labels, prototypes, ('imu',))
  assert rows[0]['accuracy'] == pytest.approx(valid.mean())


def test_zero_shot_among_the_classes_with_prompts_leaves_the_others_out():
  """A dataset with a class outside the vocabulary is scored on the classes prompts can name:
  predictions are those classes' ids, and the other class's windows count nowhere."""
  names = ('standing', 'walking', 'running', 'badminton')
  vocabulary = activities.WEARABLE_ACTIVITIES
  classes = zero_shot.prompted_classes(names, vocabulary)
  assert classes == [0, 1, 2] and zero_shot.missing_prompts(names, vocabulary) == ['badminton']
  rng = np.random.default_rng(4)
  directions = _unit(rng.normal(size=(len(names), 24)))
  labels = np.repeat(np.arange(len(names)), 10)
  embeddings = _matching_embeddings(directions, labels, rng)
  # Prototypes of the named classes listed in reverse: ids must come back through `classes`.
  order = classes[::-1]
  rows = zero_shot.evaluate({'imu': embeddings}, labels, directions[order], ('imu',), order)
  assert rows == [{'modality': 'imu', 'num_windows': 30, 'macro_f1': 1.0, 'accuracy': 1.0}]
  with pytest.raises(ValueError, match='3 prototypes for 4 classes'):
    zero_shot.evaluate({'imu': embeddings}, labels, directions[:3], ('imu',), [0, 1, 2, 3])


def test_zero_shot_prototypes_are_the_mean_prompt_embedding_of_each_class():
  rng = np.random.default_rng(1)
  names = activities.ACTIVITIES
  directions = _unit(rng.normal(size=(len(names), 16)))
  prompts = zero_shot.class_prompts(names)
  owner = {p: k for k, per_class in enumerate(prompts) for p in per_class}
  calls = []

  def embed_text(texts):
    calls.append(len(texts))
    # Each prompt: its class direction plus its own offset (cancels only in the mean's norm).
    return np.stack([3.0 * directions[owner[t]] + rng.normal(size=16) for t in texts])

  prototypes = zero_shot.class_prototypes(embed_text, names)
  assert calls == [sum(map(len, prompts))]  # One call for every prompt.
  assert prototypes.shape == (len(names), 16) and prototypes.dtype == np.float32
  np.testing.assert_allclose(np.linalg.norm(prototypes, axis=1), 1.0, rtol=1e-5)
  # Each prototype points at its own class direction, in class-id order.
  np.testing.assert_array_equal(np.argmax(prototypes @ directions.T, axis=1), np.arange(len(names)))
  labels = np.repeat(np.arange(len(names)), 5)
  predicted = zero_shot.classify(_matching_embeddings(directions, labels, rng), prototypes)
  assert probe.scores(labels, predicted)[1] > 0.95


# ---------------------------------------------------------------- the from-scratch baseline


def _imu_windows(count: int, num_sites: int, rng: np.random.Generator, classes: int = 3):
  """IMU windows whose class sets the oscillation frequency and the mean of every channel."""
  time = np.arange(250) / 50.0
  windows = []
  for index in range(count):
    label = index % classes
    phase = rng.uniform(0, 2 * np.pi, size=(1, num_sites, 6))
    wave = np.sin(2 * np.pi * (0.5 + label) * time[:, None, None] + phase)
    imu = wave + (label - 1.0) + 0.3 * rng.normal(size=(len(time), num_sites, 6))
    windows.append(
      {
        'imu': imu.astype(np.float32),
        'imu_sites': np.ones(num_sites, bool),
        'label': np.int32(label),
      }
    )
  return windows


def test_from_scratch_baseline_beats_chance_on_a_separable_task():
  config = pretrain.get_config('runlocal,modalities=imu+text')
  sites = tuple(config.data.imu_sites)
  rng = np.random.default_rng(0)
  train_windows, test_windows = _imu_windows(48, len(sites), rng), _imu_windows(60, len(sites), rng)
  modality_set = probe.ModalitySet(name='imu', terms=(probe.Term(modality='imu'),))
  settings = supervised.SupervisedSettings(steps=40, batch_size=24, learning_rate=3e-3)
  baseline = supervised.FromScratch(config, modality_set, sites, 3, settings)
  params = baseline.fit(train_windows, np.arange(len(train_windows)), seed=0)
  predicted = baseline.predict(params, test_windows, batch_size=32)
  truth = np.array([w['label'] for w in test_windows])
  assert predicted.shape == truth.shape
  f1, accuracy = probe.scores(truth, predicted)
  assert accuracy > 0.8 and f1 > 0.8, (f1, accuracy)  # Chance: 1/3.
  # The labels are what it learns from: trained on shuffled labels it is no better than chance.
  labels = rng.permutation([w['label'] for w in train_windows])
  shuffled = [dict(w, label=np.int32(labels[i])) for i, w in enumerate(train_windows)]
  params = baseline.fit(shuffled, np.arange(len(shuffled)), seed=0)
  chance = probe.scores(truth, baseline.predict(params, test_windows, batch_size=32))[1]
  assert chance < 0.6, chance


def test_label_budgets_are_nested_prefixes_and_count_groups():
  """Per-class counts and fractions take prefixes of one permutation; groups count recordings."""
  labels = np.repeat(np.arange(3), 30)
  budgets = probe.label_budgets((0.1, 1.0), (2,))
  assert [b.name for b in budgets] == ['2/class', '10 %', '100 %']
  subsets = probe.stratified_subsets(labels, budgets, seed=4)
  two, tenth, everything = (set(subsets[b]) for b in budgets)
  assert two < tenth < everything == set(range(len(labels)))
  assert np.bincount(labels[list(two)]).tolist() == [2, 2, 2]
  assert np.bincount(labels[list(tenth)]).tolist() == [3, 3, 3]
  # Groups: 3 windows a recording, 10 recordings a class; 2 per class = 2 whole recordings.
  groups = np.arange(len(labels)) // 3
  chosen = probe.stratified_subsets(labels, budgets[:1], seed=4, groups=groups)[budgets[0]]
  assert len(chosen) == 2 * 3 * 3  # 2 recordings × 3 windows × 3 classes.
  for label in range(3):
    picked = np.unique(groups[chosen][labels[chosen] == label])
    assert len(picked) == 2 and all(np.sum(groups[chosen] == g) == 3 for g in picked)
  with pytest.raises(ValueError, match='exactly one'):
    probe.LabelBudget(fraction=0.5, per_class=2)
