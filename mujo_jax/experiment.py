r"""`run(config, workdir, pretrain=...)`: an experiment, i.e. members × seeds, then the report.

  python -m mujo_jax.main --config=configs/experiments/strategies.py --workdir=W
  python -m mujo_jax.main --config=configs/experiments/strategies.py --workdir=W \
      --config.print_commands=True     # one command line per member, for a job array
  python -m mujo_jax.main --config=configs/experiments/strategies.py --workdir=W \
      --config.member=3                # member 3 only (all its seeds)
  python -m mujo_jax.main --config=configs/experiments/strategies.py --workdir=W \
      --config.report_only=True        # merge whatever members have finished
  python -m mujo_jax.main --config=configs/experiments/strategies.py:runlocal --workdir=W \
      --config.require_complete=True   # exit status 2 unless every member × seed finished (CI)

For every member (configs/experiments/*.py `members`, in the order of `config.members`) and
pretraining seed, in `W/members/<member>/seed<k>/`: pretraining (skipped when `summary.json` is
there; an interrupted one resumes from its own checkpoints), then the linear-probe evaluation
into `.../eval/` (skipped when `eval/timing.json` is there: written after every table, so an
evaluation killed half-way is redone, never half-counted), then `W/report.md`
(mujo_jax/eval/experiment_report.py). Killing the experiment and starting the same command again
redoes nothing that had finished. `wall_time.json` records every start of each stage, so that
the cost of a resumed run is the sum of its starts.

The trainer is passed in (`pretrain`: `train.train_and_evaluate`): mujo_jax/main.py is the one
importer of the trainer.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import shlex
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import ml_collections
from jax.experimental.compilation_cache import compilation_cache

from configs import pretrain as pretrain_config
from mujo_jax.eval import experiment_report, linear_probe

Pretrain = Callable[[ml_collections.ConfigDict, Path], Any]
Evaluate = Callable[[ml_collections.ConfigDict, Path], Any]
# Flags of the experiment's own command line that select what to run, not what an experiment is.
_SELECTION_FLAGS = ('--config.member', '--config.print_commands', '--config.report_only')


def member_names(config: ml_collections.ConfigDict) -> list[str]:
  return list(config.members.keys())


def member_pretrain_config(
  config: ml_collections.ConfigDict, name: str, seed: int
) -> ml_collections.ConfigDict:
  """The member's configs/pretrain.py variant, its overrides, then the experiment's."""
  member = config.members[name]
  out = pretrain_config.get_config(member.pretrain)
  out.update(copy.deepcopy(member.overrides))
  out.update(copy.deepcopy(config.pretrain_overrides))
  out.seed = int(seed)
  if config.total_steps:
    out.total_steps = int(config.total_steps)
  if config.tfds_data_dir:
    out.data.tfds_data_dir = config.tfds_data_dir
  if not config.pretrain_evals:
    out.evals = ml_collections.ConfigDict()
  return out


def member_eval_config(
  config: ml_collections.ConfigDict, checkpoint_dir: Path
) -> ml_collections.ConfigDict:
  """The `linear_probe` job's config for one member's checkpoint."""
  out = copy.deepcopy(config.eval)
  out.unlock()
  out.job = 'linear_probe'
  out.checkpoint = str(checkpoint_dir)
  return out


def commands(
  config: ml_collections.ConfigDict, workdir: str | Path, argv: Sequence[str] | None = None
) -> list[str]:
  """One `python -m mujo_jax.main` line per member, then the report's.

  `argv`: the experiment's own command-line arguments (without the program name); the lines
  repeat them with `--config.member=<i>` (or `--config.report_only=True`) in place of the
  selection flags. Without `argv`: `--config=configs/experiments/<name>.py:<variant> --workdir=W`.
  """
  if argv is None:
    variant = f':{config.variant}' if config.variant else ''
    argv = [f'--config=configs/experiments/{config.name}.py{variant}', f'--workdir={workdir}']
  kept = [a for a in argv if not a.startswith(_SELECTION_FLAGS)]
  base = 'python -m mujo_jax.main ' + ' '.join(shlex.quote(a) for a in kept)
  lines = [f'{base} --config.member={i}' for i in range(len(member_names(config)))]
  return lines + [f'{base} --config.report_only=True']


def _write_json(path: Path, value: Any) -> None:
  """Writes `value` whole or not at all: a kill mid-write leaves the previous file (or none)."""
  if jax.process_index() == 0:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + '.partial')
    partial.write_text(json.dumps(value, indent=2))
    partial.replace(path)


# Seconds between two updates of a running stage's end in wall_time.json: a killed start
# counts up to its last update.
HEARTBEAT_S = 10.0


def _timed(directory: Path, stage: str, activity: Path, fn: Callable[[], Any]) -> float:
  """Runs `fn` as one start of `stage`; returns the stage's wall time over all its starts.

  The start is recorded before `fn` runs and its end moved forward every `HEARTBEAT_S` while it
  runs, so a start that is killed still counts, up to its last heartbeat (or, for a record
  without one, its last write under `activity`: experiment_report.closed_starts).
  """
  path = directory / experiment_report.WALL_TIME
  record = experiment_report.read_json(path) or {}
  starts = experiment_report.closed_starts(record.get(stage, []), activity)
  now = time.time()
  starts.append([now, now])
  record[stage] = starts
  lock = threading.Lock()

  def beat() -> None:
    with lock:
      starts[-1][1] = time.time()
      _write_json(path, record)

  beat()
  stop = threading.Event()

  def pulse() -> None:
    while not stop.wait(HEARTBEAT_S):
      beat()

  heart = threading.Thread(target=pulse, daemon=True)
  heart.start()
  try:
    fn()
  finally:  # An exception ends the start too: its time was spent.
    stop.set()
    heart.join()
    beat()
  return sum(end - start for start, end in starts)


@contextlib.contextmanager
def compile_settings(cache_dir: str | Path | None, fast_compile: bool = False):
  """JAX's compilation settings while the members run; the previous ones after.

  `cache_dir`: JAX's persistent compilation cache (None: off). The members of an experiment
  differ in a few config values: every seed of a member, and every member with the same loss,
  compiles the same programs (init, embeddings, the evaluation's), and compilation is most of a
  small model's CPU time. A cache directory the user set (`JAX_COMPILATION_CACHE_DIR`) is kept.
  `fast_compile`: XLA without most optimisations (what the tests run under): for a tiny model
  trained for a few steps, compiling costs far more than the steps it would speed up.
  """
  updates: dict[str, Any] = {}
  if cache_dir is not None and not jax.config.values['jax_compilation_cache_dir']:
    updates['jax_compilation_cache_dir'] = str(cache_dir)
    # Every program: a member's few sub-second embedding compiles add up over members × seeds.
    updates['jax_persistent_cache_min_compile_time_secs'] = 0.0
  if fast_compile:
    updates['jax_disable_most_optimizations'] = True
  before = {key: jax.config.values[key] for key in updates}
  for key, value in updates.items():
    jax.config.update(key, value)
  compilation_cache.reset_cache()  # JAX decides on first use whether a cache is on.
  try:
    yield
  finally:
    for key, value in before.items():
      jax.config.update(key, value)
    compilation_cache.reset_cache()


def run_member(
  config: ml_collections.ConfigDict,
  workdir: Path,
  name: str,
  seed: int,
  pretrain: Pretrain,
  evaluate: Evaluate,
) -> dict[str, str]:
  """Pretraining then evaluation of one member and seed, each skipped when it has finished."""
  directory = experiment_report.member_dir(workdir, name, seed)
  done = {}
  # The trainer writes summary.json last; one cut short by a kill reads as None: pretrain again
  # (it resumes from the final checkpoint and only rewrites the summary).
  if experiment_report.read_json(directory / 'summary.json') is not None:
    done['pretrain'] = 'skipped'
  else:
    logging.info('experiment: pretraining %s seed %d in %s', name, seed, directory)
    _timed(
      directory,
      'pretrain',
      directory,
      lambda: pretrain(member_pretrain_config(config, name, seed), directory),
    )
    done['pretrain'] = 'ran'
  eval_dir = experiment_report.eval_dir(workdir, name, seed)
  marker = eval_dir / experiment_report.EVAL_DONE
  if experiment_report.read_json(marker) is not None:
    done['eval'] = 'skipped'
  else:
    logging.info('experiment: evaluating %s seed %d in %s', name, seed, eval_dir)
    seconds = _timed(
      directory,
      'eval',
      eval_dir,
      lambda: evaluate(member_eval_config(config, directory), eval_dir),
    )
    # Last: its presence says that every table of the evaluation is there.
    _write_json(marker, {'seconds': seconds})
    done['eval'] = 'ran'
  return done


def write_report(config: ml_collections.ConfigDict, workdir: str | Path) -> Path:
  names = member_names(config)
  return experiment_report.write(
    workdir,
    names,
    tuple(config.seeds),
    title=f'Experiment `{config.name}`',
    model=config.report.model,
    modality_set=config.report.modality_set,
    alpha=config.report.alpha,
    variants={n: config.members[n].pretrain for n in names},
  )


def run(
  config: ml_collections.ConfigDict,
  workdir: str | Path,
  *,
  pretrain: Pretrain,
  evaluate: Evaluate = linear_probe.run,
  argv: Sequence[str] | None = None,
) -> dict[str, Any]:
  """The `experiment` job (module docstring). Returns what ran: `{member/seed: {step: ...}}`."""
  if config.job != 'experiment':
    raise ValueError(f"invalid experiment config: job={config.job!r}: expected 'experiment'")
  names = member_names(config)
  if not names:
    raise ValueError('invalid experiment config: members is empty')
  if not config.seeds:
    raise ValueError('invalid experiment config: seeds is empty')
  workdir = Path(workdir)
  if config.print_commands:
    lines = commands(config, workdir, argv)
    sys.stdout.write('\n'.join(lines) + '\n')
    return {'commands': lines}
  if config.member != -1 and not 0 <= config.member < len(names):
    raise ValueError(
      f'invalid experiment config: member={config.member}: expected -1 (all) or an index '
      f'in [0, {len(names)}) of {names}'
    )
  selected = names if config.member == -1 else [names[config.member]]
  done: dict[str, Any] = {}
  if not config.report_only:
    _write_json(
      workdir / 'experiment.json',
      {'name': config.name, 'members': {n: config.members[n].pretrain for n in names}},
    )
    cache = workdir / 'jax_cache' if config.compilation_cache else None
    with compile_settings(cache, config.fast_compile):
      for name in selected:
        for seed in config.seeds:
          done[f'{name}/seed{seed}'] = run_member(config, workdir, name, seed, pretrain, evaluate)
  if (config.member == -1 or config.report_only) and jax.process_index() == 0:
    path = write_report(config, workdir)
    done['report'] = str(path)
    logging.info('experiment: report in %s', path)
    if config.require_complete:
      missing = experiment_report.collect(workdir, names, tuple(config.seeds)).missing
      if missing:
        raise ValueError(
          f'experiment {config.name}: require_complete=True but {len(missing)} member runs have '
          f'not finished: {", ".join(missing)} (the report in {path} leaves them out)'
        )
  return done
