"""Loss and gradients of one optimiser step, with optional gradient accumulation.

`exact` (GradCache, Gao et al. 2021): the contrastive loss couples every example with every
other, so averaging micro-batch losses (`naive`) optimises a different objective with fewer
negatives. Instead we (1) embed all micro-batches without keeping activations, (2) take the
full-batch multi-way loss and its gradient w.r.t. the embeddings and the loss-head parameters
(temperature, SigLIP bias, uncertainty weights), and (3) re-run each micro-batch's encoders and
back-propagate its slice of the cached embedding gradient, summing parameter gradients. The
result equals the full-batch gradient, at the activation memory of one micro-batch.

Dropout randomness is drawn per example from `(rng, example index in the global batch)`, so the
masks of an example are the same in both passes and the same as in a full-batch step.

Micro-batch i holds examples i, i+k, i+2k, … (a strided split): with the batch sharded in
contiguous blocks across devices, every device keeps working on every micro-batch.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections

Batch = dict[str, jax.Array]


def _split_micro(tree: Any, accum_steps: int) -> Any:
  """(B, ...) → (k, B/k, ...) with micro-batch i = examples i, i+k, i+2k, …"""

  def split(x):
    return jnp.swapaxes(x.reshape(x.shape[0] // accum_steps, accum_steps, *x.shape[1:]), 0, 1)

  return jax.tree.map(split, tree)


def _interleave(tree: Any, accum_steps: int) -> Any:
  """(B, ...) → (B/k, k, ...): a free reshape; micro-batch i is `[:, i]`, read inside the scan.

  Unlike `_split_micro` this makes no transposed copy of the (large) input batch, so the peak
  memory of exact accumulation stays close to one micro-batch's.
  """
  return jax.tree.map(
    lambda x: x.reshape(x.shape[0] // accum_steps, accum_steps, *x.shape[1:]), tree
  )


def _micro(tree: Any, index: jax.Array) -> Any:
  """Micro-batch `index` of an `_interleave`d tree."""
  return jax.tree.map(lambda x: jax.lax.dynamic_index_in_dim(x, index, 1, keepdims=False), tree)


def _merge_micro(tree: Any) -> Any:
  """Inverse of `_split_micro`: (k, B/k, ...) → (B, ...)."""
  return jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1).reshape(-1, *x.shape[2:]), tree)


def loss_and_grads(
  model: Any,
  config: ml_collections.ConfigDict,
  params: Any,
  batch: Batch,
  step: jax.Array,
  rng: jax.Array,
) -> tuple[jax.Array, dict[str, jax.Array], Any]:
  """(loss, metrics, grads) of the step; `config.accum_steps`/`accum_mode` pick the method."""
  dropout_rng, pair_rng = jax.random.split(rng)
  present = batch['present']
  labels = batch.get('label')
  inputs = {k: v for k, v in batch.items() if k not in ('label', 'present')}
  batch_size = present.shape[0]
  example_ids = jnp.arange(batch_size, dtype=jnp.int32)

  def embed(p, micro_inputs, micro_ids):
    return model.apply(
      {'params': p},
      micro_inputs,
      train=True,
      example_ids=micro_ids,
      rngs={'dropout': dropout_rng},
      method='embed',
    )

  def head_loss(p, embeddings, micro_present, micro_labels):
    return model.apply(
      {'params': p}, embeddings, micro_present, step, pair_rng, micro_labels, method='loss'
    )

  accum_steps = int(config.accum_steps)
  if accum_steps == 1:

    def full_loss(p):
      return head_loss(p, embed(p, inputs, example_ids), present, labels)

    (loss, metrics), grads = jax.value_and_grad(full_loss, has_aux=True)(params)
    return loss, metrics, grads

  interleaved_inputs = _interleave(inputs, accum_steps)
  micro_ids = _split_micro(example_ids, accum_steps)
  micro_indices = jnp.arange(accum_steps)

  if config.accum_mode == 'naive':
    # A different objective: each micro-batch's loss sees only its own negatives.
    micro_present = _split_micro(present, accum_steps)
    micro_labels = None if labels is None else _split_micro(labels, accum_steps)

    def naive_body(carry, xs):
      loss_sum, metric_sum, grad_sum = carry
      index, mb_ids, mb_present, mb_labels = xs
      mb_inputs = _micro(interleaved_inputs, index)
      (loss, metrics), grads = jax.value_and_grad(
        lambda p: head_loss(p, embed(p, mb_inputs, mb_ids), mb_present, mb_labels), has_aux=True
      )(params)
      return (
        loss_sum + loss,
        jax.tree.map(jnp.add, metric_sum, metrics),
        jax.tree.map(jnp.add, grad_sum, grads),
      ), None

    metric_shapes = jax.eval_shape(
      lambda: head_loss(
        params,
        embed(params, _micro(interleaved_inputs, 0), micro_ids[0]),
        micro_present[0],
        None if micro_labels is None else micro_labels[0],
      )[1]
    )
    zeros = (
      jnp.zeros(()),
      jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), metric_shapes),
      jax.tree.map(jnp.zeros_like, params),
    )
    (loss_sum, metric_sum, grad_sum), _ = jax.lax.scan(
      naive_body, zeros, (micro_indices, micro_ids, micro_present, micro_labels)
    )
    scale = 1.0 / accum_steps
    return (
      loss_sum * scale,
      jax.tree.map(lambda m: m * scale, metric_sum),
      jax.tree.map(lambda g: g * scale, grad_sum),
    )

  if config.accum_mode != 'exact':
    raise ValueError(f"config.accum_mode={config.accum_mode!r}: expected 'exact' or 'naive'")

  # (1) Embeddings of every micro-batch; scan keeps one micro-batch's activations alive.
  _, micro_embeddings = jax.lax.scan(
    lambda _, xs: (None, embed(params, _micro(interleaved_inputs, xs[0]), xs[1])),
    None,
    (micro_indices, micro_ids),
  )
  embeddings = _merge_micro(micro_embeddings)
  # (2) Full-batch loss; gradient w.r.t. the embeddings and the loss head's own parameters.
  (loss, metrics), (head_grads, embedding_grads) = jax.value_and_grad(
    head_loss, argnums=(0, 1), has_aux=True
  )(params, embeddings, present, labels)
  micro_embedding_grads = _split_micro(embedding_grads, accum_steps)

  # (3) Re-run each micro-batch and pull its slice of the cached gradient back to the params.
  def backward_body(grad_sum, xs):
    index, mb_ids, mb_cotangent = xs
    mb_inputs = _micro(interleaved_inputs, index)
    _, pullback = jax.vjp(lambda p: embed(p, mb_inputs, mb_ids), params)
    (grads,) = pullback(mb_cotangent)
    return jax.tree.map(jnp.add, grad_sum, grads), None

  grads, _ = jax.lax.scan(
    backward_body, head_grads, (micro_indices, micro_ids, micro_embedding_grads)
  )
  return loss, metrics, grads
