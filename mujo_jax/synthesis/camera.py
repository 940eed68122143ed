"""A random pinhole camera that films a synthetic clip: 3D world pose -> 2D COCO-18 keypoints.

Fitness videos are filmed from a fixed tripod in front of or beside the person (rarely from
behind), roughly at chest height, a few metres away, sometimes slightly tilted.
`sample_viewpoint` draws such a viewpoint (azimuth around the direction the subject faces, any
azimuth now and then, elevation, distance, small roll); `project` applies a true
perspective projection, so depth foreshortening and the side the subject faces are real cues in
the 2D pose and the video, as they are in OpenPose output of real footage.

Like a camera operator, the camera then frames the clip: it looks at the centre of the space the
body occupies during the clip and picks the focal length so that the whole clip fits the image
with a random margin. This keeps a 32 px stick figure large enough to see while its size and
position still vary between clips. One camera per clip: it does not move while filming.

Image coordinates: normalised to [0, 1] with x to the right and y down (the image's top-left
corner is (0, 0)); pixel coordinates are the normalised ones times the image size, pixel centres
at 0.5, 1.5, ... Camera frame: x right, y down, z forward (the viewing direction).
"""

from __future__ import annotations

import dataclasses

import numpy as np

_WORLD_UP = np.array([0.0, 0.0, 1.0])


@dataclasses.dataclass(frozen=True, kw_only=True)
class CameraRanges:
  """Ranges the random viewpoint is drawn from (angles in degrees, distances in metres).

  Attributes:
    azimuth_spread_deg: half-width of the uniform azimuth range around the direction the
      subject faces (60: front and oblique views; side views come from the lying exercises,
      which are filmed from the side, and from `any_azimuth_probability`).
    any_azimuth_probability: chance of a viewpoint anywhere around the subject instead.
    elevation_deg: camera height angle above the target (negative: looking up).
    distance_m: camera distance to the target.
    roll_deg: standard deviation of the roll about the viewing axis (a tilted phone).
    fill: fraction of the image side that the clip's bounding box spans (its larger side).
    max_shift: largest offset of the framed box from the image centre, as a fraction of the
      margin left around it.
  """

  azimuth_spread_deg: float = 60.0
  any_azimuth_probability: float = 0.1
  elevation_deg: tuple[float, float] = (-5.0, 25.0)
  distance_m: tuple[float, float] = (2.5, 5.0)
  roll_deg: float = 3.0
  fill: tuple[float, float] = (0.7, 0.92)
  max_shift: float = 0.8

  def __post_init__(self):
    for name in ('elevation_deg', 'distance_m', 'fill'):
      low, high = getattr(self, name)
      if not low <= high:
        raise ValueError(f'CameraRanges.{name} must be (low, high) with low <= high')
    if not (-80.0 <= self.elevation_deg[0] and self.elevation_deg[1] <= 80.0):
      raise ValueError(
        f'CameraRanges.elevation_deg must lie in [-80, 80], got {self.elevation_deg}'
      )
    if self.distance_m[0] <= 0:
      raise ValueError(f'CameraRanges.distance_m must be > 0, got {self.distance_m}')
    if not (0 < self.fill[0] and self.fill[1] <= 1.0):
      raise ValueError(f'CameraRanges.fill must lie in (0, 1], got {self.fill}')
    if not 0 <= self.azimuth_spread_deg <= 180:
      raise ValueError(
        f'CameraRanges.azimuth_spread_deg must lie in [0, 180], got {self.azimuth_spread_deg}'
      )
    if not 0 <= self.any_azimuth_probability <= 1:
      raise ValueError(
        'CameraRanges.any_azimuth_probability must lie in [0, 1], '
        f'got {self.any_azimuth_probability}'
      )
    if self.roll_deg < 0 or not 0 <= self.max_shift <= 1:
      raise ValueError('CameraRanges.roll_deg must be >= 0 and max_shift in [0, 1]')


@dataclasses.dataclass(frozen=True, kw_only=True)
class Viewpoint:
  """Where the camera stands relative to the point it looks at (before framing).

  Attributes:
    azimuth_rad: direction from the target to the camera in the world xy plane, measured
      from +x towards +y.
    elevation_rad: angle of the camera above the target's horizontal plane.
    distance_m: distance from the target.
    roll_rad: rotation of the image about the viewing axis.
  """

  azimuth_rad: float
  elevation_rad: float
  distance_m: float
  roll_rad: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class Camera:
  """A posed pinhole camera with square pixels, in normalised image units.

  Attributes:
    position: (3,) camera centre, world metres.
    rotation: (3, 3) world -> camera rotation; rows are the camera x (right), y (down) and
      z (forward) axes in world coordinates.
    focal: focal length as a fraction of the image side.
    principal_point: (2,) image point of the optical axis, normalised coordinates.
  """

  position: np.ndarray
  rotation: np.ndarray
  focal: float
  principal_point: np.ndarray


def sample_viewpoint(
  rng: np.random.Generator,
  ranges: CameraRanges | None = None,
  facing_rad: float | None = None,
) -> Viewpoint:
  """Draws a random viewpoint.

  Args:
    rng: random generator; a fixed number of values is drawn whatever the arguments.
    ranges: where the values are drawn from.
    facing_rad: azimuth (world, from +x towards +y) that the subject faces, i.e. where the
      camera sees them from the front; None draws any azimuth.
  """
  ranges = ranges or CameraRanges()
  anywhere = rng.uniform(0.0, 2.0 * np.pi)
  relative = np.deg2rad(rng.uniform(-ranges.azimuth_spread_deg, ranges.azimuth_spread_deg))
  use_anywhere = rng.random() < ranges.any_azimuth_probability
  if facing_rad is None or use_anywhere:
    azimuth = anywhere
  else:
    azimuth = float(np.mod(facing_rad + relative, 2.0 * np.pi))
  return Viewpoint(
    azimuth_rad=float(azimuth),
    elevation_rad=float(np.deg2rad(rng.uniform(*ranges.elevation_deg))),
    distance_m=float(rng.uniform(*ranges.distance_m)),
    roll_rad=float(np.deg2rad(rng.normal(0.0, ranges.roll_deg))),
  )


def look_at(target: np.ndarray, viewpoint: Viewpoint) -> tuple[np.ndarray, np.ndarray]:
  """Camera position and world->camera rotation for a camera at `viewpoint` around `target`.

  Returns:
    position (3,) and rotation (3, 3) whose rows are the camera right, down and forward axes.
  """
  target = np.asarray(target, dtype=np.float64)
  cos_el = np.cos(viewpoint.elevation_rad)
  offset = viewpoint.distance_m * np.array(
    [
      cos_el * np.cos(viewpoint.azimuth_rad),
      cos_el * np.sin(viewpoint.azimuth_rad),
      np.sin(viewpoint.elevation_rad),
    ]
  )
  position = target + offset
  forward = -offset / np.linalg.norm(offset)
  right = np.cross(forward, _WORLD_UP)
  right /= np.linalg.norm(right)  # |elevation| < 90 deg, so forward is never vertical.
  down = np.cross(forward, right)
  # Roll: rotate the image axes about the viewing axis.
  cos_r, sin_r = np.cos(viewpoint.roll_rad), np.sin(viewpoint.roll_rad)
  right, down = cos_r * right + sin_r * down, -sin_r * right + cos_r * down
  return position, np.stack([right, down, forward])


def _to_camera(points: np.ndarray, position: np.ndarray, rotation: np.ndarray) -> np.ndarray:
  camera_points = (points - position) @ rotation.T
  depth = camera_points[..., 2]
  if np.any(depth <= 1e-3):
    raise ValueError(
      f'points lie behind or at the camera (min depth {depth.min():.3f} m); the camera '
      'must stand outside the space the body occupies'
    )
  return camera_points


def project(points: np.ndarray, camera: Camera) -> np.ndarray:
  """Perspective projection of world points (..., 3) to normalised image points (..., 2)."""
  points = np.asarray(points, dtype=np.float64)
  if points.shape[-1] != 3:
    raise ValueError(f'points must have shape (..., 3), got {points.shape}')
  camera_points = _to_camera(points, camera.position, camera.rotation)
  return camera.principal_point + camera.focal * (camera_points[..., :2] / camera_points[..., 2:3])


def frame_clip(
  points_world: np.ndarray,
  rng: np.random.Generator,
  ranges: CameraRanges | None = None,
  viewpoint: Viewpoint | None = None,
  facing_rad: float | None = None,
) -> Camera:
  """A camera that films all of `points_world` (T, J, 3) from a random viewpoint.

  `viewpoint` fixes the viewpoint; otherwise one is drawn with `sample_viewpoint(rng, ranges,
  facing_rad)`.

  Pass the points that will be drawn (e.g. the COCO-18 joints of the whole clip). The camera
  looks at the centre of their 3D bounding box; the focal length and principal point are
  chosen so that the projected bounding box over all frames spans a random `fill` of the image
  (its larger side) and sits at a random offset within the remaining margin.
  """
  ranges = ranges or CameraRanges()
  points_world = np.asarray(points_world, dtype=np.float64)
  if points_world.ndim != 3 or points_world.shape[-1] != 3 or points_world.shape[0] < 1:
    raise ValueError(
      f'points_world must have shape (T, J, 3) with T >= 1, got {points_world.shape}'
    )
  if not np.all(np.isfinite(points_world)):
    raise ValueError('points_world contains non-finite values')
  viewpoint = viewpoint or sample_viewpoint(rng, ranges, facing_rad)
  # Draw the framing numbers unconditionally so the random stream does not depend on the pose.
  fill = rng.uniform(*ranges.fill)
  shift = rng.uniform(-ranges.max_shift, ranges.max_shift, size=2)

  flat = points_world.reshape(-1, 3)
  target = 0.5 * (flat.min(axis=0) + flat.max(axis=0))
  position, rotation = look_at(target, viewpoint)
  camera_points = _to_camera(flat, position, rotation)
  image_points = camera_points[:, :2] / camera_points[:, 2:3]  # focal 1, centre 0
  low, high = image_points.min(axis=0), image_points.max(axis=0)
  extent = max(float(np.max(high - low)), 1e-6)
  focal = fill / extent
  box_centre = 0.5 * (low + high) * focal
  margin = 0.5 * (1.0 - (high - low) * focal)  # per axis, >= 0 since fill <= 1
  principal_point = 0.5 - box_centre + shift * margin
  return Camera(position=position, rotation=rotation, focal=focal, principal_point=principal_point)


def to_pixels(points_normalised: np.ndarray, image_size: int) -> np.ndarray:
  """Normalised image coordinates -> pixel coordinates of a square `image_size` image."""
  return np.asarray(points_normalised) * float(image_size)
