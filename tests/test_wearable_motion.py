"""The wearables vocabulary: physical plausibility of every program, gait timing, transitions,
the learnability of the classes from a wrist IMU, and the `wearables_tiny` builder config."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from sklearn import linear_model, pipeline, preprocessing

from mujo_jax.facts import activities
from mujo_jax.facts import skeleton as sk
from mujo_jax.facts import virtual_imu as vi
from mujo_jax.facts.sites import WEARABLE_IMU_SITES
from mujo_jax.synthesis import corpus, forearm, motion, text
from mujo_jax.synthesis import wearable_motion as wm

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
NEW = wm.WEARABLE_ONLY
FPS = 30.0
WALKS = ('walking_slow', 'walking', 'walking_fast', 'nordic_walking')


def _j(name: str) -> int:
  return sk.joint_index(name)


ANKLES = [_j('left_ankle'), _j('right_ankle')]


@pytest.fixture(scope='module')
def clips() -> dict[str, list[motion.Motion]]:
  """Four 6 s clips per new class, each by a different subject."""
  rng = np.random.default_rng(0)
  subjects = [motion.sample_subject(rng, i) for i in range(4)]
  return {a: [wm.generate(a, s, 6.0, FPS, rng=rng) for s in subjects] for a in NEW}


def test_vocabulary_extends_mmfit_with_at_least_40_classes():
  names = activities.WEARABLE_ACTIVITIES
  assert names[: len(activities.ACTIVITIES)] == activities.ACTIVITIES
  assert len(names) >= 40 and len(set(names)) == len(names)
  assert activities.wearable_activity_id('squats') == activities.activity_id('squats')
  with pytest.raises(ValueError, match='walking'):
    activities.wearable_activity_id('flying')


def test_finite_constant_bones_and_no_floor_penetration(clips):
  parents = np.asarray(sk.H36M_PARENTS[1:])
  for name, group in clips.items():
    for m in group:
      assert m.pose.shape == (180, 17, 3) and np.isfinite(m.pose).all(), name
      bones = np.linalg.norm(m.pose[:, 1:] - m.pose[:, parents], axis=-1)
      assert np.ptp(bones, axis=0).max() < 1e-9, name
      assert m.pose[:, ANKLES, 2].min() >= sk.ANKLE_HEIGHT - 0.01, name
      # No joint through the floor (the push-up hands, from motion.py, jitter by ~2 cm).
      assert m.pose[..., 2].min() >= -0.02, name


def test_knees_never_hyperextend_and_elbows_stay_in_range(clips):
  for name, group in clips.items():
    for m in group:
      p = m.pose
      lateral = sk_unit(p[:, _j('left_hip')] - p[:, _j('right_hip')])
      for side in ('left', 'right'):
        thigh = sk_unit(p[:, _j(f'{side}_knee')] - p[:, _j(f'{side}_hip')])
        shin = sk_unit(p[:, _j(f'{side}_ankle')] - p[:, _j(f'{side}_knee')])
        # Flexion turns the shin backwards about the hip's lateral axis (+left).
        bend = np.sum(np.cross(thigh, shin) * lateral, -1)
        assert bend.min() > -np.sin(np.radians(8.0)), (name, side, bend.min())
        upper = sk_unit(p[:, _j(f'{side}_elbow')] - p[:, _j(f'{side}_shoulder')])
        fore = sk_unit(p[:, _j(f'{side}_wrist')] - p[:, _j(f'{side}_elbow')])
        elbow = np.degrees(np.arccos(np.clip(np.sum(upper * fore, -1), -1, 1)))
        assert elbow.max() < 160.0, (name, side)


def test_walking_elbows_swing_with_the_arms(clips):
  """Elbow flexion ranges through the gait cycle: ~20 deg at a free walking speed, more when
  fast, less when slow (Murray et al. 1967); the forearm swing is most of a watch's gyro signal
  in walking, and the elbow flexes as the arm comes forward."""
  ranges = {'walking_slow': (6.0, 20.0), 'walking': (12.0, 30.0), 'walking_fast': (17.0, 40.0)}
  for name, (lo, hi) in ranges.items():
    for m in clips[name]:
      flexion = forearm.elbow_flexion_deg(m.pose)
      # Walking while looking at a phone: the hand holding it stays still (one side swings).
      swinging = np.sort(np.ptp(flexion, axis=0))[::-1][: 1 if m.variant == 'phone' else 2]
      assert np.all((lo <= swinging) & (swinging <= hi)), (name, m.variant, swinging)
      travel = m.pose[-1, 0, :2] - m.pose[0, 0, :2]
      heading = travel / np.linalg.norm(travel)
      for k, side in enumerate(('left', 'right')):
        if np.ptp(flexion[:, k]) >= lo:
          reach = m.pose[:, _j(f'{side}_wrist'), :2] - m.pose[:, _j(f'{side}_shoulder'), :2]
          forward = reach @ heading
          assert np.corrcoef(forward, flexion[:, k])[0, 1] > 0.5, (name, side)


def sk_unit(v: np.ndarray) -> np.ndarray:
  return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _steps(m: motion.Motion) -> tuple[int, np.ndarray]:
  """Heel strikes (ankle reaching the floor after a swing) and the stance mask per ankle."""
  z = m.pose[:, ANKLES, 2]
  stance = z < z.min(axis=0) + 0.001
  strikes = int(np.sum(stance[1:] & ~stance[:-1]))
  return strikes, stance


def test_walking_cadence_and_stance_feet_do_not_slide(clips):
  for name in ('walking',):
    for m in clips[name]:
      strikes, stance = _steps(m)
      cadence = strikes / (m.pose.shape[0] / FPS)
      assert 1.4 <= cadence <= 2.1, cadence  # Strikes counted in 6 s of 1.6-1.9 steps/s.
  for name in WALKS + ('running', 'jogging', 'stairs_up', 'stairs_down'):
    for m in clips[name]:
      _, stance = _steps(m) if 'stairs' not in name else (0, None)
      ankles = m.pose[:, ANKLES]
      speed = np.linalg.norm(np.diff(ankles[..., :2], axis=0), axis=-1) * FPS
      if stance is None:  # Stairs: stance is where the ankle does not move up or down.
        vertical = np.abs(np.diff(ankles[..., 2], axis=0)) * FPS
        still = vertical < 1e-6
      else:
        still = stance[1:] & stance[:-1]
      assert still.mean() > 0.1, name
      assert np.percentile(speed[still], 95) < 0.02, (name, np.percentile(speed[still], 95))
      pelvis_speed = np.linalg.norm(np.diff(m.pose[:, 0, :2], axis=0), axis=-1).mean() * FPS
      assert pelvis_speed > 0.4, name  # And yet the body travels.


def test_gait_frequencies_from_the_motion():
  """Cadence from the ankle height signal's spectrum, over longer clips for resolution."""
  rng = np.random.default_rng(3)
  for name, (lo, hi) in (('walking', (1.6, 1.9)), ('running', (2.6, 3.0))):
    for i in range(3):
      m = wm.generate(name, motion.sample_subject(rng, i), 20.0, FPS, rng=rng)
      z = m.pose[:, _j('left_ankle'), 2]
      spectrum = np.abs(np.fft.rfft(z - z.mean(), n=8192))
      freq = np.fft.rfftfreq(8192, 1 / FPS)
      stride_hz = freq[np.argmax(spectrum * (freq > 0.4))]
      assert lo * 0.96 <= 2 * stride_hz <= hi * 1.01, (name, 2 * stride_hz)


def test_running_and_rope_jumping_have_flight_phases(clips):
  for name, least in (('running', 0.15), ('jogging', 0.05), ('rope_jumping', 0.2)):
    for m in clips[name]:
      lowest = m.pose[:, ANKLES, 2].min(axis=1)
      airborne = lowest > lowest.min() + 0.015
      assert airborne.mean() > least, (name, airborne.mean())
  for m in clips['walking']:
    lowest = m.pose[:, ANKLES, 2].min(axis=1)
    assert (lowest < sk.ANKLE_HEIGHT + 0.005).mean() > 0.9  # Walking: always a foot down.


def test_stairs_rise_about_a_riser_per_step(clips):
  for name, sign in (('stairs_up', 1.0), ('stairs_down', -1.0)):
    for m in clips[name]:
      z = m.pose[:, 0, 2]
      x = np.linalg.norm(m.pose[:, 0, :2] - m.pose[:1, 0, :2], axis=-1)
      steps = x[-1] / wm.STAIR_TREAD_M
      per_step = sign * (z[-1] - z[0]) / steps
      assert 0.14 <= per_step <= 0.20, (name, per_step)


def test_postures_pelvis_heights(clips):
  for m in clips['sitting'] + clips['typing']:
    assert 0.45 <= np.median(m.pose[:, 0, 2]) <= 0.6
  for m in clips['lying']:
    assert m.pose[:, 0, 2].max() <= 0.25
  for m in clips['standing']:
    assert np.median(m.pose[:, 0, 2]) > 0.8
  for m in clips['sit_to_stand']:
    z = m.pose[:, 0, 2]
    assert z[0] < 0.62 and z[-1] > 0.8
  for m in clips['stand_to_sit']:
    z = m.pose[:, 0, 2]
    assert z[0] > 0.8 and z[-1] < 0.62
  for m in clips['cycling']:  # On the saddle, feet on pedals off the floor.
    assert m.pose[:, ANKLES, 2].min() > 0.12


def _wrist_features(pose: np.ndarray) -> np.ndarray:
  imu = vi.from_pose(pose, FPS, ('left_wrist', 'right_wrist'), 50)
  x = imu.reshape(imu.shape[0], -1)
  return np.concatenate([x.mean(0), x.std(0), np.abs(np.diff(x, axis=0)).mean(0)])


def test_activities_differ_in_the_wrist_imu_on_held_out_subjects():
  rng = np.random.default_rng(11)
  subjects = [motion.sample_subject(rng, i) for i in range(5)]
  feats, labels, groups = [], [], []
  for label, name in enumerate(NEW):
    for g, subject in enumerate(subjects):
      m = wm.generate(name, subject, 4.0, FPS, rng=rng)
      feats.append(_wrist_features(m.pose))
      labels.append(label)
      groups.append(g)
  feats, labels, groups = np.array(feats), np.array(labels), np.array(groups)
  train = groups < 4
  model = pipeline.make_pipeline(
    preprocessing.StandardScaler(), linear_model.LogisticRegression(max_iter=3000, C=1.0)
  )
  model.fit(feats[train], labels[train])
  accuracy = model.score(feats[~train], labels[~train])
  assert accuracy > 8.0 / len(NEW), accuracy  # Chance is 1/42; demand > 8x chance.


def test_transition_label_follows_the_centre_and_text_names_both():
  rng = np.random.default_rng(5)
  subject = motion.sample_subject(rng, 0)
  m, info = wm.generate_transition('walking', 'sitting', subject, 6.0, FPS, rng=rng, switch_s=2.0)
  assert info.label_activity(6.0) == 'sitting' == m.activity
  assert np.median(m.pose[:30, 0, 2]) > 0.8 and np.median(m.pose[-30:, 0, 2]) < 0.62
  parents = np.asarray(sk.H36M_PARENTS[1:])
  bones = np.linalg.norm(m.pose[:, 1:] - m.pose[:, parents], axis=-1)
  assert np.ptp(bones, axis=0).max() < 1e-9
  assert m.pose[:, ANKLES, 2].min() >= sk.ANKLE_HEIGHT - 1e-6
  velocity = np.diff(m.pose, axis=0) * FPS
  assert np.abs(velocity).max() < 8.0  # Smooth: no jump at the blend.
  m, info = wm.generate_transition('walking', 'sitting', subject, 6.0, FPS, rng=rng, switch_s=4.0)
  assert m.activity == 'walking'
  sentence = text.describe_transition('walking', 'stand_to_sit', rng)
  assert 'walks' in sentence and 'sits down' in sentence
  for name in NEW:
    for partner in wm.transition_partners(name):
      assert partner in activities.WEARABLE_ACTIVITIES and partner not in wm.TRANSITIONS


def test_wearable_clips_label_by_the_centre_and_describe_each_class():
  rng = np.random.default_rng(2)
  subject = corpus.get_subject(0, 1)
  for name in activities.WEARABLE_ACTIVITIES[::3]:
    clip = corpus.make_wearable_clip(rng, name, subject, transition_fraction=0.5)
    assert clip['label'] == activities.wearable_activity_id(name)
    assert clip['imu'].shape == (300, len(WEARABLE_IMU_SITES), 6)
    assert np.isfinite(clip['imu']).all() and 'video' not in clip
    assert clip['text'] and clip['text'][0].isupper()
  for name in NEW:
    descriptions = {text.describe_wearable(name, rng) for _ in range(12)}
    assert len(descriptions) >= 3, name


@pytest.mark.slow  # End to end: a `tfds build` through the CLI (~40 s).
def test_wearables_tiny_builds_with_the_new_class_names(tmp_path):
  env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL='3')
  result = subprocess.run(
    [
      str(pathlib.Path(sys.executable).with_name('tfds')),
      'build',
      'tfds_builders/mujo_synthetic',
      '--config=wearables_tiny',
      f'--data_dir={tmp_path}',
      '--file_format=array_record',
    ],
    cwd=REPO_ROOT,
    capture_output=True,
    text=True,
    timeout=600,
    check=False,
    env=env,
  )
  assert result.returncode == 0, result.stderr[-4000:]
  info_dir = tmp_path / 'mujo_synthetic' / 'wearables_tiny' / '1.5.0'
  features = json.loads((info_dir / 'features.json').read_text())
  assert 'video' not in json.dumps(features)
  import tensorflow_datasets as tfds

  builder = tfds.builder_from_directory(str(info_dir))
  assert builder.info.features['label'].names == list(activities.WEARABLE_ACTIVITIES)
  assert builder.info.metadata['imu_sites'] == list(WEARABLE_IMU_SITES)
  cfg = corpus.CONFIGS['wearables_tiny']
  source = tfds.data_source('mujo_synthetic/wearables_tiny', split='train', data_dir=tmp_path)
  assert len(source) == cfg.num_clips['train']
  assert source[0]['imu'].shape == (300, len(WEARABLE_IMU_SITES), 6)
  # The forearms' pronation is stored at the pose frames and reaches the pose encoder's batch
  # keys when the config asks for it; the augmentation hides it per window.
  record = source[0]
  assert record['forearm_pronation'].shape == (record['pose'].shape[0], 2)
  from configs import pretrain
  from mujo_jax import config_validation
  from mujo_jax.data import datasets, pipeline, schema

  config = pretrain.get_config('corpus=wearables_tiny,runlocal=True')
  config.data.tfds_data_dir = str(tmp_path)
  config.model.pose_forearm_roll = True
  config = config_validation.resolve_pretrain_config(config)
  window = datasets.make_window(record, None, config)
  spec = schema.batch_spec(config, 1)
  assert {k: (v.shape, v.dtype) for k, v in window.items()} == {
    k: (s.shape[1:], s.dtype) for k, s in spec.items()
  }
  assert window[schema.FOREARM_PRONATION_PRESENT]
  start = (record['pose'].shape[0] - window['pose'].shape[0]) // 2
  np.testing.assert_array_equal(
    window[schema.FOREARM_PRONATION],
    record['forearm_pronation'][start : start + window['pose'].shape[0]],
  )
  np.testing.assert_array_equal(
    window['pose'], record['pose'][start : start + window['pose'].shape[0]]
  )
  config.augment.forearm_pronation_dropout = 0.5
  train_window = pipeline.TrainWindow(config)
  hidden = [
    not train_window.random_map(record, np.random.default_rng(i))[schema.FOREARM_PRONATION_PRESENT]
    for i in range(40)
  ]
  assert 8 <= sum(hidden) <= 32
