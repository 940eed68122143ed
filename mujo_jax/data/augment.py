"""Training-time augmentations of one window (NumPy, run inside grain workers).

Each takes the window dict and a `np.random.Generator` supplied by grain's `random_map`, whose
seed is derived from the pipeline seed and the element index: the same element gets the same
augmentation after a restart, which is what makes checkpoint → resume exact.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mujo_jax.data import schema

# The streams of a window (batch schema) that run along time, at axis 0 of a window.
TIMED_KEYS = ('imu', 'pose', 'video', schema.FOREARM_PRONATION)
ACC_CHANNELS, GYRO_CHANNELS = slice(0, 3), slice(3, 6)  # Of the IMU's (acc xyz, gyr xyz).


def random_rotations(rng: np.random.Generator, count: int, max_angle_rad: float) -> np.ndarray:
  """`count` rotation matrices about uniformly random axes by angles in [0, max_angle_rad]."""
  axes = rng.normal(size=(count, 3))
  axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
  angles = rng.uniform(0.0, max_angle_rad, size=(count, 1, 1))
  cross = np.zeros((count, 3, 3))
  cross[:, 0, 1], cross[:, 0, 2] = -axes[:, 2], axes[:, 1]
  cross[:, 1, 0], cross[:, 1, 2] = axes[:, 2], -axes[:, 0]
  cross[:, 2, 0], cross[:, 2, 1] = -axes[:, 1], axes[:, 0]
  # Rodrigues' formula.
  return np.eye(3) + np.sin(angles) * cross + (1 - np.cos(angles)) * cross @ cross


def augment_imu(
  imu: np.ndarray, rng: np.random.Generator, max_rotation_deg: float, scale_jitter: float
) -> np.ndarray:
  """Rotates each site's sensor frame and jitters its gain.

  The same rotation applies to the accelerometer and the gyroscope of a site, as a sensor
  mounted slightly differently would see; |acc| at rest stays 9.81 up to the gain jitter.
  """
  num_samples, num_sites, _ = imu.shape
  rotations = random_rotations(rng, num_sites, np.deg2rad(max_rotation_deg))
  gains = 1.0 + rng.uniform(-scale_jitter, scale_jitter, size=(num_sites, 1, 1))
  # (T, S, 2, 3) row vectors times Rᵀ per site: one broadcast matmul for both sensors (the
  # einsum it replaces took ~0.17 ms of the ~0.9 ms a window costs the grain worker).
  vectors = imu.reshape(num_samples, num_sites, 2, 3)
  rotated = np.matmul(vectors, (rotations.transpose(0, 2, 1) * gains).astype(np.float32))
  return rotated.reshape(num_samples, num_sites, 6)


def drop_sites(imu_sites: np.ndarray, rng: np.random.Generator, rate: float) -> np.ndarray:
  """Marks present sites absent with probability `rate`, keeping at least one present site."""
  keep = imu_sites & (rng.uniform(size=imu_sites.shape) >= rate)
  if imu_sites.any() and not keep.any():
    keep[rng.choice(np.flatnonzero(imu_sites))] = True
  return keep


def keep_one_site(
  imu_sites: np.ndarray,
  rng: np.random.Generator,
  rate: float,
  favoured: Sequence[int] = (),
  favoured_share: float = 0.0,
) -> np.ndarray:
  """With probability `rate`, keeps one random present site only: a lone watch or phone.

  Most users wear one device; without such windows the encoder would learn to lean on the
  other sites and read one wrist badly. `favoured` (site indices, e.g. the wrists): with
  probability `favoured_share` the lone site is drawn from the present favoured sites (if any is
  present), otherwise from all present sites, so the device users wear most can get more of the
  lone windows than 1 / number-of-sites of them.
  """
  present = np.flatnonzero(imu_sites)
  if len(present) < 2 or rng.uniform() >= rate:
    return imu_sites
  if favoured_share > 0.0 and rng.uniform() < favoured_share:
    candidates = np.intersect1d(present, np.asarray(favoured, dtype=int))
    if len(candidates):
      present = candidates
  keep = np.zeros_like(imu_sites)
  keep[rng.choice(present)] = True
  return keep


def drop_modalities(
  present: np.ndarray, rng: np.random.Generator, rate: float, min_present: int = 2
) -> np.ndarray:
  """Marks modalities absent with probability `rate`, keeping `min_present` so a pair remains."""
  keep = present & (rng.uniform(size=present.shape) >= rate)
  shortfall = min(min_present, int(present.sum())) - int(keep.sum())
  if shortfall > 0:
    restorable = np.flatnonzero(present & ~keep)
    keep[rng.choice(restorable, size=shortfall, replace=False)] = True
  return keep


def modality_presence(modalities: Sequence[str], available: Sequence[str]) -> np.ndarray:
  """`present` vector in the order of `modalities` (the batch schema, ARCHITECTURE.md)."""
  return np.array([m in available for m in modalities], dtype=bool)


def played_backwards(window: dict[str, np.ndarray], time_axis: int = 0) -> dict[str, np.ndarray]:
  """The same motion run backwards in time, as its sensors would have recorded it.

  Under t → −t positions and angles are read in reverse order, and so is the specific force
  (acceleration is a second derivative, even in time; gravity does not change), while angular
  velocity, a first derivative, also changes sign. Other keys (text, label, masks) are kept.
  `time_axis`: 0 for one window, 1 for a batch.
  """
  out = dict(window)
  for key in TIMED_KEYS:
    if key in window:
      out[key] = np.flip(window[key], axis=time_axis).copy()
  if 'imu' in out:
    out['imu'][..., GYRO_CHANNELS] *= -1
  return out
