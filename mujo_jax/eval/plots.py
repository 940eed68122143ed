"""PNG figures of an evaluation: F1 vs label fraction, confusion matrices, the joint space map.

matplotlib with the Agg backend (no display needed); every function writes one file and returns
its path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

MODEL_STYLES = {
  'pretrained': ('tab:blue', 'o'),
  'random_init': ('tab:gray', 's'),
  'supervised': ('tab:orange', '^'),
  'statistics': ('tab:green', 'D'),
}
MODALITY_MARKERS = {'imu': 'o', 'pose': 's', 'video': '^', 'text': '*'}


def f1_vs_fraction(
  rows: Sequence[Mapping], modality_sets: Sequence[str], title: str, path: Path
) -> Path:
  """One panel per modality set: mean ± std macro F1 over seeds vs fraction, per model."""
  columns = min(4, len(modality_sets))
  lines = math.ceil(len(modality_sets) / columns)
  figure, axes = plt.subplots(
    lines, columns, figsize=(4 * columns, 3.2 * lines), squeeze=False, sharey=True
  )
  all_fractions = sorted({r['fraction'] for r in rows})
  for panel, modality_set in zip(axes.flat, modality_sets, strict=False):
    for model, (color, marker) in MODEL_STYLES.items():
      selected = [r for r in rows if r['modality_set'] == modality_set and r['model'] == model]
      if not selected:
        continue
      fractions = sorted({r['fraction'] for r in selected})
      values = [[r['macro_f1'] for r in selected if r['fraction'] == f] for f in fractions]
      means = np.array([np.mean(v) for v in values])
      stds = np.array([np.std(v) for v in values])
      panel.plot(fractions, means, marker=marker, color=color, label=model)
      panel.fill_between(fractions, means - stds, means + stds, color=color, alpha=0.2)
    panel.set_xscale('log')
    panel.set_xticks(all_fractions, [f'{100 * f:g}%' for f in all_fractions], fontsize=7)
    panel.minorticks_off()
    panel.set_title(modality_set)
    panel.set_xlabel('label fraction')
    panel.grid(True, which='both', alpha=0.3)
  for panel in axes[:, 0]:
    panel.set_ylabel('macro F1')
  for panel in list(axes.flat)[len(modality_sets) :]:
    panel.axis('off')
  handles = [
    plt.Line2D([], [], color=color, marker=marker, label=model)
    for model, (color, marker) in MODEL_STYLES.items()
    if any(r['model'] == model for r in rows)
  ]
  figure.legend(handles=handles, loc='upper right', ncol=len(handles), fontsize='small')
  figure.suptitle(title, x=0.02, ha='left')
  figure.tight_layout(rect=(0, 0, 1, 0.93))
  figure.savefig(path, dpi=100)
  plt.close(figure)
  return path


def confusion_matrices(
  matrices: Sequence[tuple[str, np.ndarray]], class_names: Sequence[str], path: Path
) -> Path:
  """Row-normalised confusion matrices side by side (rows: true class, columns: predicted)."""
  figure, axes = plt.subplots(1, len(matrices), figsize=(6 * len(matrices), 5.5), squeeze=False)
  for panel, (title, matrix) in zip(axes.flat, matrices, strict=True):
    totals = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, totals, out=np.zeros(matrix.shape, float), where=totals > 0)
    panel.imshow(normalised, vmin=0, vmax=1, cmap='Blues')
    ticks = np.arange(len(class_names))
    panel.set_xticks(ticks, class_names, rotation=90, fontsize=7)
    panel.set_yticks(ticks, class_names, fontsize=7)
    for i, j in zip(*np.nonzero(matrix), strict=True):
      panel.text(
        j,
        i,
        str(matrix[i, j]),
        ha='center',
        va='center',
        fontsize=6,
        color='white' if normalised[i, j] > 0.5 else 'black',
      )
    panel.set_xlabel('predicted')
    panel.set_ylabel('true')
    panel.set_title(title, fontsize=9)
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)
  return path


def joint_space_map(
  embeddings: Mapping[str, np.ndarray],
  labels: np.ndarray,
  class_names: Sequence[str],
  title: str,
  path: Path,
  method: str = 'pca',
  seed: int = 0,
) -> Path:
  """2-D PCA or t-SNE of every modality's embeddings of the same windows in one space."""
  from sklearn.decomposition import PCA  # pylint: disable=g-import-not-at-top
  from sklearn.manifold import TSNE  # pylint: disable=g-import-not-at-top

  names = list(embeddings)
  stacked = np.concatenate([embeddings[m] for m in names])
  if method == 'pca':
    points = PCA(n_components=2, random_state=seed).fit_transform(stacked)
  elif method == 'tsne':
    points = TSNE(
      n_components=2, random_state=seed, perplexity=min(30.0, max(2.0, (len(stacked) - 1) / 3))
    ).fit_transform(stacked)
  else:
    raise ValueError(f"map_method={method!r}: expected 'pca' or 'tsne'")
  colours = plt.get_cmap('tab20')(np.linspace(0, 1, max(len(class_names), 2)))
  figure, panel = plt.subplots(figsize=(8, 6.5))
  offset = 0
  for name in names:
    count = len(embeddings[name])
    part = points[offset : offset + count]
    offset += count
    panel.scatter(
      part[:, 0],
      part[:, 1],
      c=colours[labels],
      s=14,
      alpha=0.7,
      marker=MODALITY_MARKERS.get(name.split(':')[0], 'x'),
      linewidths=0,
    )
  handles = [
    plt.Line2D(
      [], [], color='k', marker=MODALITY_MARKERS.get(n.split(':')[0], 'x'), linestyle='', label=n
    )
    for n in names
  ]
  handles += [
    plt.Line2D([], [], color=colours[c], marker='o', linestyle='', label=class_names[c])
    for c in sorted(set(labels.tolist()))
  ]
  panel.legend(handles=handles, fontsize=7, loc='center left', bbox_to_anchor=(1.0, 0.5))
  panel.set_title(f'{title} ({method.upper()}; colour = class, marker = modality)', fontsize=9)
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)
  return path
