"""Fixed-length windows cut from time series that run at different rates.

Every dataset stores its modalities on their own clocks (pose at 30 Hz, IMU at 50 Hz, video at
10 fps, ...). A training window is one time interval `[start_s, start_s + window_s)` cut from
every stream at once, so that the modalities stay aligned in time whatever their rates. The
sample count of each stream is `round(window_s * rate)`, fixed per rate, so batches stack.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def num_samples(window_s: float, rate_hz: float) -> int:
  """Samples in a window of `window_s` seconds at `rate_hz` (5 s at 30 Hz -> 150)."""
  return int(round(window_s * rate_hz))


def stream_seconds(example: Mapping[str, np.ndarray], rates_hz: Mapping[str, float]) -> float:
  """Duration covered by every stream of `example` (the shortest of them), in seconds."""
  durations = [example[key].shape[0] / rate for key, rate in rates_hz.items() if key in example]
  if not durations:
    raise ValueError(
      f'none of the timed keys {sorted(rates_hz)} is in the example (keys: {sorted(example)})'
    )
  return min(durations)


def crop_window(
  example: Mapping[str, np.ndarray], start_s: float, window_s: float, rates_hz: Mapping[str, float]
) -> dict[str, np.ndarray]:
  """Cuts the same time interval out of every timed stream; other keys pass through.

  Args:
    example: arrays whose leading axis is time for the keys named in `rates_hz`.
    start_s: window start in seconds from the start of the streams.
    window_s: window length in seconds.
    rates_hz: sampling rate of each timed key.

  Returns:
    A new dict; timed keys have exactly `num_samples(window_s, rate)` samples.
  """
  out = dict(example)
  for key, rate in rates_hz.items():
    if key not in example:
      continue
    stream = example[key]
    start = int(round(start_s * rate))
    length = num_samples(window_s, rate)
    if start < 0 or start + length > stream.shape[0]:
      raise ValueError(
        f'window [{start_s:.3f} s, {start_s + window_s:.3f} s) of {key!r} at {rate} Hz needs '
        f'samples [{start}, {start + length}) but the stream has {stream.shape[0]}'
      )
    out[key] = stream[start : start + length]
  return out


def random_window(
  example: Mapping[str, np.ndarray],
  window_s: float,
  rates_hz: Mapping[str, float],
  rng: np.random.Generator,
) -> dict[str, np.ndarray]:
  """A window at a uniformly random start that fits inside every stream."""
  slack_s = stream_seconds(example, rates_hz) - window_s
  if slack_s < -1e-6:
    raise ValueError(
      f'streams last {slack_s + window_s:.3f} s, shorter than the {window_s} s window'
    )
  # Start on the coarsest stream's grid so that rounding never runs a stream past its end.
  coarsest_hz = min(rate for key, rate in rates_hz.items() if key in example)
  max_start = int(np.floor(max(slack_s, 0.0) * coarsest_hz + 1e-6))
  start_s = rng.integers(0, max_start + 1) / coarsest_hz
  return crop_window(example, start_s, window_s, rates_hz)


def centre_window(
  example: Mapping[str, np.ndarray], window_s: float, rates_hz: Mapping[str, float]
) -> dict[str, np.ndarray]:
  """The window in the middle of the streams (deterministic evaluation crop)."""
  slack_s = stream_seconds(example, rates_hz) - window_s
  coarsest_hz = min(rate for key, rate in rates_hz.items() if key in example)
  start_s = np.floor(max(slack_s, 0.0) / 2 * coarsest_hz + 1e-6) / coarsest_hz
  return crop_window(example, start_s, window_s, rates_hz)
