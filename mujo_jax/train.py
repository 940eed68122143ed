"""Pretraining: `train_and_evaluate(config, workdir)`, one loop for every config.

Sections, top to bottom: setup (mesh, data, model, optimiser, state) → restore → loop
(global batch → jitted sharded step → metrics/progress/checkpoints) → end-of-run summary.
The faults a run survives (kill, preemption, corrupt checkpoint, non-finite step, a second
run on the workdir, a full disk) are handled in the loop and in `checkpoint`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import signal
import threading
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
from mujo_jax.data import datasets, pipeline, schema
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
  """One optimiser step on the global batch; the RNG is a pure function of the step.

  A non-finite loss or gradient leaves the parameters and optimiser state as they were (the
  step still counts: its batch is consumed). The choice is made on device, so no step waits
  for the host; the loop reads `metrics['nonfinite']` when it fetches metrics anyway.
  (`optax.apply_if_finite` would change the optimiser state's tree, breaking existing
  checkpoints, look at the gradient only, and apply the update anyway after N failures.)
  """
  step_rng = jax.random.fold_in(rng, state.step)
  loss, metrics, grads = accumulation.loss_and_grads(
    model, config, state.params, batch, state.step, step_rng
  )
  grad_norm = optax.global_norm(grads)
  finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  params, opt_state = jax.tree.map(
    lambda new, old: jnp.where(finite, new, old),
    (params, opt_state),
    (state.params, state.opt_state),
  )
  metrics = dict(
    metrics,
    loss=loss,
    grad_norm=grad_norm,
    learning_rate=learning_rate_schedule(config)(state.step),
    nonfinite=jnp.logical_not(finite).astype(jnp.int32),
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


# ---------------------------------------------------------------- faults

NONFINITE_MODES = ('skip', 'stop')


class NonFiniteLoss(ValueError):
  """The run stopped on a non-finite loss or gradient (`config.nonfinite`)."""


class Preempted(SystemExit):
  """SIGTERM/SIGINT: the state of the current step is saved; exits with status 0."""

  def __init__(self, message: str):
    super().__init__(0)
    self.message = message


def check_fault_config(config: ml_collections.ConfigDict) -> None:
  """The keys of this module's fault handling (absent in workdirs of older runs: defaults)."""
  mode = config.get('nonfinite', 'skip')
  if mode not in NONFINITE_MODES:
    raise ValueError(f'invalid config: nonfinite={mode!r}: expected one of {NONFINITE_MODES}')
  limit = config.get('nonfinite_max_consecutive', 10)
  if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
    raise ValueError(
      f'invalid config: nonfinite_max_consecutive={limit!r}: expected a positive integer'
    )


class _StopSignals:
  """SIGTERM (preemption: TPU VMs, SLURM) and SIGINT ask the loop to save and stop.

  Single-process runs only: with several processes, SIGTERM is left to JAX's preemption
  service, which agrees on one step for all processes (`CheckpointManager.reached_preemption`);
  a flag of one process would save a collective checkpoint alone. A second SIGINT interrupts
  at once.
  """

  SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __init__(self):
    self.received: str | None = None
    self._previous = {}

  def __enter__(self) -> _StopSignals:
    if jax.process_count() == 1 and threading.current_thread() is threading.main_thread():
      for signum in self.SIGNALS:
        self._previous[signum] = signal.signal(signum, self._handle)
    return self

  def _handle(self, signum, frame) -> None:
    if self.received and signum == signal.SIGINT:
      raise KeyboardInterrupt
    self.received = signal.Signals(signum).name

  def __exit__(self, *exc) -> None:
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)


def _state_bytes(state: TrainState) -> int:
  return sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree.leaves(state))


def _committed_steps(workdir: Path) -> list[int]:
  directory = workdir / checkpoint.CHECKPOINTS_DIR
  if not directory.exists():
    return []
  return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit())


def _save_failed(error: OSError, step: int, workdir: Path) -> checkpoint.WorkdirError:
  intact = [s for s in _committed_steps(workdir) if s != step]
  kept = f'the checkpoint of step {intact[-1]} is intact' if intact else 'no earlier checkpoint'
  return checkpoint.WorkdirError(
    f'saving the checkpoint of step {step} in {workdir / checkpoint.CHECKPOINTS_DIR} failed: '
    f'{error}; {kept}: free space (or fix permissions) and rerun to resume'
  )


# ---------------------------------------------------------------- main loop


def _pair_losses(metrics: dict[str, float]) -> dict[str, float]:
  return {k.removeprefix('loss/'): v for k, v in metrics.items() if k.startswith('loss/')}


def _preempted(
  why: str, step: int, config: ml_collections.ConfigDict, workdir: Path, is_chief: bool
) -> str:
  message = (
    f'{why}: saved step {step} of {config.total_steps} in {workdir}; '
    f'rerun with --workdir={workdir} to resume'
  )
  _console(is_chief, message)
  return message


def _console(is_chief: bool, line: str) -> None:
  """The run's own console lines: progress, resume, preemption (library logs stay quiet)."""
  if is_chief:
    print(line, flush=True)


def _format_eta(seconds: float) -> str:
  seconds = int(round(seconds))
  hours, rest = divmod(seconds, 3600)
  return f'{hours}h{rest // 60:02d}m' if hours else f'{rest // 60}m{rest % 60:02d}s'


@dataclasses.dataclass
class _Interval:
  """Per-step device metrics since the last fetch, and what the fetched ones said."""

  pending: list[tuple[int, dict[str, jax.Array]]] = dataclasses.field(default_factory=list)
  skipped: int = 0  # Non-finite steps since the last progress line.
  consecutive: int = 0  # Non-finite steps in a row, up to the newest fetched one.
  start_step: int = 0
  start_time: float = dataclasses.field(default_factory=time.time)
  loop_start: tuple[int, float] = (0, 0.0)  # (step, time) where the loop began.

  def fetch(self, config: ml_collections.ConfigDict) -> dict[str, float] | None:
    """Means of the finite steps' metrics; logs (and counts) each skipped step."""
    if not self.pending:
      return None
    steps = [step for step, _ in self.pending]
    fetched = jax.device_get([metrics for _, metrics in self.pending])
    self.pending = []
    finite = []
    for step, metrics in zip(steps, fetched, strict=True):
      if not metrics['nonfinite']:
        finite.append(metrics)
        self.consecutive = 0
        continue
      self.skipped += 1
      self.consecutive += 1
      pairs = ', '.join(f'{k}={float(v):.4g}' for k, v in _pair_losses(metrics).items())
      message = (
        f'non-finite loss or gradient at step {step} (loss={float(metrics["loss"]):.4g}, '
        f'grad_norm={float(metrics["grad_norm"]):.4g}; {pairs})'
      )
      limit = config.get('nonfinite_max_consecutive', 10)
      if config.get('nonfinite', 'skip') == 'stop' or self.consecutive >= limit:
        raise NonFiniteLoss(
          f'{message}: stopped (config.nonfinite={config.get("nonfinite", "skip")!r}, '
          f'{self.consecutive} in a row, nonfinite_max_consecutive={limit}); the update was '
          f'not applied and no non-finite state was saved'
        )
      logging.warning('%s: update skipped (%d in a row)', message, self.consecutive)
    if not finite:
      return {}
    return {k: float(np.mean([m[k] for m in finite])) for k in finite[0] if k != 'nonfinite'}

  def progress_line(self, step: int, total: int, loss: float | None) -> str:
    now = time.time()
    if step == self.start_step:  # An interval of the compiled step alone: count it after all.
      self.start_step, self.start_time = self.loop_start
    rate = (step - self.start_step) / max(now - self.start_time, 1e-9)
    eta = _format_eta((total - step) / rate) if rate > 0 else '?'
    line = f'step {step}/{total} | {rate:.2f} steps/s | ETA {eta}'
    if loss is not None:
      line += f' | loss {loss:.4f}'
    if self.skipped:
      line += f' | skipped {self.skipped} non-finite'
    self.skipped, self.start_step, self.start_time = 0, step, now
    return line


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
  """Pretrains per `config`, resuming from `workdir` if it has checkpoints; returns the summary.

  Faults: one run per workdir (a lock), a workdir that cannot take the checkpoints fails before
  the first step, a corrupt latest checkpoint falls back to the newest valid one, a non-finite
  step is skipped (`config.nonfinite`), SIGTERM/SIGINT save the current step and exit 0
  (`Preempted`), and a failed save leaves the previous checkpoint intact.
  """
  start_time = time.time()
  config = config_validation.resolve_pretrain_config(config)
  # The checkpoint keeps the class names its texts describe, so an evaluation by later code
  # (whose corpus may have grown) prompts zero-shot only with names this model has read.
  config.data.activities = list(datasets.text_vocabulary(config))
  check_fault_config(config)
  workdir = Path(workdir).absolute()  # orbax refuses relative checkpoint paths.
  checkpoint.prepare_workdir(workdir)
  is_chief = jax.process_index() == 0
  evaluators = evaluators_lib.from_config(config.evals)  # Checked before any compute.
  warm_start = None
  if config.get('init_from', '') and not _committed_steps(workdir):
    warm_start = checkpoint.load_pretrained(config.init_from)  # Read (and checked) up front.
  lock = checkpoint.lock_workdir(workdir) if is_chief else None
  data_iter = mngr = None
  try:
    if is_chief:
      checkpoint.save_config(workdir, config)

    # ---- setup
    run = setup(config)
    mesh, state = run.mesh, run.state
    # The checkpoint being written plus the ones kept, before the first step rather than at
    # the first save.
    checkpoint.check_free_space(workdir, _state_bytes(state) * (config.keep_checkpoints + 1))
    data_iter = iter(pipeline.train_dataset(config, jax.process_index(), jax.process_count()))
    writer = metric_writers.create_default_writer(str(workdir), just_logging=not is_chief)
    if is_chief:
      parameter_overview.log_parameter_overview(state.params)
    mngr = checkpoint.checkpoint_manager(workdir, config)

    # ---- restore: the newest checkpoint that reads back
    restored_step, restored = checkpoint.restore_newest_valid(
      mngr,
      workdir,
      lambda: ocp.args.Composite(
        state=ocp.args.StandardRestore(state),
        data_iter=grain.checkpoint.CheckpointRestore(data_iter),
      ),
    )
    if restored_step is not None:
      state = restored['state']
      _console(is_chief, f'resumed from step {int(state.step)} in {workdir}')
    elif warm_start is not None:
      params, kept, unused = checkpoint.warm_start_params(state.params, warm_start)
      state = TrainState(step=state.step, params=params, opt_state=state.opt_state)
      _console(
        is_chief,
        f'parameters from {warm_start.workdir} (step {warm_start.step}); kept at their '
        f'initialisation: {kept or "none"}; not in this model: {unused or "none"}',
      )
    start_step = int(state.step)

    # ---- loop
    progress = periodic_actions.ReportProgress(
      num_train_steps=config.total_steps, writer=writer, every_steps=config.log_every_steps
    )
    interval = _Interval(start_step=start_step, loop_start=(start_step, time.time()))
    last_metrics: dict[str, float] = {}
    with _StopSignals() as stop:
      for step in range(start_step + 1, config.total_steps + 1):
        with jax.profiler.StepTraceAnnotation('train', step_num=step):
          batch = sharding.global_batch(next(data_iter), mesh)
          state, metrics = run.step_fn(state, batch)
        interval.pending.append((step, metrics))
        progress(step)
        if step == start_step + 1:  # Steps/s and ETA leave out the first step's compile.
          interval.start_step, interval.start_time = step, time.time()
        preempting = stop.received is not None or mngr.reached_preemption(step)
        log_due = step % config.log_every_steps == 0 or step == config.total_steps
        save_due = preempting or mngr.should_save(step) or step == config.total_steps
        if log_due or save_due:
          # Before any save: a 'stop' run never writes the step it stops on (and a skipped
          # step's state is the finite one before it).
          fetched = interval.fetch(config)
          if fetched:
            last_metrics = fetched
            writer.write_scalars(step, fetched)
          if log_due:
            _console(
              is_chief,
              interval.progress_line(step, config.total_steps, last_metrics.get('loss')),
            )
        try:
          mngr.save(
            step,
            args=ocp.args.Composite(
              state=ocp.args.StandardSave(state),
              data_iter=grain.checkpoint.CheckpointSave(data_iter),
            ),
            force=preempting or step == config.total_steps,
          )
          if preempting:
            mngr.wait_until_finished()
        except Exception as error:
          if cause := checkpoint.disk_error(error):
            raise _save_failed(cause, step, workdir) from error
          raise
        if preempting:
          why = stop.received or 'preemption notice'
          raise Preempted(_preempted(why, step, config, workdir, is_chief))
        for scheduled in evaluators:
          if scheduled.due_during_training(step, config.total_steps):
            writer.write_scalars(step, _evaluate(scheduled, state, config, mesh, workdir))
      try:
        mngr.wait_until_finished()
      except Exception as error:
        if cause := checkpoint.disk_error(error):
          raise _save_failed(cause, config.total_steps, workdir) from error
        raise
      if stop.received:  # During the last save: the run is complete and saved.
        raise Preempted(_preempted(stop.received, config.total_steps, config, workdir, is_chief))
    mngr.close()
    data_iter.close()  # Stops grain's worker processes and frees their shared memory.
    mngr = data_iter = None

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
  finally:
    if mngr is not None:
      mngr.close()
    if data_iter is not None:
      data_iter.close()
    if lock is not None:
      lock.close()  # Releases the workdir (the kernel would, too, when the process ends).


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
