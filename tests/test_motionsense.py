"""MotionSense: unit conversions, `tfds build` on writer-made files, windows, malformed files.

The build runs the real command line (`tfds build tfds_builders/motionsense --manual_dir=...`)
on a tiny writer-made dataset (2 subjects x 15 trials, the zip form as downloaded); the
malformed-file cases go through `reader.read_all`, the function `_split_generators` calls
before anything is written, and one of them through the command line too.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from mujo_jax.data import motionsense
from mujo_jax.facts import motionsense_layout as layout
from mujo_jax.facts import sites
from mujo_jax.synthesis import motion as motion_lib
from mujo_jax.synthesis import motionsense_writer
from tfds_builders.motionsense import reader

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TFDS = (sys.executable, '-m', 'tensorflow_datasets.scripts.cli.main')
SUBJECTS = (1, 2)
DURATION_S = 7.0
G = layout.STANDARD_GRAVITY


def _csv(rows: list[list[float]]) -> bytes:
  lines = [layout.HEADER] + [','.join(str(v) for v in [i, *row]) for i, row in enumerate(rows)]
  return ('\n'.join(lines) + '\n').encode()


def _row(gravity=(0.0, 0.0, -1.0), rate=(0.0, 0.0, 0.0), user=(0.0, 0.0, 0.0)):
  return [0.0, 0.0, 0.0, *gravity, *rate, *user]


def _recording(rows, where='test.csv'):
  index, values = reader.parse_csv(_csv(rows), where)
  return reader.to_recording(index, values, subject=1, trial=1)


# --------------------------------------------------------------------------------------------
# Units and signs.
# --------------------------------------------------------------------------------------------


def test_still_phone_face_up_reads_plus_g_on_z():
  """Core Motion's gravity (0, 0, -1) g of a phone lying face up is +9.81 m/s² up its z axis:
  the project's specific force, what the virtual IMU gives a still sensor (+g along up)."""
  imu = _recording([_row()] * 3).imu[:, 0]
  np.testing.assert_allclose(imu[:, :3], [[0.0, 0.0, G]] * 3, rtol=1e-6)
  np.testing.assert_allclose(np.linalg.norm(imu[:, :3], axis=1), 9.80665, rtol=1e-6)


def test_free_fall_reads_zero_and_lifting_reads_more_than_g():
  """In free fall userAcceleration cancels gravity (raw accelerometer 0): specific force 0.
  Lifting the face-up phone at 0.5 g reads userAcceleration -0.5 g on z (Apple's sign) and a
  specific force of 1.5 g up."""
  falling = _recording([_row(user=(0.0, 0.0, 1.0))]).imu[0, 0, :3]
  np.testing.assert_allclose(falling, 0.0, atol=1e-6)
  lifted = _recording([_row(user=(0.0, 0.0, -0.5))]).imu[0, 0, :3]
  np.testing.assert_allclose(lifted, [0.0, 0.0, 1.5 * G], rtol=1e-6)


def test_still_phone_any_orientation_has_norm_g():
  rng = np.random.default_rng(0)
  directions = rng.normal(size=(20, 3))
  directions /= np.linalg.norm(directions, axis=1, keepdims=True)
  imu = _recording([_row(gravity=tuple(d)) for d in directions]).imu[:, 0]
  np.testing.assert_allclose(np.linalg.norm(imu[:, :3], axis=1), G, rtol=1e-5)
  np.testing.assert_allclose(imu[:, :3], -directions * G, rtol=1e-5, atol=1e-5)


def test_rotation_rate_is_kept_in_rad_per_s():
  """Core Motion's rotationRate is rad/s: a phone turning a quarter turn per second about z
  reports pi/2 and stays pi/2 (no degree conversion)."""
  imu = _recording([_row(rate=(0.0, 0.0, math.pi / 2))] * 2).imu[:, 0]
  np.testing.assert_allclose(imu[:, 3:], [[0.0, 0.0, math.pi / 2]] * 2, rtol=1e-6)


def test_writer_attitude_matches_the_readme_rows():
  """The README's first rows satisfy roll = atan2(g_x, -g_z), pitch = -asin(g_y): the writer's
  attitude convention, checked on the published numbers."""
  readme = [  # roll, pitch, gravity xyz
    (-2.544349, -1.250641, -0.176977, 0.949187, 0.260222),
    (-2.524075, -1.187355, -0.21661, 0.927383, 0.305012),
    (-2.534324, -1.141923, -0.237286, 0.909435, 0.341488),
  ]
  for roll, pitch, gx, gy, gz in readme:
    assert math.atan2(gx, -gz) == pytest.approx(roll, abs=2e-4)
    assert -math.asin(gy) == pytest.approx(pitch, abs=2e-4)


def test_writer_trial_round_trips_to_the_virtual_imu_sign():
  """A writer-made standing trial: the builder's acc points opposite to Core Motion's gravity
  column (up), has |acc| ~ 9.81, and gravity + userAcceleration sum to the raw reading."""
  subject = motion_lib.sample_subject(np.random.default_rng(0), 1)
  pocket = motionsense_writer._pocket_orientation(np.random.default_rng(1))
  table = motionsense_writer.make_trial(6, subject, pocket, 8.0, np.random.default_rng(2))
  assert np.allclose(np.linalg.norm(table[:, layout.GRAVITY], axis=1), 1.0)
  recording = reader.to_recording(table[:, 0].astype(np.int64), table[:, 1:], 1, 6)
  acc = recording.imu[:, 0, :3]
  assert np.mean(np.linalg.norm(acc, axis=1)) == pytest.approx(9.81, abs=0.05)
  up = acc.mean(axis=0) / np.linalg.norm(acc.mean(axis=0))
  assert up @ table[:, layout.GRAVITY].mean(axis=0) < -0.99


# --------------------------------------------------------------------------------------------
# Facts.
# --------------------------------------------------------------------------------------------


def test_layout_facts():
  assert layout.SITE in sites.SITES
  assert len(layout.ALL_TRIALS) == 15 and 10 not in layout.ALL_TRIALS
  assert layout.SPLITS == {'train': tuple(range(1, 10)), 'test': tuple(range(11, 17))}
  assert [layout.trial_folder(t) for t in (1, 12, 14)] == ['dws_1', 'ups_12', 'std_14']
  assert layout.HEADER.startswith(',attitude.roll,') and len(layout.COLUMNS) == 13
  assert layout.parse_trial_folder('jog_16') == ('jog', 16)
  assert layout.parse_subject_file('sub_24.csv') == 24


# --------------------------------------------------------------------------------------------
# The build and the windows.
# --------------------------------------------------------------------------------------------


def _build(manual_dir, data_dir) -> subprocess.CompletedProcess:
  return subprocess.run(
    [
      *TFDS,
      'build',
      os.path.join(REPO, 'tfds_builders', 'motionsense'),
      f'--manual_dir={manual_dir}',
      f'--data_dir={data_dir}',
      '--file_format=array_record',
    ],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=300,
    env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', CUDA_VISIBLE_DEVICES='', PYTHONPATH=REPO),
  )


@pytest.fixture(scope='module')
def manual(tmp_path_factory):
  root = tmp_path_factory.mktemp('motionsense') / 'manual'
  rows = motionsense_writer.write_motionsense(
    root, subjects=SUBJECTS, duration_s=DURATION_S, seed=3, archive=True
  )
  return root, rows


@pytest.fixture(scope='module')
def built(manual, tmp_path_factory):
  data_dir = tmp_path_factory.mktemp('motionsense_tfds')
  result = _build(manual[0], data_dir)
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
  return str(data_dir), result


def test_build_and_windows(built, manual):
  data_dir, result = built
  assert 'MotionSense: 2 subjects, 30 recordings' in result.stdout + result.stderr
  out = motionsense.windows(data_dir)
  n = len(out['label'])
  per_recording = 1 + int((DURATION_S - 5.0) // 2.5)
  assert n == 30 * per_recording
  assert out['imu'].shape == (n, 250, 1, 6) and out['imu'].dtype == np.float32
  assert out['imu_sites'].shape == (n, 1) and out['imu_sites'].all()
  assert out['sites'] == ('right_thigh',) and out['class_names'] == layout.CLASS_NAMES
  assert sorted(set(out['group'].tolist())) == list(SUBJECTS)
  for trial in layout.ALL_TRIALS:
    labels = out['label'][out['trial'] == trial]
    assert labels.size == len(SUBJECTS) * per_recording
    assert (labels == layout.class_id(trial)).all()
  assert set(out['split'][out['trial'] > 10]) == {'test'}
  assert set(out['split'][out['trial'] < 10]) == {'train'}
  assert out['counts']['windows'] == n and out['counts']['filled_samples'] == 0
  sitting = out['imu'][out['label'] == layout.CLASS_NAMES.index('sitting')]
  assert np.linalg.norm(sitting[..., :3], axis=-1).mean() == pytest.approx(9.81, abs=0.1)
  # At 30 Hz and with a 2 s window.
  other = motionsense.windows(data_dir, window_s=2.0, hop_s=1.0, imu_rate_hz=30.0)
  assert other['imu'].shape[1] == 60 and len(other['label']) == 30 * 6


def test_built_examples_match_the_files(built, manual):
  import tensorflow_datasets as tfds

  data_dir, _ = built
  source = tfds.data_source('motionsense', split='test', data_dir=data_dir)
  assert len(source) == len(SUBJECTS) * len(layout.SPLITS['test'])
  example = source[0]
  assert int(example['trial']) == 11 and int(example['subject']) == 1
  assert example['activity'] == layout.class_id(11)
  assert len(example['imu']) == manual[1][(11, 1)]
  builder = tfds.builder('motionsense', data_dir=data_dir)
  assert builder.info.metadata['sites'] == ['right_thigh']
  assert builder.info.metadata['rate_hz'] == 50.0


def test_committed_dummy_data_reads_cleanly():
  dummy = os.path.join(REPO, 'tfds_builders', 'motionsense', 'dummy_data')
  size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(dummy) for f in fs)
  assert size < 1.5e6
  subjects, recordings = reader.read_all(reader.find_source(dummy))
  assert sorted(subjects) == [1, 2, 3] and len(recordings) == 45
  assert all(r.present.all() and len(r.imu) >= 250 for r in recordings)


# --------------------------------------------------------------------------------------------
# Missing data and malformed files.
# --------------------------------------------------------------------------------------------


@pytest.fixture()
def folder(tmp_path):
  """A tiny extracted copy (the folder form), 2 subjects x 15 trials of 6 s."""
  motionsense_writer.write_motionsense(tmp_path, subjects=SUBJECTS, duration_s=6.0, seed=5)
  return tmp_path


def _path(root, trial, subject):
  return root / layout.FOLDER / layout.trial_folder(trial) / layout.subject_file(subject)


def _edit(path, edit):
  lines = path.read_text().splitlines()
  path.write_text('\n'.join(edit(lines)) + '\n')


def test_missing_cells_and_index_gaps_are_masked(folder):
  path = _path(folder, 7, 2)

  def edit(lines):
    fields = lines[11].split(',')
    fields[5] = ''  # gravity.y of sample 10
    lines[11] = ','.join(fields)
    lines[21] = lines[21].replace(lines[21].split(',')[11], 'NaN', 1)  # sample 20
    return lines[:31] + lines[34:]  # samples 30..32 dropped: an index gap

  _edit(path, edit)
  _, recordings = reader.read_all(reader.find_source(folder))
  recording = next(r for r in recordings if (r.trial, r.subject) == (7, 2))
  absent = np.flatnonzero(~recording.present[:, 0]).tolist()
  assert absent == [10, 20, 30, 31, 32]
  assert recording.report['inserted_samples'] == 3 and recording.report['missing_cells'] == 2
  assert np.all(recording.imu[~recording.present[:, 0]] == 0.0)


@pytest.mark.parametrize(
  'edit, match',
  [
    (
      lambda lines: lines[:-1] + [lines[-1][:30]],
      r'line 301 has \d+ fields; expected 13.*truncated',
    ),
    (
      lambda lines: lines[:5] + [lines[5] + ',0.5'] + lines[6:],
      r'line 6 has 14 fields; expected 13',
    ),
    (
      lambda lines: lines[:4] + [lines[4].replace(lines[4].split(',')[3], 'abc', 1)] + lines[5:],
      r"line 5, column 4 \(attitude\.yaw\): 'abc'; expected a number",
    ),
    (lambda lines: ['index' + lines[0]] + lines[1:], r'line 1 is .*expected the header'),
    (lambda lines: lines[:1], r'no data rows'),
    (lambda lines: lines[:3] + [lines[2]] + lines[3:], r'line 4: index 1 after 1; expected'),
    (lambda lines: lines[:7] + ['x' + lines[7]] + lines[8:], r'line 8, column 1 \(index\)'),
  ],
  ids=['truncated', 'extra_column', 'non_numeric', 'header', 'empty', 'index_order', 'index'],
)
def test_malformed_csv(folder, edit, match):
  _edit(_path(folder, 12, 2), edit)
  with pytest.raises(ValueError, match=r'ups_12/sub_2\.csv: ' + match):
    reader.read_all(reader.find_source(folder))


def test_unknown_activity_folder(folder):
  os.rename(folder / layout.FOLDER / 'jog_16', folder / layout.FOLDER / 'run_16')
  with pytest.raises(ValueError, match=r"unknown trial folder 'run_16' \(activity 'run', trial 16"):
    reader.read_all(reader.find_source(folder))


def test_missing_subject_file(folder):
  os.remove(_path(folder, 5, 1))
  with pytest.raises(FileNotFoundError, match=r'1 subject file\(s\) missing.*sit_5/sub_1\.csv'):
    reader.read_all(reader.find_source(folder))


def test_subject_without_a_row(folder):
  shutil.copy(_path(folder, 5, 1), folder / layout.FOLDER / 'sit_5' / 'sub_9.csv')
  with pytest.raises(ValueError, match=r'sit_5/sub_9\.csv is subject 9, who has no row in'):
    reader.read_all(reader.find_source(folder))


@pytest.mark.parametrize(
  'content, match',
  [
    ('code,weight,height,age\n1,70,170,30\n', r'line 1 .*expected the header'),
    ('code,weight,height,age,gender\n1,70,170,30\n', r'line 2 has 4 fields; expected 5'),
    ('code,weight,height,age,gender\n1,70,tall,30,1\n', r"line 2, column height: 'tall'"),
    ('code,weight,height,age,gender\n1,70,170,30,2\n', r'line 2: .*gender 0 \(female\) or 1'),
  ],
  ids=['header', 'columns', 'non_numeric', 'gender'],
)
def test_malformed_subjects_file(folder, content, match):
  (folder / layout.SUBJECTS_FILE).write_text(content)
  with pytest.raises(ValueError, match=r'data_subjects_info\.csv: ' + match):
    reader.read_all(reader.find_source(folder))


def test_no_dataset_in_manual_dir(tmp_path):
  (tmp_path / 'notes').mkdir()
  with pytest.raises(FileNotFoundError, match=r'expected A_DeviceMotion_data\.zip or folders'):
    reader.find_source(tmp_path)
  motionsense_writer.write_motionsense(tmp_path / 'x', subjects=(1,), trials=(1,), duration_s=6)
  os.remove(tmp_path / 'x' / layout.SUBJECTS_FILE)
  with pytest.raises(FileNotFoundError, match=r'data_subjects_info\.csv not found'):
    reader.find_source(tmp_path / 'x')


def test_cli_build_fails_before_writing(folder, tmp_path):
  _edit(_path(folder, 9, 1), lambda lines: lines[:-1] + [lines[-1][:25]])
  data_dir = tmp_path / 'tfds'
  result = _build(folder, data_dir)
  assert result.returncode != 0
  assert 'jog_9/sub_1.csv: line 301 has' in result.stdout + result.stderr
  written = [f for _, _, files in os.walk(data_dir) for f in files if 'array_record' in f]
  assert not written
