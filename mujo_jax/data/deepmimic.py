"""Real motion capture as an evaluation set: pybullet's bundled DeepMimic clips as H36M-17 pose.

The clips (`pybullet_data/data/motions/humanoid3d_*.txt`, from the DeepMimic paper, Peng et al.
2018) are retargeted motion capture of real performers, so they test the pose tower and the
virtual IMU on human motion that our procedural generator did not make. They install with the
`pybullet` wheel; nothing is downloaded at run time.

Format (read from pybullet's own `pybullet_envs/deep_mimic/env/humanoid_pose_interpolator.py`):
JSON with `Loop` ('wrap' or 'none') and `Frames`, each frame 44 floats: the frame's duration (s),
the root position xyz, the root rotation (w-first quaternion, world), then joint rotations
relative to the parent link, in this order: chest, neck, right_hip (quaternions), right_knee
(angle), right_ankle, right_shoulder (quaternions), right_elbow (angle), left_hip (quaternion),
left_knee (angle), left_ankle, left_shoulder (quaternions), left_elbow (angle). Knees and elbows
are revolute about their link's z axis. World Y is up, the character faces +X at rest and its
right side is +Z (the urdf puts `right_hip` at +Z).

Skeleton: the joint offsets are read from `pybullet_data/humanoid/humanoid.urdf` at run time,
scaled by 0.25 as pybullet's DeepMimic environment loads it (`globalScaling=0.25`), which gives
a 1.6 m tall character: thigh 0.42 m, shin 0.41 m, upper arm 0.27 m, forearm 0.26 m.
Forward kinematics composes the link rotations from the root; positions are converted to the
project's world frame (x = X, y = -Z, z = Y: z up, and at rest y is the character's left).

H36M-17 joints: pelvis = root, hips/knees/ankles/shoulders/elbows/wrists = the urdf joints of
the same name and side, spine = the chest joint (0.24 m above the pelvis), thorax = the neck
joint (base of the neck, at shoulder height), neck (VideoPose3D's nose) and head (top of the
head) = points of the neck link: the head sphere's centre lies 0.175 m above the neck joint
with radius 0.1025 m, so the nose is 0.09 m forward and 0.16 m up and the head top 0.2775 m up.

Clips ('wrap' loops are tiled: each repeat is shifted by the clip's horizontal root
displacement so the performer keeps travelling, as DeepMimic's own looping does; 'none' clips are
padded by holding their first and last frame):
"""

from __future__ import annotations

import functools
import importlib.util
import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np

from mujo_jax.facts import skeleton, virtual_imu
from mujo_jax.facts.resample import resample
from mujo_jax.facts.sites import SYNTHETIC_IMU_SITES

# Clip name -> activity class. The dance clips are two recordings of one class.
CLIP_ACTIVITIES: dict[str, str] = {
  'walk': 'walk',
  'run': 'run',
  'jump': 'jump',
  'kick': 'kick',
  'punch': 'punch',
  'spinkick': 'spinkick',
  'spin': 'spin',
  'cartwheel': 'cartwheel',
  'backflip': 'backflip',
  'roll': 'roll',
  'crawl': 'crawl',
  'dance_a': 'dance',
  'dance_b': 'dance',
  'getup_facedown': 'getup',
  'getup_faceup': 'getup',
}
CLIPS: tuple[str, ...] = tuple(CLIP_ACTIVITIES)
CLASS_NAMES: tuple[str, ...] = tuple(dict.fromkeys(CLIP_ACTIVITIES.values()))
__doc__ += ''.join(f'\n- `{name}`: {activity}' for name, activity in CLIP_ACTIVITIES.items())

URDF_SCALE = 0.25
POSE_FPS = 30.0
IMU_RATE_HZ = 50.0
IMU_SITES: tuple[str, ...] = SYNTHETIC_IMU_SITES

# The spherical/revolute joints in the order of a frame's values, with their value count.
_FRAME_JOINTS: tuple[tuple[str, int], ...] = (
  ('chest', 4),
  ('neck', 4),
  ('right_hip', 4),
  ('right_knee', 1),
  ('right_ankle', 4),
  ('right_shoulder', 4),
  ('right_elbow', 1),
  ('left_hip', 4),
  ('left_knee', 1),
  ('left_ankle', 4),
  ('left_shoulder', 4),
  ('left_elbow', 1),
)
FRAME_SIZE = 8 + sum(n for _, n in _FRAME_JOINTS)
# Points of the neck link in metres (DeepMimic axes: X forward, Y up), for the nose and head top.
_NECK_LINK_POINTS = {'neck': (0.09, 0.16, 0.0), 'head': (0.0, 0.2775, 0.0)}
# H36M joint -> urdf joint whose origin it is ('root' is the root link's origin).
_H36M_TO_URDF: dict[str, str] = {
  'pelvis': 'root',
  'right_hip': 'right_hip',
  'right_knee': 'right_knee',
  'right_ankle': 'right_ankle',
  'left_hip': 'left_hip',
  'left_knee': 'left_knee',
  'left_ankle': 'left_ankle',
  'spine': 'chest',
  'thorax': 'neck',
  'left_shoulder': 'left_shoulder',
  'left_elbow': 'left_elbow',
  'left_wrist': 'left_wrist',
  'right_shoulder': 'right_shoulder',
  'right_elbow': 'right_elbow',
  'right_wrist': 'right_wrist',
}
# DeepMimic (X, Y up, Z right) -> project world (x, y left, z up).
_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def _pybullet_data() -> Path:
  spec = importlib.util.find_spec('pybullet_data')
  if spec is None or spec.origin is None:
    raise ModuleNotFoundError(
      'DeepMimic clips need the pybullet package: pip install "mujo_jax[eval-real]"'
    )
  return Path(spec.origin).parent


def clip_path(name: str) -> Path:
  """The bundled file of clip `name` (one of `CLIPS`)."""
  if name not in CLIP_ACTIVITIES:
    raise ValueError(f'unknown DeepMimic clip {name!r}; expected one of {", ".join(CLIPS)}')
  return _pybullet_data() / 'data' / 'motions' / f'humanoid3d_{name}.txt'


@functools.cache
def urdf_joints() -> dict[str, tuple[str, np.ndarray]]:
  """Urdf joint name -> (parent joint name, offset in the parent link frame, metres).

  Link and joint names coincide in this urdf, so the parent link names the parent joint. The
  shipped file ends in a NUL byte, which an XML parser refuses; it is dropped.
  """
  text = (_pybullet_data() / 'humanoid' / 'humanoid.urdf').read_text().replace('\0', '')
  root = ElementTree.fromstring(text)
  joints = {}
  for joint in root.iter('joint'):
    name = joint.get('name')
    if name == 'root':
      continue
    parent = joint.find('parent').get('link')
    xyz = np.array([float(v) for v in joint.find('origin').get('xyz').split()])
    joints[name] = (parent, xyz * URDF_SCALE)
  return joints


def load_clip(name: str) -> tuple[np.ndarray, float, bool]:
  """Frames (N, 44) float64, their frame rate (Hz) and whether the clip loops."""
  data = json.loads(clip_path(name).read_text())
  frames = np.asarray(data['Frames'], np.float64)
  if frames.ndim != 2 or frames.shape[1] != FRAME_SIZE:
    raise ValueError(
      f'{clip_path(name)}: expected frames of {FRAME_SIZE} values, got {frames.shape}'
    )
  fps = 1.0 / float(np.median(frames[:-1, 0]))
  return frames, fps, data.get('Loop') == 'wrap'


def _quat_matrix(q: np.ndarray) -> np.ndarray:
  """(..., 4) w-first quaternions -> (..., 3, 3) rotation matrices (normalised first)."""
  q = q / np.linalg.norm(q, axis=-1, keepdims=True)
  w, x, y, z = np.moveaxis(q, -1, 0)
  return np.stack(
    [
      np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
      np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
      np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ],
    -2,
  )


def _z_rotation(angle: np.ndarray) -> np.ndarray:
  c, s = np.cos(angle), np.sin(angle)
  zero, one = np.zeros_like(angle), np.ones_like(angle)
  return np.stack(
    [np.stack([c, -s, zero], -1), np.stack([s, c, zero], -1), np.stack([zero, zero, one], -1)], -2
  )


def forward_kinematics(frames: np.ndarray) -> np.ndarray:
  """Frames (N, 44) -> H36M-17 joint positions (N, 17, 3), metres, world, z up."""
  joints = urdf_joints()
  rotations = {'root': _quat_matrix(frames[:, 4:8])}
  positions = {'root': frames[:, 1:4]}
  local, column = {}, 8
  for name, size in _FRAME_JOINTS:
    values = frames[:, column : column + size]
    local[name] = _quat_matrix(values) if size == 4 else _z_rotation(values[:, 0])
    column += size
  pending = [name for name in joints]
  while pending:
    for name in list(pending):
      parent, offset = joints[name]
      if parent not in rotations:
        continue
      positions[name] = positions[parent] + rotations[parent] @ offset
      rotations[name] = rotations[parent] @ local[name] if name in local else rotations[parent]
      pending.remove(name)
  out = np.empty((len(frames), skeleton.NUM_H36M_JOINTS, 3))
  for index, joint in enumerate(skeleton.H36M_JOINTS):
    if joint in _H36M_TO_URDF:
      out[:, index] = positions[_H36M_TO_URDF[joint]]
    else:
      point = np.asarray(_NECK_LINK_POINTS[joint])
      out[:, index] = positions['neck'] + rotations['neck'] @ point
  return out @ _TO_Z_UP.T


def clip_pose(name: str, duration_s: float | None = None, fps: float = POSE_FPS) -> np.ndarray:
  """Clip `name` as world-frame H36M-17 pose (T, 17, 3) at `fps`, z up, floor at z = 0.

  Args:
    name: one of `CLIPS`.
    duration_s: length to tile ('wrap' clips) or pad with held end frames ('none' clips) to;
      None keeps the clip's own length.
    fps: output frame rate.
  """
  frames, clip_fps, loops = load_clip(name)
  pose = forward_kinematics(frames)
  times = np.concatenate([[0.0], np.cumsum(frames[:-1, 0])])
  if not np.allclose(np.diff(times), 1.0 / clip_fps, rtol=1e-3):
    # A few clips (roll) skip a frame: put them on a uniform grid before resampling.
    uniform = np.arange(round(times[-1] * clip_fps) + 1) / clip_fps
    flat = pose.reshape(len(pose), -1)
    pose = np.stack([np.interp(uniform, times, column) for column in flat.T], -1)
    pose = pose.reshape(len(uniform), skeleton.NUM_H36M_JOINTS, 3)
  if duration_s is not None:
    needed = int(np.ceil(duration_s * clip_fps)) + 1
    if len(pose) < needed and loops:
      # The last frame equals the next cycle's first: each cycle adds len - 1 frames.
      cycle = pose[:-1]
      shift = pose[-1, 0] - pose[0, 0]
      shift[2] = 0.0
      repeats = int(np.ceil((needed - 1) / len(cycle))) + 1
      pose = np.concatenate([cycle + k * shift for k in range(repeats)])[:needed]
    elif len(pose) < needed:
      before = (needed - len(pose)) // 2
      after = needed - len(pose) - before
      pose = np.concatenate([np.repeat(pose[:1], before, 0), pose, np.repeat(pose[-1:], after, 0)])
  return resample(pose, clip_fps, fps).astype(np.float32)


def windows(
  window_s: float = 5.0,
  hop_s: float | None = None,
  imu_rate_hz: float = IMU_RATE_HZ,
  pose_fps: float = POSE_FPS,
  clips: tuple[str, ...] = CLIPS,
  sites: tuple[str, ...] = IMU_SITES,
) -> dict[str, object]:
  """Every clip's windows in the batch schema, with the virtual IMU of the same motion.

  Each clip is tiled or padded to max(window_s, its length) seconds and cut into windows of
  `window_s` every `hop_s` (default: window_s, i.e. one window per clip unless it is longer).

  Returns:
    `pose` (N, T30, 17, 3) float32 pelvis-relative, world axes; `imu` (N, T50, S, 6) float32;
    `imu_sites` (N, S) bool; `label` (N,) int32 into `class_names`; `group` (N,) int32, the
    clip index (windows of one clip are one performance: keep them in one fold); `clip`
    (N,) str; `class_names` tuple; `sites` tuple.
  """
  hop_s = window_s if hop_s is None else hop_s
  if window_s <= 0 or hop_s <= 0:
    raise ValueError(f'window_s and hop_s must be > 0, got {window_s}, {hop_s}')
  pose_len = round(window_s * pose_fps)
  imu_len = round(window_s * imu_rate_hz)
  out: dict[str, list] = {'pose': [], 'imu': [], 'label': [], 'group': [], 'clip': []}
  for group, name in enumerate(clips):
    frames, clip_fps, _ = load_clip(name)
    length_s = max(window_s, (len(frames) - 1) / clip_fps)
    pose = clip_pose(name, length_s, pose_fps)
    imu = virtual_imu.from_pose(pose, pose_fps, sites, imu_rate_hz)
    start = 0.0
    while round(start * pose_fps) + pose_len <= len(pose):
      p0, i0 = round(start * pose_fps), round(start * imu_rate_hz)
      window_pose = pose[p0 : p0 + pose_len]
      pelvis = window_pose[:, skeleton.joint_index('pelvis')][:, None]
      out['pose'].append(window_pose - pelvis)
      out['imu'].append(imu[i0 : i0 + imu_len])
      out['label'].append(CLASS_NAMES.index(CLIP_ACTIVITIES[name]))
      out['group'].append(group)
      out['clip'].append(name)
      start += hop_s
  n = len(out['label'])
  return {
    'pose': np.stack(out['pose']).astype(np.float32),
    'imu': np.stack(out['imu']).astype(np.float32),
    'imu_sites': np.ones((n, len(sites)), bool),
    'label': np.asarray(out['label'], np.int32),
    'group': np.asarray(out['group'], np.int32),
    'clip': np.asarray(out['clip']),
    'class_names': CLASS_NAMES,
    'sites': tuple(sites),
  }
