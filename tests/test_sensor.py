"""Tests of the real-device model: each switches one effect on and fails if that effect is wrong."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal

from mujo_jax.synthesis import sensor
from mujo_jax.synthesis.sensor import STANDARD_GRAVITY, SensorModel

RATE = 50.0
GRAVITY_UP = np.array([0.0, 0.0, 9.81, 0.0, 0.0, 0.0])
FIVE_SITES = ('left_wrist', 'right_wrist', 'left_thigh', 'right_thigh', 'head')


def _still(num_steps: int, num_sites: int) -> np.ndarray:
  """A sensor at rest, z up: gravity only."""
  return np.broadcast_to(GRAVITY_UP, (num_steps, num_sites, 6)).astype(np.float32)


def _moving(num_steps: int, num_sites: int, seed: int = 0) -> np.ndarray:
  """Smooth random motion: a few slow sinusoids per channel on top of gravity."""
  rng = np.random.default_rng(seed)
  t = np.arange(num_steps)[:, None, None] / RATE
  freqs = rng.uniform(0.3, 3.0, size=(4, 1, num_sites, 6))
  amps = rng.uniform(0.5, 4.0, size=(4, 1, num_sites, 6)) * np.array([1, 1, 1, 0.5, 0.5, 0.5])
  phases = rng.uniform(0, 2 * np.pi, size=(4, 1, num_sites, 6))
  motion = np.sum(amps * np.sin(2 * np.pi * freqs * t + phases), axis=0)
  return (motion + GRAVITY_UP).astype(np.float32)


def _apply(imu, model, seed=0, sites=FIVE_SITES):
  return sensor.apply(imu, RATE, sites[: imu.shape[1]], model, np.random.default_rng(seed))


def test_all_off_is_bit_identical():
  imu = _moving(300, 5)
  out, _ = _apply(imu, SensorModel.off())
  assert out.dtype == np.float32 and out.tobytes() == imu.tobytes()


def test_defaults_are_float32_finite_and_deterministic():
  imu = _moving(300, 5)
  a, info_a = _apply(imu, SensorModel(), seed=3)
  b, info_b = _apply(imu, SensorModel(), seed=3)
  c, _ = _apply(imu, SensorModel(), seed=4)
  assert a.dtype == np.float32 and a.shape == imu.shape and np.all(np.isfinite(a))
  assert a.tobytes() == b.tobytes()
  np.testing.assert_array_equal(info_a['acc_bias'], info_b['acc_bias'])
  assert not np.array_equal(a, c)
  # Every site is its own device: its own bias.
  assert len({tuple(row) for row in np.round(info_a['acc_bias'], 9)}) == 5


def test_still_sensor_white_noise_level_and_flat_spectrum():
  acc_density_ug, gyr_density_dps = 150.0, 0.006
  model = SensorModel.off(
    acc_noise_ug_per_sqrt_hz=acc_density_ug, gyr_noise_dps_per_sqrt_hz=gyr_density_dps
  )
  imu = _still(60_000, 2)
  out, _ = _apply(imu, model)
  noise = out.astype(np.float64) - imu
  density = np.repeat(
    [acc_density_ug * 1e-6 * STANDARD_GRAVITY, gyr_density_dps * math.pi / 180], 3
  )
  sigma = density * math.sqrt(RATE / 2)  # White up to Nyquist.
  np.testing.assert_allclose(noise.std(axis=0), np.broadcast_to(sigma, (2, 6)), rtol=0.03)
  freqs, psd = signal.welch(noise, fs=RATE, nperseg=256, axis=0)
  inner = psd[1:-1]  # DC and Nyquist bins hold half the bandwidth.
  bands = inner[: 8 * (inner.shape[0] // 8)].reshape(8, -1, 2, 6).mean(axis=1)
  ratio = bands / density**2
  assert np.all(np.abs(ratio - 1) < 0.15), (ratio.min(), ratio.max())


def test_still_sensor_mean_is_the_drawn_bias():
  model = SensorModel.off(
    acc_bias_mg=30.0,
    gyr_bias_dps=2.0,
    acc_noise_ug_per_sqrt_hz=150.0,
    gyr_noise_dps_per_sqrt_hz=0.006,
  )
  imu = _still(5_000, 5)
  out, info = _apply(imu, model)
  drawn = np.concatenate([info['acc_bias'], info['gyr_bias']], axis=1)
  np.testing.assert_allclose(out.mean(axis=0), GRAVITY_UP + drawn, atol=3e-4)
  # The draws have the configured spread (many devices).
  biases = [
    _apply(_still(2, 5), SensorModel.off(acc_bias_mg=30.0, gyr_bias_dps=2.0), seed=s)[1]
    for s in range(40)
  ]
  acc = np.concatenate([b['acc_bias'].ravel() for b in biases]) / (1e-3 * STANDARD_GRAVITY)
  gyr = np.concatenate([b['gyr_bias'].ravel() for b in biases]) / (math.pi / 180)
  assert abs(acc.std() / 30.0 - 1) < 0.1 and abs(gyr.std() / 2.0 - 1) < 0.1


def test_drift_variance_grows_linearly_with_time():
  tau, acc_mg, gyr_dps = 2000.0, 1.0, 0.05
  model = SensorModel.off(acc_drift_mg=acc_mg, gyr_drift_dps=gyr_dps, drift_tau_s=tau)
  num_steps = int(60 * RATE)
  runs = [_apply(_still(num_steps, 5), model, seed=s) for s in range(60)]
  drift = np.concatenate([out.astype(np.float64) - GRAVITY_UP for out, _ in runs], axis=1)
  reported = np.concatenate(
    [np.concatenate([i['acc_drift'], i['gyr_drift']], -1) for _, i in runs], axis=0
  )
  np.testing.assert_allclose(drift, np.swapaxes(reported, 0, 1), atol=1e-6)
  steady = np.repeat([acc_mg * 1e-3 * STANDARD_GRAVITY, gyr_dps * math.pi / 180], 3)
  for seconds in (10, 20, 40):
    k = int(seconds * RATE)
    expected = steady**2 * (1 - math.exp(-2 * seconds / tau))  # ≈ 2σ² t / tau: a random walk.
    variance = np.mean(drift[k] ** 2, axis=0)  # Over 300 devices, per axis.
    np.testing.assert_allclose(variance, expected, rtol=0.25)
  # Linear growth: the variance doubles from 20 s to 40 s (all axes pooled, scaled to σ²).
  pooled = [np.mean((drift[int(s * RATE)] / steady) ** 2) for s in (20, 40)]
  assert 1.8 < pooled[1] / pooled[0] < 2.2


def test_saturation_clips_exactly_at_the_range():
  t = np.arange(500) / RATE
  wave = np.sin(2 * np.pi * t)[:, None]
  imu = np.zeros((500, 5, 6), np.float32)
  imu[..., :3] = (30 * STANDARD_GRAVITY * wave)[:, :, None]
  imu[..., 3:] = (60.0 * wave)[:, :, None]  # rad/s, beyond 2000 °/s = 34.9 rad/s.
  model = SensorModel.off(acc_ranges_g=(8.0, 16.0), gyr_ranges_dps=(2000.0,))
  outs = [_apply(imu, model, seed=s) for s in range(4)]
  drawn = set()
  for out, info in outs:
    for s in range(5):
      acc_range, gyr_range = info['acc_range'][s], info['gyr_range'][s]
      drawn.add(round(acc_range / STANDARD_GRAVITY))
      assert np.isclose(gyr_range, 2000 * math.pi / 180)
      np.testing.assert_array_equal(
        out[:, s, :3], np.clip(imu[:, s, :3], -acc_range, acc_range).astype(np.float32)
      )
      assert out[:, s, :3].max() == np.float32(acc_range)
      assert out[:, s, 3:].min() == np.float32(-gyr_range)
      assert 0 < info['saturated_fraction'][s] < 1
  assert drawn == {8, 16}


def test_quantisation_steps_are_range_over_32768():
  num_steps = 4000
  ramp = np.linspace(-20 * STANDARD_GRAVITY, 20 * STANDARD_GRAVITY, num_steps)
  imu = np.zeros((num_steps, 1, 6), np.float32)
  imu[:, 0, :3] = ramp[:, None] * np.array([1.0, 0.01, 0.001])
  imu[:, 0, 3:] = np.linspace(-40, 40, num_steps)[:, None] * np.array([1.0, 0.01, 0.001])
  model = SensorModel.off(acc_ranges_g=(16.0,), gyr_ranges_dps=(2000.0,), adc_bits=16)
  out, info = _apply(imu, model)
  acc_lsb, gyr_lsb = 16 * STANDARD_GRAVITY / 32768, 2000 * math.pi / 180 / 32768
  assert math.isclose(info['acc_lsb'][0], acc_lsb) and math.isclose(info['gyr_lsb'][0], gyr_lsb)
  for channel in range(6):
    lsb = acc_lsb if channel < 3 else gyr_lsb
    codes = out[:, 0, channel].astype(np.float64) / lsb
    np.testing.assert_allclose(codes, np.round(codes), atol=2e-3)  # On the LSB grid.
    if channel % 3:  # The slow ramps (< 1 LSB per sample) visit consecutive codes.
      assert np.all(np.diff(np.unique(np.round(codes))) == 1)
    # Nearest code, within float32 rounding of the stored value.
    nearest = np.round(imu[:, 0, channel].astype(np.float64) / lsb)
    np.testing.assert_allclose(codes, np.clip(nearest, -32768, 32767), atol=2e-3)
  # Full scale: codes -32768 ... +32767 (two's complement).
  assert np.round(out[:, 0, 0].max() / acc_lsb) == 32767
  assert np.round(out[:, 0, 0].min() / acc_lsb) == -32768


def test_orientation_changes_axes_not_norms():
  imu = _moving(400, 5)
  model = SensorModel.off(
    watch_face_down_prob=0.5, watch_roll_deg=30.0, pocket_any_orientation=True, mount_tilt_deg=10.0
  )
  out, info = _apply(imu, model)
  for block in (slice(0, 3), slice(3, 6)):
    np.testing.assert_allclose(
      np.linalg.norm(out[..., block], axis=-1),
      np.linalg.norm(imu[..., block], axis=-1),
      rtol=1e-5,
      atol=1e-5,
    )
  assert np.all(np.abs(out - imu).max(axis=(0, 2)) > 0.1)  # Every site's axes moved.
  # The reported rotation is what was applied: v_device = R^T v_site.
  for s in range(5):
    rotation = info['rotation'][s]
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(out[:, s, :3], imu[:, s, :3] @ rotation, atol=1e-4)
    np.testing.assert_allclose(out[:, s, 3:], imu[:, s, 3:] @ rotation, atol=1e-4)
  # Watches turn about the forearm axis only (x stays); a pocket phone turns anywhere.
  for s in (0, 1):
    np.testing.assert_allclose(out[:, s, [0, 3]], imu[:, s, [0, 3]], atol=1e-5)
  # Uniform pocket orientation: over many phones, the device x axis has no preferred direction.
  axes = np.stack([_apply(imu[:2], model, seed=k)[1]['rotation'][2:4, :, 0] for k in range(300)])
  assert np.all(np.abs(axes.reshape(-1, 3).mean(axis=0)) < 0.08)
  assert np.allclose(np.mean(axes.reshape(-1, 3) ** 2, axis=0), 1 / 3, atol=0.05)


def test_face_down_flips_y_and_z():
  imu = _moving(200, 2)
  out, info = _apply(imu, SensorModel.off(watch_face_down_prob=1.0))
  assert info['face_down'].tolist() == [True, True]
  np.testing.assert_allclose(out, imu * np.array([1, -1, -1, 1, -1, -1]), atol=1e-5)


def test_reversed_watch_turns_x_and_y_round():
  """x towards the elbow: 180° about the face normal, so x and y change sign and z stays."""
  imu = _moving(200, 2)
  out, info = _apply(imu, SensorModel.off(watch_reversed_prob=1.0))
  assert info['reversed'].tolist() == [True, True]
  np.testing.assert_allclose(out, imu * np.array([-1, -1, 1, -1, -1, 1]), atol=1e-5)
  # Face down too: 180° about y (x and z change sign); the rotation stays proper (det +1).
  out, info = _apply(imu, SensorModel.off(watch_reversed_prob=1.0, watch_face_down_prob=1.0))
  np.testing.assert_allclose(out, imu * np.array([-1, 1, -1, -1, 1, -1]), atol=1e-5)
  assert np.allclose(np.linalg.det(info['rotation']), 1.0)
  # The default draws either way round, about half the time each; other sites never turn round.
  drawn = np.stack(
    [_apply(_moving(20, 5), SensorModel(), seed=k)[1]['reversed'] for k in range(200)]
  )
  assert 0.4 < drawn[:, :2].mean() < 0.6 and not drawn[:, 2:].any()


def test_strap_slip_turns_slowly_and_adds_its_rate_to_the_gyro():
  imu = _moving(300, 5)
  out, info = _apply(imu, SensorModel.off(strap_slip_deg_per_sqrt_s=5.0))
  slip = info['slip_deg']
  assert np.all(slip[:, 0] == 0) and np.all(np.abs(slip).max(axis=1) > 0.5)
  np.testing.assert_allclose(
    np.linalg.norm(out[..., :3], axis=-1), np.linalg.norm(imu[..., :3], axis=-1), rtol=1e-5
  )
  # Gyro = slipped site rate + the slip's own rate about its axis (numerical derivative).
  from scipy.spatial.transform import Rotation

  for s in range(5):
    axis, angle = info['slip_axis'][s], np.radians(slip[s])
    frames = Rotation.from_rotvec(angle[:, None] * axis).as_matrix()
    rate = np.gradient(angle, 1 / RATE)
    expected = np.einsum('tji,tj->ti', frames, imu[:, s, 3:] + rate[:, None] * axis)
    np.testing.assert_allclose(out[2:-2, s, 3:], expected[2:-2], atol=2e-4)


def test_gain_matrix_scales_the_signal_not_the_bias():
  rate = np.array([0.8, -0.5, 0.3])
  imu = _still(100, 5)
  imu[..., 3:] = rate
  model = SensorModel.off(
    acc_gain_pct=5.0,
    acc_cross_axis_pct=5.0,
    gyr_gain_pct=5.0,
    gyr_cross_axis_pct=5.0,
    acc_bias_mg=50.0,
    gyr_bias_dps=5.0,
  )
  out, info = _apply(imu, model)
  for s in range(5):
    acc_m, gyr_m = info['acc_matrix'][s], info['gyr_matrix'][s]
    assert 0.02 < np.abs(acc_m - np.eye(3)).max() < 0.3 and not np.allclose(acc_m, gyr_m)
    expected_acc = acc_m @ GRAVITY_UP[:3] + info['acc_bias'][s]
    expected_gyr = gyr_m @ rate + info['gyr_bias'][s]
    np.testing.assert_allclose(out[:, s, :3], np.broadcast_to(expected_acc, (100, 3)), atol=2e-5)
    np.testing.assert_allclose(out[:, s, 3:], np.broadcast_to(expected_gyr, (100, 3)), atol=2e-6)
    # Not M (signal + bias): that would differ by (M - I) bias, here > 1e-4.
    wrong = acc_m @ (GRAVITY_UP[:3] + info['acc_bias'][s])
    assert np.abs(wrong - expected_acc).max() > 1e-4


def _sinusoid(num_steps: int, num_sites: int, freq: float) -> np.ndarray:
  t = np.arange(num_steps) / RATE
  imu = np.zeros((num_steps, num_sites, 6), np.float32)
  imu[:] = np.sin(2 * np.pi * freq * t)[:, None, None]
  return imu


def test_clock_offset_shifts_a_sinusoid_by_the_drawn_lag():
  freq, num_steps = 1.0, 500
  imu = _sinusoid(num_steps, 2, freq)
  out, info = _apply(imu, SensorModel.off(clock_offset_ms=30.0), seed=1)
  offsets = info['clock_offset_s']
  assert np.abs(offsets[0] - offsets[1]) > 5e-3
  inner = slice(60, -60)  # Away from the edges (the device's times leave the clip there).
  t = np.arange(num_steps)[inner] / RATE
  phases = []
  for s in range(2):
    # Sample k of device s holds the signal at true time k / rate + offset_s.
    expected = np.sin(2 * np.pi * freq * (t + offsets[s]))
    np.testing.assert_allclose(out[inner, s, 0], expected, atol=2e-3)
    fit = np.linalg.lstsq(
      np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)], 1),
      out[inner, s, 0],
      rcond=None,
    )[0]
    phases.append(math.atan2(fit[1], fit[0]))
  lag_s = (phases[0] - phases[1]) / (2 * np.pi * freq)
  assert abs(lag_s - (offsets[0] - offsets[1])) < 2e-4


def test_rate_error_stretches_time_and_jitter_stays_small():
  freq, num_steps = 2.0, 500
  imu = _sinusoid(num_steps, 1, freq)
  out, info = _apply(imu, SensorModel.off(rate_error_ppm=20_000.0), seed=2)
  error = info['rate_error_ppm'][0] * 1e-6
  assert abs(error) > 1e-3
  inner = slice(60, -60)  # The resampler's edge transients stay within ~1 s of the ends.
  k = np.arange(num_steps)[inner]
  expected = np.sin(2 * np.pi * freq * k / (RATE * (1 + error)))
  # Tolerance: the resampler's passband ripple (~0.1-0.2 % of amplitude at 1-2 Hz).
  np.testing.assert_allclose(out[inner, 0, 0], expected, atol=3e-3)
  # A wrong sign (the clock running the other way) would be off by 2·error·2πf·t ≈ 1 here.
  assert np.abs(out[inner, 0, 0] - np.sin(2 * np.pi * freq * k * (1 + error) / RATE)).max() > 0.5
  jittered, _ = _apply(imu, SensorModel.off(timestamp_jitter_ms=1.0), seed=2)
  deviation = jittered[inner, 0, 0] - imu[inner, 0, 0]
  # A 1 ms timing error on a 2 Hz unit sinusoid: about 2π·2·1e-3·rms(cos) = 0.009.
  assert 0.004 < deviation.std() < 0.015


def test_tissue_wobble_is_the_spring_mass_response():
  model = SensorModel.off(tissue_hz=(15.0, 15.0), tissue_damping=(0.4, 0.4))
  still = _still(200, 1)
  out, info = _apply(still, model)
  assert info['tissue_hz'][0] == 15.0
  np.testing.assert_allclose(out, still, atol=1e-5)  # Gravity passes, no start transient.
  for freq in (15.0, 2.0):
    imu = _sinusoid(1000, 1, freq)
    imu[..., 2] += 9.81
    imu[..., 3:] = 0
    out, _ = _apply(imu, model)
    added = (out - imu)[500:, 0, 0].astype(np.float64)
    t = np.arange(1000)[500:] / RATE
    basis = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)], 1)
    amplitude = np.hypot(*np.linalg.lstsq(basis, added, rcond=None)[0])
    s = 2j * np.pi * freq
    omega = 2 * np.pi * 15.0
    expected = abs(-(s**2) / (s**2 + 2 * 0.4 * omega * s + omega**2))  # 1 / (2ζ) at resonance.
    assert amplitude == pytest.approx(expected, rel=0.05), (freq, amplitude, expected)
    np.testing.assert_allclose(out[..., 3:], 0, atol=1e-7)  # The gyro does not wobble.


def test_default_cost_and_ranges_on_a_clip():
  imu = _moving(300, 5)
  out, info = _apply(imu, SensorModel())
  assert np.all(np.isin(np.round(info['acc_range'] / STANDARD_GRAVITY), [8, 16]))
  lsb = info['acc_lsb'][:, None, None]
  codes = np.swapaxes(out[..., :3], 0, 1) / lsb
  np.testing.assert_allclose(codes, np.round(codes), atol=2e-3)
