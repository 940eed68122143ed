"""seglearn's shoulder-exercise watch recordings: the units, sign and axes the loader assumes are
the data's; the file loads without running code; windows fit the schema."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

pytest.importorskip('seglearn')

from mujo_jax.data import shoulder_watch  # noqa: E402
from mujo_jax.facts import activities, sites, virtual_imu  # noqa: E402
from mujo_jax.synthesis import forearm, motion, wearable_motion  # noqa: E402

G = shoulder_watch.STANDARD_GRAVITY


@pytest.fixture(scope='module')
def data():
  return shoulder_watch.recordings()


def _stored(data, name, side=None):
  xs, labels, _, sides = data
  index = shoulder_watch.CLASS_NAMES.index(name)
  return [x for x, y, s in zip(xs, labels, sides, strict=True) if y == index and side in (None, s)]


def test_140_recordings_10_subjects_7_exercises_both_arms(data):
  xs, labels, subjects, sides = data
  assert len(xs) == 140
  np.testing.assert_array_equal(np.bincount(labels), [20] * 7)
  assert sorted(set(subjects.tolist())) == list(range(1, 11))
  for subject in range(1, 11):  # every subject did every exercise with each arm once
    mine = subjects == subject
    assert sorted(zip(labels[mine].tolist(), sides[mine].tolist(), strict=True)) == [
      (c, s) for c in range(7) for s in (0, 1)
    ]
  seconds = np.array([len(x) for x in xs]) / shoulder_watch.RATE_HZ
  assert 15 < seconds.min() and seconds.max() < 60  # 20 repetitions at 1-2.5 s each


def test_acc_is_in_g_and_gyro_in_rad_per_s(data):
  xs = np.concatenate(data[0])
  assert 0.9 < np.median(np.linalg.norm(xs[:, :3], axis=1)) < 1.2  # g, not m/s²
  # Exercise: arm rotation of tens to hundreds of °/s; in °/s the median would mean a still arm.
  assert 1.0 < np.median(np.linalg.norm(xs[:, 3:], axis=1)) < 5.0


def test_acc_reads_the_gravity_vector_and_conversion_makes_it_specific_force(data):
  # Abduction and forward elevation raise the arm palm down: the watch face looks up. A specific
  # force then reads +1 g along the face normal (z); the file reads -1 g.
  raised = np.concatenate(_stored(data, 'shoulder_abduction') + _stored(data, 'shoulder_flexion'))
  assert np.mean(raised[:, 2] < -0.7) > 0.3 and np.mean(raised[:, 2] > 0.7) < 0.1
  converted = shoulder_watch.to_project_units(raised)
  assert np.mean(converted[:, 2] > 0.7 * G) > 0.3
  np.testing.assert_allclose(converted[:, :3], -G * raised[:, :3])
  np.testing.assert_array_equal(converted[:, 3:], raised[:, 3:])


def test_hanging_arm_points_x_to_the_hand_on_the_left_and_to_the_elbow_on_the_right(data):
  # Pendulum and trapezius extension: the arm hangs; the specific force points up the arm.
  for side, sign in ((0, -1.0), (1, 1.0)):
    hanging = np.concatenate(
      _stored(data, 'pendulum_swings', side) + _stored(data, 'trapezius_extension', side)
    )
    acc_x = shoulder_watch.to_project_units(hanging)[:, 0]
    assert sign * np.median(acc_x) > 0.8 * G, (side, np.median(acc_x))


def test_synthetic_watches_hold_the_axes_of_the_real_ones_in_rotator_cuff_work(data):
  """External rotation (elbow at the side bent 90 deg, forearm horizontal, thumb up): real
  watches read -1 g along y (12 o'clock down) on both wrists, the right one worn with x to the
  elbow. The corpus's clean virtual watch (x to the hand on both wrists, `virtual_imu`) must
  read the same up to that reversal: -1 g on the left, +1 g on the right, little on x and z."""
  for side, index in (('left', 0), ('right', 1)):
    real = shoulder_watch.to_project_units(
      np.concatenate(_stored(data, 'shoulder_external_rotation', index))
    )
    assert real[:, 1].mean() < -0.8 * G, (side, real[:, :3].mean(0))
  rng = np.random.default_rng(0)
  means = {'left': [], 'right': []}
  for i in range(6):
    subject = motion.sample_subject(rng, i)
    clip = wearable_motion.generate('shoulder_external_rotation', subject, 6.0, 30.0, rng=rng)
    pose = np.asarray(clip.pose, np.float64)
    twist = forearm.forearm_twist(
      ('shoulder_external_rotation',),
      pose,
      30.0,
      rng,
      right_handed=wearable_motion.habits(subject).right_handed,
    )
    imu = virtual_imu.from_pose(pose, 30.0, ('left_wrist', 'right_wrist'), forearm_twist=twist)
    for column, side in enumerate(('left', 'right')):
      means[side].append(imu[:, column, :3].mean(0))
  left, right = np.mean(means['left'], 0), np.mean(means['right'], 0)
  assert left[1] < -0.8 * G and right[1] > 0.8 * G, (left, right)
  assert max(abs(left[0]), abs(left[2]), abs(right[0]), abs(right[2])) < 0.4 * G


def test_class_names_are_the_pretraining_vocabulary_where_it_has_them():
  unseen = set(shoulder_watch.CLASS_NAMES) - set(activities.WEARABLE_ACTIVITIES)
  assert unseen == {'trapezius_extension'}
  assert set(shoulder_watch.SITES) <= set(sites.SITES)


def test_windows_have_the_watch_of_their_recording_and_subject_groups(data):
  arrays = shoulder_watch.windows(hop_s=5.0)
  imu, present = arrays['imu'], arrays['imu_sites']
  assert imu.dtype == np.float32 and imu.shape[1:] == (250, 2, 6)
  assert present.shape == (len(imu), 2) and np.all(present.sum(axis=1) == 1)
  by_site = imu.transpose(0, 2, 1, 3)  # (N, 2, T, 6)
  assert np.all(by_site[~present] == 0.0)  # the absent wrist is masked, not data
  _, labels, subjects, sides = data
  recording = arrays['recording']
  np.testing.assert_array_equal(present.argmax(axis=1), sides[recording])
  np.testing.assert_array_equal(arrays['label'], labels[recording])
  np.testing.assert_array_equal(arrays['group'], subjects[recording])
  worn = by_site[present]
  assert abs(np.median(np.linalg.norm(worn[..., :3], axis=-1)) - G) < 1.5


def test_the_file_is_read_without_running_code(tmp_path):
  class Payload:
    def __reduce__(self):
      return (print, ('ran',))

  path = tmp_path / 'watch_dataset.npy'
  np.save(path, np.array({'X': [Payload()]}, dtype=object), allow_pickle=True)
  with pytest.raises(pickle.UnpicklingError, match='refusing to load builtins.print'):
    shoulder_watch.read_file(path)
