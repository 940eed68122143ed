"""Entry point: `python -m mujo_jax.main --config=configs/pretrain.py --workdir=W`.

`config.job`: `pretrain` (configs/pretrain.py), `linear_probe` (configs/linear_probe.py) or
`experiment` (configs/experiments/*.py: members × seeds of pretraining and evaluation).
"""

from __future__ import annotations

import os
import sys

# TensorFlow (imported by clu's summary writer and TFDS; it computes nothing of a run) prints a
# C++ oneDNN notice at import, in every process, before any log level applies. Set before the
# imports below; the user's own value wins.
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')

from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from mujo_jax import distributed, experiment, train  # noqa: E402
from mujo_jax.eval import linear_probe  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file(
  'config', None, 'Config file (get_config(arg)).', lock_config=True
)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for checkpoints, logs and results.')
_VERBOSE = flags.DEFINE_bool(
  'verbose', False, 'Show the Python traceback of an input error (also: MUJO_TRACEBACK=1).'
)
flags.mark_flags_as_required(['config', 'workdir'])

# Errors about what the user gave (config values, paths, data files) carry one line that names
# the key, file or value and what was expected: that line is the answer, not a traceback.
_INPUT_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError)


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
    print(f'error: {error}', file=sys.stderr)
    sys.exit(2)


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


if __name__ == '__main__':
  app.run(main)
