"""Finds, validates and converts `MyoGym.mat` (`mujo_jax.facts.myogym_layout`).

Everything that can be wrong with the file is checked here, before the builder writes anything,
and each problem raises one `MyoGymFormatError` naming the file, the variable, the row (1-based,
as MATLAB and the readme count) and the expected value. What is legitimately imperfect is
repaired or masked and counted in `PersonReport`: buffered duplicate rows are dropped (the rule
is in `myogym_layout`), non-finite IMU values make the sample absent (`present` False).
"""

from __future__ import annotations

import collections
import dataclasses
import io
import math
import os
import pathlib
import zipfile

import numpy as np
import scipy.io

from mujo_jax.facts import myogym_layout as layout


class MyoGymFormatError(ValueError):
  """The file does not have the published MyoGym layout."""


@dataclasses.dataclass(frozen=True)
class Source:
  """Where `MyoGym.mat` is: a path on disk, or a member of a zip archive read in place."""

  path: pathlib.Path
  member: str | None = None

  def describe(self) -> str:
    return f'{self.path}:{self.member}' if self.member else str(self.path)

  def open_bytes(self) -> io.BytesIO | pathlib.Path:
    if self.member is None:
      return self.path
    with zipfile.ZipFile(self.path) as archive:
      return io.BytesIO(archive.read(self.member))


def find_source(manual_dir: str | os.PathLike[str]) -> Source:
  """`MyoGym.mat` anywhere below `manual_dir`, or inside a zip archive there (read in place)."""
  root = pathlib.Path(manual_dir)
  if not root.is_dir():
    raise FileNotFoundError(f'MyoGym: manual_dir {root} is not a directory')
  found = sorted(p for p in root.rglob(layout.FILE_NAME) if p.is_file())
  if found:
    return Source(found[0])
  for archive in sorted(root.rglob('*.zip')):
    try:
      with zipfile.ZipFile(archive) as handle:
        members = [
          m
          for m in handle.namelist()
          if m.rsplit('/', 1)[-1] == layout.FILE_NAME and not m.startswith('__MACOSX/')
        ]
    except zipfile.BadZipFile as error:
      raise MyoGymFormatError(f'{archive}: not a readable zip archive ({error})') from None
    if members:
      return Source(archive, sorted(members)[0])
  raise FileNotFoundError(
    f'MyoGym: no {layout.FILE_NAME} in {root} (nor in a .zip there); download it from the '
    "authors' page (see the builder's MANUAL_DOWNLOAD_INSTRUCTIONS) and put it in manual_dir"
  )


@dataclasses.dataclass
class PersonReport:
  """What was repaired or masked in one person's rows (logged by the builder)."""

  person: int
  file_rows: int = 0
  duplicate_rows: int = 0
  absent_samples: int = 0
  time_backward_steps: int = 0
  row_blocks: int = 0
  labels: collections.Counter[int] = dataclasses.field(default_factory=collections.Counter)

  def summary(self) -> str:
    null = self.labels.get(0, 0)
    kept = sum(self.labels.values())
    return (
      f'person {self.person}: {self.file_rows} rows in the file, {self.duplicate_rows} buffered '
      f'duplicates dropped, {kept} samples ({null} NULL), {self.absent_samples} absent '
      f'(non-finite IMU), {self.time_backward_steps} backward acc-timestamp steps, '
      f'{self.row_blocks} block(s) of rows'
    )


@dataclasses.dataclass(frozen=True)
class Person:
  """One person's IMU stream in project units at 50 Hz (after the duplicate rule)."""

  subject: int
  imu: np.ndarray  # (T, 1, 6) float32: acc m/s^2 (specific force incl. gravity), gyr rad/s.
  present: np.ndarray  # (T, 1) bool
  label: np.ndarray  # (T,) int64 into layout.LABEL_NAMES (0 = NULL)
  acc_time: np.ndarray  # (T,) float64: the file's acc timestamps (opaque, probably us)
  report: PersonReport


@dataclasses.dataclass(frozen=True)
class UnitEvidence:
  """The checks behind g and deg/s, over every finite IMU value of the file."""

  acc_on_grid: float  # share of acc values that are multiples of 1/2048 g
  gyro_on_grid: float  # share of gyro values that are multiples of 1/16 deg/s
  acc_median_norm: float  # median |a| in file units (g expects ~1)


def _load(source: Source) -> dict[str, np.ndarray]:
  name = source.describe()
  handle = source.open_bytes()
  try:
    data = scipy.io.loadmat(
      handle, variable_names=[layout.RAW_VARIABLE, layout.LABELS_VARIABLE], squeeze_me=False
    )
  except NotImplementedError as error:  # scipy's answer to v7.3 (HDF5) files
    raise MyoGymFormatError(
      f'{name}: {error}; expected the published MATLAB v5 file (re-save with save -v7)'
    ) from None
  except Exception as error:
    raise MyoGymFormatError(
      f'{name}: cannot be read as a MATLAB v5 file ({type(error).__name__}: {error}); is it '
      'truncated or not the published MyoGym.mat?'
    ) from None
  for variable, columns in (
    (layout.RAW_VARIABLE, layout.NUM_COLUMNS),
    (layout.LABELS_VARIABLE, layout.NUM_LABEL_COLUMNS),
  ):
    if variable not in data:
      present = sorted(k for k in data if not k.startswith('__'))
      raise MyoGymFormatError(
        f'{name}: no variable {variable!r} (found {present}); expected {layout.RAW_VARIABLE} '
        f'(N x {layout.NUM_COLUMNS}) and {layout.LABELS_VARIABLE} (N x 2)'
      )
    value = data[variable]
    if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.number):
      kind = getattr(value, 'dtype', type(value).__name__)
      raise MyoGymFormatError(
        f'{name}: variable {variable} holds non-numeric cells (dtype {kind}); expected a '
        f'numeric N x {columns} matrix'
      )
    if value.ndim != 2 or value.shape[1] != columns:
      raise MyoGymFormatError(
        f'{name}: variable {variable} has shape {value.shape}; expected N x {columns} columns'
      )
  raw, labels = data[layout.RAW_VARIABLE], data[layout.LABELS_VARIABLE]
  if len(raw) != len(labels):
    raise MyoGymFormatError(
      f'{name}: {layout.RAW_VARIABLE} has {len(raw)} rows but {layout.LABELS_VARIABLE} has '
      f'{len(labels)}; expected one label row per sample (truncated?)'
    )
  if not len(raw):
    raise MyoGymFormatError(f'{name}: {layout.RAW_VARIABLE} has no rows')
  return {'raw': raw, 'labels': labels}


def _check_labels(name: str, labels: np.ndarray) -> np.ndarray:
  """(N, 2) int64 after checking every id; raises at the first bad row."""
  for column, what, valid in (
    (layout.EXERCISE_COLUMN, 'exercise id', layout.FILE_LABEL_IDS),
    (layout.PERSON_COLUMN, 'person id', frozenset(layout.SUBJECTS)),
  ):
    values = labels[:, column].astype(np.float64)
    with np.errstate(invalid='ignore'):
      ok = np.isfinite(values) & (values == np.round(values))
      ok &= np.isin(np.where(ok, values, -1), sorted(valid))
    if not ok.all():
      row = int(np.flatnonzero(~ok)[0])
      expected = '1..30 or 99 (NULL)' if column == layout.EXERCISE_COLUMN else '1..10'
      raise MyoGymFormatError(
        f'{name}: {layout.LABELS_VARIABLE} row {row + 1} column {column + 1} ({what}) is '
        f'{_cell(values[row])}; expected {expected}'
      )
  out = labels.astype(np.int64)
  missing = sorted(set(layout.SUBJECTS) - set(np.unique(out[:, layout.PERSON_COLUMN]).tolist()))
  if missing:
    raise MyoGymFormatError(
      f'{name}: persons {missing} have no row in {layout.LABELS_VARIABLE} column 2; expected '
      'rows of every person 1..10 (is this the whole published file?)'
    )
  return out


def _cell(value: float) -> str:
  """A cell as MATLAB shows it: 31 rather than 31.0, nan, 3.5."""
  value = float(value)
  return str(int(value)) if math.isfinite(value) and value == round(value) else str(value)


def _on_grid(values: np.ndarray, step: float) -> float:
  values = values[np.isfinite(values)]
  if not values.size:
    return float('nan')
  units = values / step
  return float(np.mean(np.abs(units - np.round(units)) < 1e-6))


def read(source: Source) -> tuple[list[Person], UnitEvidence]:
  """Every person's stream (ids 1..10), validated and converted; raises on a malformed file."""
  name = source.describe()
  loaded = _load(source)
  raw = np.asarray(loaded['raw'], np.float64)
  labels = _check_labels(name, loaded['labels'])
  acc = raw[:, list(layout.ACC_COLUMNS)]
  gyro = raw[:, list(layout.GYRO_COLUMNS)]
  finite_acc = np.isfinite(acc).all(axis=1)
  evidence = UnitEvidence(
    acc_on_grid=_on_grid(acc, layout.ACC_LSB_G),
    gyro_on_grid=_on_grid(gyro, layout.GYRO_LSB_DEG_S),
    acc_median_norm=float(np.median(np.linalg.norm(acc[finite_acc], axis=1)))
    if finite_acc.any()
    else float('nan'),
  )
  people = []
  for subject in layout.SUBJECTS:
    rows = np.flatnonzero(labels[:, layout.PERSON_COLUMN] == subject)
    report = PersonReport(person=subject, file_rows=len(rows))
    report.row_blocks = int(1 + np.count_nonzero(np.diff(rows) != 1))
    key = np.concatenate(
      [raw[rows][:, list(layout.DUPLICATE_KEY_COLUMNS)], labels[rows].astype(np.float64)], axis=1
    )
    duplicate = np.concatenate([[False], (key[1:] == key[:-1]).all(axis=1)])
    report.duplicate_rows = int(duplicate.sum())
    rows = rows[~duplicate]
    acc_time = raw[rows, layout.ACC_TIME_COLUMN]
    with np.errstate(invalid='ignore'):
      report.time_backward_steps = int(np.count_nonzero(np.diff(acc_time) < 0))
    imu = np.concatenate(
      [
        raw[rows][:, list(layout.ACC_COLUMNS)] * layout.ACC_G_TO_M_S2,
        raw[rows][:, list(layout.GYRO_COLUMNS)] * layout.GYRO_DEG_S_TO_RAD_S,
      ],
      axis=1,
    )
    present = np.isfinite(imu).all(axis=1)
    imu[~present] = 0.0  # never read: `present` is False there
    report.absent_samples = int((~present).sum())
    label = _stored_labels(labels[rows, layout.EXERCISE_COLUMN])
    counts = np.bincount(label, minlength=len(layout.LABEL_NAMES))
    report.labels.update({i: int(c) for i, c in enumerate(counts) if c})
    people.append(
      Person(
        subject=subject,
        imu=imu[:, None, :].astype(np.float32),
        present=present[:, None],
        label=label,
        acc_time=acc_time.astype(np.float64),
        report=report,
      )
    )
  return people, evidence


def _stored_labels(file_ids: np.ndarray) -> np.ndarray:
  """Vectorised `layout.stored_label` (ids already validated)."""
  return np.where(file_ids == layout.NULL_ID, 0, file_ids).astype(np.int64)
