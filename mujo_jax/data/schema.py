"""The batch schema: the contract between the data pipeline and the model (ARCHITECTURE.md).

A batch is a flat dict of numpy arrays whose leading axis is the batch. `batch_spec` says, for a
resolved pretraining config, which keys a batch has and their shapes and dtypes; everything that
builds or checks batches (initialisation, the pipeline's tests, benchmarks) asks it.
"""

from __future__ import annotations

import jax
import ml_collections
import numpy as np

POSE_JOINTS = 17  # Human3.6M-17, metres, pelvis-relative.
IMU_CHANNELS = 6  # acc xyz (m/s², specific force incl. gravity), then gyr xyz (rad/s).
# With `model.pose_forearm_roll`: the forearms' pronation (radians, + = palm turning down, (left,
# right)) at the pose frames, which H36M-17 joints cannot show, and whether the source has it.
FOREARM_PRONATION = 'pose_forearm_pronation'
FOREARM_PRONATION_PRESENT = 'pose_forearm_pronation_present'


def uses_forearm_pronation(config: ml_collections.ConfigDict) -> bool:
  """Whether batches of `config` carry the forearms' pronation beside the pose."""
  model = config.get('model', None) or {}
  return 'pose' in config.modalities and bool(model.get('pose_forearm_roll', False))


def forearm_pronation_fields(
  config: ml_collections.ConfigDict, pronation: np.ndarray | None, num_frames: int
) -> dict[str, np.ndarray]:
  """The pronation keys of one window: `pronation` (num_frames, 2) radians, or None where the
  source has none (real pose, older corpora): zeros that the pose encoder masks out, never reads."""
  if not uses_forearm_pronation(config):
    return {}
  if pronation is None:
    return {
      FOREARM_PRONATION: np.zeros((num_frames, 2), np.float32),
      FOREARM_PRONATION_PRESENT: np.bool_(False),
    }
  pronation = np.asarray(pronation, np.float32)
  if pronation.shape != (num_frames, 2):
    raise ValueError(
      f'forearm pronation has shape {pronation.shape}; expected ({num_frames}, 2): radians of '
      '(left, right) at the pose frames'
    )
  return {FOREARM_PRONATION: pronation, FOREARM_PRONATION_PRESENT: np.bool_(True)}


def batch_spec(
  config: ml_collections.ConfigDict, batch_size: int
) -> dict[str, jax.ShapeDtypeStruct]:
  """Shapes and dtypes of a batch of `config.modalities` at the config's rates and window."""
  window_s = config.window_s
  spec = {
    'label': jax.ShapeDtypeStruct((batch_size,), np.int32),
    'present': jax.ShapeDtypeStruct((batch_size, len(config.modalities)), bool),
  }
  if 'imu' in config.modalities:
    num_sites = len(config.data.imu_sites)
    spec['imu'] = jax.ShapeDtypeStruct(
      (batch_size, round(window_s * config.data.imu_rate_hz), num_sites, IMU_CHANNELS), np.float32
    )
    spec['imu_sites'] = jax.ShapeDtypeStruct((batch_size, num_sites), bool)
  if 'pose' in config.modalities:
    num_frames = round(window_s * config.data.pose_fps)
    spec['pose'] = jax.ShapeDtypeStruct((batch_size, num_frames, POSE_JOINTS, 3), np.float32)
    if uses_forearm_pronation(config):
      spec[FOREARM_PRONATION] = jax.ShapeDtypeStruct((batch_size, num_frames, 2), np.float32)
      spec[FOREARM_PRONATION_PRESENT] = jax.ShapeDtypeStruct((batch_size,), bool)
  if 'video' in config.modalities:
    frames = round(window_s * config.data.video_fps)
    if config.model.video_input == 'frames':
      size = config.data.video_size
      spec['video'] = jax.ShapeDtypeStruct((batch_size, frames, size, size, 1), np.uint8)
    else:
      spec['video'] = jax.ShapeDtypeStruct(
        (batch_size, frames, config.data.video_feature_dim), np.float32
      )
  if 'text' in config.modalities:
    spec['text'] = jax.ShapeDtypeStruct((batch_size, config.model.text_max_len), np.int32)
  return spec


def dummy_batch(config: ml_collections.ConfigDict, batch_size: int) -> dict[str, np.ndarray]:
  """Zeros shaped like one batch of the schema: for initialisation and shape checks."""
  return jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), batch_spec(config, batch_size))
