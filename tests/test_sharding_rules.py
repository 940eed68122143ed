"""Sharding rules by their output: the exact PartitionSpec each rule gives each parameter.

Contract (mujo_jax/sharding.py): rules are `(regex, action)`; the first rule whose regex is
found in the leaf's '/'-joined key path wins; a leaf no rule matches is replicated. `'fsdp'`
shards the largest axis that the fsdp size divides (the next largest if it does not, replicated
if none does), scalars and fsdp size 1 replicate; `None` / `'replicate'` replicate.
Multi-device meshes need the host device count set before JAX starts, so those cases run in a
subprocess with 8 CPU devices.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from mujo_jax import sharding

# name -> shape of representative leaves (the joint model's parameter tree and its optimiser).
LEAVES = {
  'params/imu_encoder/transformer/block_0/attn/qkv/kernel': (32, 96),
  'params/imu_encoder/transformer/block_0/attn/qkv/bias': (96,),
  'params/imu_encoder/site_embed': (64, 32),
  'params/imu_encoder/patch_embed/kernel': (150, 32),  # 150 % 4 != 0: the next axis.
  'params/pose_encoder/joint_embed/kernel': (51, 30),  # Neither axis divisible.
  'params/video_encoder/space_embed': (4, 32),  # The larger axis, not the first.
  'params/text_encoder/token_embed': (259, 32),
  'params/imu_head/kernel': (32, 32),
  'params/imu_head/bias': (3,),  # Smaller than the fsdp size.
  'params/loss_head/logit_scale': (),
  'opt_state/0/mu/imu_encoder/site_embed': (64, 32),
}

RULE_SETS = {
  'default': (('.*', 'fsdp'),),
  'first_match_wins': (('.*site_embed', None), ('.*encoder/.*', 'fsdp'), ('.*', 'replicate')),
  'reversed': (('.*encoder/.*', 'fsdp'), ('.*site_embed', None), ('.*', 'replicate')),
  'searched_unanchored': (('imu_encoder', 'fsdp'),),
  'unmatched_replicate': (('text_encoder/token_embed$', 'fsdp'),),
}

_SPECS = r"""
import json, sys
import jax, numpy as np
from mujo_jax import sharding

leaves, rule_sets = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert len(jax.devices()) == 8, jax.devices()
tree = {}
for name, shape in leaves.items():
  node = tree
  parts = name.split('/')
  for i, part in enumerate(parts[:-1]):
    if part == '0':
      continue
    nxt = parts[i + 1] == '0'
    node = node.setdefault(part, [{}] if nxt else {})
    node = node[0] if isinstance(node, list) else node
  node[parts[-1]] = jax.ShapeDtypeStruct(tuple(shape), np.float32)
out = {}
for fsdp in (4, 8, 1):
  mesh = sharding.make_mesh((('data', -1), ('fsdp', fsdp)))
  for rules_name, rules in rule_sets.items():
    shardings = sharding.tree_shardings(tree, mesh, [tuple(r) for r in rules])
    flat = jax.tree_util.tree_flatten_with_path(shardings)[0]
    specs = {}
    for path, value in flat:
      key = '/'.join(str(getattr(k, 'key', getattr(k, 'idx', k))) for k in path)
      assert value.mesh.shape == mesh.shape
      specs[key] = [list(p) if isinstance(p, tuple) else p for p in value.spec]
    out[f'{fsdp}/{rules_name}'] = specs
print('SPECS' + json.dumps(out))
"""


@pytest.fixture(scope='module')
def specs() -> dict[str, dict[str, list]]:
  env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=8', JAX_PLATFORMS='cpu')
  result = subprocess.run(
    [sys.executable, '-c', _SPECS, json.dumps(LEAVES), json.dumps(RULE_SETS)],
    capture_output=True,
    text=True,
    timeout=300,
    env=env,
    cwd=Path(__file__).parents[1],
  )
  assert result.returncode == 0, result.stderr[-3000:]
  line = next(t for t in result.stdout.splitlines() if t.startswith('SPECS'))
  return json.loads(line[len('SPECS') :])


R = []  # Replicated: PartitionSpec().
ROW, COL = ['fsdp', None], [None, 'fsdp']

FSDP4_DEFAULT = {
  'params/imu_encoder/transformer/block_0/attn/qkv/kernel': COL,
  'params/imu_encoder/transformer/block_0/attn/qkv/bias': ['fsdp'],
  'params/imu_encoder/site_embed': ROW,
  'params/imu_encoder/patch_embed/kernel': COL,
  'params/pose_encoder/joint_embed/kernel': R,
  'params/video_encoder/space_embed': COL,
  'params/text_encoder/token_embed': COL,  # 259 is odd, 32 % 4 == 0: the next axis.
  'params/imu_head/kernel': COL,
  'params/imu_head/bias': R,
  'params/loss_head/logit_scale': R,
  'opt_state/0/mu/imu_encoder/site_embed': ROW,
}


def test_default_rule_shards_the_largest_divisible_axis(specs):
  assert specs['4/default'] == FSDP4_DEFAULT
  eight = specs['8/default']
  # 96 and 64 are divisible by 8; 150 is not, 32 is; (51, 30): neither; (3,) < 8.
  assert eight['params/imu_encoder/transformer/block_0/attn/qkv/kernel'] == COL
  assert eight['params/imu_encoder/site_embed'] == ROW
  assert eight['params/imu_encoder/patch_embed/kernel'] == COL
  assert eight['params/pose_encoder/joint_embed/kernel'] == R
  assert eight['params/imu_head/bias'] == R
  assert eight['params/loss_head/logit_scale'] == R


def test_fsdp_of_one_replicates_everything(specs):
  for rules_name in RULE_SETS:
    assert set(map(tuple, specs[f'1/{rules_name}'].values())) == {()}, rules_name


def test_first_matching_rule_wins(specs):
  first = specs['4/first_match_wins']
  assert first['params/imu_encoder/site_embed'] == R  # Rule 1 beats rule 2.
  assert first['opt_state/0/mu/imu_encoder/site_embed'] == R
  assert first['params/imu_encoder/transformer/block_0/attn/qkv/kernel'] == COL  # Rule 2.
  assert first['params/text_encoder/token_embed'] == COL
  assert first['params/imu_head/kernel'] == R  # Rule 3: 'replicate'.
  reordered = specs['4/reversed']
  assert reordered['params/imu_encoder/site_embed'] == ROW  # Now rule 1 ('fsdp') wins.
  assert reordered['params/imu_head/kernel'] == R


def test_rules_are_searched_in_the_path_and_unmatched_leaves_replicate(specs):
  searched = specs['4/searched_unanchored']
  for name, spec in searched.items():
    expected = FSDP4_DEFAULT[name] if 'imu_encoder' in name else R
    assert spec == expected, name
  unmatched = specs['4/unmatched_replicate']
  assert {n for n, s in unmatched.items() if s != R} == {'params/text_encoder/token_embed'}


@pytest.mark.parametrize(
  'shape, fsdp, expected',
  [
    ((32, 96), 4, (None, 'fsdp')),
    ((96, 32), 4, ('fsdp', None)),
    ((150, 32), 4, (None, 'fsdp')),
    ((150, 30), 4, ()),
    ((8, 3, 16), 8, (None, None, 'fsdp')),
    ((3,), 4, ()),
    ((), 4, ()),
    ((32, 96), 1, ()),
  ],
)
def test_fsdp_spec_of_one_shape(shape, fsdp, expected):
  assert tuple(sharding._fsdp_spec(shape, fsdp)) == expected  # noqa: SLF001


def test_unknown_action_rejected():
  mesh = sharding.make_mesh((('data', -1), ('fsdp', 1)), jax.devices()[:1])
  tree = {'w': jax.ShapeDtypeStruct((4, 4), np.float32)}
  with pytest.raises(ValueError, match='sharding_rules action'):
    sharding.tree_shardings(tree, mesh, (('.*', 'shard'),))
