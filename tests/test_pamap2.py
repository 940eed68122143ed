"""PAMAP2: `tfds build` on writer-made files, the windows, the units and every malformed file.

The build runs the real command line (`tfds build tfds_builders/pamap2 --manual_dir=...`) as a
subprocess on a tiny writer-made dataset with planted signals: a still chest, a known rotation
rate, a >6 g acceleration the ±6 g accelerometer clips, and a 0.5 s timestamp gap. Malformed
files are checked through the reader on copies of a smaller dataset, and once through the
command line to show that nothing is written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from mujo_jax.data import pamap2
from mujo_jax.facts import pamap2_layout as layout
from mujo_jax.synthesis import pamap2_writer as writer
from tfds_builders.pamap2 import reader

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TFDS = (sys.executable, '-m', 'tensorflow_datasets.scripts.cli.main')
SETTINGS = writer.WriterSettings(seconds_per_activity=8.0)
SEED = 3
STILL = (2000, 3000)  # subject 102 protocol lines: chest still, tilted
SPIN = (4000, 4500)  # subject 102 protocol lines: hand gyro z = 1 rad/s
SPIN_RAD_S = 1.0
HARD = (6000, 6100)  # subject 103 protocol lines: hand acc16 x = 100 m/s^2, acc6 clipped
HARD_MS2 = 100.0
GAP = (5000, 5050)  # subject 104 protocol lines removed


def _tfds_build(manual_dir, data_dir) -> subprocess.CompletedProcess:
  return subprocess.run(
    [
      *TFDS,
      'build',
      os.path.join(REPO, 'tfds_builders', 'pamap2'),
      f'--manual_dir={manual_dir}',
      f'--data_dir={data_dir}',
      '--file_format=array_record',
    ],
    cwd=REPO,
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
    text=True,
    timeout=300,
    env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', CUDA_VISIBLE_DEVICES='', PYTHONPATH=REPO),
  )


def _write_file(manual, session, subject, rows):
  with open(writer.file_path(manual, session, subject), 'wb') as handle:
    handle.write(writer.format_rows(rows))


@pytest.fixture(scope='module')
def built(tmp_path_factory):
  root = tmp_path_factory.mktemp('pamap2')
  manual = root / 'manual'
  writer.write_pamap2(manual, seed=SEED, settings=SETTINGS)
  rows = {}
  still = writer.file_rows('protocol', 102, SEED, SETTINGS)
  chest = layout.IMU_FIRST_COLUMN['chest']
  tilt = np.deg2rad(30.0)
  gravity = layout.STANDARD_GRAVITY * np.array([np.sin(tilt), 0.0, np.cos(tilt)])
  still[slice(*STILL), chest + layout.OFFSET_ACC16 : chest + layout.OFFSET_ACC16 + 3] = gravity
  still[slice(*STILL), chest + layout.OFFSET_GYR : chest + layout.OFFSET_GYR + 3] = 0.0
  hand = layout.IMU_FIRST_COLUMN['hand']
  still[slice(*SPIN), hand + layout.OFFSET_ACC16 : hand + layout.OFFSET_ACC16 + 3] = 1.0
  still[slice(*SPIN), hand + layout.OFFSET_GYR : hand + layout.OFFSET_GYR + 3] = [0, 0, SPIN_RAD_S]
  _write_file(manual, 'protocol', 102, still)
  rows[102] = still
  hard = writer.file_rows('protocol', 103, SEED, SETTINGS)
  hard[slice(*HARD), hand + layout.OFFSET_ACC16] = HARD_MS2
  hard[slice(*HARD), hand + layout.OFFSET_ACC6] = layout.ACC6_FULL_SCALE_MS2
  _write_file(manual, 'protocol', 103, hard)
  gap = writer.file_rows('protocol', 104, SEED, SETTINGS)
  _write_file(manual, 'protocol', 104, np.delete(gap, np.s_[GAP[0] : GAP[1]], axis=0))
  rows[104] = gap
  rows[101] = writer.file_rows('protocol', 101, SEED, SETTINGS)
  result = _tfds_build(manual, root / 'tfds')
  assert result.returncode == 0, result.stdout[-3000:]
  return {'manual': manual, 'data_dir': str(root / 'tfds'), 'log': result.stdout, 'rows': rows}


def _example(data_dir, session, subject):
  import tensorflow_datasets as tfds

  source = tfds.data_source('pamap2', split=session, data_dir=data_dir)
  for index in range(len(source)):
    if int(source[index]['subject']) == subject:
      return source[index]
  raise KeyError(subject)


def test_splits_and_build_log(built):
  import tensorflow_datasets as tfds

  info = tfds.builder('pamap2', data_dir=built['data_dir']).info
  assert info.splits['protocol'].num_examples == 9
  assert info.splits['optional'].num_examples == 5
  assert list(info.metadata['class_names']) == list(layout.CLASS_NAMES)
  assert 'missing (masked) IMU samples' in built['log']
  assert 'timestamp-gap samples 50' in built['log']


def test_nan_is_masked_never_zero_filled(built):
  example = _example(built['data_dir'], 'protocol', 101)
  rows = built['rows'][101]
  hand = layout.imu_columns('hand', layout.OFFSET_ACC16)
  nan = np.isnan(rows[:, hand]).any(axis=1)
  assert nan.any() and (~nan).any()
  np.testing.assert_array_equal(example['present'][:, 0], ~nan)
  assert np.isnan(example['imu'][nan, 0]).all()
  np.testing.assert_allclose(example['imu'][~nan, 0, :3], rows[~nan][:, hand], atol=1e-4)
  # Heart rate NaN on most lines, kept as NaN.
  np.testing.assert_array_equal(np.isnan(example['heart_rate']), np.isnan(rows[:, 2]))


def test_labels_and_transient(built):
  example = _example(built['data_dir'], 'protocol', 101)
  activity = built['rows'][101][:, layout.COLUMN_ACTIVITY].astype(int)
  np.testing.assert_array_equal(example['activity_id'], activity)
  expected = np.array([layout.CLASS_OF_ACTIVITY.get(a, -1) for a in activity])
  np.testing.assert_array_equal(example['label'], expected)
  assert (example['label'][activity == 0] == -1).all()


def test_still_sensor_reads_one_g(built):
  """The ±16 g columns are m/s² incl. gravity: a still, tilted chest reads |acc| = 9.81."""
  example = _example(built['data_dir'], 'protocol', 102)
  acc = example['imu'][slice(*STILL), 1, :3]
  np.testing.assert_allclose(np.linalg.norm(acc, axis=1), layout.STANDARD_GRAVITY, atol=1e-4)
  np.testing.assert_allclose(example['imu'][slice(*STILL), 1, 3:], 0.0, atol=1e-6)


def test_gyro_is_rad_per_s(built):
  """1 rad/s in the file stays 1 rad/s (not converted as if it were degrees)."""
  example = _example(built['data_dir'], 'protocol', 102)
  np.testing.assert_allclose(example['imu'][slice(*SPIN), 0, 5], SPIN_RAD_S, atol=1e-6)


def test_reads_the_16g_accelerometer(built):
  """Above 6 g the ±6 g sensor clips; the builder reads the ±16 g one."""
  example = _example(built['data_dir'], 'protocol', 103)
  np.testing.assert_allclose(example['imu'][slice(*HARD), 0, 0], HARD_MS2, atol=1e-4)


def test_timestamp_gap_is_missing_and_unlabelled(built):
  example = _example(built['data_dir'], 'protocol', 104)
  rows = built['rows'][104]
  assert example['imu'].shape[0] == len(rows)
  assert not example['present'][slice(*GAP)].any()
  assert (example['label'][slice(*GAP)] == -1).all()
  assert (example['activity_id'][slice(*GAP)] == -1).all()
  after = GAP[1] + 10
  hand = layout.imu_columns('hand', layout.OFFSET_GYR)
  if not np.isnan(rows[after, hand]).any():
    np.testing.assert_allclose(example['imu'][after, 0, 3:], rows[after, hand], atol=1e-5)


def test_windows_in_the_batch_schema(built):
  w = pamap2.windows(built['data_dir'])
  n = w['label'].shape[0]
  assert w['imu'].shape == (n, 250, 3, 6) and w['imu'].dtype == np.float32
  assert w['imu_sites'].shape == (n, 3) and w['group'].shape == (n,)
  assert w['sites'] == layout.DOMINANT_SITES and w['class_names'] == layout.CLASS_NAMES
  assert set(np.unique(w['label'])) == set(range(len(layout.CLASS_NAMES)))
  assert set(np.unique(w['group'])) == set(layout.SUBJECTS)
  assert np.isfinite(w['imu']).all()
  assert not np.any(w['imu'].transpose(0, 2, 1, 3)[~w['imu_sites']])
  counts = w['counts']
  assert counts['windows'] == n and counts['dropped_unlabelled'] > 0
  assert counts['filled_samples'] > 0
  # The centre rule, checked against the file of subject 101 (protocol comes first).
  rows = built['rows'][101]
  first = np.flatnonzero(w['group'] == 101)
  starts = np.arange(0, len(rows) - 500 + 1, 250)
  centres = rows[starts + 250, layout.COLUMN_ACTIVITY].astype(int)
  expected = [layout.CLASS_OF_ACTIVITY[a] for a in centres if a != 0]
  assert list(w['label'][first[: len(expected)]]) == expected[: len(first)]


def test_windows_protocol_only_and_anatomical_sites(built):
  protocol = pamap2.windows(built['data_dir'], sessions=('protocol',), hop_s=5.0)
  assert set(np.unique(protocol['label'])) == {
    layout.CLASS_OF_ACTIVITY[a] for a in layout.PROTOCOL_ACTIVITIES
  }
  anatomical = pamap2.windows(
    built['data_dir'], sessions=('protocol',), hop_s=5.0, sites='anatomical'
  )
  assert anatomical['sites'] == layout.ANATOMICAL_SITES
  left = anatomical['group'] == 108
  assert not anatomical['imu_sites'][left][:, [0, 3]].any()
  assert anatomical['imu_sites'][~left][:, [1, 4]].sum() == 0
  np.testing.assert_array_equal(anatomical['label'], protocol['label'])
  with pytest.raises(ValueError, match='sites='):
    pamap2.windows(built['data_dir'], sites='mirror')


def test_zip_forms_read_like_the_folder(built, tmp_path):
  folder = reader.find_source(built['manual'])
  inner = tmp_path / 'PAMAP2_Dataset.zip'
  with zipfile.ZipFile(inner, 'w', zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
    for session in layout.SESSIONS:
      for subject in layout.expected_subjects(session):
        path = writer.file_path(built['manual'], session, subject)
        archive.write(path, os.path.relpath(path, built['manual']))
  outer_dir = tmp_path / 'uci'
  outer_dir.mkdir()
  with zipfile.ZipFile(outer_dir / layout.ARCHIVE_NAMES[1], 'w') as archive:
    archive.write(inner, 'PAMAP2_Dataset.zip')
    archive.writestr('readme.pdf', b'%PDF')
  for manual in (tmp_path, outer_dir):
    source = reader.find_source(manual)
    assert isinstance(source, reader.ZipSource)
    assert sorted(source.files()) == sorted(folder.files())
    key = ('optional', 108)
    assert source.read(key) == folder.read(key)


def test_dummy_data_reads():
  source = reader.find_source(os.path.join(REPO, 'tfds_builders', 'pamap2', 'dummy_data'))
  recordings, reports, _ = reader.read_all(source)
  assert [len(recordings[s]) for s in layout.SESSIONS] == [9, 5]
  assert all(r.lines > 0 for r in reports)


# --------------------------------------------------------------------------------------------
# Malformed files: one error naming file, line and what was expected.
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope='module')
def small(tmp_path_factory):
  manual = tmp_path_factory.mktemp('pamap2_small') / 'manual'
  writer.write_pamap2(
    manual, sessions=('protocol',), seed=1, settings=writer.WriterSettings(seconds_per_activity=1)
  )
  return manual


def _broken(small, tmp_path, edit):
  manual = tmp_path / 'manual'
  shutil.copytree(small, manual)
  path = writer.file_path(manual, 'protocol', 105)
  with open(path, 'rb') as handle:
    lines = handle.read().split(b'\n')
  edit(lines)
  with open(path, 'wb') as handle:
    handle.write(b'\n'.join(lines))
  return manual, path


def _set_field(lines, line, column, value):
  fields = lines[line - 1].split(b' ')
  fields[column - 1] = value
  lines[line - 1] = b' '.join(fields)


CASES = {
  'wrong_column_count': (
    lambda lines: lines.__setitem__(6, lines[6].rsplit(b' ', 1)[0]),
    r'subject105\.dat line 7: 53 fields; expected 54',
  ),
  'extra_column': (
    lambda lines: lines.__setitem__(3, lines[3] + b' 1'),
    r'subject105\.dat line 4: 55 fields; expected 54',
  ),
  'non_numeric_cell': (
    lambda lines: _set_field(lines, 9, 5, b'abc'),
    r"subject105\.dat line 9 column 5: 'abc' is not a number; expected a decimal number or NaN",
  ),
  'unknown_activity': (
    lambda lines: _set_field(lines, 11, 2, b'8'),
    r'subject105\.dat line 11: activityID 8\.0; expected one of \[0, 1, 2, 3, 4, 5, 6, 7, 9,',
  ),
  'fractional_activity': (
    lambda lines: _set_field(lines, 12, 2, b'1.5'),
    r'subject105\.dat line 12: activityID 1\.5',
  ),
  'truncated': (
    lambda lines: lines.__setitem__(slice(40, None), [lines[40][:100]]),
    r'subject105\.dat line 41: \d+ fields \(the last line, without a newline: truncated\?\)',
  ),
  'timestamp_backwards': (
    lambda lines: _set_field(lines, 20, 1, b'1.00'),
    r'subject105\.dat line 20: timestamp 1\.0 s after .*; expected increasing timestamps',
  ),
  'infinite_value': (
    lambda lines: _set_field(lines, 15, 8, b'inf'),
    r'subject105\.dat line 15 column 8: inf; expected a finite number or NaN',
  ),
  'empty_file': (
    lambda lines: lines.__setitem__(slice(None), [b'']),
    r'subject105\.dat line 1: the file is empty',
  ),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_malformed_file_names_file_and_line(small, tmp_path, case):
  edit, message = CASES[case]
  manual, _ = _broken(small, tmp_path, edit)
  with pytest.raises(reader.MalformedFileError, match=message):
    reader.read_all(reader.find_source(manual))


def test_missing_subject_file(small, tmp_path):
  manual = tmp_path / 'manual'
  shutil.copytree(small, manual)
  os.remove(writer.file_path(manual, 'protocol', 104))
  with pytest.raises(FileNotFoundError, match=r'Protocol/subject104\.dat.*expected every subject'):
    reader.read_all(reader.find_source(manual))


def test_cli_fails_before_writing(small, tmp_path):
  manual, _ = _broken(small, tmp_path, CASES['unknown_activity'][0])
  data_dir = tmp_path / 'tfds'
  result = _tfds_build(manual, data_dir)
  assert result.returncode != 0
  assert 'subject105.dat line 11: activityID 8.0' in result.stdout
  written = [f for _, _, files in os.walk(data_dir) for f in files if 'array_record' in f]
  assert written == []


def test_trailing_space_and_crlf_are_accepted(small, tmp_path):
  def edit(lines):
    lines[:] = [line + b' \r' if line else line for line in lines]

  manual, _ = _broken(small, tmp_path, edit)
  recordings, _, _ = reader.read_all(reader.find_source(manual))
  reference, _, _ = reader.read_all(reader.find_source(small))
  one = recordings['protocol'][4]
  two = reference['protocol'][4]
  np.testing.assert_array_equal(one.present, two.present)
  np.testing.assert_array_equal(np.nan_to_num(one.imu), np.nan_to_num(two.imu))
