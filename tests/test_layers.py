"""The project's import graph is one-way: no cycles, no hidden imports, nothing reaching up.

The graph is read with `ast` from the source files (no module is imported), so a cycle or an
upward import is found even where it would only fail at run time in some import order. Both
module-level and function-level imports count: an import moved into a function to dodge a
cycle is still a dependency, and is reported on its own as well.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ('mujo_jax', 'tfds_builders', 'configs')  # Top-level names of project modules.


@dataclasses.dataclass(frozen=True)
class Layer:
  """Modules named by `prefixes` (a module or a package and everything under it)."""

  prefixes: tuple[str, ...]
  may_import: tuple[str, ...]  # Other layers; a layer may always import itself.


# Lowest first. A module belongs to the layer with its longest matching prefix; an import is
# allowed only into the importer's own layer or one it lists. Every project module needs a layer.
LAYERS: dict[str, Layer] = {
  # The package root only runs the XLA flag defaults before any backend starts.
  'root': Layer(('mujo_jax', 'mujo_jax.xla_flags'), ()),
  # Dependency-light facts: activities, joints, sites, file layouts, the one resampler.
  'facts': Layer(('mujo_jax.facts',), ()),
  # The procedural corpus generator.
  'synthesis': Layer(('mujo_jax.synthesis',), ('facts',)),
  # TFDS builders: read through `tfds.builder` / `tfds.data_source`, never imported by data.
  'builders': Layer(('tfds_builders',), ('facts', 'synthesis')),
  # What a batch is: what models, losses and evaluation may know of the data layer.
  'schema': Layer(('mujo_jax.data.schema',), ('facts',)),
  # Input pipelines.
  'data': Layer(('mujo_jax.data',), ('facts', 'synthesis', 'schema')),
  # Device-level utilities shared by the trainer and evaluation.
  'utilities': Layer(
    ('mujo_jax.distributed', 'mujo_jax.sharding', 'mujo_jax.accumulation'), ('root',)
  ),
  # Encoders, the joint model, its losses.
  'models': Layer(('mujo_jax.models', 'mujo_jax.losses', 'mujo_jax.multitask'), ('facts',)),
  # A pretraining config resolved and checked across sections (the typed sections are the
  # models layer's dataclasses).
  'config': Layer(('mujo_jax.config_validation',), ('facts', 'schema', 'models')),
  # Save/restore, the run's config stored with it, loading pretrained weights.
  'checkpoint': Layer(
    ('mujo_jax.checkpoint', 'mujo_jax.pretrained'),
    ('facts', 'schema', 'config', 'utilities', 'models'),
  ),
  # Evaluators and serving: built from a checkpoint, never from the trainer.
  'eval': Layer(
    ('mujo_jax.eval', 'mujo_jax.inference'),
    ('facts', 'synthesis', 'schema', 'data', 'config', 'utilities', 'models', 'checkpoint'),
  ),
  # The training loop (runs the evaluators).
  'train': Layer(
    ('mujo_jax.train',),
    (
      'root',
      'facts',
      'synthesis',
      'schema',
      'data',
      'config',
      'utilities',
      'models',
      'checkpoint',
      'eval',
    ),
  ),
  # Experiments: members × seeds of pretraining (the trainer is passed in by main) and
  # evaluation, then their report.
  'experiment': Layer(
    ('mujo_jax.experiment',),
    (
      'root',
      'facts',
      'synthesis',
      'schema',
      'data',
      'config',
      'utilities',
      'models',
      'checkpoint',
      'eval',
      'configs',
    ),
  ),
  # The entry point: the only importer of the trainer.
  'main': Layer(
    ('mujo_jax.main',),
    (
      'root',
      'facts',
      'synthesis',
      'schema',
      'data',
      'config',
      'utilities',
      'models',
      'checkpoint',
      'eval',
      'train',
      'experiment',
      'configs',
    ),
  ),
  # ml_collections config files.
  'configs': Layer(('configs',), ('facts', 'schema', 'config', 'models', 'utilities')),
}


# The one import of a builder by the data layer: building the synthetic corpus on first use
# needs its class registered with TFDS (ARCHITECTURE.md). Reads go through TFDS by name.
REGISTRATION_IMPORTS = {
  ('mujo_jax.data.synthetic_source', 'tfds_builders.mujo_synthetic.mujo_synthetic_dataset_builder'),
}


@dataclasses.dataclass(frozen=True)
class Import:
  importer: str
  imported: str
  line: int
  in_function: bool

  def where(self) -> str:
    return f'{self.importer}:{self.line} imports {self.imported}'


def module_name(path: Path, root: Path) -> str:
  parts = list(path.relative_to(root).with_suffix('').parts)
  if parts[-1] == '__init__':
    parts.pop()
  return '.'.join(parts)


def source_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
  """Module name → file, for every .py file under the given top-level packages."""
  files = {}
  for package in packages:
    for path in sorted((root / package).rglob('*.py')):
      files[module_name(path, root)] = path
  return files


def _resolve(name: str, modules: set[str]) -> str | None:
  """The longest known module that `name` is or lies in (an attribute of a module → it)."""
  parts = name.split('.')
  for end in range(len(parts), 0, -1):
    candidate = '.'.join(parts[:end])
    if candidate in modules:
      return candidate
  return None


class _Collector(ast.NodeVisitor):
  def __init__(self, module: str, is_package: bool, modules: set[str]):
    self.module = module
    self.package = module if is_package else module.rpartition('.')[0]
    self.modules = modules
    self.depth = 0
    self.found: list[Import] = []

  def _add(self, name: str, node: ast.AST) -> None:
    if name.split('.')[0] not in PACKAGES:
      return
    target = _resolve(name, self.modules) or name
    edge = Import(self.module, target, node.lineno, self.depth > 0)
    if target != self.module and edge not in self.found:
      self.found.append(edge)

  def _function(self, node: ast.AST) -> None:
    self.depth += 1
    self.generic_visit(node)
    self.depth -= 1

  visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function  # noqa: N815

  def visit_Import(self, node: ast.Import) -> None:  # noqa: N802
    for alias in node.names:
      self._add(alias.name, node)

  def visit_ImportFrom(self, node: ast.ImportFrom) -> None:  # noqa: N802
    if node.level:
      base = self.package.split('.')
      base = base[: len(base) - (node.level - 1)]
      source = '.'.join(base + ([node.module] if node.module else []))
    else:
      source = node.module
    for alias in node.names:
      full = f'{source}.{alias.name}'
      # `from pkg import mod` imports the module; `from mod import name` imports mod.
      self._add(full if full in self.modules else source, node)


def import_graph(root: Path, packages: Iterable[str] = PACKAGES) -> list[Import]:
  files = source_files(root, packages)
  modules = set(files)
  found = []
  for module, path in files.items():
    collector = _Collector(module, path.name == '__init__.py', modules)
    collector.visit(ast.parse(path.read_text(), filename=str(path)))
    found += collector.found
  return found


def find_cycles(imports: Iterable[Import]) -> list[tuple[list[str], list[str]]]:
  """Per strongly connected component with a loop: its sorted members and one closed path."""
  graph: dict[str, set[str]] = {}
  for edge in imports:
    graph.setdefault(edge.importer, set()).add(edge.imported)
    graph.setdefault(edge.imported, set())
  # Tarjan's strongly connected components, iteratively (no recursion limit).
  index: dict[str, int] = {}
  low: dict[str, int] = {}
  stack: list[str] = []
  on_stack: set[str] = set()
  components = []
  for start in sorted(graph):
    if start in index:
      continue
    work = [(start, iter(sorted(graph[start])))]
    index[start] = low[start] = len(index)
    stack.append(start)
    on_stack.add(start)
    while work:
      node, children = work[-1]
      child = next(children, None)
      if child is not None:
        if child not in index:
          index[child] = low[child] = len(index)
          stack.append(child)
          on_stack.add(child)
          work.append((child, iter(sorted(graph[child]))))
        elif child in on_stack:
          low[node] = min(low[node], index[child])
        continue
      work.pop()
      if work:
        low[work[-1][0]] = min(low[work[-1][0]], low[node])
      if low[node] == index[node]:
        component = []
        while True:
          member = stack.pop()
          on_stack.discard(member)
          component.append(member)
          if member == node:
            break
        if len(component) > 1:
          components.append(set(component))
  cycles = []
  for component in components:
    # A shortest closed path through the component's first member (breadth-first search).
    first = min(component)
    parents = {first: None}
    queue = [first]
    closing = None
    while queue and closing is None:
      node = queue.pop(0)
      for child in sorted(graph[node] & component):
        if child == first:
          closing = node
          break
        if child not in parents:
          parents[child] = node
          queue.append(child)
    path = [first]
    node = closing
    while node is not None and node != first:
      path.insert(1, node)
      node = parents[node]
    cycles.append((sorted(component), path + [first]))
  return sorted(cycles)


def layer_of(module: str) -> str | None:
  best = None
  for name, layer in LAYERS.items():
    for prefix in layer.prefixes:
      matches = module == prefix or (module.startswith(prefix + '.') and name != 'root')
      if matches and (best is None or len(prefix) > len(best[1])):
        best = (name, prefix)
  return None if best is None else best[0]


def upward_imports(imports: Iterable[Import]) -> list[str]:
  bad = []
  for edge in imports:
    source, target = layer_of(edge.importer), layer_of(edge.imported)
    if source is None or target is None or source == target:
      continue
    if (edge.importer, edge.imported) in REGISTRATION_IMPORTS:
      continue
    if target not in LAYERS[source].may_import:
      bad.append(f'{edge.where()} ({source} -> {target})')
  return bad


# ---------------------------------------------------------------- the project


@pytest.fixture(scope='module')
def project_imports() -> list[Import]:
  return import_graph(ROOT)


def test_no_import_cycle(project_imports):
  cycles = find_cycles(project_imports)
  assert not cycles, 'import cycles:\n' + '\n'.join(
    f'{" -> ".join(path)} (modules in the cycle: {", ".join(members)})' for members, path in cycles
  )


def test_no_function_level_import_of_a_project_module(project_imports):
  hidden = [e.where() for e in project_imports if e.in_function]
  assert not hidden, f'{len(hidden)} function-level imports:\n' + '\n'.join(hidden)


def test_every_module_has_a_layer():
  unplaced = sorted(m for m in source_files(ROOT, PACKAGES) if layer_of(m) is None)
  assert not unplaced, f'modules with no layer in LAYERS: {unplaced}'


def test_no_upward_import(project_imports):
  bad = upward_imports(project_imports)
  assert not bad, f'{len(bad)} imports against the layer table:\n' + '\n'.join(bad)


def test_only_main_imports_the_trainer(project_imports):
  bad = [
    e.where()
    for e in project_imports
    if e.imported == 'mujo_jax.train' and e.importer != 'mujo_jax.main'
  ]
  assert not bad, '\n'.join(bad)


# ---------------------------------------------------------------- the checker itself


def _write(root: Path, files: dict[str, str]) -> None:
  for name, text in files.items():
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_checker_sees_relative_function_level_and_cyclic_imports(tmp_path):
  _write(
    tmp_path,
    {
      'mujo_jax/__init__.py': '',
      'mujo_jax/facts/__init__.py': '',
      'mujo_jax/facts/sites.py': 'import numpy\nfrom . import layout\n',
      'mujo_jax/facts/layout.py': 'from mujo_jax.facts.sites import SITES\n',
      'mujo_jax/models/__init__.py': '',
      'mujo_jax/models/joint.py': (
        'import mujo_jax.facts.sites\ndef build():\n  from ..eval import probe\n'
      ),
      'mujo_jax/eval/__init__.py': '',
      'mujo_jax/eval/probe.py': 'from mujo_jax import train\n',
      'mujo_jax/train.py': 'from mujo_jax.models import joint as joint_lib\n',
    },
  )
  imports = import_graph(tmp_path, ('mujo_jax',))
  edges = {(e.importer, e.imported, e.in_function) for e in imports}
  assert edges == {
    ('mujo_jax.facts.sites', 'mujo_jax.facts.layout', False),
    ('mujo_jax.facts.layout', 'mujo_jax.facts.sites', False),
    ('mujo_jax.models.joint', 'mujo_jax.facts.sites', False),
    ('mujo_jax.models.joint', 'mujo_jax.eval.probe', True),
    ('mujo_jax.eval.probe', 'mujo_jax.train', False),
    ('mujo_jax.train', 'mujo_jax.models.joint', False),
  }
  loop = ['mujo_jax.eval.probe', 'mujo_jax.models.joint', 'mujo_jax.train']
  assert find_cycles(imports) == [
    (
      loop,
      ['mujo_jax.eval.probe', 'mujo_jax.train', 'mujo_jax.models.joint', 'mujo_jax.eval.probe'],
    ),
    (
      ['mujo_jax.facts.layout', 'mujo_jax.facts.sites'],
      ['mujo_jax.facts.layout', 'mujo_jax.facts.sites', 'mujo_jax.facts.layout'],
    ),
  ]
  assert sorted(upward_imports(imports)) == [
    'mujo_jax.eval.probe:1 imports mujo_jax.train (eval -> train)',
    'mujo_jax.models.joint:3 imports mujo_jax.eval.probe (models -> eval)',
  ]


def test_layer_table_places_modules_by_longest_prefix():
  assert layer_of('mujo_jax') == 'root'
  assert layer_of('mujo_jax.data.schema') == 'schema'
  assert layer_of('mujo_jax.data.pipeline') == 'data'
  assert layer_of('mujo_jax.eval.linear_probe') == 'eval'
  assert layer_of('tfds_builders.fimad.fimad_dataset_builder') == 'builders'
  assert layer_of('mujo_jax.unknown_module') is None
