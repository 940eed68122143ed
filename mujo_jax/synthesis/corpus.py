"""The synthetic parallel corpus: one motion -> time-aligned pose, 2D pose, IMU, video and text.

Every modality of a clip is *derived from the same motion*: the procedural motion gives the 3D
pose; the virtual IMU differentiates that pose at the MM-Fit device sites; a random camera
projects it to 2D COCO keypoints, from which a stick figure is rendered; the label and the
motion's repetition count and tempo produce the text. So the pairs that contrastive pretraining
aligns really share content, and a model that learns on this corpus learns structure that
transfers (the IMU sites are MM-Fit's devices, the pose layout is MM-Fit's/VideoPose3D's).

Clocks: all streams start at t = 0 and cover `clip_s` seconds. Pose sample i is at i / POSE_FPS,
IMU sample k at k / IMU_RATE_HZ, video frame m at m / VIDEO_FPS (it shows pose frame
round(m * POSE_FPS / VIDEO_FPS)). Cropping by time (the data pipeline's windows) keeps them
aligned.

Splits have disjoint subjects (`split_subjects`). A clip is fully determined by (seed, split,
clip index): each gets its own random generator seeded from that triple, so generation gives the
same bytes whatever the number of worker processes or the order in which clips are made.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import multiprocessing
import pathlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from mujo_jax.facts import activities as activities_lib
from mujo_jax.facts import resample, skeleton, virtual_imu
from mujo_jax.facts.sites import SYNTHETIC_IMU_SITES, WEARABLE_IMU_SITES
from mujo_jax.synthesis import camera as camera_lib
from mujo_jax.synthesis import forearm as forearm_lib
from mujo_jax.synthesis import motion as motion_lib
from mujo_jax.synthesis import render as render_lib
from mujo_jax.synthesis import sensor as sensor_lib
from mujo_jax.synthesis import text as text_lib
from mujo_jax.synthesis import wearable_motion

POSE_FPS = 30
IMU_RATE_HZ = 50
VIDEO_FPS = 10
VIDEO_SIZE = 32
# 6 s, so that training can take random 5 s crops (MM-Fit's window length).
CLIP_S = 6.0
SPLITS: tuple[str, ...] = ('train', 'validation', 'test')
# Fraction of subjects per split, in SPLITS order.
SPLIT_FRACTIONS: tuple[float, ...] = (0.7, 0.15, 0.15)
# Consumer-grade sensor noise (smartwatch/phone), mild so that the signal still dominates.
IMU_NOISE = virtual_imu.ImuNoise()

# Activity names and IMU sites of each vocabulary.
VOCABULARIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
  'mmfit': (activities_lib.ACTIVITIES, SYNTHETIC_IMU_SITES),
  'wearables': (activities_lib.WEARABLE_ACTIVITIES, WEARABLE_IMU_SITES),
}

# Exercises done lying down, which videos show from the side rather than head-on.
_FILMED_FROM_THE_SIDE = frozenset(
  {'pushups', 'situps', 'plank', 'mountain_climbers', 'lying', 'lie_to_sit', 'chest_flyes'}
)


def source_digest() -> str:
  """SHA-256 of the code a clip is made from: every module of `synthesis` and `facts`, as on disk.

  Clips are a pure function of (seed, split, index) *and this code*. A build's worker processes
  import the code when they start, once per split, so sources edited while a corpus builds give
  splits made by different code with nothing to show it (it happened: a train split from the old
  code, a validation split from the new). The builder records the digest, and every clip checks
  that the code it is made by is the code the build started with (`SOURCE_DIGEST`).
  """
  package = pathlib.Path(__file__).resolve().parent.parent
  sha = hashlib.sha256()
  for path in sorted([*package.glob('synthesis/*.py'), *package.glob('facts/*.py')]):
    sha.update(path.relative_to(package).as_posix().encode() + b'\0')
    sha.update(path.read_bytes() + b'\0')
  return sha.hexdigest()


# The digest of the sources as this process imported them.
SOURCE_DIGEST = source_digest()

# Offsets that separate the random streams of (seed, ...) keys, so that a subject's body and a
# clip's motion never share a generator seed.
_SUBJECT_STREAM = 7_919
_PLAN_STREAM = 104_729


@dataclasses.dataclass(frozen=True, kw_only=True)
class CorpusConfig:
  """Size of a generated corpus.

  Attributes:
    num_subjects: subjects in total, divided among the splits by `split_subjects`.
    num_clips: clips per split.
    clip_s: clip length in seconds.
    seed: seed of the whole corpus.
    vocabulary: 'mmfit' (MM-Fit's 11 classes, MM-Fit's 5 device sites, video) or 'wearables'
      (`activities.WEARABLE_ACTIVITIES`, `sites.WEARABLE_IMU_SITES`, two-activity clips).
    transition_fraction: share of 'wearables' clips that change activity halfway.
    video: whether clips carry the rendered video ('wearables' leaves it out: the model it
      feeds trains on IMU, pose and text, and rendering is the slowest step).
    devices: the real-device model applied to the clean virtual IMU of each 'wearables' clip
      (`sensor.SensorModel`: noise, bias, drift, gain, clocks, placement, saturation,
      quantisation, soft tissue), one device per site; None keeps the light `IMU_NOISE`.
  """

  num_subjects: int
  num_clips: Mapping[str, int]
  clip_s: float = CLIP_S
  seed: int = 0
  vocabulary: str = 'mmfit'
  transition_fraction: float = 0.0
  video: bool = True
  devices: sensor_lib.SensorModel | None = None

  @property
  def activities(self) -> tuple[str, ...]:
    return VOCABULARIES[self.vocabulary][0]

  @property
  def imu_sites(self) -> tuple[str, ...]:
    return VOCABULARIES[self.vocabulary][1]

  def __post_init__(self):
    split_subjects(self.num_subjects)  # Validates the subject count.
    if set(self.num_clips) != set(SPLITS):
      raise ValueError(f'num_clips must name exactly the splits {SPLITS}, got {self.num_clips}')
    for split, count in self.num_clips.items():
      if count < 1:
        raise ValueError(f'num_clips[{split!r}] must be >= 1, got {count}')
    stream_lengths(self.clip_s)  # Validates the clip length.
    if self.vocabulary not in VOCABULARIES:
      raise ValueError(f'vocabulary must be one of {sorted(VOCABULARIES)}, got {self.vocabulary!r}')
    if not 0.0 <= self.transition_fraction <= 1.0:
      raise ValueError(f'transition_fraction must be in [0, 1], got {self.transition_fraction}')
    if self.vocabulary == 'mmfit' and (self.transition_fraction or not self.video):
      raise ValueError("the 'mmfit' vocabulary has no transitions and always has video")


def _check_clip_s(clip_s: float) -> None:
  # The virtual IMU needs its smoothing window (0.3 s) and the video at least one frame.
  if not (np.isfinite(clip_s) and 1.0 <= clip_s <= 600.0):
    raise ValueError(f'clip_s must be between 1 and 600 seconds, got {clip_s}')


def split_subjects(num_subjects: int) -> dict[str, tuple[int, ...]]:
  """Divides subject ids 0..num_subjects-1 into disjoint train/validation/test sets.

  Contiguous id ranges in SPLITS order, sized by SPLIT_FRACTIONS (at least one subject per
  split), so that the same subject never appears in two splits.
  """
  if not isinstance(num_subjects, (int, np.integer)) or num_subjects < len(SPLITS):
    raise ValueError(
      f'num_subjects must be an integer >= {len(SPLITS)} (one per split), got {num_subjects!r}'
    )
  counts = [max(1, int(round(f * num_subjects))) for f in SPLIT_FRACTIONS[1:]]
  counts.insert(0, num_subjects - sum(counts))
  if counts[0] < 1:
    raise ValueError(f'num_subjects={num_subjects} leaves no training subject')
  bounds = np.cumsum([0, *counts])
  return {split: tuple(range(int(bounds[i]), int(bounds[i + 1]))) for i, split in enumerate(SPLITS)}


@functools.lru_cache(maxsize=1024)
def get_subject(seed: int, subject_id: int) -> motion_lib.Subject:
  """The body of subject `subject_id` in the corpus of `seed`: the same in every clip."""
  return motion_lib.sample_subject(
    np.random.default_rng([seed, _SUBJECT_STREAM, subject_id]), subject_id
  )


def stream_lengths(clip_s: float) -> tuple[int, int, int]:
  """Samples of pose, IMU and video in a clip of `clip_s` seconds (6 s: 180, 300, 60).

  The pose count rounds `clip_s` to whole pose frames; the IMU and video counts follow the
  pose duration (the IMU with `virtual_imu.from_pose`'s rule), so that the streams always
  cover the same time even when `clip_s` is not a whole number of frames.
  """
  _check_clip_s(clip_s)
  num_pose = resample.num_samples(clip_s, POSE_FPS)
  num_imu = max(1, int(round(num_pose * IMU_RATE_HZ / POSE_FPS)))
  num_video = resample.num_samples(num_pose / POSE_FPS, VIDEO_FPS)
  return num_pose, num_imu, num_video


def _video_frame_indices(num_video_frames: int) -> np.ndarray:
  return np.round(np.arange(num_video_frames) * (POSE_FPS / VIDEO_FPS)).astype(np.intp)


CONFIGS: dict[str, CorpusConfig] = {
  # Seconds to build: for tests. 6 clips per class in train, 3 in validation and test.
  'tiny': CorpusConfig(
    num_subjects=12, num_clips={'train': 66, 'validation': 33, 'test': 33}, seed=0
  ),
  # Big enough that contrastive pretraining learns (~7.3 h of clips, 400 per class in train).
  'default': CorpusConfig(
    num_subjects=60, num_clips={'train': 4400, 'validation': 660, 'test': 660}, seed=0
  ),
  # Pretraining for real wearables: 53 classes, 12 body sites, many subjects, 30 % of clips
  # with a transition, no video (sized to build in minutes on two cores).
  'wearables': CorpusConfig(
    num_subjects=300,
    num_clips={'train': 12720, 'validation': 1060, 'test': 1060},
    seed=0,
    vocabulary='wearables',
    transition_fraction=0.3,
    video=False,
    devices=sensor_lib.SensorModel(),
  ),
  # The same recipe at test size: two clips per class per split.
  'wearables_tiny': CorpusConfig(
    num_subjects=12,
    num_clips={'train': 106, 'validation': 53, 'test': 53},
    seed=0,
    vocabulary='wearables',
    transition_fraction=0.3,
    video=False,
    devices=sensor_lib.SensorModel(),
  ),
}


def make_clip(
  rng: np.random.Generator,
  activity: str,
  subject: motion_lib.Subject,
  clip_s: float = CLIP_S,
) -> dict[str, Any]:
  """Generates one example (no batch axis) of `activity` performed by `subject`.

  Args:
    rng: the clip's random generator (motion, sensor noise, camera, text).
    activity: one of `activities.ACTIVITIES`.
    subject: from `motion.sample_subject` (or `get_subject(seed, id)`).
    clip_s: clip length in seconds (any length of at least 1 s; the corpus uses CLIP_S).

  The motion is the first thing drawn from `rng`, so a copy of the generator taken before the
  call reproduces the world-frame pose with `motion.generate_motion(activity, subject, clip_s,
  fps=POSE_FPS, rng=copy)` (the FiMAD writer relies on this). The IMU is synthesised from the
  world pose, root motion included, as a worn sensor would feel it.

  Returns:
    A dict with `pose` (T30, 17, 3) float32 metres, pelvis-relative, world axes (z up);
    `pose_2d` (T30, 18, 2) float32 COCO-18 in normalised image coordinates (x right, y down);
    `imu` (T50, S, 6) float32 at SYNTHETIC_IMU_SITES; `imu_sites` (S,) bool (all True);
    `video` (T10, 32, 32, 1) uint8; `text` str; `label` int; `subject` int; `reps` int.
  """
  label = activities_lib.activity_id(activity)
  num_pose, num_imu, num_video = stream_lengths(clip_s)

  motion = motion_lib.generate_motion(activity, subject, clip_s, fps=float(POSE_FPS), rng=rng)
  pose_world = np.asarray(motion.pose, dtype=np.float64)
  if pose_world.shape != (num_pose, skeleton.NUM_H36M_JOINTS, 3):
    raise ValueError(
      f'generate_motion({activity!r}, duration_s={clip_s}) returned pose of shape '
      f'{pose_world.shape}; expected ({num_pose}, {skeleton.NUM_H36M_JOINTS}, 3)'
    )

  imu = virtual_imu.from_pose(
    pose_world, POSE_FPS, SYNTHETIC_IMU_SITES, IMU_RATE_HZ, noise=IMU_NOISE, rng=rng
  )
  if imu.shape[0] != num_imu:
    raise ValueError(f'virtual IMU gave {imu.shape[0]} samples; expected {num_imu}')

  coco_world = skeleton.h36m_to_coco(pose_world)
  # Lying exercises are filmed from the side, the others from the front (both +- the spread).
  side = (1.0 if rng.random() < 0.5 else -1.0) * np.deg2rad(90.0)
  facing = motion.heading_rad + (side if activity in _FILMED_FROM_THE_SIDE else 0.0)
  camera = camera_lib.frame_clip(coco_world, rng, facing_rad=facing)
  pose_2d = camera_lib.project(coco_world, camera)
  video_pose_px = camera_lib.to_pixels(pose_2d[_video_frame_indices(num_video)], VIDEO_SIZE)
  video = render_lib.render(video_pose_px, VIDEO_SIZE)[..., None]

  reps = int(motion.reps)
  period_s = motion.rep_period_s
  tempo = text_lib.tempo_label(period_s) if period_s and np.isfinite(period_s) else None
  description = text_lib.describe(activity, rng, reps=reps, tempo=tempo, variant=motion.variant)

  pelvis = skeleton.joint_index('pelvis')
  return {
    'pose': (pose_world - pose_world[:, pelvis : pelvis + 1]).astype(np.float32),
    'pose_2d': pose_2d.astype(np.float32),
    'imu': imu.astype(np.float32),
    'imu_sites': np.ones(len(SYNTHETIC_IMU_SITES), dtype=bool),
    'video': video,
    'text': description,
    'label': label,
    'subject': int(subject.subject_id),
    'reps': reps,
  }


def make_wearable_clip(
  rng: np.random.Generator,
  activity: str,
  subject: motion_lib.Subject,
  clip_s: float = CLIP_S,
  *,
  transition_fraction: float = 0.0,
  video: bool = False,
  devices: sensor_lib.SensorModel | None = None,
) -> dict[str, Any]:
  """One example of the 'wearables' vocabulary: `activity` is the label (the centre rule).

  With probability `transition_fraction` (when the activity has partners, see
  `wearable_motion.transition_partners`) the clip changes activity: `activity` is under way at
  the clip centre and a partner comes before or after it; the text names both in order.
  Keys as `make_clip`, IMU at `WEARABLE_IMU_SITES`, `video` only if asked for. With
  `devices`, each site's clean virtual IMU goes through its own simulated device
  (`sensor.apply`) instead of the light `IMU_NOISE`. The forearms roll (pronation and
  supination) by `forearm.forearm_twist`, blended across a transition like the pose; the
  angle is stored as `forearm_pronation` (T30, 2) float32 radians, (left, right) forearm,
  `forearm.pronation_rad`'s sign, at the pose's frames: the one thing about the arms that the
  H36M-17 joints cannot show and a watch reads (its x gyro, gravity's y/z split).
  """
  label = activities_lib.wearable_activity_id(activity)
  num_pose, num_imu, num_video = stream_lengths(clip_s)
  partners = wearable_motion.transition_partners(activity)
  transition = None
  if partners and rng.random() < transition_fraction:
    partner = partners[int(rng.integers(len(partners)))]
    first, second = (activity, partner) if rng.random() < 0.5 else (partner, activity)
    half = (num_pose / POSE_FPS) / 2
    offset = rng.uniform(0.6, 0.35 * 2 * half)
    switch = half + offset if first == activity else half - offset
    motion, transition = wearable_motion.generate_transition(
      first, second, subject, clip_s, float(POSE_FPS), rng=rng, switch_s=switch
    )
    assert motion.activity == activity
  else:
    motion = wearable_motion.generate(activity, subject, clip_s, float(POSE_FPS), rng=rng)
  pose_world = np.asarray(motion.pose, dtype=np.float64)
  # The forearms' roll, which the pose cannot carry and a watch feels.
  if transition is None:
    activities, second_weight = (activity,), None
  else:
    activities = (transition.first, transition.second)
    second_weight = transition.weight(np.arange(num_pose) / POSE_FPS)
  twist = forearm_lib.forearm_twist(
    activities,
    pose_world,
    POSE_FPS,
    rng,
    right_handed=wearable_motion.habits(subject).right_handed,
    second_weight=second_weight,
  )
  if devices is None:
    imu = virtual_imu.from_pose(
      pose_world,
      POSE_FPS,
      WEARABLE_IMU_SITES,
      IMU_RATE_HZ,
      noise=IMU_NOISE,
      rng=rng,
      forearm_twist=twist,
    )
  else:
    clean = virtual_imu.from_pose(
      pose_world, POSE_FPS, WEARABLE_IMU_SITES, IMU_RATE_HZ, forearm_twist=twist
    )
    imu, _ = sensor_lib.apply(clean, IMU_RATE_HZ, WEARABLE_IMU_SITES, devices, rng)
  if imu.shape[0] != num_imu or pose_world.shape[0] != num_pose:
    raise ValueError(f'{activity}: stream lengths {pose_world.shape[0]}, {imu.shape[0]}')
  coco_world = skeleton.h36m_to_coco(pose_world)
  pelvis = skeleton.joint_index('pelvis')
  travel = pose_world[:, pelvis, :2] - pose_world[:1, pelvis, :2]
  if np.max(np.linalg.norm(travel, axis=-1)) > 0.5:
    # Walking and running cover metres: the camera pans with the person, as a filming one does.
    coco_world = coco_world.copy()
    coco_world[..., :2] -= travel[:, None, :]
  side = (1.0 if rng.random() < 0.5 else -1.0) * np.deg2rad(90.0)
  facing = motion.heading_rad + (side if activity in _FILMED_FROM_THE_SIDE else 0.0)
  camera = camera_lib.frame_clip(coco_world, rng, facing_rad=facing)
  pose_2d = camera_lib.project(coco_world, camera)
  reps = int(motion.reps)
  period_s = motion.rep_period_s
  tempo = text_lib.tempo_label(period_s) if period_s and np.isfinite(period_s) else None
  if transition is not None:
    description = text_lib.describe_transition(transition.first, transition.second, rng)
  else:
    description = text_lib.describe_wearable(
      activity, rng, reps=reps, tempo=tempo, variant=motion.variant
    )
  example = {
    'pose': (pose_world - pose_world[:, pelvis : pelvis + 1]).astype(np.float32),
    'pose_2d': pose_2d.astype(np.float32),
    'imu': imu.astype(np.float32),
    'imu_sites': np.ones(len(WEARABLE_IMU_SITES), dtype=bool),
    'forearm_pronation': forearm_lib.pronation_rad(twist).astype(np.float32),
    'text': description,
    'label': label,
    'subject': int(subject.subject_id),
    'reps': reps,
  }
  if video:
    video_pose_px = camera_lib.to_pixels(pose_2d[_video_frame_indices(num_video)], VIDEO_SIZE)
    example['video'] = render_lib.render(video_pose_px, VIDEO_SIZE)[..., None]
  return example


@dataclasses.dataclass(frozen=True)
class _ClipTask:
  seed: int
  split_index: int
  clip_index: int
  activity: str
  subject_id: int
  clip_s: float
  vocabulary: str = 'mmfit'
  transition_fraction: float = 0.0
  video: bool = True
  devices: sensor_lib.SensorModel | None = None
  source_digest: str = ''


def _run_task(task: _ClipTask) -> dict[str, Any]:
  if task.source_digest and task.source_digest != SOURCE_DIGEST:
    raise RuntimeError(
      'mujo_jax/synthesis or mujo_jax/facts changed on disk while the corpus was being built '
      f'(this worker imported sources {SOURCE_DIGEST[:12]}, the build started with '
      f'{task.source_digest[:12]}): its splits would come from different code; rebuild '
      'without editing them'
    )
  rng = np.random.default_rng([task.seed, task.split_index, task.clip_index])
  subject = get_subject(task.seed, task.subject_id)
  if task.vocabulary == 'mmfit':
    return make_clip(rng, task.activity, subject, task.clip_s)
  return make_wearable_clip(
    rng,
    task.activity,
    subject,
    task.clip_s,
    transition_fraction=task.transition_fraction,
    video=task.video,
    devices=task.devices,
  )


def clip_plan(
  split: str,
  num_clips: int,
  seed: int,
  num_subjects: int,
  activities: tuple[str, ...] = activities_lib.ACTIVITIES,
) -> list[tuple[str, int]]:
  """(activity, subject id) of every clip of a split, classes balanced.

  Classes come in shuffled rounds of all of `activities`, so any prefix of the plan is balanced
  to within one clip per class; subjects cycle through the split's subjects in a shuffled order.
  """
  if split not in SPLITS:
    raise ValueError(f'unknown split {split!r}; expected one of {SPLITS}')
  if num_clips < 0:
    raise ValueError(f'num_clips must be >= 0, got {num_clips}')
  subjects = split_subjects(num_subjects)[split]
  rng = np.random.default_rng([seed, _PLAN_STREAM, SPLITS.index(split)])
  num_classes = len(activities)
  rounds = -(-num_clips // num_classes)
  labels = np.concatenate([rng.permutation(num_classes) for _ in range(rounds)])[:num_clips]
  subject_order = rng.permutation(np.asarray(subjects))
  subject_ids = np.resize(subject_order, num_clips)
  return [
    (activities[label], int(subject_id))
    for label, subject_id in zip(labels, subject_ids, strict=True)
  ]


def generate_split(
  split: str,
  num_clips: int,
  seed: int,
  *,
  num_subjects: int,
  clip_s: float = CLIP_S,
  num_workers: int = 1,
  vocabulary: str = 'mmfit',
  transition_fraction: float = 0.0,
  video: bool = True,
  devices: sensor_lib.SensorModel | None = None,
) -> Iterator[dict[str, Any]]:
  """Yields the `num_clips` examples of `split`, in plan order (see `clip_plan`).

  Args:
    split: one of SPLITS.
    num_clips: examples to generate.
    seed: corpus seed; the same seed gives the same examples.
    num_subjects: subjects of the whole corpus (see `split_subjects`).
    clip_s: clip length in seconds.
    num_workers: processes that make clips in parallel (1: in this process). Workers are
      spawned, not forked, so this is safe inside programs that run threads (TensorFlow).
    vocabulary, transition_fraction, video, devices: as in `CorpusConfig`.
  """
  _check_clip_s(clip_s)
  if num_workers < 1:
    raise ValueError(f'num_workers must be >= 1, got {num_workers}')
  split_index = SPLITS.index(split) if split in SPLITS else -1
  plan = clip_plan(split, num_clips, seed, num_subjects, VOCABULARIES[vocabulary][0])
  tasks = [
    _ClipTask(
      seed,
      split_index,
      index,
      activity,
      subject_id,
      float(clip_s),
      vocabulary,
      transition_fraction,
      video,
      devices,
      SOURCE_DIGEST,
    )
    for index, (activity, subject_id) in enumerate(plan)
  ]
  if num_workers == 1 or len(tasks) < 2 * num_workers:
    yield from map(_run_task, tasks)
    return
  context = multiprocessing.get_context('spawn')
  chunksize = max(1, min(32, len(tasks) // (8 * num_workers)))
  with context.Pool(num_workers) as pool:
    yield from pool.imap(_run_task, tasks, chunksize=chunksize)
