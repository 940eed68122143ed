"""Frozen embeddings from a pretraining checkpoint: load it, rebuild the model, embed windows.

Evaluation embeds every window once and reuses the embeddings for every probe, fraction and
seed. One jitted function computes, per batch, the embedding of each requested modality and of
each requested *IMU site variant* (the same windows with some sites masked absent), so that
probes on single sites and the missing-site robustness table cost one pass over the data.

Only the encoders a caller asks for run (`JointModel.embed(batch, modalities=...)`), so MM-Fit
windows, which have no video or text, can be embedded by a model pretrained on four modalities.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import grain
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from mujo_jax import config_validation, sharding
from mujo_jax.facts.tokenizer import ByteTokenizer
from mujo_jax.models import joint

# Keys of a window that are metadata, never model input.
_META_KEYS = ('label', 'group', 'recording')


def with_imu_sites(
  config: ml_collections.ConfigDict, sites: Sequence[str]
) -> ml_collections.ConfigDict:
  """`config` whose IMU encoder reads `sites` (names in `sites.SITES`), in that order.

  The site embedding table covers the global vocabulary, so the parameters do not depend on
  which sites a model reads: a model pretrained on 5 synthetic sites embeds MM-Fit's 4.
  """
  config = ml_collections.ConfigDict(config.to_dict())
  config.data.imu_sites = tuple(sites)
  # The sites pretraining favoured for lone-site windows are an augmentation of its corpus; a
  # model reading other sites keeps those of them it still reads (a checkpoint that favoured
  # both wrists must embed a watch on one of them).
  favoured = config.augment.get('single_site_favoured', ())
  if favoured:
    config.augment.single_site_favoured = tuple(s for s in favoured if s in config.data.imu_sites)
  return config_validation.resolve_pretrain_config(config)


@dataclasses.dataclass(frozen=True, kw_only=True)
class EmbedRequest:
  """What to embed: whole modalities, and IMU site variants as (key, site mask over S)."""

  modalities: tuple[str, ...]
  imu_variants: tuple[tuple[str, tuple[bool, ...]], ...] = ()

  def input_keys(self) -> tuple[str, ...]:
    names = set(self.modalities) | ({'imu'} if self.imu_variants else set())
    return tuple(sorted({k for m in names for k in joint.BATCH_KEYS[m]}))


def make_embed_fn(
  model: joint.JointModel, request: EmbedRequest, mesh: jax.sharding.Mesh | None = None
):
  """A jitted `(params, batch) -> {key: (B, D)} and {'valid/' + key: (B,)}` for `request`.

  With a `mesh`, outputs are replicated, so that every process can read them (multi-host).
  """
  plain = request.modalities

  def embed(params, batch):
    outputs = model.apply({'params': params}, batch, modalities=plain, method='embed')
    valid = {f'valid/{m}': jnp.ones(batch[joint.BATCH_KEYS[m][0]].shape[:1], bool) for m in plain}
    if 'imu' in plain:
      valid['valid/imu'] = jnp.any(batch['imu_sites'], axis=1)
    for key, site_mask in request.imu_variants:
      sites = batch['imu_sites'] & jnp.asarray(site_mask, bool)[None]
      imu_batch = {'imu': batch['imu'], 'imu_sites': sites}
      outputs[key] = model.apply(
        {'params': params}, imu_batch, modalities=('imu',), method='embed'
      )['imu']
      valid[f'valid/{key}'] = jnp.any(sites, axis=1)
    return {**outputs, **valid}

  if mesh is None:
    return jax.jit(embed)
  return jax.jit(embed, out_shardings=sharding.replicated(mesh))


def replicate(tree: Any, mesh: jax.sharding.Mesh) -> Any:
  """Host values (the same in every process) → arrays replicated over the whole mesh."""
  replicated = sharding.replicated(mesh)

  def place(value):
    if isinstance(value, jax.Array) and not value.is_fully_addressable:
      return value  # Already global (e.g. FSDP-sharded across hosts): jit reshards it.
    host = np.asarray(jax.device_get(value))
    return jax.make_array_from_callback(host.shape, replicated, lambda index: host[index])

  return jax.tree.map(place, tree)


def pad_batch(
  batch: Mapping[str, np.ndarray], batch_size: int, keys: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
  """`batch` (its `keys`) filled up to `batch_size` rows by repeating the last one.

  Every call of a jitted function then sees one shape (one compile) and a batch that shards
  evenly over the devices; callers keep only the first rows of the outputs.
  """
  keys = tuple(batch) if keys is None else keys
  return {
    k: np.concatenate([batch[k], np.repeat(batch[k][-1:], batch_size - len(batch[k]), 0)])
    for k in keys
  }


def _stack(elements: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
  return {k: np.stack([np.asarray(e[k]) for e in elements]) for k in elements[0]}


def iterate_batches(
  windows: grain.MapDataset | Sequence[Mapping[str, Any]], batch_size: int
) -> Iterable[dict[str, np.ndarray]]:
  """Batches of `windows` in order (last one short), read by grain with a few threads."""
  if isinstance(windows, grain.MapDataset):
    dataset = windows.batch(batch_size, drop_remainder=False).to_iter_dataset(
      grain.ReadOptions(num_threads=2, prefetch_buffer_size=2)
    )
    yield from dataset
    return
  for start in range(0, len(windows), batch_size):
    yield _stack(windows[start : start + batch_size])


def embed_windows(
  model: joint.JointModel,
  params: Any,
  windows: grain.MapDataset | Sequence[Mapping[str, Any]],
  request: EmbedRequest,
  mesh: jax.sharding.Mesh,
  per_device_batch_size: int = 64,
  embed_fn: Any = None,
) -> dict[str, np.ndarray]:
  """Embeds every window once (jitted, batch sharded over `mesh`), in order.

  Every process reads all windows and gets all embeddings (the batch is split over the devices
  of the whole mesh, the outputs are replicated): evaluation then runs alike everywhere.

  Returns `{key: (N, D) float32}` for every modality and IMU variant of `request`,
  `{'valid/' + key: (N,) bool}` (False where the variant has no present site: such rows carry
  an undefined embedding and must be excluded), and `label` (and `group` when the windows have
  it) as `(N,)` int arrays.
  """
  batch_size = per_device_batch_size * mesh.size
  embed_fn = embed_fn or make_embed_fn(model, request, mesh)
  params = replicate(params, mesh)
  keys = request.input_keys()
  outputs: dict[str, list[np.ndarray]] = {}
  for batch in iterate_batches(windows, batch_size):
    count = len(batch['label'])
    missing = [k for k in keys if k not in batch]
    if missing:
      raise ValueError(
        f'windows lack {missing} needed to embed {request.modalities} '
        f'(window keys: {sorted(batch)})'
      )
    # Pad the short last batch so every call has one shape (one compile) and shards evenly.
    inputs = pad_batch(batch, batch_size, keys)
    inputs = sharding.global_batch_from_full(inputs, mesh)
    for name, value in jax.device_get(embed_fn(params, inputs)).items():
      outputs.setdefault(name, []).append(np.asarray(value[:count]))
    for name in _META_KEYS:
      if name in batch:
        outputs.setdefault(name, []).append(np.asarray(batch[name]))
  if not outputs:
    raise ValueError('no windows to embed')
  result = {k: np.concatenate(v) for k, v in outputs.items()}
  logging.info(
    'embedded %d windows: %s',
    len(result['label']),
    sorted(k for k in result if not k.startswith('valid/')),
  )
  return result


def embed_texts(
  model: joint.JointModel, params: Any, texts: Sequence[str], batch_size: int = 64
) -> np.ndarray:
  """(N, D) text embeddings of `texts`, tokenised as in training (byte tokenizer, max_len)."""
  if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
    raise ValueError('embed_texts: expected a sequence of str')
  if 'text' not in model.modalities:
    raise ValueError(f'the model has no text encoder (modalities {model.modalities})')
  tokens = ByteTokenizer(model.text_max_len).encode_batch(list(texts))
  embed_fn = make_embed_fn(model, EmbedRequest(modalities=('text',)))
  out = []
  for start in range(0, len(tokens), batch_size):
    chunk = tokens[start : start + batch_size]
    count = len(chunk)
    padded = pad_batch({'text': chunk}, batch_size)
    out.append(np.asarray(embed_fn(params, padded)['text'])[:count])
  return np.concatenate(out) if out else np.zeros((0, model.embed_dim), np.float32)
