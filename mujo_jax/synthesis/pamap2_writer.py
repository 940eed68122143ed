"""Writes synthetic subjects in PAMAP2's on-disk layout (`facts.pamap2_layout`), line for line.

PAMAP2 cannot be downloaded on our machines or in CI, yet its builder must be tested on files
shaped like the originals, and timed at their size. Each subject here is one simulated person
(`motion.sample_subject`) doing the protocol's activities in the protocol's order, with
transient stretches (activityID 0) between them, and for the five optional subjects the
optional activities too; every IMU stream is derived from that motion by
`virtual_imu.from_pose` at the IMU's anatomical site (subject 108 is left-handed: hand and ankle
IMUs on the left). What the files share with the real ones:

* `PAMAP2_Dataset/Protocol/subject1NN.dat` and `PAMAP2_Dataset/Optional/subject1NN.dat`,
  space-separated, 54 columns, no header, one line per 10 ms; the timestamp written with two
  decimals from a start of a few seconds; every other number in `%g` form (6 significant
  digits, integers without a decimal point: `0`, `104`), missing values as `NaN`.
* Heart rate on roughly one line in 11 (~9 Hz), `NaN` on the others.
* Wireless drop-outs: bursts of lines on which all 17 columns of one IMU are `NaN` (mostly a
  few samples, rarely a second or more), independently per IMU.
* ±16 g accelerometer quantised to 13 bits of its range; the ±6 g one has its own small gain
  and offset errors and clips at ±6 g (so it saturates while running and rope jumping);
  gyroscope in rad/s; magnetometer in µT (a 45 µT field of slowly drifting direction, not
  integrated from the gyroscope); temperature in steps of 1/16 °C; orientation a unit
  quaternion that means nothing (the real columns are documented as invalid).

What is illustrative, not the real dataset's: the motion itself, how long each activity lasts,
the drop-out statistics, and which activities each subject did (everyone does all protocol
activities except subject 109, whose protocol file is short, as the real one is).
`FULL_SIZE_ROWS` are per-file line counts close to the released archive's (3.85 M in all).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np

from mujo_jax.facts import pamap2_layout as layout
from mujo_jax.facts import virtual_imu
from mujo_jax.synthesis import io as io_lib
from mujo_jax.synthesis import motion as motion_lib
from mujo_jax.synthesis import wearable_motion

POSE_FPS = 30.0
# The `wearables` motion program each PAMAP2 activity is synthesised with.
MOTION_OF_ACTIVITY: dict[int, str] = {
  0: 'walking_slow',
  1: 'lying',
  2: 'sitting',
  3: 'standing',
  4: 'walking',
  5: 'running',
  6: 'cycling',
  7: 'nordic_walking',
  9: 'sitting',
  10: 'typing',
  11: 'sitting',
  12: 'stairs_up',
  13: 'stairs_down',
  16: 'vacuuming',
  17: 'ironing',
  18: 'ironing',
  19: 'vacuuming',
  20: 'running',
  24: 'rope_jumping',
}
# The protocol's order (DataCollectionProtocol) and relative durations (minutes).
PROTOCOL_ORDER: tuple[tuple[int, float], ...] = (
  (1, 3.0), (2, 3.0), (3, 3.0), (17, 3.0), (16, 3.0), (12, 1.0), (13, 1.0), (12, 1.0),
  (13, 1.0), (4, 3.0), (7, 3.0), (6, 3.0), (5, 3.0), (24, 2.0),
)  # fmt: skip
OPTIONAL_ORDER: tuple[tuple[int, float], ...] = (
  (9, 3.0), (10, 3.0), (11, 3.0), (18, 3.0), (19, 3.0), (20, 3.0),
)  # fmt: skip
TRANSIENT_FRACTION = 0.3  # Transient minutes per activity minute, spread over the breaks.
# Lines per file, close to the released archive's (its total is 3,850,505 lines).
FULL_SIZE_ROWS: dict[tuple[str, int], int] = {
  ('protocol', 101): 376_417, ('protocol', 102): 447_000, ('protocol', 103): 252_833,
  ('protocol', 104): 329_576, ('protocol', 105): 374_783, ('protocol', 106): 361_817,
  ('protocol', 107): 313_599, ('protocol', 108): 408_031, ('protocol', 109): 8_477,
  ('optional', 101): 319_352, ('optional', 105): 169_470, ('optional', 106): 226_695,
  ('optional', 108): 218_092, ('optional', 109): 44_363,
}  # fmt: skip
_SEGMENT_S = 120.0  # Longest stretch generated as one motion (longer activities are chained).
_BLEND_S = 0.3  # Crossfade between consecutive motions.
_LINE_FORMAT = '%.2f' + ' %g' * (layout.NUM_COLUMNS - 1) + '\n'


@dataclasses.dataclass(frozen=True, kw_only=True)
class WriterSettings:
  """How big and how faulty the written files are.

  `rows`: lines per file (None: `FULL_SIZE_ROWS`); the activities' durations are scaled to it.
  `seconds_per_activity`: if set, every activity lasts this long instead (tiny test sets), and
  breaks `TRANSIENT_FRACTION` of it.
  """

  rows: int | None = None
  seconds_per_activity: float | None = None
  dropout_rate_hz: float = 0.05  # Drop-out bursts per second per IMU.
  dropout_mean_samples: float = 8.0
  long_dropout_rate_hz: float = 0.002  # ~1.5 s bursts per second per IMU.
  acc_noise: float = 0.05
  gyr_noise: float = 0.01

  def __post_init__(self):
    if self.rows is not None and self.rows < 1:
      raise ValueError(f'rows={self.rows}, expected >= 1')
    if self.seconds_per_activity is not None and not self.seconds_per_activity > 0:
      raise ValueError(f'seconds_per_activity={self.seconds_per_activity}, expected > 0')


def _schedule(session: str, subject: int, settings: WriterSettings) -> list[tuple[int, float]]:
  """(activityID, seconds) in file order, transients between and around the activities."""
  order = PROTOCOL_ORDER if session == 'protocol' else OPTIONAL_ORDER
  if session == 'protocol' and subject == 109:
    order = ((24, 1.0),)
  if settings.seconds_per_activity is not None:
    scale = settings.seconds_per_activity / 60.0
    minutes = [(a, scale) for a, _ in order]
  else:
    rows = settings.rows or FULL_SIZE_ROWS.get((session, subject), 300_000)
    total_min = sum(m for _, m in order) * (1 + TRANSIENT_FRACTION)
    scale = rows / layout.RATE_HZ / 60.0 / total_min
    minutes = [(a, m * scale) for a, m in order]
  schedule = []
  break_min = TRANSIENT_FRACTION * sum(m for _, m in minutes) / (len(minutes) + 1)
  for activity, duration in minutes:
    schedule.append((0, break_min * 60.0))
    schedule.append((activity, duration * 60.0))
  schedule.append((0, break_min * 60.0))
  return schedule


def _motion_imu(
  motion_name: str,
  subject: motion_lib.Subject,
  num_samples: int,
  sites: Sequence[str],
  rng: np.random.Generator,
) -> np.ndarray:
  """(num_samples, S, 6) clean virtual IMU at 100 Hz for one activity, chained in segments."""
  pieces, have = [], 0
  blend = int(_BLEND_S * layout.RATE_HZ)
  while have < num_samples:
    need = num_samples - have + (blend if pieces else 0)
    seconds = min(_SEGMENT_S, need / layout.RATE_HZ) + 0.5
    motion = wearable_motion.generate(motion_name, subject, max(seconds, 2.0), POSE_FPS, rng=rng)
    imu = virtual_imu.from_pose(motion.pose, POSE_FPS, sites, out_rate_hz=layout.RATE_HZ)
    imu = imu.astype(np.float64)
    if pieces and blend and len(imu) > blend and len(pieces[-1]) > blend:
      weight = np.linspace(0.0, 1.0, blend)[:, None, None]
      pieces[-1][-blend:] = (1 - weight) * pieces[-1][-blend:] + weight * imu[:blend]
      imu = imu[blend:]
    pieces.append(imu)
    have += len(imu)
  return np.concatenate(pieces)[:num_samples]


def _quantise(values: np.ndarray, full_scale: float, bits: int) -> np.ndarray:
  step = 2 * full_scale / 2**bits
  return np.clip(np.round(values / step) * step, -full_scale, full_scale)


def _bursts(rng: np.random.Generator, n: int, rate_hz: float, mean_samples: float) -> np.ndarray:
  """(n,) bool: bursts starting as a Poisson process, geometric lengths."""
  mask = np.zeros(n, bool)
  count = rng.poisson(rate_hz * n / layout.RATE_HZ)
  starts = rng.integers(0, max(n, 1), count)
  lengths = rng.geometric(1.0 / max(mean_samples, 1.0), count)
  for start, length in zip(starts, lengths, strict=True):
    mask[start : start + length] = True
  return mask


def subject_rows(
  session: str, subject: int, settings: WriterSettings, rng: np.random.Generator
) -> np.ndarray:
  """(T, 54) float64: one file's lines as numbers (NaN where the file says NaN)."""
  person = motion_lib.sample_subject(rng, subject)
  sites = layout.imu_sites(subject)
  schedule = _schedule(session, subject, settings)
  lengths = [max(1, round(seconds * layout.RATE_HZ)) for _, seconds in schedule]
  total = sum(lengths)
  rows = np.full((total, layout.NUM_COLUMNS), np.nan)
  start_s = np.round(rng.uniform(4.0, 9.0), 2)
  rows[:, layout.COLUMN_TIMESTAMP] = np.round(start_s + np.arange(total) / layout.RATE_HZ, 2)
  clean = np.empty((total, len(sites), 6))
  intensity = np.empty(total)
  position = 0
  for (activity, _), length in zip(schedule, lengths, strict=True):
    rows[position : position + length, layout.COLUMN_ACTIVITY] = activity
    clean[position : position + length] = _motion_imu(
      MOTION_OF_ACTIVITY[activity], person, length, sites, rng
    )
    intensity[position : position + length] = {5: 1.0, 24: 1.0, 20: 0.9, 6: 0.6, 7: 0.6}.get(
      activity, 0.3 if activity in (4, 12, 13, 16, 19) else 0.0
    )
    position += length

  # Heart rate: ~9 Hz, following intensity with a lag.
  smooth = np.convolve(intensity, np.ones(3000) / 3000, mode='full')[:total]
  heart = 70 + rng.uniform(-8, 8) + 100 * smooth
  beats = np.zeros(total, bool)
  beats[:: int(layout.RATE_HZ // layout.HEART_RATE_HZ) + 1] = True
  rows[beats, layout.COLUMN_HEART_RATE] = np.round(heart[beats])

  for index, imu in enumerate(layout.IMUS):
    acc = clean[:, index, :3] + rng.normal(0, settings.acc_noise, (total, 3))
    gyr = clean[:, index, 3:] + rng.normal(0, settings.gyr_noise, (total, 3))
    acc6 = acc * (1 + rng.normal(0, 0.01, 3)) + rng.normal(0, 0.1, 3)
    block = np.empty((total, layout.IMU_COLUMNS))
    block[:, layout.OFFSET_TEMPERATURE] = (
      np.round((31.0 + rng.uniform(-2, 3) + 0.0003 * np.arange(total) / 100) * 16) / 16
    )
    block[:, layout.OFFSET_ACC16 : layout.OFFSET_ACC16 + 3] = _quantise(
      acc, layout.ACC16_FULL_SCALE_MS2, 13
    )
    block[:, layout.OFFSET_ACC6 : layout.OFFSET_ACC6 + 3] = _quantise(
      acc6, layout.ACC6_FULL_SCALE_MS2, 13
    )
    block[:, layout.OFFSET_GYR : layout.OFFSET_GYR + 3] = gyr
    direction = np.cumsum(rng.normal(0, 0.002, (total, 3)), axis=0) + rng.normal(0, 1, 3)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    block[:, layout.OFFSET_MAG : layout.OFFSET_MAG + 3] = 45.0 * direction + rng.normal(
      0, 0.5, (total, 3)
    )
    quaternion = np.cumsum(rng.normal(0, 0.01, (total, 4)), axis=0) + [1.0, 0, 0, 0]
    quaternion /= np.linalg.norm(quaternion, axis=1, keepdims=True)
    block[:, layout.OFFSET_ORIENTATION :] = quaternion
    dropped = _bursts(rng, total, settings.dropout_rate_hz, settings.dropout_mean_samples)
    dropped |= _bursts(rng, total, settings.long_dropout_rate_hz, 1.5 * layout.RATE_HZ)
    block[dropped] = np.nan
    first = layout.IMU_FIRST_COLUMN[imu]
    rows[:, first : first + layout.IMU_COLUMNS] = block
  return rows


def file_rows(session: str, subject: int, seed: int, settings: WriterSettings) -> np.ndarray:
  """The numbers `write_pamap2` writes for one file (drawn from seed, subject, session only)."""
  rng = np.random.default_rng([seed, subject, layout.SESSIONS.index(session)])
  return subject_rows(session, subject, settings, rng)


def format_rows(rows: np.ndarray) -> bytes:
  """PAMAP2's text form of (n, 54) numbers: timestamp `%.2f`, the rest `%g`, NaN as `NaN`."""
  out = []
  for start in range(0, len(rows), 20_000):
    chunk = rows[start : start + 20_000]
    text = (_LINE_FORMAT * len(chunk)) % tuple(chunk.ravel().tolist())
    out.append(text.replace('nan', 'NaN').encode('ascii'))
  return b''.join(out)


def file_path(root: str | os.PathLike[str], session: str, subject: int) -> str:
  return os.path.join(
    os.fspath(root), layout.TOP_FOLDER, layout.SESSION_FOLDERS[session], layout.data_file(subject)
  )


def write_pamap2(
  out_dir: str | os.PathLike[str],
  *,
  sessions: Sequence[str] = layout.SESSIONS,
  seed: int = 0,
  settings: WriterSettings = WriterSettings(),
  overwrite: bool = False,
) -> list[str]:
  """Writes `out_dir/PAMAP2_Dataset/{Protocol,Optional}/subject1NN.dat`; returns the paths.

  Every subject of each session is written (the builder requires all of them). Subject s's
  motion and faults are drawn from `seed` and s alone, so one file can be rewritten alone.
  """
  io_lib.ensure_empty_out_dir(out_dir, overwrite)
  paths = []
  for session in sessions:
    for subject in layout.expected_subjects(session):
      path = file_path(out_dir, session, subject)
      os.makedirs(os.path.dirname(path), exist_ok=True)
      with open(path, 'wb') as handle:
        handle.write(format_rows(file_rows(session, subject, seed, settings)))
      paths.append(path)
  return paths
