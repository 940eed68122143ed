"""Windows stay aligned across rates; augmentations keep the physics they claim to keep."""

from __future__ import annotations

import numpy as np
import pytest

from mujo_jax.data import augment, windows

RATES = {'imu': 50.0, 'pose': 30.0, 'video': 10.0}


def _clip(seconds: float = 6.0) -> dict[str, np.ndarray]:
  # Each stream holds its own timestamps, so alignment is checkable after a crop.
  return {key: np.arange(int(seconds * rate)) / rate for key, rate in RATES.items()} | {
    'label': np.int32(3)
  }


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


def _drop_statistics(drop, present, rate, draws=20000, **kwargs):
  rng = np.random.default_rng(0)
  kept = np.stack([drop(present, rng, rate, **kwargs) for _ in range(draws)])
  assert kept.dtype == bool and kept.shape == (draws, len(present))
  return kept


@pytest.mark.parametrize('rate', [0.0, 0.3, 0.7])
def test_modality_dropout_rate_matches_the_configured_probability(rate):
  present = np.array([True, False, True, True, True, True, True])
  kept = _drop_statistics(augment.drop_modalities, present, rate, min_present=1)
  assert not kept[:, ~present].any()  # Absent inputs stay absent.
  assert (kept.sum(1) >= 1).all()
  # Each present modality drops with probability `rate`, except that when all six drop
  # (probability rate ** 6) one of them, drawn uniformly, is restored. 4.5 sigma over the draws.
  drop_rate = 1.0 - kept[:, present].mean(0)
  np.testing.assert_allclose(drop_rate, rate - rate**6 / 6, atol=0.015)
  if rate == 0.0:
    assert kept[:, present].all()
  # Independent per modality: the pairwise correlation of the drops is ~0.
  if rate == 0.3:
    corr = np.corrcoef(kept[:, present].T.astype(float))
    assert np.abs(corr[~np.eye(len(corr), dtype=bool)]).max() < 0.05


def test_modality_dropout_keeps_a_pair_restored_at_random():
  present = np.array([True, True, False, True])
  kept = _drop_statistics(augment.drop_modalities, present, 0.999, draws=3000)
  assert (kept.sum(1) == 2).all()  # min_present=2 by default: a contrastive pair remains.
  assert not kept[:, 2].any()
  # The restored pair is drawn uniformly from the present modalities, not always the first.
  np.testing.assert_allclose(kept[:, present].mean(0), 2 / 3, atol=0.05)
  # Fewer present than min_present: all of them stay, nothing absent appears.
  one = np.array([True, False, False])
  kept = _drop_statistics(augment.drop_modalities, one, 0.9, draws=200)
  assert (kept == one).all()
  none = np.zeros(3, bool)
  assert not _drop_statistics(augment.drop_modalities, none, 0.5, draws=50).any()


def test_site_dropout_rate_and_minimum():
  present = np.array([True, True, True, False, True, True])
  kept = _drop_statistics(augment.drop_sites, present, 0.4)
  assert not kept[:, ~present].any() and (kept.sum(1) >= 1).all()
  np.testing.assert_allclose(1.0 - kept[:, present].mean(0), 0.4 - 0.4**5 / 5, atol=0.015)
  kept = _drop_statistics(augment.drop_sites, present, 0.999, draws=3000)
  assert (kept.sum(1) == 1).all()
  np.testing.assert_allclose(kept[:, present].mean(0), 1 / 5, atol=0.04)
  assert not augment.drop_sites(np.zeros(4, bool), np.random.default_rng(0), 0.5).any()


def test_single_site_windows_keep_one_random_present_site():
  present = np.array([True, False, True, True])
  kept = _drop_statistics(augment.keep_one_site, present, 0.3, draws=6000)
  lone = kept.sum(1) == 1
  np.testing.assert_allclose(lone.mean(), 0.3, atol=0.02)
  assert (kept[~lone] == present).all()  # Otherwise untouched.
  assert not kept[:, 1].any()  # Never an absent site.
  np.testing.assert_allclose(kept[lone][:, present].mean(0), 1 / 3, atol=0.04)
  one = np.array([False, True, False])
  assert (_drop_statistics(augment.keep_one_site, one, 1.0, draws=20) == one).all()


def test_single_site_windows_favour_the_named_sites_by_their_share():
  present = np.array([True, True, True, True, True, False])
  # Sites 0 and 5 favoured, 5 absent: a favoured lone site is site 0; the rest of the lone
  # windows are drawn from all present sites (site 0 included, 1 in 5).
  kept = _drop_statistics(
    augment.keep_one_site, present, 0.5, draws=20000, favoured=(0, 5), favoured_share=0.6
  )
  lone = kept.sum(1) == 1
  np.testing.assert_allclose(lone.mean(), 0.5, atol=0.015)
  assert not kept[:, 5].any()
  np.testing.assert_allclose(kept[lone, 0].mean(), 0.6 + 0.4 / 5, atol=0.02)
  np.testing.assert_allclose(kept[lone, 1:5].mean(0), 0.4 / 5, atol=0.015)
  # No favoured site present: any present site, as without favoured sites.
  kept = _drop_statistics(
    augment.keep_one_site, present, 1.0, draws=5000, favoured=(5,), favoured_share=1.0
  )
  np.testing.assert_allclose(kept[:, :5].mean(0), 1 / 5, atol=0.02)
  # A zero share consumes no extra draw: the windows are those of the plain augmentation.
  plain = _drop_statistics(augment.keep_one_site, present, 0.5, draws=500)
  zero = _drop_statistics(augment.keep_one_site, present, 0.5, draws=500, favoured=(0,))
  assert (plain == zero).all()
