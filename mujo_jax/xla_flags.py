"""XLA flags this package sets by default, before JAX starts its backends.

XLA reads `XLA_FLAGS` once, when the first backend starts, so `mujo_jax/__init__.py` applies
these defaults at import; importing mujo_jax after JAX has already run a computation leaves the
running backend as it is (only speed differs). A flag the user already put in `XLA_FLAGS` is
never overridden, and setting `MUJO_XLA_DEFAULTS=0` skips them all.

- `--xla_cpu_experimental_ynn_fusion_type=dot`: XLA:CPU hands dots, reductions and elementwise
  fusions to YNNPACK by default. YNNPACK's GEMMs are the fast path, but its reductions (every
  LayerNorm statistic and bias gradient) are slower than XLA's own loop emitters here: keeping
  YNNPACK for dots only takes 9-12 % off the `small` train step on CPU (BENCHMARKS.md,
  "Optimisations tried"). CPU-only; GPU and TPU ignore it.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

DEFAULTS: dict[str, str] = {
  '--xla_cpu_experimental_ynn_fusion_type': 'dot',
}


def apply_defaults(environ: MutableMapping[str, str] = os.environ) -> str:
  """Appends each default flag not already named in `environ['XLA_FLAGS']`; returns the flags."""
  flags = environ.get('XLA_FLAGS', '')
  if environ.get('MUJO_XLA_DEFAULTS', '1') == '0':
    return flags
  present = {token.split('=', 1)[0] for token in flags.split()}
  missing = [f'{name}={value}' for name, value in DEFAULTS.items() if name not in present]
  if missing:
    flags = ' '.join([flags, *missing]).strip()
    environ['XLA_FLAGS'] = flags
  return flags
