r"""Multi-way contrastive pretraining (MuJo) of IMU, pose, video and text encoders.

  python -m mujo_jax.main --config=configs/pretrain.py --workdir=/tmp/mujo
  python -m mujo_jax.main --config=configs/pretrain.py:size=tiny,strategy=round_robin,loss=siglip \
      --workdir=/tmp/mujo --config.total_steps=50

Variants (after the colon): data=synthetic|fimad, size=tiny|small|base,
strategy=joint|round_robin|random_pair|anchored|uncertainty, anchor=<modality> (anchored),
loss=clip|siglip, modalities=imu+pose+text+video (default; imu+pose+text for the wearables
corpus), pairs=all|imu-text+imu-pose, pair_weights=imu-text:0.25+pose-text:2 (the pairs not
named weigh 1; the wearables corpus defaults to imu-text:0.25; a dict-valued field cannot be set
by --config.key=value), batch_size=N,
corpus=tiny|default|wearables|wearables_tiny
(synthetic builder config; `wearables` is the shipped model's recipe, MODEL_CARD.md), runlocal
(shrinks everything for a smoke run).
Every key below is also overridable with --config.key=value.
"""

from __future__ import annotations

import ml_collections

from configs.common import from_dataclass, linear_probe_settings, parse_arg
from mujo_jax import multitask
from mujo_jax.facts.sites import SYNTHETIC_IMU_SITES, WEARABLE_IMU_SITES
from mujo_jax.models import config as model_config


def _default_pair_weights(wearables: bool, pairs: str, modalities) -> str:
  """The wearables recipe weighs imu-text at 1/4 (when the run has that pair), the rest 1.

  The corpus's texts describe its 53 activities, so imu-text pulls each IMU window towards its
  class's text and flattens the differences within a class that a probe on other activities
  needs; imu-pose pairs each window with its own motion. Measured since (MODEL_CARD.md, "Seed
  noise"): the real sets' probes are level at imu-text 0, 0.25 and 1 within the seed spread;
  the weight moves IMU zero-shot (higher with more weight). 0.25 is the shipped model's recipe.
  """
  if not (wearables and {'imu', 'text'} <= set(modalities)):
    return ''
  imu_text = multitask.parse_pair('imu-text', modalities)
  return 'imu-text:0.25' if imu_text in multitask.parse_pairs(pairs, modalities) else ''


def _pair_weights(text: str) -> dict[str, float] | None:
  """'imu-text:0.25+pose-text:2' -> {'imu-text': 0.25, 'pose-text': 2.0}; '' -> None."""
  weights = {}
  for item in filter(None, text.split('+')):
    pair, _, value = item.partition(':')
    try:
      weights[pair.strip()] = float(value)  # No colon: float('') raises too.
    except ValueError:
      raise ValueError(
        f'pair_weights={text!r}: expected pair:weight items joined by +, got {item!r}'
      ) from None
  return weights or None


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  arg = parse_arg(
    arg,
    data='synthetic',
    size='small',
    strategy='joint',
    anchor='',
    loss='clip',
    modalities='',
    pairs='all',
    pair_weights='',
    batch_size=0,
    corpus='default',
    runlocal=False,
  )
  config = ml_collections.ConfigDict()
  config.job = 'pretrain'
  config.seed = 0
  # A pretraining workdir (or exported weights) whose parameters start this run in place of the
  # seed's initialisation, path by path (big_vision's `model_init`); parameters it lacks, e.g. a
  # new head, keep theirs. Fresh optimiser, step 0; read only at a fresh start (a workdir with
  # checkpoints resumes from them). '': none.
  config.init_from = ''
  wearables = arg.data == 'synthetic' and arg.corpus.startswith('wearables')
  # The wearables corpus stores no video: its model trains on IMU, pose and text.
  config.modalities = tuple(
    (arg.modalities or ('imu+pose+text' if wearables else 'imu+pose+text+video')).split('+')
  )

  # ---------------------------------------------------------------- schedule
  config.total_steps = 400  # The CPU demo; scale up with --config.total_steps on accelerators.
  # Global batch: divided across processes and devices (0: 64, or 128 for the wearables recipe).
  config.batch_size = arg.batch_size or (128 if wearables else 64)
  config.log_every_steps = 50
  config.save_every_steps = 500
  config.keep_checkpoints = 2
  config.window_s = 5.0
  # GradCache-style exact accumulation: the contrastive loss sees the whole batch.
  config.accum_steps = 1
  config.accum_mode = 'exact'
  # A step whose loss or gradient is not finite is not applied: 'skip' (logged and counted) or
  # 'stop' the run; 'skip' stops too after this many such steps in a row.
  config.nonfinite = 'skip'
  config.nonfinite_max_consecutive = 10

  # ---------------------------------------------------------------- data
  config.data = ml_collections.ConfigDict()
  config.data.name = arg.data
  # None: TFDS's default (~/tensorflow_datasets or $TFDS_DATA_DIR).
  config.data.tfds_data_dir = ml_collections.config_dict.placeholder(str)
  config.data.builder_config = arg.corpus if arg.data == 'synthetic' else 'features'
  config.data.train_split = 'train'
  config.data.eval_split = 'validation'
  config.data.imu_sites = WEARABLE_IMU_SITES if wearables else SYNTHETIC_IMU_SITES
  config.data.imu_rate_hz = 50.0
  config.data.pose_fps = 30.0
  config.data.video_fps = 10.0
  config.data.video_size = 32  # Frames are (video_size, video_size, 1) uint8.
  # FiMAD's pre-extracted (HERO-style) features; the builder records the real width.
  config.data.video_feature_dim = 128
  config.data.num_workers = 1  # grain worker processes; 0 reads in the training process.
  config.data.prefetch_batches = 2
  # Training batches in runs of this many windows of one activity (distinct clips; 1: a plain
  # shuffle), so each window's negatives include its own activity done by others.
  config.data.windows_per_activity = 1
  config.augment = ml_collections.ConfigDict()
  config.augment.imu_rotation_deg = 15.0  # Sensor mounting jitter, same rotation for acc and gyr.
  config.augment.imu_scale = 0.1  # Relative gain jitter per site.
  config.augment.site_dropout = 0.1  # Each present IMU site is dropped with this probability.
  config.augment.single_site = 0.0  # Probability that a window keeps one site only.
  # Sites (names) the lone site of those windows is drawn from with probability
  # `single_site_favoured_share` (when one of them is present); otherwise any present site.
  config.augment.single_site_favoured = ()
  config.augment.single_site_favoured_share = 0.0
  config.augment.modality_dropout = 0.1  # Each modality marked absent with this probability.
  # With model.pose_forearm_roll: a window's forearm pronation is hidden from the pose encoder
  # with this probability, so that it also embeds poses without it (real pose sources).
  config.augment.forearm_pronation_dropout = 0.0
  # Every other window of a batch is the one before it played backwards (time reversed, gyro
  # sign flipped), so that the encoders must tell a motion from its reverse. A reversed window's
  # text is marked absent: its description tells the motion as performed.
  config.augment.backwards_pairs = False

  # ---------------------------------------------------------------- model, loss, multitask
  # Defaults come from the typed dataclasses (`ModelConfig`, `LossConfig`, `MultitaskConfig`);
  # None fields (`model.width`, ...: the size preset's value) stay overridable placeholders.
  config.model = from_dataclass(
    model_config.ModelConfig(
      size=arg.size,
      # FiMAD's `features` builder config stores pre-extracted features, `frames` small frames.
      video_input=(
        'frames'
        if arg.data == 'synthetic' or config.data.builder_config == 'frames'
        else 'features'
      ),
    )
  )
  config.loss = from_dataclass(model_config.LossConfig(type=arg.loss))
  config.multitask = from_dataclass(
    multitask.MultitaskConfig(
      strategy=arg.strategy,
      pairs='all' if arg.pairs == 'all' else tuple(arg.pairs.split('+')),
      anchor=arg.anchor or ('text' if arg.strategy == 'anchored' else ''),
      pair_weights=_pair_weights(
        arg.pair_weights or _default_pair_weights(wearables, arg.pairs, config.modalities)
      ),
    )
  )

  # ---------------------------------------------------------------- optimiser
  config.optim = ml_collections.ConfigDict()
  config.optim.learning_rate = 1e-3
  config.optim.warmup_steps = 40
  config.optim.weight_decay = 0.05
  config.optim.b1 = 0.9
  config.optim.b2 = 0.98
  config.optim.grad_clip_norm = 1.0

  # ---------------------------------------------------------------- sharding
  # Mesh axes (name, size); -1 takes the remaining devices. Batch is split over both axes;
  # parameters and optimiser state are sharded over 'fsdp' by the regex rules below.
  config.mesh = (('data', -1), ('fsdp', 1))
  config.sharding_rules = (('.*', 'fsdp'),)  # Shard the largest divisible axis over 'fsdp'.

  # ---------------------------------------------------------------- evaluators
  # name -> evaluator settings + `type` + `every_steps` (0: at the end of the run only); the
  # scalars go to TensorBoard under `<name>/...` and the end-of-run ones into summary.json.
  # `probe` is the cheap linear probe of the IMU embedding (the `linear_probe` job with
  # `:quick`), against the run's own initial weights.
  config.evals = ml_collections.ConfigDict()
  if arg.data == 'synthetic':
    config.evals.probe = linear_probe_settings(quick=True, runlocal=arg.runlocal)
    config.evals.probe.type = 'linear_probe'
    config.evals.probe.every_steps = 0
  # FiMAD chapters name an MM-Fit activity only now and then: evaluate FiMAD runs with the
  # `linear_probe` job on a labelled dataset.

  if wearables:
    # The recipe of the shipped model (MODEL_CARD.md): the devices are simulated at build time
    # (placement, noise, bias, clocks, ...); online, a little more mounting jitter, and windows
    # that keep a few sites or one (a lone watch), so that one wrist reads well on its own.
    # |acc| and |gyr| beside the axes: a real watch's mounting is unknown, its intensity is not.
    config.model.imu_magnitudes = True
    config.total_steps = 4500
    config.optim.warmup_steps = 250
    config.save_every_steps = 250
    config.augment.imu_rotation_deg = 30.0
    config.augment.site_dropout = 0.5
    config.augment.single_site = 0.3

  if arg.runlocal:
    if arg.data == 'synthetic':
      config.data.builder_config = 'wearables_tiny' if wearables else 'tiny'
    config.model.size = 'tiny'
    config.batch_size = min(config.batch_size, 16)
    config.total_steps = 10
    config.log_every_steps = 5
    config.save_every_steps = 5
    config.optim.warmup_steps = 2
    config.data.num_workers = 0
  return config
