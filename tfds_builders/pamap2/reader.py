"""Finds, parses and validates PAMAP2's `.dat` files (`mujo_jax.facts.pamap2_layout`).

Speed. A subject file is ~170 MB of text (3.85 M lines in the archive); `np.loadtxt` needs
minutes for that. Files are parsed by `pyarrow.csv` (multi-threaded C++), which the base install
already has: `tensorflow-datasets` and `apache-beam`, both pinned in `pyproject.toml`, require
`pyarrow`. pandas is not needed.

Errors. A malformed file raises one `MalformedFileError` naming the file, the 1-based line and
what was expected there: a line without exactly 54 space-separated fields (a truncated last
line included), a cell that is neither a number nor `NaN`, a non-finite or non-increasing
timestamp, an activityID that is not an integer of the documented set. pyarrow reports neither
line nor file, so when it rejects a file the text is scanned again line by line (slow, but only
on the way to an error) to find the first offending line.

Missing data. `NaN` in a used column (the ±16 g accelerometer and the gyroscope of an IMU) means
the sample was not received: that IMU is not present on that line (`present` False, `imu` NaN),
never zero-filled. A timestamp step of more than one sample inserts missing samples (label -1)
so that the stream stays uniform at 100 Hz. Both are counted in `FileReport`.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import os
import zipfile
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pa_compute
import pyarrow.csv as pa_csv

from mujo_jax.facts import pamap2_layout as layout


class MalformedFileError(ValueError):
  """A PAMAP2 file contradicts the documented layout; the message names file and line."""


# --------------------------------------------------------------------------------------------
# Where the files are: a folder, PAMAP2_Dataset.zip, or UCI's zip around it.
# --------------------------------------------------------------------------------------------

Key = tuple[str, int]  # (session, subject)


class Source:
  """The `Protocol/` and `Optional/` files of PAMAP2, on disk or in a zip archive."""

  def files(self) -> dict[Key, str]:
    """(session, subject) -> a description of where the file is (for messages)."""
    raise NotImplementedError

  def has_session(self, session: str) -> bool:
    raise NotImplementedError

  def read(self, key: Key) -> bytes:
    raise NotImplementedError

  def expected_path(self, key: Key) -> str:
    raise NotImplementedError


def _session_of_folder(name: str) -> str | None:
  for session, folder in layout.SESSION_FOLDERS.items():
    if name == folder:
      return session
  return None


class FolderSource(Source):
  """`root/Protocol/subject1NN.dat` and `root/Optional/subject1NN.dat`."""

  def __init__(self, root: str | os.PathLike[str]):
    self.root = os.fspath(root)

  def files(self) -> dict[Key, str]:
    found = {}
    for session, folder in layout.SESSION_FOLDERS.items():
      path = os.path.join(self.root, folder)
      if not os.path.isdir(path):
        continue
      for name in sorted(os.listdir(path)):
        subject = layout.subject_of_file(name)
        if subject is not None:
          found[(session, subject)] = os.path.join(path, name)
    return found

  def has_session(self, session: str) -> bool:
    return os.path.isdir(os.path.join(self.root, layout.SESSION_FOLDERS[session]))

  def read(self, key: Key) -> bytes:
    with open(self.files()[key], 'rb') as handle:
      return handle.read()

  def expected_path(self, key: Key) -> str:
    session, subject = key
    return os.path.join(self.root, layout.SESSION_FOLDERS[session], layout.data_file(subject))


class ZipSource(Source):
  """Members `[prefix/]{Protocol,Optional}/subject1NN.dat`, read without extracting.

  UCI serves `pamap2+physical+activity+monitoring.zip`, which holds `PAMAP2_Dataset.zip`: an
  archive without such members but with an inner `*.zip` member is opened through it.
  """

  def __init__(self, path: str | os.PathLike[str], handle: BinaryIO | None = None):
    self.path = os.fspath(path)
    self._zip = zipfile.ZipFile(handle if handle is not None else self.path)
    self._members: dict[Key, zipfile.ZipInfo] = {}
    self._sessions: set[str] = set()
    self._prefix = ''
    for info in self._zip.infolist():
      parts = info.filename.rstrip('/').split('/')
      for depth, part in enumerate(parts):
        session = _session_of_folder(part)
        if session is None:
          continue
        self._sessions.add(session)
        self._prefix = '/'.join(parts[:depth])
        if depth == len(parts) - 2 and not info.is_dir():
          subject = layout.subject_of_file(parts[-1])
          if subject is not None:
            self._members[(session, subject)] = info
    self.inner: ZipSource | None = None
    if not self._members:
      inner = [i for i in self._zip.infolist() if i.filename.lower().endswith('.zip')]
      if len(inner) == 1:
        self.inner = ZipSource(f'{self.path}:{inner[0].filename}', self._zip.open(inner[0]))
      else:
        raise FileNotFoundError(
          f'{self.path}: no member [PAMAP2_Dataset/]Protocol/subject1NN.dat and no single inner '
          f'zip; first members: {[i.filename for i in self._zip.infolist()[:8]]}'
        )

  def files(self) -> dict[Key, str]:
    if self.inner:
      return self.inner.files()
    return {key: f'{self.path}:{info.filename}' for key, info in self._members.items()}

  def has_session(self, session: str) -> bool:
    return self.inner.has_session(session) if self.inner else session in self._sessions

  def read(self, key: Key) -> bytes:
    if self.inner:
      return self.inner.read(key)
    return self._zip.read(self._members[key])

  def expected_path(self, key: Key) -> str:
    if self.inner:
      return self.inner.expected_path(key)
    session, subject = key
    parts = [self._prefix] if self._prefix else []
    member = '/'.join([*parts, layout.SESSION_FOLDERS[session], layout.data_file(subject)])
    return f'{self.path}:{member}'


def find_source(manual_dir: str | os.PathLike[str]) -> Source:
  """PAMAP2 in `manual_dir`: an archive of `ARCHIVE_NAMES`, `PAMAP2_Dataset/`, or the folders.

  Raises:
    FileNotFoundError: none of these is there; the message lists what is.
  """
  manual_dir = os.fspath(manual_dir)
  if not os.path.isdir(manual_dir):
    raise FileNotFoundError(f'PAMAP2 manual_dir {manual_dir!r} is not a directory')
  for name in layout.ARCHIVE_NAMES:
    path = os.path.join(manual_dir, name)
    if os.path.isfile(path):
      return ZipSource(path)
  for root in (os.path.join(manual_dir, layout.TOP_FOLDER), manual_dir):
    if os.path.isdir(os.path.join(root, layout.SESSION_FOLDERS['protocol'])):
      return FolderSource(root)
  raise FileNotFoundError(
    f'PAMAP2 not found in {manual_dir!r}: expected one of {list(layout.ARCHIVE_NAMES)}, a '
    f'{layout.TOP_FOLDER}/ folder, or Protocol/ (and Optional/) folders; found '
    f'{sorted(os.listdir(manual_dir))[:20]}'
  )


# --------------------------------------------------------------------------------------------
# One file.
# --------------------------------------------------------------------------------------------

_USED_COLUMNS = {
  imu: layout.imu_columns(imu, layout.OFFSET_ACC16) + layout.imu_columns(imu, layout.OFFSET_GYR)
  for imu in layout.IMUS
}


@dataclasses.dataclass(kw_only=True)
class FileReport:
  """What was missing in one file (for the build log)."""

  where: str
  lines: int = 0
  gap_samples: int = 0  # Samples inserted where the timestamp jumps by more than 10 ms.
  missing_samples: dict[str, int] = dataclasses.field(default_factory=dict)  # Per IMU.
  heart_rate_samples: int = 0
  transient_samples: int = 0

  def summary(self) -> str:
    missing = ','.join(f'{imu}:{count}' for imu, count in self.missing_samples.items())
    return (
      f'{self.where}: {self.lines} lines, missing IMU samples {missing}, timestamp-gap samples '
      f'{self.gap_samples}, heart-rate samples {self.heart_rate_samples}, transient (label -1) '
      f'samples {self.transient_samples}'
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class Recording:
  """One file on the uniform 100 Hz grid, IMUs in `layout.IMUS` order."""

  session: str
  subject: int
  start_s: float
  imu: np.ndarray  # (T, 3, 6) float32: acc ±16 g m/s², gyr rad/s; NaN where not present.
  present: np.ndarray  # (T, 3) bool
  label: np.ndarray  # (T,) int32: class index of `layout.CLASS_NAMES`, -1 = none.
  activity_id: np.ndarray  # (T,) int32: the file's activityID, -1 in timestamp gaps.
  heart_rate: np.ndarray  # (T,) float32 bpm, NaN between heart-rate samples.


def _first_bad_line(data: bytes, where: str, num_fields: int) -> MalformedFileError | None:
  """Scans `data` for the first line that is not `num_fields` numbers (or NaN)."""
  for number, line in enumerate(io.BytesIO(data), start=1):
    text = line.rstrip(b'\r\n')
    fields = text.split(b' ')
    if num_fields == layout.NUM_COLUMNS + 1 and fields and fields[-1] == b'':
      fields = fields[:-1]
    if len(fields) != layout.NUM_COLUMNS:
      ending = '' if line.endswith(b'\n') else ' (the last line, without a newline: truncated?)'
      return MalformedFileError(
        f'{where} line {number}: {len(fields)} fields{ending}; expected '
        f'{layout.NUM_COLUMNS} space-separated numbers (timestamp, activityID, heart rate, '
        f'3 x 17 IMU columns); the line starts {text[:60]!r}'
      )
    for column, field in enumerate(fields, start=1):
      try:
        float(field)
      except ValueError:
        return MalformedFileError(
          f'{where} line {number} column {column}: {field.decode(errors="replace")!r} is not '
          'a number; expected a decimal number or NaN'
        )
  return None


def _parse(data: bytes, where: str) -> np.ndarray:
  """(lines, 54) float64 with NaN, or a `MalformedFileError` naming the line."""
  if not data.strip():
    raise MalformedFileError(
      f'{where} line 1: the file is empty; expected lines of {layout.NUM_COLUMNS} numbers'
    )
  first_line = data[: data.find(b'\n')] if b'\n' in data else data
  # A trailing space would read as an empty 55th field; accept it if every line has one.
  num_fields = layout.NUM_COLUMNS + int(first_line.rstrip(b'\r').endswith(b' '))
  names = [f'c{i}' for i in range(num_fields)]
  types = {name: pa.float64() for name in names[: layout.NUM_COLUMNS]}
  if num_fields > layout.NUM_COLUMNS:
    types[names[-1]] = pa.string()
  try:
    table = pa_csv.read_csv(
      pa.BufferReader(data),
      read_options=pa_csv.ReadOptions(column_names=names, block_size=16 << 20),
      parse_options=pa_csv.ParseOptions(delimiter=' ', quote_char=False, ignore_empty_lines=False),
      convert_options=pa_csv.ConvertOptions(
        column_types=types, null_values=['NaN'], strings_can_be_null=False
      ),
    )
  except pa.ArrowInvalid as error:
    located = _first_bad_line(data, where, num_fields)
    if located is not None:
      raise located from None
    raise MalformedFileError(f'{where}: not PAMAP2 text ({error})') from None
  if num_fields > layout.NUM_COLUMNS:
    extra = table.column(names[-1])
    nonempty = np.flatnonzero(np.asarray(pa_compute.not_equal(extra, '').to_numpy(False)))
    if nonempty.size:
      line = int(nonempty[0]) + 1
      raise MalformedFileError(
        f'{where} line {line}: {layout.NUM_COLUMNS + 1} fields; expected {layout.NUM_COLUMNS}'
      )
  columns = [
    table.column(i).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    for i in range(layout.NUM_COLUMNS)
  ]
  return np.stack(columns, axis=1)


def _check_finite_numbers(values: np.ndarray, where: str) -> None:
  infinite = np.isinf(values)
  if infinite.any():
    line, column = (int(v) for v in np.argwhere(infinite)[0])
    raise MalformedFileError(
      f'{where} line {line + 1} column {column + 1}: {values[line, column]}; expected a finite '
      'number or NaN'
    )


def parse_file(data: bytes, where: str, session: str, subject: int) -> tuple[Recording, FileReport]:
  """Parses and validates one file's bytes; `where` names it in every error."""
  values = _parse(data, where)
  _check_finite_numbers(values, where)
  report = FileReport(where=where, lines=len(values))

  timestamps = values[:, layout.COLUMN_TIMESTAMP]
  if np.isnan(timestamps).any():
    line = int(np.flatnonzero(np.isnan(timestamps))[0]) + 1
    raise MalformedFileError(f'{where} line {line}: timestamp is NaN; expected seconds')
  step = np.round((timestamps - timestamps[0]) * layout.RATE_HZ).astype(np.int64)
  backwards = np.flatnonzero(np.diff(step) <= 0)
  if backwards.size:
    line = int(backwards[0]) + 2
    raise MalformedFileError(
      f'{where} line {line}: timestamp {timestamps[line - 1]} s after {timestamps[line - 2]} s; '
      f'expected increasing timestamps {1 / layout.RATE_HZ} s apart'
    )

  activity = values[:, layout.COLUMN_ACTIVITY]
  known = np.isin(activity, sorted(layout.KNOWN_ACTIVITY_IDS))
  if not known.all():
    line = int(np.flatnonzero(~known)[0]) + 1
    raise MalformedFileError(
      f'{where} line {line}: activityID {activity[line - 1]}; expected one of '
      f'{sorted(layout.KNOWN_ACTIVITY_IDS)}'
    )

  length = int(step[-1]) + 1
  report.gap_samples = length - len(values)
  imu = np.full((length, len(layout.IMUS), 6), np.nan, np.float32)
  present = np.zeros((length, len(layout.IMUS)), bool)
  for index, name in enumerate(layout.IMUS):
    block = values[:, _USED_COLUMNS[name]]
    measured = ~np.isnan(block).any(axis=1)
    imu[step, index] = block
    imu[step[~measured], index] = np.nan
    present[step, index] = measured
    report.missing_samples[name] = int(length - measured.sum())
  activity_id = np.full(length, -1, np.int32)
  activity_id[step] = activity.astype(np.int32)
  lookup = np.full(max(layout.KNOWN_ACTIVITY_IDS) + 2, -1, np.int32)
  for activity_value, class_index in layout.CLASS_OF_ACTIVITY.items():
    lookup[activity_value] = class_index
  label = lookup[activity_id]  # -1 (gap) indexes the last entry, -1 too.
  heart_rate = np.full(length, np.nan, np.float32)
  heart_rate[step] = values[:, layout.COLUMN_HEART_RATE]
  report.heart_rate_samples = int(np.isfinite(heart_rate).sum())
  report.transient_samples = int(np.sum(activity_id == layout.TRANSIENT_ACTIVITY))
  recording = Recording(
    session=session,
    subject=subject,
    start_s=float(timestamps[0]),
    imu=imu,
    present=present,
    label=label,
    activity_id=activity_id,
    heart_rate=heart_rate,
  )
  return recording, report


def read_all(source: Source) -> tuple[dict[str, list[Recording]], list[FileReport], list[str]]:
  """Reads and validates every expected file of every session the source has.

  Returns (recordings per session in subject order, reports, notes for the log). Raises on the
  first missing or malformed file, before anything is written.
  """
  files = source.files()
  notes = []
  unexpected = sorted(k for k in files if k[1] not in layout.expected_subjects(k[0]))
  if unexpected:
    notes.append(f'ignoring files outside the released subjects: {unexpected}')
  missing = [
    source.expected_path((session, subject))
    for session in layout.SESSIONS
    if source.has_session(session)
    for subject in layout.expected_subjects(session)
    if (session, subject) not in files
  ]
  if missing:
    raise FileNotFoundError(
      f'PAMAP2: {len(missing)} subject file(s) missing: {missing}; expected every subject of '
      f'each session folder (Protocol: {list(layout.SUBJECTS)}, Optional: '
      f'{list(layout.OPTIONAL_SUBJECTS)})'
    )
  if not source.has_session('optional'):
    notes.append('no Optional/ folder: the optional split is not generated')
  recordings: dict[str, list[Recording]] = collections.defaultdict(list)
  reports = []
  for session in layout.SESSIONS:
    if not source.has_session(session):
      continue
    for subject in layout.expected_subjects(session):
      key = (session, subject)
      recording, report = parse_file(source.read(key), files[key], session, subject)
      recordings[session].append(recording)
      reports.append(report)
  return dict(recordings), reports, notes
