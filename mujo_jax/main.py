"""Entry point: `python -m mujo_jax.main --config=configs/pretrain.py --workdir=W`.

`config.job`: `pretrain` (configs/pretrain.py), `linear_probe` (configs/linear_probe.py) or
`experiment` (configs/experiments/*.py: members × seeds of pretraining and evaluation).
"""

from __future__ import annotations

import os
import sys
from typing import Any

# TensorFlow (imported by clu's summary writer and TFDS; it computes nothing of a run) prints a
# C++ oneDNN notice at import, in every process, before any log level applies. Set before the
# imports below; the user's own value wins.
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')

from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from mujo_jax import distributed, experiment, train  # noqa: E402
from mujo_jax.eval import linear_probe  # noqa: E402


def define_flags(
  flag_values: flags.FlagValues = flags.FLAGS, sys_argv: list[str] | None = None
) -> tuple[Any, flags.FlagHolder[str], flags.FlagHolder[bool]]:
  """Defines --config (with its --config.key overrides, read from `sys_argv`), --workdir and
  --verbose in `flag_values`; tests define them in a fresh `FlagValues`."""
  config = config_flags.DEFINE_config_file(
    'config',
    None,
    'Config file (get_config(arg)).',
    lock_config=True,
    flag_values=flag_values,
    sys_argv=sys_argv,
  )
  workdir = flags.DEFINE_string(
    'workdir', None, 'Directory for checkpoints, logs and results.', flag_values=flag_values
  )
  verbose = flags.DEFINE_bool(
    'verbose',
    False,
    'Show the Python traceback of an input error (also: MUJO_TRACEBACK=1).',
    flag_values=flag_values,
  )
  flags.mark_flags_as_required(['config', 'workdir'], flag_values=flag_values)
  return config, workdir, verbose


_CONFIG, _WORKDIR, _VERBOSE = define_flags()

# Errors about what the user gave (config values, paths, data files) carry one line that names
# the key, file or value and what was expected: that line is the answer, not a traceback.
_INPUT_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError)
# What parsing `--config` and its overrides raises: absl's flag errors, and ml_collections'
# KeyError (wrapped in AttributeError) for an override of a key the config lacks, or OSError on
# first use of a config file that failed to load.
_FLAG_ERRORS = (flags.Error, AttributeError, KeyError, OSError, TypeError, ValueError)


def _wants_traceback(argv: list[str]) -> bool:
  return os.environ.get('MUJO_TRACEBACK') == '1' or any(
    arg in ('--verbose', '--verbose=true', '--verbose=1') for arg in argv
  )


def _exit_with(message: str) -> None:
  print(f'error: {message}', file=sys.stderr)
  sys.exit(2)


def flag_error_line(error: BaseException, argv: list[str]) -> str:
  """One line for an error raised while parsing the command line.

  absl reports an exception raised by `get_config` as its formatted traceback inside the flag
  error's message; the line worth showing is the innermost exception's, after the flag.
  """
  root = error
  while (root.__cause__ or root.__context__) is not None:
    root = root.__cause__ or root.__context__
  if isinstance(root, KeyError):
    key = str(root.args[0]).strip('"\'') if root.args else ''
    given = [a for a in argv if a.startswith('--config.') and key in a.partition('=')[0]]
    return (
      f'{given[0] if given else "--config." + key}: the config has no key {key!r} '
      '(a typo? each --config.key=value must name a key of the config file)'
    )
  text = str(error).strip()
  lines = [line for line in text.splitlines() if line.strip()]
  if len(lines) <= 1 or root is error:
    return ' '.join(text.split())
  flag = lines[0].split(': Error whilst parsing')[0].removeprefix('flag ')
  return f'{flag}: {" ".join(str(root).split())}'


def parse_flags(
  argv: list[str], flag_values: flags.FlagValues = flags.FLAGS, config: Any = None
) -> list[str]:
  """absl's flag parsing, with input errors as one line and exit status 2 (`app.run`'s hook).

  `flag_values` and `config` (the holder `define_flags` returned) default to the module's.
  """
  config = _CONFIG if config is None else config
  for index, arg in enumerate(argv[1:], start=1):
    # ml_collections defers a missing config file to the first access, as a multi-line OSError.
    if (arg.startswith('--config=') or arg == '--config') and not _wants_traceback(argv):
      following = argv[index + 1] if index + 1 < len(argv) else ''
      value = following if arg == '--config' else arg.removeprefix('--config=')
      path = value.partition(':')[0]
      if not os.path.isfile(path):
        _exit_with(
          f'--config={value}: config file {path!r} not found (expected e.g. configs/pretrain.py)'
        )
  try:
    remaining = flag_values(argv)
    config.value.get('job')  # Loads the config now, inside this handler.
  except _FLAG_ERRORS as error:
    if _wants_traceback(argv):
      raise
    _exit_with(flag_error_line(error, argv))
  return remaining


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  # The console shows the run's progress lines, warnings and errors; the libraries' INFO logs
  # (orbax, grain, clu, absl) come back with absl's --verbosity=0 (or 1 for DEBUG as well).
  if not flags.FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)
  try:
    _run(_CONFIG.value)
  except _INPUT_ERRORS as error:
    if _VERBOSE.value or os.environ.get('MUJO_TRACEBACK') == '1':
      raise
    _exit_with(str(error))


def _run(config) -> None:
  distributed.initialize_from_env()
  logging.info('job=%s workdir=%s', config.job, _WORKDIR.value)
  if config.job == 'pretrain':
    train.train_and_evaluate(config, _WORKDIR.value)
  elif config.job == 'linear_probe':
    linear_probe.run(config, _WORKDIR.value)
  elif config.job == 'experiment':
    experiment.run(config, _WORKDIR.value, pretrain=train.train_and_evaluate, argv=sys.argv[1:])
  else:
    raise app.UsageError(
      f"config.job={config.job!r}: expected 'pretrain', 'linear_probe' or 'experiment'"
    )


def run(argv: list[str] | None = None) -> None:
  """The command line: `python -m mujo_jax.main ...` (`argv` None: `sys.argv`)."""
  app.run(main, argv=argv, flags_parser=parse_flags)


if __name__ == '__main__':
  run()
