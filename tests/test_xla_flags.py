"""The package's default XLA flags: added when absent, never over a user's flag, and effective."""

from __future__ import annotations

import os
import subprocess
import sys

from mujo_jax import xla_flags

_YNN = '--xla_cpu_experimental_ynn_fusion_type'


def test_defaults_appended_to_other_flags():
  environ = {'XLA_FLAGS': '--xla_force_host_platform_device_count=4'}
  flags = xla_flags.apply_defaults(environ)
  assert environ['XLA_FLAGS'] == flags
  assert flags.split() == ['--xla_force_host_platform_device_count=4', f'{_YNN}=dot']


def test_defaults_set_without_xla_flags():
  environ = {}
  xla_flags.apply_defaults(environ)
  assert environ['XLA_FLAGS'] == f'{_YNN}=dot'


def test_user_flag_wins():
  environ = {'XLA_FLAGS': f'{_YNN}=dot,reduce'}
  xla_flags.apply_defaults(environ)
  assert environ['XLA_FLAGS'] == f'{_YNN}=dot,reduce'


def test_opt_out():
  environ = {'XLA_FLAGS': '', 'MUJO_XLA_DEFAULTS': '0'}
  xla_flags.apply_defaults(environ)
  assert environ['XLA_FLAGS'] == ''


_PROBE = """
import mujo_jax, jax, jax.numpy as jnp
x = jnp.ones((512, 64))
reduce_hlo = jax.jit(lambda x: jnp.sum(x * 2.0, axis=0)).lower(x).compile().as_text()
dot_hlo = jax.jit(lambda x: x @ x.T).lower(x).compile().as_text()
print('ynn_fusion' in reduce_hlo, 'ynn_fusion' in dot_hlo)
"""


def _probe(xla_flags_env: str | None) -> str:
  env = {k: v for k, v in os.environ.items() if k not in ('XLA_FLAGS', 'MUJO_XLA_DEFAULTS')}
  if xla_flags_env is not None:
    env['XLA_FLAGS'] = xla_flags_env
  result = subprocess.run(
    [sys.executable, '-c', _PROBE], env=env, capture_output=True, text=True, check=True, timeout=120
  )
  return result.stdout.split('\n')[-2]


def test_flag_reaches_the_cpu_backend():
  # Imported before JAX starts: reductions stay with XLA, dots still go to YNNPACK.
  assert _probe(None) == 'False True'
  # The user's choice is what the backend gets.
  assert _probe(f'{_YNN}=dot,reduce') == 'True True'
