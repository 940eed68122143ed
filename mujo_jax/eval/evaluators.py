"""Evaluators built from config: what the trainer runs every N steps and at the end.

`config.evals` maps a name to the settings of one evaluator plus `type` (a key of `TYPES`) and
`every_steps` (0: only at the end of the run). The `linear_probe` job builds the same
`LinearProbe` from the same settings, so a number in a run's summary can be reproduced from its
checkpoint by the job (configs/linear_probe.py `:quick` for the default `probe`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jax
import ml_collections

from mujo_jax import checkpoint
from mujo_jax.eval import linear_probe

TYPES = {'linear_probe': linear_probe.LinearProbe}
_SCHEDULE_KEYS = ('type', 'every_steps')


@dataclasses.dataclass(frozen=True, kw_only=True)
class Scheduled:
  """One evaluator of a run and when it runs."""

  name: str
  evaluator: Any
  every_steps: int

  def due_during_training(self, step: int, total_steps: int) -> bool:
    """Periodic runs; the end of the run is always evaluated, after training."""
    return bool(self.every_steps) and step % self.every_steps == 0 and step != total_steps

  def run(
    self, pretrained: checkpoint.Pretrained, mesh: jax.sharding.Mesh, workdir: Path
  ) -> dict[str, float]:
    """Runs the evaluator, writes its outputs under `workdir/evals/<name>`, returns scalars."""
    out_dir = Path(workdir) / 'evals' / self.name
    is_chief = jax.process_index() == 0
    if is_chief:
      out_dir.mkdir(parents=True, exist_ok=True)
    evaluation = self.evaluator.evaluate(pretrained, mesh, out_dir if is_chief else None)
    if is_chief:
      self.evaluator.write(evaluation, out_dir)
    return {
      f'{self.name}/{key}': value for key, value in self.evaluator.scalars(evaluation).items()
    }


def from_config(evals: ml_collections.ConfigDict) -> list[Scheduled]:
  """The evaluators of `config.evals`, each validated before any compute."""
  scheduled = []
  for name, entry in evals.items():
    kind = entry.get('type', None)
    if kind not in TYPES:
      raise ValueError(
        f'invalid config: evals.{name}.type={kind!r}: expected one of {tuple(TYPES)}'
      )
    every = entry.get('every_steps', None)
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
      raise ValueError(
        f'invalid config: evals.{name}.every_steps={every!r}: expected an int '
        '>= 0 (0: only at the end of the run)'
      )
    settings = ml_collections.ConfigDict(
      {k: v for k, v in entry.to_dict().items() if k not in _SCHEDULE_KEYS}
    )
    scheduled.append(Scheduled(name=name, evaluator=TYPES[kind](settings), every_steps=every))
  return scheduled
