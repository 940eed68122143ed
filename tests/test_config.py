"""Config parsing and validation fail fast, naming the key and the expected value."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
from absl import flags
from ml_collections import config_flags

from configs import pretrain
from mujo_jax import config_validation, multitask
from mujo_jax.models import config as model_config
from mujo_jax.models import joint


def test_variants_parse_with_types():
  config = pretrain.get_config(
    'size=tiny,batch_size=8,strategy=round_robin,loss=siglip,modalities=imu+text'
  )
  assert config.model.size == 'tiny'
  assert config.batch_size == 8
  assert config.multitask.strategy == 'round_robin'
  assert config.loss.type == 'siglip'
  assert config.modalities == ('imu', 'text')


def test_pair_weights_variant_reaches_the_multitask():
  config = pretrain.get_config('corpus=wearables,pair_weights=imu-text:0.25+pose-text:2')
  built = joint.JointModelSpec.from_config(config).build_multitask()
  weights = dict(zip(built.pairs, built.pair_weights, strict=True))
  assert weights == {('imu', 'pose'): 1.0, ('imu', 'text'): 0.25, ('pose', 'text'): 2.0}
  with pytest.raises(ValueError, match="pair_weights='imu-text'.*pair:weight"):
    pretrain.get_config('pair_weights=imu-text')


def test_the_wearables_recipe_weighs_imu_text_at_a_quarter_where_the_run_has_that_pair():
  def weights(arg):
    built = joint.JointModelSpec.from_config(pretrain.get_config(arg)).build_multitask()
    return {'-'.join(p): w for p, w in zip(built.pairs, built.pair_weights, strict=True)}

  assert weights('corpus=wearables') == {'imu-pose': 1.0, 'imu-text': 0.25, 'pose-text': 1.0}
  assert weights('corpus=wearables_tiny,runlocal=True')['imu-text'] == 0.25
  assert weights('corpus=wearables,pair_weights=imu-text:1')['imu-text'] == 1.0
  assert weights('corpus=wearables,pairs=imu-pose') == {'imu-pose': 1.0}
  assert weights('corpus=wearables,pairs=text-imu+imu-pose')['imu-text'] == 0.25
  assert weights('corpus=wearables,modalities=imu+pose') == {'imu-pose': 1.0}
  assert set(weights('corpus=default').values()) == {1.0}


def test_favoured_lone_sites_are_checked_against_the_run_sites():
  config = pretrain.get_config('size=tiny')
  config.augment.single_site_favoured = ('left_wrist', 'left_ankle')
  with pytest.raises(ValueError, match='augment.single_site_favoured.*left_ankle'):
    config_validation.resolve_pretrain_config(config)
  config.augment.single_site_favoured = ('left_wrist',)
  config.augment.single_site_favoured_share = 1.5
  with pytest.raises(ValueError, match='single_site_favoured_share=1.5'):
    config_validation.resolve_pretrain_config(config)


def test_runlocal_shrinks():
  config = pretrain.get_config('runlocal')
  assert config.model.size == 'tiny' and config.data.builder_config == 'tiny'
  assert config.total_steps <= 20


def test_unknown_variant_rejected():
  with pytest.raises(ValueError, match="unknown config argument 'sise'"):
    pretrain.get_config('sise=tiny')


def test_badly_typed_variant_rejected():
  with pytest.raises(ValueError, match='batch_size=.*integer'):
    pretrain.get_config('batch_size=many')


@pytest.mark.parametrize(
  'key, value, message',
  [
    ('multitask.strategy', 'everything', 'multitask.strategy'),
    ('loss.type', 'triplet', 'loss.type'),
    ('model.size', 'huge', 'model.size'),
    ('batch_size', 0, 'batch_size'),
    ('accum_steps', 3, 'not divisible by accum_steps'),
    ('accum_mode', 'lazy', 'accum_mode'),
    ('window_s', 4.3, 'not a multiple of the model patch'),
    ('model.imu_mask_ratio', 1.0, r'model.imu_mask_ratio=1.0: expected a value in \[0, 1\)'),
    ('model.imu_mask_ratio', -0.1, 'model.imu_mask_ratio=-0.1'),
    ('loss.imu_reconstruction_weight', -1.0, 'loss.imu_reconstruction_weight=-1.0'),
    ('loss.imu_reconstruction_weight', float('inf'), 'loss.imu_reconstruction_weight=inf'),
  ],
)
def test_invalid_values_rejected(key, value, message):
  config = pretrain.get_config('size=tiny,batch_size=8')
  section, _, leaf = key.rpartition('.')
  (config[section] if section else config)[leaf] = value
  with pytest.raises(ValueError, match=message):
    config_validation.resolve_pretrain_config(config)


def test_unknown_site_and_modality_rejected():
  config = pretrain.get_config('size=tiny')
  config.data.imu_sites = ('left_wrist', 'left_pinky')
  with pytest.raises(ValueError, match='left_pinky'):
    config_validation.resolve_pretrain_config(config)
  with pytest.raises(ValueError, match='modalities'):
    config_validation.resolve_pretrain_config(pretrain.get_config('modalities=imu+smell'))


def test_site_ids_resolved():
  from mujo_jax.facts import sites as sites_lib

  config = config_validation.resolve_pretrain_config(pretrain.get_config('size=tiny'))
  assert [sites_lib.SITES[i] for i in config.data.imu_site_ids] == list(config.data.imu_sites)


def test_main_rejects_unknown_override_before_compute(tmp_path):
  result = subprocess.run(
    [
      sys.executable,
      '-m',
      'mujo_jax.main',
      '--config=configs/pretrain.py:runlocal',
      f'--workdir={tmp_path}',
      '--config.no_such_key=1',
    ],
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert result.returncode != 0
  assert 'no_such_key' in result.stderr
  assert not (tmp_path / 'checkpoints').exists()


def test_model_loss_multitask_defaults_are_the_dataclasses():
  config = pretrain.get_config('size=tiny,loss=siglip,strategy=round_robin')
  assert config.model.to_dict() == dataclasses.asdict(
    model_config.ModelConfig(size='tiny', video_input='frames')
  )
  assert config.model.video_tubelet == (5, 16, 16)
  assert config.loss.to_dict() == dataclasses.asdict(model_config.LossConfig(type='siglip'))
  assert config.multitask.to_dict() == dataclasses.asdict(
    multitask.MultitaskConfig(strategy='round_robin')
  )
  spec = joint.JointModelSpec.from_config(config_validation.resolve_pretrain_config(config))
  assert spec.model == model_config.ModelConfig(size='tiny')


def test_preset_fields_stay_overridable_from_the_command_line():
  argv = [
    'prog',
    '--config=configs/pretrain.py:size=tiny',
    '--config.model.width=64',
    '--config.model.dropout_rate=0.2',
    '--config.model.video_tubelet=(5,8,8)',
  ]
  flag_values = flags.FlagValues()
  config_flags.DEFINE_config_file('config', flag_values=flag_values, sys_argv=argv)
  flag_values(argv)
  config = config_validation.resolve_pretrain_config(flag_values.config)
  model = joint.build_model(joint.JointModelSpec.from_config(config))
  assert model.transformer.width == 64 and model.transformer.dropout_rate == 0.2
  assert model.transformer.depth == 1  # None: the tiny preset's.
  assert model.video_tubelet == (5, 8, 8)
  with pytest.raises(TypeError):
    pretrain.get_config().model.width = 'wide'


def test_main_prints_one_line_for_a_bad_value_and_exits_2(tmp_path):
  command = [
    sys.executable,
    '-m',
    'mujo_jax.main',
    '--config=configs/pretrain.py:runlocal',
    f'--workdir={tmp_path}',
    '--config.accum_steps=3',  # Does not divide the batch of 16: caught before any compute.
  ]
  result = subprocess.run(command, capture_output=True, text=True, timeout=120)
  assert result.returncode == 2
  assert 'Traceback' not in result.stderr
  last = result.stderr.strip().splitlines()[-1]
  assert last == 'error: invalid config: batch_size=16 is not divisible by accum_steps=3'
  verbose = subprocess.run(command + ['--verbose'], capture_output=True, text=True, timeout=120)
  assert verbose.returncode != 0 and 'Traceback' in verbose.stderr
