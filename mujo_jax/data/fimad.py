"""FiMAD for the pretraining pipeline: the built TFDS source and training windows.

FiMAD examples are whole chapter clips, of any length, each stream at its own rate (pose maybe at
the video's 50 fps, IMU at its file's rate, HERO-style features at ~0.67 Hz). A training window
is one time interval cut from every stream at once: streams are first brought to the rates of
the batch schema (`config.data.{imu_rate_hz, pose_fps, video_fps}`; pose and IMU with
`facts.resample.resample`, the resampler `inference.Embedder` applies to users' recordings,
video frames and features by sample-and-hold, since a frame or a feature stands for the
interval it covers), then `windows.random_window` / `centre_window` cut the same seconds
out of each. Sample `i` of a stream at rate `r` lies at `i / r` s from the clip start.

Clips shorter than a window never reach here: the builder skips clips shorter than its
`min_clip_s` and counts them, and `source` refuses a `config.window_s` longer than that, so no
window is ever padded. A record that is nevertheless too short raises, naming the clip.

Text: one description sampled per training window from all descriptions of the clip (the first
one in evaluation); a clip without descriptions falls back to its normalised chapter title, then
its chapter title; a clip with no text at all has `text` absent in `present`. Subtitles (speech
of the video) are kept in the records but not used as the text modality.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ml_collections
import numpy as np
import tensorflow_datasets as tfds

from mujo_jax.data import augment, schema, windows
from mujo_jax.facts import activities, resample
from mujo_jax.facts.sites import FIMAD_SITES
from mujo_jax.facts.tokenizer import ByteTokenizer

BUILDER_NAME = 'fimad'
VIDEO_FORMS = ('features', 'frames')


def check_config(config: ml_collections.ConfigDict) -> None:
  """Rejects a config this dataset cannot serve, before any data is read."""
  data = config.data
  if data.builder_config not in VIDEO_FORMS:
    raise ValueError(
      f'config.data.builder_config={data.builder_config!r}: FiMAD has the builder '
      f'configs {VIDEO_FORMS}'
    )
  if 'video' in config.modalities and config.model.video_input != data.builder_config:
    raise ValueError(
      f'config.model.video_input={config.model.video_input!r} does not match '
      f'config.data.builder_config={data.builder_config!r}: '
      f'FiMAD/{data.builder_config} gives video as {data.builder_config}'
    )
  unknown = [site for site in data.imu_sites if site not in FIMAD_SITES]
  if unknown or not len(data.imu_sites):
    raise ValueError(
      f'config.data.imu_sites={tuple(data.imu_sites)}: FiMAD has the sites '
      f'{FIMAD_SITES}; unknown: {unknown}'
    )
  for key in ('imu_rate_hz', 'pose_fps', 'video_fps'):
    if not data[key] > 0:
      raise ValueError(f'config.data.{key}={data[key]!r}: expected a positive rate')
  if not config.window_s > 0:
    raise ValueError(f'config.window_s={config.window_s!r}: expected a positive duration')


def source(config: ml_collections.ConfigDict, split: str) -> Any:
  """The built FiMAD split as a random-access source (`tfds.builder`); builds nothing.

  FiMAD is manual data built beforehand with `tfds build`, so TFDS reads it from its files: the
  builder class need not be imported.

  Raises:
    ValueError: the config does not fit FiMAD (see `check_config`), or `config.window_s` is
      longer than the shortest clip the data was built with.
    FileNotFoundError: FiMAD/<builder_config> was not built in `config.data.tfds_data_dir`.
  """
  check_config(config)
  name = f'{BUILDER_NAME}/{config.data.builder_config}'
  data_dir = config.data.tfds_data_dir
  try:
    builder = tfds.builder(name, data_dir=data_dir)
    prepared = builder.is_prepared()
  except tfds.core.DatasetNotFoundError:
    prepared = False
  if not prepared:
    shown = data_dir or tfds.core.constants.DATA_DIR
    raise FileNotFoundError(
      f'FiMAD is not built: no {name} under data_dir={shown!s}. FiMAD is manual '
      'data (given on request, see tfds_builders/fimad/README.md); build it with\n'
      f'  tfds build tfds_builders/fimad --config={config.data.builder_config} '
      f'--manual_dir=<your FiMAD dir> --data_dir={shown!s} '
      '--file_format=array_record'
    )
  metadata = builder.info.metadata or {}
  min_clip_s = metadata.get('min_clip_s')
  if min_clip_s is not None and config.window_s > min_clip_s + 1e-6:
    raise ValueError(
      f'config.window_s={config.window_s} s is longer than the shortest clip kept '
      f'when {name} was built (min_clip_s={min_clip_s} s); lower window_s or '
      'rebuild with a larger min_clip_s (tfds build --config=\'{"name": ..., '
      '"min_clip_s": ...}\')'
    )
  feature_dim = config.data.get('video_feature_dim')
  if (
    config.data.builder_config == 'features'
    and feature_dim is not None
    and metadata.get('video_feature_dim') not in (None, feature_dim)
  ):
    raise ValueError(
      f'config.data.video_feature_dim={feature_dim} but {name} was built with '
      f'{metadata["video_feature_dim"]} features per step'
    )
  frame_size = config.data.get('video_size')
  built_size = (
    builder.info.features['video'].shape[1] if (config.data.builder_config == 'frames') else None
  )
  if built_size is not None and frame_size is not None and frame_size != built_size:
    raise ValueError(
      f'config.data.video_size={frame_size} but {name} stores {built_size}x{built_size} frames'
    )
  if split not in builder.info.splits:
    raise ValueError(f'{name} has no split {split!r}; it has {sorted(builder.info.splits)}')
  return builder.as_data_source(split=split)


def _text(value: Any) -> str:
  return value.decode('utf-8') if isinstance(value, bytes) else str(value)


def _texts(values: Any) -> list[str]:
  if values is None:
    return []
  if isinstance(values, (str, bytes)):
    values = [values]
  return [text for text in (_text(v).strip() for v in values) if text]


def candidate_texts(record: Mapping[str, Any]) -> list[str]:
  """The texts a window may be paired with: descriptions, else normalised chapter, else chapter."""
  descriptions = _texts(record.get('descriptions'))
  if descriptions:
    return descriptions
  return _texts(record.get('normalized_chapter'))[:1] or _texts(record.get('chapter'))[:1]


def label_id(record: Mapping[str, Any]) -> int:
  """The activity id when the clip's label names one of `activities.ACTIVITIES`, else -1."""
  label = _text(record.get('label', b'')).strip()
  return activities.ACTIVITIES.index(label) if label in activities.ACTIVITIES else -1


def _resample_streams(
  record: Mapping[str, Any], config: ml_collections.ConfigDict
) -> dict[str, np.ndarray]:
  """pose / imu / video of `record` at the batch schema's rates (same duration as stored)."""
  streams = {}
  for key, rate_key, target_hz, signal in (
    ('pose', 'pose_fps', config.data.pose_fps, True),
    ('imu', 'imu_rate_hz', config.data.imu_rate_hz, True),
    ('video', 'video_rate_hz', config.data.video_fps, False),
  ):
    stream = np.asarray(record[key])
    rate_hz = float(record[rate_key])
    if signal:
      streams[key] = resample.resample(stream, rate_hz, float(target_hz))
    else:
      streams[key] = stream[resample.hold_indices(stream.shape[0], rate_hz, float(target_hz))]
  return streams


def make_window(
  record: Mapping[str, Any], rng: np.random.Generator | None, config: ml_collections.ConfigDict
) -> dict[str, np.ndarray]:
  """One window of a FiMAD clip in the batch schema (random in training, centred in eval).

  Args:
    record: one example of the built dataset (as `source` returns it).
    rng: per-window randomness (window start, description); None for the evaluation window.
    config: the run config (`window_s`, `modalities`, `data.*`, `model.text_max_len`).

  Returns:
    Keys of the modalities in `config.modalities` (`imu` + `imu_sites`, `pose`, `video`,
    `text`) plus `label` int32 and `present` `(M,)` bool in the order of `config.modalities`.
  """
  rates = {
    'imu': config.data.imu_rate_hz,
    'pose': config.data.pose_fps,
    'video': config.data.video_fps,
  }
  streams = _resample_streams(record, config)
  duration_s = windows.stream_seconds(streams, rates)
  if duration_s + 1e-6 < config.window_s:
    raise ValueError(
      f'FiMAD clip {_text(record.get("clip_id", b"?"))!r} lasts {duration_s:.3f} s,'
      f' shorter than config.window_s={config.window_s} s'
    )
  if rng is None:
    window = windows.centre_window(streams, config.window_s, rates)
  else:
    window = windows.random_window(streams, config.window_s, rates, rng)

  texts = candidate_texts(record)
  site_columns = np.array([FIMAD_SITES.index(site) for site in config.data.imu_sites], int)
  imu_sites = np.asarray(record['imu_sites'], bool)[site_columns]

  available = ['pose', 'video']
  if imu_sites.any():
    available.append('imu')
  if texts:
    available.append('text')
  out: dict[str, np.ndarray] = {'label': np.int32(label_id(record))}
  if 'imu' in config.modalities:
    out['imu'] = np.asarray(window['imu'][:, site_columns], np.float32)
    out['imu_sites'] = imu_sites
  if 'pose' in config.modalities:
    out['pose'] = np.asarray(window['pose'], np.float32)
    # Poses estimated from video carry no forearm roll.
    out.update(schema.forearm_pronation_fields(config, None, out['pose'].shape[0]))
  if 'video' in config.modalities:
    video = window['video']
    out['video'] = np.asarray(video, np.uint8 if video.dtype == np.uint8 else np.float32)
  if 'text' in config.modalities:
    tokenizer = ByteTokenizer(config.model.text_max_len)
    if texts:
      choice = 0 if rng is None else int(rng.integers(len(texts)))
      out['text'] = tokenizer.encode(texts[choice])
    else:  # No text for this clip: all padding, and `present` says the modality is absent.
      out['text'] = np.zeros((config.model.text_max_len,), np.int32)
  out['present'] = augment.modality_presence(config.modalities, available)
  return out
