"""Shared parts of the experiment definitions (configs/experiments/*.py)."""

from __future__ import annotations

import ml_collections

from configs.common import linear_probe_settings

# configs/pretrain.py variant keys of the model sizes.
SIZES = {'tiny': 'size=tiny', 'small': 'size=small', 'base': 'size=base'}
# The `small` scale (variant keys it sets unless given): the tiny model (width 32, one block)
# on the default synthetic corpus for 300 steps at batch 32 (~2 epochs of its 4,400 training
# clips), two seeds, evaluated on the synthetic test subjects and on the real recordings
# (sktime's BasicMotions smartwatch set, pybullet's DeepMimic motion capture). Sized from
# measured members on two CPU cores shared with another training run: the small model makes
# ~1.5 steps/s there, the tiny one ~12; a run whose programs were cached took 71 s at load ~9,
# so 16 members × 2 seeds ~40 min; measured idle as two processes: 15.4 min (README). A
# CPU-sized comparison, not the paper's scale.
SMALL = {
  'size': 'tiny',
  'steps': 300,
  'batch_size': 32,
  'seeds': 2,
  'datasets': 'synthetic+basic_motions+deepmimic',
  'max_windows': 300,
  'probe_seeds': 2,
}


def experiment_config(
  name: str,
  members: dict[str, str],
  arg: ml_collections.ConfigDict,
  variant: str = '',
) -> ml_collections.ConfigDict:
  """An experiment: `members` (name -> configs/pretrain.py variant) × `seeds`, then evaluation.

  `arg` holds the shared variant keys: `size`, `seeds` (0: 3, or 1 with runlocal, 2 with
  small), `steps`, `datasets`, `members` (a `+` separated subset of the member names) and two
  scales below the paper's, each one set of the same keys: `runlocal` (tiny model on the tiny
  corpus, a few steps, the runlocal evaluation without the costly baselines: a CI-sized run)
  and `small` (`SMALL`: the tiny model for a few hundred steps on the default corpus, two
  seeds, the real-data sets too: a by-hand run of ~15 min as two processes on two idle CPU
  cores, longer when they are shared).
  """
  if arg.runlocal and arg.small:
    raise ValueError('runlocal and small are two scales of the experiment: choose one')
  if arg.members:
    chosen = arg.members.split('+')
    unknown = [m for m in chosen if m not in members]
    if unknown:
      raise ValueError(f'members={arg.members!r}: unknown {unknown}; known: {sorted(members)}')
    members = {m: members[m] for m in chosen}
  size = 'tiny' if arg.runlocal else arg.size
  if arg.small:
    size = SMALL['size']
    arg.steps = arg.steps or SMALL['steps']
    arg.seeds = arg.seeds or SMALL['seeds']
    arg.datasets = SMALL['datasets'] if arg.datasets == 'synthetic' else arg.datasets
  if size not in SIZES:
    raise ValueError(f'size={size!r}: expected one of {sorted(SIZES)}')
  config = ml_collections.ConfigDict()
  config.job = 'experiment'
  config.name = name
  config.variant = variant  # The text after the colon in --config=<file>.py:<variant>.
  config.members = ml_collections.ConfigDict()
  for member, member_variant in members.items():
    config.members[member] = ml_collections.ConfigDict()
    config.members[member].pretrain = ','.join(
      filter(None, (SIZES[size], member_variant, 'runlocal' if arg.runlocal else ''))
    )
    # Merged into the member's pretraining config (nested like configs/pretrain.py).
    config.members[member].overrides = ml_collections.ConfigDict()
  # Merged into every member's pretraining config after its own overrides.
  config.pretrain_overrides = ml_collections.ConfigDict()
  if arg.small:
    config.pretrain_overrides.batch_size = SMALL['batch_size']
    # Windows made in the training process: a worker process costs its start and its shutdown
    # on every run and buys nothing for a tiny model on two shared cores.
    config.pretrain_overrides.data = ml_collections.ConfigDict({'num_workers': 0})
  # TFDS data_dir of the synthetic corpus (None: TFDS's default); the evaluation reads it too.
  config.tfds_data_dir = ml_collections.config_dict.placeholder(str)
  config.total_steps = arg.steps  # Pretraining steps of every member (0: the member config's).
  # The end-of-run probe of pretraining is off: the evaluation below runs on every member.
  config.pretrain_evals = False
  # Members and seeds share compiled programs through JAX's persistent cache in W/jax_cache
  # (experiment.compile_settings); a few MB.
  config.compilation_cache = True
  # XLA without most optimisations: a tiny model's few steps cost less than their compiling.
  config.fast_compile = bool(arg.runlocal)
  # Pretraining seeds of every member (seeds=0: 3, or 1 with runlocal).
  config.seeds = tuple(range(arg.seeds or (1 if arg.runlocal else 3)))

  # The linear-probe evaluation of every member × seed (the `linear_probe` job's settings).
  config.eval = linear_probe_settings(
    datasets=arg.datasets, seeds=1 if arg.runlocal else 3, runlocal=arg.runlocal
  )
  if arg.runlocal or arg.small:
    # The report compares the pretrained models; the supervised baseline is the same for every
    # member (and costs a training per budget), and each member's own plots are not read.
    config.eval.baselines.supervised = False
    config.eval.plots = False
    config.eval.modality_sets = ('imu', 'imu+pose')
    config.eval.fractions = (0.2, 1.0)
  if arg.small:
    config.eval.seeds = tuple(range(SMALL['probe_seeds']))
    config.eval.fractions = (0.05, 0.2, 1.0)
    config.eval.labels_per_class = (2,)  # The low-label regime MuJo is about.
    config.eval.synthetic.max_windows = SMALL['max_windows']
    config.eval.retrieval_max_windows = SMALL['max_windows']
  config.eval.checkpoint_step = ml_collections.config_dict.placeholder(int)  # None: the latest.
  config.eval.mesh = (('data', -1),)

  # The report: which probe rows the comparison tables read.
  config.report = ml_collections.ConfigDict()
  config.report.model = 'pretrained'
  config.report.modality_set = 'imu'
  config.report.alpha = 0.05  # Significance level of the paired test over seeds.

  # Scale-out: `member` runs one member only (-1: all, in order), `print_commands` prints one
  # command line per member (and one for the report) instead of running, `report_only` merges
  # whatever members have finished.
  config.member = -1
  config.print_commands = False
  config.report_only = False
  # The report step fails (an input error: exit status 2) when a member or seed has not
  # finished, instead of merging what has: CI, or a job array's report step.
  config.require_complete = False
  return config


def shared_arg_defaults() -> dict:
  return dict(
    size='small', seeds=0, steps=0, datasets='synthetic', members='', runlocal=False, small=False
  )
