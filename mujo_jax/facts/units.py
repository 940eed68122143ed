"""Plausibility of units: the checks every reader of IMU or pose data shares.

The model is trained on acceleration as specific force in m/s² *including gravity*, rotation
rate in rad/s and pose in metres. Data in g, with gravity removed, in deg/s or in millimetres
looks like ordinary numbers and trains or embeds without any error, only wrongly; these checks
catch it from the median over a whole stream, before anything is computed. Builders (MM-Fit,
FiMAD) and `inference.Embedder` call them, so a file and a user's array are held to the same
rules.

Deg/s is caught only when the median rotation rate is above `GYRO_MEDIAN_MAX` read as deg/s
(~15 deg/s, any real exercise); a nearly still recording cannot be told apart.
"""

from __future__ import annotations

import numpy as np

# Gravity of the simulated world (virtual IMU, synthesised motion, the hanging-arm prior): one copy.
GRAVITY = 9.81
# m/s² per g: the unit of acceleration of datasheets and of datasets stored in g (the one copy).
STANDARD_GRAVITY = 9.80665
# Median |acc| (m/s², gravity included) outside this range means wrong units or no gravity.
ACC_MEDIAN_RANGE = (4.0, 30.0)
# The median |acc| of data in units of g (gravity ≈ 1).
ACC_G_RANGE = (0.4, 3.0)
GYRO_MEDIAN_MAX = 15.0  # rad/s; ~860 deg/s is beyond sustained human limb rotation.
POSE_RADIUS_RANGE_M = (0.05, 3.0)  # Median joint distance from the pelvis, metres.
UNITS_PER_M = {'m': 1.0, 'mm': 1000.0}


def _median_norm(values: np.ndarray) -> float:
  return float(np.nanmedian(np.linalg.norm(np.asarray(values, np.float64), axis=-1)))


def check_acc(acc: np.ndarray, where: str, hint: str = '') -> None:
  """`acc (..., 3)` must be m/s² including gravity; NaN samples are ignored."""
  median = _median_norm(acc)
  low, high = ACC_MEDIAN_RANGE
  if ACC_G_RANGE[0] <= median <= ACC_G_RANGE[1]:
    raise ValueError(
      f'{where}: median |acc| is {median:.2f}, which looks like units of g; expected m/s² '
      f'(multiply the acceleration by {STANDARD_GRAVITY}){hint}'
    )
  if median < low:
    raise ValueError(
      f'{where}: median |acc| is {median:.2f} m/s², far below gravity ({GRAVITY}): expected '
      'specific force *including* gravity (raw accelerometer output), not linear '
      f'acceleration{hint}'
    )
  if median > high:
    raise ValueError(
      f'{where}: median |acc| is {median:.1f}, implausibly large for m/s² (cm/s² or raw '
      f'counts?); expected m/s² including gravity{hint}'
    )


def check_gyr(gyr: np.ndarray, where: str, hint: str = '') -> None:
  """`gyr (..., 3)` must be rad/s; NaN samples are ignored."""
  median = _median_norm(gyr)
  if median > GYRO_MEDIAN_MAX:
    raise ValueError(
      f'{where}: median |gyr| is {median:.1f}, which looks like deg/s; expected rad/s '
      f'(multiply the rotation rate by pi/180){hint}'
    )


def check_pose(pose: np.ndarray, where: str, unit: str = 'm', hint: str = '') -> None:
  """`pose (T, J, 3)` with the pelvis at joint 0, in `unit` ('m' or 'mm')."""
  pose = np.asarray(pose, np.float64)
  relative = pose[:, 1:] - pose[:, :1]
  radius_m = _median_norm(relative) / UNITS_PER_M[unit]
  low, high = POSE_RADIUS_RANGE_M
  shown = f'{radius_m * UNITS_PER_M[unit]:.4g} {unit}'
  if radius_m > high:
    looks = 'millimetres' if unit == 'm' else 'micrometres'
    raise ValueError(
      f'{where}: median joint distance from the pelvis is {shown}, which looks like '
      f'{looks}; expected {"metres (divide by 1000)" if unit == "m" else "millimetres"}{hint}'
    )
  if radius_m < low:
    looks = 'metres' if unit == 'mm' else 'a scale too small for a human body'
    raise ValueError(
      f'{where}: median joint distance from the pelvis is {shown}, which looks like '
      f'{looks}; expected {"millimetres (multiply by 1000)" if unit == "mm" else "metres"}{hint}'
    )
