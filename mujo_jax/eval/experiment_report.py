"""The report of an experiment (mujo_jax/experiment.py): its members compared, from files only.

Reads, for every member and pretraining seed, `W/members/<member>/seed<k>/summary.json`
(pretraining finished), `.../wall_time.json` (the runner's record of every start of each stage:
the cost), `.../eval/timing.json` (evaluation finished: the runner writes it after the last
table) and `.../eval/{probe_results,retrieval,robustness}.csv` (the evaluation), and writes
`W/report.md`, the CSVs behind its tables (`report_f1.csv`, `report_retrieval.csv`,
`report_robustness.csv`, `report_cost.csv`, `report_statistics.csv`) and two plots
(`report_f1_vs_budget_<dataset>_<split>.png`, `report_heatmap.png`). Members or seeds that have
not finished are listed as missing; the tables use whatever has.

Statistics: per column (dataset × split × label budget), every member is compared with the best
one, paired by pretraining seed (the same seed index: same data order and initialisation draw).
With n ≥ 3 paired seeds, a two-sided paired t-test on the per-seed differences; with n = 2, a
paired bootstrap: the 95 % percentile interval of the mean difference over resampled seeds
(with 2 seeds it spans the two differences); with n = 1 there is no seed spread to compare with
and nothing is marked.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position
from scipy import stats  # pylint: disable=wrong-import-position

from mujo_jax.eval import report  # pylint: disable=wrong-import-position

BOOTSTRAP_SAMPLES = 10_000
# In a member's seed directory: `{stage: [[start, end], ...]}`, one pair per start of the stage
# (`pretrain`, `eval`); end is null while it runs, or for ever when the start was killed.
WALL_TIME = 'wall_time.json'
# In a member's eval directory, written (atomically) after every table: evaluation finished.
# Tables without it are a killed evaluation's and are not read.
EVAL_DONE = 'timing.json'


def member_dir(workdir: Path, member: str, seed: int) -> Path:
  return Path(workdir) / 'members' / member / f'seed{seed}'


def eval_dir(workdir: Path, member: str, seed: int) -> Path:
  return member_dir(workdir, member, seed) / 'eval'


def read_json(path: Path) -> Any:
  """The file's JSON value, or None when it is missing or cut short (a killed write)."""
  try:
    return json.loads(path.read_text())
  except (FileNotFoundError, json.JSONDecodeError):
    return None


def last_write(directory: Path, after: float) -> float:
  """The latest modification time of a file under `directory` (not before `after`)."""
  times = [
    p.stat().st_mtime
    for p in directory.rglob('*')
    if p.is_file() and not p.name.startswith(WALL_TIME)
  ]
  return max([after, *times])


def closed_starts(starts: Sequence[Sequence[Any]], directory: Path) -> list[list[float]]:
  """`starts` with every open one (killed, or still running) closed at its last write.

  A killed start wrote no end; the latest file it left in `directory` (a checkpoint, a log
  line, a table) is the last moment it is known to have worked.
  """
  return [
    [float(start), float(end) if end is not None else last_write(directory, float(start))]
    for start, end in starts
  ]


def stage_seconds(directory: Path, stage: str) -> float | None:
  """Wall time of every start of `stage` in a member's seed directory, summed (None: none)."""
  starts = (read_json(directory / WALL_TIME) or {}).get(stage)
  if not starts:
    return None
  activity = directory / 'eval' if stage == 'eval' else directory
  return float(sum(end - start for start, end in closed_starts(starts, activity)))


def _read_csv(path: Path) -> list[dict[str, str]]:
  if not path.exists():
    return []
  with path.open(newline='') as handle:
    return list(csv.DictReader(handle))


def _float(text: Any) -> float:
  try:
    return float(text)
  except (TypeError, ValueError):
    return float('nan')


@dataclasses.dataclass
class Collected:
  """Everything the report reads, each row tagged with `member` and `seed`."""

  probe: list[dict[str, Any]] = dataclasses.field(default_factory=list)
  retrieval: list[dict[str, Any]] = dataclasses.field(default_factory=list)
  robustness: list[dict[str, Any]] = dataclasses.field(default_factory=list)
  summaries: dict[tuple[str, int], dict[str, Any]] = dataclasses.field(default_factory=dict)
  pretrain_seconds: dict[tuple[str, int], float] = dataclasses.field(default_factory=dict)
  eval_seconds: dict[tuple[str, int], float] = dataclasses.field(default_factory=dict)
  missing: list[str] = dataclasses.field(default_factory=list)


def collect(workdir: Path, members: Sequence[str], seeds: Sequence[int]) -> Collected:
  out = Collected()
  for member in members:
    for seed in seeds:
      directory = member_dir(workdir, member, seed)
      tag = {'member': member, 'seed': seed}
      summary = read_json(directory / 'summary.json')
      if summary is not None:
        out.summaries[(member, seed)] = summary
        # Every start of the pretraining; a workdir from before the runner recorded them has
        # the trainer's own figure (its last start only).
        seconds = stage_seconds(directory, 'pretrain')
        out.pretrain_seconds[(member, seed)] = (
          seconds if seconds is not None else float(summary['wall_seconds'])
        )
      done = read_json(directory / 'eval' / EVAL_DONE)
      if done is None:
        stage = 'evaluation' if summary is not None else 'pretraining'
        out.missing.append(f'{member}/seed{seed} ({stage} not finished)')
        continue
      out.eval_seconds[(member, seed)] = float(done['seconds'])
      for rows, name in (
        (out.probe, 'probe_results.csv'),
        (out.retrieval, 'retrieval.csv'),
        (out.robustness, 'robustness.csv'),
      ):
        rows += [{**row, **tag} for row in _read_csv(directory / 'eval' / name)]
  return out


# ---------------------------------------------------------------- statistics


def _budget_order(row: Mapping[str, Any]) -> tuple[int, float]:
  per_class = int(_float(row.get('labels_per_class')) or 0)
  return (0, per_class) if per_class else (1, _float(row.get('fraction')))


def per_seed_values(
  rows: Sequence[Mapping[str, Any]], column_keys: Sequence[str], value: str
) -> dict[tuple, dict[str, dict[int, float]]]:
  """column -> member -> pretraining seed -> `value` (mean over the rows, e.g. probe seeds)."""
  groups: dict[tuple, dict[str, dict[int, list[float]]]] = {}
  for row in rows:
    column = tuple(row[k] for k in column_keys)
    groups.setdefault(column, {}).setdefault(row['member'], {}).setdefault(
      int(row['seed']), []
    ).append(_float(row[value]))
  return {
    column: {
      member: {seed: float(np.nanmean(v)) for seed, v in seeds.items()}
      for member, seeds in by_member.items()
    }
    for column, by_member in groups.items()
  }


def compare(
  best: Mapping[int, float], other: Mapping[int, float], alpha: float = 0.05, seed: int = 0
) -> dict[str, Any]:
  """Whether `best` - `other`, paired by pretraining seed, is larger than the seed spread."""
  common = sorted(set(best) & set(other))
  diffs = np.array([best[s] - other[s] for s in common], dtype=np.float64)
  out: dict[str, Any] = {
    'n': len(common),
    'mean_difference': float(diffs.mean()) if len(diffs) else float('nan'),
    'test': 'none',
    'p_value': float('nan'),
    'low': float('nan'),
    'high': float('nan'),
    'significant': False,
  }
  if len(diffs) >= 3:
    out['test'] = 'paired t-test'
    if np.allclose(diffs, diffs[0]):
      # No spread at all: any non-zero difference is larger than it.
      out['p_value'] = 0.0 if abs(diffs[0]) > 0 else 1.0
    else:
      out['p_value'] = float(
        stats.ttest_rel([best[s] for s in common], [other[s] for s in common]).pvalue
      )
    out['significant'] = bool(out['p_value'] < alpha and out['mean_difference'] != 0)
  elif len(diffs) == 2:
    out['test'] = 'paired bootstrap'
    rng = np.random.default_rng(seed)
    means = diffs[rng.integers(0, len(diffs), size=(BOOTSTRAP_SAMPLES, len(diffs)))].mean(axis=1)
    out['low'], out['high'] = (float(q) for q in np.quantile(means, [alpha / 2, 1 - alpha / 2]))
    out['significant'] = bool(out['low'] > 0 or out['high'] < 0)
  return out


# ---------------------------------------------------------------- tables


def _cell(values: Sequence[float]) -> str:
  values = [v for v in values if not math.isnan(v)]
  return report.mean_std(values) if values else '–'


def _mean(values: Sequence[float]) -> float:
  values = [v for v in values if not math.isnan(v)]
  return float(np.mean(values)) if values else float('nan')


def comparison_table(
  values: Mapping[tuple, Mapping[str, Mapping[int, float]]],
  columns: Sequence[tuple],
  titles: Sequence[str],
  members: Sequence[str],
  marks: Mapping[tuple[tuple, str], str] | None = None,
  transpose: bool = False,
) -> tuple[str, list[dict[str, Any]]]:
  """Markdown (mean ± std over seeds; the best mean of each column in bold) and CSV rows.

  One row per member and one column per `columns` entry; `transpose`: one row per entry and one
  column per member (the best of each row in bold), for many entries.
  """
  marks = marks or {}
  best = {}
  for column in columns:
    means = {m: _mean(list(values.get(column, {}).get(m, {}).values())) for m in members}
    means = {m: v for m, v in means.items() if not math.isnan(v)}
    top = max(means.values()) if means else float('nan')
    best[column] = {m for m, v in means.items() if v >= top - 1e-12}  # Ties are all bold.
  lines, rows = [], []
  for member in members:
    line = [member]
    for column, title in zip(columns, titles, strict=True):
      seeds = values.get(column, {}).get(member, {})
      text = _cell(list(seeds.values()))
      if member in best[column] and seeds:
        text = f'**{text}**'
      line.append(text + marks.get((column, member), ''))
      if seeds:
        per_seed = list(seeds.values())
        rows.append(
          {
            'member': member,
            'column': title,
            'mean': _mean(per_seed),
            'std': float(np.std(per_seed)),
            'num_seeds': len(per_seed),
            'best': member in best[column],
          }
        )
    lines.append(line)
  if transpose:
    flipped = [[title, *(line[1 + i] for line in lines)] for i, title in enumerate(titles)]
    return report.markdown_table(['', *members], flipped), rows
  return report.markdown_table(['member', *titles], lines), rows


def statistics_rows(
  values: Mapping[tuple, Mapping[str, Mapping[int, float]]],
  columns: Sequence[tuple],
  titles: Sequence[str],
  members: Sequence[str],
  alpha: float,
) -> list[dict[str, Any]]:
  """Every member against the best member of each column (`compare`)."""
  rows = []
  for column, title in zip(columns, titles, strict=True):
    by_member = values.get(column, {})
    means = {m: _mean(list(by_member[m].values())) for m in members if by_member.get(m)}
    if not means:
      continue
    best = max(means, key=means.get)
    for member in members:
      if member == best or member not in means:
        continue
      result = compare(by_member[best], by_member[member], alpha)
      rows.append({'column': title, 'best': best, 'member': member, **result})
  return rows


# ---------------------------------------------------------------- plots


def f1_vs_budget_plot(
  values: Mapping[tuple, Mapping[str, Mapping[int, float]]],
  columns: Sequence[tuple],
  budgets: Sequence[str],
  members: Sequence[str],
  title: str,
  path: Path,
) -> Path:
  figure, axis = plt.subplots(figsize=(7, 4.5))
  x = np.arange(len(budgets))
  colors = plt.get_cmap('tab20')
  for index, member in enumerate(members):
    means = [_mean(list(values.get(c, {}).get(member, {}).values())) for c in columns]
    stds = [
      float(np.std(list(values[c][member].values()))) if values.get(c, {}).get(member) else 0.0
      for c in columns
    ]
    if all(math.isnan(m) for m in means):
      continue
    axis.errorbar(
      x,
      means,
      yerr=stds,
      marker='osD^v'[index // 20 % 5],
      linestyle=('-', '--', ':')[index // 20 % 3],
      color=colors(index % 20),
      capsize=3,
      label=member,
    )
  axis.set_xticks(x, budgets)
  axis.set_xlabel('label budget')
  axis.set_ylabel('macro F1')
  axis.set_title(title)
  axis.grid(alpha=0.3)
  axis.legend(fontsize=7, ncol=2)
  figure.tight_layout()
  figure.savefig(path, dpi=120)
  plt.close(figure)
  return path


def heatmap_plot(
  matrix: np.ndarray, members: Sequence[str], datasets: Sequence[str], title: str, path: Path
) -> Path:
  figure, axis = plt.subplots(
    figsize=(max(5.0, 2.5 + 1.4 * len(datasets)), 1.5 + 0.35 * len(members))
  )
  image = axis.imshow(matrix, cmap='viridis', aspect='auto')
  axis.set_xticks(np.arange(len(datasets)), datasets, rotation=20, ha='right')
  axis.set_yticks(np.arange(len(members)), members)
  for i in range(matrix.shape[0]):
    for j in range(matrix.shape[1]):
      if not math.isnan(matrix[i, j]):
        axis.text(j, i, f'{matrix[i, j]:.2f}', ha='center', va='center', color='w', fontsize=7)
  figure.colorbar(image, ax=axis, label='macro F1')
  axis.set_title(title)
  figure.tight_layout()
  figure.savefig(path, dpi=120)
  plt.close(figure)
  return path


# ---------------------------------------------------------------- the report


def write(
  workdir: str | Path,
  members: Sequence[str],
  seeds: Sequence[int],
  *,
  title: str = 'Experiment',
  model: str = 'pretrained',
  modality_set: str = 'imu',
  alpha: float = 0.05,
  variants: Mapping[str, str] | None = None,
) -> Path:
  """Writes `W/report.md` and its CSVs and plots; returns the report's path."""
  workdir = Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  data = collect(workdir, members, seeds)
  plural = 's' if len(seeds) != 1 else ''
  lines = [f'# {title}: {len(members)} members × {len(seeds)} pretraining seed{plural}', '']
  if variants:
    lines += [
      report.markdown_table(
        ['#', 'member', 'configs/pretrain.py variant'],
        [[i, m, f'`{variants[m]}`'] for i, m in enumerate(members)],
      ),
      '',
    ]
  if data.missing:
    lines += ['Not finished (left out of the tables): ' + ', '.join(data.missing) + '.', '']

  # ---- macro F1 per label budget
  rows = [r for r in data.probe if r['model'] == model and r['modality_set'] == modality_set]
  budgets_of: dict[tuple, dict[str, tuple]] = {}
  for row in rows:
    budgets_of.setdefault((row['dataset'], row['split']), {})[row['budget']] = _budget_order(row)
  values = per_seed_values(rows, ('dataset', 'split', 'budget'), 'macro_f1')
  f1_csv, stats_csv, plots = [], [], []
  lines += [
    f'## Linear-probe macro F1 (`{modality_set}` embedding, {model} model; mean ± std over '
    'pretraining seeds, best per column in bold)',
    '',
  ]
  all_columns, all_titles = [], []
  for (dataset, split), budgets in sorted(budgets_of.items()):
    ordered = sorted(budgets, key=budgets.get)
    columns = [(dataset, split, b) for b in ordered]
    titles = [f'{dataset}/{split} {b}' for b in ordered]
    comparisons = statistics_rows(values, columns, titles, members, alpha)
    marks = {
      (columns[titles.index(c['column'])], c['member']): ' †'
      for c in comparisons
      if c['significant']
    }
    table, csv_rows = comparison_table(values, columns, ordered, members, marks)
    lines += [f'### {dataset} / {split}', '', table, '']
    for row in csv_rows:
      f1_csv.append({'dataset': dataset, 'split': split, 'budget': row.pop('column'), **row})
    stats_csv += comparisons
    all_columns += columns
    all_titles += titles
    path = workdir / f'report_f1_vs_budget_{dataset}_{split}.png'
    plots.append(
      f1_vs_budget_plot(values, columns, ordered, members, f'{dataset} / {split}', path).name
    )

  # ---- statistical note
  tests = sorted({c['test'] for c in stats_csv if c['test'] != 'none'})
  n_seeds = sorted({c['n'] for c in stats_csv})
  lines += ['## Statistical note', '']
  if not stats_csv or not tests:
    lines += [
      f'Paired seeds per comparison: {n_seeds or [0]}. With one pretraining seed there is no '
      'seed spread to compare a difference with: nothing is marked. Run more seeds '
      '(`:seeds=3`) for a test.',
      '',
    ]
  else:
    flagged = [c for c in stats_csv if c['significant']]
    lines += [
      f'Each member is compared with the best member of every column, paired by pretraining '
      f'seed ({", ".join(tests)}; n = {"/".join(map(str, n_seeds))} seeds; a paired t-test '
      f'when n ≥ 3, a paired bootstrap 95 % interval of the mean difference when n = 2). '
      f'`†`: the difference is larger than the seed spread (p < {alpha:g}, or the interval '
      f'excludes 0): {len(flagged)} of {len(stats_csv)} comparisons, each at level {alpha:g} '
      '(no correction for multiple comparisons).',
      '',
    ]
    if flagged:
      lines += [
        report.markdown_table(
          ['column', 'best', 'member', 'mean difference', 'test', 'p / interval'],
          [
            [
              c['column'],
              c['best'],
              c['member'],
              f'{c["mean_difference"]:.3f}',
              c['test'],
              f'p = {c["p_value"]:.3g}'
              if c['test'] == 'paired t-test'
              else f'[{c["low"]:.3f}, {c["high"]:.3f}]',
            ]
            for c in flagged
          ],
        ),
        '',
      ]

  # ---- heat map: members × datasets at the largest budget
  largest = {}
  for (dataset, split), budgets in budgets_of.items():
    largest[(dataset, split)] = max(budgets, key=budgets.get)
  if largest:
    names = sorted(largest)
    matrix = np.array(
      [
        [_mean(list(values.get((*d, largest[d]), {}).get(m, {}).values())) for d in names]
        for m in members
      ]
    )
    path = heatmap_plot(
      matrix,
      members,
      [f'{d}/{s} {largest[(d, s)]}' for d, s in names],
      'macro F1, largest budget',
      workdir / 'report_heatmap.png',
    )
    plots.append(path.name)

  # ---- retrieval
  retrieval_csv = []
  if data.retrieval:
    r_values = per_seed_values(data.retrieval, ('dataset', 'split', 'query', 'target'), 'R@1')
    columns = sorted(r_values)
    titles = [f'{d}/{s} {q}→{t}' for d, s, q, t in columns]
    table, retrieval_csv = comparison_table(r_values, columns, titles, members, transpose=True)
    lines += [
      '## Cross-modal retrieval R@1, query → target (mean ± std over seeds; best per row in bold)',
      '',
      table,
      '',
    ]

  # ---- robustness
  robustness_csv = []
  # Whole modalities removed (every IMU site present when IMU is); the per-site conditions are
  # in the members' own robustness.csv.
  modality_rows = [r for r in data.robustness if r.get('imu_sites') in ('all', '-')]
  if modality_rows:
    rb_values = per_seed_values(modality_rows, ('dataset', 'split', 'modalities'), 'macro_f1')
    columns = sorted(rb_values, key=lambda c: (c[0], c[1], -c[2].count('+'), c[2]))
    titles = [f'{d}/{s} {m}' for d, s, m in columns]
    table, robustness_csv = comparison_table(rb_values, columns, titles, members, transpose=True)
    lines += [
      '## Missing-modality robustness: macro F1 of one probe on the fused embedding (fitted '
      'with everything present) with modalities removed at test time',
      '',
      table,
      '',
    ]

  # ---- cost
  cost_csv = []
  for member in members:
    runs = [(s, data.summaries[(member, s)]) for s in seeds if (member, s) in data.summaries]
    if not runs:
      continue
    evals = [data.eval_seconds[(member, s)] for s, _ in runs if (member, s) in data.eval_seconds]
    cost_csv.append(
      {
        'member': member,
        'runs': len(runs),
        'steps': int(np.mean([r['steps'] for _, r in runs])),
        'pretrain_seconds_mean': float(
          np.mean([data.pretrain_seconds[(member, s)] for s, _ in runs])
        ),
        'pretrain_seconds_total': float(
          np.sum([data.pretrain_seconds[(member, s)] for s, _ in runs])
        ),
        'eval_seconds_total': float(np.sum(evals)) if evals else float('nan'),
        'final_loss': _mean([_float(r.get('final_loss')) for _, r in runs]),
      }
    )
  if cost_csv:
    lines += [
      '## Training cost (wall time summed over every start of a run: a resumed run counts '
      'the time before it was stopped too)',
      '',
      report.markdown_table(
        [
          'member',
          'runs',
          'steps',
          'pretrain s / run',
          'pretrain s total',
          'eval s total',
          'final loss',
        ],
        [
          [
            c['member'],
            c['runs'],
            c['steps'],
            f'{c["pretrain_seconds_mean"]:.0f}',
            f'{c["pretrain_seconds_total"]:.0f}',
            '–' if math.isnan(c['eval_seconds_total']) else f'{c["eval_seconds_total"]:.0f}',
            '–' if math.isnan(c['final_loss']) else f'{c["final_loss"]:.3f}',
          ]
          for c in cost_csv
        ],
      ),
      '',
    ]

  if plots:
    lines += ['## Plots', ''] + [f'![{name}]({name})' for name in plots] + ['']
  for name, rows_out in (
    ('report_f1.csv', f1_csv),
    ('report_statistics.csv', stats_csv),
    ('report_retrieval.csv', retrieval_csv),
    ('report_robustness.csv', robustness_csv),
    ('report_cost.csv', cost_csv),
  ):
    if rows_out:
      report.write_csv(workdir / name, rows_out)
  path = workdir / 'report.md'
  path.write_text('\n'.join(lines))
  return path
