"""Embed your own recordings with a pretrained checkpoint.

  from mujo_jax.inference import Embedder
  embedder = Embedder.from_checkpoint('/tmp/mujo')            # a pretraining workdir
  z_imu = embedder.embed_imu(imu, rate_hz=100, sites=('left_wrist', 'right_wrist'))
  z_pose = embedder.embed_pose(pose, fps=25)
  z_text = embedder.embed_text(['a person doing squats', 'jumping jacks'])
  cosine = z_imu @ z_text.T                                   # all unit vectors

What happens to a recording of any length (>= one window):
1. Validation, before any compute: shapes, finite values, site names (`facts.sites.SITES`), the
   checkpoint's parameters against its config (another architecture fails at load), and
   plausible units — IMU acceleration must be specific force in m/s² *including gravity* (median
   |acc| near 9.81; data in g or with gravity removed is rejected with the fix to apply), gyro in
   rad/s (deg/s is caught when the median rotation rate is above ~15 deg/s, i.e. for any real
   exercise; near-still recordings cannot be told apart), pose in metres (not millimetres).
   `check_units=False` skips the unit check (`facts.units`, shared with the dataset builders).
2. Resampling to the model's rates (IMU 50 Hz, pose 30 fps, video 10 fps by default) with
   `facts.resample`, the resampler the training data went through: polyphase filtering (line
   padding so gravity does not ring at the edges) for IMU and pose; the frame held at each
   output time for video. A stream already at the model's rate is untouched.
3. Windows of the model's length (5 s) every `hop_s` (default half a window), plus one window
   flush with the end when the hops leave a tail, so every sample is covered.
4. Each window is embedded; with `pool='mean'` (default) the result is the mean of the window
   embeddings, re-normalised to unit length (the direction that is on average closest to the
   windows'), else `pool=None` returns one row per window (`window_starts` gives their starts).

Missing IMU data: NaN samples are allowed; a site is treated as absent in every window where any
of its samples is NaN (the presence mask the model was trained with), a window with no site left
is dropped from the pool, and a recording with no usable window raises. Pose is expected as
Human3.6M-17 joints in metres (`mujo_jax.facts.skeleton.H36M_JOINTS`), world z up; it is made
pelvis-relative here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import traverse_util

from mujo_jax import checkpoint
from mujo_jax import pretrained as pretrained_lib
from mujo_jax.data import schema
from mujo_jax.eval import embedding
from mujo_jax.facts import resample, units
from mujo_jax.facts import sites as sites_lib
from mujo_jax.facts.tokenizer import ByteTokenizer
from mujo_jax.models import joint

NUM_JOINTS = 17


def window_starts(num_samples: int, window: int, hop: int) -> np.ndarray:
  """Start indices: 0, hop, 2 hop, … while the window fits, plus one flush with the end."""
  if num_samples < window:
    raise ValueError(f'{num_samples} samples are shorter than one window of {window}')
  starts = list(range(0, num_samples - window + 1, hop))
  if starts[-1] + window < num_samples:
    starts.append(num_samples - window)
  return np.asarray(starts, np.int64)


def _positive_rate(name: str, value: Any) -> float:
  if (
    isinstance(value, bool)
    or not isinstance(value, (int, float))
    or not (math.isfinite(value) and value > 0)
  ):
    raise ValueError(f'{name}={value!r}: expected a positive number of samples per second')
  return float(value)


_SKIP_UNITS = ', or pass check_units=False'


def _check_params(config: Any, params: Any, where: str) -> None:
  """The parameters must be the ones `config`'s model creates: same paths, same shapes.

  Otherwise a checkpoint of another architecture (another size, modalities or site table)
  fails deep inside the first forward pass with a flax scope error; here it fails at load, with
  one line naming the first parameter that differs.
  """
  model = joint.build_model(joint.JointModelSpec.from_config(config))
  batch = schema.dummy_batch(config, 1)
  expected = jax.eval_shape(lambda: joint.init_params(model, jax.random.key(0), batch))
  want = traverse_util.flatten_dict(expected, sep='/')
  have = traverse_util.flatten_dict(jax.tree.map(np.shape, params), sep='/')
  missing, extra = sorted(set(want) - set(have)), sorted(set(have) - set(want))
  if missing:
    raise ValueError(
      f'{where}: parameter params/{missing[0]} is missing ({len(missing)} missing in all); '
      'the checkpoint was not written for this config'
    )
  if extra:
    raise ValueError(
      f'{where}: parameter params/{extra[0]} is not in the model of the config '
      f'({len(extra)} extra in all)'
    )
  for path, struct in want.items():
    if tuple(have[path]) != tuple(struct.shape):
      raise ValueError(
        f'{where}: parameter params/{path}: the checkpoint has shape {tuple(have[path])}, '
        f'the config needs {tuple(struct.shape)} (a checkpoint of another architecture?)'
      )


class Embedder:
  """Embeds users' IMU, pose, video and text with a pretrained MuJo model (see module doc)."""

  def __init__(
    self, pretrained: checkpoint.Pretrained, *, hop_s: float | None = None, batch_size: int = 64
  ):
    self.pretrained = pretrained
    self.config = pretrained.config
    self.window_s = float(self.config.window_s)
    self.hop_s = self.window_s / 2 if hop_s is None else _positive_rate('hop_s', hop_s)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
      raise ValueError(f'batch_size={batch_size!r}: expected a positive int')
    self.batch_size = batch_size
    _check_params(self.config, pretrained.params, f'checkpoint {pretrained.workdir}')
    self.params = jax.device_put(pretrained.params)
    self._models: dict[tuple[str, ...], joint.JointModel] = {}
    self._embed_fns: dict[tuple, Any] = {}

  @classmethod
  def from_checkpoint(
    cls,
    path: str | Path,
    step: int | None = None,
    *,
    hop_s: float | None = None,
    batch_size: int = 64,
  ) -> Embedder:
    """Loads a pretraining workdir's latest (or `step`) checkpoint."""
    return cls(
      checkpoint.load_pretrained(Path(path).expanduser(), step), hop_s=hop_s, batch_size=batch_size
    )

  @classmethod
  def from_pretrained(
    cls, name: str = pretrained_lib.DEFAULT, *, hop_s: float | None = None, batch_size: int = 64
  ) -> Embedder:
    """Loads a model shipped inside the package (MODEL_CARD.md); no download, no arguments."""
    return cls(
      checkpoint.load_exported(pretrained_lib.path(name)), hop_s=hop_s, batch_size=batch_size
    )

  # ---------------------------------------------------------------- properties

  @property
  def modalities(self) -> tuple[str, ...]:
    return tuple(self.config.modalities)

  @property
  def embed_dim(self) -> int:
    return int(self._model(()).embed_dim)

  @property
  def rates(self) -> dict[str, float]:
    """Samples per second the model was trained at, per timed modality."""
    data = self.config.data
    return {
      'imu': float(data.imu_rate_hz),
      'pose': float(data.pose_fps),
      'video': float(data.video_fps),
    }

  def window_samples(self, modality: str) -> int:
    return int(round(self.window_s * self.rates[modality]))

  # ---------------------------------------------------------------- internals

  def _require(self, modality: str) -> None:
    if modality not in self.modalities:
      raise ValueError(f'the checkpoint has no {modality} encoder (modalities {self.modalities})')

  def _model(self, sites: tuple[str, ...]) -> joint.JointModel:
    if sites not in self._models:
      config = embedding.with_imu_sites(self.config, sites) if sites else self.config
      self._models[sites] = joint.build_model(joint.JointModelSpec.from_config(config))
    return self._models[sites]

  def _embed_batches(
    self, modality: str, inputs: dict[str, np.ndarray], sites: tuple[str, ...] = ()
  ) -> np.ndarray:
    """(W, D) embeddings of W stacked windows; padded batches so each shape compiles once."""
    key = (modality, sites)
    model = self._model(sites)
    if key not in self._embed_fns:
      self._embed_fns[key] = embedding.make_embed_fn(
        model, embedding.EmbedRequest(modalities=(modality,))
      )
    embed_fn = self._embed_fns[key]
    count = len(next(iter(inputs.values())))
    out = []
    for start in range(0, count, self.batch_size):
      chunk = {k: v[start : start + self.batch_size] for k, v in inputs.items()}
      size = len(next(iter(chunk.values())))
      padded = embedding.pad_batch(chunk, self.batch_size)
      out.append(np.asarray(embed_fn(self.params, padded)[modality])[:size])
    return np.concatenate(out)

  def _windows(self, stream: np.ndarray, modality: str, hop_s: float | None) -> np.ndarray:
    rate = self.rates[modality]
    window = self.window_samples(modality)
    if len(stream) < window:
      raise ValueError(
        f'{modality}: {len(stream) / rate:.2f} s at the model rate ({len(stream)} '
        f'samples at {rate:g} Hz) is shorter than one {self.window_s:g} s window '
        f'({window} samples)'
      )
    hop = max(
      1, int(round((self.hop_s if hop_s is None else _positive_rate('hop_s', hop_s)) * rate))
    )
    starts = window_starts(len(stream), window, hop)
    return np.stack([stream[s : s + window] for s in starts])

  @staticmethod
  def _check_pool(pool: str | None) -> None:
    if pool not in ('mean', None):
      raise ValueError(f"pool={pool!r}: expected 'mean' or None")

  @staticmethod
  def _pool(window_embeddings: np.ndarray, pool: str | None) -> np.ndarray:
    if pool is None:
      return window_embeddings
    mean = window_embeddings.astype(np.float64).mean(axis=0)
    return (mean / max(np.linalg.norm(mean), 1e-12)).astype(np.float32)

  # ---------------------------------------------------------------- public

  def embed_imu(
    self,
    imu: np.ndarray,
    rate_hz: float,
    sites: Sequence[str],
    *,
    hop_s: float | None = None,
    pool: str | None = 'mean',
    check_units: bool = True,
  ) -> np.ndarray:
    """IMU `(T, S, 6)` (or `(T, 6)` for one site): acc xyz m/s² incl. gravity, gyr xyz rad/s.

    `sites` names the S sites (`facts.sites.SITES`, e.g. 'left_wrist'); any subset works, as
    the model embeds sites by name. Returns `(D,)` (pool='mean') or `(W, D)` (pool=None).
    """
    self._require('imu')
    self._check_pool(pool)
    rate_hz = _positive_rate('rate_hz', rate_hz)
    if isinstance(sites, str):
      sites = (sites,)
    sites = tuple(sites)
    sites_lib.check_sites(sites)
    imu = np.asarray(imu)
    if imu.ndim == 2 and len(sites) == 1:
      imu = imu[:, None, :]
    if imu.ndim != 3 or imu.shape[1:] != (len(sites), 6):
      raise ValueError(
        f'imu has shape {imu.shape}; expected (T, {len(sites)}, 6) for the '
        f'{len(sites)} sites {sites}: acc xyz then gyr xyz per site'
      )
    if not np.issubdtype(imu.dtype, np.number):
      raise ValueError(f'imu has dtype {imu.dtype}; expected floats')
    imu = imu.astype(np.float32)
    if np.isinf(imu).any():
      raise ValueError('imu contains inf; mark missing samples with NaN instead')
    if np.isnan(imu).all():
      raise ValueError('imu is all NaN')
    if check_units:
      units.check_acc(imu[..., :3], 'imu', _SKIP_UNITS)
      units.check_gyr(imu[..., 3:], 'imu', _SKIP_UNITS)
    imu = resample.resample(imu, rate_hz, self.rates['imu'])
    windows = self._windows(imu, 'imu', hop_s)  # (W, T, S, 6)
    present = np.isfinite(windows).all(axis=(1, 3))  # (W, S)
    usable = present.any(axis=1)
    if not usable.any():
      raise ValueError('imu: every window has a NaN in every site; nothing to embed')
    windows = np.where(present[:, None, :, None], windows, 0.0).astype(np.float32)
    embeddings = self._embed_batches(
      'imu', {'imu': windows[usable], 'imu_sites': present[usable]}, sites
    )
    return self._pool(embeddings, pool)

  def embed_pose(
    self,
    pose: np.ndarray,
    fps: float,
    *,
    hop_s: float | None = None,
    pool: str | None = 'mean',
    check_units: bool = True,
  ) -> np.ndarray:
    """Pose `(T, 17, 3)`: Human3.6M-17 joints in metres, world z up (made pelvis-relative)."""
    self._require('pose')
    self._check_pool(pool)
    fps = _positive_rate('fps', fps)
    pose = np.asarray(pose)
    if pose.ndim != 3 or pose.shape[1:] != (NUM_JOINTS, 3):
      raise ValueError(
        f'pose has shape {pose.shape}; expected (T, {NUM_JOINTS}, 3) Human3.6M '
        'joints (mujo_jax.facts.skeleton.H36M_JOINTS)'
      )
    if not np.issubdtype(pose.dtype, np.number) or not np.isfinite(pose).all():
      raise ValueError('pose must be finite numbers (interpolate or cut missing frames first)')
    pose = pose.astype(np.float32) - pose[:, :1, :].astype(np.float32)
    if check_units:
      units.check_pose(pose, 'pose', 'm', _SKIP_UNITS)
    pose = resample.resample(pose, fps, self.rates['pose'])
    return self._pool(
      self._embed_batches('pose', {'pose': self._windows(pose, 'pose', hop_s)}), pool
    )

  def embed_video(
    self, video: np.ndarray, fps: float, *, hop_s: float | None = None, pool: str | None = 'mean'
  ) -> np.ndarray:
    """Frames `(T, H, W, C)` uint8 or pre-extracted features `(T, F)` float, per the model."""
    self._require('video')
    self._check_pool(pool)
    fps = _positive_rate('fps', fps)
    video = np.asarray(video)
    kind = self.config.model.video_input
    if kind == 'frames':
      size = int(self.config.data.get('video_size', 32))
      if video.ndim != 4 or video.shape[1:] != (size, size, 1) or video.dtype != np.uint8:
        raise ValueError(
          f'video has shape {video.shape} {video.dtype}; this checkpoint expects '
          f'uint8 frames (T, {size}, {size}, 1)'
        )
    else:
      feature_dim = int(self.config.data.video_feature_dim)
      if video.ndim != 2 or video.shape[1] != feature_dim:
        raise ValueError(
          f'video has shape {video.shape}; this checkpoint expects features (T, {feature_dim})'
        )
      if not np.isfinite(video).all():
        raise ValueError('video features must be finite')
      video = video.astype(np.float32)
    target = self.rates['video']
    if not math.isclose(fps, target, rel_tol=1e-9):
      video = video[resample.hold_indices(len(video), fps, target)]
    return self._pool(
      self._embed_batches('video', {'video': self._windows(video, 'video', hop_s)}), pool
    )

  def embed_text(self, texts: Sequence[str]) -> np.ndarray:
    """`(N, D)` embeddings of N texts (byte tokenizer of the model, truncated to its length)."""
    self._require('text')
    if isinstance(texts, str):
      raise ValueError('embed_text: expected a list of str, got one str (wrap it in a list)')
    texts = list(texts)
    if not texts or not all(isinstance(t, str) for t in texts):
      raise ValueError('embed_text: expected a non-empty list of str')
    tokens = ByteTokenizer(self._model(()).text_max_len).encode_batch(texts)
    return self._embed_batches('text', {'text': tokens})
