"""Linear probes on frozen embeddings: modality sets, stratified label fractions, the probe.

- A *modality set* names the probe's input: `imu`, `imu:left_wrist` (only that site present),
  `imu:left_wrist/head` (those sites), `pose`, `video`, and `+`-concatenations such as
  `imu+pose`; `imu:each` expands to one set per IMU site of the dataset.
- A *label budget* keeps, for every class, `ceil(fraction * n_class)` training windows (at least
  one) or a fixed count per class, drawn by a seeded permutation per class. Budgets of one seed
  are nested (2 % ⊂ 5 % ⊂ … ⊂ 100 %), so a curve adds labels instead of redrawing them.
- The probe is scikit-learn's multinomial `LogisticRegression` (lbfgs) on standardised
  features (`StandardScaler`, statistics of the labelled subset only). Its inverse L2 strength
  C is chosen on the validation split by macro F1, over `c_grid` in increasing order with warm
  starts (each fit starts from the previous solution).
- BLAS runs single-threaded while probing: the products are skinny (N × D × 11) and OpenBLAS
  threads made the whole probe grid several times slower on 2 cores (benchmarks/probe_speed.py).
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import threadpoolctl
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.preprocessing import StandardScaler

from mujo_jax.facts import sites as sites_lib

MODALITIES = ('imu', 'pose', 'video')


# ---------------------------------------------------------------- modality sets


def imu_variant_key(sites: Sequence[str] | None) -> str:
  """Name of an IMU site variant: 'imu' (all sites) or 'imu:left_wrist/head'."""
  return 'imu' if sites is None else 'imu:' + '/'.join(sites)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Term:
  """One embedding of a modality set: a modality, and for IMU the sites left present."""

  modality: str
  sites: tuple[str, ...] | None = None  # None: every site of the dataset.

  @property
  def key(self) -> str:
    """The embedding key this term reads (`imu_variant_key` for IMU)."""
    return imu_variant_key(self.sites) if self.modality == 'imu' else self.modality


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModalitySet:
  name: str
  terms: tuple[Term, ...]

  @property
  def keys(self) -> tuple[str, ...]:
    return tuple(t.key for t in self.terms)


def _parse_term(text: str, context: str) -> tuple[str, tuple[str, ...] | str | None]:
  modality, _, site_text = text.partition(':')
  if modality not in MODALITIES:
    raise ValueError(
      f'modality set {context!r}: unknown modality {modality!r}; expected one of '
      f'{MODALITIES} (text describes the class and is not a probe input)'
    )
  if not site_text:
    return modality, None
  if modality != 'imu':
    raise ValueError(f'modality set {context!r}: only imu takes sites (imu:left_wrist)')
  if site_text == 'each':
    return modality, 'each'
  sites = tuple(site_text.split('/'))
  unknown = [s for s in sites if s not in sites_lib.SITES]
  if unknown or len(set(sites)) != len(sites):
    raise ValueError(
      f'modality set {context!r}: sites {sites} must be distinct names from {sites_lib.SITES}'
    )
  return modality, sites


def check_modality_set(text: str) -> None:
  """Raises ValueError if `text` is not a valid modality set (dataset-independent check)."""
  if not isinstance(text, str) or not text:
    raise ValueError(f'modality set {text!r}: expected a non-empty string such as imu+pose')
  terms = [_parse_term(part, text) for part in text.split('+')]
  if len(set(map(str, terms))) != len(terms):
    raise ValueError(f'modality set {text!r} repeats a term')


def expand_modality_sets(
  texts: Sequence[str], dataset_modalities: Sequence[str], dataset_sites: Sequence[str]
) -> tuple[list[ModalitySet], list[tuple[str, str]]]:
  """The sets a dataset can feed, and (text, reason) for those it cannot (e.g. video on MM-Fit).

  IMU terms whose sites are all of the dataset's read the plain `imu` embedding.
  """
  sets: list[ModalitySet] = []
  skipped: list[tuple[str, str]] = []
  for text in texts:
    check_modality_set(text)
    options = []
    reason = None
    for part in text.split('+'):
      modality, sites = _parse_term(part, text)
      if modality not in dataset_modalities:
        reason = f'no {modality} in the dataset (or the checkpoint)'
        break
      if sites == 'each':
        options.append([Term(modality='imu', sites=(s,)) for s in dataset_sites])
        continue
      if sites is not None:
        absent = [s for s in sites if s not in dataset_sites]
        if absent:
          reason = f'sites {absent} not among the dataset sites {tuple(dataset_sites)}'
          break
        if set(sites) == set(dataset_sites):
          sites = None
        else:  # Canonical order: the dataset's.
          sites = tuple(s for s in dataset_sites if s in sites)
      options.append([Term(modality=modality, sites=sites)])
    if reason is not None:
      skipped.append((text, reason))
      continue
    for terms in itertools.product(*options):
      name = '+'.join(t.key for t in terms)
      if name not in [s.name for s in sets]:
        sets.append(ModalitySet(name=name, terms=tuple(terms)))
  return sets, skipped


def features(
  embeddings: dict[str, np.ndarray], modality_set: ModalitySet
) -> tuple[np.ndarray, np.ndarray]:
  """(N, sum of D) concatenated embeddings and the (N,) mask of windows where all are valid."""
  x = np.concatenate([embeddings[k] for k in modality_set.keys], axis=1)
  valid = np.ones(len(x), bool)
  for key in modality_set.keys:
    valid &= embeddings.get(f'valid/{key}', np.ones(len(x), bool))
  return x, valid


# ---------------------------------------------------------------- label budgets


@dataclasses.dataclass(frozen=True, kw_only=True)
class LabelBudget:
  """How many labelled training windows of each class a probe gets.

  Either a `fraction` of every class (`ceil(fraction * n_class)`, at least one) or a fixed
  count `per_class` (all of a class that has fewer). Every budget takes a prefix of the same
  seeded per-class permutation, so one seed's budgets are nested (2/class ⊂ 1 % ⊂ … ⊂ 100 %
  whenever the counts are ordered so): a curve over budgets adds labels instead of redrawing.
  """

  fraction: float | None = None
  per_class: int | None = None

  def __post_init__(self):
    if (self.fraction is None) == (self.per_class is None):
      raise ValueError(f'{self}: expected exactly one of fraction and per_class')
    if self.fraction is not None and not 0 < self.fraction <= 1:
      raise ValueError(f'label fraction {self.fraction}: expected a value in (0, 1]')
    if self.per_class is not None and (
      isinstance(self.per_class, bool) or not isinstance(self.per_class, int) or self.per_class < 1
    ):
      raise ValueError(f'labels_per_class {self.per_class!r}: expected a positive int')

  def count(self, available: int) -> int:
    """Labelled windows taken from a class with `available` windows."""
    if self.per_class is not None:
      return min(available, self.per_class)
    return min(available, max(1, math.ceil(self.fraction * available - 1e-9)))

  @property
  def name(self) -> str:
    """Column title: '2/class' or '2 %'."""
    if self.per_class is not None:
      return f'{self.per_class}/class'
    return f'{100 * self.fraction:g} %'

  @property
  def key(self) -> str:
    """Stable identifier in saved arrays: 'per_class=2' or 'fraction=0.02'."""
    if self.per_class is not None:
      return f'per_class={self.per_class}'
    return f'fraction={self.fraction:g}'

  def sort_key(self) -> tuple[int, float]:
    return (0, self.per_class) if self.per_class is not None else (1, self.fraction)


def check_fractions(fractions: Sequence[float]) -> tuple[float, ...]:
  fractions = tuple(float(f) for f in fractions)
  if any(not 0 < f <= 1 for f in fractions):
    raise ValueError(f'config.fractions={fractions}: expected values in (0, 1]')
  if len(set(fractions)) != len(fractions):
    raise ValueError(f'config.fractions={fractions}: duplicates')
  return tuple(sorted(fractions))


def label_budgets(
  fractions: Sequence[float], labels_per_class: Sequence[int] = ()
) -> tuple[LabelBudget, ...]:
  """The budgets of a config: per-class counts first (smallest), then fractions, ascending."""
  counts = tuple(labels_per_class)
  if len(set(counts)) != len(counts):
    raise ValueError(f'config.labels_per_class={counts}: duplicates')
  budgets = [LabelBudget(per_class=c) for c in counts] + [
    LabelBudget(fraction=f) for f in check_fractions(fractions)
  ]
  if not budgets:
    raise ValueError(
      'config.fractions and config.labels_per_class are both empty: expected '
      'at least one label budget'
    )
  return tuple(sorted(budgets, key=LabelBudget.sort_key))


def stratified_subsets(
  labels: np.ndarray, budgets: Sequence[LabelBudget], seed: int, groups: np.ndarray | None = None
) -> dict[LabelBudget, np.ndarray]:
  """Sorted window indices per budget, drawn from one seeded permutation per class.

  With `groups` (one id per window: a subject or a recording), a budget counts groups: the
  windows of class c labelled are all of c's windows in the first groups of a seeded
  permutation of the groups that have class c ("2 labelled recordings per class").
  """
  labels = np.asarray(labels)
  if labels.ndim != 1 or labels.size == 0:
    raise ValueError(f'labels: expected a non-empty (N,) array, got shape {labels.shape}')
  if labels.min() < 0:
    raise ValueError('labels: found unknown labels (-1); a probe needs every window labelled')
  rng = np.random.default_rng(seed)
  if groups is None:
    orders = {c: rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)}
    return {
      budget: np.sort(
        np.concatenate([order[: budget.count(len(order))] for order in orders.values()])
      )
      for budget in budgets
    }
  groups = np.asarray(groups)
  if groups.shape != labels.shape:
    raise ValueError(f'groups: expected shape {labels.shape}, got {groups.shape}')
  orders = {c: rng.permutation(np.unique(groups[labels == c])) for c in np.unique(labels)}
  subsets = {}
  for budget in budgets:
    chosen = [
      np.flatnonzero((labels == c) & np.isin(groups, order[: budget.count(len(order))]))
      for c, order in orders.items()
    ]
    subsets[budget] = np.sort(np.concatenate(chosen))
  return subsets


# ---------------------------------------------------------------- the probe


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProbeSettings:
  c_grid: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)
  max_iter: int = 500
  tol: float = 1e-3

  def __post_init__(self):
    if not self.c_grid or any(c <= 0 for c in self.c_grid):
      raise ValueError(f'probe.c_grid={self.c_grid}: expected positive values')
    if self.max_iter < 1 or self.tol <= 0:
      raise ValueError(f'probe.max_iter={self.max_iter}, probe.tol={self.tol}: expected > 0')


@dataclasses.dataclass(frozen=True, kw_only=True)
class FittedProbe:
  scaler: StandardScaler
  classifier: LogisticRegression
  c: float
  validation_macro_f1: float
  converged: bool  # Every fit of the grid reached `tol` within `max_iter`.

  def predict(self, x: np.ndarray) -> np.ndarray:
    return self.classifier.predict(self.scaler.transform(x))


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
  """(macro F1 over the classes in y_true ∪ y_pred, accuracy)."""
  return (
    float(f1_score(y_true, y_pred, average='macro', zero_division=0)),
    float(accuracy_score(y_true, y_pred)),
  )


def fit_probe(
  train_x: np.ndarray,
  train_y: np.ndarray,
  validation_x: np.ndarray,
  validation_y: np.ndarray,
  settings: ProbeSettings,
) -> FittedProbe:
  """Logistic regression on standardised features, C chosen by validation macro F1.

  Deterministic: lbfgs from zeros at the smallest C, then from the previous C's solution.
  """
  if len(np.unique(train_y)) < 2:
    raise ValueError(
      f'a probe needs at least 2 classes in its training windows, got '
      f'{np.unique(train_y).tolist()} from {len(train_y)} windows'
    )
  scaler = StandardScaler().fit(train_x)
  train_z = scaler.transform(train_x)
  validation_z = scaler.transform(validation_x)
  best = None
  converged = True
  # One estimator walks the C grid; warm_start makes each fit start from the previous solution.
  classifier = LogisticRegression(max_iter=settings.max_iter, tol=settings.tol, warm_start=True)
  for c in sorted(settings.c_grid):
    classifier.set_params(C=c)
    with warnings.catch_warnings():
      warnings.simplefilter('ignore', ConvergenceWarning)  # Counted in `converged` instead.
      # A few labels per class trip scikit-learn's "looks like regression" heuristic.
      warnings.filterwarnings('ignore', message='The number of unique classes')
      classifier.fit(train_z, train_y)
    converged &= bool(np.all(classifier.n_iter_ < settings.max_iter))
    f1 = scores(validation_y, classifier.predict(validation_z))[0]
    if best is None or f1 > best[0]:
      best = (f1, copy.deepcopy(classifier))
  f1, classifier = best
  return FittedProbe(
    scaler=scaler,
    classifier=classifier,
    c=classifier.C,
    validation_macro_f1=f1,
    converged=converged,
  )


def score_modality_set(
  name: str,
  fit: tuple[np.ndarray, np.ndarray],
  validation: tuple[np.ndarray, np.ndarray],
  evaluations: dict[str, tuple[np.ndarray, np.ndarray]],
  subsets: dict[tuple[int, LabelBudget], np.ndarray],
  budgets: Sequence[LabelBudget],
  seeds: Sequence[int],
  settings: ProbeSettings,
) -> list[dict]:
  """Every probe (seed × budget) of one modality set, scored on every evaluation split.

  `fit`, `validation` and each evaluation are (features, labels) of the windows valid for the
  set; `subsets[(seed, budget)]` indexes `fit`. Returns one dict per (evaluation split,
  budget, seed) with the scores and the `truth` / `predicted` arrays. Identical labelled
  subsets (every seed at 100 %) are fitted once: the fit is deterministic, so refitting would
  repeat the result. A plain function of arrays, so sets can run in worker processes.

  BLAS runs single-threaded here: the products are skinny (N × D × 11), and OpenBLAS threads
  made the whole benchmark (benchmarks/probe_speed.py) 5× slower on 2 busy cores; parallelism
  comes from fitting modality sets in separate processes instead.
  """
  with threadpoolctl.threadpool_limits(limits=1, user_api='blas'):
    return _score_modality_set(
      name, fit, validation, evaluations, subsets, budgets, seeds, settings
    )


def budget_columns(budget: LabelBudget) -> dict[str, Any]:
  """The columns naming a budget in a result row."""
  return {
    'budget': budget.name,
    'fraction': float('nan') if budget.fraction is None else budget.fraction,
    'labels_per_class': budget.per_class or 0,
  }


def _score_modality_set(
  name, fit, validation, evaluations, subsets, budgets, seeds, settings
) -> list[dict]:
  fit_x, fit_y = fit
  cache: dict[bytes, tuple] = {}
  rows = []
  for seed in seeds:
    for budget in budgets:
      indices = subsets[(seed, budget)]
      key = indices.tobytes()
      if key not in cache:
        fitted = fit_probe(fit_x[indices], fit_y[indices], *validation, settings)
        cache[key] = (fitted, {s: fitted.predict(x) for s, (x, _) in evaluations.items()})
      fitted, predictions = cache[key]
      for split, (_, truth) in evaluations.items():
        f1, accuracy = scores(truth, predictions[split])
        rows.append(
          {
            'split': split,
            'modality_set': name,
            **budget_columns(budget),
            'seed': seed,
            'num_train': len(indices),
            'num_eval': len(truth),
            'c': fitted.c,
            'validation_macro_f1': fitted.validation_macro_f1,
            'macro_f1': f1,
            'accuracy': accuracy,
            'converged': fitted.converged,
            'truth': truth,
            'predicted': predictions[split],
          }
        )
  return rows
