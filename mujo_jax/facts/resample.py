"""The one resampler of time series: builders, training pipelines and `inference.Embedder`.

Convention: sample `i` of a stream at rate `r` lies at `i / r` seconds from the stream's start;
output sample `k` at `k / rate_out_hz`. By default the output covers the input's duration,
`ceil(n * rate_out / rate_in)` samples (5 s stay 5 s at any rate).

Method (`kind='polyphase'`, the default): a polyphase FIR filter (`scipy.signal.resample_poly`:
upsample by `up`, Kaiser-windowed sinc low-pass at the lower of the two Nyquist frequencies,
downsample by `down`, `up / down` the rate ratio as a fraction with denominator <= 1000). It is
zero-phase (no delay), band-limited interpolation when upsampling (30 -> 50 Hz) and anti-aliased
decimation when downsampling (100 -> 50 Hz: a tone above 25 Hz is removed, not folded onto a
slower one). Before filtering, the straight line through the first and last samples is
removed, and added back at the output times afterwards; the remainder, zero at both ends, is
extended past the edges by a line (`padtype='line'`). So a constant such as gravity (or any
linear trend) passes exactly, with no ringing at the edges and none of the small periodic
ripple (~0.07 %) that the polyphase branches of an upsampling filter put on a constant.

Irregular timestamps (MM-Fit's sensors: each row carries its own time): the stream is first
interpolated linearly onto a uniform grid `q` times finer than the output (`q = round(stream
rate / output rate)`, at least 1; the grid is at least as dense as the stream, so linear
interpolation loses little), then decimated by `q` with the same anti-aliasing filter.

`kind='cubic'` interpolates a cubic spline instead, for signals already smoothed far below
their Nyquist frequency (the virtual IMU's Savitzky-Golay derivatives): there a spline is
exact for cubic trends and adds no filter transient. Output times past the last input sample
hold its value.

`hold_indices` is the rule for frames (video frames, pre-extracted features): a frame stands for
the interval it covers, so it is held, never blended with its neighbour.
"""

from __future__ import annotations

import fractions
import math
from typing import Literal

import numpy as np
from scipy import interpolate, signal

Kind = Literal['polyphase', 'cubic']
_MAX_DENOMINATOR = 1000


def num_samples(duration_s: float, rate_hz: float) -> int:
  """Samples of a stream of `duration_s` seconds at `rate_hz` (5 s at 30 Hz -> 150)."""
  return int(round(duration_s * rate_hz))


def _check_rate(name: str, value: float) -> float:
  if not (math.isfinite(value) and value > 0):
    raise ValueError(f'{name} must be finite and > 0, got {value}')
  return float(value)


def _fit_length(values: np.ndarray, num_out: int) -> np.ndarray:
  """Truncates to `num_out` samples, or holds the last sample to reach it."""
  if values.shape[0] >= num_out:
    return values[:num_out]
  tail = np.repeat(values[-1:], num_out - values.shape[0], axis=0)
  return np.concatenate([values, tail], axis=0)


def _out_dtype(stream: np.ndarray) -> np.dtype:
  return stream.dtype if np.issubdtype(stream.dtype, np.floating) else np.dtype(np.float64)


def resample(
  stream: np.ndarray,
  rate_in_hz: float | None,
  rate_out_hz: float,
  *,
  times_s: np.ndarray | None = None,
  num_out: int | None = None,
  kind: Kind = 'polyphase',
) -> np.ndarray:
  """Resamples `stream` (time on axis 0) to `rate_out_hz` (see the module docstring).

  Args:
    stream: (n, ...) samples; float dtypes are kept, others become float64.
    rate_in_hz: the input rate of a uniformly sampled stream; None with `times_s`.
    rate_out_hz: output rate.
    times_s: (n,) strictly increasing sample times in seconds for an irregular stream; output
      sample k then lies at `k / rate_out_hz` on the same clock (make times relative to the
      output's start). Needs `num_out`.
    num_out: output length; None covers the input's duration (uniform input only). Samples
      beyond what the input covers hold the last value.
    kind: 'polyphase' (band-limited, anti-aliased) or 'cubic' (spline; uniform input only).

  Returns:
    (num_out, ...) array. A uniform stream already at `rate_out_hz` is returned as is.
  """
  rate_out_hz = _check_rate('rate_out_hz', rate_out_hz)
  stream = np.asarray(stream)
  if stream.shape[0] < 1:
    raise ValueError(f'cannot resample an empty stream (shape {stream.shape})')
  dtype = _out_dtype(stream)
  if kind not in ('polyphase', 'cubic'):
    raise ValueError(f"kind must be 'polyphase' or 'cubic', got {kind!r}")
  if times_s is not None:
    if rate_in_hz is not None or kind != 'polyphase' or num_out is None:
      raise ValueError(
        'irregular input (times_s) takes rate_in_hz=None, num_out and the polyphase kind'
      )
    return _resample_irregular(
      np.asarray(times_s, np.float64), stream, rate_out_hz, num_out
    ).astype(dtype)
  if rate_in_hz is None:
    raise ValueError('give rate_in_hz (uniform input) or times_s (irregular input)')
  rate_in_hz = _check_rate('rate_in_hz', rate_in_hz)
  num_in = stream.shape[0]
  if num_out is None:
    num_out = max(1, math.ceil(num_in * rate_out_hz / rate_in_hz - 1e-9))
  if math.isclose(rate_in_hz, rate_out_hz, rel_tol=1e-9):
    return _fit_length(stream, num_out) if num_out != num_in else stream
  values = stream.astype(np.float64)
  if kind == 'cubic' or num_in < 2:
    in_times = np.arange(num_in) / rate_in_hz
    out_times = np.minimum(np.arange(num_out) / rate_out_hz, in_times[-1])
    if num_in < 2:
      return _fit_length(values, num_out).astype(dtype)
    return interpolate.CubicSpline(in_times, values, axis=0)(out_times).astype(dtype)
  ratio = fractions.Fraction(rate_out_hz / rate_in_hz).limit_denominator(_MAX_DENOMINATOR)
  out = _polyphase(values, ratio.numerator, ratio.denominator)
  return _fit_length(out, num_out).astype(dtype)


def _polyphase(values: np.ndarray, up: int, down: int) -> np.ndarray:
  """`resample_poly` of `values` (float64, time on axis 0) around its end-to-end line."""
  num_in = values.shape[0]
  slope = (values[-1] - values[0]) / max(num_in - 1, 1)
  shape = (-1,) + (1,) * (values.ndim - 1)
  line_in = values[0] + slope * np.arange(num_in).reshape(shape)
  out = signal.resample_poly(values - line_in, up, down, axis=0, padtype='line')
  line_out = values[0] + slope * (np.arange(out.shape[0]) * (down / up)).reshape(shape)
  return out + line_out


def _resample_irregular(
  times_s: np.ndarray, values: np.ndarray, rate_out_hz: float, num_out: int
) -> np.ndarray:
  if times_s.ndim != 1 or times_s.shape[0] != values.shape[0] or times_s.shape[0] < 2:
    raise ValueError(
      f'times_s must be (n,) with n >= 2 matching the stream, got '
      f'{times_s.shape} for {values.shape}'
    )
  intervals = np.diff(times_s)
  if np.any(intervals <= 0):
    raise ValueError('times_s must be strictly increasing')
  stream_rate_hz = 1.0 / float(np.median(intervals))
  factor = max(1, int(round(stream_rate_hz / rate_out_hz)))
  fine_times = np.arange(num_out * factor) * (1.0 / (rate_out_hz * factor))
  flat = values.reshape(values.shape[0], -1).astype(np.float64)
  fine = np.stack([np.interp(fine_times, times_s, flat[:, c]) for c in range(flat.shape[1])], 1)
  if factor > 1:
    fine = _polyphase(fine, 1, factor)[:num_out]
  return fine.reshape((num_out,) + values.shape[1:])


def hold_indices(num_in: int, rate_in_hz: float, rate_out_hz: float) -> np.ndarray:
  """Indices of the input frames held at each output time `k / rate_out_hz`.

  Frame `i` at `rate_in_hz` covers `[i / rate_in_hz, (i + 1) / rate_in_hz)`; output sample `k`
  takes the frame whose interval contains its time. The output covers the same duration:
  `floor(num_in * rate_out / rate_in)` samples.
  """
  if rate_in_hz == rate_out_hz:
    return np.arange(num_in)
  count = int(np.floor(num_in * rate_out_hz / rate_in_hz + 1e-6))
  return np.minimum(
    np.floor(np.arange(count) * rate_in_hz / rate_out_hz + 1e-6).astype(int), num_in - 1
  )
