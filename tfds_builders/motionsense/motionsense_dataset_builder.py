"""MotionSense as TFDS: one example per subject and trial, the phone's IMU in project units.

Parsing and validation are in `reader.py`; every file is read and checked in
`_split_generators`, so a malformed file stops the build before anything is written. Windows
are cut later by `mujo_jax.data.motionsense`, so that window length and hop stay choices of the
experiment.
"""

from __future__ import annotations

import collections

import numpy as np
import tensorflow_datasets as tfds
from absl import logging

from mujo_jax.facts import motionsense_layout as layout

from . import reader

_HOMEPAGE = 'https://github.com/mmalekzadeh/motion-sense'


class Builder(tfds.core.GeneratorBasedBuilder):
  """MotionSense (Malekzadeh et al., IoTDI 2019): iPhone 6s in the front trouser pocket."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release: DeviceMotion as specific force + rotation rate.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
  Download from {_HOMEPAGE} (folder data/) and put in `manual_dir`:
    * `{layout.ARCHIVE}` as downloaded (read in place), or its extracted
      `{layout.FOLDER}/<act>_<trial>/sub_<n>.csv` folders (anywhere below manual_dir);
    * `{layout.SUBJECTS_FILE}` (beside the archive or anywhere below manual_dir).
  """

  def _info(self) -> tfds.core.DatasetInfo:
    def series(*shape, dtype=np.float32):
      return tfds.features.Tensor(
        shape=(None, *shape), dtype=dtype, encoding=tfds.features.Encoding.BYTES
      )

    scalar = lambda dtype, doc: tfds.features.Tensor(shape=(), dtype=dtype, doc=doc)
    features = tfds.features.FeaturesDict(
      {
        'imu': series(1, 6),
        'present': series(1, dtype=np.bool_),
        'label': series(dtype=np.int32),
        'activity': tfds.features.ClassLabel(names=layout.CLASS_NAMES),
        'attitude': series(3),
        'subject': scalar(np.int32, 'Subject code 1..24 (data_subjects_info.csv).'),
        'trial': scalar(np.int32, 'Trial number 1..16 (no 10).'),
        'first_index': scalar(np.int64, "The CSV's first index value (sample 0)."),
        'weight_kg': scalar(np.float32, 'Weight (kg).'),
        'height_cm': scalar(np.float32, 'Height (cm).'),
        'age_years': scalar(np.float32, 'Age (years).'),
        'gender': scalar(np.int32, '0 female, 1 male.'),
      }
    )
    return self.dataset_info_from_configs(
      description=(
        f'MotionSense DeviceMotion at {layout.RATE_HZ:g} Hz, one example per subject and trial. '
        f'imu (T, 1, 6) at site {layout.SITE}: acc = specific force incl. gravity in m/s^2 = '
        f'-(gravity + userAcceleration) * {layout.STANDARD_GRAVITY} (phone axes), gyr = '
        'rotationRate in rad/s; present (T, 1) False where a sample is missing (values 0, '
        'never to be read); label (T,) = the trial activity for every sample (no null class); '
        'attitude (T, 3) roll, pitch, yaw in rad. Classes: '
        + ', '.join(f'{i}={n}' for i, n in enumerate(layout.CLASS_NAMES))
        + ". Splits: the authors' trial-wise split, train = long trials 1-9, test = short "
        'trials 11-16.'
      ),
      features=features,
      homepage=_HOMEPAGE,
      metadata=tfds.core.MetadataDict(sites=[layout.SITE], rate_hz=layout.RATE_HZ),
      disable_shuffling=True,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    source = reader.find_source(dl_manager.manual_dir)
    # Everything is parsed and validated here, before any example is written.
    subjects, recordings = reader.read_all(source)
    totals: collections.Counter[str] = collections.Counter()
    for recording in recordings:
      totals.update(recording.report)
      if recording.report['absent_samples']:
        logging.info(
          'MotionSense %s: %s',
          source.describe(source.files[(recording.trial, recording.subject)]),
          dict(recording.report),
        )
    logging.info(
      'MotionSense: %d subjects, %d recordings, %d rows; masked samples: %d absent (%d '
      'inserted for index gaps, %d missing cells)',
      len(subjects),
      len(recordings),
      totals['rows'],
      totals['absent_samples'],
      totals['inserted_samples'],
      totals['missing_cells'],
    )
    return {
      split: self._generate_examples([r for r in recordings if r.trial in trials], subjects)
      for split, trials in layout.SPLITS.items()
    }

  def _generate_examples(self, recordings: list[reader.Recording], subjects):
    for recording in recordings:
      subject = subjects[recording.subject]
      label = layout.class_id(recording.trial)
      yield (
        f'{layout.trial_folder(recording.trial)}/sub_{recording.subject}',
        {
          'imu': recording.imu,
          'present': recording.present,
          'label': np.full(len(recording.imu), label, np.int32),
          'activity': label,
          'attitude': recording.attitude,
          'subject': np.int32(recording.subject),
          'trial': np.int32(recording.trial),
          'first_index': np.int64(recording.first_index),
          'weight_kg': np.float32(subject.weight_kg),
          'height_cm': np.float32(subject.height_cm),
          'age_years': np.float32(subject.age_years),
          'gender': np.int32(subject.gender),
        },
      )
