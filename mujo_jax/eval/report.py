"""Writing evaluation results: CSV files (one row per measurement) and markdown summary tables."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

PROBE_COLUMNS = (
  'dataset',
  'split',
  'modality_set',
  'budget',
  'fraction',
  'labels_per_class',
  'seed',
  'model',
  'num_train',
  'num_eval',
  'c',
  'validation_macro_f1',
  'macro_f1',
  'accuracy',
  'converged',
  'checkpoint_step',
)
MODELS = ('pretrained', 'random_init', 'supervised', 'statistics')


def write_csv(path: Path, rows: Sequence[Mapping], columns: Sequence[str] | None = None) -> Path:
  """Rows as CSV with a header; `columns` fixes the order (and rejects unexpected keys)."""
  columns = list(columns or (rows[0].keys() if rows else ()))
  with path.open('w', newline='') as handle:
    writer = csv.DictWriter(handle, fieldnames=columns, extrasaction='raise')
    writer.writeheader()
    for row in rows:
      writer.writerow({k: _format(v) for k, v in row.items()})
  return path


def _format(value):
  if isinstance(value, float):
    return '' if np.isnan(value) else f'{value:.6g}'
  return value


def mean_std(values: Sequence[float]) -> str:
  return (
    f'{np.mean(values):.3f} ± {np.std(values):.3f}' if len(values) > 1 else (f'{values[0]:.3f}')
  )


def markdown_table(header: Sequence[str], lines: Sequence[Sequence]) -> str:
  out = ['| ' + ' | '.join(map(str, header)) + ' |', '|' + '|'.join('---' for _ in header) + '|']
  for line in lines:
    out.append('| ' + ' | '.join(_cell(v) for v in line) + ' |')
  return '\n'.join(out)


def _cell(value) -> str:
  if isinstance(value, float):
    return f'{value:.3f}'
  return str(value)


def _budget_order(row: Mapping) -> tuple[int, float]:
  """Counts per class first (smallest first), then fractions: the order of the columns."""
  if row['labels_per_class']:
    return (0, float(row['labels_per_class']))
  return (1, float(row['fraction']))


def _budget_cells(
  rows: Sequence[Mapping], modality_set: str, model: str, budgets: Sequence[str], metric: str
) -> list[str]:
  """'mean ± std' over seeds of `metric` per budget ('–' where nothing was measured)."""
  cells = []
  for budget in budgets:
    values = [
      r[metric]
      for r in rows
      if r['modality_set'] == modality_set and r['model'] == model and r['budget'] == budget
    ]
    cells.append(mean_std(values) if values else '–')
  return cells


def probe_tables(rows: Sequence[Mapping], metric: str) -> list[str]:
  """Per dataset × split: modality set × model rows, one column per label budget, mean ± std."""
  sections = []
  keys = list(dict.fromkeys((r['dataset'], r['split']) for r in rows))
  for dataset, split in keys:
    selected = [r for r in rows if r['dataset'] == dataset and r['split'] == split]
    budgets = [r['budget'] for r in sorted(selected, key=_budget_order)]
    budgets = list(dict.fromkeys(budgets))
    lines = []
    for modality_set in dict.fromkeys(r['modality_set'] for r in selected):
      for model in MODELS:
        cells = _budget_cells(selected, modality_set, model, budgets, metric)
        if any(c != '–' for c in cells):
          lines.append([modality_set, model] + cells)
    header = ['modality set', 'model'] + budgets
    sections.append(
      f'### {dataset} / {split}: {metric.replace("_", " ")} (mean ± std over '
      f'seeds)\n\n' + markdown_table(header, lines)
    )
  return sections


def rows_table(rows: Sequence[Mapping], columns: Sequence[str]) -> str:
  return markdown_table(columns, [[r[c] for c in columns] for r in rows])


def cross_dataset_table(rows: Sequence[Mapping], unseen: Mapping[str, str], metric: str) -> str:
  """One table for every dataset: dataset × split × modality set × model rows, budget columns.

  `unseen` says, per dataset, how many of its classes the pretraining vocabulary lacks (a
  dataset whose classes are all absent measures transfer to activities never pretrained on).
  """
  budgets = list(dict.fromkeys(r['budget'] for r in sorted(rows, key=_budget_order)))
  lines = []
  for dataset, split in dict.fromkeys((r['dataset'], r['split']) for r in rows):
    selected = [r for r in rows if r['dataset'] == dataset and r['split'] == split]
    for modality_set in dict.fromkeys(r['modality_set'] for r in selected):
      for model in MODELS:
        cells = _budget_cells(selected, modality_set, model, budgets, metric)
        if any(c != '–' for c in cells):
          lines.append([dataset, split, modality_set, model] + cells + [unseen.get(dataset, '')])
  header = ['dataset', 'split', 'modality set', 'model'] + budgets + ['unseen in pretraining']
  return markdown_table(header, lines)
