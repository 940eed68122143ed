"""FiMAD: the parallel video / text / 3D pose / IMU corpus MuJo was pretrained on (manual data).

One example per chapter clip, variable length, every stream on its own clock (rates stored with
the example; windows are cut by time in `mujo_jax.data.fimad`). IMU comes from the clip's file
when there is one, else it is synthesised from the pose with `virtual_imu.from_pose` at the 16
FiMAD sites and `imu_synthesized` says so. Builder configs choose the video form:
`features` (pre-extracted `(T, F)` features, HERO-style) or `frames` (small grayscale frames).

  tfds build tfds_builders/fimad --manual_dir=DIR --data_dir=D --file_format=array_record \
      [--config=features|frames]

Splits follow the manual directory's `train_val_split.json` (`train` -> `train`, `val` ->
`validation`). Clips of the split file that are absent on disk, and clips on disk that no split
lists, are counted and logged (and kept in the dataset's metadata), never fatal.
"""

from __future__ import annotations

import collections
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow_datasets as tfds
from absl import logging

from mujo_jax.facts import fimad_layout as layout
from mujo_jax.facts import resample, sites, virtual_imu

_EXAMPLES_SHOWN_IN_LOG = 5


@dataclasses.dataclass(eq=False, kw_only=True)
class FimadConfig(tfds.core.BuilderConfig):
  """How to turn the manual files into examples.

  Attributes:
    video_form: 'features' (`video_features/<id>.npy`, `(T, F)` float) or 'frames'
      (`video_frames/<id>.npy|.mp4`, decoded, centre-cropped, grayscale, resized at build time).
    min_clip_s: clips whose shortest stream lasts less are skipped and counted; training windows
      (`config.window_s`) may not be longer than this.
    frame_size: side of the stored square grayscale frames (frames config).
    frame_rate_hz: frames are kept at this rate (sample-and-hold) at build time (frames config).
    synth_imu_rate_hz: rate of the IMU synthesised from pose when a clip has no IMU file.
  """

  video_form: str = 'features'
  min_clip_s: float = 5.0
  frame_size: int = 32
  frame_rate_hz: float = 10.0
  synth_imu_rate_hz: float = 50.0

  def __post_init__(self):
    if self.video_form not in ('features', 'frames'):
      raise ValueError(f'FimadConfig.video_form={self.video_form!r}: expected features|frames')
    if not self.min_clip_s > 0 or not self.frame_rate_hz > 0 or not self.synth_imu_rate_hz > 0:
      raise ValueError(
        f'FimadConfig {self.name!r}: min_clip_s, frame_rate_hz and '
        'synth_imu_rate_hz must be positive'
      )
    if self.frame_size < 8:
      raise ValueError(f'FimadConfig.frame_size={self.frame_size}: expected >= 8 pixels')


class Builder(tfds.core.GeneratorBasedBuilder):
  """FiMAD chapter clips from a manual directory (layout: README.md of this folder)."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release: features and frames configs.'}
  BUILDER_CONFIGS = [
    FimadConfig(
      name='features',
      video_form='features',
      description='Pre-extracted video features (T, F) float32 at their own rate.',
    ),
    FimadConfig(
      name='frames',
      video_form='frames',
      description='Video as 32x32 grayscale uint8 frames at 10 fps.',
    ),
  ]
  DEFAULT_CONFIG_NAME = 'features'
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
  FiMAD is given on request by its authors (stefan_gerd.fritsch@dfki.de; see
  github.com/R-tree/MuJo). Arrange it in `manual_dir` as follows (all per-clip files are named by
  clip id `<youtubeID>___<chapterIndex>`; full description in tfds_builders/fimad/README.md):

    manual_dir/
      train_val_split.json          {"train": [clip ids], "val": [clip ids]}  (authors' file)
      language_data.json            {clip id: {"chapter", "normalized_chapter", "subtitles",
                                     "descriptions"}}; strings or lists; fields may be missing
      meta/<clip_id>.json           {"pose_fps": 50, "imu_rate_hz": 50, "imu_sites": [...],
                                     "video_feature_rate_hz": 0.667, "video_fps": 50,
                                     "label": "<activity>" (optional)}
      pose/<clip_id>.npy            (T, 17, 3) float, Human3.6M-17, metres, world frame z up
      imu/<clip_id>.npy             (T, S, 6) float, optional; synthesised from pose if absent
      video_features/<clip_id>.npy  (T, F) float   (config `features`)
      video_frames/<clip_id>.npy    (T, H, W[, C]) uint8, or .mp4 with ffmpeg  (config `frames`)

  A corpus of the same shape can be written from the synthetic generator with
    python -m mujo_jax.data.synthetic --format=fimad --out=DIR --clips=N \
        --split_file=train_val_split.json
  """

  def _info(self) -> tfds.core.DatasetInfo:
    config: FimadConfig = self.builder_config
    num_sites = len(sites.FIMAD_SITES)
    if config.video_form == 'features':
      # Two unknown dimensions (time and F) need an explicit serialisation in TFDS.
      video = tfds.features.Tensor(
        shape=(None, None), dtype=np.float32, encoding=tfds.features.Encoding.BYTES
      )
    else:
      video = tfds.features.Tensor(
        shape=(None, config.frame_size, config.frame_size, 1), dtype=np.uint8
      )
    features = tfds.features.FeaturesDict(
      {
        'clip_id': tfds.features.Text(),
        'video_id': tfds.features.Text(),
        'duration_s': tfds.features.Scalar(dtype=np.float32),
        'pose': tfds.features.Tensor(shape=(None, layout.NUM_POSE_JOINTS, 3), dtype=np.float32),
        'pose_fps': tfds.features.Scalar(dtype=np.float32),
        'imu': tfds.features.Tensor(shape=(None, num_sites, layout.IMU_CHANNELS), dtype=np.float32),
        'imu_sites': tfds.features.Tensor(shape=(num_sites,), dtype=np.bool_),
        'imu_rate_hz': tfds.features.Scalar(dtype=np.float32),
        'imu_synthesized': tfds.features.Scalar(dtype=np.bool_),
        'video': video,
        'video_rate_hz': tfds.features.Scalar(dtype=np.float32),
        'chapter': tfds.features.Text(),
        'normalized_chapter': tfds.features.Text(),
        'subtitles': tfds.features.Sequence(tfds.features.Text()),
        'descriptions': tfds.features.Sequence(tfds.features.Text()),
        'label': tfds.features.Text(),
      }
    )
    return self.dataset_info_from_configs(
      features=features,
      supervised_keys=None,
      homepage='https://github.com/R-tree/MuJo',
      metadata=tfds.core.MetadataDict(
        imu_site_names=list(sites.FIMAD_SITES),
        video_form=config.video_form,
        min_clip_s=config.min_clip_s,
      ),
    )

  # ---------------------------------------------------------------- splits

  def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
    manual_dir = Path(dl_manager.manual_dir)
    splits = layout.read_split_file(manual_dir / layout.SPLIT_FILE)
    language = layout.read_language_file(manual_dir / layout.LANGUAGE_FILE)
    on_disk = layout.clips_on_disk(manual_dir)
    listed = set().union(*splits.values())

    not_in_split = sorted(on_disk - listed)
    missing = {split: [c for c in ids if c not in on_disk] for split, ids in splits.items()}
    report = self.info.metadata
    report['clips_not_in_split'] = len(not_in_split)
    report['clips_missing_on_disk'] = {split: len(ids) for split, ids in missing.items()}
    if not_in_split:
      logging.warning(
        'FiMAD: %d clips on disk are in no split and are ignored, e.g. %s',
        len(not_in_split),
        not_in_split[:_EXAMPLES_SHOWN_IN_LOG],
      )
    for split, ids in missing.items():
      if ids:
        logging.warning(
          'FiMAD: %d of the %d %s clips listed in %s are not on disk (no %s/'
          '<clip_id>.npy) and are left out, e.g. %s',
          len(ids),
          len(splits[split]),
          split,
          layout.SPLIT_FILE,
          layout.POSE_DIR,
          ids[:_EXAMPLES_SHOWN_IN_LOG],
        )
    generators = {}
    for split, ids in splits.items():
      present = [clip_id for clip_id in ids if clip_id in on_disk]
      if not present:
        raise ValueError(
          f'FiMAD: none of the {len(ids)} {split} clips of '
          f'{manual_dir / layout.SPLIT_FILE} has a pose file under '
          f'{manual_dir / layout.POSE_DIR}; a split cannot be empty'
        )
      generators[split] = self._generate_examples(manual_dir, split, present, language)
    return generators

  # ---------------------------------------------------------------- examples

  def _generate_examples(
    self, manual_dir: Path, split: str, clip_ids: list[str], language: dict[str, Any]
  ):
    counts = collections.Counter()
    skipped = collections.defaultdict(list)
    for clip_id in clip_ids:
      example, problem = self._read_clip(manual_dir, clip_id, language)
      if example is None:
        counts[problem] += 1
        skipped[problem].append(clip_id)
        continue
      counts['imu_synthesized'] += int(example['imu_synthesized'])
      counts['examples'] += 1
      yield clip_id, example
    for problem, ids in skipped.items():
      logging.warning(
        'FiMAD %s: %d clips skipped (%s), e.g. %s',
        split,
        len(ids),
        problem,
        ids[:_EXAMPLES_SHOWN_IN_LOG],
      )
    logging.info('FiMAD %s: %s', split, dict(counts))
    self.info.metadata[f'counts_{split}'] = dict(counts)

  def _read_clip(
    self, manual_dir: Path, clip_id: str, language: dict[str, Any]
  ) -> tuple[dict[str, Any] | None, str]:
    """The example of one clip, or `(None, reason)` when the clip is legitimately unusable."""
    config: FimadConfig = self.builder_config
    fimad_sites = sites.FIMAD_SITES
    paths = layout.clip_paths(manual_dir, clip_id)
    if not paths.meta.is_file():
      logging.warning(
        'FiMAD clip %r: no metadata file %s (rates unknown); skipped', clip_id, paths.meta
      )
      return None, 'no_meta_file'
    meta = layout.read_meta(clip_id, paths.meta)
    pose_fps = layout.meta_rate(clip_id, paths.meta, meta, layout.META_POSE_FPS)
    pose_world = layout.read_pose(clip_id, paths.pose)

    video, video_rate_hz, problem = self._read_video(clip_id, paths, meta)
    if video is None:
      return None, problem

    imu_mask = np.zeros((len(fimad_sites),), bool)
    if paths.imu.is_file():
      file_sites = meta.get(layout.META_IMU_SITES, list(fimad_sites))
      if not isinstance(file_sites, list):
        raise layout.CorruptClipError(
          clip_id,
          paths.meta,
          f'{layout.META_IMU_SITES!r} must be a list of site names, got {file_sites!r}',
        )
      try:
        sites.check_sites(file_sites, fimad_sites, f'metadata of clip {clip_id!r}')
      except ValueError as error:
        raise layout.CorruptClipError(clip_id, paths.meta, str(error)) from None
      imu_rate_hz = layout.meta_rate(clip_id, paths.meta, meta, layout.META_IMU_RATE)
      file_imu = layout.read_imu(clip_id, paths.imu, len(file_sites))
      columns = np.array([fimad_sites.index(site) for site in file_sites], int)
      imu = np.zeros((file_imu.shape[0], len(fimad_sites), layout.IMU_CHANNELS), np.float32)
      imu[:, columns] = file_imu  # Sites the file lacks stay masked out by `imu_sites`.
      imu_mask[columns] = True
      synthesized = False
    else:
      imu_rate_hz = config.synth_imu_rate_hz
      try:
        imu = virtual_imu.from_pose(pose_world, pose_fps, fimad_sites, out_rate_hz=imu_rate_hz)
      except ValueError as error:
        raise layout.CorruptClipError(
          clip_id, paths.pose, f'IMU synthesis from this pose failed: {error}'
        ) from None
      imu = np.asarray(imu, np.float32)
      imu_mask[:] = True
      synthesized = True

    duration_s = min(
      pose_world.shape[0] / pose_fps, imu.shape[0] / imu_rate_hz, video.shape[0] / video_rate_hz
    )
    if duration_s < config.min_clip_s:
      return None, 'shorter_than_min_clip_s'

    text = layout.parse_language_entry(
      language.get(clip_id), clip_id, manual_dir / layout.LANGUAGE_FILE
    )
    label = meta.get(layout.META_LABEL, '')
    if not isinstance(label, str):
      raise layout.CorruptClipError(
        clip_id, paths.meta, f'{layout.META_LABEL!r} must be a string, got {label!r}'
      )
    return {
      'clip_id': clip_id,
      'video_id': layout.video_id(clip_id),
      'duration_s': np.float32(duration_s),
      # Pelvis-relative, as in the batch schema; IMU above used the world pose.
      'pose': pose_world - pose_world[:, :1],
      'pose_fps': np.float32(pose_fps),
      'imu': imu,
      'imu_sites': imu_mask,
      'imu_rate_hz': np.float32(imu_rate_hz),
      'imu_synthesized': synthesized,
      'video': video,
      'video_rate_hz': np.float32(video_rate_hz),
      'chapter': text['chapter'],
      'normalized_chapter': text['normalized_chapter'],
      'subtitles': text['subtitles'],
      'descriptions': text['descriptions'],
      'label': label,
    }, ''

  def _read_video(
    self, clip_id: str, paths: layout.ClipPaths, meta: dict[str, Any]
  ) -> tuple[np.ndarray | None, float, str]:
    config: FimadConfig = self.builder_config
    if config.video_form == 'features':
      if not paths.video_features.is_file():
        logging.warning(
          'FiMAD clip %r: no video features %s; skipped', clip_id, paths.video_features
        )
        return None, 0.0, 'no_video_features_file'
      rate = layout.meta_rate(clip_id, paths.meta, meta, layout.META_FEATURE_RATE)
      features = layout.read_video_features(clip_id, paths.video_features)
      expected_dim = self.info.metadata.get('video_feature_dim')
      if expected_dim is None:
        self.info.metadata['video_feature_dim'] = int(features.shape[1])
      elif features.shape[1] != expected_dim:
        raise layout.CorruptClipError(
          clip_id,
          paths.video_features,
          f'has {features.shape[1]} features per step; earlier clips have {expected_dim}',
        )
      return features, rate, ''
    if paths.video_frames_npy.is_file():
      rate = layout.meta_rate(clip_id, paths.meta, meta, layout.META_FRAME_RATE)
      frames = layout.read_video_frames_npy(clip_id, paths.video_frames_npy)
    elif paths.video_frames_mp4.is_file():
      frames, rate = layout.read_video_frames_mp4(clip_id, paths.video_frames_mp4)
    else:
      logging.warning(
        'FiMAD clip %r: no video frames %s or %s; skipped',
        clip_id,
        paths.video_frames_npy,
        paths.video_frames_mp4,
      )
      return None, 0.0, 'no_video_frames_file'
    # Choose the kept frames first so that only those are cropped and resized.
    frames = frames[resample.hold_indices(frames.shape[0], rate, config.frame_rate_hz)]
    return layout.to_small_gray(frames, config.frame_size), config.frame_rate_hz, ''
