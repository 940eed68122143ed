"""Windows of continuous recordings: centre labels, masked and filled samples, resampling."""

from __future__ import annotations

import numpy as np
import pytest

from mujo_jax.data import recordings


def _recording(rate=100.0, seconds=20.0, sites=2, subject=3):
  t = np.arange(round(rate * seconds)) / rate
  imu = np.zeros((len(t), sites, 6))
  imu[:, :, 2] = 9.81
  imu[:, :, 3] = np.sin(2 * np.pi * 1.0 * t)[:, None]
  labels = np.where(t < 10.0, 0, 1)
  present = np.ones((len(t), sites), bool)
  return recordings.Recording(
    imu=imu, present=present, labels=labels, subject=subject, rate_hz=rate
  )


def test_centre_label_rate_and_group():
  rules = recordings.WindowRules(window_s=5.0, hop_s=2.5, imu_rate_hz=50.0)
  out = recordings.windows([_recording()], ('left_wrist', 'right_wrist'), ('a', 'b'), rules)
  assert out['imu'].shape == (7, 250, 2, 6) and out['imu'].dtype == np.float32
  # Starts 0, 2.5, ..., 15 s: centres 2.5 ... 17.5 s; the label switches at 10 s.
  assert out['label'].tolist() == [0, 0, 0, 1, 1, 1, 1]
  assert set(out['group'].tolist()) == {3}
  np.testing.assert_allclose(out['imu'][:, :, :, 2], 9.81, atol=1e-4)  # Gravity does not ring.
  t = np.arange(250) / 50.0
  np.testing.assert_allclose(
    out['imu'][1, 20:-20, 0, 3], np.sin(2 * np.pi * (t[20:-20] + 2.5)), atol=0.02
  )


def test_missing_samples_are_filled_or_the_site_masked_never_zero_filled():
  recording = _recording()
  present = recording.present.copy()
  present[110:115, 0] = False  # A 50 ms drop in the first window: filled.
  present[300:800, 1] = False  # 5 s without the second site: absent where it overlaps.
  recording = recordings.Recording(
    imu=np.where(present[..., None], recording.imu, np.nan),
    present=present,
    labels=recording.labels,
    subject=1,
    rate_hz=100.0,
  )
  out = recordings.windows([recording], ('a', 'b'), ('x', 'y'))
  assert out['counts']['filled_samples'] == 5
  assert out['imu_sites'][0].tolist() == [True, False]
  assert out['imu_sites'][-1].tolist() == [True, True]
  assert np.isfinite(out['imu']).all()
  np.testing.assert_allclose(out['imu'][0, :, 0, 2], 9.81, atol=1e-4)  # Filled, not zeroed.
  assert out['counts']['absent_site_windows'] == int((~out['imu_sites']).sum())


def test_unlabelled_centres_are_dropped_and_counted():
  recording = _recording()
  labels = recording.labels.copy()
  labels[:1000] = -1
  recording = recordings.Recording(
    imu=recording.imu, present=recording.present, labels=labels, subject=0, rate_hz=100.0
  )
  out = recordings.windows([recording], ('a', 'b'), ('x', 'y'))
  assert out['counts']['dropped_unlabelled'] == 3 and (out['label'] == 1).all()
  with pytest.raises(ValueError, match='imu has shape'):
    recordings.Recording(
      imu=np.zeros((10, 6)),
      present=np.ones((10, 1), bool),
      labels=np.zeros(10, int),
      subject=0,
      rate_hz=50.0,
    )
