"""IMU sites: the global vocabulary of body positions, and the site ids the IMU encoder embeds.

The index of a name in `SITES` is its site id: the IMU encoder looks it up in a table of
`NUM_SITE_IDS` rows, so a model pretrained on some sites can be applied to any other subset.
The table is larger than the vocabulary so that sites can be added without changing the
parameter shapes of existing checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence

# Global site vocabulary; MM-Fit's devices come first (sw_l, sw_r, sp_l, sp_r, eb_l).
SITES: tuple[str, ...] = (
  'left_wrist',
  'right_wrist',
  'left_thigh',
  'right_thigh',
  'head',
  'left_forearm',
  'right_forearm',
  'left_upper_arm',
  'right_upper_arm',
  'left_shin',
  'right_shin',
  'left_ankle',
  'right_ankle',
  'pelvis',
  'lower_back',
  'chest',
)

# Rows of the IMU encoder's site-embedding table (>= len(SITES)).
NUM_SITE_IDS = 64

# The 16 IMUTube-style sites of FiMAD-like corpora, head to feet. The paper names 16 positions
# but not which; we take every segment of the H36M tree that carries a wearable, with two
# sensors on the forearm (mid and wrist), the shin (mid and ankle) and the lower trunk (pelvis
# and lower back).
FIMAD_SITES: tuple[str, ...] = (
  'head',
  'chest',
  'lower_back',
  'pelvis',
  'left_upper_arm',
  'right_upper_arm',
  'left_forearm',
  'right_forearm',
  'left_wrist',
  'right_wrist',
  'left_thigh',
  'right_thigh',
  'left_shin',
  'right_shin',
  'left_ankle',
  'right_ankle',
)

# MM-Fit device -> site: smartwatches on the wrists, phones in the trouser pockets, left earbud.
MMFIT_DEVICE_SITES: dict[str, str] = {
  'sw_l': 'left_wrist',
  'sw_r': 'right_wrist',
  'sp_l': 'left_thigh',
  'sp_r': 'right_thigh',
  'eb_l': 'head',
}

# The synthetic corpus wears sensors at MM-Fit's device sites, so that pretraining on it makes
# the site embeddings of the IMU encoder meaningful on MM-Fit.
SYNTHETIC_IMU_SITES: tuple[str, ...] = tuple(MMFIT_DEVICE_SITES.values())

# The `wearables` corpus wears more devices: MM-Fit's first (so its first columns are the
# synthetic corpus's), then the positions of common HAR datasets (chest strap, waist/belt clip,
# lower back, ankles, upper-arm bands). Every clip has all of them; training drops some.
WEARABLE_IMU_SITES: tuple[str, ...] = SYNTHETIC_IMU_SITES + (
  'chest',
  'pelvis',
  'lower_back',
  'left_ankle',
  'right_ankle',
  'left_upper_arm',
  'right_upper_arm',
)

assert len(set(SITES)) == len(SITES) <= NUM_SITE_IDS
assert set(FIMAD_SITES) <= set(SITES) and set(SYNTHETIC_IMU_SITES) <= set(SITES)
assert SITES[: len(SYNTHETIC_IMU_SITES)] == SYNTHETIC_IMU_SITES
assert set(WEARABLE_IMU_SITES) <= set(SITES) and len(set(WEARABLE_IMU_SITES)) == 12


def check_sites(names: Sequence[str], known: Sequence[str] = SITES, where: str = 'sites') -> None:
  """Raises one ValueError naming every unknown or repeated site and listing the known ones."""
  if isinstance(names, str):
    raise ValueError(f'{where}={names!r}: expected a sequence of site names, got one string')
  unknown = [name for name in names if name not in known]
  repeated = sorted({name for name in names if list(names).count(name) > 1})
  if unknown or repeated or not len(names):
    problems = []
    if not len(names):
      problems.append('no site given')
    if unknown:
      problems.append(f'unknown {unknown}')
    if repeated:
      problems.append(f'repeated {repeated}')
    raise ValueError(
      f'{where}={tuple(names)}: {"; ".join(problems)}; known sites: {", ".join(known)}'
    )


def site_ids(names: Sequence[str], where: str = 'sites') -> tuple[int, ...]:
  """Global site ids (indices into `SITES`) of distinct site names, in the given order.

  The one place where site names become the ids that the IMU encoder embeds; `where` names the
  config key or argument in the error.
  """
  check_sites(names, where=where)
  return tuple(SITES.index(name) for name in names)
