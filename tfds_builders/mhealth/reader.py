"""Finds, parses and validates MHEALTH's subject files (`mujo_jax.facts.mhealth_layout`).

Where. `manual_dir` holds the archive as downloaded from UCI (any `*.zip` whose members end in
`mHealth_subject<k>.log`, read in place), the extracted `MHEALTHDATASET/` folder, or the
`.log` files themselves.

Parsing. A file is parsed in one pass by numpy (`np.fromstring` over the whole text, any
whitespace separating cells), after a vectorised count of the cells on every line. Only when
something is wrong is the file walked line by line, to name the line, column and value.

Errors (`MalformedFileError`, a ValueError; every file is checked before the builder writes
anything): a line without exactly 24 cells (a truncated last line says so), a cell that is not
a number, a label that is not an integer in 0..12, a file without rows, a subject file missing
from 1..10. Not errors: blank lines (skipped) and non-finite sensor cells (`nan`, `inf`): the
sample of that site is marked not present and counted in `SubjectReport.missing`.

Conversion to the project's units: acc * `ACC_UNIT_TO_M_S2` (m/s^2 incl. gravity, as stored),
gyr * `GYRO_UNIT_TO_RAD_S` (documented deg/s -> rad/s; the evidence and the check a real file
needs are in `mhealth_layout`, and `gyro_magnitude_check` computes that check for the build log).
The chest has no gyroscope: its gyr channels are NaN and its site is never `present` (the model
reads acc and gyr of a site together); `acc_present` keeps the chest accelerometer usable.
"""

from __future__ import annotations

import collections
import dataclasses
import glob
import os
import zipfile

import numpy as np

from mujo_jax.facts import mhealth_layout as layout

_EXPECTED_LINE = f'{layout.NUM_COLUMNS} whitespace-separated numbers: ' + ' '.join(
  layout.COLUMN_NAMES
)


class MalformedFileError(ValueError):
  """A subject file contradicts the MHEALTH layout; the message names file, line and value."""


# --------------------------------------------------------------------------------------------
# Where the files are.
# --------------------------------------------------------------------------------------------


class Source:
  """The subject files, by subject id."""

  def subjects(self) -> dict[int, str]:
    """Subject id -> where its file is (for messages)."""
    raise NotImplementedError

  def read(self, subject: int) -> bytes:
    raise NotImplementedError


class FolderSource(Source):
  def __init__(self, folder: str):
    self.folder = folder
    self._paths = {}
    for path in sorted(glob.glob(os.path.join(glob.escape(folder), '*.log'))):
      subject = layout.subject_of_file(path)
      if subject is not None:
        self._paths[subject] = path

  def subjects(self) -> dict[int, str]:
    return dict(self._paths)

  def read(self, subject: int) -> bytes:
    with open(self._paths[subject], 'rb') as handle:
      return handle.read()


class ZipSource(Source):
  """Members `[...]/mHealth_subject<k>.log` of a zip archive, read without extracting it."""

  def __init__(self, path: str):
    self.path = path
    self._zip = zipfile.ZipFile(path)
    self._members = {}
    for info in self._zip.infolist():
      subject = None if info.is_dir() else layout.subject_of_file(info.filename)
      if subject is not None and '__MACOSX' not in info.filename:
        self._members[subject] = info

  def subjects(self) -> dict[int, str]:
    return {s: f'{self.path}:{info.filename}' for s, info in self._members.items()}

  def read(self, subject: int) -> bytes:
    return self._zip.read(self._members[subject])


def find_source(manual_dir: str | os.PathLike[str]) -> Source:
  """MHEALTH in `manual_dir`: a zip archive, a `MHEALTHDATASET/` folder, or the `.log` files.

  Raises:
    FileNotFoundError: none of the three is there; the message lists what is.
  """
  manual_dir = os.fspath(manual_dir)
  if not os.path.isdir(manual_dir):
    raise FileNotFoundError(f'MHEALTH manual_dir {manual_dir!r} is not a directory')
  for path in sorted(glob.glob(os.path.join(glob.escape(manual_dir), '*.zip'))):
    source = ZipSource(path)
    if source.subjects():
      return source
  for folder in (os.path.join(manual_dir, layout.FOLDER), manual_dir):
    if os.path.isdir(folder) and FolderSource(folder).subjects():
      return FolderSource(folder)
  raise FileNotFoundError(
    f'MHEALTH not found in {manual_dir!r}: expected the UCI zip archive, a {layout.FOLDER}/ '
    f'folder, or mHealth_subject<1..10>.log files; found {sorted(os.listdir(manual_dir))[:20]}'
  )


def check_subjects(source: Source) -> dict[int, str]:
  """The files of subjects 1..10; raises one error naming every missing subject file."""
  found = source.subjects()
  missing = [s for s in layout.SUBJECTS if s not in found]
  if missing:
    where = os.path.dirname(next(iter(found.values()))) if found else '?'
    raise MalformedFileError(
      f'MHEALTH: missing subject files {[layout.subject_file(s) for s in missing]} next to '
      f'{where}; expected {layout.subject_file(1)} .. {layout.subject_file(10)}'
    )
  return {s: found[s] for s in layout.SUBJECTS}


# --------------------------------------------------------------------------------------------
# Parsing one file.
# --------------------------------------------------------------------------------------------


def _line_cells(data: bytes) -> tuple[np.ndarray, np.ndarray]:
  """Cells per physical line (vectorised) and the byte offset where each line starts."""
  raw = np.frombuffer(data, np.uint8)
  space = raw <= 32
  starts = np.flatnonzero(~space[1:] & space[:-1]) + 1
  if raw.size and not space[0]:
    starts = np.concatenate([[0], starts])
  newlines = np.flatnonzero(raw == 10)
  num_lines = newlines.size + (1 if raw.size and raw[-1] != 10 else 0)
  cells = np.bincount(np.searchsorted(newlines, starts), minlength=num_lines)
  line_starts = np.concatenate([[0], newlines + 1])[:num_lines]
  return cells, line_starts


def _line_text(data: bytes, line_starts: np.ndarray, line: int) -> str:
  start = int(line_starts[line])
  end = data.find(b'\n', start)
  return data[start : end if end >= 0 else len(data)].decode('utf-8', 'replace').strip()


def _first_bad_cell(data: bytes, rows: np.ndarray, line_starts: np.ndarray, where: str):
  """Walks the lines (error path only) and raises for the first cell that is not a number."""
  for line in rows:
    for column, cell in enumerate(_line_text(data, line_starts, line).split()):
      try:
        float(cell)
      except ValueError:
        raise MalformedFileError(
          f'{where}: line {line + 1}, column {column + 1} ({layout.COLUMN_NAMES[column]}): '
          f'{cell!r} is not a number; expected {_EXPECTED_LINE}'
        ) from None
  raise MalformedFileError(f'{where}: could not be parsed as numbers; expected {_EXPECTED_LINE}')


def parse_log(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
  """(T, 24) float64 values of a subject file and the physical line number (1-based) of each.

  Raises:
    MalformedFileError: a line without 24 cells, a non-numeric cell, no rows.
  """
  cells, line_starts = _line_cells(data)
  rows = np.flatnonzero(cells > 0)
  if not rows.size:
    raise MalformedFileError(f'{where}: no rows; expected lines of {_EXPECTED_LINE}')
  bad = rows[cells[rows] != layout.NUM_COLUMNS]
  if bad.size:
    line = int(bad[0])
    truncated = ' (the file ends there: truncated?)' if line == rows[-1] else ''
    raise MalformedFileError(
      f'{where}: line {line + 1} has {int(cells[line])} columns{truncated}; expected '
      f'{_EXPECTED_LINE}; the line reads {_line_text(data, line_starts, line)[:200]!r}'
    )
  try:
    values = np.fromstring(data, sep=' ')
  except ValueError:
    values = None
  if values is None or values.size != rows.size * layout.NUM_COLUMNS:
    _first_bad_cell(data, rows, line_starts, where)
  return values.reshape(rows.size, layout.NUM_COLUMNS), rows + 1


def check_labels(values: np.ndarray, lines: np.ndarray, where: str) -> np.ndarray:
  """The label column as int64 ids; raises for the first one that is not an integer in 0..12."""
  label = values[:, layout.LABEL_COLUMN]
  highest = len(layout.CLASS_NAMES)
  with np.errstate(invalid='ignore'):
    bad = ~np.isfinite(label) | (label != np.round(label)) | (label < 0) | (label > highest)
  if bad.any():
    index = int(np.argmax(bad))
    raise MalformedFileError(
      f'{where}: line {int(lines[index])}, column {layout.LABEL_COLUMN + 1} (label): '
      f'{label[index]:g} is not an activity id; expected an integer in 0..{highest} '
      f'(0 = null, {", ".join(f"{i + 1} = {n}" for i, n in enumerate(layout.CLASS_NAMES))})'
    )
  return label.astype(np.int64)


# --------------------------------------------------------------------------------------------
# One subject in the builder's feature layout.
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(kw_only=True)
class SubjectReport:
  """What one file held, for the build log."""

  subject: int
  rows: int
  null_rows: int
  missing: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
  gyro: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)

  def summary(self) -> str:
    missing = ','.join(f'{k}:{v}' for k, v in sorted(self.missing.items())) or 'none'
    return (
      f'subject {self.subject}: {self.rows} rows ({self.null_rows} null); missing samples '
      f'per site: {missing}'
    )


def gyro_magnitude_check(gyro_file_units: np.ndarray, labels: np.ndarray) -> dict[str, float]:
  """The unit test a real file needs: |w| in file units when still and when running.

  Returns `still_median` (classes 1-3) and `running_p99` (class 11); NaN where the class is
  absent. In deg/s a still sensor reads a few units and a running ankle hundreds; in rad/s a
  running ankle reads ~5-15 (`mhealth_layout`'s docstring).
  """
  magnitude = np.linalg.norm(gyro_file_units, axis=-1)
  finite = np.isfinite(magnitude)
  still = finite & (labels >= 1) & (labels <= 3)
  running = finite & (labels == layout.CLASS_NAMES.index('Running') + 1)
  return {
    'still_median': float(np.median(magnitude[still])) if still.any() else float('nan'),
    'running_p99': float(np.percentile(magnitude[running], 99)) if running.any() else float('nan'),
  }


def to_example(subject: int, values: np.ndarray, labels: np.ndarray):
  """(example, report): the builder's features of one subject in the project's units."""
  count = values.shape[0]
  num_sites = len(layout.SITES)
  imu = np.full((count, num_sites, 6), np.nan, np.float32)
  report = SubjectReport(
    subject=subject, rows=count, null_rows=int((labels == layout.NULL_LABEL).sum())
  )
  for site, name in enumerate(layout.SITES):
    imu[:, site, :3] = values[:, layout.ACC_COLUMNS[site]] * layout.ACC_UNIT_TO_M_S2
    gyro_columns = layout.GYRO_COLUMNS[site]
    if gyro_columns is not None:
      gyro = values[:, gyro_columns]
      imu[:, site, 3:] = gyro * layout.GYRO_UNIT_TO_RAD_S
      report.gyro[name] = gyro_magnitude_check(gyro, labels)
  finite = np.isfinite(imu)
  acc_present = finite[..., :3].all(axis=-1)
  present = finite.all(axis=-1)
  for site, name in enumerate(layout.SITES):
    if layout.GYRO_COLUMNS[site] is not None:
      report.missing[name] += int((~present[:, site]).sum())
    else:
      report.missing[f'{name}_acc'] += int((~acc_present[:, site]).sum())
  mag = np.stack([values[:, columns] for columns in layout.MAG_COLUMNS], axis=1)
  report.missing['mag'] += int((~np.isfinite(mag)).any(axis=-1).sum())
  ecg = values[:, list(layout.ECG_COLUMNS)]
  report.missing['ecg'] += int((~np.isfinite(ecg)).any(axis=-1).sum())
  example = {
    'subject': np.int32(subject),
    'imu': imu,
    'present': present,
    'acc_present': acc_present,
    'mag': mag.astype(np.float32),
    'ecg': ecg.astype(np.float32),
    'label': labels,
  }
  return example, report


def read_subject(source: Source, subject: int):
  """Parses, validates and converts one subject's file: (example, report)."""
  where = source.subjects()[subject]
  values, lines = parse_log(source.read(subject), where)
  labels = check_labels(values, lines, where)
  return to_example(subject, values, labels)
