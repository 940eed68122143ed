r"""Where the time of the JAX train step goes: a per-op CPU profile joined with the HLO.

  python benchmarks/profile_step.py --size=small --batch_size=128 [--attention=einsum]

Traces `--steps` compiled steps with `jax.profiler` (perfetto JSON), sums each XLA op's time,
and joins it with the optimised HLO of the step (`compiled.as_text()`) to say what the op is:
its category (matmul / attention / elementwise / layout copy / reduction / optimiser), the JAX
source op (`metadata op_name`), whether it runs in the forward or the backward pass, and for a
matmul its FLOPs and achieved GFLOP/s. Prints per-category totals, then the top ops.
"""

from __future__ import annotations

import collections
import dataclasses
import glob
import gzip
import json
import os
import re
import sys
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_util  # noqa: E402  pylint: disable=g-import-not-at-top

from mujo_jax import train  # noqa: E402

_SIZE = flags.DEFINE_enum('size', 'small', ['tiny', 'small', 'base'], 'Model size preset.')
_BATCH_SIZE = flags.DEFINE_integer('batch_size', 128, 'Global batch size.')
_STEPS = flags.DEFINE_integer('steps', 3, 'Traced steps.')
_TOP = flags.DEFINE_integer('top', 40, 'Ops listed.')
_OVERRIDES = flags.DEFINE_string('config', '', 'Extra configs/pretrain.py arguments.')
_ATTENTION = flags.DEFINE_string('attention', None, 'model.attention override.')
_FLOOR = flags.DEFINE_bool('floor', True, 'Also time every dot of the step alone.')
_HLO_OUT = flags.DEFINE_string('hlo_out', None, 'Write the optimised HLO text here.')

_DEFINITION = re.compile(r'^\s*(?:ROOT )?%?([\w.\-]+) = (\w+)\[([\d,]*)\]\S* ([\w-]+)\((.*)$')


@dataclasses.dataclass(frozen=True)
class Dot:
  """One HLO dot: operand shapes and dimension numbers, enough to re-run it standalone."""

  dtype: str
  lhs: tuple[int, ...]
  rhs: tuple[int, ...]
  lhs_batch: tuple[int, ...]
  rhs_batch: tuple[int, ...]
  lhs_contracting: tuple[int, ...]
  rhs_contracting: tuple[int, ...]

  @property
  def flops(self) -> float:
    batch = np.prod([self.lhs[i] for i in self.lhs_batch] or [1])
    contracted = np.prod([self.lhs[i] for i in self.lhs_contracting] or [1])
    lhs_free = np.prod(
      [d for i, d in enumerate(self.lhs) if i not in self.lhs_batch + self.lhs_contracting] or [1]
    )
    rhs_free = np.prod(
      [d for i, d in enumerate(self.rhs) if i not in self.rhs_batch + self.rhs_contracting] or [1]
    )
    return float(2 * batch * contracted * lhs_free * rhs_free)


def _dims(text: str | None) -> tuple[int, ...]:
  return tuple(int(d) for d in text.split(',') if d) if text else ()


@dataclasses.dataclass
class Hlo:
  """The optimised HLO of the step, indexed: top-level instructions and the dots they run."""

  op_name: dict[str, str]  # Instruction → JAX source op (metadata op_name).
  opcode: dict[str, str]
  body: dict[str, str]  # Instruction → text of what it runs (fused computation or itself).
  dots: dict[str, list[Dot]]  # Instruction → the dots it runs.


def parse_hlo(text: str) -> Hlo:
  shapes: dict[str, tuple[str, tuple[int, ...]]] = {}
  computations: dict[str, list[str]] = {}
  current = None
  for line in text.splitlines():
    header = re.match(r'^(?:ENTRY )?%?([\w.\-]+) .*\{\s*$', line)
    if header and not line.startswith(' '):
      current = header.group(1)
      computations[current] = []
      continue
    if line.startswith('}'):
      current = None
      continue
    definition = _DEFINITION.match(line)
    if definition:
      name, dtype, dims, _, _ = definition.groups()
      shapes[name] = (dtype, _dims(dims))
    if current is not None:
      computations[current].append(line)

  def dots_in(lines: list[str]) -> list[Dot]:
    found = []
    for line in lines:
      definition = _DEFINITION.match(line)
      if not definition or definition.group(4) != 'dot':
        continue
      operands = re.findall(r'%([\w.\-]+)', definition.group(5).split(')', 1)[0])
      if len(operands) < 2 or operands[0] not in shapes or operands[1] not in shapes:
        continue

      def grab(key, line=line):
        match = re.search(key + r'=\{([\d,]*)\}', line)
        return _dims(match.group(1) if match else None)

      found.append(
        Dot(
          dtype=shapes[operands[0]][0],
          lhs=shapes[operands[0]][1],
          rhs=shapes[operands[1]][1],
          lhs_batch=grab('lhs_batch_dims'),
          rhs_batch=grab('rhs_batch_dims'),
          lhs_contracting=grab('lhs_contracting_dims'),
          rhs_contracting=grab('rhs_contracting_dims'),
        )
      )
    return found

  fused = {
    callee
    for lines in computations.values()
    for line in lines
    if ' fusion(' in line
    for callee in re.findall(r'calls=%?([\w.\-]+)', line)
  }
  hlo = Hlo({}, {}, {}, {})
  for computation, lines in computations.items():
    if computation in fused:  # Its instructions run inside the fusion that calls it.
      continue
    for line in lines:
      definition = _DEFINITION.match(line)
      if not definition:
        continue
      name, opcode = definition.group(1), definition.group(4)
      calls = re.search(r'calls=%?([\w.\-]+)', line)
      op_name = re.search(r'op_name="([^"]*)"', line)
      called = computations.get(calls.group(1), []) if calls else []
      hlo.op_name[name] = op_name.group(1) if op_name else ''
      hlo.opcode[name] = opcode
      hlo.body[name] = '\n'.join(called) if called else line
      hlo.dots[name] = dots_in(called) if called else dots_in([line])
  return hlo


def time_dot(dot: Dot, repeats: int = 5) -> float:
  """Median seconds of `dot` alone, jitted, on random operands."""
  dtype = jnp.dtype(dot.dtype.replace('f32', 'float32').replace('bf16', 'bfloat16'))
  lhs = jnp.asarray(np.random.default_rng(0).normal(size=dot.lhs), dtype)
  rhs = jnp.asarray(np.random.default_rng(1).normal(size=dot.rhs), dtype)
  numbers = ((dot.lhs_contracting, dot.rhs_contracting), (dot.lhs_batch, dot.rhs_batch))
  run = jax.jit(lambda a, b: jax.lax.dot_general(a, b, numbers))
  run(lhs, rhs).block_until_ready()
  return bench_util.median(
    [bench_util.timed(lambda: run(lhs, rhs).block_until_ready()) for _ in range(repeats)]
  )


def categorise(op_name: str, body: str, opcode: str) -> str:
  if (
    'adam' in op_name
    or 'clip' in op_name
    or 'global_norm' in op_name
    or ('train_step' in op_name and 'embed' not in op_name and 'loss' not in op_name.lower())
  ):
    return 'optimiser'
  attention_op = (
    'bqhd' in op_name
    or 'bhqk' in op_name
    or 'dot_product_attention' in op_name
    or 'softmax' in op_name
  )
  if ' dot(' in body or opcode == 'dot':
    return 'attention matmul' if attention_op else 'matmul'
  if attention_op:
    return 'attention elementwise'
  if 'transpose' in op_name or opcode in ('copy', 'transpose') or 'copy' in body.split('(')[0]:
    return 'layout copy'
  if ' reduce(' in body or opcode == 'reduce':
    return 'reduction'
  return 'elementwise'


def time_dot_torch(dot: Dot, repeats: int = 5) -> float | None:
  """Median seconds of the same contraction in PyTorch (torch.einsum), or None without torch."""
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  letters = iter('abcdefghijklmnopqrstuvwxyz')
  lhs_letters = [next(letters) for _ in dot.lhs]
  rhs_letters = [next(letters) for _ in dot.rhs]
  for lhs_dim, rhs_dim in zip(
    dot.lhs_batch + dot.lhs_contracting, dot.rhs_batch + dot.rhs_contracting, strict=True
  ):
    rhs_letters[rhs_dim] = lhs_letters[lhs_dim]
  shared = set(dot.lhs_batch) | set(dot.lhs_contracting)
  out = (
    [lhs_letters[i] for i in dot.lhs_batch]
    + [c for i, c in enumerate(lhs_letters) if i not in shared]
    + [
      c for i, c in enumerate(rhs_letters) if i not in set(dot.rhs_batch) | set(dot.rhs_contracting)
    ]
  )
  equation = f'{"".join(lhs_letters)},{"".join(rhs_letters)}->{"".join(out)}'
  lhs, rhs = torch.randn(*dot.lhs), torch.randn(*dot.rhs)
  torch.einsum(equation, lhs, rhs)
  return bench_util.median(
    [bench_util.timed(lambda: torch.einsum(equation, lhs, rhs)) for _ in range(repeats)]
  )


def main(argv):
  del argv
  config = bench_util.pretrain_config(_SIZE.value, _BATCH_SIZE.value, _OVERRIDES.value)
  if _ATTENTION.value:
    config.model.attention = _ATTENTION.value
  run = train.setup(config)
  state, batch = run.state, bench_util.global_random_batch(config, run.mesh)
  compiled = run.step_fn.lower(state, batch).compile()
  hlo_text = compiled.as_text()
  if _HLO_OUT.value:
    with open(_HLO_OUT.value, 'w', encoding='utf-8') as out:
      out.write(hlo_text)
  for _ in range(2):
    state, metrics = compiled(state, batch)
  jax.block_until_ready((state, metrics))

  trace_dir = tempfile.mkdtemp(prefix='mujo_profile_')
  with jax.profiler.trace(trace_dir, create_perfetto_trace=True):
    for _ in range(_STEPS.value):
      state, metrics = compiled(state, batch)
      jax.block_until_ready((state, metrics))
  trace_file = glob.glob(f'{trace_dir}/**/*.json.gz', recursive=True)[0]
  with gzip.open(trace_file) as stream:
    events = json.load(stream)
  events = events['traceEvents'] if isinstance(events, dict) else events

  hlo = parse_hlo(hlo_text)
  op_seconds = collections.Counter()
  wall = 0.0
  for event in events:
    if event.get('ph') != 'X':
      continue
    if event['name'] == 'ThunkExecutor::Execute (wait for completion)':
      wall += event['dur'] * 1e-6
    if event['name'] in hlo.opcode:
      op_seconds[event['name']] += event['dur'] * 1e-6

  steps = _STEPS.value
  by_category = collections.defaultdict(lambda: [0.0, 0.0])
  rows = []
  for name, seconds in op_seconds.items():
    flops = sum(dot.flops for dot in hlo.dots[name])
    category = categorise(hlo.op_name[name], hlo.body[name], hlo.opcode[name])
    direction = 'bwd' if 'transpose(jvp' in hlo.op_name[name] else 'fwd'
    by_category[category][0] += seconds / steps
    by_category[category][1] += flops
    rows.append((seconds / steps, name, category, direction, flops, hlo.op_name[name]))
  total = sum(seconds for seconds, _ in by_category.values())
  print(bench_util.machine_line())
  print(
    f'load average {bench_util.load_average():.2f}; step wall {wall / steps:.3f} s; '
    f'sum of op times {total:.3f} s per step (> wall where ops overlap)'
  )
  print(f'{"category":24s} {"s/step":>8s} {"share":>6s} {"GFLOP":>8s} {"GFLOP/s":>8s}')
  for category, (seconds, flops) in sorted(by_category.items(), key=lambda kv: -kv[1][0]):
    rate = f'{flops / seconds / 1e9:8.1f}' if flops else ''
    print(f'{category:24s} {seconds:8.3f} {100 * seconds / total:5.1f}% {flops / 1e9:8.2f} {rate}')
  print(f'\ntop {_TOP.value} ops (ms per step):')
  for seconds, name, category, direction, flops, op_name in sorted(rows, reverse=True)[
    : _TOP.value
  ]:
    rate = f'{flops / seconds / 1e9:6.1f} GF/s' if flops else ' ' * 11
    short = op_name.replace('jit(train_step)/', '').replace('JointModel._features/', '')
    print(f'{1e3 * seconds:7.1f} {category:22s} {direction} {rate} {name:28s} {short[:90]}')

  # ---- The matmul floor: every dot of the step, each run alone at its own shape.
  if _FLOOR.value:
    every_dot = collections.Counter(dot for dots in hlo.dots.values() for dot in dots)
    floor_seconds = sum(count * time_dot(dot) for dot, count in every_dot.items())
    floor_flops = sum(count * dot.flops for dot, count in every_dot.items())
    peak = max(bench_util.matmul_peak_flops().values())
    print(
      f'\nmatmul floor: {sum(every_dot.values())} dots ({len(every_dot)} shapes), '
      f'{floor_flops / 1e9:.2f} GFLOP, {floor_seconds:.3f} s when each runs alone '
      f'= {floor_flops / floor_seconds / 1e9:.1f} GFLOP/s; square fp32 matmul peak '
      f'{peak / 1e9:.1f} GFLOP/s; a step that only ran its matmuls would reach '
      f'{100 * floor_flops / floor_seconds / peak:.1f} % of that peak'
    )
    torch_seconds = [time_dot_torch(dot) for dot in every_dot]
    if None not in torch_seconds:
      torch_floor = sum(
        count * seconds
        for (dot, count), seconds in zip(every_dot.items(), torch_seconds, strict=True)
      )
      import torch  # pylint: disable=g-import-not-at-top

      print(
        f'the same dots in PyTorch (torch.einsum, {torch.get_num_threads()} threads): '
        f'{torch_floor:.3f} s = {floor_flops / torch_floor / 1e9:.1f} GFLOP/s '
        f'(XLA ÷ torch time {floor_seconds / torch_floor:.2f}×)'
      )
    else:
      print('the same dots in PyTorch: skipped (torch is not installed: pip install -e .[bench])')
    slowest = sorted(every_dot.items(), key=lambda kv: kv[0].flops / time_dot(kv[0]))[:8]
    for dot, count in slowest:
      print(
        f'  slow shape ×{count}: lhs {dot.lhs} rhs {dot.rhs} batch {dot.lhs_batch} '
        f'contract {dot.lhs_contracting}/{dot.rhs_contracting}: '
        f'{dot.flops / time_dot(dot) / 1e9:.1f} GFLOP/s'
      )


if __name__ == '__main__':
  app.run(main)
