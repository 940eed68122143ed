"""Pretraining: `train_and_evaluate(config, workdir)`, one loop for every config.

Sections, top to bottom: setup (mesh, data, model, optimiser, state) → restore → loop
(global batch → jitted sharded step → metrics/progress/checkpoints) → end-of-run summary.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import time
from pathlib import Path
from typing import Any

import flax
import grain
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
from clu import metric_writers, parameter_overview, periodic_actions

from mujo_jax import accumulation, checkpoint, config_validation, sharding
from mujo_jax.data import pipeline, schema
from mujo_jax.eval import evaluators as evaluators_lib
from mujo_jax.models import joint


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  opt_state: Any


# ---------------------------------------------------------------- optimiser


def learning_rate_schedule(config: ml_collections.ConfigDict) -> optax.Schedule:
  warmup = min(config.optim.warmup_steps, max(config.total_steps - 1, 0))
  return optax.warmup_cosine_decay_schedule(
    init_value=0.0,
    peak_value=config.optim.learning_rate,
    warmup_steps=warmup,
    decay_steps=max(config.total_steps, warmup + 1),
    end_value=0.0,
  )


def _decay_mask(params: Any) -> Any:
  """Weight decay on matrices only: not on biases, norms, or the loss head's temperatures."""

  def decays(path, leaf):
    names = [str(getattr(k, 'key', k)) for k in path]
    return leaf.ndim >= 2 and 'loss_head' not in names

  return jax.tree_util.tree_map_with_path(decays, params)


def make_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  return optax.chain(
    optax.clip_by_global_norm(config.optim.grad_clip_norm),
    optax.adamw(
      learning_rate_schedule(config),
      b1=config.optim.b1,
      b2=config.optim.b2,
      weight_decay=config.optim.weight_decay,
      mask=_decay_mask,
    ),
  )


# ---------------------------------------------------------------- state


def create_state(
  model: joint.JointModel,
  tx: optax.GradientTransformation,
  config: ml_collections.ConfigDict,
  mesh: jax.sharding.Mesh,
  rng: jax.Array,
) -> tuple[TrainState, Any]:
  """Initialises the state directly into its shardings (no replicated copy on one device)."""

  def init(rng):
    params = joint.init_params(model, rng, schema.dummy_batch(config, 2))
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params))

  abstract = jax.eval_shape(init, rng)
  shardings = sharding.tree_shardings(abstract, mesh, config.sharding_rules)
  shardings = shardings.replace(step=sharding.replicated(mesh))
  state = jax.jit(init, out_shardings=shardings)(rng)
  return state, shardings


# ---------------------------------------------------------------- step


def train_step(
  state: TrainState,
  batch: dict[str, jax.Array],
  *,
  model: joint.JointModel,
  tx: optax.GradientTransformation,
  config: ml_collections.ConfigDict,
  rng: jax.Array,
) -> tuple[TrainState, dict[str, jax.Array]]:
  """One optimiser step on the global batch; the RNG is a pure function of the step."""
  step_rng = jax.random.fold_in(rng, state.step)
  loss, metrics, grads = accumulation.loss_and_grads(
    model, config, state.params, batch, state.step, step_rng
  )
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  metrics = dict(
    metrics,
    loss=loss,
    grad_norm=optax.global_norm(grads),
    learning_rate=learning_rate_schedule(config)(state.step),
  )
  return TrainState(step=state.step + 1, params=params, opt_state=opt_state), metrics


def make_train_step(model, tx, config, mesh, state_shardings):
  step = functools.partial(
    train_step, model=model, tx=tx, config=config, rng=jax.random.key(config.seed + 1)
  )
  return jax.jit(
    step,
    in_shardings=(state_shardings, sharding.batch_sharding(mesh)),
    out_shardings=(state_shardings, sharding.replicated(mesh)),
    donate_argnums=0,
  )


@dataclasses.dataclass(frozen=True)
class Setup:
  """What a run of `config` trains: built once by `setup`, shared by the loop and benchmarks."""

  mesh: jax.sharding.Mesh
  model: joint.JointModel
  tx: optax.GradientTransformation
  state: TrainState  # Initialised from config.seed, placed in `state_shardings`.
  state_shardings: Any
  step_fn: Any  # make_train_step(...): jitted, state donated.


def setup(config: ml_collections.ConfigDict) -> Setup:
  """Mesh → model → optimiser → sharded initial state → jitted step, for `config`."""
  mesh = sharding.make_mesh(config.mesh)
  model = joint.build_model(joint.JointModelSpec.from_config(config))
  tx = make_optimizer(config)
  state, state_shardings = create_state(model, tx, config, mesh, checkpoint.init_key(config))
  return Setup(
    mesh,
    model,
    tx,
    state,
    state_shardings,
    make_train_step(model, tx, config, mesh, state_shardings),
  )


# ---------------------------------------------------------------- main loop


def _pair_losses(metrics: dict[str, float]) -> dict[str, float]:
  return {k.removeprefix('loss/'): v for k, v in metrics.items() if k.startswith('loss/')}


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
  """Pretrains per `config`, resuming from `workdir` if it has checkpoints; returns the summary."""
  start_time = time.time()
  config = config_validation.resolve_pretrain_config(config)
  workdir = Path(workdir).absolute()  # orbax refuses relative checkpoint paths.
  workdir.mkdir(parents=True, exist_ok=True)
  is_chief = jax.process_index() == 0
  evaluators = evaluators_lib.from_config(config.evals)  # Checked before any compute.
  if is_chief:
    checkpoint.save_config(workdir, config)

  # ---- setup
  run = setup(config)
  mesh, state = run.mesh, run.state
  data_iter = iter(pipeline.train_dataset(config, jax.process_index(), jax.process_count()))
  writer = metric_writers.create_default_writer(str(workdir), just_logging=not is_chief)
  if is_chief:
    parameter_overview.log_parameter_overview(state.params)
  mngr = checkpoint.checkpoint_manager(workdir, config)

  # ---- restore
  if mngr.latest_step() is not None:
    restored = mngr.restore(
      mngr.latest_step(),
      args=ocp.args.Composite(
        state=ocp.args.StandardRestore(state),
        data_iter=grain.checkpoint.CheckpointRestore(data_iter),
      ),
    )
    state = restored['state']
    logging.info('Resumed from step %d in %s', int(state.step), workdir)
  start_step = int(state.step)

  # ---- loop
  progress = periodic_actions.ReportProgress(
    num_train_steps=config.total_steps, writer=writer, every_steps=config.log_every_steps
  )
  pending: list[dict[str, jax.Array]] = []  # Device metrics; fetched once per log interval.
  last_metrics: dict[str, float] = {}
  for step in range(start_step + 1, config.total_steps + 1):
    with jax.profiler.StepTraceAnnotation('train', step_num=step):
      batch = sharding.global_batch(next(data_iter), mesh)
      state, metrics = run.step_fn(state, batch)
    pending.append(metrics)
    progress(step)
    if step % config.log_every_steps == 0 or step == config.total_steps:
      stacked = jax.device_get(pending)
      last_metrics = {k: float(np.mean([m[k] for m in stacked])) for k in stacked[0]}
      writer.write_scalars(step, last_metrics)
      pending = []
    mngr.save(
      step,
      args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), data_iter=grain.checkpoint.CheckpointSave(data_iter)
      ),
      force=step == config.total_steps,
    )
    for scheduled in evaluators:
      if scheduled.due_during_training(step, config.total_steps):
        writer.write_scalars(step, _evaluate(scheduled, state, config, mesh, workdir))
  mngr.wait_until_finished()
  mngr.close()
  if hasattr(data_iter, 'close'):
    data_iter.close()  # Stops grain's worker processes and frees their shared memory.

  # ---- end of run: evaluators, then the summary
  params = state.params
  end_scalars = {}
  for scheduled in evaluators:
    end_scalars.update(_evaluate(scheduled, state, config, mesh, workdir))
  writer.write_scalars(int(state.step), end_scalars)
  summary = {
    'steps': int(state.step),
    'final_loss': last_metrics.get('loss'),
    'per_pair_loss': _pair_losses(last_metrics),
    'params_global_norm': float(
      jax.jit(optax.global_norm, out_shardings=sharding.replicated(mesh))(params)
    ),
    'wall_seconds': time.time() - start_time,
  }
  summary.update(end_scalars)
  if is_chief:
    (workdir / 'summary.json').write_text(json.dumps(summary, indent=2))
    print(format_summary(summary))
  writer.flush()
  return summary


def _evaluate(
  scheduled: evaluators_lib.Scheduled,
  state: TrainState,
  config: ml_collections.ConfigDict,
  mesh: jax.sharding.Mesh,
  workdir: Path,
) -> dict[str, float]:
  start = time.time()
  pretrained = checkpoint.Pretrained(
    config=config, params=state.params, step=int(state.step), workdir=str(workdir)
  )
  scalars = scheduled.run(pretrained, mesh, workdir)
  logging.info(
    'evaluator %s at step %d in %.1f s', scheduled.name, int(state.step), time.time() - start
  )
  return scalars


def format_summary(summary: dict[str, Any]) -> str:
  rows = []
  for key, value in summary.items():
    if isinstance(value, dict):
      rows += [(f'{key}/{k}', v) for k, v in value.items()]
    else:
      rows.append((key, value))
  width = max(len(k) for k, _ in rows)
  lines = [f'{"summary".ljust(width)} | value', f'{"-" * width}-|------']
  lines += [
    f'{k.ljust(width)} | {v:.4f}' if isinstance(v, float) else f'{k.ljust(width)} | {v}'
    for k, v in rows
  ]
  return '\n'.join(lines)
