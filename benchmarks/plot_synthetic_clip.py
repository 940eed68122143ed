"""Draws one synthetic clip: 3D pose at a few instants, wrist IMU traces, and video frames.

The three rows share the time axis: the instants marked on the IMU traces are the pose snapshots
above and the video frames below, which makes the alignment of the modalities visible.

  python benchmarks/plot_synthetic_clip.py --activity=squats --out=docs/synthetic_clip.png
  python benchmarks/plot_synthetic_clip.py --grid_out=/tmp/frames.png   # every class's frames
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from mujo_jax.facts import activities, skeleton  # noqa: E402
from mujo_jax.facts.sites import SYNTHETIC_IMU_SITES  # noqa: E402
from mujo_jax.synthesis import corpus, motion  # noqa: E402

_ACTIVITY = flags.DEFINE_enum('activity', 'squats', activities.ACTIVITIES, 'Class of the clip.')
_SEED = flags.DEFINE_integer('seed', 2, 'Random seed of the clip.')
_SUBJECT = flags.DEFINE_integer('subject', 0, 'Subject id.')
_SITE = flags.DEFINE_enum('site', 'right_wrist', SYNTHETIC_IMU_SITES, 'IMU site to plot.')
_OUT = flags.DEFINE_string('out', 'docs/synthetic_clip.png', 'Output PNG ( to skip).')
_GRID_OUT = flags.DEFINE_string(
  'grid_out', '', 'Optional PNG with video frames of every class (for inspection).'
)
_DPI = flags.DEFINE_integer('dpi', 90, 'Resolution of the PNG.')

_SNAPSHOT_S = (0.5, 1.5, 2.5, 3.5, 4.5, 5.5)


def _draw_pose(ax, pose: np.ndarray, limits: np.ndarray) -> None:
  left = {skeleton.joint_index(n) for n in skeleton.H36M_JOINTS if n.startswith('left')}
  for parent, child in skeleton.H36M_BONES:
    color = (
      'tab:blue'
      if child in left
      else 'tab:red'
      if 'right' in (skeleton.H36M_JOINTS[child])
      else 'k'
    )
    ax.plot(*pose[[parent, child]].T, color=color, lw=1.5)
  ax.set_xlim(*limits[0])
  ax.set_ylim(*limits[1])
  ax.set_zlim(*limits[2])
  ax.set_box_aspect(limits[:, 1] - limits[:, 0])
  ax.set_xticks([])
  ax.set_yticks([])
  ax.set_zticks([])
  ax.view_init(elev=10, azim=-60)


def make_clip_with_world_pose(seed: int, activity: str, subject_id: int) -> tuple[dict, np.ndarray]:
  """A clip and its world-frame pose (the clip's own pose is pelvis-relative).

  `make_clip` draws the motion first from its generator, so a copy of the generator
  reproduces the world pose.
  """
  rng = np.random.default_rng(seed)
  twin = np.random.default_rng(seed)
  subject = corpus.get_subject(0, subject_id)
  pose_world = motion.generate_motion(
    activity, subject, corpus.CLIP_S, fps=float(corpus.POSE_FPS), rng=twin
  ).pose
  clip = corpus.make_clip(rng, activity, subject)
  pelvis = skeleton.joint_index('pelvis')
  if not np.allclose(pose_world - pose_world[:, pelvis : pelvis + 1], clip['pose'], atol=1e-4):
    raise RuntimeError('the regenerated world pose differs from the clip pose')
  return clip, pose_world


def plot_clip(clip: dict, pose: np.ndarray, site: str, out: pathlib.Path, dpi: int) -> None:
  """`pose` (T, 17, 3): the clip's pose in the world frame (floor at z = 0)."""
  imu = clip['imu'][:, SYNTHETIC_IMU_SITES.index(site)]
  video = clip['video'][..., 0]
  num_snapshots = len(_SNAPSHOT_S)
  pose_frames = [int(round(t * corpus.POSE_FPS)) for t in _SNAPSHOT_S]
  video_frames = [int(round(t * corpus.VIDEO_FPS)) for t in _SNAPSHOT_S]
  centre = 0.5 * (pose.reshape(-1, 3).min(0) + pose.reshape(-1, 3).max(0))
  half = 0.5 * np.max(pose.reshape(-1, 3).max(0) - pose.reshape(-1, 3).min(0)) + 0.05
  limits = np.stack([centre - half, centre + half], axis=1)
  limits[2] = (0.0, 2.0 * half)  # Floor at the bottom.

  fig = plt.figure(figsize=(9.0, 6.4))
  grid = fig.add_gridspec(
    4,
    num_snapshots,
    height_ratios=[1.5, 0.75, 0.75, 1.0],
    hspace=0.5,
    wspace=0.05,
    left=0.08,
    right=0.99,
    top=0.93,
    bottom=0.02,
  )
  for i, frame in enumerate(pose_frames):
    ax = fig.add_subplot(grid[0, i], projection='3d')
    _draw_pose(ax, pose[frame], limits)
    ax.set_title(f'3D pose t={_SNAPSHOT_S[i]:g} s', fontsize=8, pad=0)
  times = np.arange(imu.shape[0]) / corpus.IMU_RATE_HZ
  for row, (channels, name, unit) in enumerate(
    ((slice(0, 3), 'acc', 'm/s²'), (slice(3, 6), 'gyr', 'rad/s'))
  ):
    ax = fig.add_subplot(grid[1 + row, :])
    for values, axis_name in zip(imu[:, channels].T, 'xyz', strict=True):
      ax.plot(times, values, lw=1, label=f'{name} {axis_name}')
    for t in _SNAPSHOT_S:
      ax.axvline(t, color='0.6', lw=0.8, ls='--')
    ax.set_ylabel(f'{site}\n{name} ({unit})', fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_xlim(0, times[-1])
    ax.legend(fontsize=6, ncol=3, loc='upper right')
    if row == 1:
      ax.set_xlabel('time (s)', fontsize=8)
  for i, frame in enumerate(video_frames):
    ax = fig.add_subplot(grid[3, i])
    ax.imshow(video[frame], cmap='gray', vmin=0, vmax=255, interpolation='nearest')
    ax.set_title(f'video t={frame / corpus.VIDEO_FPS:g} s', fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
  activity = activities.ACTIVITIES[clip['label']]
  fig.suptitle(f'{activity}, {clip["reps"]} reps: "{clip["text"]}"', fontsize=8, wrap=True)
  out.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(out, dpi=dpi)
  plt.close(fig)


def plot_frame_grid(seed: int, out: pathlib.Path, dpi: int) -> None:
  """Eight frames of one clip per class: to check that every figure is visible and plausible."""
  columns = 8
  fig, axes = plt.subplots(
    len(activities.ACTIVITIES), columns, figsize=(columns * 0.9, len(activities.ACTIVITIES))
  )
  rng = np.random.default_rng(seed)
  for row, activity in enumerate(activities.ACTIVITIES):
    clip = corpus.make_clip(rng, activity, corpus.get_subject(seed, row))
    frames = np.linspace(0, clip['video'].shape[0] - 1, columns).astype(int)
    for col, frame in enumerate(frames):
      ax = axes[row, col]
      ax.imshow(
        clip['video'][frame, ..., 0], cmap='gray', vmin=0, vmax=255, interpolation='nearest'
      )
      ax.set_xticks([])
      ax.set_yticks([])
    axes[row, 0].set_ylabel(activity, fontsize=6, rotation=0, ha='right')
  fig.tight_layout()
  out.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(out, dpi=dpi)
  plt.close(fig)


def main(argv: Sequence[str]) -> None:
  del argv
  if _OUT.value:
    clip, pose_world = make_clip_with_world_pose(_SEED.value, _ACTIVITY.value, _SUBJECT.value)
    out = pathlib.Path(_OUT.value)
    plot_clip(clip, pose_world, _SITE.value, out, _DPI.value)
    print(f'wrote {out} ({out.stat().st_size / 1024:.0f} KiB)')
  if _GRID_OUT.value:
    out = pathlib.Path(_GRID_OUT.value)
    plot_frame_grid(_SEED.value, out, _DPI.value)
    print(f'wrote {out}')


if __name__ == '__main__':
  app.run(main)
