"""The synthetic MM-Fit writer produces files that load exactly as the official loader reads them.

The official loader (github KDMStromback/mm-fit, utils/utils.py + utils/dataset.py) uses
`np.load` per modality and `csv.reader` with `int(line[0..2])`, `line[3]` for the labels; a
sensor window starts at `searchsorted(data[:, 0], frame)` and spans 5 s of `data[:, 1]`.
"""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest

from mujo_jax.facts.activities import ACTIVITIES
from mujo_jax.synthesis import mmfit_writer

NUM_WORKOUTS = 21
MINUTES = 0.4
SENSOR_FILES = (
  'sw_l_acc',
  'sw_l_gyr',
  'sw_r_acc',
  'sw_r_gyr',
  'sp_l_acc',
  'sp_l_gyr',
  'sp_l_mag',
  'sp_r_acc',
  'sp_r_gyr',
  'sp_r_mag',
  'eb_l_acc',
  'eb_l_gyr',
)


@pytest.fixture(scope='module')
def mmfit_dir(tmp_path_factory) -> str:
  out = tmp_path_factory.mktemp('mmfit')
  settings = mmfit_writer.WorkoutSettings(minutes=MINUTES, reps_per_set=5)
  written = mmfit_writer.write_mmfit(out, NUM_WORKOUTS, seed=3, settings=settings)
  assert written == [f'w{i:02d}' for i in range(NUM_WORKOUTS)]
  return str(out)


def _path(root, workout, modality):
  return os.path.join(root, workout, f'{workout}_{modality}.npy')


def _load_labels(path):
  """The official `load_labels`: csv.reader, ints for the first three fields."""
  with open(path) as handle:
    return [[int(line[0]), int(line[1]), int(line[2]), line[3]] for line in csv.reader(handle)]


def test_layout_and_missing_file_pattern(mmfit_dir):
  assert sorted(os.listdir(mmfit_dir)) == [f'w{i:02d}' for i in range(NUM_WORKOUTS)]
  for number in range(NUM_WORKOUTS):
    workout = f'w{number:02d}'
    names = set(os.listdir(os.path.join(mmfit_dir, workout)))
    assert f'{workout}_labels.csv' in names
    for modality in ('pose_3d', 'pose_2d', 'sw_l_acc', 'sw_r_gyr', 'sp_r_mag', 'eb_l_acc'):
      assert f'{workout}_{modality}.npy' in names
    has_sp_l = {f'{workout}_sp_l_{k}.npy' for k in ('acc', 'gyr', 'mag')} <= names
    assert has_sp_l == (number in (3, 6, 8, 13, 14, 17))
    assert not any('sp_l' in n for n in names) or has_sp_l
    for watch in ('sw_l', 'sw_r'):
      expected = watch not in mmfit_writer.HR_MISSING.get(number, ())
      assert (f'{workout}_{watch}_hr.npy' in names) == expected, (workout, watch)
  assert any(mmfit_writer.HR_MISSING.values())


def test_pose_arrays(mmfit_dir):
  for number in (0, 3, 20):
    workout = f'w{number:02d}'
    pose_3d = np.load(_path(mmfit_dir, workout, 'pose_3d'))
    pose_2d = np.load(_path(mmfit_dir, workout, 'pose_2d'))
    frames = int(round(MINUTES * 60 * 30))
    assert pose_3d.ndim == 3 and pose_3d.shape[0] == 3 and pose_3d.shape[2] == 18
    assert pose_2d.shape == (2, pose_3d.shape[1], 19)
    assert pose_3d.dtype == np.float64 and pose_2d.dtype == np.float64
    # A few dropped camera frames at most.
    assert frames * 0.99 <= pose_3d.shape[1] <= frames
    frame = pose_3d[0, :, 0]
    assert np.all(np.diff(frame) >= 1) and np.all(frame == np.round(frame))
    for channel in range(3):
      np.testing.assert_array_equal(pose_3d[channel, :, 0], frame)
    np.testing.assert_array_equal(pose_2d[0, :, 0], frame)
    # Millimetres in front of the camera: pelvis depth of metres, bones of decimetres.
    depth = pose_3d[2, :, 1]
    assert 1500 < depth.min() and depth.max() < 12000
    thigh = np.linalg.norm(pose_3d[:, :, 2] - pose_3d[:, :, 3], axis=0)  # r_hip -> r_knee
    assert 300 < thigh.mean() < 600
    # Pixels inside a 1280 x 720 image.
    assert 0 <= pose_2d[0, :, 1:].min() and pose_2d[0, :, 1:].max() <= 1280
    assert 0 <= pose_2d[1, :, 1:].min() and pose_2d[1, :, 1:].max() <= 720


def test_sensor_arrays(mmfit_dir):
  nominal = {'sw': 100.0, 'sp_l': 500.0, 'sp_r': 210.0, 'eb': 90.0}
  for number in (3, 9):
    workout = f'w{number:02d}'
    frames = np.load(_path(mmfit_dir, workout, 'pose_3d'))[0, :, 0]
    for modality in SENSOR_FILES:
      path = _path(mmfit_dir, workout, modality)
      if not os.path.exists(path):
        continue
      data = np.load(path)
      assert data.ndim == 2 and data.shape[1] == 5 and data.dtype == np.float64, modality
      assert np.all(np.diff(data[:, 1]) > 0), modality  # timestamps (ms) increase
      assert np.all(np.diff(data[:, 0]) >= 0), modality  # frames never go back
      assert frames[0] <= data[0, 0] and data[-1, 0] <= frames[-1], modality
      assert data[0, 1] > 1e12  # synchronised epoch ms
      rate = 1000.0 * (len(data) - 1) / (data[-1, 1] - data[0, 1])
      key = modality[:4] if modality[:4] in nominal else modality[:2]
      if modality.endswith('_mag'):
        expected = 65.0 if modality.startswith('sp_l') else 100.0
      else:
        expected = nominal[key]
      assert 0.97 * expected < rate < 1.07 * expected, (modality, rate)
      intervals = np.diff(data[:, 1])
      assert intervals.std() > 0.05 * intervals.mean(), modality  # irregular
      if modality.endswith('_acc'):
        # A worn sensor mostly reads gravity.
        assert 8.5 < np.median(np.linalg.norm(data[:, 2:], axis=1)) < 11.0, modality
      if modality.endswith('_mag'):
        assert 30 < np.median(np.linalg.norm(data[:, 2:], axis=1)) < 70, modality
    for device in ('sw_l', 'sw_r', 'eb_l'):
      acc = np.load(_path(mmfit_dir, workout, f'{device}_acc'))
      gyr = np.load(_path(mmfit_dir, workout, f'{device}_gyr'))
      np.testing.assert_array_equal(acc[:, :2], gyr[:, :2])
    acc = np.load(_path(mmfit_dir, workout, 'sp_r_acc'))
    gyr = np.load(_path(mmfit_dir, workout, 'sp_r_gyr'))
    assert abs(len(acc) - len(gyr)) == 1
    for watch in ('sw_l', 'sw_r'):
      path = _path(mmfit_dir, workout, f'{watch}_hr')
      if os.path.exists(path):
        hr = np.load(path)
        assert hr.ndim == 2 and hr.shape[1] == 3
        assert 40 < hr[:, 2].min() and hr[:, 2].max() < 200
        assert 0.9 < 1000.0 * (len(hr) - 1) / (hr[-1, 1] - hr[0, 1]) < 1.1


def test_labels_csv(mmfit_dir):
  total_sets = 0
  for number in range(NUM_WORKOUTS):
    workout = f'w{number:02d}'
    with open(os.path.join(mmfit_dir, workout, f'{workout}_labels.csv')) as handle:
      first = handle.readline()
    assert not first.startswith('start')  # no header
    labels = _load_labels(os.path.join(mmfit_dir, workout, f'{workout}_labels.csv'))
    frames = np.load(_path(mmfit_dir, workout, 'pose_3d'))[0, :, 0]
    previous_end = -1
    for start, end, reps, activity in labels:
      assert activity in ACTIVITIES[:10]
      assert frames[0] <= start < end <= frames[-1]
      assert start > previous_end  # sets are separated by non-activity
      assert 1 <= reps <= 20
      previous_end = end
    total_sets += len(labels)
  assert total_sets >= NUM_WORKOUTS


def test_reference_sensor_window_fits(mmfit_dir):
  """The official __getitem__'s sensor window works on our files for every valid index."""
  workout = 'w03'
  pose_3d = np.load(_path(mmfit_dir, workout, 'pose_3d'))
  length = pose_3d.shape[1] - 150 - 30  # the official __len__
  for modality in ('sw_l_acc', 'sp_l_acc', 'sp_r_gyr', 'eb_l_gyr'):
    data = np.load(_path(mmfit_dir, workout, modality))
    for index in range(0, length, 30):
      frame = pose_3d[0, index, 0]
      start = np.searchsorted(data[:, 0], frame, 'left')
      interval_s = (data[start + 1 :, 1] - data[start, 1]) / 1000
      end = np.searchsorted(interval_s, 5, 'left') + start + 1
      assert end < data.shape[0]
      rate = {'sw': 100, 'sp_l': 500, 'sp_r': 210, 'eb': 90}
      key = modality[:4] if modality[:4] in rate else modality[:2]
      assert 0.9 * 5 * rate[key] < end - start < 1.15 * 5 * rate[key]


def test_deterministic_and_refuses_to_overwrite(tmp_path):
  settings = mmfit_writer.WorkoutSettings(minutes=0.2, reps_per_set=3)
  mmfit_writer.write_mmfit(tmp_path / 'a', 1, seed=5, settings=settings, workouts=[9])
  mmfit_writer.write_mmfit(tmp_path / 'b', 1, seed=5, settings=settings, workouts=[9])
  for name in os.listdir(tmp_path / 'a' / 'w09'):
    with (
      open(tmp_path / 'a' / 'w09' / name, 'rb') as a,
      open(tmp_path / 'b' / 'w09' / name, 'rb') as b,
    ):
      assert a.read() == b.read(), name
  with pytest.raises(FileExistsError, match='not empty'):
    mmfit_writer.write_mmfit(tmp_path / 'a', 1, seed=5, settings=settings)
  mmfit_writer.write_mmfit(tmp_path / 'a', 1, seed=6, settings=settings, overwrite=True)
  assert os.listdir(tmp_path / 'a') == ['w00']


def test_rejects_bad_settings(tmp_path):
  with pytest.raises(ValueError, match='minutes'):
    mmfit_writer.write_mmfit(tmp_path, 1, minutes=0.01)
  with pytest.raises(ValueError, match='num_workouts'):
    mmfit_writer.write_mmfit(tmp_path, 0)
