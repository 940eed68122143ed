"""Physics tests of the virtual IMU: each fails if the mechanics were wrong."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from mujo_jax.facts import skeleton as sk
from mujo_jax.facts import virtual_imu as vi
from mujo_jax.facts.sites import FIMAD_SITES, SITES

G_UP = np.array([0.0, 0.0, vi.GRAVITY])  # Specific force of a body at rest, world frame.


def _rot(axis: int, angle) -> np.ndarray:
  angle = np.asarray(angle, dtype=np.float64)
  c, s = np.cos(angle), np.sin(angle)
  i, j = ((1, 2), (2, 0), (0, 1))[axis]
  r = np.zeros(angle.shape + (3, 3))
  r[..., axis, axis] = 1
  r[..., i, i] = c
  r[..., j, j] = c
  r[..., i, j] = -s
  r[..., j, i] = s
  return r


def _posed_body() -> np.ndarray:
  """(17, 3, 3) fixed local rotations: bent elbows and knees, raised arms, twisted trunk."""
  local = np.tile(np.eye(3), (17, 1, 1))
  local[sk.joint_index('left_shoulder')] = _rot(0, 0.5) @ _rot(1, -0.3)
  local[sk.joint_index('left_elbow')] = _rot(1, -0.8)
  local[sk.joint_index('right_shoulder')] = _rot(1, -1.0)
  local[sk.joint_index('right_elbow')] = _rot(1, -0.4)
  local[sk.joint_index('left_hip')] = _rot(1, -0.4)
  local[sk.joint_index('left_knee')] = _rot(1, 0.6)
  local[sk.joint_index('spine')] = _rot(2, 0.2)
  return local


def _pose(num_frames: int, local=None, root_position=None, root_rotation=None) -> np.ndarray:
  if local is None:
    local = _posed_body()
  local = np.broadcast_to(local, (num_frames, 17, 3, 3))
  if root_position is None:
    root_position = np.zeros((num_frames, 3))
  root_position = np.broadcast_to(root_position, (num_frames, 3))
  if root_rotation is not None:
    root_rotation = np.broadcast_to(root_rotation, (num_frames, 3, 3))
  return sk.forward_kinematics(local, sk.rest_offsets(), root_position, root_rotation)


def _trunk_frames(pose: np.ndarray, site: str) -> np.ndarray:
  """The documented trunk sensor frame, computed independently from the joints."""
  proximal, distal, lat_from, lat_to = {
    'pelvis': ('pelvis', 'spine', 'right_hip', 'left_hip'),
    'lower_back': ('pelvis', 'spine', 'right_hip', 'left_hip'),
    'chest': ('spine', 'thorax', 'right_shoulder', 'left_shoulder'),
    'head': ('neck', 'head', 'right_shoulder', 'left_shoulder'),
  }[site]
  j = lambda name: pose[:, sk.joint_index(name)]  # noqa: E731
  x = j(distal) - j(proximal)
  x /= np.linalg.norm(x, axis=-1, keepdims=True)
  y = j(lat_to) - j(lat_from)
  y -= np.sum(y * x, -1, keepdims=True) * x
  y /= np.linalg.norm(y, axis=-1, keepdims=True)
  return np.stack([x, y, np.cross(x, y)], axis=-1)


def _segment_axis(pose: np.ndarray, site: str) -> np.ndarray:
  proximal, distal, _ = vi.site_placement(site)
  axis = pose[:, sk.joint_index(distal)] - pose[:, sk.joint_index(proximal)]
  return axis / np.linalg.norm(axis, axis=-1, keepdims=True)


TRUNK_SITES = ('pelvis', 'lower_back', 'chest', 'head')


def test_site_vocabulary():
  required = {
    'left_wrist',
    'right_wrist',
    'left_upper_arm',
    'right_upper_arm',
    'left_thigh',
    'right_thigh',
    'left_shin',
    'right_shin',
    'pelvis',
    'chest',
    'head',
  }
  assert required <= set(SITES)
  assert len(set(SITES)) == len(SITES)
  assert len(FIMAD_SITES) == 16 and len(set(FIMAD_SITES)) == 16
  assert set(FIMAD_SITES) <= set(SITES)
  assert SITES[:5] == ('left_wrist', 'right_wrist', 'left_thigh', 'right_thigh', 'head')


@pytest.mark.parametrize('tilt', [0.0, 1.2])
def test_still_pose_reads_gravity_and_no_rotation(tilt):
  # A still body, upright or tilted (lying at 1.2 rad), in an arbitrary heading.
  rotation = _rot(2, 0.7) @ _rot(1, tilt)
  pose = _pose(60, root_position=np.array([0.3, -1.0, 0.94]), root_rotation=rotation)
  imu = vi.from_pose(pose, 30.0, SITES)
  assert imu.shape == (60, len(SITES), 6) and imu.dtype == np.float32
  np.testing.assert_allclose(np.linalg.norm(imu[..., :3], axis=-1), 9.81, atol=0.05)
  np.testing.assert_allclose(imu[..., 3:], 0.0, atol=1e-4)
  # Every sensor's x is its segment axis: acc_x = (specific force) . axis.
  for s, site in enumerate(SITES):
    np.testing.assert_allclose(imu[:, s, 0], _segment_axis(pose, site) @ G_UP, atol=1e-3)


def test_upright_trunk_sensor_reads_plus_g_along_up_axis():
  pose = _pose(30, local=np.tile(np.eye(3), (17, 1, 1)))
  imu = vi.from_pose(pose, 30.0, ('pelvis', 'left_wrist', 'left_thigh'))
  np.testing.assert_allclose(imu[:, 0], [[9.81, 0, 0, 0, 0, 0]] * 30, atol=1e-4)
  # Hanging arm and leg: their x axis points down, so they read -g along x.
  np.testing.assert_allclose(imu[:, 1:, 0], -9.81, atol=1e-4)


def test_wrist_sites_read_in_a_watchs_axes():
  """x to the hand, z out of the face on the back of the wrist, y = z x x (12 o'clock).

  With no forearm twist a hanging arm's palm faces the body, so an arm held out sideways is
  palm down (the watch face up: +1 g along z) and a forearm held forward with the upper arm
  hanging is thumb up: on the left wrist 12 o'clock then points down (-1 g along y), as in
  seglearn's real recordings of rotator-cuff exercises; on the right wrist (x still to the
  hand) it points up.
  """
  sideways = np.tile(np.eye(3), (17, 1, 1))
  sideways[sk.joint_index('left_shoulder')] = _rot(0, np.pi / 2)
  sideways[sk.joint_index('right_shoulder')] = _rot(0, -np.pi / 2)
  pose = _pose(30, local=sideways)
  lateral = pose[0, sk.joint_index('left_hip')] - pose[0, sk.joint_index('right_hip')]
  for side, sign in (('left', 1.0), ('right', -1.0)):
    arm = pose[0, sk.joint_index(f'{side}_elbow')] - pose[0, sk.joint_index(f'{side}_shoulder')]
    assert np.dot(arm, lateral) * sign > 0.99 * np.linalg.norm(arm) * np.linalg.norm(lateral)
  imu = vi.from_pose(pose, 30.0, ('left_wrist', 'right_wrist'))
  np.testing.assert_allclose(imu[..., :3], np.broadcast_to([0, 0, 9.81], (30, 2, 3)), atol=1e-3)
  forward = np.tile(np.eye(3), (17, 1, 1))
  forward[sk.joint_index('left_elbow')] = _rot(1, -np.pi / 2)
  forward[sk.joint_index('right_elbow')] = _rot(1, -np.pi / 2)
  pose = _pose(30, local=forward)
  forearm = pose[0, sk.joint_index('left_wrist')] - pose[0, sk.joint_index('left_elbow')]
  np.testing.assert_allclose(forearm[2], 0.0, atol=1e-6)  # Horizontal.
  imu = vi.from_pose(pose, 30.0, ('left_wrist', 'right_wrist'))
  np.testing.assert_allclose(imu[:, 0, :3], np.broadcast_to([0, -9.81, 0], (30, 3)), atol=1e-3)
  np.testing.assert_allclose(imu[:, 1, :3], np.broadcast_to([0, 9.81, 0], (30, 3)), atol=1e-3)


def test_a_bent_forearm_reads_the_same_whatever_frame_the_clip_starts_on():
  """External rotation: elbow bent 90 deg, the upper arm turning about its own axis swings the
  forearm from the front to the side with the thumb up throughout. A clip cut to start with the
  forearm already turned out must read what the whole clip reads from that frame on: the first
  frame cannot tell the twist-free transport how the forearm got there, the elbow hinge can."""
  num_frames = 90
  local = np.tile(np.eye(3), (num_frames, 17, 1, 1))
  turn = np.linspace(0.0, 1.2, num_frames)  # rad about the vertical upper arm.
  local[:, sk.joint_index('left_shoulder')] = _rot(2, turn)
  local[:, sk.joint_index('right_shoulder')] = _rot(2, -turn)
  local[:, sk.joint_index('left_elbow')] = _rot(1, -np.pi / 2)
  local[:, sk.joint_index('right_elbow')] = _rot(1, -np.pi / 2)
  pose = _pose(num_frames, local=local)
  sites = ('left_wrist', 'right_wrist', 'left_forearm')
  whole = vi.from_pose(pose, 30.0, sites)
  cut = 45
  late = vi.from_pose(pose[cut:], 30.0, sites)
  # Away from the Savitzky-Golay edge fits, the two agree.
  np.testing.assert_allclose(late[10:-10], whole[cut + 10 : -10], atol=2e-3)
  # Thumb up: 12 o'clock down on the left wrist, up on the right (x to the hand), and the
  # turning upper arm is read on that vertical axis.
  np.testing.assert_allclose(late[:, 0, 1], -9.81, atol=1e-3)
  np.testing.assert_allclose(late[:, 1, 1], 9.81, atol=1e-3)


def test_forearm_rotating_at_known_rate():
  fps, rate = 30.0, 1.5  # rad/s, elbow flexion from straight to ~170 degrees.
  times = np.arange(60) / fps
  local = np.tile(_posed_body(), (60, 1, 1, 1))
  local[:, sk.joint_index('left_elbow')] = _rot(1, -(0.2 + rate * times))
  pose = _pose(60, local=local, root_rotation=_rot(2, 0.4))
  imu = vi.from_pose(pose, fps, ('left_wrist', 'left_forearm', 'left_upper_arm', 'chest'))
  gyr = imu[..., 3:]
  np.testing.assert_allclose(np.linalg.norm(gyr[:, 0], axis=-1), rate, rtol=0.01)
  # Same segment, same rotation, read in the watch's axes at the wrist: the forearm frame
  # rolled by +90 deg about x on the left (v_watch = R^T v_forearm).
  roll = _rot(0, np.deg2rad(vi.WATCH_ROLL_DEG['left_wrist']))
  np.testing.assert_allclose(gyr[:, 0], gyr[:, 1] @ roll, atol=1e-4)
  # A hinge: the axis is fixed in the forearm and perpendicular to it.
  np.testing.assert_allclose(gyr[:, 0], np.broadcast_to(gyr[30, 0], gyr[:, 0].shape), atol=0.02)
  assert abs(gyr[30, 0, 0]) < 1e-3
  np.testing.assert_allclose(gyr[:, 2:], 0.0, atol=1e-3)  # Upper arm and chest keep still.


def test_resampled_gyro_follows_time_varying_rate():
  fps, out_rate = 30.0, 50.0
  num_frames = 120
  times = np.arange(num_frames) / fps
  angle = 1.0 + 0.8 * np.sin(2 * np.pi * 0.5 * times)
  local = np.tile(np.eye(3), (num_frames, 17, 1, 1))
  local[:, sk.joint_index('right_elbow')] = _rot(1, -angle)
  imu = vi.from_pose(_pose(num_frames, local=local), fps, ('right_wrist',), out_rate_hz=out_rate)
  assert imu.shape == (200, 1, 6)
  out_times = np.arange(200) / out_rate
  expected = np.abs(0.8 * np.pi * np.cos(np.pi * out_times))
  # The first and last half smoothing window come from the edge fits: less accurate.
  interior = (out_times > 0.15) & (out_times < times[-1] - 0.15)
  measured = np.linalg.norm(imu[interior, 0, 3:], axis=-1)
  np.testing.assert_allclose(measured, expected[interior], atol=0.03)
  # A half-frame timing error would show: it shifts the sinusoid by up to 0.07 rad/s.
  shifted = np.abs(0.8 * np.pi * np.cos(np.pi * (out_times + 0.5 / fps)))
  assert np.max(np.abs(measured - shifted[interior])) > 0.05


def test_constant_acceleration_gives_a_minus_g_in_sensor_frame():
  fps, num_frames = 30.0, 45
  times = np.arange(num_frames) / fps
  accel = np.array([1.5, -0.7, 2.0])
  velocity = np.array([0.2, 0.1, -0.3])
  root = np.array([0.0, 0.0, 1.0]) + velocity * times[:, None] + 0.5 * accel * times[:, None] ** 2
  rotation = _rot(2, 0.9) @ _rot(0, 0.3)  # A leaning body, heading 0.9 rad.
  pose = _pose(num_frames, root_position=root, root_rotation=rotation)
  imu = vi.from_pose(pose, fps, SITES)
  specific_force = accel + G_UP  # a - g with g = (0, 0, -9.81).
  for s, site in enumerate(SITES):
    if site in TRUNK_SITES:
      expected = np.einsum('tji,j->ti', _trunk_frames(pose, site), specific_force)
      np.testing.assert_allclose(imu[:, s, :3], expected, atol=2e-3, err_msg=site)
    else:  # Limb roll is a convention; the axis component and the magnitude are physics.
      np.testing.assert_allclose(
        imu[:, s, 0], _segment_axis(pose, site) @ specific_force, atol=2e-3, err_msg=site
      )
      np.testing.assert_allclose(
        np.linalg.norm(imu[:, s, :3], axis=-1),
        np.linalg.norm(specific_force),
        atol=2e-3,
        err_msg=site,
      )
  np.testing.assert_allclose(imu[..., 3:], 0.0, atol=1e-4)


def test_spinning_body_gyro_and_centripetal_acceleration():
  fps, num_frames, spin = 60.0, 120, 4.0  # rad/s about the vertical through the pelvis.
  times = np.arange(num_frames) / fps
  pose = _pose(
    num_frames,
    local=np.tile(np.eye(3), (17, 1, 1)),
    root_position=np.array([0.0, 0.0, 0.94]),
    root_rotation=_rot(2, spin * times),
  )
  # Leave out the edge half-windows, where the smoother extrapolates its fit.
  edge = vi.smoothing_window_frames(fps, vi.DEFAULT_SMOOTHING_WINDOW_S) // 2
  imu = vi.from_pose(pose, fps, SITES)[edge:-edge]
  pose = pose[edge:-edge]
  num_frames = pose.shape[0]
  np.testing.assert_allclose(np.linalg.norm(imu[..., 3:], axis=-1), spin, rtol=0.005)
  for s, site in enumerate(SITES):
    proximal, distal, fraction = vi.site_placement(site)
    point = (1 - fraction) * pose[:, sk.joint_index(proximal)] + fraction * pose[
      :, sk.joint_index(distal)
    ]
    radius = np.linalg.norm(point[:, :2], axis=-1)
    expected = np.hypot(vi.GRAVITY, spin**2 * radius)
    np.testing.assert_allclose(
      np.linalg.norm(imu[:, s, :3], axis=-1), expected, rtol=0.01, err_msg=site
    )
    if site in TRUNK_SITES:
      world_gyr = np.einsum('tij,tj->ti', _trunk_frames(pose, site), imu[:, s, 3:])
      np.testing.assert_allclose(world_gyr, [[0, 0, spin]] * num_frames, atol=0.04)


@pytest.mark.parametrize(
  'out_rate, expected', [(None, 90), (50.0, 150), (100.0, 300), (25.0, 75), (20.0, 60)]
)
def test_output_rate_and_length(out_rate, expected):
  imu = vi.from_pose(_pose(90), 30.0, ('head', 'left_thigh'), out_rate_hz=out_rate)
  assert imu.shape == (expected, 2, 6)
  np.testing.assert_allclose(np.linalg.norm(imu[..., :3], axis=-1), 9.81, atol=0.05)


def test_jittery_30hz_pose_stays_bounded():
  rng = np.random.default_rng(0)
  pose = _pose(150) + rng.normal(0.0, 0.01, size=(150, 17, 3))  # 1 cm estimation jitter.
  imu = vi.from_pose(pose, 30.0, ('left_wrist', 'pelvis'))
  # Raw double differencing would give ~1 cm * 30^2 * 2.4 ~ 20 m/s^2 of noise.
  assert np.std(np.linalg.norm(imu[..., :3], axis=-1)) < 3.0
  assert np.all(np.isfinite(imu))


def test_noise_is_seeded_and_sized():
  pose = _pose(300)
  clean = vi.from_pose(pose, 30.0, ('left_wrist',))
  noise = vi.ImuNoise(acc_std=0.1, gyr_std=0.02, acc_bias_std=0.0, gyr_bias_std=0.0)
  a = vi.from_pose(pose, 30.0, ('left_wrist',), noise=noise, rng=np.random.default_rng(1))
  b = vi.from_pose(pose, 30.0, ('left_wrist',), noise=noise, rng=np.random.default_rng(1))
  np.testing.assert_array_equal(a, b)
  diff = a - clean
  assert np.std(diff[..., :3]) == pytest.approx(0.1, rel=0.15)
  assert np.std(diff[..., 3:]) == pytest.approx(0.02, rel=0.15)
  with pytest.raises(ValueError, match='acc_std'):
    vi.ImuNoise(acc_std=-1.0)


def test_savgol_matches_scipy():
  values = np.random.default_rng(0).normal(size=(40, 3, 2))
  for deriv in (0, 1, 2):
    np.testing.assert_allclose(
      vi.savgol_filter(values, 9, deriv, 0.05),
      signal.savgol_filter(values, 9, 3, deriv=deriv, delta=0.05, axis=0),
      atol=1e-9,
    )


def test_bad_inputs_raise_clear_errors():
  pose = _pose(30)
  with pytest.raises(ValueError, match=r'\(T, 17, 3\)'):
    vi.from_pose(pose[..., :2], 30.0, ('head',))
  with pytest.raises(ValueError, match=r'\(T, 17, 3\)'):
    vi.from_pose(pose[0], 30.0, ('head',))
  bad = pose.copy()
  bad[7, 3, 1] = np.nan
  with pytest.raises(ValueError, match='non-finite .*7'):
    vi.from_pose(bad, 30.0, ('head',))
  for fps in (0.0, -30.0, float('nan')):
    with pytest.raises(ValueError, match='fps'):
      vi.from_pose(pose, fps, ('head',))
  with pytest.raises(ValueError, match='out_rate_hz'):
    vi.from_pose(pose, 30.0, ('head',), out_rate_hz=0.0)
  with pytest.raises(ValueError, match="Unknown IMU site 'left_foot'.*left_wrist"):
    vi.from_pose(pose, 30.0, ('head', 'left_foot'))
  with pytest.raises(ValueError, match='non-empty'):
    vi.from_pose(pose, 30.0, ())
  with pytest.raises(ValueError, match='non-empty'):
    vi.from_pose(pose, 30.0, 'head')
  with pytest.raises(ValueError, match='at least 9 frames'):
    vi.from_pose(pose[:8], 30.0, ('head',))
  with pytest.raises(ValueError, match='rng'):
    vi.from_pose(pose, 30.0, ('head',), noise=vi.ImuNoise())
  collapsed = pose.copy()
  collapsed[:, sk.joint_index('left_wrist')] = collapsed[:, sk.joint_index('left_elbow')]
  with pytest.raises(ValueError, match='left_elbow and left_wrist'):
    vi.from_pose(collapsed, 30.0, ('left_wrist',))


FOREARM_SITES = ('left_wrist', 'right_wrist', 'left_forearm', 'right_forearm')


def test_forearm_twist_rate_reads_on_the_forearm_axis_only():
  # A still posed body whose forearms twist at known rates: the wrist and forearm gyros read
  # exactly the twist rate about x (elbow -> wrist); y/z read nothing; the accelerometer's
  # x (along the still forearm) and |acc| do not change, its y/z turn by the twist angle.
  fps, num_frames = 60.0, 120
  times = np.arange(num_frames) / fps
  rates = np.array([3.0, -5.0])  # rad/s, (left, right): pronation-like speeds of a swing.
  twist = times[:, None] * rates[None, :]
  pose = _pose(num_frames)
  sites = FOREARM_SITES + ('left_upper_arm', 'head')
  # Leave out the edge half-windows, where the smoother extrapolates its fit.
  edge = vi.smoothing_window_frames(fps, vi.DEFAULT_SMOOTHING_WINDOW_S) // 2
  plain = vi.from_pose(pose, fps, sites)[edge:-edge]
  twisted = vi.from_pose(pose, fps, sites, forearm_twist=twist)[edge:-edge]
  twist = twist[edge:-edge]
  side = [0, 1, 0, 1]  # Twist column of each forearm site.
  for s, site in enumerate(FOREARM_SITES):
    # rtol as the spinning-body test: a cubic SG fit of cos/sin of the angle, ~0.3 % at 5 rad/s.
    np.testing.assert_allclose(twisted[:, s, 3], rates[side[s]], rtol=5e-3, err_msg=site)
    np.testing.assert_allclose(twisted[:, s, 4:], 0.0, atol=2e-3, err_msg=site)
    np.testing.assert_allclose(twisted[:, s, 0], plain[:, s, 0], atol=1e-4, err_msg=site)
    np.testing.assert_allclose(
      np.linalg.norm(twisted[:, s, :3], axis=-1),
      np.linalg.norm(plain[:, s, :3], axis=-1),
      atol=1e-4,
    )
    # Sensor-frame y/z of a fixed vector turn by -angle when the frame turns by +angle.
    angle = twist[:, side[s]]
    expected_y = np.cos(angle) * plain[:, s, 1] + np.sin(angle) * plain[:, s, 2]
    np.testing.assert_allclose(twisted[:, s, 1], expected_y, atol=1e-3, err_msg=site)
  # Other segments (the parent upper arm included) are not turned.
  np.testing.assert_array_equal(twisted[:, 4:], plain[:, 4:])


def test_zero_forearm_twist_equals_none_and_bad_twist_raises():
  pose = _pose(40)
  plain = vi.from_pose(pose, 30.0, ('left_wrist', 'right_wrist'), 50.0)
  zero = vi.from_pose(
    pose, 30.0, ('left_wrist', 'right_wrist'), 50.0, forearm_twist=np.zeros((40, 2))
  )
  np.testing.assert_allclose(zero, plain, atol=1e-6)
  with pytest.raises(ValueError, match=r'forearm_twist must have shape \(40, 2\)'):
    vi.from_pose(pose, 30.0, ('left_wrist',), forearm_twist=np.zeros((40, 1)))
  bad = np.zeros((40, 2))
  bad[7, 1] = np.nan
  with pytest.raises(ValueError, match=r'forearm_twist has non-finite values at frames \[7\]'):
    vi.from_pose(pose, 30.0, ('left_wrist',), forearm_twist=bad)
