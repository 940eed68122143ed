"""Real consumer IMUs applied to a clean virtual IMU: what a watch or phone would have recorded.

`virtual_imu.from_pose` gives the ideal specific force and angular rate in each site's sensor frame
(its segment's frame; a watch's axes at the wrists). A real device differs in ways a model trained
on ideal signals never sees: it is strapped on at some angle and slips, it sits on soft tissue that
wobbles, its MEMS elements have noise, offsets, gain and cross-axis errors, its clock runs at its
own rate and is offset from the other devices', and its ADC saturates and quantises. `apply` models
each of these per site, every site a separate device with its own draws, with defaults from consumer
IMU datasheets (Bosch BMI160, BMI270; ST LSM6DSO), and reports what it drew in `info`.

Order (as the signal travels through a real device):
1. Mounting rotation (placement, face up/down, pocket orientation, strap slip): it is geometry,
   it decides which physical vector each sensor axis sees before anything touches the signal.
   acc and gyr turn together; the slip's own angular rate is added to the gyro.
2. Soft tissue: the device rides on skin and strap, a damped spring-mass driven by the specific
   force at its mount; the mass moves before the MEMS element senses it, so it acts on the
   mounted (rotated) acceleration and is itself seen through the device errors below.
3. Gain and cross-axis error (a 3x3 matrix near identity, acc and gyr separately): a property of
   the MEMS structure and its analog front end, applied to the physical signal.
4. Sampling: the device samples on its own clock (rate error in ppm, an offset relative to the
   clip, timestamp jitter) and the recording treats its samples as lying on the nominal grid.
   This is a time warp of the analog signal, done with the project's resampler.
5. Additive errors per output sample: turn-on bias, bias drift (first-order Gauss-Markov) and
   white noise. Datasheets specify offset and noise at the output ("zero-g level", "noise
   density"), so they are added after the gain matrix (the matrix does not scale the bias), and
   after the time warp so that the noise is white per sample (interpolating noise would colour
   it; a real ADC draws fresh noise at each of its own samples).
6. Saturation at the selected full-scale range, then 7. quantisation to the ADC's LSB of that
   range: both happen in the ADC, on the sample that includes every error above, so a biased
   sensor saturates asymmetrically and the stored values lie exactly on the LSB grid.

Every effect is a knob of `SensorModel`; zero, None or an empty choice disables it, and
`SensorModel.off()` disables all (then `apply` returns the input unchanged, bit for bit).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import interpolate
from scipy import signal as sps
from scipy.spatial.transform import Rotation

from mujo_jax.facts import resample, virtual_imu
from mujo_jax.facts.sites import SITES
from mujo_jax.facts.units import STANDARD_GRAVITY

_DEG = math.pi / 180.0

# Sites that wear a watch (rotation about the forearm axis, face up or down), that hold a phone
# in a trouser pocket (any orientation), and that are strapped around a limb (the strap slips
# around the limb axis, the sensor frame's x); other sites slip about a random axis.
WATCH_SITES = tuple(virtual_imu.WATCH_ROLL_DEG)  # The sites read in a watch's axes.
POCKET_SITES = ('left_thigh', 'right_thigh')
STRAP_SITES = WATCH_SITES + (
  'left_forearm',
  'right_forearm',
  'left_upper_arm',
  'right_upper_arm',
  'left_shin',
  'right_shin',
  'left_ankle',
  'right_ankle',
)

# The random streams of one device: fixed ids, so toggling one effect leaves the others' draws.
_STREAMS = ('mount', 'slip', 'tissue', 'gain', 'clock', 'bias', 'drift', 'noise', 'range')


@dataclasses.dataclass(frozen=True, kw_only=True)
class SensorModel:
  """Knobs of the real-device model; standard deviations unless said otherwise.

  Units are the datasheets' (g, mg, °/s, ppm, ms); `apply` converts to m/s² and rad/s.
  """

  # White noise, one-sided noise density. BMI160: 180 µg/√Hz, 0.007 °/s/√Hz; BMI270: 160 µg/√Hz,
  # 0.008 °/s/√Hz; LSM6DSO (high-performance): ~70-110 µg/√Hz, 0.0038 °/s/√Hz.
  acc_noise_ug_per_sqrt_hz: float = 150.0
  gyr_noise_dps_per_sqrt_hz: float = 0.006
  # Turn-on offset per axis before user calibration. BMI160: zero-g offset ±40 mg, zero-rate
  # offset ±3 °/s; BMI270 / LSM6DSO: ±20 mg and ±0.5-1 °/s (typical values, taken as 1 σ).
  acc_bias_mg: float = 30.0
  gyr_bias_dps: float = 2.0
  # Bias drift, first-order Gauss-Markov: steady-state σ and correlation time. Within a clip the
  # drift is thermal: BMI160 offset temperature drift ±1 mg/K and ±0.05 °/s/K (typ.), about 1 K
  # of warming on skin, with a thermal time constant of about a minute.
  acc_drift_mg: float = 1.0
  gyr_drift_dps: float = 0.05
  drift_tau_s: float = 60.0
  # Gain (sensitivity) error per axis and cross-axis sensitivity per off-diagonal term, in %.
  # BMI160 / LSM6DSO: sensitivity tolerance ±1 % (acc) to ±1.5 % (gyro), cross-axis ±1 %.
  acc_gain_pct: float = 1.0
  gyr_gain_pct: float = 1.5
  acc_cross_axis_pct: float = 1.0
  gyr_cross_axis_pct: float = 1.0
  # Full-scale ranges, one drawn per device (all three parts offer ±2/4/8/16 g and
  # ±125...2000 °/s; watches and phones mostly run at ±8 or ±16 g and ±2000 °/s).
  acc_ranges_g: tuple[float, ...] = (8.0, 16.0)
  gyr_ranges_dps: tuple[float, ...] = (2000.0,)
  # ADC word: ±range maps to [-2^(bits-1), 2^(bits-1) - 1] LSB (16-bit on all three parts).
  adc_bits: int | None = 16
  # Clock. Rate error: the MEMS internal oscillator (LSM6DSO reports its ODR deviation in
  # 0.15 % steps, FREQ_FINE); 0.3 % σ. Offset between separately started devices after host
  # time-stamping: tens of ms (an assumption, not a datasheet value). Timestamp jitter: 1 ms.
  rate_error_ppm: float = 3000.0
  clock_offset_ms: float = 20.0
  timestamp_jitter_ms: float = 1.0
  # Placement. Watch: face down with this probability (180° about the forearm axis; vendors'
  # device axes differ, so both occur across datasets), rolled about the forearm axis by a
  # normal angle. Pocket: a uniformly random orientation. Other sites: a small random tilt.
  watch_face_down_prob: float = 0.5
  watch_roll_deg: float = 20.0
  # Watch: x axis (3 o'clock) towards the elbow instead of the hand with this probability (180°
  # about the face normal). Wear OS and Apple Watch put x at 3 o'clock, which points to the hand
  # on a left wrist and to the elbow on a right wrist worn the usual way (crown away from the
  # hand); either way round occurs on either wrist. Real data: in seglearn's watch recordings
  # (shoulder exercises on either arm) a hanging arm reads +1 g along x on the left wrist and
  # -1 g on the right (tests/test_shoulder_watch.py).
  watch_reversed_prob: float = 0.5
  pocket_any_orientation: bool = True
  mount_tilt_deg: float = 5.0
  # Strap slip: a smooth random walk of the mount angle (spline through 1 s knots).
  strap_slip_deg_per_sqrt_s: float = 2.0
  # Soft tissue under the device: natural frequency and damping ratio, drawn uniformly per
  # device from these ranges (wobbling-mass studies of skin-mounted sensors: 10-20 Hz, ζ 0.3-0.5).
  tissue_hz: tuple[float, float] | None = (10.0, 20.0)
  tissue_damping: tuple[float, float] = (0.3, 0.5)

  def __post_init__(self):
    for field in dataclasses.fields(self):
      value = getattr(self, field.name)
      if isinstance(value, bool) or value is None:
        continue
      values = value if isinstance(value, tuple) else (value,)
      for v in values:
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
          raise ValueError(f'SensorModel.{field.name} must be finite and >= 0, got {value}.')
    for name in ('watch_face_down_prob', 'watch_reversed_prob'):
      if not 0 <= getattr(self, name) <= 1:
        raise ValueError(f'{name} must be in [0, 1], got {getattr(self, name)}')
    if self.adc_bits is not None and not (self.acc_ranges_g and self.gyr_ranges_dps):
      raise ValueError('quantisation (adc_bits) needs the full-scale ranges it divides.')
    if self.adc_bits is not None and not 2 <= self.adc_bits <= 32:
      raise ValueError(f'adc_bits must be None or in [2, 32], got {self.adc_bits}.')
    if any(v <= 0 for v in self.acc_ranges_g + self.gyr_ranges_dps):
      raise ValueError('full-scale ranges must be > 0.')
    if self.tissue_hz is not None:
      if len(self.tissue_hz) != 2 or len(self.tissue_damping) != 2:
        raise ValueError('tissue_hz and tissue_damping are (low, high) ranges.')
      if min(self.tissue_hz) <= 0 or min(self.tissue_damping) <= 0:
        raise ValueError('tissue natural frequency and damping must be > 0.')
    if self.drift_tau_s <= 0:
      raise ValueError(f'drift_tau_s must be > 0, got {self.drift_tau_s}.')

  @classmethod
  def off(cls, **knobs: Any) -> SensorModel:
    """A model with every effect disabled, then `knobs` set: one effect at a time in tests."""
    disabled = dict(
      acc_noise_ug_per_sqrt_hz=0.0,
      gyr_noise_dps_per_sqrt_hz=0.0,
      acc_bias_mg=0.0,
      gyr_bias_dps=0.0,
      acc_drift_mg=0.0,
      gyr_drift_dps=0.0,
      acc_gain_pct=0.0,
      gyr_gain_pct=0.0,
      acc_cross_axis_pct=0.0,
      gyr_cross_axis_pct=0.0,
      acc_ranges_g=(),
      gyr_ranges_dps=(),
      adc_bits=None,
      rate_error_ppm=0.0,
      clock_offset_ms=0.0,
      timestamp_jitter_ms=0.0,
      watch_face_down_prob=0.0,
      watch_roll_deg=0.0,
      watch_reversed_prob=0.0,
      pocket_any_orientation=False,
      mount_tilt_deg=0.0,
      strap_slip_deg_per_sqrt_s=0.0,
      tissue_hz=None,
    )
    disabled.update(knobs)
    return cls(**disabled)


def noise_std_per_sample(density: float, rate_hz: float) -> float:
  """σ per sample of white noise of one-sided density `density` (unit/√Hz) at `rate_hz`.

  Convention: the noise is white over the whole digital band, 0 to Nyquist (rate / 2), so
  σ² = density² · rate / 2 and a one-sided Welch spectrum of the output reads density² flat.
  """
  return density * math.sqrt(rate_hz / 2.0)


def apply(
  imu: np.ndarray,
  rate_hz: float,
  sites: Sequence[str],
  model: SensorModel,
  rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, Any]]:
  """Turns a clean virtual IMU into what real devices at `sites` would have recorded.

  Args:
    imu: (T, S, 6) acc xyz (m/s², specific force incl. gravity) then gyr xyz (rad/s) in each
      site's sensor frame, at `rate_hz` (as `virtual_imu.from_pose` gives).
    rate_hz: the sample rate of `imu` and of the output (the nominal rate of every device).
    sites: the S site names (from `sites.SITES`), one device each.
    model: the knobs.
    rng: the only source of randomness: the same generator state gives the same output.

  Returns:
    (imu, info): the (T, S, 6) float32 recording on the nominal grid, and what was drawn, as
    arrays with a leading site axis: `rotation` (S, 3, 3) device axes in the site frame at t = 0
    (v_device = R^T v_site), `face_down` (S,) bool, `reversed` (S,) bool (a watch's x towards
    the elbow), `roll_deg` (S,), `slip_deg` (S, T) the slip
    angle over time, `slip_axis` (S, 3), `tissue_hz` / `tissue_damping` (S,) (NaN when off),
    `acc_matrix` / `gyr_matrix` (S, 3, 3), `rate_error_ppm`, `clock_offset_s` (S,),
    `acc_bias` / `gyr_bias` (S, 3) turn-on offsets (m/s², rad/s), `acc_drift` / `gyr_drift`
    (S, T, 3), `acc_range` / `gyr_range` (S,) (m/s², rad/s; inf when off), `acc_lsb` /
    `gyr_lsb` (S,) (0 when off), `saturated_fraction` (S,), and `sites`.
  """
  imu = np.asarray(imu)
  if imu.ndim != 3 or imu.shape[2] != 6:
    raise ValueError(f'imu must be (T, S, 6), got {imu.shape}.')
  if not (math.isfinite(rate_hz) and rate_hz > 0):
    raise ValueError(f'rate_hz must be finite and > 0, got {rate_hz}.')
  sites = tuple(sites)
  if len(sites) != imu.shape[1]:
    raise ValueError(f'{len(sites)} site names for {imu.shape[1]} sites in imu.')
  unknown = sorted(set(sites) - set(SITES))
  if unknown:
    raise ValueError(f'unknown sites {unknown}; expected names from {", ".join(SITES)}.')
  num_steps, num_sites = imu.shape[:2]
  seed = int(rng.integers(2**63))
  out = np.empty(imu.shape, np.float32)
  records = []
  for s, site in enumerate(sites):
    streams = {name: np.random.default_rng([seed, s, k]) for k, name in enumerate(_STREAMS)}
    values, record = _device(imu[:, s], rate_hz, site, model, streams)
    out[:, s] = values
    records.append(record)
  info: dict[str, Any] = {key: np.stack([r[key] for r in records]) for key in records[0]}
  info['sites'] = sites
  assert out.shape == (num_steps, num_sites, 6)
  return out, info


# --- One device -----------------------------------------------------------------------------


def _device(
  clean: np.ndarray,
  rate_hz: float,
  site: str,
  model: SensorModel,
  streams: dict[str, np.random.Generator],
) -> tuple[np.ndarray, dict[str, Any]]:
  """(T, 6) clean site signal -> (T, 6) float32 device recording, and the draws."""
  num_steps = clean.shape[0]
  x = clean.astype(np.float64)
  changed = False
  rec: dict[str, Any] = {}

  # 1. Mounting rotation and strap slip.
  rotation, face_down, reversed_, roll_deg = _mount(site, model, streams['mount'])
  slip_axis, slip_rad, slip_rate = _slip(site, model, num_steps, rate_hz, streams['slip'])
  rec.update(
    rotation=rotation,
    face_down=face_down,
    reversed=reversed_,
    roll_deg=roll_deg,
    slip_deg=slip_rad / _DEG,
    slip_axis=slip_axis,
  )
  if not np.array_equal(rotation, np.eye(3)) or np.any(slip_rad):
    # Device axes in the site frame at each step: the slip about `slip_axis` after the mount.
    frames = Rotation.from_rotvec(slip_rad[:, None] * slip_axis).as_matrix() @ rotation
    acc = np.einsum('tji,tj->ti', frames, x[:, :3])
    gyr = np.einsum('tji,tj->ti', frames, x[:, 3:])
    gyr = gyr + np.einsum('tji,j->ti', frames, slip_axis) * slip_rate[:, None]
    x = np.concatenate([acc, gyr], axis=1)
    changed = True

  # 2. Soft-tissue wobble on the accelerometer.
  rec['tissue_hz'], rec['tissue_damping'] = np.nan, np.nan
  if model.tissue_hz is not None:
    natural_hz = streams['tissue'].uniform(*model.tissue_hz)
    damping = streams['tissue'].uniform(*model.tissue_damping)
    rec['tissue_hz'], rec['tissue_damping'] = natural_hz, damping
    x[:, :3] = x[:, :3] + tissue_response(x[:, :3], rate_hz, natural_hz, damping)
    changed = True

  # 3. Gain and cross-axis sensitivity.
  g = streams['gain']
  acc_matrix = _gain_matrix(model.acc_gain_pct, model.acc_cross_axis_pct, g)
  gyr_matrix = _gain_matrix(model.gyr_gain_pct, model.gyr_cross_axis_pct, g)
  rec.update(acc_matrix=acc_matrix, gyr_matrix=gyr_matrix)
  if model.acc_gain_pct or model.acc_cross_axis_pct:
    x[:, :3] = x[:, :3] @ acc_matrix.T
    changed = True
  if model.gyr_gain_pct or model.gyr_cross_axis_pct:
    x[:, 3:] = x[:, 3:] @ gyr_matrix.T
    changed = True

  # 4. Sampling on the device's clock.
  c = streams['clock']
  rate_error = c.normal() * model.rate_error_ppm
  offset_s = c.normal() * model.clock_offset_ms * 1e-3
  rec.update(rate_error_ppm=rate_error, clock_offset_s=offset_s)
  if model.rate_error_ppm or model.clock_offset_ms or model.timestamp_jitter_ms:
    jitter_s = c.normal(size=num_steps) * model.timestamp_jitter_ms * 1e-3
    x = sample_on_device_clock(x, rate_hz, rate_error * 1e-6, offset_s, jitter_s)
    changed = True

  # 5. Turn-on bias, drift, white noise (at the output, per sample).
  acc_bias = streams['bias'].normal(size=3) * model.acc_bias_mg * 1e-3 * STANDARD_GRAVITY
  gyr_bias = streams['bias'].normal(size=3) * model.gyr_bias_dps * _DEG
  rec.update(acc_bias=acc_bias, gyr_bias=gyr_bias)
  if model.acc_bias_mg or model.gyr_bias_dps:
    x = x + np.concatenate([acc_bias, gyr_bias])
    changed = True
  drift_std = np.repeat(
    [model.acc_drift_mg * 1e-3 * STANDARD_GRAVITY, model.gyr_drift_dps * _DEG], 3
  )
  drift = np.zeros((num_steps, 6))
  if np.any(drift_std):
    drift = gauss_markov(num_steps, rate_hz, model.drift_tau_s, drift_std, streams['drift'])
    x = x + drift
    changed = True
  rec.update(acc_drift=drift[:, :3], gyr_drift=drift[:, 3:])
  noise_std = np.repeat(
    [
      noise_std_per_sample(model.acc_noise_ug_per_sqrt_hz * 1e-6 * STANDARD_GRAVITY, rate_hz),
      noise_std_per_sample(model.gyr_noise_dps_per_sqrt_hz * _DEG, rate_hz),
    ],
    3,
  )
  if np.any(noise_std):
    x = x + streams['noise'].normal(size=x.shape) * noise_std
    changed = True

  # 6-7. Saturation at the drawn full scale, then quantisation to its LSB.
  r = streams['range']
  acc_range = gyr_range = math.inf
  if model.acc_ranges_g:
    acc_range = float(r.choice(model.acc_ranges_g)) * STANDARD_GRAVITY
  if model.gyr_ranges_dps:
    gyr_range = float(r.choice(model.gyr_ranges_dps)) * _DEG
  full_scale = np.repeat([acc_range, gyr_range], 3)
  saturated = np.abs(x) >= full_scale
  if math.isfinite(acc_range) or math.isfinite(gyr_range):
    x = np.clip(x, -full_scale, full_scale)
    changed = True
  lsb = np.zeros(6)
  if model.adc_bits is not None:
    half = 2 ** (model.adc_bits - 1)
    lsb = full_scale / half
    x = np.clip(np.round(x / lsb), -half, half - 1) * lsb
    changed = True
  rec.update(
    acc_range=acc_range,
    gyr_range=gyr_range,
    acc_lsb=lsb[0],
    gyr_lsb=lsb[3],
    saturated_fraction=float(np.mean(saturated)),
  )
  if not changed:
    return clean.astype(np.float32), rec
  return x.astype(np.float32), rec


def _mount(
  site: str, model: SensorModel, rng: np.random.Generator
) -> tuple[np.ndarray, bool, bool, float]:
  """Device axes in the site frame (columns), whether face down, reversed, and the roll (deg)."""
  face_down, reversed_, roll_deg = False, False, 0.0
  if site in WATCH_SITES:
    face_down = bool(rng.random() < model.watch_face_down_prob)
    roll_deg = float(rng.normal() * model.watch_roll_deg)
    reversed_ = bool(rng.random() < model.watch_reversed_prob)
    angle = roll_deg * _DEG + (math.pi if face_down else 0.0)
    rotation = _rot_x(angle) if angle else np.eye(3)
    if reversed_:  # 180° about the face normal (the device z after the roll): x, y turn round.
      rotation = rotation @ np.diag([-1.0, -1.0, 1.0])
    return rotation, face_down, reversed_, roll_deg
  if site in POCKET_SITES and model.pocket_any_orientation:
    return Rotation.random(random_state=rng).as_matrix(), face_down, reversed_, roll_deg
  if model.mount_tilt_deg:
    return (
      Rotation.from_rotvec(rng.normal(size=3) * model.mount_tilt_deg * _DEG).as_matrix(),
      face_down,
      reversed_,
      roll_deg,
    )
  return np.eye(3), face_down, reversed_, roll_deg


def _rot_x(angle: float) -> np.ndarray:
  c, s = math.cos(angle), math.sin(angle)
  return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _slip(
  site: str, model: SensorModel, num_steps: int, rate_hz: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Slip axis (site frame), angle (T,) rad and its rate (T,) rad/s; zero at t = 0.

  A random walk of the angle at 1 s knots, interpolated by a cubic spline (smooth, so the gyro
  sees a small, continuous rate). Straps slip around the limb, the sensor frame's x axis.
  """
  axis = np.array([1.0, 0.0, 0.0])
  if site not in STRAP_SITES:
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
  zeros = np.zeros(num_steps)
  if not model.strap_slip_deg_per_sqrt_s or num_steps < 2:
    return axis, zeros, zeros
  times = np.arange(num_steps) / rate_hz
  knots = np.arange(0.0, times[-1] + 1.0, 1.0)
  if knots.size < 2:
    knots = np.array([0.0, 1.0])
  steps = rng.normal(size=knots.size - 1) * model.strap_slip_deg_per_sqrt_s * _DEG
  spline = interpolate.CubicSpline(
    knots, np.concatenate([[0.0], np.cumsum(steps)]), bc_type='natural'
  )
  return axis, spline(times), spline(times, 1)


def _gain_matrix(gain_pct: float, cross_pct: float, rng: np.random.Generator) -> np.ndarray:
  """I + diag(gain errors) + off-diagonal cross-axis terms (drawn even when zero, for streams)."""
  gain = rng.normal(size=3) * gain_pct * 1e-2
  cross = rng.normal(size=(3, 3)) * cross_pct * 1e-2
  np.fill_diagonal(cross, 0.0)
  return np.eye(3) + np.diag(gain) + cross


def tissue_response(
  acc: np.ndarray, rate_hz: float, natural_hz: float, damping: float
) -> np.ndarray:
  """(T, 3) extra acceleration of a device on a damped spring-mass driven by `acc` (T, 3).

  The device's displacement x relative to the bone obeys x'' + 2ζω x' + ω² x = -f (f the
  specific force at the mount), and the device reads f + x''. So the extra reading is
  x'' = -s²/(s² + 2ζωs + ω²) · f: nothing at DC (gravity passes), (f/fn)² at slow motion and
  1/(2ζ) at resonance. A 10-20 Hz resonance is close to the Nyquist frequency of a 50 Hz
  stream, where no 2-pole discretisation gets both the slow-motion gain and the resonance right
  (pre-warping at ω halves the gain at 2 Hz); so the filter runs at 8x the rate (bilinear
  transform, resonance within 0.5 %, slow-motion gain within 0.1 %), started in the steady state
  of the first sample so a constant gives no transient, and the wobble is decimated back with
  the project's resampler.
  """
  up = 8
  num_steps = acc.shape[0]
  fine_rate = up * rate_hz
  fine = resample.resample(acc, rate_hz, fine_rate, num_out=up * num_steps)
  omega = 2 * math.pi * natural_hz
  # Bilinear transform s = k (1 - z^-1) / (1 + z^-1), k = 2 fs, in closed form.
  k = 2.0 * fine_rate
  k2, w2, c = k * k, omega * omega, 2 * damping * omega * k
  b = -k2 * np.array([1.0, -2.0, 1.0])
  a = np.array([k2 + c + w2, 2 * (w2 - k2), k2 - c + w2])
  b, a = b / a[0], a / a[0]
  zi = sps.lfilter_zi(b, a)[:, None] * fine[0][None, :]
  wobble, _ = sps.lfilter(b, a, fine, axis=0, zi=zi)
  return resample.resample(wobble, fine_rate, rate_hz, num_out=num_steps)


def sample_on_device_clock(
  values: np.ndarray, rate_hz: float, rate_error: float, offset_s: float, jitter_s: np.ndarray
) -> np.ndarray:
  """(T, C) signal on the clip's grid -> what a device with its own clock stores as samples.

  The device's clock reads c(τ) = (τ - offset)(1 + rate_error) at true time τ, and it stores
  sample k when its clock reads k / rate, timestamp jitter included. Equivalently, the clip's
  samples carry device-clock timestamps c(i / rate) + jitter, and the stream is resampled to the
  device's nominal grid: sample k holds the signal at true time offset + k / (rate (1 + e)).
  Jitter is put on the clip's timestamps rather than the device's (the same to first order).
  The clip is first upsampled 4x (band-limited) so that the irregular resampler's linear
  interpolation loses < 0.2 % of a 5 Hz component; times outside the clip hold its edge values.
  """
  up = 4
  num_steps = values.shape[0]
  fine = resample.resample(values, rate_hz, up * rate_hz, num_out=up * num_steps)
  # Jitter bounded to 0.4 sample so that the timestamps keep increasing.
  jitter = np.clip(jitter_s, -0.4 / rate_hz, 0.4 / rate_hz)
  stamps = (np.arange(num_steps) / rate_hz - offset_s) * (1.0 + rate_error) + jitter
  fine_index = np.arange(up * num_steps) / up
  # The fine samples between two stamped ones get interpolated stamps (a piecewise-linear clock);
  # past the last stamp the clock runs on at its rate.
  step = (1.0 + rate_error) / (up * rate_hz)
  device_times = np.where(
    fine_index <= num_steps - 1,
    np.interp(fine_index, np.arange(num_steps), stamps),
    stamps[-1] + (fine_index - (num_steps - 1)) * up * step,
  )
  return resample.resample(fine, None, rate_hz, times_s=device_times, num_out=num_steps)


def gauss_markov(
  num_steps: int, rate_hz: float, tau_s: float, std: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
  """(T, C) first-order Gauss-Markov drift from 0, steady-state σ `std` (C,), time constant tau.

  b[k+1] = φ b[k] + σ sqrt(1 - φ²) w[k], φ = exp(-dt / tau), b[0] = 0 (the turn-on offset is a
  separate term). Var b(t) = σ² (1 - exp(-2t / tau)) ≈ 2σ² t / tau for t << tau: within a clip
  it is a random walk (variance grows linearly with time), and it never drifts without bound.
  """
  phi = math.exp(-1.0 / (rate_hz * tau_s))
  shocks = rng.normal(size=(num_steps, std.shape[0])) * std * math.sqrt(1.0 - phi * phi)
  shocks[0] = 0.0
  # b[k] = sum_j phi^(k-j) shocks[j]: a first-order IIR filter along time.
  return sps.lfilter([1.0], [1.0, -phi], shocks, axis=0)
