"""Finds, parses and validates MotionSense's DeviceMotion CSVs (`facts.motionsense_layout`).

Every file is parsed and checked before the builder writes anything, so that a malformed file
stops the build with one error naming the file, the line and what was expected:

* a header other than the layout's (the unnamed index column first, then 12 named columns);
* a row with another number of fields (a truncated file ends in one), or no data row at all;
* a cell that is not a number, an index that is not an increasing integer;
* a trial folder `<act>_<trial>` that is not one of the 15 trials (an unknown activity), a
  `sub_<n>.csv` whose subject is not in `data_subjects_info.csv`, a subject of that file without
  a CSV in some trial folder, or a malformed subjects file.

Legitimately missing data is masked, never zero-filled: an empty or NaN/inf cell makes its
sample not present (`present` False) when it is in a gravity, rotationRate or userAcceleration
column, and a jump of the index (rows the logger dropped) inserts that many not-present samples,
so that sample k of a recording always lies at k / 50 s. Both are counted in `Recording.report`
for the build log.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import math
import os
import zipfile

import numpy as np

from mujo_jax.facts import motionsense_layout as layout

_NUM_COLUMNS = len(layout.COLUMNS)
_MISSING_CELLS = frozenset({'', 'nan', 'NaN', 'NAN', '-nan'})


@dataclasses.dataclass(frozen=True, kw_only=True)
class Subject:
  code: int
  weight_kg: float
  height_cm: float
  age_years: float
  gender: int  # 0 female, 1 male


@dataclasses.dataclass(frozen=True, kw_only=True)
class Recording:
  """One `sub_<n>.csv` of one trial, on a uniform 50 Hz timeline."""

  subject: int
  trial: int
  imu: np.ndarray  # (T, 1, 6) float32: specific force m/s² then rotation rate rad/s
  present: np.ndarray  # (T, 1) bool
  attitude: np.ndarray  # (T, 3) float32 roll, pitch, yaw in rad (NaN where missing)
  first_index: int  # the file's first index value
  report: collections.Counter[str]  # rows, missing_cells, inserted_samples, absent_samples


# --------------------------------------------------------------------------------------------
# Where the files are.
# --------------------------------------------------------------------------------------------


class Source:
  """The trial CSVs and the subjects file, in a folder tree or inside the zip archive."""

  def __init__(self):
    self.files: dict[tuple[int, int], str] = {}  # (trial, subject) -> locator
    self.subjects_file: str | None = None

  def read(self, locator: str) -> bytes:
    raise NotImplementedError

  def describe(self, locator: str) -> str:
    return locator

  def _add(self, parts: list[str], locator: str, seen: dict[tuple[int, int], str]) -> None:
    """Registers a member whose path ends in `parts` (folder..., file)."""
    if any(part == '__MACOSX' or part.startswith('._') for part in parts):
      return
    name = parts[-1]
    if name == layout.SUBJECTS_FILE:
      if self.subjects_file is not None:
        raise ValueError(
          f'MotionSense: two subjects files, {self.describe(self.subjects_file)} and '
          f'{self.describe(locator)}; expected one {layout.SUBJECTS_FILE}'
        )
      self.subjects_file = locator
      return
    subject = layout.parse_subject_file(name)
    folder = layout.parse_trial_folder(parts[-2]) if len(parts) >= 2 else None
    if subject is None or folder is None:
      return
    code, trial = folder
    if layout.ACTIVITY_OF_TRIAL.get(trial) != code:
      expected = ', '.join(layout.trial_folder(t) for t in layout.ALL_TRIALS)
      raise ValueError(
        f'MotionSense: {self.describe(locator)} lies in an unknown trial folder {parts[-2]!r} '
        f'(activity {code!r}, trial {trial}); expected one of {expected}'
      )
    if (trial, subject) in seen:
      raise ValueError(
        f'MotionSense: {self.describe(seen[(trial, subject)])} and {self.describe(locator)} '
        f'are both trial {trial} of subject {subject}; expected one copy of the data'
      )
    seen[(trial, subject)] = locator
    self.files[(trial, subject)] = locator


class FolderSource(Source):
  """Trial folders anywhere below a directory (the extracted archive, or Kaggle's copy)."""

  def __init__(self, root: str):
    super().__init__()
    self.root = root
    seen: dict[tuple[int, int], str] = {}
    for directory, folders, names in os.walk(root):
      folders[:] = sorted(f for f in folders if f != '__MACOSX')
      relative = os.path.relpath(directory, root)
      prefix = [] if relative == '.' else relative.split(os.sep)
      for name in sorted(names):
        self._add([*prefix, name], os.path.join(directory, name), seen)

  def read(self, locator: str) -> bytes:
    with open(locator, 'rb') as handle:
      return handle.read()


class ZipSource(Source):
  """Members of `A_DeviceMotion_data.zip`, read in place; the subjects file may lie beside it."""

  def __init__(self, path: str):
    super().__init__()
    self.path = path
    self._zip = zipfile.ZipFile(path)
    seen: dict[tuple[int, int], str] = {}
    for info in self._zip.infolist():
      if not info.is_dir():
        self._add(info.filename.split('/'), info.filename, seen)

  def read(self, locator: str) -> bytes:
    if os.path.isabs(locator):
      with open(locator, 'rb') as handle:
        return handle.read()
    return self._zip.read(locator)

  def describe(self, locator: str) -> str:
    return locator if os.path.isabs(locator) else f'{self.path}:{locator}'


def find_source(manual_dir: str | os.PathLike[str]) -> Source:
  """MotionSense in `manual_dir`: `A_DeviceMotion_data.zip` (+ `data_subjects_info.csv`) or the
  extracted trial folders anywhere below it.

  Raises:
    FileNotFoundError: no trial CSV or no subjects file; the message lists what is there.
  """
  manual_dir = os.fspath(manual_dir)
  if not os.path.isdir(manual_dir):
    raise FileNotFoundError(f'MotionSense manual_dir {manual_dir!r} is not a directory')
  archive = os.path.join(manual_dir, layout.ARCHIVE)
  source: Source = ZipSource(archive) if os.path.isfile(archive) else FolderSource(manual_dir)
  if not source.files:
    raise FileNotFoundError(
      f'MotionSense not found in {manual_dir!r}: expected {layout.ARCHIVE} or folders '
      f'{layout.FOLDER}/<act>_<trial>/sub_<n>.csv; found {sorted(os.listdir(manual_dir))[:20]}'
    )
  if source.subjects_file is None:
    beside = os.path.join(manual_dir, layout.SUBJECTS_FILE)
    if not os.path.isfile(beside):
      raise FileNotFoundError(
        f'MotionSense: {layout.SUBJECTS_FILE} not found in {manual_dir!r} (nor in the archive); '
        'download it from the data/ folder of github.com/mmalekzadeh/motion-sense'
      )
    source.subjects_file = os.path.abspath(beside)
  return source


# --------------------------------------------------------------------------------------------
# Parsing.
# --------------------------------------------------------------------------------------------


def _text(data: bytes, where: str) -> str:
  try:
    return data.decode('utf-8-sig')
  except UnicodeDecodeError as error:
    raise ValueError(f'{where}: not UTF-8 text ({error}); expected a CSV file') from None


def read_subjects(source: Source) -> dict[int, Subject]:
  """Parses `data_subjects_info.csv`: header `code,weight,height,age,gender`, one row each."""
  where = source.describe(source.subjects_file)
  lines = _text(source.read(source.subjects_file), where).splitlines()
  header = tuple(field.strip() for field in lines[0].split(',')) if lines else ()
  if header != layout.SUBJECTS_HEADER:
    raise ValueError(
      f'{where}: line 1 is {lines[0] if lines else ""!r}; expected the header '
      f'{",".join(layout.SUBJECTS_HEADER)!r}'
    )
  subjects: dict[int, Subject] = {}
  for number, line in enumerate(lines[1:], start=2):
    if not line.strip():
      continue
    fields = [field.strip() for field in line.split(',')]
    if len(fields) != len(layout.SUBJECTS_HEADER):
      raise ValueError(
        f'{where}: line {number} has {len(fields)} fields; expected '
        f'{len(layout.SUBJECTS_HEADER)} ({",".join(layout.SUBJECTS_HEADER)})'
      )
    values = []
    for name, field in zip(layout.SUBJECTS_HEADER, fields, strict=True):
      try:
        value = float(field)
      except ValueError:
        value = math.nan
      if not math.isfinite(value):
        raise ValueError(f'{where}: line {number}, column {name}: {field!r}; expected a number')
      values.append(value)
    code, weight, height, age, gender = values
    if code != int(code) or code < 1 or gender not in (0, 1):
      raise ValueError(
        f'{where}: line {number}: code {fields[0]!r}, gender {fields[4]!r}; expected a '
        'positive integer code and gender 0 (female) or 1 (male)'
      )
    if int(code) in subjects:
      raise ValueError(f'{where}: line {number} repeats subject code {int(code)}')
    subjects[int(code)] = Subject(
      code=int(code), weight_kg=weight, height_cm=height, age_years=age, gender=int(gender)
    )
  if not subjects:
    raise ValueError(f'{where}: no subject rows; expected one row per subject')
  return subjects


def _parse_slow(lines: list[str], where: str) -> tuple[np.ndarray, np.ndarray]:
  """Line by line: the exact location of the first bad cell, or the values with NaN holes."""
  index = np.empty(len(lines), np.int64)
  values = np.full((len(lines), _NUM_COLUMNS - 1), np.nan)
  for row, line in enumerate(lines):
    number = row + 2
    fields = line.split(',')
    if len(fields) != _NUM_COLUMNS:
      raise ValueError(
        f'{where}: line {number} has {len(fields)} fields; expected {_NUM_COLUMNS} '
        f'({layout.HEADER!r}){" (truncated file?)" if row == len(lines) - 1 else ""}'
      )
    try:
      index[row] = int(fields[0])
    except ValueError:
      raise ValueError(
        f'{where}: line {number}, column 1 (index): {fields[0]!r}; expected an integer sample index'
      ) from None
    for column, field in enumerate(fields[1:], start=1):
      field = field.strip()
      if field in _MISSING_CELLS:
        continue
      try:
        values[row, column - 1] = float(field)
      except ValueError:
        raise ValueError(
          f'{where}: line {number}, column {column + 1} ({layout.COLUMNS[column]}): '
          f'{field!r}; expected a number (an empty or NaN cell marks a missing sample)'
        ) from None
  return index, values


def parse_csv(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
  """One DeviceMotion CSV -> (index (n,) int64, values (n, 12) float64 with NaN for missing)."""
  text = _text(data, where)
  lines = text.splitlines()
  header = lines[0].strip() if lines else ''
  if header != layout.HEADER:
    raise ValueError(f'{where}: line 1 is {header[:200]!r}; expected the header {layout.HEADER!r}')
  rows = [line for line in lines[1:] if line.strip()]
  if not rows:
    raise ValueError(f'{where}: no data rows after the header; expected at least one sample')
  try:
    table = np.loadtxt(
      io.StringIO('\n'.join(rows)), delimiter=',', ndmin=2, dtype=np.float64, comments=None
    )
    if table.shape[1] != _NUM_COLUMNS or not np.all(np.isfinite(table[:, 0])):
      raise ValueError('shape')
    index = table[:, 0].astype(np.int64)
    if not np.array_equal(index, table[:, 0]):
      raise ValueError('index')
    values = table[:, 1:]
  except ValueError:
    index, values = _parse_slow(rows, where)
  steps = np.diff(index)
  if index[0] < 0 or np.any(steps <= 0):
    bad = int(np.argmax(steps <= 0)) + 1 if np.any(steps <= 0) else 0
    raise ValueError(
      f'{where}: line {bad + 2}: index {index[bad]}'
      + (f' after {index[bad - 1]}' if bad else '')
      + '; expected non-negative, increasing sample indices'
    )
  return index, values


def to_recording(index: np.ndarray, values: np.ndarray, subject: int, trial: int) -> Recording:
  """Parsed values -> the 50 Hz timeline in project units, with missing samples masked."""
  report: collections.Counter[str] = collections.Counter(rows=len(index))
  length = int(index[-1] - index[0]) + 1
  position = index - index[0]
  report['inserted_samples'] = length - len(index)
  report['missing_cells'] = int(np.sum(np.isnan(values)))
  timeline = np.full((length, _NUM_COLUMNS - 1), np.nan)
  timeline[position] = values
  column = lambda s: timeline[:, s.start - 1 : s.stop - 1]
  acc = layout.specific_force(column(layout.GRAVITY), column(layout.USER_ACCELERATION))
  gyr = column(layout.ROTATION_RATE)  # rad/s, as Core Motion reports it
  imu = np.concatenate([acc, gyr], axis=1)
  present = np.all(np.isfinite(imu), axis=1)
  report['absent_samples'] = int(np.sum(~present))
  imu[~present] = 0.0  # never read: `present` is False there
  return Recording(
    subject=subject,
    trial=trial,
    imu=imu.astype(np.float32)[:, None, :],
    present=present[:, None],
    attitude=column(layout.ATTITUDE).astype(np.float32),
    first_index=int(index[0]),
    report=report,
  )


def read_all(source: Source) -> tuple[dict[int, Subject], list[Recording]]:
  """Validates and parses every file; raises on the first problem, before anything is written.

  Returns the subjects and one recording per (trial, subject), ordered by trial then subject.
  """
  subjects = read_subjects(source)
  where = source.describe(source.subjects_file)
  unknown = sorted({s for _, s in source.files} - set(subjects))
  if unknown:
    (trial, subject) = min(k for k in source.files if k[1] == unknown[0])
    raise ValueError(
      f'MotionSense: {source.describe(source.files[(trial, subject)])} is subject {subject}, '
      f'who has no row in {where}; expected subjects {sorted(subjects)}'
    )
  missing = [
    f'{layout.FOLDER}/{layout.trial_folder(t)}/{layout.subject_file(s)}'
    for t in layout.ALL_TRIALS
    for s in sorted(subjects)
    if (t, s) not in source.files
  ]
  if missing:
    raise FileNotFoundError(
      f'MotionSense: {len(missing)} subject file(s) missing, e.g. {missing[:5]}; expected '
      f'sub_<n>.csv for every subject of {where} ({len(subjects)}) in each of the '
      f'{len(layout.ALL_TRIALS)} trial folders'
    )
  recordings = []
  for trial, subject in sorted(source.files):
    locator = source.files[(trial, subject)]
    index, values = parse_csv(source.read(locator), source.describe(locator))
    recordings.append(to_recording(index, values, subject, trial))
  return subjects, recordings
