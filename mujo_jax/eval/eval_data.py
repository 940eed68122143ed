"""The evaluation datasets: windows of each split, and the model config that reads them.

An `EvalDataset` fixes, for one downstream dataset, which split the probes are fitted on
(`fit_split`), which one chooses their regularisation (`validation_split`), which ones are
reported (`eval_splits`), and how the pretrained model must be rebuilt to read the dataset's IMU
sites. Every window carries `label` and `group` (the subject: groups never cross splits, so a
probe is always scored on people it was not fitted on).

- `synthetic`: deterministic centre windows of the synthetic corpus (`pipeline.EvalWindow`'s
  crop), splits train / validation / test with disjoint subjects.
- `mmfit`: `mujo_jax.data.mmfit.eval_windows` (reference stride 0.2 s), splits train /
  validation / test / unseen_test; IMU devices map to site names through
  `mmfit.DEVICE_SITES`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import grain
import ml_collections
import numpy as np

from mujo_jax.data import basic_motions as basic_motions_lib
from mujo_jax.data import datasets, pipeline
from mujo_jax.data import deepmimic as deepmimic_lib
from mujo_jax.data import mhealth as mhealth_lib
from mujo_jax.data import mmfit as mmfit_lib
from mujo_jax.data import motionsense as motionsense_lib
from mujo_jax.data import myogym as myogym_lib
from mujo_jax.data import pamap2 as pamap2_lib
from mujo_jax.data import shoulder_watch as shoulder_watch_lib
from mujo_jax.eval import embedding
from mujo_jax.facts import activities, pamap2_layout
from mujo_jax.synthesis import corpus

# Downstream datasets built with `tfds build` from the user's download (manual-dir builders),
# evaluated by subject-wise k-fold cross-validation.
BUILT_RECORDINGS = {
  'mhealth': mhealth_lib,
  'motionsense': motionsense_lib,
  'pamap2': pamap2_lib,
  'myogym': myogym_lib,
}
# Real recordings that install with a PyPI package (no download): name -> its module, whose
# `windows(window_s, hop_s, imu_rate_hz, pose_fps)` gives the batch-schema windows.
PACKAGED_RECORDINGS = {
  'basic_motions': basic_motions_lib,  # sktime's smartwatch set, recording-wise folds.
  'shoulder_watch': shoulder_watch_lib,  # seglearn's shoulder exercises, subject-wise folds.
  'deepmimic': deepmimic_lib,  # pybullet's motion capture with its virtual IMU.
}
DATASETS = ('synthetic', 'mmfit', *PACKAGED_RECORDINGS, *BUILT_RECORDINGS)
ALL_WINDOWS = 'all'  # The one split of a cross-validated dataset.
# Modalities a probe may use as input; text describes the class, so it is never a probe input.
PROBE_MODALITIES = ('imu', 'pose', 'video')


@dataclasses.dataclass(frozen=True, kw_only=True)
class EvalDataset:
  name: str
  model_config: ml_collections.ConfigDict  # The pretraining config, reading `sites`.
  sites: tuple[str, ...]  # Site names of the windows' IMU site axis (sites.SITES).
  modalities: tuple[str, ...]  # What the windows carry that the model can embed.
  fit_split: str
  validation_split: str
  eval_splits: tuple[str, ...]
  windows: dict[str, Any]  # split -> grain.MapDataset of un-batched windows.
  class_names: tuple[str, ...] = activities.ACTIVITIES
  # > 0: one split `all` evaluated by group-wise (subject- or recording-wise) k-fold
  # cross-validation instead of fixed fit / validation / evaluation splits; label budgets then
  # count groups (a labelled recording is the unit a user labels), not windows.
  folds: int = 0
  probe: bool = True  # False: too few windows per class for a probe (retrieval, zero-shot).
  # What a label budget counts in cross-validation: 'group' (a labelled recording: BasicMotions,
  # where a group is one 10 s recording), 'recording' (the windows' `recording` ids, where a
  # group is a person who made several: the shoulder watch set) or 'window' (subjects' datasets,
  # a group is a person).
  budget_unit: str = 'window'
  # The dataset's published evaluation split as (fit, held-out) window indices per fold, where
  # one exists (e.g. PAMAP2: subject 106 tested; MotionSense: trials 11-16 tested).
  literature_folds: tuple[tuple[np.ndarray, np.ndarray], ...] = ()

  @property
  def splits(self) -> tuple[str, ...]:
    return tuple(dict.fromkeys((self.fit_split, self.validation_split, *self.eval_splits)))


class SyntheticEvalWindow(grain.transforms.Map):
  """The centre window of a synthetic clip, with its subject as `group`."""

  def __init__(self, data_config: ml_collections.ConfigDict):
    self._config = data_config

  def map(self, record: dict[str, Any]) -> dict[str, Any]:
    window = datasets.make_window(record, None, self._config)
    window.pop('present', None)
    window['group'] = np.int32(record['subject'])
    return window


class SubjectAsGroup(grain.transforms.Map):
  def map(self, window: dict[str, Any]) -> dict[str, Any]:
    return {**window, 'group': np.int32(window['subject'])}


def _check_splits(
  name: str, eval_splits: Sequence[str], known: Sequence[str], reserved: Sequence[str]
) -> tuple[str, ...]:
  eval_splits = tuple(eval_splits)
  bad = [s for s in eval_splits if s not in known or s in reserved]
  if bad or not eval_splits:
    raise ValueError(
      f'config.{name}.eval_splits={eval_splits}: expected one or more of '
      f'{[s for s in known if s not in reserved]} ({list(reserved)} fit the '
      f'probe and choose its regularisation)'
    )
  return eval_splits


def synthetic(
  pretrain_config: ml_collections.ConfigDict, probe_config: ml_collections.ConfigDict
) -> EvalDataset:
  """Held-out subjects of the synthetic corpus, with the pretraining IMU sites."""
  settings = probe_config.synthetic
  eval_splits = _check_splits(
    'synthetic', settings.eval_splits, corpus.SPLITS, ('train', 'validation')
  )
  data_config = ml_collections.ConfigDict(pretrain_config.to_dict())
  data_config.data.name = 'synthetic'
  pretrained_on_synthetic = pretrain_config.data.name == 'synthetic'
  data_config.data.builder_config = settings.builder_config or (
    pretrain_config.data.builder_config if pretrained_on_synthetic else 'default'
  )
  stored = datasets.corpus_config(data_config)
  model_modalities = tuple(pretrain_config.modalities)
  modalities = [m for m in model_modalities if m in ('imu', 'pose', 'text')]
  if 'video' in model_modalities and pretrain_config.model.video_input == 'frames' and stored.video:
    modalities.append('video')  # The corpus has frames, not pre-extracted features.
  data_config.modalities = tuple(modalities)
  if settings.tfds_data_dir is not None:
    data_config.data.tfds_data_dir = settings.tfds_data_dir
  elif not pretrained_on_synthetic:
    data_config.data.tfds_data_dir = None
  sites = tuple(pretrain_config.data.imu_sites) if 'imu' in modalities else ()
  unknown = [s for s in sites if s not in stored.imu_sites]
  if unknown:
    raise ValueError(
      f'the checkpoint reads IMU sites {unknown} that the synthetic corpus '
      f'{data_config.data.builder_config!r} does not have ({stored.imu_sites})'
    )
  source_module = datasets.get('synthetic')
  windows = {}
  for split in ('train', 'validation') + eval_splits:
    dataset = grain.MapDataset.source(source_module.source(data_config, split))
    windows[split] = pipeline.evenly_spaced(dataset, settings.max_windows).map(
      SyntheticEvalWindow(data_config)
    )
  return EvalDataset(
    name='synthetic',
    model_config=pretrain_config,
    sites=sites,
    modalities=tuple(modalities),
    fit_split='train',
    validation_split='validation',
    eval_splits=eval_splits,
    windows=windows,
    class_names=stored.activities,
  )


def mmfit(
  pretrain_config: ml_collections.ConfigDict, probe_config: ml_collections.ConfigDict
) -> EvalDataset:
  """MM-Fit windows at the reference stride, read by a model rebuilt for MM-Fit's devices."""
  settings = probe_config.mmfit
  eval_splits = _check_splits(
    'mmfit', settings.eval_splits, mmfit_lib.SPLITS, ('train', 'validation')
  )
  for key, expected in (('imu_rate_hz', mmfit_lib.IMU_RATE_HZ), ('pose_fps', mmfit_lib.POSE_FPS)):
    if float(pretrain_config.data[key]) != expected:
      raise ValueError(
        f'the checkpoint was trained at data.{key}={pretrain_config.data[key]}, '
        f'but MM-Fit windows are at {expected}'
      )
  unknown = [d for d in settings.sites if d not in mmfit_lib.DEVICE_SITES]
  if unknown:
    raise ValueError(
      f'config.mmfit.sites has unknown devices {unknown}; expected names from '
      f'{tuple(mmfit_lib.DEVICE_SITES)}'
    )
  modalities = tuple(m for m in pretrain_config.modalities if m in ('imu', 'pose'))
  sites = tuple(mmfit_lib.DEVICE_SITES[d] for d in settings.sites) if 'imu' in modalities else ()
  model_config = embedding.with_imu_sites(pretrain_config, sites) if sites else pretrain_config
  windows = {}
  for split in ('train', 'validation') + eval_splits:
    dataset = mmfit_lib.eval_windows(
      probe_config.mmfit_data_dir,
      split,
      window_s=float(pretrain_config.window_s),
      stride_s=settings.stride_s,
      sites=tuple(settings.sites),
    )
    windows[split] = pipeline.evenly_spaced(dataset, settings.max_windows).map(SubjectAsGroup())
  return EvalDataset(
    name='mmfit',
    model_config=model_config,
    sites=sites,
    modalities=modalities,
    fit_split='train',
    validation_split='validation',
    eval_splits=eval_splits,
    windows=windows,
  )


def _unstack(arrays: dict[str, Any], keys: Sequence[str]) -> list[dict[str, np.ndarray]]:
  count = len(arrays['label'])
  return [{k: arrays[k][i] for k in keys} for i in range(count)]


def _real_recordings(
  name: str,
  arrays: dict[str, Any],
  pretrain_config: ml_collections.ConfigDict,
  settings: ml_collections.ConfigDict,
) -> EvalDataset:
  """A real dataset held in memory, read by a model rebuilt for its IMU sites."""
  modalities = tuple(m for m in pretrain_config.modalities if m in ('imu', 'pose') and m in arrays)
  sites = ()
  if 'imu' in modalities:
    # A site no window has (MHEALTH's chest: acc without gyro) is no input: the model and the
    # statistics baseline read the sites that were measured.
    worn = np.asarray(arrays['imu_sites']).any(axis=0)
    arrays = {**arrays, 'imu': arrays['imu'][:, :, worn], 'imu_sites': arrays['imu_sites'][:, worn]}
    sites = tuple(s for s, kept in zip(arrays['sites'], worn, strict=True) if kept)
  model_config = embedding.with_imu_sites(pretrain_config, sites) if sites else pretrain_config
  keys = [k for m in modalities for k in (('imu', 'imu_sites') if m == 'imu' else (m,))]
  if settings.budget_unit not in ('window', 'group', 'recording'):
    raise ValueError(
      f"{name}.budget_unit={settings.budget_unit!r}: expected 'window', 'group' or 'recording'"
    )
  if settings.budget_unit == 'recording' and 'recording' not in arrays:
    raise ValueError(f"{name}.budget_unit='recording': {name}'s windows carry no recording ids")
  meta = ['label', 'group'] + (['recording'] if 'recording' in arrays else [])
  windows = _unstack(arrays, keys + meta)
  return EvalDataset(
    name=name,
    model_config=model_config,
    sites=sites,
    modalities=modalities,
    fit_split=ALL_WINDOWS,
    validation_split=ALL_WINDOWS,
    eval_splits=(ALL_WINDOWS,),
    windows={ALL_WINDOWS: windows},
    class_names=tuple(arrays['class_names']),
    folds=int(settings.folds),
    probe=bool(settings.folds),
    budget_unit=settings.budget_unit,
  )


def _rates(pretrain_config: ml_collections.ConfigDict) -> dict[str, float]:
  """The window and rates the checkpoint reads: the real data is resampled to them."""
  return {
    'window_s': float(pretrain_config.window_s),
    'imu_rate_hz': float(pretrain_config.data.imu_rate_hz),
    'pose_fps': float(pretrain_config.data.pose_fps),
  }


def packaged_recordings(
  name: str, pretrain_config: ml_collections.ConfigDict, probe_config: ml_collections.ConfigDict
) -> EvalDataset:
  """A real dataset of `PACKAGED_RECORDINGS`, at the checkpoint's window and rates."""
  settings = probe_config[name]
  arrays = PACKAGED_RECORDINGS[name].windows(hop_s=float(settings.hop_s), **_rates(pretrain_config))
  return _real_recordings(name, arrays, pretrain_config, settings)


def _leave_one_subject_out(arrays: dict[str, Any]) -> tuple:
  groups = np.asarray(arrays['group'])
  return tuple(
    (np.flatnonzero(groups != g), np.flatnonzero(groups == g)) for g in np.unique(groups)
  )


def _pamap2_split(arrays: dict[str, Any]) -> tuple:
  # Hammerla et al. 2016: subject 105 validates (unused: C is fixed), 106 is tested.
  groups = np.asarray(arrays['group'])
  split = pamap2_layout.LITERATURE_SPLIT
  return (
    (
      np.flatnonzero(np.isin(groups, split['train'])),
      np.flatnonzero(np.isin(groups, split['test'])),
    ),
  )


def _motionsense_split(arrays: dict[str, Any]) -> tuple:
  # The authors' trial-wise split: long trials (1-9) fit, short trials (11-16) are tested.
  split = np.asarray(arrays['split'])
  return ((np.flatnonzero(split == 'train'), np.flatnonzero(split == 'test')),)


# The split papers report on (see each builder's README for the citation).
LITERATURE_SPLITS = {
  'mhealth': _leave_one_subject_out,
  'myogym': _leave_one_subject_out,
  'pamap2': _pamap2_split,
  'motionsense': _motionsense_split,
}


def built_recordings(
  name: str, pretrain_config: ml_collections.ConfigDict, probe_config: ml_collections.ConfigDict
) -> EvalDataset:
  """A downstream dataset built with `tfds build` into `<name>.data_dir`, subject-wise folds."""
  settings = probe_config[name]
  rates = _rates(pretrain_config)
  arrays = BUILT_RECORDINGS[name].windows(
    settings.data_dir,
    window_s=rates['window_s'],
    hop_s=float(settings.hop_s),
    imu_rate_hz=rates['imu_rate_hz'],
  )
  dataset = _real_recordings(name, arrays, pretrain_config, settings)
  return dataclasses.replace(dataset, literature_folds=LITERATURE_SPLITS[name](arrays))


_LOADERS = {
  'synthetic': synthetic,
  'mmfit': mmfit,
  **{name: functools.partial(packaged_recordings, name) for name in PACKAGED_RECORDINGS},
  **{name: functools.partial(built_recordings, name) for name in BUILT_RECORDINGS},
}


def load(
  name: str, pretrain_config: ml_collections.ConfigDict, probe_config: ml_collections.ConfigDict
) -> EvalDataset:
  if name not in _LOADERS:
    raise ValueError(f'config.datasets has {name!r}: expected names from {DATASETS}')
  return _LOADERS[name](pretrain_config, probe_config)
