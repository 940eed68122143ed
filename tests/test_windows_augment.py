"""Windows stay aligned across rates; augmentations keep the physics they claim to keep."""

from __future__ import annotations

import numpy as np
import pytest

from mujo_jax.data import augment, windows

RATES = {'imu': 50.0, 'pose': 30.0, 'video': 10.0}


def _clip(seconds: float = 6.0) -> dict[str, np.ndarray]:
  # Each stream holds its own timestamps, so alignment is checkable after a crop.
  return {key: np.arange(int(seconds * rate)) / rate for key, rate in RATES.items()} | {
      'label': np.int32(3)}


def test_random_windows_aligned_and_inside():
  clip = _clip()
  rng = np.random.default_rng(0)
  starts = set()
  for _ in range(50):
    window = windows.random_window(clip, 5.0, RATES, rng)
    assert {k: len(window[k]) for k in RATES} == {'imu': 250, 'pose': 150, 'video': 50}
    start = window['video'][0]
    starts.add(round(start, 3))
    for key in RATES:
      np.testing.assert_allclose(window[key][0], start, atol=1e-9)
    assert window['label'] == 3
  assert len(starts) > 3  # Really random.


def test_centre_window_deterministic():
  window = windows.centre_window(_clip(), 5.0, RATES)
  assert window['pose'][0] == pytest.approx(0.5)


def test_window_longer_than_clip_rejected():
  with pytest.raises(ValueError, match='shorter than'):
    windows.random_window(_clip(4.0), 5.0, RATES, np.random.default_rng(0))
  with pytest.raises(ValueError, match="'imu' at 50.0 Hz"):
    windows.crop_window(_clip(4.0), 0.0, 5.0, RATES)


def test_imu_rotation_keeps_gravity_norm_and_is_shared_by_acc_and_gyr():
  rng = np.random.default_rng(0)
  imu = np.zeros((10, 3, 6), np.float32)
  imu[..., 2] = 9.81
  imu[..., 3] = 1.0  # Rotation about sensor x at 1 rad/s.
  out = augment.augment_imu(imu, rng, max_rotation_deg=30.0, scale_jitter=0.0)
  np.testing.assert_allclose(np.linalg.norm(out[..., :3], axis=-1), 9.81, rtol=1e-5)
  np.testing.assert_allclose(np.linalg.norm(out[..., 3:], axis=-1), 1.0, rtol=1e-5)
  assert not np.allclose(out[..., :3], imu[..., :3])
  # The angle between gravity and the rotation axis is invariant under a shared rotation.
  cos_in = (imu[..., :3] * imu[..., 3:]).sum(-1)
  cos_out = (out[..., :3] * out[..., 3:]).sum(-1)
  np.testing.assert_allclose(cos_out, cos_in, atol=1e-4)


def test_dropouts_keep_minimum():
  rng = np.random.default_rng(0)
  for _ in range(100):
    sites = augment.drop_sites(np.ones(5, bool), rng, 0.99)
    assert sites.sum() >= 1
    present = augment.drop_modalities(np.ones(4, bool), rng, 0.99)
    assert present.sum() >= 2
  assert augment.drop_modalities(np.array([True, False, False]), rng, 0.9).sum() <= 1
