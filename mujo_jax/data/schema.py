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
    spec['pose'] = jax.ShapeDtypeStruct(
      (batch_size, round(window_s * config.data.pose_fps), POSE_JOINTS, 3), np.float32
    )
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
