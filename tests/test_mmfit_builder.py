"""MM-Fit: `tfds build` on writer-made files (folder and zip forms) and the grain windows.

The builds run the real command line (`tfds build tfds_builders/mmfit --manual_dir=...`) as
subprocesses. Window labels are checked against an independent reading of the CSV with the
reference rule; the IMU resampling against a sine written into a sensor file.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from mujo_jax.data import mmfit
from mujo_jax.facts import mmfit_layout
from mujo_jax.facts.activities import ACTIVITIES, NON_ACTIVITY
from mujo_jax.synthesis import mmfit_writer
from tfds_builders.mmfit import reader

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The `tfds` command line, run through the interpreter of the tests (its console script is a
# two-line wrapper around this module's `launch_cli`).
TFDS = (sys.executable, '-m', 'tensorflow_datasets.scripts.cli.main')
SPLIT_SIZES = {'train': 10, 'validation': 3, 'test': 3, 'unseen_test': 5}
SINE_HZ = 1.7  # written into w09 sw_l_acc x
PHONE_SINE_HZ = 2.3  # written into w09 sp_r_acc y, plus a 60 Hz tone that must not alias
GAP_MS = (4000.0, 6000.0)  # rows removed from w10 eb_l_acc (relative to its first timestamp)


def _npy(root, workout, modality):
  return os.path.join(root, workout, f'{workout}_{modality}.npy')


def _tfds_build(manual_dir: str, data_dir: str) -> subprocess.Popen:
  return subprocess.Popen(
    [
      *TFDS,
      'build',
      os.path.join(REPO, 'tfds_builders', 'mmfit'),
      f'--manual_dir={manual_dir}',
      f'--data_dir={data_dir}',
      '--file_format=array_record',
    ],
    cwd=REPO,
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
    text=True,
    env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', CUDA_VISIBLE_DEVICES=''),
  )


def _finish(process: subprocess.Popen) -> str:
  output, _ = process.communicate(timeout=300)
  assert process.returncode == 0, output[-3000:]
  return output


@pytest.fixture(scope='module')
def built(tmp_path_factory):
  """Writes 21 short workouts, plants test signals, builds folder and zip forms in parallel."""
  root = tmp_path_factory.mktemp('mmfit_build')
  manual = root / 'manual'
  settings = mmfit_writer.WorkoutSettings(minutes=0.35, reps_per_set=4)
  mmfit_writer.write_mmfit(manual, 21, seed=1, settings=settings)

  acc = np.load(_npy(manual, 'w09', 'sw_l_acc'))
  acc[:, 2] = np.sin(2 * np.pi * SINE_HZ * (acc[:, 1] - acc[0, 1]) / 1000.0)
  # Gravity on z keeps the file in m/s² (the reader rejects acc that looks like units of g).
  acc[:, 3], acc[:, 4] = 0.0, 9.81
  np.save(_npy(manual, 'w09', 'sw_l_acc'), acc)
  phone = np.load(_npy(manual, 'w09', 'sp_r_acc'))
  seconds = (phone[:, 1] - phone[0, 1]) / 1000.0
  phone[:, 3] = np.sin(2 * np.pi * PHONE_SINE_HZ * seconds) + 0.5 * np.sin(2 * np.pi * 60 * seconds)
  phone[:, 2], phone[:, 4] = 0.0, 9.81
  np.save(_npy(manual, 'w09', 'sp_r_acc'), phone)
  earbud = np.load(_npy(manual, 'w10', 'eb_l_acc'))
  relative = earbud[:, 1] - earbud[0, 1]
  np.save(_npy(manual, 'w10', 'eb_l_acc'), earbud[(relative < GAP_MS[0]) | (relative >= GAP_MS[1])])

  zipped = root / 'zipped'
  zipped.mkdir()
  with zipfile.ZipFile(zipped / 'mm-fit.zip', 'w', zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
    for workout in mmfit_layout.SPLITS['validation']:  # enough to compare the two forms
      for name in sorted(os.listdir(manual / workout)):
        zf.write(manual / workout / name, f'mm-fit/{workout}/{name}')

  # A workout with an unknown activity, for the command line's error (test_cli_...).
  bad = root / 'bad'
  shutil.copytree(manual / 'w11', bad / 'w11')
  with open(bad / 'w11' / 'w11_labels.csv', 'a') as handle:
    handle.write('1,2,3,burpees\n')

  folder_build = _tfds_build(str(manual), str(root / 'tfds'))
  zip_build = _tfds_build(str(zipped), str(root / 'tfds_zip'))
  bad_build = _tfds_build(str(bad), str(root / 'tfds_bad'))
  log = _finish(folder_build)
  _finish(zip_build)
  return {
    'manual': str(manual),
    'data_dir': str(root / 'tfds'),
    'zip_data_dir': str(root / 'tfds_zip'),
    'log': log,
    'bad_build': bad_build,
  }


def _source(data_dir, split):
  import tensorflow_datasets as tfds

  return tfds.data_source('mmfit', split=split, data_dir=data_dir)


def test_split_sizes_and_build_log(built):
  import tensorflow_datasets as tfds

  info = tfds.builder('mmfit', data_dir=built['data_dir']).info
  assert {s: info.splits[s].num_examples for s in SPLIT_SIZES} == SPLIT_SIZES
  info = tfds.builder('mmfit', data_dir=built['zip_data_dir']).info
  assert set(info.splits) == {'validation'} and info.splits['validation'].num_examples == 3
  for split, workouts in mmfit_layout.SPLITS.items():
    source = _source(built['data_dir'], split)
    assert [source[i]['workout'].decode() for i in range(len(source))] == list(workouts)
  # Missing optional files are counted per split: 6 of the 10 train workouts lack sp_l.
  assert "MM-Fit train: 10 workouts; missing files per modality: {'sp_l_acc': 6" in built['log']


def test_zip_form_equals_folder_form(built):
  folder, zipped = (
    _source(built['data_dir'], 'validation'),
    _source(built['zip_data_dir'], 'validation'),
  )
  for index in range(len(folder)):
    a, b = folder[index], zipped[index]
    assert a['workout'] == b['workout']
    np.testing.assert_array_equal(a['pose_3d'], b['pose_3d'])
    for device in mmfit_layout.DEVICES:
      np.testing.assert_array_equal(a['imu'][device], b['imu'][device])


def _csv_rows(manual, workout):
  with open(os.path.join(manual, workout, f'{workout}_labels.csv')) as handle:
    return [(int(r[0]), int(r[1]), int(r[2]), r[3]) for r in csv.reader(handle)]


def _reference_windows(manual, workouts, stride=6, origin='workout'):
  """(workout, start_frame, label) of the reference loader, computed from the raw files."""
  expected = []
  offset = 0
  for workout in workouts:
    frames = np.load(_npy(manual, workout, 'pose_3d'))[0, :, 0]
    length = frames.size - 150 - 30  # MMFit.__len__
    first = 0 if origin == 'workout' else (-offset) % stride
    for index in range(first, length, stride):
      frame = frames[index]
      label = 'non_activity'
      for start, end, _, activity in _csv_rows(manual, workout):
        if start - 75 < frame < end - 75:  # the reference's comparison, verbatim semantics
          label = activity
          break
      expected.append((int(workout[1:]), int(frame), ACTIVITIES.index(label)))
    offset += length
  return expected


@pytest.mark.parametrize('split', list(SPLIT_SIZES))
def test_eval_window_labels_match_reference(built, split):
  windows = mmfit.eval_windows(built['data_dir'], split)
  got = [(int(w['workout']), int(w['start_frame']), int(w['label'])) for w in windows]
  expected = _reference_windows(built['manual'], mmfit_layout.SPLITS[split])
  assert got == expected
  assert len({label for _, _, label in got}) >= 3  # exercises and non-activity both occur


def test_split_stride_origin_matches_concat_sampler(built):
  windows = mmfit.eval_windows(built['data_dir'], 'unseen_test', stride_origin='split')
  got = [(int(w['workout']), int(w['start_frame']), int(w['label'])) for w in windows]
  assert got == _reference_windows(
    built['manual'], mmfit_layout.SPLITS['unseen_test'], origin='split'
  )


def test_window_schema_and_pose(built):
  windows = mmfit.eval_windows(built['data_dir'], 'test', modalities=('imu', 'pose', 'text'))
  window = windows[3]
  assert window['pose'].shape == (150, 17, 3) and window['pose'].dtype == np.float32
  assert window['imu'].shape == (250, 4, 6) and window['imu'].dtype == np.float32
  assert window['imu_sites'].dtype == bool and window['imu_sites'].shape == (4,)
  np.testing.assert_array_equal(window['present'], [True, True, False])
  for key in ('label', 'workout', 'subject', 'start_frame'):
    assert window[key].dtype == np.int32 and window[key].shape == ()
  assert int(window['subject']) == mmfit_layout.SUBJECT_BY_WORKOUT['w09']
  # 'file' axes: exactly the file's millimetres, in metres, relative to the pelvis.
  raw = mmfit.eval_windows(built['data_dir'], 'test', pose_axes='file')[3]
  pose_3d = np.load(_npy(built['manual'], 'w09', 'pose_3d'))
  joints = np.transpose(pose_3d[:, 18:168, 1:], (1, 2, 0)) / 1000.0
  np.testing.assert_allclose(raw['pose'], joints - joints[:, :1], atol=1e-5)
  # 'z_up' is a rotation of it: (x, y, z) -> (x, z, -y).
  np.testing.assert_allclose(
    window['pose'],
    np.stack([raw['pose'][..., 0], raw['pose'][..., 2], -raw['pose'][..., 1]], -1),
    atol=1e-6,
  )
  assert np.all(window['pose'][:, 0] == 0)


def test_imu_sine_resampled_at_50hz(built):
  """A sine written at the device's jittered timestamps comes out as that sine at 50 Hz."""
  manual = built['manual']
  example = _source(built['data_dir'], 'test')[0]
  assert example['workout'] == b'w09'
  acc = np.load(_npy(manual, 'w09', 'sw_l_acc'))
  phone = np.load(_npy(manual, 'w09', 'sp_r_acc'))
  windows = mmfit.eval_windows(built['data_dir'], 'test', sites=('sw_l', 'sp_r'))
  checked = 0
  for window in windows:
    if int(window['workout']) != 9:
      continue
    assert window['imu_sites'].all()
    index = int(np.searchsorted(example['frame'], int(window['start_frame'])))
    first = int(np.ceil(example['pose_time_s'][index] * 50 - 1e-6))
    times_ms = example['timeline_start_ms'] + (first + np.arange(250)) * 20.0
    # The window starts where the reference starts it: the first sw_l row with frame >= f.
    reference_start = acc[np.searchsorted(acc[:, 0], int(window['start_frame'])), 1]
    assert abs(times_ms[0] - reference_start) < 30.0
    # Before a stream's first sample its first value is held (documented); compare after it.
    measured = times_ms >= max(acc[0, 1], phone[0, 1]) + 40.0
    expected = np.sin(2 * np.pi * SINE_HZ * (times_ms - acc[0, 1]) / 1000.0)
    np.testing.assert_allclose(window['imu'][measured, 0, 0], expected[measured], atol=0.01)
    expected_phone = np.sin(2 * np.pi * PHONE_SINE_HZ * (times_ms - phone[0, 1]) / 1000.0)
    # The 60 Hz tone is above the 25 Hz Nyquist limit and must be filtered, not aliased.
    np.testing.assert_allclose(window['imu'][measured, 1, 1], expected_phone[measured], atol=0.1)
    checked += 1
  assert checked >= 5


def test_presence_masks(built):
  for split in SPLIT_SIZES:
    source = _source(built['data_dir'], split)
    for index in range(len(source)):
      example = source[index]
      number = int(example['workout'][1:])
      has_sp_l = number in mmfit_layout.SP_L_WORKOUTS
      assert bool(example['present']['sp_l_acc']) == has_sp_l
      assert example['imu']['sp_l'].shape[0] == (example['imu']['sw_l'].shape[0] if has_sp_l else 0)
      for watch in ('sw_l', 'sw_r'):
        has_hr = watch not in mmfit_writer.HR_MISSING.get(number, ())
        assert bool(example['present'][f'{watch}_hr']) == has_hr
        assert (example['hr'][watch].shape[0] > 0) == has_hr
        if has_hr:
          assert 40 < np.nanmedian(example['hr'][watch]) < 200
  # sp_l windows: all masked where the phone was not worn, all present where it was.
  for split, worn in (('test', False), ('validation', True)):
    windows = mmfit.eval_windows(built['data_dir'], split, sites=('sp_l', 'sw_r'))
    for window in windows:
      number = int(window['workout'])
      assert bool(window['imu_sites'][0]) == (number in mmfit_layout.SP_L_WORKOUTS)
      if not window['imu_sites'][0]:
        assert not window['imu'][:, 0].any()
    assert any(bool(w['imu_sites'][0]) for w in windows) == worn


def test_gap_in_a_stream_masks_the_windows_that_overlap_it(built):
  earbud = np.load(_npy(built['manual'], 'w10', 'eb_l_acc'))
  gap_start, gap_end = earbud[0, 1] + GAP_MS[0], earbud[0, 1] + GAP_MS[1]
  example = _source(built['data_dir'], 'test')[1]
  assert example['workout'] == b'w10'
  windows = mmfit.eval_windows(built['data_dir'], 'test', sites=('eb_l', 'sw_l'))
  masked = 0
  for window in windows:
    if int(window['workout']) != 10:
      continue
    index = int(np.searchsorted(example['frame'], int(window['start_frame'])))
    start = example['timeline_start_ms'] + np.ceil(example['pose_time_s'][index] * 50 - 1e-6) * 20
    overlaps = start < gap_end - 500 and start + 5000 > gap_start + 500
    clear = start + 5000 < gap_start - 100 or start > gap_end + 100
    if overlaps:
      assert not window['imu_sites'][0]
      masked += 1
    if clear:
      assert window['imu_sites'][0]
    assert window['imu_sites'][1]
  assert masked > 0


def test_train_windows(built):
  train = mmfit.train_windows(built['data_dir'], 'validation', seed=4)
  again = mmfit.train_windows(built['data_dir'], 'validation', seed=4)
  lengths = [
    np.load(_npy(built['manual'], w, 'pose_3d')).shape[1] - 180
    for w in mmfit_layout.SPLITS['validation']
  ]
  assert len(train) == sum(lengths)
  first = [(int(train[i]['workout']), int(train[i]['start_frame'])) for i in range(20)]
  assert first == [(int(again[i]['workout']), int(again[i]['start_frame'])) for i in range(20)]
  assert len({w for w, _ in first}) > 1  # shuffled across workouts
  assert set(train[0]) == set(mmfit.eval_windows(built['data_dir'], 'validation')[0])


# --------------------------------------------------------------------------------------------
# Bad input: the reader names the workout and the file, and what it found versus expected.
# --------------------------------------------------------------------------------------------


@pytest.fixture()
def workout_copy(built, tmp_path):
  """A fresh copy of w09 (unmodified signals are irrelevant here) to break."""
  shutil.copytree(os.path.join(built['manual'], 'w09'), tmp_path / 'w09')
  return tmp_path


def _read(root):
  return reader.read_workout(reader.find_source(root), 'w09')


def test_clean_copy_reads(workout_copy):
  example, report = _read(workout_copy)
  assert not report.repairs and example['pose_3d'].shape[1:] == (17, 3)


@pytest.mark.parametrize(
  'modality,error,match',
  [
    ('pose_3d', FileNotFoundError, r'w09: .*w09_pose_3d\.npy is missing; pose_3d is required'),
    ('labels', FileNotFoundError, r'w09: labels file .*w09_labels\.csv is missing'),
  ],
)
def test_missing_required_file(workout_copy, modality, error, match):
  suffix = 'labels.csv' if modality == 'labels' else f'{modality}.npy'
  os.remove(workout_copy / 'w09' / f'w09_{suffix}')
  with pytest.raises(error, match=match):
    _read(workout_copy)


def test_truncated_npy(workout_copy):
  path = workout_copy / 'w09' / 'w09_sw_r_gyr.npy'
  data = path.read_bytes()
  path.write_bytes(data[:-100])
  with pytest.raises(
    ValueError,
    match=r'w09: .*w09_sw_r_gyr\.npy is truncated: its header '
    r'promises shape \(\d+, 5\) float64 \(\d+ bytes.*\) but the file has \d+',
  ):
    _read(workout_copy)


def test_truncated_npy_inside_zip(workout_copy):
  path = workout_copy / 'w09' / 'w09_sw_r_gyr.npy'
  path.write_bytes(path.read_bytes()[:-100])
  archive = workout_copy / 'zipped'
  archive.mkdir()
  with zipfile.ZipFile(archive / 'mm-fit.zip', 'w') as zf:
    for name in os.listdir(workout_copy / 'w09'):
      zf.write(workout_copy / 'w09' / name, f'w09/{name}')
  source = reader.find_source(archive)
  assert isinstance(source, reader.ZipSource) and source.workouts() == ['w09']
  with pytest.raises(ValueError, match=r'mm-fit\.zip:w09/w09_sw_r_gyr\.npy is truncated'):
    reader.read_workout(source, 'w09')


@pytest.mark.parametrize(
  'modality,transform,match',
  [
    (
      'pose_3d',
      lambda a: a[:, :, :17],
      r'pose_3d\.npy has shape \(3, \d+, 17\); expected '
      r'\(3, N, 18\)',
    ),
    ('pose_2d', lambda a: a[:, :, :, None], r'pose_2d\.npy has shape .*; expected \(2, N, 19\)'),
    ('sp_r_acc', lambda a: a[:, :4], r'sp_r_acc\.npy has shape \(\d+, 4\); expected \(N, 5\)'),
    (
      'sw_l_hr',
      lambda a: np.concatenate([a, a[:, :2]], 1),
      r'sw_l_hr\.npy has shape \(\d+, 5\); expected \(N, 3\) \(frame, timestamp ms, bpm\)',
    ),
    (
      'pose_2d',
      lambda a: a[:, 1:],
      r'pose_2d\.npy has \d+ frames .*expected the \d+ frames of '
      'pose_3d',
    ),
    ('pose_3d', lambda a: a[:, ::-1], r'pose_3d\.npy frame numbers are not increasing'),
    ('sw_l_acc', lambda a: a.astype(np.complex64), r'sw_l_acc\.npy holds dtype complex64'),
  ],
)
def test_wrong_shapes_and_values(workout_copy, modality, transform, match):
  path = _npy(workout_copy, 'w09', modality)
  np.save(path, transform(np.load(path)))
  with pytest.raises(ValueError, match=r'w09: .*' + match):
    _read(workout_copy)


def test_short_nan_stretches_are_repaired_and_counted(workout_copy):
  clean, _ = _read(workout_copy)
  path = _npy(workout_copy, 'w09', 'sp_r_acc')
  data = np.load(path)
  data[1000:1008, 2] = np.nan
  data[1008:1010, 3] = np.inf
  np.save(path, data)
  pose_path = _npy(workout_copy, 'w09', 'pose_3d')
  pose = np.load(pose_path)
  pose[:, 200:205, 5] = np.nan
  np.save(pose_path, pose)
  example, report = _read(workout_copy)
  assert report.repairs['sp_r_acc:non_finite_rows_dropped'] == 10
  assert report.repairs['pose_3d:non_finite_frames_interpolated'] == 5
  assert np.all(np.isfinite(example['pose_3d']))
  assert np.isfinite(example['imu']['sp_r']).all()
  # 10 rows at ~210 Hz is a 50 ms hole: bridged, so the result barely changes.
  np.testing.assert_allclose(example['imu']['sp_r'], clean['imu']['sp_r'], atol=0.5)
  assert 'repairs=' in report.summary()


def test_long_nan_stretches_are_errors(workout_copy):
  path = _npy(workout_copy, 'w09', 'eb_l_gyr')
  data = np.load(path)
  data[100 : 100 + len(data) // 10, 4] = np.nan
  np.save(path, data)
  with pytest.raises(
    ValueError,
    match=r'w09: .*eb_l_gyr\.npy has \d+ of \d+ rows with '
    r'non-finite values \(longest stretch \d+ rows from row 100\)',
  ):
    _read(workout_copy)
  shutil.copy(_npy(workout_copy, 'w09', 'eb_l_acc'), path)  # restore a valid file
  pose_path = _npy(workout_copy, 'w09', 'pose_3d')
  pose = np.load(pose_path)
  pose[:, 300:340, 7] = np.nan
  np.save(pose_path, pose)
  with pytest.raises(
    ValueError,
    match=r'w09: .*pose_3d\.npy has 40 consecutive frames with '
    r'non-finite joints .*at most 15',
  ):
    _read(workout_copy)


def test_out_of_order_timestamps(workout_copy):
  clean, _ = _read(workout_copy)
  path = _npy(workout_copy, 'w09', 'sw_l_gyr')
  data = np.load(path)
  for row in (50, 400, 900):
    data[[row, row + 1]] = data[[row + 1, row]]
  np.save(path, data)
  example, report = _read(workout_copy)
  assert report.repairs['sw_l_gyr:rows_resorted'] == 3
  np.testing.assert_array_equal(example['imu']['sw_l'], clean['imu']['sw_l'])
  rng = np.random.default_rng(0)
  np.save(path, data[rng.permutation(len(data))])
  with pytest.raises(
    ValueError,
    match=r'w09: .*sw_l_gyr\.npy timestamps decrease at \d+ of \d+ '
    r'rows .*expected increasing timestamps',
  ):
    _read(workout_copy)


@pytest.mark.parametrize(
  'line,match',
  [
    ('10,20,5,squats', r'row \d+ spans frames 10\.\.20, outside the pose frame range'),
    ('{start},{end_plus},5,squats', r'outside the pose frame range'),
    ('{start},{end},5,burpees', r"unknown activity 'burpees'"),
    ('{start},{end},5', r'has 3 fields'),
    ('{end},{start},5,squats', r'expected start < end'),
    ('{start},{end},five,squats', r'are not integers'),
  ],
)
def test_bad_label_rows(workout_copy, line, match):
  frames = np.load(_npy(workout_copy, 'w09', 'pose_3d'))[0, :, 0]
  start, end = int(frames[10]), int(frames[100])
  line = line.format(start=start, end=end, end_plus=int(frames[-1]) + 1)
  with open(workout_copy / 'w09' / 'w09_labels.csv', 'a') as handle:
    handle.write(line + '\n')
  with pytest.raises(ValueError, match=r'w09: .*w09_labels\.csv .*' + match):
    _read(workout_copy)


def test_committed_dummy_data_reads_cleanly():
  """`dummy_data/` (the TFDS convention's manual dir) is small and valid."""
  dummy = os.path.join(REPO, 'tfds_builders', 'mmfit', 'dummy_data')
  size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(dummy) for f in fs)
  assert size < 3.2e6
  source = reader.find_source(dummy)
  assert source.workouts() == ['w03', 'w05', 'w09']
  for workout in source.workouts():
    example, report = reader.read_workout(source, workout)
    assert not report.repairs
    assert example['frame'].size > 180 + 6  # at least two evaluation windows
    assert example['sets']['label'].size >= 1


def test_no_mmfit_in_manual_dir(tmp_path):
  (tmp_path / 'something').mkdir()
  with pytest.raises(FileNotFoundError, match=r'expected mm-fit\.zip, an mm-fit/ folder, or wNN/'):
    reader.find_source(tmp_path)


def test_cli_build_reports_bad_input(built):
  output, _ = built['bad_build'].communicate(timeout=300)
  assert built['bad_build'].returncode != 0
  assert 'w11: ' in output and "unknown activity 'burpees'" in output


def test_label_of_window_rule():
  """Centre f + 75 strictly inside (start, end); first matching row wins."""
  starts, ends, labels = np.array([100, 400, 350]), np.array([300, 600, 700]), np.array([2, 7, 4])
  assert mmfit.window_label(24, starts, ends, labels) == NON_ACTIVITY  # centre 99
  assert mmfit.window_label(25, starts, ends, labels) == NON_ACTIVITY  # centre 100 = start
  assert mmfit.window_label(26, starts, ends, labels) == 2
  assert mmfit.window_label(224, starts, ends, labels) == 2  # centre 299
  assert mmfit.window_label(225, starts, ends, labels) == NON_ACTIVITY  # centre 300 = end
  assert mmfit.window_label(300, starts, ends, labels) == 4  # only the third row
  assert mmfit.window_label(326, starts, ends, labels) == 7  # both: the first wins
