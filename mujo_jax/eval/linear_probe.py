"""`run(config, workdir)`: evaluate a pretraining checkpoint on downstream activity recognition.

  python -m mujo_jax.main --config=configs/linear_probe.py --config.checkpoint=W --workdir=E

Per dataset (configs/linear_probe.py): the frozen encoders embed every window of the fit,
validation and evaluation splits once; then, for every modality set, label fraction and seed, a
logistic-regression probe (mujo_jax/eval/probe.py) is fitted on the labelled subset of the fit
split, its C chosen on the validation split, and scored on every evaluation split. In the same
table: the same probe on a randomly initialised model of the same architecture, and the same
encoders trained from scratch with a linear head on the same labelled windows
(mujo_jax/eval/supervised.py). Then zero-shot classification by text prompts, cross-modal
retrieval and the missing-modality robustness table, all from the same embeddings.

Outputs in `workdir`: probe_results.csv (one row per dataset × split × modality set × fraction ×
seed × model), probe_results.md (the tables), zero_shot.csv, retrieval.csv, robustness.csv,
probe_windows.npz (for every dataset: labels and groups of every split, and the fit-split indices
of every fraction and seed, so that stratification and subject-disjointness can be checked) and
the PNG plots named in probe_results.md.

Notes. At 100 % every seed labels the same windows and lbfgs is deterministic, so the probe is
fitted once and its scores repeat over seeds (std 0); the from-scratch baseline still differs per
seed (initialisation, batch order). Windows whose modality-set input is missing (e.g. an IMU site
not measured) are excluded from that set's fit and evaluation and counted (num_train, num_eval).
Every process reads all windows and gets all embeddings (batches sharded over the whole mesh,
outputs replicated), so the probes run alike everywhere; process 0 writes the outputs.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import joblib
import ml_collections
import numpy as np
from sklearn import model_selection
from sklearn.metrics import confusion_matrix

from mujo_jax import checkpoint, sharding
from mujo_jax.data import datasets, schema
from mujo_jax.eval import (
  embedding,
  eval_data,
  plots,
  probe,
  report,
  retrieval,
  robustness,
  statistics,
  supervised,
  zero_shot,
)
from mujo_jax.models import joint

MAP_METHODS = ('pca', 'tsne')


# ---------------------------------------------------------------- config


def _fail(message: str) -> None:
  raise ValueError(f'invalid linear_probe config: {message}')


def check_job_config(config: ml_collections.ConfigDict) -> None:
  """Rejects a bad `linear_probe` job config before anything is loaded or compiled."""
  if config.job != 'linear_probe':
    _fail(f"job={config.job!r}: expected 'linear_probe'")
  if not config.checkpoint:
    _fail('checkpoint is empty: pass --config.checkpoint=<pretraining workdir>')
  path = Path(config.checkpoint).expanduser() / checkpoint.CONFIG_FILE
  if not path.exists():
    raise FileNotFoundError(
      f'config.checkpoint={config.checkpoint!r}: no {path.name} there; '
      'expected a pretraining workdir or a directory of exported weights'
    )
  check_settings(config)


def check_settings(config: ml_collections.ConfigDict) -> None:
  """Rejects bad evaluator settings (configs/common.py `linear_probe_settings`) up front."""
  fail = _fail
  datasets = tuple(config.datasets)
  bad = [d for d in datasets if d not in eval_data.DATASETS]
  if not datasets or bad or len(set(datasets)) != len(datasets):
    fail(f'datasets={datasets}: expected distinct names from {eval_data.DATASETS}')
  for name in datasets:
    if name in eval_data.BUILT_RECORDINGS and not config[name].data_dir:
      fail(
        f'datasets has {name} but {name}.data_dir is not set (the TFDS data_dir holding the '
        f'built {name} dataset; see tfds_builders/{name}/README.md)'
      )
  if 'mmfit' in datasets:
    if not config.mmfit_data_dir:
      fail(
        'datasets has mmfit but mmfit_data_dir is not set (the TFDS data_dir holding the '
        'built mmfit dataset; see tfds_builders/mmfit/README.md)'
      )
    if not Path(config.mmfit_data_dir).expanduser().is_dir():
      raise FileNotFoundError(f'config.mmfit_data_dir={config.mmfit_data_dir!r} is not a directory')
  probe.label_budgets(config.fractions, config.labels_per_class)
  seeds = tuple(config.seeds)
  if (
    not seeds
    or any(isinstance(s, bool) or not isinstance(s, int) for s in seeds)
    or len(set(seeds)) != len(seeds)
  ):
    fail(f'seeds={seeds}: expected distinct ints')
  if not config.modality_sets:
    fail('modality_sets is empty')
  for text in config.modality_sets:
    probe.check_modality_set(text)
  missing = [f for f in config.supervised.fractions if f not in config.fractions]
  if config.baselines.supervised and missing:
    fail(f'supervised.fractions has {missing}, which are not in fractions {config.fractions}')
  unknown = [s for s in config.supervised.modality_sets if s not in config.modality_sets]
  if config.baselines.supervised and unknown:
    fail(
      f'supervised.modality_sets has {unknown}, which are not in modality_sets '
      f'{tuple(config.modality_sets)}'
    )
  probe_settings(config)
  supervised_settings(config)
  if config.map_method not in MAP_METHODS:
    fail(f'map_method={config.map_method!r}: expected one of {MAP_METHODS}')
  if not 0 < config.robustness_fraction <= 1:
    fail(f'robustness_fraction={config.robustness_fraction}: expected a value in (0, 1]')
  if config.robustness and not config.fractions:
    fail('robustness needs a label fraction (fractions is empty)')
  if config.probe.n_jobs != -1 and (
    not isinstance(config.probe.n_jobs, int) or config.probe.n_jobs < 1
  ):
    fail(f'probe.n_jobs={config.probe.n_jobs!r}: expected a positive int or -1 (all cores)')
  for key in ('embed_batch_size', 'retrieval_max_windows', 'map_max_windows'):
    if not isinstance(config[key], int) or config[key] < 1:
      fail(f'{key}={config[key]!r}: expected a positive int')


def probe_settings(config: ml_collections.ConfigDict) -> probe.ProbeSettings:
  return probe.ProbeSettings(
    c_grid=tuple(float(c) for c in config.probe.c_grid),
    max_iter=int(config.probe.max_iter),
    tol=float(config.probe.tol),
  )


def supervised_settings(config: ml_collections.ConfigDict) -> supervised.SupervisedSettings:
  s = config.supervised
  return supervised.SupervisedSettings(
    steps=int(s.steps),
    batch_size=int(s.batch_size),
    learning_rate=float(s.learning_rate),
    weight_decay=float(s.weight_decay),
  )


# ---------------------------------------------------------------- one dataset


@dataclasses.dataclass
class DatasetResults:
  probe_rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
  zero_shot_rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
  retrieval_rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
  robustness_rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
  skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)
  notes: list[str] = dataclasses.field(default_factory=list)
  plots: list[str] = dataclasses.field(default_factory=list)
  arrays: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
  # dataset -> 'k of n classes' absent from the pretraining vocabulary.
  unseen: dict[str, str] = dataclasses.field(default_factory=dict)


def _evenly_spaced_indices(count: int, maximum: int) -> np.ndarray:
  if count <= maximum:
    return np.arange(count)
  return np.unique(np.linspace(0, count - 1, maximum).round().astype(np.int64))


def _nearest(values: Sequence[float], target: float) -> float:
  return min(values, key=lambda v: abs(np.log(v) - np.log(target)))


def fit_and_score(
  splits: dict[str, dict[str, np.ndarray]],
  modality_sets: Sequence[probe.ModalitySet],
  subsets: dict[tuple[int, probe.LabelBudget], np.ndarray],
  budgets: Sequence[probe.LabelBudget],
  seeds: Sequence[int],
  data: Any,
  settings: probe.ProbeSettings,
  n_jobs: int = 1,
) -> list[dict[str, Any]]:
  """Fits every probe (set × seed × budget) and scores it on every evaluation split.

  `splits` maps split name → embeddings (`embedding.embed_windows` output); `data` names the
  fit, validation and evaluation splits; `subsets` index the fit split. Windows whose input for
  a set is missing are dropped from that set's fit and evaluation. Modality sets run in
  `n_jobs` worker processes (1: in this process; -1: one per CPU core). Returns the rows of
  `probe.score_modality_set`, sets in order.
  """
  fit, val = splits[data.fit_split], splits[data.validation_split]
  tasks = []
  for modality_set in modality_sets:
    fit_x, fit_valid = probe.features(fit, modality_set)
    val_x, val_valid = probe.features(val, modality_set)
    evaluations = {}
    for split in data.eval_splits:
      x, valid = probe.features(splits[split], modality_set)
      evaluations[split] = (x[valid], splits[split]['label'][valid])
    # Re-index the subsets into the set's valid fit windows.
    position = np.cumsum(fit_valid) - 1
    set_subsets = {key: position[indices[fit_valid[indices]]] for key, indices in subsets.items()}
    tasks.append(
      joblib.delayed(probe.score_modality_set)(
        modality_set.name,
        (fit_x[fit_valid], fit['label'][fit_valid]),
        (val_x[val_valid], val['label'][val_valid]),
        evaluations,
        set_subsets,
        tuple(budgets),
        tuple(seeds),
        settings,
      )
    )
  n_jobs = min(len(tasks), (os.cpu_count() or 1) if n_jobs == -1 else n_jobs)
  start = time.time()
  results = joblib.Parallel(n_jobs=n_jobs)(tasks)
  logging.info(
    'probes on %d modality sets × %d budgets × %d seeds in %.1f s (%d processes)',
    len(tasks),
    len(budgets),
    len(seeds),
    time.time() - start,
    n_jobs,
  )
  return [row for rows in results for row in rows]


class _DatasetEvaluation:
  """Everything computed for one dataset; `run` calls the steps in order."""

  def __init__(self, config, pretrained: checkpoint.Pretrained, data: eval_data.EvalDataset, mesh):
    self.config = config
    self.pretrained = pretrained
    self.data = data
    self.mesh = mesh
    self.model = joint.build_model(joint.JointModelSpec.from_config(data.model_config))
    self.results = DatasetResults()
    self.budgets = probe.label_budgets(config.fractions, config.labels_per_class)
    self.fractions = tuple(b.fraction for b in self.budgets if b.fraction is not None)
    self.seeds = tuple(config.seeds)
    self.settings = probe_settings(config)
    self.probe_modalities = tuple(m for m in data.modalities if m in eval_data.PROBE_MODALITIES)
    self.sets, skipped = probe.expand_modality_sets(
      config.modality_sets, self.probe_modalities, data.sites
    )
    self.results.skipped.extend(skipped)
    if not self.sets:
      raise ValueError(
        f'{data.name}: none of modality_sets {tuple(config.modality_sets)} can be fed ({skipped})'
      )
    self.conditions = (
      robustness.conditions(self.probe_modalities, data.sites) if config.robustness else []
    )
    self.embeddings: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    self._embed_fns: dict[embedding.EmbedRequest, Any] = {}  # One compile per request.
    # (fraction, title, truth, predicted) for the confusion-matrix figure.
    self.predictions_for_confusion: list[tuple[float, str, np.ndarray, np.ndarray]] = []

  # ---- embeddings

  def _request(self, split: str, full: bool) -> embedding.EmbedRequest:
    """What to embed for `split`: the sets' inputs, plus (pretrained) everything else needed."""
    terms = {t for s in self.sets for t in s.terms}
    modalities = {t.modality for t in terms if t.sites is None}
    variant_sites = {t.sites for t in terms if t.sites is not None}
    if full:
      modalities |= set(self.probe_modalities)
      if split in self.data.eval_splits:
        modalities |= set(self.data.modalities)  # Text too, for retrieval.
        variant_sites |= robustness.imu_variant_sites(self.conditions)
    if variant_sites:
      modalities.add('imu')
    variants = tuple(
      sorted(
        (probe.imu_variant_key(sites), tuple(s in sites for s in self.data.sites))
        for sites in variant_sites
      )
    )
    ordered = tuple(m for m in ('imu', 'pose', 'video', 'text') if m in modalities)
    return embedding.EmbedRequest(modalities=ordered, imu_variants=variants)

  def embed(self, name: str, params: Any, full: bool) -> None:
    self.embeddings[name] = {}
    for split in self.data.splits:
      start = time.time()
      request = self._request(split, full)
      if request not in self._embed_fns:
        self._embed_fns[request] = embedding.make_embed_fn(self.model, request, self.mesh)
      self.embeddings[name][split] = embedding.embed_windows(
        self.model,
        params,
        self.data.windows[split],
        request,
        self.mesh,
        self.config.embed_batch_size,
        self._embed_fns[request],
      )
      logging.info(
        '%s/%s: embedded %d windows with the %s model in %.1f s',
        self.data.name,
        split,
        len(self.embeddings[name][split]['label']),
        name,
        time.time() - start,
      )

  def statistics_features(self) -> None:
    """The per-channel statistics baseline's features for every IMU key the sets read."""
    terms = {t for s in self.statistics_sets() for t in s.terms}
    variants = {
      t.key: tuple(t.sites is None or s in t.sites for s in self.data.sites) for t in terms
    }
    self.embeddings['statistics'] = {
      split: statistics.site_features(
        embedding.iterate_batches(self.data.windows[split], self.config.embed_batch_size), variants
      )
      for split in self.data.splits
    }

  def statistics_sets(self) -> list[probe.ModalitySet]:
    return [s for s in self.sets if all(t.modality == 'imu' for t in s.terms)]

  # ---- label budgets

  def subsets(self) -> dict[tuple[int, probe.LabelBudget], np.ndarray]:
    labels = self.embeddings['pretrained'][self.data.fit_split]['label']
    subsets = {}
    for seed in self.seeds:
      for budget, indices in probe.stratified_subsets(labels, self.budgets, seed).items():
        subsets[(seed, budget)] = indices
    arrays = self.results.arrays
    for split in self.data.splits:
      for key in ('label', 'group'):
        if key in self.embeddings['pretrained'][split]:
          arrays[f'{self.data.name}/{split}/{key}'] = self.embeddings['pretrained'][split][key]
    for (seed, budget), indices in subsets.items():
      arrays[f'{self.data.name}/fit_indices/{budget.key}/seed={seed}'] = indices
    return subsets

  # ---- probes

  def _row(self, **values):
    return {'dataset': self.data.name, 'checkpoint_step': self.pretrained.step, **values}

  @functools.cached_property
  def protocols(self) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Name -> (fit, held-out) window indices per fold, the same for every seed and model.

    `cv<k>`: k folds stratified by class that keep each group (subject or recording) in one
    fold. `literature`: the dataset's published split where it has one (`eval_data`).
    """
    embeddings = self.embeddings['pretrained'][eval_data.ALL_WINDOWS]
    labels, groups = embeddings['label'], embeddings['group']
    folds = model_selection.StratifiedGroupKFold(
      n_splits=self.data.folds, shuffle=True, random_state=0
    )
    out = {f'cv{self.data.folds}': list(folds.split(labels, labels, groups))}
    if self.data.literature_folds:
      out['literature'] = list(self.data.literature_folds)
    return out

  def _cross_validate(
    self,
    model_name: str,
    modality_set: probe.ModalitySet,
    valid: np.ndarray,
    budgets: Sequence[probe.LabelBudget],
    fit_and_predict: Any,
    c: float,
  ) -> None:
    """Rows of one model and set for every protocol, budget and seed (out-of-fold, pooled).

    `fit_and_predict(chosen, held_out, seed) -> predictions` fits on the labelled windows
    `chosen` of a fold's training part and labels its held-out windows. Seeds redraw only the
    labelled windows (or groups); the folds are the same for every model.
    """
    embeddings = self.embeddings['pretrained'][eval_data.ALL_WINDOWS]
    labels = embeddings['label']
    # What a budget counts: windows, or the groups / recordings the windows belong to.
    units = None if self.data.budget_unit == 'window' else embeddings[self.data.budget_unit]
    for protocol, folds in self.protocols.items():
      for seed in self.seeds:
        for budget in budgets:
          predicted = np.full(len(labels), -1)
          num_train = []
          for fold, (fit, held_out) in enumerate(folds):
            fit, held_out = fit[valid[fit]], held_out[valid[held_out]]
            if len(np.unique(labels[fit])) < 2:
              raise ValueError(
                f'{self.data.name}: {protocol} fold {fold} has {len(fit)} windows valid for '
                f'{modality_set.name} ({model_name}) to fit on: too few'
              )
            unit_groups = units[fit] if units is not None else None
            chosen = fit[
              probe.stratified_subsets(
                labels[fit], [budget], seed * 1000 + fold, groups=unit_groups
              )[budget]
            ]
            predicted[held_out] = fit_and_predict(chosen, held_out, seed)
            num_train.append(len(chosen))
          scored = valid & (predicted >= 0)
          f1, accuracy = probe.scores(labels[scored], predicted[scored])
          self.results.probe_rows.append(
            self._row(
              split=protocol,
              modality_set=modality_set.name,
              **probe.budget_columns(budget),
              seed=seed,
              model=model_name,
              num_train=int(np.mean(num_train)),
              num_eval=int(scored.sum()),
              c=c,
              validation_macro_f1=float('nan'),
              macro_f1=f1,
              accuracy=accuracy,
              converged='',
            )
          )

  def fold_probes(self, model_name: str) -> None:
    """Cross-validated probes of `model_name`'s embeddings (or the statistics features).

    With few labels there is no validation split to choose C on, so the probe uses the
    smallest C of `probe.c_grid` that is >= 1 (1 by default: scikit-learn's default).
    """
    embeddings = self.embeddings[model_name][eval_data.ALL_WINDOWS]
    labels = embeddings['label']
    grid = sorted(self.settings.c_grid)
    settings = dataclasses.replace(
      self.settings, c_grid=(next((c for c in grid if c >= 1), grid[-1]),)
    )
    sets = self.statistics_sets() if model_name == 'statistics' else self.sets
    for modality_set in sets:
      x, valid = probe.features(embeddings, modality_set)

      def fit_and_predict(chosen, held_out, seed, x=x):
        del seed  # lbfgs from zeros is deterministic.
        fitted = probe.fit_probe(x[chosen], labels[chosen], x[chosen], labels[chosen], settings)
        return fitted.predict(x[held_out])

      self._cross_validate(
        model_name, modality_set, valid, self.budgets, fit_and_predict, settings.c_grid[0]
      )

  def fold_supervised(self) -> None:
    """The from-scratch baseline under the same folds and budgets (`supervised.fractions`)."""
    settings = supervised_settings(self.config)
    wanted, _ = probe.expand_modality_sets(
      self.config.supervised.modality_sets, self.probe_modalities, self.data.sites
    )
    windows = self.data.windows[eval_data.ALL_WINDOWS]
    embeddings = self.embeddings['pretrained'][eval_data.ALL_WINDOWS]
    budgets = [probe.LabelBudget(fraction=f) for f in self.config.supervised.fractions]
    for modality_set in [s for s in self.sets if s.name in {w.name for w in wanted}]:
      _, valid = probe.features(embeddings, modality_set)
      baseline = supervised.FromScratch(
        self.data.model_config, modality_set, self.data.sites, len(self.data.class_names), settings
      )

      def fit_and_predict(chosen, held_out, seed, baseline=baseline):
        params = baseline.fit(windows, chosen, seed)
        return baseline.predict(
          params, [windows[i] for i in held_out], self.config.embed_batch_size
        )

      self._cross_validate(
        'supervised', modality_set, valid, budgets, fit_and_predict, float('nan')
      )

  def probes(
    self, model_name: str, subsets: dict[tuple[int, probe.LabelBudget], np.ndarray]
  ) -> None:
    confusion_fractions = (
      {_nearest(self.fractions, 0.02), max(self.fractions)} if self.fractions else set()
    )
    first_set = self.sets[0].name
    sets = self.statistics_sets() if model_name == 'statistics' else self.sets
    for result in fit_and_score(
      self.embeddings[model_name],
      sets,
      subsets,
      self.budgets,
      self.seeds,
      self.data,
      self.settings,
      self.config.probe.n_jobs,
    ):
      truth, predicted = result.pop('truth'), result.pop('predicted')
      self.results.probe_rows.append(self._row(model=model_name, **result))
      if (
        model_name == 'pretrained'
        and result['modality_set'] == first_set
        and result['seed'] == self.seeds[0]
        and result['split'] == self.data.eval_splits[0]
        and result['fraction'] in confusion_fractions
      ):
        fraction, seed = result['fraction'], result['seed']
        title = (
          f'{first_set}, {100 * fraction:g} % labels (seed {seed}), '
          f'macro F1 {result["macro_f1"]:.3f}'
        )
        self.predictions_for_confusion.append((fraction, title, truth, predicted))

  def supervised_baseline(self, subsets: dict[tuple[int, probe.LabelBudget], np.ndarray]) -> None:
    settings = supervised_settings(self.config)
    wanted, _ = probe.expand_modality_sets(
      self.config.supervised.modality_sets, self.probe_modalities, self.data.sites
    )
    chosen = [s for s in self.sets if s.name in {w.name for w in wanted}]
    fit = self.embeddings['pretrained'][self.data.fit_split]
    for modality_set in chosen:
      start = time.time()
      _, fit_valid = probe.features(fit, modality_set)
      baseline = supervised.FromScratch(
        self.data.model_config, modality_set, self.data.sites, len(self.data.class_names), settings
      )
      for seed in self.seeds:
        for fraction in self.config.supervised.fractions:
          budget = probe.LabelBudget(fraction=fraction)
          indices = subsets[(seed, budget)]
          indices = indices[fit_valid[indices]]
          params = baseline.fit(self.data.windows[self.data.fit_split], indices, seed)
          for split in self.data.eval_splits:
            _, valid = probe.features(self.embeddings['pretrained'][split], modality_set)
            predicted = baseline.predict(
              params, self.data.windows[split], self.config.embed_batch_size
            )
            truth = self.embeddings['pretrained'][split]['label']
            f1, accuracy = probe.scores(truth[valid], predicted[valid])
            self.results.probe_rows.append(
              self._row(
                split=split,
                modality_set=modality_set.name,
                **probe.budget_columns(budget),
                seed=seed,
                model='supervised',
                num_train=len(indices),
                num_eval=int(valid.sum()),
                c=float('nan'),
                validation_macro_f1=float('nan'),
                macro_f1=f1,
                accuracy=accuracy,
                converged='',
              )
            )
      logging.info(
        '%s: supervised baseline %s (%d steps × %d fractions × %d seeds) in %.1f s',
        self.data.name,
        modality_set.name,
        settings.steps,
        len(self.config.supervised.fractions),
        len(self.seeds),
        time.time() - start,
      )

  # ---- zero-shot, retrieval, robustness

  def zero_shot(self) -> None:
    if 'text' not in self.model.modalities:
      self.results.notes.append('zero-shot skipped: the checkpoint has no text encoder')
      return
    vocabulary = datasets.text_vocabulary(self.pretrained.config)
    if self.pretrained.config.data.get('activities', None) is None:
      self.results.notes.append(
        'zero-shot: the checkpoint does not record the classes its texts described; '
        "assuming the current corpus's"
      )
    names = self.data.class_names
    missing = zero_shot.missing_prompts(names, vocabulary)
    classes = zero_shot.prompted_classes(names, vocabulary)
    if len(classes) < 2:
      self.results.notes.append(
        f'zero-shot skipped: prompts for {len(classes)} of {len(names)} classes, none for '
        f'{missing} (not in the pretraining vocabulary)'
      )
      return
    if missing:
      self.results.notes.append(
        f'zero-shot among the {len(classes)} of {len(names)} classes with '
        f'prompts; the windows of {missing} (not in the pretraining vocabulary) are left out'
      )
    prototypes = zero_shot.class_prototypes(
      lambda texts: embedding.embed_texts(self.model, self.pretrained.params, texts),
      [names[k] for k in classes],
      vocabulary,
    )
    keys = [m for m in self.probe_modalities]
    for split in self.data.eval_splits:
      embeddings = self.embeddings['pretrained'][split]
      for row in zero_shot.evaluate(embeddings, embeddings['label'], prototypes, keys, classes):
        self.results.zero_shot_rows.append(
          {
            'dataset': self.data.name,
            'split': split,
            'classes': f'{len(classes)} of {len(names)}',
            **row,
          }
        )

  def retrieval(self) -> None:
    keys = [m for m in self.data.modalities]
    if len(keys) < 2:
      self.results.notes.append(f'retrieval skipped: only {keys} embedded')
      return
    for split in self.data.eval_splits:
      embeddings = self.embeddings['pretrained'][split]
      chosen = _evenly_spaced_indices(len(embeddings['label']), self.config.retrieval_max_windows)
      subset = {k: v[chosen] for k, v in embeddings.items()}
      for row in retrieval.evaluate(subset, keys):
        self.results.retrieval_rows.append({'dataset': self.data.name, 'split': split, **row})

  def robustness(self, subsets: dict[tuple[int, probe.LabelBudget], np.ndarray]) -> None:
    splits = self.embeddings['pretrained']
    all_keys = self.conditions[0].keys
    fit_x, fit_valid = robustness.fuse(splits[self.data.fit_split], all_keys)
    val_x, val_valid = robustness.fuse(splits[self.data.validation_split], all_keys)
    fraction = _nearest(self.fractions, self.config.robustness_fraction)
    seed = self.seeds[0]
    indices = subsets[(seed, probe.LabelBudget(fraction=fraction))]
    indices = indices[fit_valid[indices]]
    fitted = probe.fit_probe(
      fit_x[indices],
      splits[self.data.fit_split]['label'][indices],
      val_x[val_valid],
      splits[self.data.validation_split]['label'][val_valid],
      self.settings,
    )
    for split in self.data.eval_splits:
      labels = splits[split]['label']
      for condition in self.conditions:
        x, valid = robustness.fuse(splits[split], condition.keys)
        f1, accuracy = probe.scores(labels[valid], fitted.predict(x[valid]))
        self.results.robustness_rows.append(
          {
            'dataset': self.data.name,
            'split': split,
            'modalities': condition.modalities,
            'imu_sites': condition.imu_sites,
            'num_eval': int(valid.sum()),
            'num_excluded': int((~valid).sum()),
            'macro_f1': f1,
            'accuracy': accuracy,
            'fraction': fraction,
            'seed': seed,
          }
        )

  # ---- plots

  def plot(self, workdir: Path) -> None:
    names = [s.name for s in self.sets]
    for split in self.data.eval_splits if self.data.probe and not self.data.folds else ():
      rows = [
        r
        for r in self.results.probe_rows
        if r['dataset'] == self.data.name and r['split'] == split and not r['labels_per_class']
      ]
      path = workdir / f'f1_vs_fraction_{self.data.name}_{split}.png'
      plots.f1_vs_fraction(rows, names, f'{self.data.name} / {split}: probe macro F1', path)
      self.results.plots.append(path.name)
    if self.predictions_for_confusion:
      labels = np.arange(len(self.data.class_names))
      matrices = [
        (title, confusion_matrix(truth, predicted, labels=labels))
        for _, title, truth, predicted in sorted(
          self.predictions_for_confusion, key=lambda item: item[0]
        )
      ]
      path = workdir / f'confusion_{self.data.name}_{self.data.eval_splits[0]}.png'
      plots.confusion_matrices(matrices, self.data.class_names, path)
      self.results.plots.append(path.name)
    split = self.data.eval_splits[0]
    embeddings = self.embeddings['pretrained'][split]
    chosen = _evenly_spaced_indices(len(embeddings['label']), self.config.map_max_windows)
    keys = [m for m in self.data.modalities]
    valid = np.ones(len(chosen), bool)
    for key in keys:
      valid &= embeddings.get(f'valid/{key}', np.ones(len(embeddings['label']), bool))[chosen]
    chosen = chosen[valid]
    path = workdir / f'joint_space_{self.data.name}_{split}.png'
    plots.joint_space_map(
      {k: embeddings[k][chosen] for k in keys},
      embeddings['label'][chosen],
      self.data.class_names,
      f'{self.data.name} / {split}',
      path,
      self.config.map_method,
      self.seeds[0],
    )
    self.results.plots.append(path.name)


def evaluate_dataset(
  config: ml_collections.ConfigDict,
  pretrained: checkpoint.Pretrained,
  name: str,
  mesh: jax.sharding.Mesh,
  workdir: Path | None,
) -> DatasetResults:
  """All evaluations of one dataset; plots go to `workdir` when it is given."""
  data = eval_data.load(name, pretrained.config, config)
  evaluation = _DatasetEvaluation(config, pretrained, data, mesh)
  vocabulary = set(datasets.text_vocabulary(pretrained.config))
  absent = [c for c in data.class_names if c not in vocabulary]
  evaluation.results.unseen[name] = f'{len(absent)} of {len(data.class_names)} classes'
  evaluation.embed('pretrained', pretrained.params, full=True)
  models = ['pretrained']
  if data.probe and config.baselines.random_init:
    # The run's own initial weights: the site table is global, so the parameters of a model
    # rebuilt for the dataset's sites are the ones the run started from.
    random_params = jax.jit(
      lambda rng: joint.init_params(evaluation.model, rng, schema.dummy_batch(data.model_config, 2))
    )(checkpoint.init_key(pretrained.config))
    evaluation.embed('random_init', random_params, full=False)
    models.append('random_init')
  if data.probe and config.baselines.statistics and evaluation.statistics_sets():
    evaluation.statistics_features()
    models.append('statistics')
  if not data.probe:
    evaluation.results.notes.append(
      'probes skipped: too few windows per class to fit and score '
      'a probe (retrieval and zero-shot only)'
    )
  elif data.folds:
    for model in models:
      evaluation.fold_probes(model)
    if config.baselines.supervised:
      evaluation.fold_supervised()
    if config.robustness:
      evaluation.results.notes.append(
        f'robustness table skipped: {data.folds}-fold cross-validated dataset'
      )
  else:
    subsets = evaluation.subsets()
    for model in models:
      evaluation.probes(model, subsets)
    if config.baselines.supervised:
      evaluation.supervised_baseline(subsets)
  robust = config.robustness and data.probe and not data.folds
  steps = (
    ('zero-shot', config.zero_shot, evaluation.zero_shot),
    ('retrieval', config.retrieval, evaluation.retrieval),
    ('robustness', robust, lambda: evaluation.robustness(subsets)),
    ('plots', config.plots and workdir is not None, lambda: evaluation.plot(workdir)),
  )
  for label, enabled, step in steps:
    if enabled:
      start = time.time()
      step()
      logging.info('%s: %s in %.1f s', name, label, time.time() - start)
  return evaluation.results


# ---------------------------------------------------------------- outputs


def _markdown(
  config, pretrained: checkpoint.Pretrained, results: DatasetResults, seconds: float
) -> str:
  c = pretrained.config
  lines = [
    '# Linear-probe evaluation',
    '',
    f'Checkpoint `{pretrained.workdir}` at step {pretrained.step} (model size '
    f'{c.model.size}, modalities {"+".join(c.modalities)}, loss {c.loss.type}, strategy '
    f'{c.multitask.strategy}); {seconds:.0f} s.',
    '',
    'Probe: logistic regression on standardised frozen embeddings, C in '
    f'{tuple(config.probe.c_grid)} chosen by validation macro F1; label budgets (fractions '
    'or counts per class) stratified by class and nested per seed; at 100 % the probe is '
    'fitted once (every seed has the same windows). Baselines: `random_init` = the same probe '
    "on the run's own initial weights (a randomly initialised model of the same "
    'architecture); `supervised` = the same encoders + a linear head trained from '
    f'scratch on the same labelled windows ({config.supervised.steps} steps).',
    '',
  ]
  if len(results.unseen) > 1 and results.probe_rows:
    lines += [
      '### All datasets: macro F1 (mean ± std over seeds)',
      '',
      report.cross_dataset_table(results.probe_rows, results.unseen, 'macro_f1'),
      '',
    ]
  for section in report.probe_tables(results.probe_rows, 'macro_f1'):
    lines += [section, '']
  for section in report.probe_tables(results.probe_rows, 'accuracy'):
    lines += [section, '']
  if results.zero_shot_rows:
    lines += [
      '### Zero-shot (class-name prompts through the text encoder)',
      '',
      report.rows_table(
        results.zero_shot_rows,
        ('dataset', 'split', 'modality', 'classes', 'num_windows', 'macro_f1', 'accuracy'),
      ),
      '',
    ]
  if results.retrieval_rows:
    lines += [
      '### Cross-modal retrieval',
      '',
      report.rows_table(
        results.retrieval_rows,
        ('dataset', 'split', 'query', 'target', 'num_windows', 'R@1', 'R@5', 'R@10', 'chance@1'),
      ),
      '',
    ]
  if results.robustness_rows:
    lines += [
      '### Missing-modality robustness (one probe on the fused embedding, fitted with '
      'everything present, tested with inputs removed)',
      '',
      report.rows_table(
        results.robustness_rows,
        (
          'dataset',
          'split',
          'modalities',
          'imu_sites',
          'num_eval',
          'num_excluded',
          'macro_f1',
          'accuracy',
        ),
      ),
      '',
    ]
  if results.skipped:
    lines += ['### Modality sets skipped', '']
    lines += [f'- `{text}`: {reason}' for text, reason in results.skipped] + ['']
  if results.notes:
    lines += ['### Notes', ''] + [f'- {note}' for note in results.notes] + ['']
  if results.plots:
    lines += ['### Plots', ''] + [f'![{name}]({name})' for name in results.plots] + ['']
  return '\n'.join(lines)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Evaluation:
  """What one run of the evaluator produced, and how long it took."""

  results: DatasetResults
  pretrained: checkpoint.Pretrained
  seconds: float


class LinearProbe:
  """The evaluator: probes, baselines, zero-shot, retrieval, robustness of one checkpoint.

  Built from settings (configs/common.py `linear_probe_settings`, checked here before any
  compute); the `linear_probe` job runs it once on a restored checkpoint, the trainer runs it
  on its live parameters (`config.evals`).
  """

  def __init__(self, settings: ml_collections.ConfigDict):
    check_settings(settings)
    self.settings = settings

  def evaluate(
    self, pretrained: checkpoint.Pretrained, mesh: jax.sharding.Mesh, plots_dir: Path | None = None
  ) -> Evaluation:
    start = time.time()
    results = DatasetResults()
    for name in self.settings.datasets:
      part = evaluate_dataset(self.settings, pretrained, name, mesh, plots_dir)
      results.probe_rows += part.probe_rows
      results.zero_shot_rows += part.zero_shot_rows
      results.retrieval_rows += part.retrieval_rows
      results.robustness_rows += part.robustness_rows
      results.skipped += [(f'{name}: {text}', reason) for text, reason in part.skipped]
      results.notes += [f'{name}: {note}' for note in part.notes]
      results.plots += part.plots
      results.arrays.update(part.arrays)
      results.unseen.update(part.unseen)
    return Evaluation(results=results, pretrained=pretrained, seconds=time.time() - start)

  @staticmethod
  def scalars(evaluation: Evaluation) -> dict[str, float]:
    """Mean macro F1 over seeds, keyed `dataset/split/modality_set/budget/model`."""
    groups: dict[str, list[float]] = {}
    for row in evaluation.results.probe_rows:
      budget = (
        f'per_class={row["labels_per_class"]}'
        if row['labels_per_class']
        else f'fraction={row["fraction"]:g}'
      )
      key = '/'.join((row['dataset'], row['split'], row['modality_set'], budget, row['model']))
      groups.setdefault(key, []).append(float(row['macro_f1']))
    return {key: float(np.mean(values)) for key, values in groups.items()}

  def write(self, evaluation: Evaluation, workdir: Path) -> dict[str, Path]:
    """The output files of the module docstring (call on process 0)."""
    results = evaluation.results
    workdir.mkdir(parents=True, exist_ok=True)
    outputs = {
      'probe_results.csv': report.write_csv(
        workdir / 'probe_results.csv', results.probe_rows, report.PROBE_COLUMNS
      )
    }
    for name, rows in (
      ('zero_shot.csv', results.zero_shot_rows),
      ('retrieval.csv', results.retrieval_rows),
      ('robustness.csv', results.robustness_rows),
    ):
      if rows:
        outputs[name] = report.write_csv(workdir / name, rows)
    np.savez(workdir / 'probe_windows.npz', **results.arrays)
    markdown = _markdown(self.settings, evaluation.pretrained, results, evaluation.seconds)
    outputs['probe_results.md'] = workdir / 'probe_results.md'
    outputs['probe_results.md'].write_text(markdown)
    return outputs


def run(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
  """The `linear_probe` job: evaluates `config.checkpoint`, writes the outputs to `workdir`."""
  check_job_config(config)
  evaluator = LinearProbe(config)
  workdir = Path(workdir)
  is_chief = jax.process_index() == 0
  if is_chief:
    workdir.mkdir(parents=True, exist_ok=True)
  pretrained = checkpoint.load_pretrained(config.checkpoint, config.checkpoint_step)
  mesh = sharding.make_mesh(config.mesh)
  evaluation = evaluator.evaluate(pretrained, mesh, workdir if is_chief else None)
  outputs = {}
  if is_chief:
    outputs = evaluator.write(evaluation, workdir)
    print(outputs['probe_results.md'].read_text())
  return {
    'checkpoint_step': pretrained.step,
    'seconds': evaluation.seconds,
    'outputs': {k: str(v) for k, v in outputs.items()},
    'plots': evaluation.results.plots,
    'probe_rows': evaluation.results.probe_rows,
    'scalars': evaluator.scalars(evaluation),
  }
