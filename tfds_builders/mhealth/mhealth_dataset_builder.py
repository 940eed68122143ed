"""MHEALTH as TFDS: one example per subject, the whole recording at 50 Hz.

Finding, parsing, validating and converting the files is `reader.py`'s; this module declares the
features, validates every file before anything is written, and logs what was missing. Windows
are cut later (`mujo_jax.data.mhealth.windows`), so that their length and hop stay choices of the
experiment.
"""

from __future__ import annotations

import collections
import math

import numpy as np
import tensorflow_datasets as tfds
from absl import logging

from mujo_jax.facts import mhealth_layout as layout

from . import reader

_HOMEPAGE = 'https://archive.ics.uci.edu/dataset/319/mhealth+dataset'


class Builder(tfds.core.GeneratorBasedBuilder):
  """MHEALTH (Banos et al., IWAAL 2014): chest, left-ankle and right-lower-arm Shimmer2 units."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release: one example per subject, 50 Hz.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
  Download MHEALTH from https://archive.ics.uci.edu/dataset/319/mhealth+dataset and put ONE of
  these in `manual_dir`:
    * the zip archive as downloaded (read in place, nothing is extracted);
    * the extracted folder `MHEALTHDATASET/`;
    * the files mHealth_subject1.log ... mHealth_subject10.log themselves.
  """

  def _info(self) -> tfds.core.DatasetInfo:
    def series(*shape, dtype=np.float32):
      # Raw bytes: proto value lists serialise ~10x slower for 10^5-10^6 numbers.
      return tfds.features.Tensor(
        shape=(None, *shape), dtype=dtype, encoding=tfds.features.Encoding.BYTES
      )

    sites = len(layout.SITES)
    features = tfds.features.FeaturesDict(
      {
        'subject': tfds.features.Tensor(shape=(), dtype=np.int32, doc='MHEALTH subject 1..10.'),
        'imu': series(sites, 6),
        'present': series(sites, dtype=np.bool_),
        'acc_present': series(sites, dtype=np.bool_),
        'mag': series(len(layout.MAG_SITES), 3),
        'ecg': series(2),
        'label': tfds.features.Sequence(tfds.features.ClassLabel(names=layout.LABEL_NAMES)),
      }
    )
    return self.dataset_info_from_configs(
      description=(
        f'MHEALTH recordings at {layout.RATE_HZ:g} Hz, one example per subject. imu (T, S, 6) at '
        f'sites {", ".join(layout.SITES)}: acc xyz m/s^2 (specific force incl. gravity) then '
        "gyr xyz rad/s (the files' deg/s x pi/180); NaN = not measured (the chest has no "
        'gyroscope). present (T, S): acc and gyr both measured (never for the chest); '
        'acc_present (T, S): acc measured. mag (T, 2, 3): ankle and arm magnetometers, the '
        'files\' "local" units. ecg (T, 2): leads 1 and 2, mV. label (T,): the files\' ids, '
        + ', '.join(f'{i}={name}' for i, name in enumerate(layout.LABEL_NAMES))
        + '.'
      ),
      features=features,
      homepage=_HOMEPAGE,
      metadata=tfds.core.MetadataDict(
        sites=list(layout.SITES),
        rate_hz=layout.RATE_HZ,
        gyro_unit_to_rad_s=layout.GYRO_UNIT_TO_RAD_S,
      ),
      disable_shuffling=True,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    source = reader.find_source(dl_manager.manual_dir)
    extra = sorted(set(source.subjects()) - set(layout.SUBJECTS))
    if extra:
      logging.warning('MHEALTH: ignoring files of subjects outside 1..10: %s', extra)
    reader.check_subjects(source)
    # Every file is parsed and validated here, before the first example is written.
    parsed = {subject: reader.read_subject(source, subject) for subject in layout.SUBJECTS}
    return {'train': self._generate_examples(parsed)}

  def _generate_examples(self, parsed):
    missing: collections.Counter[str] = collections.Counter()
    gyro: dict[str, list[dict[str, float]]] = collections.defaultdict(list)
    for subject, (example, report) in parsed.items():
      logging.info('MHEALTH: %s', report.summary())
      missing.update(report.missing)
      for site, check in report.gyro.items():
        gyro[site].append(check)
      yield layout.subject_file(subject), example
    logging.info(
      'MHEALTH: %d subjects; missing samples per site (masked): %s',
      len(parsed),
      dict(sorted(missing.items())),
    )
    for site, checks in gyro.items():
      still = np.nanmedian([c['still_median'] for c in checks])
      running = np.nanmedian([c['running_p99'] for c in checks])
      logging.info(
        'MHEALTH gyroscope %s in file units: still median |w| %.3g, running p99 |w| %.3g '
        '(deg/s expects < 10 and > 100)',
        site,
        still,
        running,
      )
      if math.isfinite(running) and running < 30:
        logging.warning(
          'MHEALTH gyroscope %s: running p99 |w| = %.3g file units is too small for deg/s; '
          'check mhealth_layout.GYRO_UNIT_TO_RAD_S',
          site,
          running,
        )
