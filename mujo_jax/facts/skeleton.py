"""Joint layouts (Human3.6M-17, COCO-18), the H36M->COCO mapping and forward kinematics.

Every other module names joints through this one (ARCHITECTURE.md), so a side convention or a
joint order is fixed in exactly one place.

Conventions: metres; world frame z up (gravity along -z). The rest pose is expressed in a body
frame with x = forward (anterior), y = the subject's left, z = up; it stands upright with the
arms hanging at the sides, the pelvis at the origin.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

H36M_JOINTS: tuple[str, ...] = (
  'pelvis',
  'right_hip',
  'right_knee',
  'right_ankle',
  'left_hip',
  'left_knee',
  'left_ankle',
  'spine',
  'thorax',
  'neck',  # VideoPose3D's "neck/nose": sits at the nose, in front of the head axis.
  'head',  # Top of the head.
  'left_shoulder',
  'left_elbow',
  'left_wrist',
  'right_shoulder',
  'right_elbow',
  'right_wrist',
)
NUM_H36M_JOINTS = len(H36M_JOINTS)

# Parent of each joint (-1 for the root). Parents precede children, so a single forward pass in
# index order is a valid traversal of the tree.
H36M_PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)

# (parent, child) pairs: the 16 bones of the tree.
H36M_BONES: tuple[tuple[int, int], ...] = tuple(
  (parent, child) for child, parent in enumerate(H36M_PARENTS) if parent >= 0
)

COCO_JOINTS: tuple[str, ...] = (
  'nose',
  'neck',
  'right_shoulder',
  'right_elbow',
  'right_wrist',
  'left_shoulder',
  'left_elbow',
  'left_wrist',
  'right_hip',
  'right_knee',
  'right_ankle',
  'left_hip',
  'left_knee',
  'left_ankle',
  'right_eye',
  'left_eye',
  'right_ear',
  'left_ear',
)
NUM_COCO_JOINTS = len(COCO_JOINTS)

# OpenPose's COCO-18 limbs, for drawing.
COCO_BONES: tuple[tuple[int, int], ...] = (
  (1, 0),
  (1, 2),
  (2, 3),
  (3, 4),
  (1, 5),
  (5, 6),
  (6, 7),
  (1, 8),
  (8, 9),
  (9, 10),
  (1, 11),
  (11, 12),
  (12, 13),
  (0, 14),
  (14, 16),
  (0, 15),
  (15, 17),
)

_LAYOUTS = {'h36m': H36M_JOINTS, 'coco': COCO_JOINTS}
_INDEX = {layout: {name: i for i, name in enumerate(names)} for layout, names in _LAYOUTS.items()}

# Height of the ankle joint above the floor when the foot is flat (metres).
ANKLE_HEIGHT = 0.08

# Unit direction of each bone (parent -> joint) in the rest pose, body frame (x fwd, y left,
# z up). Row 0 (the root) is unused.
_REST_DIRECTIONS = np.array(
  [
    [0.0, 0.0, 0.0],  # pelvis (root)
    [0.0, -1.0, 0.0],  # right_hip
    [0.0, 0.0, -1.0],  # right_knee
    [0.0, 0.0, -1.0],  # right_ankle
    [0.0, 1.0, 0.0],  # left_hip
    [0.0, 0.0, -1.0],  # left_knee
    [0.0, 0.0, -1.0],  # left_ankle
    [0.0, 0.0, 1.0],  # spine
    [0.0, 0.0, 1.0],  # thorax
    [0.35, 0.0, 0.94],  # neck (nose)
    [-0.25, 0.0, 0.97],  # head (top)
    [0.0, 0.985, -0.17],  # left_shoulder
    [0.0, 0.0, -1.0],  # left_elbow
    [0.0, 0.0, -1.0],  # left_wrist
    [0.0, -0.985, -0.17],  # right_shoulder
    [0.0, 0.0, -1.0],  # right_elbow
    [0.0, 0.0, -1.0],  # right_wrist
  ]
)
_REST_DIRECTIONS[1:] /= np.linalg.norm(_REST_DIRECTIONS[1:], axis=-1, keepdims=True)
REST_DIRECTIONS: np.ndarray = _REST_DIRECTIONS
REST_DIRECTIONS.setflags(write=False)

# Bone lengths (parent -> joint, metres) of a ~1.75 m adult; row 0 is unused (0).
DEFAULT_BONE_LENGTHS: np.ndarray = np.array(
  [
    0.0,
    0.12,
    0.44,
    0.42,
    0.12,
    0.44,
    0.42,
    0.23,
    0.25,
    0.17,
    0.12,
    0.17,
    0.29,
    0.26,
    0.17,
    0.29,
    0.26,
  ]
)
DEFAULT_BONE_LENGTHS.setflags(write=False)


def joint_index(name: str, layout: str = 'h36m') -> int:
  """Returns the index of a joint name in a layout ('h36m' or 'coco').

  Raises:
    ValueError: for an unknown layout or joint name; the message lists the valid names.
  """
  if layout not in _INDEX:
    raise ValueError(f'Unknown joint layout {layout!r}; expected one of {sorted(_INDEX)}.')
  try:
    return _INDEX[layout][name]
  except (KeyError, TypeError):
    raise ValueError(
      f'Unknown {layout} joint {name!r}; expected one of {", ".join(_LAYOUTS[layout])}.'
    ) from None


def rest_offsets(bone_lengths: np.ndarray | Mapping[str, float] | None = None) -> np.ndarray:
  """Returns rest-pose bone offsets (17, 3): joint position minus parent position, body frame.

  Args:
    bone_lengths: length of the bone ending at each joint, either an array (17,) (entry 0
      ignored) or a mapping from joint name to length overriding `DEFAULT_BONE_LENGTHS`.
      None gives the defaults.
  """
  if bone_lengths is None:
    lengths = np.array(DEFAULT_BONE_LENGTHS)
  elif isinstance(bone_lengths, Mapping):
    lengths = np.array(DEFAULT_BONE_LENGTHS)
    for name, length in bone_lengths.items():
      lengths[joint_index(name)] = length
  else:
    lengths = np.asarray(bone_lengths, dtype=np.float64)
    if lengths.shape != (NUM_H36M_JOINTS,):
      raise ValueError(f'bone_lengths must have shape (17,), got {lengths.shape}.')
  if not np.all(np.isfinite(lengths[1:])) or np.any(lengths[1:] <= 0):
    raise ValueError(f'bone lengths must be finite and > 0, got {lengths[1:]}.')
  offsets = REST_DIRECTIONS * lengths[:, None]
  offsets[0] = 0.0
  return offsets


def forward_kinematics(
  local_rotations: np.ndarray,
  bone_offsets: np.ndarray,
  root_position: np.ndarray,
  root_rotation: np.ndarray | None = None,
) -> np.ndarray:
  """Joint positions from per-joint local rotations (the H36M tree, vectorised over time).

  Each joint carries a frame. The world rotation of joint j is
  `W[j] = W[parent(j)] @ local_rotations[j]` (for the root: `root_rotation @ local[0]`), and
  its position is `p[j] = p[parent(j)] + W[parent(j)] @ bone_offsets[j]`. So the rotation at a
  joint swings the bones *below* it: bending the knee is `local_rotations[right_knee]`, which
  moves the ankle. With identity rotations the result is the rest pose at `root_position`.

  Args:
    local_rotations: (..., 17, 3, 3) rotation matrices, each relative to the parent frame.
    bone_offsets: (17, 3) rest offsets (see `rest_offsets`), metres; row 0 is ignored.
    root_position: (..., 3) world position of the pelvis, metres.
    root_rotation: (..., 3, 3) body->world rotation, e.g. heading or lying down; None = I.

  Returns:
    (..., 17, 3) world joint positions.
  """
  local_rotations = np.asarray(local_rotations, dtype=np.float64)
  bone_offsets = np.asarray(bone_offsets, dtype=np.float64)
  root_position = np.asarray(root_position, dtype=np.float64)
  if local_rotations.shape[-3:] != (NUM_H36M_JOINTS, 3, 3):
    raise ValueError(
      f'local_rotations must have shape (..., 17, 3, 3), got {local_rotations.shape}.'
    )
  if bone_offsets.shape != (NUM_H36M_JOINTS, 3):
    raise ValueError(f'bone_offsets must have shape (17, 3), got {bone_offsets.shape}.')
  batch_shape = local_rotations.shape[:-3]
  if root_position.shape != batch_shape + (3,):
    raise ValueError(
      f'root_position must have shape {batch_shape + (3,)}, got {root_position.shape}.'
    )
  world_root = local_rotations[..., 0, :, :]
  if root_rotation is not None:
    root_rotation = np.asarray(root_rotation, dtype=np.float64)
    if root_rotation.shape != batch_shape + (3, 3):
      raise ValueError(
        f'root_rotation must have shape {batch_shape + (3, 3)}, got {root_rotation.shape}.'
      )
    world_root = root_rotation @ world_root

  world_rotations = [world_root]
  positions = [root_position]
  for joint in range(1, NUM_H36M_JOINTS):
    parent = H36M_PARENTS[joint]
    parent_rotation = world_rotations[parent]
    positions.append(positions[parent] + parent_rotation @ bone_offsets[joint])
    world_rotations.append(parent_rotation @ local_rotations[..., joint, :, :])
  return np.stack(positions, axis=-2)


def _normalize(vectors: np.ndarray, eps: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
  norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
  return vectors / np.maximum(norms, eps), norms[..., 0]


# Face landmarks relative to the nose, as multiples of the nose->head-top distance (~0.12 m),
# in the head frame (forward, left, up). Typical adult head proportions.
_EYE_OFFSET = np.array([-0.10, 0.27, 0.30])
_EAR_OFFSET = np.array([-0.80, 0.62, 0.10])


def h36m_to_coco(pose: np.ndarray) -> np.ndarray:
  """Maps H36M-17 joints (..., 17, 3) to OpenPose COCO-18 joints (..., 18, 3).

  Body joints map one to one; COCO's nose is H36M's neck/nose joint and COCO's neck is the
  midpoint of the shoulders (OpenPose's definition). H36M has no eyes or ears, so they are
  placed in a head frame: up = nose -> head top, forward = the part of thorax -> nose
  orthogonal to up, left = up x forward; where forward degenerates (nose on the head axis)
  the shoulder line gives left instead. Eyes sit slightly above and beside the nose, ears
  behind it, scaled by the nose-to-head-top distance, so the 2D projection looks like
  OpenPose's output.
  """
  pose = np.asarray(pose, dtype=np.float64)
  if pose.shape[-2:] != (NUM_H36M_JOINTS, 3):
    raise ValueError(f'pose must have shape (..., 17, 3), got {pose.shape}.')
  j = _INDEX['h36m']
  nose, head_top = pose[..., j['neck'], :], pose[..., j['head'], :]
  thorax = pose[..., j['thorax'], :]
  left_shoulder = pose[..., j['left_shoulder'], :]
  right_shoulder = pose[..., j['right_shoulder'], :]

  up, head_size = _normalize(head_top - nose)
  to_nose = nose - thorax
  forward_raw = to_nose - np.sum(to_nose * up, -1, keepdims=True) * up
  forward, forward_norm = _normalize(forward_raw)
  left = np.cross(up, forward)
  # Fallback where the nose lies on the head axis: the shoulder line gives left.
  shoulder_line = left_shoulder - right_shoulder
  shoulder_line = shoulder_line - np.sum(shoulder_line * up, -1, keepdims=True) * up
  left_fallback, _ = _normalize(shoulder_line)
  degenerate = (forward_norm < 1e-3 * np.maximum(head_size, 1e-9))[..., None]
  left = np.where(degenerate, left_fallback, left)
  forward = np.where(degenerate, np.cross(left, up), forward)

  scale = head_size[..., None]

  def landmark(offset: np.ndarray, side: float) -> np.ndarray:
    return nose + scale * (offset[0] * forward + side * offset[1] * left + offset[2] * up)

  coco = np.empty(pose.shape[:-2] + (NUM_COCO_JOINTS, 3))
  c = _INDEX['coco']
  coco[..., c['nose'], :] = nose
  coco[..., c['neck'], :] = 0.5 * (left_shoulder + right_shoulder)
  for name in ('shoulder', 'elbow', 'wrist', 'hip', 'knee', 'ankle'):
    for side in ('left', 'right'):
      coco[..., c[f'{side}_{name}'], :] = pose[..., j[f'{side}_{name}'], :]
  coco[..., c['left_eye'], :] = landmark(_EYE_OFFSET, 1.0)
  coco[..., c['right_eye'], :] = landmark(_EYE_OFFSET, -1.0)
  coco[..., c['left_ear'], :] = landmark(_EAR_OFFSET, 1.0)
  coco[..., c['right_ear'], :] = landmark(_EAR_OFFSET, -1.0)
  return coco
