"""MyoGym as TFDS: one example per person, the Myo's IMU at `right_forearm` in project units.

`reader.py` finds `MyoGym.mat`, validates every variable, row and id, and converts units; all
of it runs in `_split_generators`, so a malformed file stops the build before anything is
written. Windows are cut later by `mujo_jax.data.myogym`, so that window length and hop stay
choices of the experiment.

Only the IMU is stored: EMG is not a modality of the batch schema (the model has no EMG
encoder); the file's EMG (8 channels at 50 Hz, not the Myo's native 200 Hz) is validated as
part of `raw_data`'s shape but not stored. The precomputed window features are not read.
"""

from __future__ import annotations

import collections

import numpy as np
import tensorflow_datasets as tfds
from absl import logging

from mujo_jax.facts import myogym_layout as layout

from . import reader

_HOMEPAGE = 'http://www.oulu.fi/bisg/node/40364'


class Builder(tfds.core.GeneratorBasedBuilder):
  """MyoGym (Koskimäki et al., UbiComp/ISWC 2017 Adjunct): Myo armband, 30 gym exercises."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release: one example per person, 50 Hz IMU, no EMG.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
  Get MyoGym from the authors (University of Oulu, BISG open data: {_HOMEPAGE}) and put
  `{layout.FILE_NAME}` in `manual_dir` (anywhere below it), or a .zip holding it (read in
  place). Only its variables `{layout.RAW_VARIABLE}` and `{layout.LABELS_VARIABLE}` are read.
  """

  def _info(self) -> tfds.core.DatasetInfo:
    def series(*shape, dtype=np.float32):
      # Raw bytes: proto value lists serialise ~10x slower for 10^5 numbers.
      return tfds.features.Tensor(
        shape=(None, *shape), dtype=dtype, encoding=tfds.features.Encoding.BYTES
      )

    scalar = lambda doc: tfds.features.Tensor(shape=(), dtype=np.int32, doc=doc)
    features = tfds.features.FeaturesDict(
      {
        'subject': scalar('MyoGym person 1..10 (raw_data_labels column 2).'),
        'imu': series(1, 6),
        'present': series(1, dtype=np.bool_),
        'label': tfds.features.Sequence(tfds.features.ClassLabel(names=layout.LABEL_NAMES)),
        'acc_time': series(dtype=np.float64),
        'file_rows': scalar("The person's rows in raw_data, duplicates included."),
        'duplicate_rows': scalar('Buffered duplicate rows dropped (myogym_layout).'),
      }
    )
    return self.dataset_info_from_configs(
      description=(
        f'MyoGym at {layout.RATE_HZ:g} Hz, one example per person (rows in file order, '
        'buffered duplicate rows dropped). imu (T, 1, 6) at site '
        f"{layout.SITE}: acc xyz m/s^2 (specific force incl. gravity; the file's g x "
        f"{layout.ACC_G_TO_M_S2}) then gyr xyz rad/s (the file's deg/s x pi/180); present "
        '(T, 1) False where a value is non-finite (values 0 there, never to be read); label '
        '(T,): 0 = NULL (file id 99), k = exercise k: '
        + ', '.join(f'{i}={n}' for i, n in enumerate(layout.LABEL_NAMES))
        + ". acc_time: the file's acc timestamps (unit undocumented, probably us). No EMG."
      ),
      features=features,
      homepage=_HOMEPAGE,
      metadata=tfds.core.MetadataDict(
        sites=list(layout.SITES),
        rate_hz=layout.RATE_HZ,
        acc_g_to_m_s2=layout.ACC_G_TO_M_S2,
        gyro_deg_s_to_rad_s=layout.GYRO_DEG_S_TO_RAD_S,
      ),
      disable_shuffling=True,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    source = reader.find_source(dl_manager.manual_dir)
    # The whole file is parsed and validated here, before the first example is written.
    people, evidence = reader.read(source)
    totals: collections.Counter[str] = collections.Counter()
    for person in people:
      logging.info('MyoGym: %s', person.report.summary())
      if person.report.row_blocks > 1:
        logging.warning(
          'MyoGym person %d: rows come in %d separate blocks; joined in file order',
          person.subject,
          person.report.row_blocks,
        )
      for key in ('file_rows', 'duplicate_rows', 'absent_samples', 'time_backward_steps'):
        totals[key] += getattr(person.report, key)
    logging.info(
      'MyoGym %s: %d persons, %d rows, %d buffered duplicates dropped, %d samples kept, %d '
      'absent (masked), %d backward acc-timestamp steps (kept in file order)',
      source.describe(),
      len(people),
      totals['file_rows'],
      totals['duplicate_rows'],
      totals['file_rows'] - totals['duplicate_rows'],
      totals['absent_samples'],
      totals['time_backward_steps'],
    )
    logging.info(
      'MyoGym units: %.4f of acc values on the 1/2048 g grid, %.4f of gyro values on the 1/16 '
      'deg/s grid, median |acc| %.3f file units (g expects ~1)',
      evidence.acc_on_grid,
      evidence.gyro_on_grid,
      evidence.acc_median_norm,
    )
    if not 0.8 < evidence.acc_median_norm < 1.25:
      logging.warning(
        'MyoGym: median |acc| = %.3g file units does not look like g; check '
        'myogym_layout.ACC_G_TO_M_S2',
        evidence.acc_median_norm,
      )
    return {'train': self._generate_examples(people)}

  def _generate_examples(self, people: list[reader.Person]):
    for person in people:
      yield (
        f'person_{person.subject:02d}',
        {
          'subject': np.int32(person.subject),
          'imu': person.imu,
          'present': person.present,
          'label': person.label,
          'acc_time': person.acc_time,
          'file_rows': np.int32(person.report.file_rows),
          'duplicate_rows': np.int32(person.report.duplicate_rows),
        },
      )
