"""PAMAP2 evaluation windows, read from the built TFDS dataset by name (`tfds build pamap2`).

Windows follow `recordings.windows` (the rule every continuous HAR set shares: centre-sample
label, transient activity 0 dropped, short drop-outs filled and counted, longer ones mask the
site, resampled from 100 Hz to the model's rate with `facts.resample`).

Sites. The hand IMU is worn over the wrist of the dominant arm and the ankle IMU on the dominant
side; 8 of the 9 subjects are right-handed. `sites='dominant'` (the default) names every
subject's IMUs `right_wrist, chest, right_ankle`, so all windows share one site set and a
probe sees "the dominant wrist" for everyone (subject 108's left-side signals are mirror images
of what a right-side sensor would read, which the windows do not undo). `sites='anatomical'`
puts them where they were worn: 5 sites `right_wrist, left_wrist, chest, right_ankle,
left_ankle`, of which each subject has 3 (the other two absent in `imu_sites`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow_datasets as tfds

from mujo_jax.data import recordings
from mujo_jax.facts import pamap2_layout as layout

SITE_SETS = ('dominant', 'anatomical')


def _recording(example: dict, sites: str, site_names: Sequence[str]) -> recordings.Recording:
  imu = np.asarray(example['imu'], np.float32)
  present = np.asarray(example['present'], bool)
  subject = int(example['subject'])
  if sites == 'anatomical':
    worn = [s.decode() if isinstance(s, bytes) else str(s) for s in example['sites']]
    full = np.zeros((imu.shape[0], len(site_names), 6), np.float32)
    mask = np.zeros((imu.shape[0], len(site_names)), bool)
    for index, site in enumerate(worn):
      full[:, site_names.index(site)] = imu[:, index]
      mask[:, site_names.index(site)] = present[:, index]
    imu, present = full, mask
  # Values of samples that are not present are never read; NaN would only poison arithmetic.
  imu = np.where(present[..., None], imu, 0.0).astype(np.float32)
  return recordings.Recording(
    imu=imu,
    present=present,
    labels=np.asarray(example['label'], np.int32),
    subject=subject,
    rate_hz=float(example['rate_hz']),
  )


def windows(
  data_dir: str | None,
  *,
  window_s: float = 5.0,
  hop_s: float = 2.5,
  imu_rate_hz: float = 50.0,
  sessions: Sequence[str] = layout.SESSIONS,
  sites: str = 'dominant',
  subjects: Sequence[int] | None = None,
) -> dict[str, object]:
  """Every labelled window of the built `pamap2` dataset in `data_dir`, in the batch schema.

  Args:
    data_dir: TFDS data_dir holding `pamap2` (None: TFDS's default).
    window_s, hop_s, imu_rate_hz: window length, stride and output IMU rate.
    sessions: which files: `protocol` (12 activities), `optional` (6 more, 5 subjects).
    sites: `dominant` (3 sites, every subject's dominant side named right) or `anatomical`.
    subjects: keep only these subjects (default all).

  Returns:
    `recordings.windows`'s dict: `imu` (N, T, S, 6) float32, `imu_sites` (N, S) bool, `label`
    (N,) int32 indices of `class_names` (`layout.CLASS_NAMES`, the 18 activities), `group`
    (N,) int32 the subject id (101..109; `layout.LITERATURE_SPLIT` names the fixed split),
    `sites`, `counts`.
  """
  if sites not in SITE_SETS:
    raise ValueError(f'sites={sites!r}; expected one of {SITE_SETS}')
  unknown = [s for s in sessions if s not in layout.SESSIONS]
  if unknown or not sessions:
    raise ValueError(f'sessions={tuple(sessions)}; expected a subset of {layout.SESSIONS}')
  site_names = layout.DOMINANT_SITES if sites == 'dominant' else layout.ANATOMICAL_SITES
  builder = tfds.builder('pamap2', data_dir=data_dir)
  found = []
  for session in sessions:
    if session not in builder.info.splits:
      raise ValueError(
        f'pamap2 in {data_dir} has no {session!r} split (splits: {list(builder.info.splits)})'
      )
    source = tfds.data_source('pamap2', split=session, data_dir=data_dir)
    for index in range(len(source)):
      example = source[index]
      if subjects is None or int(example['subject']) in subjects:
        found.append(_recording(example, sites, list(site_names)))
  rules = recordings.WindowRules(window_s=window_s, hop_s=hop_s, imu_rate_hz=imu_rate_hz)
  return recordings.windows(found, site_names, layout.CLASS_NAMES, rules)
