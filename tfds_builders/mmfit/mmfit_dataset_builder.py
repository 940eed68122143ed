"""MM-Fit as TFDS: one example per workout, every stream aligned to the pose clock.

The heavy lifting (finding the files, validating them, repairing what may be repaired, resampling
the sensors onto one 50 Hz timeline) is in `reader.py`; this module only declares the features
and the splits. Windows are cut later, by `mujo_jax.data.mmfit`, so that window length and stride
stay choices of the experiment rather than of the stored data.
"""

from __future__ import annotations

import collections

import numpy as np
import tensorflow_datasets as tfds
from absl import logging

from mujo_jax.facts import mmfit_layout
from mujo_jax.facts.activities import ACTIVITIES

from . import reader

_HOMEPAGE = 'https://mmfit.github.io/'


class Builder(tfds.core.GeneratorBasedBuilder):
  """MM-Fit (Strömbäck et al., IMWUT 2020): wearable IMU, heart rate and pose of 21 workouts."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release: streams aligned to the pose clock, 50 Hz IMU.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
  Request MM-Fit from https://mmfit.github.io/ and put ONE of these in `manual_dir`:
    * the archive `mm-fit.zip` as downloaded (it is read in place, nothing is extracted);
    * the extracted folder `mm-fit/` (holding w00/ ... w20/);
    * the workout folders w00/ ... w20/ themselves.
  Each workout folder holds wNN_<modality>.npy files and the header-less wNN_labels.csv.
  Missing optional files (sp_l_*, *_hr, *_mag, pose_2d) are allowed and flagged in `present`.
  """

  def _info(self) -> tfds.core.DatasetInfo:
    def series(*shape, dtype=np.float32):
      # Raw bytes: a full workout holds ~10 M numbers; proto value lists serialise 10x slower.
      return tfds.features.Tensor(
        shape=(None, *shape), dtype=dtype, encoding=tfds.features.Encoding.BYTES
      )

    flag = lambda: tfds.features.Tensor(shape=(), dtype=np.bool_)
    features = tfds.features.FeaturesDict(
      {
        'workout': tfds.features.Text(doc='Workout id, e.g. "w03".'),
        'subject': tfds.features.Tensor(
          shape=(), dtype=np.int32, doc='MM-Fit participant id (-1 if unknown).'
        ),
        'frame': series(dtype=np.int64),
        'pose_time_s': series(dtype=np.float64),
        # Bytes: proto float lists are float32, which would round epoch milliseconds.
        'timeline_start_ms': tfds.features.Tensor(
          shape=(), dtype=np.float64, encoding=tfds.features.Encoding.BYTES
        ),
        'pose_3d': series(mmfit_layout.NUM_POSE_3D_JOINTS, 3),
        'pose_2d': series(mmfit_layout.NUM_POSE_2D_JOINTS, 2),
        'label': series(dtype=np.int32),
        'reps': series(dtype=np.int32),
        'sets': {
          'start_frame': series(dtype=np.int64),
          'end_frame': series(dtype=np.int64),
          'reps': series(dtype=np.int32),
          'label': series(dtype=np.int32),
        },
        'imu': {device: series(6) for device in mmfit_layout.DEVICES},
        'mag': {device: series(3) for device in mmfit_layout.MAG_DEVICES},
        'hr': {device: series() for device in mmfit_layout.HR_DEVICES},
        'present': {modality: flag() for modality in mmfit_layout.MODALITIES},
      }
    )
    return self.dataset_info_from_configs(
      description=(
        'MM-Fit workouts; pose_3d in metres (file axes), pose_2d in pixels, both per pose '
        'frame (30 Hz); imu (acc m/s^2, gyr rad/s), mag (uT) and hr (bpm) on a 50 Hz '
        'timeline starting at the first pose frame; NaN = not measured. Labels: '
        + ', '.join(f'{i}={name}' for i, name in enumerate(ACTIVITIES))
        + '.'
      ),
      features=features,
      homepage=_HOMEPAGE,
      # Workouts stay in id order, the order of the reference's ConcatDataset.
      disable_shuffling=True,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    source = reader.find_source(dl_manager.manual_dir)
    available = set(source.workouts())
    unknown = sorted(available - set(mmfit_layout.SUBJECT_BY_WORKOUT))
    if unknown:
      logging.warning('MM-Fit: ignoring workout folders outside w00..w20: %s', unknown)
    splits = {}
    for split, workouts in mmfit_layout.SPLITS.items():
      found = tuple(w for w in workouts if w in available)
      absent = [w for w in workouts if w not in available]
      if absent:
        logging.warning('MM-Fit: split %s lacks workouts %s', split, absent)
      if found:
        splits[split] = self._generate_examples(source, split, found)
      else:
        logging.warning(
          'MM-Fit: split %s has no workout in %s; not generated', split, dl_manager.manual_dir
        )
    if not splits:
      raise FileNotFoundError(f'MM-Fit: no workout w00..w20 in {dl_manager.manual_dir}')
    return splits

  def _generate_examples(self, source: reader.WorkoutSource, split: str, workouts: tuple[str, ...]):
    missing_counts: collections.Counter[str] = collections.Counter()
    repair_counts: collections.Counter[str] = collections.Counter()
    for workout in workouts:
      example, report = reader.read_workout(source, workout)
      logging.info('MM-Fit %s: %s', split, report.summary())
      missing_counts.update(report.missing)
      for key, count in report.repairs.items():
        repair_counts[key.split(':', 1)[1]] += count
      yield workout, example
    logging.info(
      'MM-Fit %s: %d workouts; missing files per modality: %s; repairs: %s',
      split,
      len(workouts),
      dict(sorted(missing_counts.items())) or 'none',
      dict(sorted(repair_counts.items())) or 'none',
    )
