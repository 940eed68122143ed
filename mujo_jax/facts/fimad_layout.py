"""The FiMAD manual directory: where each file lives, what it holds, and how to read it.

This module is the one definition of the layout (`tfds_builders/fimad/README.md` documents it
for users). The TFDS builder reads it and the synthetic writer (`mujo_jax.synthesis.
fimad_writer`) writes it, so the two cannot drift apart. Every reader checks shapes, dtypes,
finiteness and units (`facts.units`: acc in m/s² with gravity, gyro in rad/s, pose in metres) and
raises `CorruptClipError` naming the clip and the file: one bad file among ten thousand must be
findable from the message alone. Clip ids become file names, so an id with a path separator or
`..` is refused before any path is built from it.

Time convention: sample `i` of a stream at rate `r` lies at `i / r` seconds from the start of
the clip, for every stream of the clip. Streams of one clip therefore align by time, whatever
their rates and lengths.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mujo_jax.facts import units

# ---------------------------------------------------------------- file names

SPLIT_FILE = 'train_val_split.json'
LANGUAGE_FILE = 'language_data.json'
POSE_DIR = 'pose'
IMU_DIR = 'imu'
VIDEO_FEATURES_DIR = 'video_features'
VIDEO_FRAMES_DIR = 'video_frames'
META_DIR = 'meta'

# Keys of `train_val_split.json` (the authors' file) -> TFDS split names.
SPLIT_KEYS = {'train': 'train', 'val': 'validation'}
# Keys of `meta/<clip_id>.json`.
META_POSE_FPS = 'pose_fps'
META_IMU_RATE = 'imu_rate_hz'
META_IMU_SITES = 'imu_sites'
META_FEATURE_RATE = 'video_feature_rate_hz'
META_FRAME_RATE = 'video_fps'
META_LABEL = 'label'

# Field names of one `language_data.json` entry, with the spellings we accept for each: the
# authors describe the fields ("chapter, normalized chapters, subtitles, and descriptions") but
# the file itself is only given on request, so we accept singular/plural and both spellings.
LANGUAGE_FIELDS: dict[str, tuple[str, ...]] = {
  'chapter': ('chapter', 'chapters', 'chapter_title', 'title'),
  'normalized_chapter': (
    'normalized_chapter',
    'normalized_chapters',
    'normalised_chapter',
    'normalised_chapters',
    'normalized_title',
  ),
  'subtitles': ('subtitles', 'subtitle', 'captions'),
  'descriptions': ('descriptions', 'description', 'gpt_descriptions'),
}

NUM_POSE_JOINTS = 17  # Human3.6M-17 (`skeleton.H36M_JOINTS`).
IMU_CHANNELS = 6  # acc xyz (m/s², specific force incl. gravity), gyr xyz (rad/s).

_CLIP_ID = re.compile(r'^(?P<video>.+)___(?P<chapter>\d+)$')


class CorruptClipError(ValueError):
  """A file of a clip exists but cannot be read or holds the wrong thing."""

  def __init__(self, clip_id: str, path: Path | str, problem: str):
    super().__init__(f'FiMAD clip {clip_id!r}: file {str(path)!r}: {problem}')
    self.clip_id = clip_id
    self.path = str(path)


# ---------------------------------------------------------------- ids and splits


def _json_object(path: Path, what: str, expected: str) -> dict:
  """The JSON object in `path`; one clear line naming the file when it is not one."""
  try:
    raw = json.loads(path.read_text(encoding='utf-8'))
  except (json.JSONDecodeError, UnicodeDecodeError) as error:
    raise ValueError(f'FiMAD {what} {str(path)!r} is not valid JSON: {error}') from None
  if not isinstance(raw, dict):
    raise ValueError(
      f'FiMAD {what} {str(path)!r}: expected a JSON object {expected}, got {type(raw).__name__}'
    )
  return raw


def video_id(clip_id: str) -> str:
  """`'<youtubeID>___<chapter>'` -> `'<youtubeID>'` (YouTube ids may contain `_` and `-`).

  The authors' split also lists two ids without `___` (`sit-ups_1`, `sit-ups_2`); such an id
  names no YouTube video we can tell apart, so it is its own video id.
  """
  match = _CLIP_ID.match(clip_id)
  return clip_id if match is None else match.group('video')


def check_clip_id(clip_id: object, where: str) -> None:
  """A clip id must be usable as a file name: a non-empty string without path separators."""
  if (
    not isinstance(clip_id, str)
    or not clip_id.strip()
    or clip_id in ('.', '..')
    or any(c in clip_id for c in '/\\\0')
  ):
    raise ValueError(
      f'{where}: clip id {clip_id!r} is not a file-name-safe string (expected '
      '"<youtubeID>___<chapterIndex>")'
    )


def read_split_file(path: Path | str) -> dict[str, list[str]]:
  """Reads `train_val_split.json` into `{'train': [...], 'validation': [...]}`.

  Raises:
    FileNotFoundError: the file is absent.
    ValueError: not JSON, a split key missing, an id that cannot be a file name, or a clip
      listed in both splits.
  """
  path = Path(path)
  if not path.is_file():
    raise FileNotFoundError(
      f'FiMAD split file {str(path)!r} does not exist; expected the '
      f'authors\' {SPLIT_FILE} ({{"train": [clip ids], "val": [...]}})'
    )
  raw = _json_object(path, 'split file', f'with keys {sorted(SPLIT_KEYS)}')
  splits = {}
  for key, split in SPLIT_KEYS.items():
    ids = raw.get(key, raw.get(split))
    if not isinstance(ids, list):
      raise ValueError(
        f'FiMAD split file {str(path)!r}: expected a list of clip ids under '
        f'{key!r}, got {type(ids).__name__} (keys present: {sorted(raw)})'
      )
    for clip_id in ids:
      check_clip_id(clip_id, f'FiMAD split file {str(path)!r}, split {key!r}')
    splits[split] = list(dict.fromkeys(ids))  # Drop duplicates, keep order.
  both = set(splits['train']) & set(splits['validation'])
  if both:
    raise ValueError(
      f'FiMAD split file {str(path)!r}: {len(both)} clip ids are in both splits, '
      f'e.g. {sorted(both)[:3]}'
    )
  return splits


# ---------------------------------------------------------------- language data


def _as_text_list(value: Any, clip_id: str, field: str, path: Path) -> list[str]:
  """A field given as a string, a list of strings or null -> a list of non-empty strings."""
  if value is None:
    return []
  if isinstance(value, str):
    value = [value]
  if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
    raise CorruptClipError(
      clip_id,
      path,
      f'language field {field!r} must be a string or a list of strings, got {value!r:.80}',
    )
  return [item.strip() for item in value if item.strip()]


def parse_language_entry(entry: Any, clip_id: str, path: Path | str) -> dict[str, Any]:
  """One `language_data.json` entry -> `{chapter: str, normalized_chapter: str,
  subtitles: [str], descriptions: [str]}`; missing fields become '' or []."""
  path = Path(path)
  if entry is None:
    entry = {}
  if not isinstance(entry, dict):
    raise CorruptClipError(
      clip_id, path, f'language entry must be a JSON object, got {type(entry).__name__}'
    )
  fields = {}
  for field, spellings in LANGUAGE_FIELDS.items():
    value = next((entry[key] for key in spellings if key in entry), None)
    fields[field] = _as_text_list(value, clip_id, field, path)
  return {
    # A chapter has one title; a list (e.g. a title per source) is joined.
    'chapter': ' / '.join(fields['chapter']),
    'normalized_chapter': ' / '.join(fields['normalized_chapter']),
    'subtitles': fields['subtitles'],
    'descriptions': fields['descriptions'],
  }


def read_language_file(path: Path | str) -> dict[str, Any]:
  """Reads `language_data.json` (clip id -> entry); an absent file gives `{}`."""
  path = Path(path)
  if not path.exists():
    return {}
  return _json_object(path, 'language file', 'keyed by clip id')


# ---------------------------------------------------------------- per-clip files


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClipPaths:
  """Where the files of one clip live (they need not all exist)."""

  clip_id: str
  pose: Path
  imu: Path
  video_features: Path
  video_frames_npy: Path
  video_frames_mp4: Path
  meta: Path


def clip_paths(manual_dir: Path | str, clip_id: str) -> ClipPaths:
  root = Path(manual_dir)
  # Every path below is built from the id: one with `/` or `..` would leave the directory.
  check_clip_id(clip_id, f'FiMAD manual directory {str(root)!r}')
  return ClipPaths(
    clip_id=clip_id,
    pose=root / POSE_DIR / f'{clip_id}.npy',
    imu=root / IMU_DIR / f'{clip_id}.npy',
    video_features=root / VIDEO_FEATURES_DIR / f'{clip_id}.npy',
    video_frames_npy=root / VIDEO_FRAMES_DIR / f'{clip_id}.npy',
    video_frames_mp4=root / VIDEO_FRAMES_DIR / f'{clip_id}.mp4',
    meta=root / META_DIR / f'{clip_id}.json',
  )


def clips_on_disk(manual_dir: Path | str) -> set[str]:
  """Clip ids that have a pose file (the one modality every clip must have)."""
  pose_dir = Path(manual_dir) / POSE_DIR
  if not pose_dir.is_dir():
    return set()
  return {path.stem for path in pose_dir.glob('*.npy')}


def _load_npy(clip_id: str, path: Path) -> np.ndarray:
  try:
    return np.load(path, allow_pickle=False)
  except (ValueError, OSError, EOFError, pickle.UnpicklingError) as error:
    raise CorruptClipError(clip_id, path, f'cannot be read as .npy: {error}') from None


def _finite_float32(clip_id: str, path: Path, array: np.ndarray, what: str) -> np.ndarray:
  """`array` as float32 once it is checked to be a float array with finite values only."""
  if not np.issubdtype(array.dtype, np.floating):
    raise CorruptClipError(clip_id, path, f'expected float {what}, got dtype {array.dtype}')
  if not np.isfinite(array).all():
    bad = int((~np.isfinite(array)).sum())
    raise CorruptClipError(clip_id, path, f'holds {bad} non-finite values (NaN/inf)')
  return array.astype(np.float32)


def _check_units(clip_id: str, path: Path, check: Any) -> None:
  """Runs a `units` check; data in g, deg/s or mm would build silently and train wrongly."""
  try:
    check()
  except ValueError as error:
    raise CorruptClipError(clip_id, path, str(error)) from None


def read_meta(clip_id: str, path: Path) -> dict[str, Any]:
  try:
    meta = json.loads(path.read_text(encoding='utf-8'))
  except (json.JSONDecodeError, UnicodeDecodeError, OSError) as error:
    raise CorruptClipError(clip_id, path, f'is not valid JSON: {error}') from None
  if not isinstance(meta, dict):
    raise CorruptClipError(clip_id, path, f'expected a JSON object, got {type(meta).__name__}')
  return meta


def meta_rate(clip_id: str, path: Path, meta: Mapping[str, Any], key: str) -> float:
  """A positive rate from the clip's metadata, or an error naming the key."""
  value = meta.get(key)
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
    raise CorruptClipError(
      clip_id,
      path,
      f'needs a positive number under {key!r}, got {value!r} (keys present: {sorted(meta)})',
    )
  return float(value)


def read_pose(clip_id: str, path: Path) -> np.ndarray:
  """`(T, 17, 3)` float32 Human3.6M-17 pose in metres."""
  pose = _load_npy(clip_id, path)
  if pose.ndim != 3 or pose.shape[1:] != (NUM_POSE_JOINTS, 3) or pose.shape[0] < 2:
    raise CorruptClipError(
      clip_id, path, f'expected pose of shape (T>=2, {NUM_POSE_JOINTS}, 3), got {pose.shape}'
    )
  pose = _finite_float32(clip_id, path, pose, 'pose')
  _check_units(clip_id, path, lambda: units.check_pose(pose, 'pose', 'm'))
  return pose


def read_imu(clip_id: str, path: Path, num_sites: int) -> np.ndarray:
  """`(T, num_sites, 6)` float32 IMU (acc xyz then gyr xyz per site)."""
  imu = _load_npy(clip_id, path)
  if imu.ndim != 3 or imu.shape[1:] != (num_sites, IMU_CHANNELS) or imu.shape[0] < 1:
    raise CorruptClipError(
      clip_id,
      path,
      f'expected IMU of shape (T, {num_sites}, '
      f'{IMU_CHANNELS}) (sites as listed in the metadata), got {imu.shape}',
    )
  imu = _finite_float32(clip_id, path, imu, 'IMU')
  _check_units(clip_id, path, lambda: units.check_acc(imu[..., :3], 'IMU'))
  _check_units(clip_id, path, lambda: units.check_gyr(imu[..., 3:], 'IMU'))
  return imu


def read_video_features(clip_id: str, path: Path) -> np.ndarray:
  """`(T, F)` float32 pre-extracted video features."""
  features = _load_npy(clip_id, path)
  if features.ndim != 2 or features.shape[0] < 1 or features.shape[1] < 1:
    raise CorruptClipError(
      clip_id, path, f'expected video features of shape (T, F), got {features.shape}'
    )
  return _finite_float32(clip_id, path, features, 'video features')


def read_video_frames_npy(clip_id: str, path: Path) -> np.ndarray:
  """`(T, H, W, C)` uint8 frames, C in {1, 3}; `(T, H, W)` is read as grayscale."""
  frames = _load_npy(clip_id, path)
  if frames.ndim == 3:
    frames = frames[..., None]
  if frames.ndim != 4 or frames.shape[-1] not in (1, 3) or min(frames.shape[:3]) < 1:
    raise CorruptClipError(
      clip_id, path, f'expected frames of shape (T, H, W) or (T, H, W, 1|3), got {frames.shape}'
    )
  if frames.dtype != np.uint8:
    raise CorruptClipError(clip_id, path, f'expected uint8 frames, got dtype {frames.dtype}')
  return frames


def read_video_frames_mp4(clip_id: str, path: Path) -> tuple[np.ndarray, float]:
  """Decodes an mp4 with the `ffmpeg`/`ffprobe` command line into `(T, H, W, 3)` uint8 + fps."""
  ffmpeg, ffprobe = shutil.which('ffmpeg'), shutil.which('ffprobe')
  if ffmpeg is None or ffprobe is None:
    raise CorruptClipError(
      clip_id,
      path,
      'decoding .mp4 needs the ffmpeg and ffprobe programs on '
      'PATH; install ffmpeg or store the frames as .npy (T, H, W[, C]) uint8',
    )
  probe = subprocess.run(
    [
      ffprobe,
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=width,height,avg_frame_rate',
      '-of',
      'json',
      str(path),
    ],
    capture_output=True,
    text=True,
    check=False,
  )
  try:
    stream = json.loads(probe.stdout)['streams'][0]
    width, height = int(stream['width']), int(stream['height'])
    numerator, denominator = stream['avg_frame_rate'].split('/')
    fps = float(numerator) / float(denominator)
  except (json.JSONDecodeError, KeyError, IndexError, ValueError, ZeroDivisionError):
    raise CorruptClipError(
      clip_id, path, f'ffprobe cannot read a video stream: {probe.stderr.strip()[:300]}'
    ) from None
  decoded = subprocess.run(
    [ffmpeg, '-v', 'error', '-i', str(path), '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
    capture_output=True,
    check=False,
  )
  frame_bytes = width * height * 3
  if decoded.returncode != 0 or not decoded.stdout or len(decoded.stdout) % frame_bytes:
    raise CorruptClipError(
      clip_id,
      path,
      f'ffmpeg cannot decode it: {decoded.stderr.decode(errors="replace").strip()[:300]}',
    )
  frames = np.frombuffer(decoded.stdout, np.uint8).reshape(-1, height, width, 3)
  return frames, fps


# ---------------------------------------------------------------- frame preparation


def to_small_gray(frames: np.ndarray, frame_size: int) -> np.ndarray:
  """`(T, H, W, C)` uint8 -> `(T, frame_size, frame_size, 1)` uint8.

  Centre-crops to a square (so a 16:9 video keeps the person in the middle and its aspect), turns
  RGB into luma (ITU-R BT.601) and area-averages down (or repeats pixels up) to `frame_size`.
  """
  num_frames, height, width, channels = frames.shape
  side = min(height, width)
  top, left = (height - side) // 2, (width - side) // 2
  square = frames[:, top : top + side, left : left + side].astype(np.float32)
  if channels == 3:
    square = square @ np.array([0.299, 0.587, 0.114], np.float32)
  else:
    square = square[..., 0]
  if side != frame_size:
    # Area resampling as a matrix product: each output pixel averages the input pixels whose
    # span overlaps its own, weighted by the overlap.
    edges_in = np.arange(side + 1) / side
    edges_out = np.arange(frame_size + 1) / frame_size
    overlap = np.clip(
      np.minimum(edges_out[1:, None], edges_in[None, 1:])
      - np.maximum(edges_out[:-1, None], edges_in[None, :-1]),
      0.0,
      None,
    )
    weights = (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)
    square = np.einsum('oh,thw,pw->top', weights, square, weights)
  return (
    np.clip(np.rint(square), 0, 255).astype(np.uint8).reshape(num_frames, frame_size, frame_size, 1)
  )
