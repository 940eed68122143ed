"""Forearm pronation/supination of the wearables corpus: anatomy, sign, programs, wiring."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mujo_jax.facts import activities, skeleton, virtual_imu
from mujo_jax.facts.sites import WEARABLE_IMU_SITES
from mujo_jax.synthesis import corpus, forearm
from mujo_jax.synthesis import wearable_motion as wm

FPS = 30.0
LEFT_WRIST = WEARABLE_IMU_SITES.index('left_wrist')


def _motion(activity: str, seed: int = 0):
  rng = np.random.default_rng(seed)
  subject = corpus.get_subject(0, 3)
  return np.asarray(wm.generate(activity, subject, 6.0, FPS, rng=rng).pose), rng


def test_every_wearable_activity_has_a_program_within_anatomical_range():
  assert set(forearm.PROGRAMS) == set(activities.WEARABLE_ACTIVITIES)
  for name, program in forearm.PROGRAMS.items():
    low, high = program.base_deg
    assert -90.0 <= low <= high <= 90.0, name


def test_elbow_flexion_of_straight_and_right_angled_arms():
  pose = np.zeros((2, skeleton.NUM_H36M_JOINTS, 3))
  for side, y in (('left', 0.2), ('right', -0.2)):
    shoulder, elbow, wrist = (
      skeleton.joint_index(f'{side}_{j}') for j in ('shoulder', 'elbow', 'wrist')
    )
    pose[:, shoulder] = (0.0, y, 1.4)
    pose[:, elbow] = (0.0, y, 1.1)
    pose[0, wrist] = (0.0, y, 0.85)  # hanging straight
    pose[1, wrist] = (0.25, y, 1.1)  # forearm forward: 90 deg
  np.testing.assert_allclose(forearm.elbow_flexion_deg(pose), [[0.0, 0.0], [90.0, 90.0]], atol=1e-9)


def test_pronation_turns_either_palm_backward():
  """Anatomy, with an independent rotation library: body facing +x, arms hanging, palms facing
  the body (left palm -y, right palm +y); pronating turns both palms backward (-x)."""
  pronation = np.full((1, 2), 90.0)
  twist = forearm.to_twist(pronation)[0]
  down = np.array([0.0, 0.0, -1.0])  # elbow -> wrist of a hanging arm
  for column, palm in ((0, (0.0, -1.0, 0.0)), (1, (0.0, 1.0, 0.0))):
    turned = Rotation.from_rotvec(twist[column] * down).apply(palm)
    np.testing.assert_allclose(turned, (-1.0, 0.0, 0.0), atol=1e-12)


def test_arnold_press_pronates_as_the_elbows_extend_and_curls_stay_supinated():
  pose, rng = _motion('arnold_press')
  pronation = forearm.pronation_deg('arnold_press', pose, FPS, rng, right_handed=True)
  flexion = forearm.elbow_flexion_deg(pose)
  for column in range(2):
    assert np.corrcoef(pronation[:, column], flexion[:, column])[0, 1] < -0.8
    assert np.ptp(pronation[:, column]) > 60.0
  pose, rng = _motion('bicep_curls')
  pronation = forearm.pronation_deg('bicep_curls', pose, FPS, rng, right_handed=True)
  assert np.all(pronation < -20.0)
  assert np.all(np.abs(pronation) <= forearm.LIMIT_DEG)


def test_the_idle_hand_of_a_one_handed_task_rolls_less():
  pose, _ = _motion('brushing_teeth')
  rates = {True: [], False: []}
  for seed in range(8):
    for right_handed in (True, False):
      pronation = forearm.pronation_deg(
        'brushing_teeth', pose, FPS, np.random.default_rng(seed), right_handed=right_handed
      )
      rate = np.sqrt(np.mean(np.diff(pronation, axis=0) ** 2, axis=0)) * FPS
      dominant = 1 if right_handed else 0
      rates[True].append(rate[dominant])
      rates[False].append(rate[1 - dominant])
  assert np.median(rates[True]) > 4.0 * np.median(rates[False])


def test_twist_adds_wrist_roll_rate_and_a_transition_blends_the_two_programs():
  pose, rng = _motion('arnold_press')
  twist = forearm.forearm_twist(('arnold_press',), pose, FPS, rng, right_handed=True)
  plain = virtual_imu.from_pose(pose, FPS, WEARABLE_IMU_SITES, 50.0)
  twisted = virtual_imu.from_pose(pose, FPS, WEARABLE_IMU_SITES, 50.0, forearm_twist=twist)
  x_rms = [np.sqrt(np.mean(imu[:, LEFT_WRIST, 3] ** 2)) for imu in (plain, twisted)]
  assert x_rms[1] > 1.5 * x_rms[0]

  info = wm.Transition(first='typing', second='arnold_press', switch_s=3.0, blend_s=1.0)
  times = np.arange(pose.shape[0]) / FPS
  weight = info.weight(times)
  assert weight[times < 2.5].max() == 0.0 and weight[times > 3.5].min() == 1.0
  assert weight[int(3.0 * FPS)] == pytest.approx(0.5)
  blended = forearm.forearm_twist(
    ('typing', 'arnold_press'),
    pose,
    FPS,
    np.random.default_rng(5),
    right_handed=True,
    second_weight=weight,
  )
  typing = forearm.forearm_twist(
    ('typing',), pose, FPS, np.random.default_rng(5), right_handed=True
  )
  # Before the blend the clip is all typing (the first program draws the same numbers).
  np.testing.assert_allclose(blended[times < 2.5], typing[times < 2.5])
  assert np.ptp(np.degrees(blended[times > 3.5, 0])) > 30.0


def test_bad_forearm_inputs_raise_one_clear_line():
  pose, rng = _motion('walking')
  with pytest.raises(ValueError, match="no forearm program for activity 'moonwalk'"):
    forearm.pronation_deg('moonwalk', pose, FPS, rng, right_handed=True)
  with pytest.raises(ValueError, match='two with second_weight'):
    forearm.forearm_twist(('walking', 'running'), pose, FPS, rng, right_handed=True)


def test_wearable_clips_carry_the_twist(monkeypatch):
  subject = corpus.get_subject(0, 3)
  clip = corpus.make_wearable_clip(np.random.default_rng(2), 'arnold_press', subject)
  monkeypatch.setattr(
    forearm, 'forearm_twist', lambda activities, pose, *a, **k: np.zeros((pose.shape[0], 2))
  )
  flat = corpus.make_wearable_clip(np.random.default_rng(2), 'arnold_press', subject)
  np.testing.assert_array_equal(clip['pose'], flat['pose'])
  x_rms = [np.sqrt(np.mean(c['imu'][:, LEFT_WRIST, 3] ** 2)) for c in (flat, clip)]
  assert x_rms[1] > 1.5 * x_rms[0]


def test_stored_pronation_is_the_roll_the_watches_felt():
  # The pose is pelvis-relative (no translation) but keeps every rotation, so the wrists'
  # gyro rebuilt from it and the stored angle must be the clip's own (up to its light noise);
  # without the angle, or with the sides swapped, it is not.
  subject = corpus.get_subject(0, 3)
  clip = corpus.make_wearable_clip(np.random.default_rng(4), 'brushing_teeth', subject)
  pronation = clip['forearm_pronation']
  assert pronation.shape == (clip['pose'].shape[0], 2) and pronation.dtype == np.float32
  assert np.degrees(np.abs(pronation)).max() <= forearm.LIMIT_DEG
  wrists = ['left_wrist', 'right_wrist']
  columns = [WEARABLE_IMU_SITES.index(site) for site in wrists]
  felt = clip['imu'][:, columns, 3:]

  def gyro_error(twist):
    rebuilt = virtual_imu.from_pose(
      clip['pose'], FPS, wrists, corpus.IMU_RATE_HZ, forearm_twist=twist
    )[..., 3:]
    return np.sqrt(np.mean((rebuilt - felt) ** 2))

  stored = gyro_error(forearm.to_twist(np.degrees(pronation)))
  assert stored < 0.05  # rad/s: the light noise of `corpus.IMU_NOISE` and float32 storage.
  assert stored < 0.2 * gyro_error(np.zeros_like(pronation))
  assert stored < 0.2 * gyro_error(forearm.to_twist(np.degrees(pronation[:, ::-1])))
