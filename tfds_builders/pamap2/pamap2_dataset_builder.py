"""PAMAP2 as TFDS: one example per subject file, the three IMUs on one uniform 100 Hz timeline.

Finding, parsing and validating the files is `reader.py`'s job; this module declares the
features and the splits. Every file is read and validated in `_split_generators`, so a missing
or malformed file stops the build with one error before anything is written. Windows are cut
later, by `mujo_jax.data.pamap2`, so that window length and stride stay choices of the
experiment rather than of the stored data.
"""

from __future__ import annotations

import collections

import numpy as np
import tensorflow_datasets as tfds
from absl import logging

from mujo_jax.facts import pamap2_layout as layout

from . import reader

_HOMEPAGE = 'https://archive.ics.uci.edu/dataset/231/pamap2+physical+activity+monitoring'


class Builder(tfds.core.GeneratorBasedBuilder):
  """PAMAP2 (Reiss and Stricker, 2012): 3 IMUs and heart rate of 9 subjects, 18 activities."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release: ±16 g acc + gyro of hand, chest, ankle at 100 Hz.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
  Download PAMAP2 from https://archive.ics.uci.edu/dataset/231 and put ONE of these in
  `manual_dir`:
    * the archive as UCI serves it, `pamap2+physical+activity+monitoring.zip`, or the
      `PAMAP2_Dataset.zip` inside it (read in place, nothing is extracted);
    * the extracted folder `PAMAP2_Dataset/` (holding Protocol/ and Optional/);
    * the folders Protocol/ and Optional/ themselves.
  Protocol/ must hold subject101.dat .. subject109.dat; Optional/, when present,
  subject101/105/106/108/109.dat.
  """

  def _info(self) -> tfds.core.DatasetInfo:
    def series(*shape, dtype=np.float32):
      # Raw bytes: a subject holds ~7 M numbers; proto value lists serialise 10x slower.
      return tfds.features.Tensor(
        shape=(None, *shape), dtype=dtype, encoding=tfds.features.Encoding.BYTES
      )

    num_imus = len(layout.IMUS)
    features = tfds.features.FeaturesDict(
      {
        'subject': tfds.features.Tensor(shape=(), dtype=np.int32, doc='PAMAP2 subject id 1NN.'),
        'session': tfds.features.Text(doc='"protocol" or "optional" (the file\'s folder).'),
        'sites': tfds.features.Tensor(
          shape=(num_imus,),
          dtype=np.str_,
          doc='Anatomical site of the hand, chest and ankle IMU (dominant side).',
        ),
        'rate_hz': tfds.features.Tensor(shape=(), dtype=np.float32),
        'start_s': tfds.features.Tensor(
          shape=(), dtype=np.float64, encoding=tfds.features.Encoding.BYTES
        ),
        'imu': series(num_imus, 6),
        'present': series(num_imus, dtype=np.bool_),
        'label': series(dtype=np.int32),
        'activity_id': series(dtype=np.int32),
        'heart_rate': series(),
      }
    )
    return self.dataset_info_from_configs(
      description=(
        'PAMAP2 subject files on a uniform 100 Hz timeline. imu (T, 3, 6): IMUs hand, chest, '
        'ankle; acc xyz from the ±16 g accelerometer (m/s², specific force incl. gravity) then '
        'gyr xyz (rad/s), NaN where `present` is False (a dropped sample; never zero-filled). '
        'label (T,): class index, -1 = no class (activityID 0 "transient", or a sample inserted '
        "for a timestamp gap). activity_id: the file's own id (-1 in gaps). heart_rate: bpm, "
        'NaN between its ~9 Hz samples. Classes: '
        + ', '.join(f'{i}={name}' for i, name in enumerate(layout.CLASS_NAMES))
        + '.'
      ),
      features=features,
      homepage=_HOMEPAGE,
      metadata=tfds.core.MetadataDict(
        class_names=list(layout.CLASS_NAMES),
        activity_ids=list(layout.ACTIVITY_NAMES),
        imus=list(layout.IMUS),
        rate_hz=layout.RATE_HZ,
      ),
      disable_shuffling=True,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    source = reader.find_source(dl_manager.manual_dir)
    recordings, reports, notes = reader.read_all(source)
    for note in notes:
      logging.warning('PAMAP2: %s', note)
    missing: collections.Counter[str] = collections.Counter()
    for report in reports:
      logging.info('PAMAP2: %s', report.summary())
      missing.update(report.missing_samples)
    logging.info(
      'PAMAP2: %d files, %d lines; missing (masked) IMU samples %s; timestamp-gap samples %d',
      len(reports),
      sum(r.lines for r in reports),
      dict(missing),
      sum(r.gap_samples for r in reports),
    )
    return {session: self._generate_examples(items) for session, items in recordings.items()}

  def _generate_examples(self, recordings: list[reader.Recording]):
    for recording in recordings:
      yield (
        f'{recording.session}/subject{recording.subject}',
        {
          'subject': np.int32(recording.subject),
          'session': recording.session,
          'sites': np.array(layout.imu_sites(recording.subject), dtype=object),
          'rate_hz': np.float32(layout.RATE_HZ),
          'start_s': np.float64(recording.start_s),
          'imu': recording.imu,
          'present': recording.present,
          'label': recording.label,
          'activity_id': recording.activity_id,
          'heart_rate': recording.heart_rate,
        },
      )
