"""Vectorised, anti-aliased rasterisation of a grayscale stick figure from 2D COCO-18 joints.

The synthetic video stream must come *from the motion* (so video and pose/IMU agree) and be cheap
enough to render thousands of clips on two CPU cores. A stick figure drawn from the projected
joints does both. Every pixel's brightness is computed at once from distance fields: for each
bone (a thick line segment) the distance from the pixel centre to the segment, for the head the
distance to a disc. Brightness is the fraction of the pixel covered by the shape, approximated
as `clip(half_width + 0.5 - distance, 0, 1)` (a one-pixel linear ramp across the edge), which is
the standard cheap anti-aliasing of signed-distance rendering: edges get intermediate gray
levels instead of stair steps, so a 32 px figure still moves smoothly.

The left limbs, the right limbs and the trunk/head are drawn at different gray levels. A
mirror-symmetric stick figure cannot tell its left from its right in 2D; real video has that cue
(clothing, shading, occlusion order), and one-arm exercises need it.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from mujo_jax.facts import skeleton


@dataclasses.dataclass(frozen=True, kw_only=True)
class RenderStyle:
  """How the figure is drawn, in units of the image size so the look does not depend on it.

  Attributes:
    line_width: bone thickness as a fraction of the image side.
    head_radius: head disc radius as a fraction of the image side.
    background: gray level of the background in [0, 1].
    trunk_level: gray level of trunk, hips, shoulders and head.
    left_level: gray level of the left arm and leg.
    right_level: gray level of the right arm and leg.
  """

  line_width: float = 0.06
  head_radius: float = 0.06
  background: float = 0.0
  trunk_level: float = 0.85
  left_level: float = 0.6
  right_level: float = 1.0

  def __post_init__(self):
    for name in ('line_width', 'head_radius'):
      if not getattr(self, name) > 0:
        raise ValueError(f'RenderStyle.{name} must be > 0, got {getattr(self, name)}')
    for name in ('background', 'trunk_level', 'left_level', 'right_level'):
      value = getattr(self, name)
      if not 0.0 <= value <= 1.0:
        raise ValueError(f'RenderStyle.{name} must be in [0, 1], got {value}')


# Bones of the drawn figure by COCO-18 joint name, grouped by gray level. The face points
# (eyes, ears) are not drawn as bones: the head disc stands for them.
_TRUNK_BONES = (
  ('neck', 'nose'),
  ('neck', 'right_shoulder'),
  ('neck', 'left_shoulder'),
  ('neck', 'right_hip'),
  ('neck', 'left_hip'),
  ('right_hip', 'left_hip'),
)
_RIGHT_BONES = (
  ('right_shoulder', 'right_elbow'),
  ('right_elbow', 'right_wrist'),
  ('right_hip', 'right_knee'),
  ('right_knee', 'right_ankle'),
)
_LEFT_BONES = (
  ('left_shoulder', 'left_elbow'),
  ('left_elbow', 'left_wrist'),
  ('left_hip', 'left_knee'),
  ('left_knee', 'left_ankle'),
)
# The head disc is centred on the mean of these points: the middle of the head, not the nose.
_HEAD_POINTS = ('nose', 'left_ear', 'right_ear')


@functools.cache
def _bone_groups() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Joint-index pairs `(B, 2)` of the trunk, left and right bones."""

  def indices(bones):
    return np.array(
      [[skeleton.joint_index(a, 'coco'), skeleton.joint_index(b, 'coco')] for a, b in bones],
      dtype=np.intp,
    )

  return indices(_TRUNK_BONES), indices(_LEFT_BONES), indices(_RIGHT_BONES)


def _min_sq_distance_to_segments(
  starts: np.ndarray, ends: np.ndarray, centres: np.ndarray
) -> np.ndarray:
  """Squared distance from every pixel centre to the nearest of several segments.

  Uses the separable form |p - a|^2 - 2 t t0 L^2 + t^2 L^2 with t0 the unclipped projection
  parameter and t = clip(t0, 0, 1), so that the pixel grid enters only through its row and
  column coordinates and the full (T, B, H, W) array is touched by a handful of operations.

  Args:
    starts: (T, B, 2) segment start points (x, y) in pixels.
    ends: (T, B, 2) segment end points.
    centres: (S,) pixel-centre coordinates along one axis (the grid is square).

  Returns:
    (T, S, S) float32, indexed [t, row (y), column (x)].
  """
  direction = ends - starts  # (T, B, 2)
  length_sq = np.maximum(np.sum(direction * direction, axis=-1), 1e-6)  # (T, B)
  # Offsets of pixel columns / rows from the segment start: (T, B, 1, S) and (T, B, S, 1).
  du = centres[None, None, None, :] - starts[..., 0, None, None]
  dv = centres[None, None, :, None] - starts[..., 1, None, None]
  inv_length_sq = (1.0 / length_sq)[..., None, None]
  t0 = du * (direction[..., 0, None, None] * inv_length_sq) + dv * (
    direction[..., 1, None, None] * inv_length_sq
  )  # (T, B, S, S)
  t = np.clip(t0, 0.0, 1.0)
  # d^2 = du^2 + dv^2 + L^2 t (t - 2 t0).
  t0 *= -2.0
  t0 += t
  t0 *= t
  t0 *= length_sq[..., None, None]
  t0 += du * du
  t0 += dv * dv
  return np.min(t0, axis=1)


def _coverage(sq_distance: np.ndarray, half_width: float) -> np.ndarray:
  """Fraction of each pixel covered by a shape, from the squared distance to its core."""
  # The separable distance formula can dip a hair below 0 by rounding: clamp before sqrt.
  return np.clip(half_width + 0.5 - np.sqrt(np.maximum(sq_distance, 0.0)), 0.0, 1.0)


def render(pose_2d_px: np.ndarray, size: int, *, style: RenderStyle | None = None) -> np.ndarray:
  """Draws one stick figure per frame.

  Args:
    pose_2d_px: (T, 18, 2) COCO-18 joints in pixel coordinates of a `size` x `size` image,
      x to the right and y down, pixel centres at 0.5, 1.5, ... Joints may lie outside the
      image; what falls outside is clipped.
    size: image side in pixels.
    style: gray levels and thickness; defaults to `RenderStyle()`.

  Returns:
    (T, size, size) uint8 grayscale frames.
  """
  style = style or RenderStyle()
  pose_2d_px = np.asarray(pose_2d_px)
  if pose_2d_px.ndim != 3 or pose_2d_px.shape[1:] != (len(skeleton.COCO_JOINTS), 2):
    raise ValueError(
      f'pose_2d_px must have shape (T, {len(skeleton.COCO_JOINTS)}, 2), got {pose_2d_px.shape}'
    )
  if not np.all(np.isfinite(pose_2d_px)):
    raise ValueError('pose_2d_px contains non-finite values')
  if not isinstance(size, (int, np.integer)) or size < 4:
    raise ValueError(f'size must be an integer >= 4, got {size!r}')
  joints = pose_2d_px.astype(np.float32)
  centres = np.arange(size, dtype=np.float32) + 0.5
  half_width = 0.5 * style.line_width * size
  head_radius = style.head_radius * size

  frames = np.full((joints.shape[0], size, size), style.background, np.float32)
  for bones, level in zip(
    _bone_groups(), (style.trunk_level, style.left_level, style.right_level), strict=True
  ):
    sq_distance = _min_sq_distance_to_segments(
      joints[:, bones[:, 0]], joints[:, bones[:, 1]], centres
    )
    np.maximum(frames, level * _coverage(sq_distance, half_width), out=frames)

  head_points = [skeleton.joint_index(name, 'coco') for name in _HEAD_POINTS]
  head = joints[:, head_points].mean(axis=1)  # (T, 2)
  head_sq_distance = (centres[None, None, :] - head[:, 0, None, None]) ** 2 + (
    centres[None, :, None] - head[:, 1, None, None]
  ) ** 2
  np.maximum(frames, style.trunk_level * _coverage(head_sq_distance, head_radius), out=frames)
  return np.round(frames * 255.0).astype(np.uint8)
