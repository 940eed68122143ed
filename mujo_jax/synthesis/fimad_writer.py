"""Writes synthetic clips in the FiMAD manual layout (tfds_builders/fimad/README.md).

FiMAD itself is given only on request, so the builder, its tests and a user without FiMAD all
need a tree shaped exactly like it. The clip ids are real: N ids are drawn from the authors'
`train_val_split.json` (train and validation in proportion), and the split file is copied
unchanged, so the builder meets the real pattern of "listed in the split but absent on disk".
Each clip is a synthetic exercise clip (`corpus.make_clip`): one simulated person per YouTube
video, the activity, length and tempo drawn per chapter. What the writer adds on top:

* IMU at the 16 FiMAD sites (`sites.FIMAD_SITES`) synthesised from the written pose with
  sensor noise, at `imu_rate_hz`; a fraction `drop_imu_fraction` of the clips gets no IMU file,
  which the builder then synthesises itself (its other path).
* video as frames (`video_frames/<id>.npy`, the rendered stick figure) and/or features
  (`video_features/<id>.npy`): `FEATURE_DIM` = 128 values per frame, the frame area-pooled to
  8x8 and the 8x8-pooled absolute difference to the previous frame (appearance + motion, the
  two things HERO's CLIP + S3D features carry), at the video frame rate.
* text in `language_data.json`: a chapter title, its normalised form, subtitle lines and several
  descriptions; the fields deliberately vary between a list, a string and missing, as the
  builder must accept all three.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from mujo_jax.facts import activities, sites, virtual_imu
from mujo_jax.facts import fimad_layout as layout
from mujo_jax.synthesis import corpus, io, motion, text

FEATURE_POOL = 8  # Features pool each frame to FEATURE_POOL x FEATURE_POOL cells.
FEATURE_DIM = 2 * FEATURE_POOL * FEATURE_POOL
VIDEO_FORMS = ('features', 'frames', 'both')

# Coach speech for the subtitle field.
_SUBTITLE_LINES = (
  "alright let's get started",
  'keep your core tight',
  'breathe out on the way up',
  'nice and controlled',
  'almost there, two more',
  "don't forget to breathe",
  'great job, keep going',
  'take a short rest if you need to',
  'focus on your form',
  'here we go again',
)


def frame_features(frames: np.ndarray) -> np.ndarray:
  """`(T, H, W[, 1])` uint8 frames -> `(T, FEATURE_DIM)` float32 appearance + motion features."""
  gray = (
    np.asarray(frames, np.float32).reshape(frames.shape[0], frames.shape[1], frames.shape[2])
    / 255.0
  )
  num_frames, height, width = gray.shape
  if height % FEATURE_POOL or width % FEATURE_POOL:
    raise ValueError(
      f'frame_features: frame size {height}x{width} must be a multiple of {FEATURE_POOL}'
    )
  pooled = (
    gray.reshape(
      num_frames, FEATURE_POOL, height // FEATURE_POOL, FEATURE_POOL, width // FEATURE_POOL
    )
    .mean(axis=(2, 4))
    .reshape(num_frames, -1)
  )
  motion_energy = np.abs(np.diff(gray, axis=0, prepend=gray[:1]))
  motion_pooled = motion_energy.reshape(
    num_frames, FEATURE_POOL, height // FEATURE_POOL, FEATURE_POOL, width // FEATURE_POOL
  ).mean(axis=(2, 4))
  return np.concatenate([pooled, motion_pooled.reshape(num_frames, -1)], axis=1).astype(np.float32)


def _world_pose(
  rng: np.random.Generator, activity: str, subject: motion.Subject, clip_s: float
) -> np.ndarray:
  """The world-frame pose (root motion included) that `corpus.make_clip(rng, ...)` will use.

  FiMAD pose files are in the world frame (the IMU is synthesised from them; a jumping jack's
  bounce is in the root motion), but `make_clip` returns the pose pelvis-relative. It draws its
  motion first from its generator, so the same motion comes from a copy of that generator; the
  caller checks that the two agree.
  """
  twin = np.random.Generator(type(rng.bit_generator)())
  twin.bit_generator.state = rng.bit_generator.state
  motion_world = motion.generate_motion(
    activity, subject, clip_s, fps=float(corpus.POSE_FPS), rng=twin
  )
  return np.asarray(motion_world.pose, np.float32)


def choose_clip_ids(
  splits: dict[str, list[str]], num_clips: int, rng: np.random.Generator
) -> dict[str, list[str]]:
  """`num_clips` ids, train and validation in the split file's proportion (>= 1 each)."""
  total = sum(len(ids) for ids in splits.values())
  if num_clips < 2 or num_clips > total:
    raise ValueError(
      f'num_clips={num_clips}: expected 2..{total} (one clip per split at least, '
      'at most the clips the split file lists)'
    )
  num_val = int(round(num_clips * len(splits['validation']) / total))
  num_val = min(max(num_val, 1), num_clips - 1, len(splits['validation']))
  counts = {'train': num_clips - num_val, 'validation': num_val}
  chosen = {}
  for split, count in counts.items():
    picks = rng.choice(len(splits[split]), size=count, replace=False)
    chosen[split] = sorted(splits[split][i] for i in picks)
  return chosen


def _language_entry(
  rng: np.random.Generator, activity: str, reps: int, first_description: str
) -> dict[str, object]:
  """A language_data.json entry; field forms vary (list / string / missing) on purpose."""
  if activity == 'non_activity':  # Real chapters between exercises are rests and breaks.
    name = str(rng.choice(('rest', 'break', 'recovery')))
    chapter = name.title()
  else:
    name = activity.replace('_', ' ')
    chapter = name.title() if rng.random() < 0.4 else f'{reps} x {name.title()}'
  descriptions = [first_description] + [
    text.describe(activity, rng, reps=reps) for _ in range(int(rng.integers(1, 4)))
  ]
  lines = [
    str(line) for line in rng.choice(_SUBTITLE_LINES, size=int(rng.integers(1, 4)), replace=False)
  ]
  entry: dict[str, object] = {'chapter': chapter, 'normalized_chapter': name}
  form = rng.random()
  if form < 0.6:
    entry['subtitles'] = lines
    entry['descriptions'] = descriptions
  elif form < 0.8:
    entry['subtitles'] = ' '.join(lines)  # One string instead of a list.
    entry['descriptions'] = descriptions[0]
  else:
    entry['descriptions'] = descriptions  # No subtitles at all.
  return entry


def write_fimad(
  out_dir: str | os.PathLike[str],
  num_clips: int,
  split_file: str | os.PathLike[str],
  seed: int = 0,
  overwrite: bool = False,
  video_form: str = 'both',
  drop_imu_fraction: float = 0.25,
  clip_seconds: tuple[float, float] = (6.0, 9.0),
  imu_rate_hz: float = 50.0,
) -> dict[str, list[str]]:
  """Writes `num_clips` synthetic clips in the FiMAD manual layout under `out_dir`.

  Args:
    out_dir: output directory; must be empty or absent unless `overwrite`.
    num_clips: clips to write (>= 2: at least one per split).
    split_file: the authors' `train_val_split.json` (or one of the same form); copied unchanged.
    seed: everything written is a function of the seed.
    overwrite: replace the contents of a non-empty `out_dir`.
    video_form: write 'features', 'frames' or 'both' (each builder config needs its own).
    drop_imu_fraction: share of clips written without an IMU file (at least one when > 0).
    clip_seconds: clip lengths are drawn uniformly from this range.
    imu_rate_hz: rate of the IMU files.

  Returns:
    The clip ids written, per split (`train`, `validation`).
  """
  if video_form not in VIDEO_FORMS:
    raise ValueError(f'video_form={video_form!r}: expected one of {VIDEO_FORMS}')
  if not 0.0 <= drop_imu_fraction <= 1.0:
    raise ValueError(f'drop_imu_fraction={drop_imu_fraction}: expected a value in [0, 1]')
  low_s, high_s = clip_seconds
  if not 0 < low_s <= high_s:
    raise ValueError(f'clip_seconds={clip_seconds}: expected 0 < low <= high')
  if not imu_rate_hz > 0:
    raise ValueError(f'imu_rate_hz={imu_rate_hz}: expected a positive rate')
  split_file = Path(split_file)
  splits = layout.read_split_file(split_file)  # Validates before anything is written.
  rng = np.random.default_rng(seed)
  chosen = choose_clip_ids(splits, num_clips, rng)

  root = io.ensure_empty_out_dir(out_dir, overwrite)
  shutil.copyfile(split_file, root / layout.SPLIT_FILE)
  for folder in (layout.POSE_DIR, layout.IMU_DIR, layout.META_DIR):
    (root / folder).mkdir()
  if video_form in ('features', 'both'):
    (root / layout.VIDEO_FEATURES_DIR).mkdir()
  if video_form in ('frames', 'both'):
    (root / layout.VIDEO_FRAMES_DIR).mkdir()

  all_ids = [clip_id for ids in chosen.values() for clip_id in ids]
  num_without_imu = int(round(drop_imu_fraction * len(all_ids)))
  if drop_imu_fraction > 0:
    num_without_imu = max(num_without_imu, 1)
  without_imu = set(rng.choice(all_ids, size=num_without_imu, replace=False).tolist())

  # One simulated person per YouTube video, as in a real channel's video.
  video_ids = sorted({layout.video_id(clip_id) for clip_id in all_ids})
  subjects = {
    vid: motion.sample_subject(rng, subject_id) for subject_id, vid in enumerate(video_ids)
  }
  language = {}
  for clip_id in all_ids:
    clip_rng = np.random.default_rng([seed, all_ids.index(clip_id) + 1])
    activity = activities.ACTIVITIES[int(clip_rng.integers(len(activities.ACTIVITIES)))]
    clip_s = float(clip_rng.uniform(low_s, high_s))
    subject = subjects[layout.video_id(clip_id)]
    pose = _world_pose(clip_rng, activity, subject, clip_s)
    clip = corpus.make_clip(clip_rng, activity, subject, clip_s)
    if not np.allclose(pose - pose[:, :1], clip['pose'], atol=1e-5):
      raise RuntimeError(
        f'clip {clip_id}: the world pose regenerated for the FiMAD pose file '
        "differs from corpus.make_clip's motion; make_clip no longer draws "
        'its motion first from its generator'
      )
    paths = layout.clip_paths(root, clip_id)
    np.save(paths.pose, pose)
    meta: dict[str, object] = {
      layout.META_POSE_FPS: float(corpus.POSE_FPS),
      layout.META_LABEL: activity,
    }
    if clip_id not in without_imu:
      imu = virtual_imu.from_pose(
        pose,
        corpus.POSE_FPS,
        sites.FIMAD_SITES,
        out_rate_hz=imu_rate_hz,
        noise=virtual_imu.ImuNoise(),
        rng=clip_rng,
      )
      np.save(paths.imu, np.asarray(imu, np.float32))
      meta[layout.META_IMU_RATE] = float(imu_rate_hz)
      meta[layout.META_IMU_SITES] = list(sites.FIMAD_SITES)
    frames = np.asarray(clip['video'], np.uint8)
    if video_form in ('frames', 'both'):
      np.save(paths.video_frames_npy, frames)
      meta[layout.META_FRAME_RATE] = float(corpus.VIDEO_FPS)
    if video_form in ('features', 'both'):
      np.save(paths.video_features, frame_features(frames))
      meta[layout.META_FEATURE_RATE] = float(corpus.VIDEO_FPS)
    paths.meta.write_text(json.dumps(meta, indent=1) + '\n', encoding='utf-8')
    language[clip_id] = _language_entry(clip_rng, activity, int(clip['reps']), str(clip['text']))

  (root / layout.LANGUAGE_FILE).write_text(json.dumps(language, indent=1) + '\n', encoding='utf-8')
  return chosen
