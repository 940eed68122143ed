"""A corpus of malformed inputs: each fails with ONE line naming the file, key or value.

Every case makes one bad input (a config value, a data file, an `Embedder` argument, a
checkpoint of another architecture) and calls the function that validates it. The test fails on
a silent result (nothing raised), a traceback or several lines in the message, or a vague one
(the message must contain the named key/file/value and what was expected). Every case runs
in-process: the command line's flag parsing through `main.parse_flags` on flags defined afresh
per argument list, and one real `python -m mujo_jax.main` run checks the entry point itself.

Data that the layouts allow to be missing (NaN gaps in an MM-Fit stream, a workout without the
left phone, a FiMAD clip no split lists) is not an error: `LEGITIMATELY_MISSING` checks that it is
masked and counted instead.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import ml_collections
import numpy as np
import pytest
from absl import flags as flags_lib

from configs import pretrain
from mujo_jax import checkpoint, config_validation, distributed, sharding
from mujo_jax.data import datasets, synthetic_source
from mujo_jax.facts import fimad_layout, mmfit_layout, skeleton, units
from mujo_jax.inference import Embedder
from mujo_jax.synthesis import corpus
from tfds_builders.mmfit import reader as mmfit_reader

REPO = Path(__file__).resolve().parents[1]
MMFIT_DUMMY = REPO / 'tfds_builders' / 'mmfit' / 'dummy_data'
FIMAD_DUMMY = REPO / 'tfds_builders' / 'fimad' / 'dummy_data'
FIMAD_CLIP = '4HWtV4KnZYg___2'  # Has every file, IMU at all 16 sites included.
WORKOUT = 'w09'


@dataclasses.dataclass(frozen=True)
class Case:
  """One malformed input: `run(tmp)` makes it under `tmp` and calls the validating function."""

  category: str
  name: str
  run: Callable[[Path], Any]
  contains: tuple[str, ...]  # Substrings the one-line message must contain.
  error: type[Exception] = ValueError


CASES: list[Case] = []


def case(category: str, name: str, *contains: str, error: type[Exception] = ValueError):
  def register(run: Callable[[Path], Any]) -> Callable[[Path], Any]:
    CASES.append(Case(category, name, run, contains, error))
    return run

  return register


# ---------------------------------------------------------------- configs


def _config(arg: str = 'size=tiny,batch_size=16', **values: Any) -> ml_collections.ConfigDict:
  """`configs/pretrain.py:arg` with `values` set by dotted key (`model.width=...`)."""
  # Set in the plain dict: a config read from JSON or written in Python has no type checks.
  config = pretrain.get_config(arg).to_dict()
  for key, value in values.items():
    *sections, leaf = key.split('.')
    target = config
    for part in sections:
      target = target[part]
    target[leaf] = value
  return ml_collections.ConfigDict(config)


def _resolve(**values: Any) -> Callable[[Path], Any]:
  return lambda tmp: config_validation.resolve_pretrain_config(_config(**values))


def _config_cases() -> None:
  table = [
    ('unknown model key', {'model.widht': 64}, ('config.model', "'widht'", 'known')),
    ('unknown augment key', {'augment.rotation_deg': 5.0}, ('augment', "'rotation_deg'", 'known')),
    ('unknown optim key', {'optim.lr': 1e-3}, ('optim', "'lr'", 'known')),
    ('unknown data key', {'data.imu_rate': 50.0}, ('data', "'imu_rate'", 'known')),
    ('negative batch size', {'batch_size': -8}, ('batch_size=-8', 'positive integer')),
    ('bool batch size', {'batch_size': True}, ('batch_size=True', 'positive integer')),
    ('string total_steps', {'total_steps': '100'}, ("total_steps='100'", 'positive integer')),
    ('string window_s', {'window_s': '5'}, ("window_s='5'", 'positive number')),
    ('accum_steps does not divide', {'accum_steps': 3}, ('batch_size=16', 'accum_steps=3')),
    ('unknown accum mode', {'accum_mode': 'lazy'}, ("accum_mode='lazy'", 'exact')),
    ('zero imu rate', {'data.imu_rate_hz': 0.0}, ('data.imu_rate_hz=0.0', '> 0')),
    ('string pose fps', {'data.pose_fps': 'thirty'}, ("data.pose_fps='thirty'", 'positive')),
    ('window not a patch multiple', {'window_s': 4.3}, ('window_s=4.3', 'model patch')),
    ('unknown site', {'data.imu_sites': ('left_wrist', 'left_pinky')}, ('left_pinky', 'known')),
    ('repeated site', {'data.imu_sites': ('head', 'head')}, ('head', 'repeated')),
    ('unknown modality', {'modalities': ('imu', 'smell')}, ("'smell'",)),
    ('site dropout of 1', {'augment.site_dropout': 1.0}, ('augment.site_dropout', '< 1')),
    ('negative rotation', {'augment.imu_rotation_deg': -1.0}, ('augment.imu_rotation_deg', '>= 0')),
    ('negative learning rate', {'optim.learning_rate': -1e-3}, ('optim.learning_rate', '> 0')),
    ('nan learning rate', {'optim.learning_rate': float('nan')}, ('optim.learning_rate=nan',)),
    ('b2 of 1', {'optim.b2': 1.0}, ('optim.b2=1.0', '[0, 1)')),
    ('negative warmup', {'optim.warmup_steps': -5}, ('optim.warmup_steps=-5', '>= 0')),
    ('zero clip norm', {'optim.grad_clip_norm': 0.0}, ('optim.grad_clip_norm=0.0', '> 0')),
    ('unknown dtype', {'model.dtype': 'float13'}, ("'float13'",)),
    ('unknown loss', {'loss.type': 'triplet'}, ("loss.type='triplet'", 'clip')),
    ('unknown size', {'model.size': 'huge'}, ("'huge'",)),
    ('two-value tubelet', {'model.video_tubelet': (5, 16)}, ('model.video_tubelet', '(frames')),
    ('unknown strategy', {'multitask.strategy': 'bogus'}, ("'bogus'", 'round_robin')),
    ('negative workers', {'data.num_workers': -1}, ('data.num_workers=-1', '>= 0')),
    (
      'pronation dropout of 1',
      {'augment.forearm_pronation_dropout': 1.0},
      ('augment.forearm_pronation_dropout=1.0', '[0, 1)'),
    ),
    ('string pose_forearm_roll', {'model.pose_forearm_roll': 'yes'}, ('model.pose_forearm_roll',)),
  ]
  for name, values, contains in table:
    case('config', name, *contains)(_resolve(**values))


_config_cases()


@case('config', 'unknown variant key', "'sise'", 'known')
def _(tmp):
  pretrain.get_config('sise=tiny')


@case('config', 'variant of the wrong type', 'batch_size', 'integer')
def _(tmp):
  pretrain.get_config('batch_size=many')


@case('config', 'unknown strategy in the variant', "multitask.strategy='bogus'", 'anchored')
def _(tmp):
  pretrain.get_config('strategy=bogus')


@case('config', 'anchor not a modality', "'smell'", 'anchor')
def _(tmp):
  config_validation.resolve_pretrain_config(_config('size=tiny,strategy=anchored,anchor=smell'))


@case('config', 'mesh larger than the devices', 'config.mesh', 'needs 64 devices', 'have')
def _(tmp):
  sharding.make_mesh((('data', 64), ('fsdp', 1)))


@case('config', 'unknown mesh axis', 'config.mesh axes', "'model'")
def _(tmp):
  sharding.make_mesh((('model', -1),))


@case('config', 'unknown dataset', "config.data.name='mnist'", 'fimad', error=ValueError)
def _(tmp):
  datasets.get('mnist')


@case('config', 'missing checkpoint workdir', 'config.json', 'pretraining workdir', error=OSError)
def _(tmp):
  checkpoint.load_pretrained(tmp / 'no_such_run')


@case('config', 'workdir without checkpoints', 'no checkpoint', 'checkpoints', error=OSError)
def _(tmp):
  checkpoint.save_config(tmp, config_validation.resolve_pretrain_config(_config()))
  checkpoint.load_pretrained(tmp)


@case('config', 'exported weights without params.npz', 'params.npz', error=OSError)
def _(tmp):
  checkpoint.save_config(tmp, config_validation.resolve_pretrain_config(_config()))
  checkpoint.load_exported(tmp)


# ---------------------------------------------------------------- MM-Fit files


def _workout(tmp: Path) -> Path:
  """A fresh copy of the committed dummy workout w09 to break; returns its folder."""
  shutil.copytree(MMFIT_DUMMY / WORKOUT, tmp / WORKOUT)
  return tmp / WORKOUT


def _read_workout(tmp: Path, workout: str = WORKOUT):
  return mmfit_reader.read_workout(mmfit_reader.FolderSource(tmp), workout)


def _mmfit_file(tmp: Path, modality: str) -> Path:
  return tmp / WORKOUT / mmfit_layout.modality_file(WORKOUT, modality)


def _mmfit_array(modality: str, transform: Callable[[np.ndarray], np.ndarray]):
  def run(tmp: Path):
    _workout(tmp)
    path = _mmfit_file(tmp, modality)
    np.save(path, transform(np.load(path)))
    _read_workout(tmp)

  return run


def _scaled_columns(columns: slice, factor: float) -> Callable[[np.ndarray], np.ndarray]:
  def transform(array: np.ndarray) -> np.ndarray:
    array = array.copy()
    array[:, columns] *= factor
    return array

  return transform


def _nan_rows(array: np.ndarray) -> np.ndarray:
  array = array.copy()
  array[100:300, 2] = np.inf  # ~16 % of the rows: more than the 5 % that may be bridged.
  return array


def _nan_pose(array: np.ndarray) -> np.ndarray:
  array = array.copy()
  array[:, 50:90, 3] = np.nan  # 40 frames: more than the 15 that are interpolated.
  return array


def _mmfit_array_cases() -> None:
  table = [
    ('acc in g', 'sw_l_acc', _scaled_columns(slice(2, 5), 1 / 9.81), ('w09_sw_l_acc.npy', 'g')),
    ('gyro in deg/s', 'sw_l_gyr', _scaled_columns(slice(2, 5), 180 / np.pi), ('sw_l_gyr', 'deg/s')),
    (
      'pose in metres',
      'pose_3d',
      lambda a: np.concatenate([a[:, :, :1], a[:, :, 1:] / 1000], -1),
      ('w09_pose_3d.npy', 'millimetres'),
    ),
    ('inf in many acc rows', 'sw_r_acc', _nan_rows, ('w09_sw_r_acc.npy', 'non-finite', '5%')),
    ('long NaN pose stretch', 'pose_3d', _nan_pose, ('w09_pose_3d.npy', '40 consecutive', '15')),
    ('sensor of 4 columns', 'sp_r_acc', lambda a: a[:, :4], ('w09_sp_r_acc.npy', '(N, 5)')),
    ('pose of 16 joints', 'pose_3d', lambda a: a[:, :, :17], ('w09_pose_3d.npy', '(3, N, 18)')),
    ('complex sensor', 'eb_l_gyr', lambda a: a.astype(np.complex64), ('eb_l_gyr', 'numeric')),
    ('string sensor', 'eb_l_acc', lambda a: a.astype(str), ('w09_eb_l_acc.npy', 'numeric')),
    ('pose frames reversed', 'pose_3d', lambda a: a[:, ::-1], ('w09_pose_3d.npy', 'increasing')),
    ('fractional frames', 'sw_l_acc', _scaled_columns(slice(0, 1), 1.5), ('sw_l_acc', 'whole')),
  ]
  for name, modality, transform, contains in table:
    case('mmfit', name, *contains)(_mmfit_array(modality, transform))


_mmfit_array_cases()


@case('mmfit', 'truncated npy', 'w09_sw_r_gyr.npy', 'truncated', 'header promises')
def _(tmp):
  path = _mmfit_file(_workout(tmp).parent, 'sw_r_gyr')
  path.write_bytes(path.read_bytes()[:-100])
  _read_workout(tmp)


@case('mmfit', 'not an npy file', 'w09_sw_l_acc.npy', 'not a valid .npy')
def _(tmp):
  _workout(tmp)
  _mmfit_file(tmp, 'sw_l_acc').write_bytes(b'frame,timestamp,x,y,z\n1,2,3,4,5\n')
  _read_workout(tmp)


@case('mmfit', 'missing pose_3d', 'w09_pose_3d.npy', 'required', error=FileNotFoundError)
def _(tmp):
  _workout(tmp)
  _mmfit_file(tmp, 'pose_3d').unlink()
  _read_workout(tmp)


@case('mmfit', 'missing labels', 'w09_labels.csv', 'missing', error=FileNotFoundError)
def _(tmp):
  (_workout(tmp) / mmfit_layout.labels_file(WORKOUT)).unlink()
  _read_workout(tmp)


def _labels(line: str) -> Callable[[Path], Any]:
  def run(tmp: Path):
    path = _workout(tmp) / mmfit_layout.labels_file(WORKOUT)
    rows = path.read_text().splitlines()
    path.write_text('\n'.join([line, *rows[1:]]) + '\n')
    _read_workout(tmp)

  return run


for _name, _line, _contains in [
  ('CSV row of 3 fields', '100,200,5', ('w09_labels.csv', 'line 1', 'expected 4')),
  ('CSV unknown activity', '100,200,5,yoga', ('w09_labels.csv', "'yoga'", 'squats')),
  ('CSV start after end', '200,100,5,squats', ('w09_labels.csv', 'line 1', 'start < end')),
  ('CSV non-integer frame', 'abc,200,5,squats', ('w09_labels.csv', "'abc'", 'integers')),
  ('CSV set beyond the pose', '100,99999,5,squats', ('w09_labels.csv', '99999', 'pose frame')),
]:
  case('mmfit', _name, *_contains)(_labels(_line))


@case('mmfit', 'no MM-Fit in manual_dir', 'MM-Fit not found', 'mm-fit.zip', error=OSError)
def _(tmp):
  (tmp / 'notes.txt').write_text('nothing here')
  mmfit_reader.find_source(tmp)


@case('mmfit', 'timestamps out of order', 'w09_sw_l_acc.npy', 'timestamps decrease')
def _(tmp):
  _workout(tmp)
  path = _mmfit_file(tmp, 'sw_l_acc')
  data = np.load(path)
  data[100:400, 1] = data[100:400, 1][::-1]
  np.save(path, data)
  _read_workout(tmp)


# ---------------------------------------------------------------- FiMAD files


def _fimad(tmp: Path) -> Path:
  """A fresh copy of the committed FiMAD dummy manual directory."""
  shutil.copytree(FIMAD_DUMMY, tmp / 'manual')
  return tmp / 'manual'


@functools.cache
def _fimad_builder(data_dir: str):
  from tfds_builders.fimad import fimad_dataset_builder

  return fimad_dataset_builder.Builder(config='features', data_dir=data_dir)


def _read_clip(tmp: Path, manual: Path, clip_id: str = FIMAD_CLIP):
  return _fimad_builder(str(tmp / 'tfds'))._read_clip(manual, clip_id, {})


def _fimad_array(kind: str, transform: Callable[[np.ndarray], np.ndarray]):
  def run(tmp: Path):
    manual = _fimad(tmp)
    path = getattr(fimad_layout.clip_paths(manual, FIMAD_CLIP), kind)
    np.save(path, transform(np.load(path)))
    _read_clip(tmp, manual)

  return run


def _scale_last(columns: slice, factor: float) -> Callable[[np.ndarray], np.ndarray]:
  def transform(array: np.ndarray) -> np.ndarray:
    array = array.copy()
    array[..., columns] *= factor
    return array

  return transform


def _with_nan(array: np.ndarray) -> np.ndarray:
  array = array.astype(np.float32)
  array[5, 3] = np.nan
  return array


def _fimad_array_cases() -> None:
  clip = FIMAD_CLIP
  table = [
    ('pose of 16 joints', 'pose', lambda a: a[:, :16], (clip, 'pose/', '(T>=2, 17, 3)')),
    ('pose with NaN', 'pose', _with_nan, (clip, 'pose/', 'non-finite')),
    ('integer pose', 'pose', lambda a: (a * 1000).astype(np.int32), (clip, 'pose/', 'float')),
    ('pose in mm', 'pose', lambda a: a * 1000, (clip, 'pose/', 'millimetres')),
    ('imu in g', 'imu', _scale_last(slice(0, 3), 1 / 9.81), (clip, 'imu/', 'units of g')),
    ('gyro in deg/s', 'imu', _scale_last(slice(3, 6), 180 / np.pi), (clip, 'imu/', 'deg/s')),
    ('imu without gravity', 'imu', _scale_last(slice(0, 3), 0.0), (clip, 'imu/', 'gravity')),
    ('imu of 5 sites', 'imu', lambda a: a[:, :5], (clip, 'imu/', '(T, 16, 6)')),
    ('imu with inf', 'imu', lambda a: a * np.inf, (clip, 'imu/', 'non-finite')),
    ('video features of 1-D', 'video_features', lambda a: a[:, 0], (clip, '(T, F)')),
  ]
  for name, kind, transform, contains in table:
    case('fimad', name, *contains, error=fimad_layout.CorruptClipError)(
      _fimad_array(kind, transform)
    )


_fimad_array_cases()


@case('fimad', 'float video frames', FIMAD_CLIP, 'video_frames/', 'uint8', error=ValueError)
def _(tmp):
  path = fimad_layout.clip_paths(_fimad(tmp), FIMAD_CLIP).video_frames_npy
  np.save(path, np.load(path) / 255.0)
  fimad_layout.read_video_frames_npy(FIMAD_CLIP, path)


@case('fimad', 'truncated pose', FIMAD_CLIP, 'pose/', 'cannot be read as .npy')
def _(tmp):
  manual = _fimad(tmp)
  path = fimad_layout.clip_paths(manual, FIMAD_CLIP).pose
  path.write_bytes(path.read_bytes()[:200])
  _read_clip(tmp, manual)


def _meta(update: dict[str, Any]) -> Callable[[Path], Any]:
  def run(tmp: Path):
    manual = _fimad(tmp)
    path = fimad_layout.clip_paths(manual, FIMAD_CLIP).meta
    meta = json.loads(path.read_text())
    meta.update(update)
    path.write_text(json.dumps(meta))
    _read_clip(tmp, manual)

  return run


for _name, _update, _contains in [
  ('negative pose rate', {'pose_fps': -30}, ("'pose_fps'", '-30', 'positive')),
  ('rate as a string', {'imu_rate_hz': '50'}, ("'imu_rate_hz'", "'50'", 'positive')),
  ('unknown IMU site', {'imu_sites': ['head'] * 15 + ['left_pinky']}, ('left_pinky', 'meta/')),
  ('label not a string', {'label': 3}, ("'label'", 'string', 'meta/')),
]:
  case('fimad', _name, *_contains, error=fimad_layout.CorruptClipError)(_meta(_update))


@case('fimad', 'meta not JSON', FIMAD_CLIP, 'meta/', 'not valid JSON')
def _(tmp):
  manual = _fimad(tmp)
  fimad_layout.clip_paths(manual, FIMAD_CLIP).meta.write_text('{"pose_fps": 30,')
  _read_clip(tmp, manual)


def _split_file(content: str) -> Callable[[Path], Any]:
  def run(tmp: Path):
    path = tmp / fimad_layout.SPLIT_FILE
    path.write_text(content)
    fimad_layout.read_split_file(path)

  return run


for _name, _content, _contains in [
  ('split file not JSON', '{"train": [', ('train_val_split.json', 'not valid JSON')),
  ('split file without val', '{"train": ["a___1"]}', ('train_val_split.json', "'val'")),
  ('split file a list', '["a___1"]', ('train_val_split.json', 'JSON object')),
  ('clip in both splits', '{"train": ["a___1"], "val": ["a___1"]}', ('both splits', 'a___1')),
  ('clip id not a string', '{"train": [7], "val": []}', ('train_val_split.json', 'clip id 7')),
]:
  case('fimad', _name, *_contains)(_split_file(_content))


@case('fimad', 'split file missing', 'train_val_split.json', 'does not exist', error=OSError)
def _(tmp):
  fimad_layout.read_split_file(tmp / fimad_layout.SPLIT_FILE)


@case('fimad', 'language field of numbers', "language field 'chapter'", 'string')
def _(tmp):
  fimad_layout.parse_language_entry({'chapter': [1, 2]}, FIMAD_CLIP, tmp / 'language_data.json')


@case('fimad', 'language file a list', 'language_data.json', 'JSON object')
def _(tmp):
  path = tmp / fimad_layout.LANGUAGE_FILE
  path.write_text('[]')
  fimad_layout.read_language_file(path)


# ---------------------------------------------------------------- synthetic builder


def _corpus_config(**changes: Any) -> Callable[[Path], Any]:
  return lambda tmp: dataclasses.replace(corpus.CONFIGS['tiny'], **changes)


for _name, _changes, _contains in [
  ('too few subjects', {'num_subjects': 1}, ('num_subjects', 'got 1', '>= 3')),
  ('a split without clips', {'num_clips': {'train': 4, 'validation': 0, 'test': 1}}, ('0',)),
  ('an unknown split', {'num_clips': {'train': 4, 'dev': 1}}, ('splits', 'dev')),
  ('clip of half a second', {'clip_s': 0.5}, ('clip_s', '0.5')),
  ('unknown vocabulary', {'vocabulary': 'klingon'}, ("'klingon'", 'mmfit')),
  ('transition fraction of 2', {'transition_fraction': 2.0}, ('transition_fraction', '2.0')),
]:
  case('synthetic', _name, *_contains)(_corpus_config(**_changes))


@case('synthetic', 'unknown builder config', "'huge'", 'tiny')
def _(tmp):
  synthetic_source.ensure_built('huge', tmp)


@case('synthetic', 'unknown data.builder_config', 'config.data.builder_config', "'huge'")
def _(tmp):
  datasets.corpus_config(_config(**{'data.builder_config': 'huge'}))


@case('synthetic', 'video from the wearables corpus', 'video', "'wearables_tiny'")
def _(tmp):
  config = config_validation.resolve_pretrain_config(
    _config(**{'data.builder_config': 'wearables_tiny'})
  )
  datasets.source(config, 'train')


@case('synthetic', 'forearm roll from a corpus without it', 'pose_forearm_roll', "'default'")
def _(tmp):
  config = config_validation.resolve_pretrain_config(_config(**{'model.pose_forearm_roll': True}))
  datasets.source(config, 'train')


@case('synthetic', 'site the corpus lacks', 'config.data.imu_sites', 'left_ankle')
def _(tmp):
  config = config_validation.resolve_pretrain_config(
    _config(**{'data.imu_sites': ('left_wrist', 'left_ankle')})
  )
  datasets.source(config, 'train')


@case('synthetic', 'bad worker count', 'MUJO_SYNTHETIC_WORKERS', "'two'")
def _(tmp):
  from tfds_builders.mujo_synthetic import mujo_synthetic_dataset_builder as builder

  os.environ['MUJO_SYNTHETIC_WORKERS'] = 'two'
  try:
    builder._num_workers(10)
  finally:
    del os.environ['MUJO_SYNTHETIC_WORKERS']


# ---------------------------------------------------------------- Embedder


@functools.cache
def _embedder() -> Embedder:
  """The shipped model (IMU, pose, text; no video): validation runs before any compute."""
  return Embedder.from_pretrained()


SITES = ('left_wrist', 'right_wrist')


def _imu(seconds: float = 12.0, rate_hz: float = 50.0, num_sites: int = 2) -> np.ndarray:
  """Plausible wrist IMU: gravity plus motion, about 1 rad/s of rotation."""
  times = np.arange(int(seconds * rate_hz)) / rate_hz
  wave = np.sin(2 * np.pi * 0.5 * times)[:, None, None]
  acc = np.broadcast_to([0.0, 0.0, 9.81], (len(times), num_sites, 3)) + 2.0 * wave
  gyr = np.broadcast_to([1.0, 0.3, 0.2], (len(times), num_sites, 3)) * (1.0 + 0.5 * wave)
  return np.concatenate([acc, gyr], -1).astype(np.float32)


def _pose(seconds: float = 12.0, fps: float = 30.0) -> np.ndarray:
  frames = int(seconds * fps)
  rotations = np.tile(np.eye(3), (frames, skeleton.NUM_H36M_JOINTS, 1, 1))
  root = np.tile([0.0, 0.0, 1.0], (frames, 1))
  return skeleton.forward_kinematics(rotations, skeleton.rest_offsets(), root).astype(np.float32)


def _embed_imu(imu=None, rate_hz=50.0, sites=SITES, **kwargs) -> Callable[[Path], Any]:
  return lambda tmp: _embedder().embed_imu(
    _imu() if imu is None else imu(), rate_hz, sites, **kwargs
  )


def _embed_pose(pose=None, fps=30.0, **kwargs) -> Callable[[Path], Any]:
  return lambda tmp: _embedder().embed_pose(_pose() if pose is None else pose(), fps, **kwargs)


def _with(array: np.ndarray, index: Any, value: float) -> np.ndarray:
  array = array.copy()
  array[index] = value
  return array


def _embedder_cases() -> None:
  table = [
    ('imu of one site for two', _embed_imu(lambda: _imu()[:, :1]), ('(T, 2, 6)', 'left_wrist')),
    ('imu without gyro', _embed_imu(lambda: _imu()[..., :3]), ('(T, 2, 6)', 'gyr')),
    ('imu all NaN', _embed_imu(lambda: np.full_like(_imu(), np.nan)), ('imu', 'all NaN')),
    ('imu with inf', _embed_imu(lambda: _with(_imu(), (5, 0, 0), np.inf)), ('imu', 'inf')),
    ('imu in g', _embed_imu(lambda: _imu() * ([1 / 9.81] * 3 + [1.0] * 3)), ('units of g',)),
    ('gyro in deg/s', _embed_imu(lambda: _imu() * ([1.0] * 3 + [57.3] * 3)), ('deg/s',)),
    ('imu of strings', _embed_imu(lambda: _imu().astype(str)), ('imu', 'dtype', 'float')),
    ('unknown site', _embed_imu(sites=('left_wrist', 'left_pinky')), ("'left_pinky'", 'known')),
    ('repeated site', _embed_imu(sites=('left_wrist', 'left_wrist')), ('left_wrist', 'repeated')),
    ('one site as a string', _embed_imu(sites='left_wristright_wrist'), ('left_wristright_wrist',)),
    ('zero rate', _embed_imu(rate_hz=0), ('rate_hz=0', 'positive')),
    ('NaN rate', _embed_imu(rate_hz=float('nan')), ('rate_hz=nan',)),
    ('rate as a string', _embed_imu(rate_hz='50'), ("rate_hz='50'",)),
    ('negative hop', _embed_imu(hop_s=-1.0), ('hop_s=-1.0',)),
    ('unknown pool', _embed_imu(pool='max'), ("pool='max'", "'mean'")),
    ('imu too short', _embed_imu(lambda: _imu(seconds=2.0)), ('shorter than one', '5 s')),
    ('pose in mm', _embed_pose(lambda: _pose() * 1000), ('pose', 'millimetres')),
    ('pose of 18 joints', _embed_pose(lambda: np.zeros((300, 18, 3))), ('(300, 18, 3)', '17')),
    ('pose with NaN', _embed_pose(lambda: _with(_pose(), (3, 4, 0), np.nan)), ('pose', 'finite')),
    ('zero pose fps', _embed_pose(fps=0.0), ('fps=0.0', 'positive')),
    ('pose too short', _embed_pose(lambda: _pose(seconds=1.0)), ('pose', 'shorter than one')),
  ]
  for name, run, contains in table:
    case('embedder', name, *contains)(run)


_embedder_cases()


@case('embedder', 'one text instead of a list', 'list of str')
def _(tmp):
  _embedder().embed_text('squats')


@case('embedder', 'texts of numbers', 'list of str')
def _(tmp):
  _embedder().embed_text([1, 2])


@case('embedder', 'video for a model without video', 'no video encoder', 'imu')
def _(tmp):
  _embedder().embed_video(np.zeros((100, 32, 32, 1), np.uint8), 10.0)


@case('embedder', 'batch size of zero', 'batch_size=0', 'positive')
def _(tmp):
  Embedder(_embedder().pretrained, batch_size=0)


# ---------------------------------------------------------------- checkpoints


def _with_params(params: Any) -> checkpoint.Pretrained:
  shipped = _embedder().pretrained
  return dataclasses.replace(shipped, params=params)


@case('checkpoint', 'params of another width', 'params/', 'checkpoint has', 'the config needs')
def _(tmp):
  config = _embedder().config
  smaller = ml_collections.ConfigDict(config.to_dict())
  smaller.model.width = 32
  params = jax.tree.map(lambda leaf: np.zeros(leaf.shape, leaf.dtype), _abstract_params(smaller))
  Embedder(_with_params(params))


@case('checkpoint', 'a parameter missing', 'params/', 'missing')
def _(tmp):
  params = jax.tree.map(np.asarray, _embedder().pretrained.params)
  del params['loss_head']
  Embedder(_with_params(params))


@case('checkpoint', 'pickled object array in params.npz', 'params.npz', 'pickle')
def _(tmp):
  shipped = REPO / 'mujo_jax' / 'pretrained' / 'wearables_small'
  shutil.copy(shipped / checkpoint.CONFIG_FILE, tmp / checkpoint.CONFIG_FILE)
  np.savez(tmp / checkpoint.WEIGHTS_FILE, **{'params/evil': np.array([{'x': 1}], dtype=object)})
  checkpoint.load_exported(tmp)


def _abstract_params(config: ml_collections.ConfigDict) -> Any:
  from mujo_jax.data import schema
  from mujo_jax.models import joint

  model = joint.build_model(joint.JointModelSpec.from_config(config))
  batch = schema.dummy_batch(config, 1)
  return jax.eval_shape(lambda: joint.init_params(model, jax.random.key(0), batch))


# ---------------------------------------------------------------- security: no code, no escape


class _Evil:
  """Unpickling this would run code; the readers must refuse to unpickle anything."""

  def __reduce__(self):
    return (os.system, ('touch /tmp/mujo_bad_inputs_pwned',))


def _pickled_npy(path: Path) -> None:
  np.save(path, np.array([_Evil()], dtype=object), allow_pickle=True)


@case('security', 'pickled object array in an MM-Fit .npy', 'w09_sw_l_acc.npy', 'numeric')
def _(tmp):
  _workout(tmp)
  _pickled_npy(_mmfit_file(tmp, 'sw_l_acc'))
  _read_workout(tmp)


@case(
  'security',
  'pickled object array in a FiMAD .npy',
  FIMAD_CLIP,
  'pose/',
  'allow_pickle=False',
  error=fimad_layout.CorruptClipError,
)
def _(tmp):
  manual = _fimad(tmp)
  _pickled_npy(fimad_layout.clip_paths(manual, FIMAD_CLIP).pose)
  _read_clip(tmp, manual)


for _name, _clip_id in [
  ('parent dirs in a FiMAD clip id', '../../etc/passwd'),
  ('absolute FiMAD clip id', '/etc/passwd'),
  ('backslash FiMAD clip id', '..\\secret'),
  ('FiMAD clip id of ..', '..'),
]:
  case('security', _name, 'train_val_split.json', 'file-name-safe')(
    _split_file(json.dumps({'train': ['ok___1', _clip_id], 'val': []}))
  )


@case('security', 'parent dirs in an MM-Fit workout id', "'../inner/w09'", 'wNN')
def _(tmp):
  _workout(tmp / 'inner')
  _read_workout(tmp / 'inner', '../inner/w09')


@case('security', 'absolute MM-Fit workout id', '/tmp', 'wNN')
def _(tmp):
  _read_workout(tmp, str(_workout(tmp)))


@case('security', 'MM-Fit workout id with a newline', "'w09\\n'", 'wNN')
def _(tmp):
  mmfit_layout.workout_number('w09\n')


@case('security', 'FiMAD clip path outside the manual dir', "'../x'", 'file-name-safe')
def _(tmp):
  fimad_layout.clip_paths(tmp, '../x')


# ---------------------------------------------------------------- the corpus test


@pytest.mark.parametrize('bad', CASES, ids=[f'{c.category}:{c.name}' for c in CASES])
def test_bad_input_gives_one_clear_line(bad: Case, tmp_path):
  try:
    result = bad.run(tmp_path)
  except Exception as error:  # noqa: BLE001 - the type is checked below, with the message.
    message = str(error)
    assert isinstance(error, bad.error), f'{type(error).__name__}: {message}'
    assert '\n' not in message.strip() and 'Traceback' not in message, message
    missing = [s for s in bad.contains if s not in message]
    assert not missing, f'message {message!r} lacks {missing}'
  else:
    pytest.fail(f'no error for {bad.name}: returned {type(result).__name__}')


def test_corpus_covers_every_kind_of_input():
  counts: dict[str, int] = {}
  for bad in CASES:
    counts[bad.category] = counts.get(bad.category, 0) + 1
  assert len(CASES) >= 40 and len({(c.category, c.name) for c in CASES}) == len(CASES)
  assert set(counts) == {
    'config', 'mmfit', 'fimad', 'synthetic', 'embedder', 'checkpoint', 'security'
  }, counts  # fmt: skip
  assert not os.path.exists('/tmp/mujo_bad_inputs_pwned')


# ---------------------------------------------------------------- legitimately missing data


def test_mmfit_short_nan_gaps_are_masked_and_counted(tmp_path):
  _workout(tmp_path)
  path = _mmfit_file(tmp_path, 'sw_l_acc')
  data = np.load(path)
  data[200:204, 3] = np.nan  # 4 rows of ~1,200: bridged, counted, not an error.
  np.save(path, data)
  example, report = _read_workout(tmp_path)
  assert report.repairs['sw_l_acc:non_finite_rows_dropped'] == 4
  assert np.isfinite(example['imu']['sw_l']).any()


def test_mmfit_long_sensor_gap_is_nan_not_an_error(tmp_path):
  _workout(tmp_path)
  path = _mmfit_file(tmp_path, 'eb_l_acc')
  data = np.load(path)
  np.save(path, np.delete(data, np.s_[300:500], axis=0))  # ~2 s without rows.
  example, _ = _read_workout(tmp_path)
  earbud = example['imu']['eb_l']
  assert np.isnan(earbud).any() and np.isfinite(earbud).any()


def test_mmfit_absent_device_is_marked_not_present(tmp_path):
  _workout(tmp_path)
  for modality in ('sp_r_acc', 'sp_r_gyr', 'sp_r_mag'):
    _mmfit_file(tmp_path, modality).unlink()
  example, report = _read_workout(tmp_path)
  assert not example['present']['sp_r_acc'] and example['imu']['sp_r'].shape == (0, 6)
  assert 'sp_r_acc' in report.missing


def test_fimad_clip_without_meta_is_skipped_and_counted(tmp_path):
  manual = _fimad(tmp_path)
  fimad_layout.clip_paths(manual, FIMAD_CLIP).meta.unlink()
  assert _read_clip(tmp_path, manual) == (None, 'no_meta_file')


def test_embedder_nan_site_is_masked_not_an_error():
  imu = _imu()
  imu[:, 1] = np.nan  # The right wrist is missing: embedded as the left wrist alone.
  with_gap = _embedder().embed_imu(imu, 50.0, SITES)
  alone = _embedder().embed_imu(imu[:, :1], 50.0, SITES[:1])
  np.testing.assert_allclose(with_gap, alone, atol=2e-5)


def test_acc_in_g_advice_is_the_exact_conversion():
  # A still watch in g (gravity on z): the message names 9.80665 m/s² per g, and following it
  # passes the check; the simulated world's 9.81 is not a unit conversion.
  in_g = np.tile([0.02, -0.01, 1.0], (100, 1))
  with pytest.raises(ValueError, match=r'units of g.*multiply the acceleration by 9\.80665\)'):
    units.check_acc(in_g, 'watch.csv')
  units.check_acc(in_g * units.STANDARD_GRAVITY, 'watch.csv')


# ---------------------------------------------------------------- security, statically


def _calls(root: Path, dotted: str) -> list[tuple[str, ast.Call]]:
  """Calls of `np.load` style names in every .py file under the project's code folders."""
  found = []
  for folder in ('mujo_jax', 'tfds_builders', 'configs', 'benchmarks', 'launch'):
    for path in sorted((root / folder).rglob('*.py')):
      for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in dotted.split('|'):
          found.append((f'{path.relative_to(root)}:{node.lineno}', node))
  return found


def test_every_npy_load_refuses_pickles():
  loads = _calls(REPO, 'np.load|numpy.load')
  assert loads  # The readers do load .npy files: the scan must see them.
  for where, node in loads:
    keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
    assert keywords.get('allow_pickle') == 'False', f'{where}: np.load without allow_pickle=False'


def test_no_pickle_or_code_executing_loader():
  banned = 'pickle.load|pickle.loads|torch.load|yaml.load|eval|exec|marshal.loads|dill.load'
  assert not [where for where, _ in _calls(REPO, banned)]


# ---------------------------------------------------------------- the coordinator address


def test_local_launcher_binds_the_coordinator_to_localhost(tmp_path):
  """Runs launch/local_multiprocess.sh with a `python` that prints what it was given."""
  fake = tmp_path / 'python'
  fake.write_text('#!/bin/sh\necho "$MUJO_PROCESS_ID $MUJO_COORDINATOR_ADDRESS"\n')
  fake.chmod(0o755)
  env = dict(os.environ, PATH=f'{tmp_path}:{os.environ["PATH"]}', PORT='23456')
  result = subprocess.run(
    ['bash', str(REPO / 'launch' / 'local_multiprocess.sh'), '2', '--', '--workdir=x'],
    capture_output=True,
    text=True,
    env=env,
    timeout=30,
    check=True,
  )
  assert sorted(result.stdout.split('\n')[:2]) == ['0 127.0.0.1:23456', '1 127.0.0.1:23456']


def test_initialize_from_env_passes_exactly_the_given_address(monkeypatch):
  calls = []
  monkeypatch.setattr(jax.distributed, 'initialize', lambda **kwargs: calls.append(kwargs))
  monkeypatch.setattr(jax.config, 'update', lambda *args: None)
  monkeypatch.setenv('MUJO_COORDINATOR_ADDRESS', '10.1.2.3:4567')
  monkeypatch.setenv('MUJO_NUM_PROCESSES', '2')
  monkeypatch.setenv('MUJO_PROCESS_ID', '1')
  monkeypatch.delenv('MUJO_DISTRIBUTED', raising=False)
  distributed.initialize_from_env()
  assert len(calls) == 1
  assert {k: calls[0][k] for k in ('coordinator_address', 'num_processes', 'process_id')} == {
    'coordinator_address': '10.1.2.3:4567',
    'num_processes': 2,
    'process_id': 1,
  }
  monkeypatch.setenv('MUJO_PROCESS_ID', 'one')
  with pytest.raises(ValueError, match='MUJO_PROCESS_ID'):
    distributed.initialize_from_env()


# ---------------------------------------------------------------- the command line

CLI_CASES = [
  # (arguments after the program name, substrings of the one line)
  (['--config=configs/pretrain.py:strategy=bogus'], ("multitask.strategy='bogus'", 'joint')),
  (['--config=configs/pretrain.py:sise=tiny'], ("'sise'", 'known')),
  (['--config=configs/nope.py'], ('configs/nope.py', 'not found')),
  (['--config', 'configs/nope.py:runlocal'], ('configs/nope.py', 'not found')),
  (['--config=configs/nope.py', '--config.batch_size=8'], ('configs/nope.py', 'not found')),
  (['--config=configs/pretrain.py:runlocal', '--config.unknown_key=1'], ('unknown_key', 'no key')),
  (['--config=configs/pretrain.py', '--config.model.widht=1'], ('model.widht', "'widht'")),
  (['--config=configs/pretrain.py', '--config.batch_size=many'], ('batch_size', "'many'")),
  (['--config=configs/pretrain.py', '--no_such_flag=1'], ('no_such_flag',)),
]


def _parse(argv: list[str]):
  """`main.parse_flags` on flags defined afresh for `argv` (absl parses a FlagValues once)."""
  from mujo_jax import main

  flag_values = flags_lib.FlagValues()
  config, _, _ = main.define_flags(flag_values, sys_argv=argv)
  return main.parse_flags(argv, flag_values, config)


@pytest.mark.parametrize('argv, contains', CLI_CASES, ids=[' '.join(a) for a, _ in CLI_CASES])
def test_command_line_error_is_one_line_and_exit_2(argv, contains, tmp_path, capsys):
  argv = ['mujo_jax.main', *argv, f'--workdir={tmp_path}']
  with pytest.raises(SystemExit) as exit_info:
    _parse(argv)
  stderr = capsys.readouterr().err
  assert exit_info.value.code == 2, stderr
  assert len(stderr.strip().splitlines()) == 1 and stderr.startswith('error: '), stderr
  assert all(s in stderr for s in contains), (stderr, contains)


def test_command_line_without_workdir_is_one_line(capsys):
  with pytest.raises(SystemExit) as exit_info:
    _parse(['mujo_jax.main', '--config=configs/pretrain.py'])
  assert exit_info.value.code == 2
  assert capsys.readouterr().err.startswith('error: flag --workdir=None')


def test_command_line_traceback_on_request(tmp_path, monkeypatch):
  argv = ['mujo_jax.main', '--config=configs/pretrain.py:strategy=bogus', f'--workdir={tmp_path}']
  with pytest.raises(flags_lib.Error, match='multitask.strategy'):
    _parse([*argv, '--verbose'])
  monkeypatch.setenv('MUJO_TRACEBACK', '1')
  with pytest.raises(AttributeError, match='unknown_key'):
    _parse(['mujo_jax.main', '--config=configs/pretrain.py', '--config.unknown_key=1', argv[2]])


def _our_lines(stderr: str) -> list[str]:
  """stderr without the C++ start-up logging of TensorFlow/XLA (`I0000 ...`, `W0000 ...`)."""
  return [
    line
    for line in stderr.splitlines()
    if line.strip()
    and not line.startswith(('I0', 'W0', 'E0', 'WARNING: All log messages before absl'))
  ]


def test_real_entry_point_prints_one_line_and_exits_2(tmp_path):
  result = subprocess.run(
    [
      sys.executable,
      '-m',
      'mujo_jax.main',
      '--config=configs/pretrain.py:strategy=bogus',
      f'--workdir={tmp_path}',
    ],
    capture_output=True,
    text=True,
    cwd=REPO,
    timeout=120,
    env=dict(os.environ, JAX_PLATFORMS='cpu'),
  )
  assert result.returncode == 2, result.stderr[-2000:]
  assert _our_lines(result.stderr) == [
    "error: --config=configs/pretrain.py:strategy=bogus: multitask.strategy='bogus': expected "
    "one of ('joint', 'round_robin', 'random_pair', 'anchored', 'uncertainty')"
  ]
