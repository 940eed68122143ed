"""`facts.resample`: the one resampler, against analytic signals.

Tolerances (measured with the Kaiser-windowed polyphase filter, beta 5): a 2 Hz sine of
amplitude 2 keeps its amplitude within 0.3 % and its phase within 1e-3 rad away from the edges
(0.5 s at each end) for 30 -> 50 Hz and 100 -> 50 Hz; a constant is exact everywhere.
"""

from __future__ import annotations

import numpy as np
import pytest

from mujo_jax.facts import resample as rs

GRAVITY = 9.81
FREQ_HZ, AMPLITUDE, PHASE = 2.0, 2.0, 0.3
EDGE_S = 0.5


def _signal(t: np.ndarray) -> np.ndarray:
  return GRAVITY + AMPLITUDE * np.sin(2 * np.pi * FREQ_HZ * t + PHASE)


def _fit_sine(t: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
  """(amplitude, phase, offset) of the least-squares sine at FREQ_HZ."""
  basis = np.stack(
    [np.sin(2 * np.pi * FREQ_HZ * t), np.cos(2 * np.pi * FREQ_HZ * t), np.ones_like(t)], axis=1
  )
  (s, c, dc), *_ = np.linalg.lstsq(basis, y, rcond=None)
  return float(np.hypot(s, c)), float(np.arctan2(c, s)), float(dc)


@pytest.mark.parametrize('rate_in_hz', [30.0, 100.0])
def test_sine_keeps_amplitude_and_phase(rate_in_hz):
  t_in = np.arange(int(10 * rate_in_hz)) / rate_in_hz
  out = rs.resample(_signal(t_in), rate_in_hz, 50.0)
  assert out.shape == (500,)  # 10 s stay 10 s.
  t_out = np.arange(out.shape[0]) / 50.0
  inner = (t_out >= EDGE_S) & (t_out <= t_out[-1] - EDGE_S)
  amplitude, phase, offset = _fit_sine(t_out[inner], out[inner])
  assert abs(amplitude / AMPLITUDE - 1) < 3e-3
  assert abs(phase - PHASE) < 1e-3
  assert abs(offset - GRAVITY) < 1e-3
  np.testing.assert_allclose(out[inner], _signal(t_out[inner]), atol=0.01)


@pytest.mark.parametrize(
  'rate_in_hz, rate_out_hz', [(30.0, 50.0), (100.0, 50.0), (50.0, 30.0), (210.0, 50.0)]
)
def test_gravity_does_not_ring_at_the_edges(rate_in_hz, rate_out_hz):
  still = np.full((int(4 * rate_in_hz), 2, 3), GRAVITY, np.float32)
  out = rs.resample(still, rate_in_hz, rate_out_hz)
  assert out.dtype == np.float32 and out.shape[1:] == (2, 3)
  np.testing.assert_allclose(out, GRAVITY, rtol=0, atol=1e-5)
  # A linear trend passes exactly too, edges included.
  ramp = 1.0 + 0.5 * np.arange(int(4 * rate_in_hz)) / rate_in_hz
  got = rs.resample(ramp, rate_in_hz, rate_out_hz)
  np.testing.assert_allclose(got, 1.0 + 0.5 * np.arange(got.size) / rate_out_hz, atol=1e-9)


def test_tone_above_new_nyquist_is_removed_when_downsampling():
  t = np.arange(1000) / 100.0
  tone = np.sin(2 * np.pi * 40.0 * t)  # Above 25 Hz: would fold onto 10 Hz without filtering.
  out = rs.resample(tone, 100.0, 50.0)
  inner = out[25:-25]
  assert np.sqrt(np.mean(inner**2)) < 0.01 * np.sqrt(0.5)  # Attenuated by more than 40 dB.
  naive = tone[::2][25:-25]  # Dropping samples aliases it at full strength.
  assert np.sqrt(np.mean(naive**2)) > 0.5


def test_irregular_timestamps_give_the_signal_at_the_grid_times():
  rng = np.random.default_rng(0)
  times = np.cumsum(rng.uniform(0.006, 0.014, 2000))  # ~100 Hz with +-40 % jitter.
  start_s = times[0] + 0.1
  values = np.stack([_signal(times), np.full_like(times, GRAVITY)], axis=1)
  out = rs.resample(values, None, 50.0, times_s=times - start_s, num_out=500)
  t_out = start_s + np.arange(500) / 50.0
  np.testing.assert_allclose(out[:, 0], _signal(t_out), atol=0.01)
  np.testing.assert_allclose(out[:, 1], GRAVITY, atol=1e-12)


def test_identity_lengths_and_cubic_kind():
  x = np.random.default_rng(1).normal(size=(90, 4)).astype(np.float32)
  assert rs.resample(x, 30.0, 30.0) is x
  assert rs.resample(x, 30.0, 50.0).shape == (150, 4)
  assert rs.resample(x, 30.0, 50.0, num_out=152).shape == (152, 4)
  t_in = np.arange(90) / 30.0
  cubic = rs.resample(t_in**3, 30.0, 50.0, kind='cubic')
  t_out = np.minimum(np.arange(150) / 50.0, t_in[-1])
  np.testing.assert_allclose(cubic, t_out**3, atol=1e-9)  # A spline is exact on cubics.
  with pytest.raises(ValueError, match='rate_in_hz'):
    rs.resample(x, None, 50.0)


def test_hold_indices_hold_the_frame_covering_each_time():
  np.testing.assert_array_equal(rs.hold_indices(10, 10.0, 5.0), [0, 2, 4, 6, 8])
  np.testing.assert_array_equal(rs.hold_indices(4, 10.0, 25.0), [0, 0, 0, 1, 1, 2, 2, 2, 3, 3])
