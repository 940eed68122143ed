"""Helpers shared by the config files (big_vision style `file.py:k=v,k=v` variants)."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import ml_collections


def _parse_value(key: str, text: str, default: Any) -> Any:
  """Converts `text` to the type of `default` so `size=tiny` and `batch_size=8` both work."""
  if isinstance(default, bool):
    lowered = text.lower()
    if lowered in ('1', 'true', 'yes', ''):
      return True
    if lowered in ('0', 'false', 'no'):
      return False
    raise ValueError(f'config argument {key}={text!r}: expected a boolean (true/false)')
  if isinstance(default, int):
    try:
      return int(text)
    except ValueError:
      raise ValueError(f'config argument {key}={text!r}: expected an integer') from None
  if isinstance(default, float):
    try:
      return float(text)
    except ValueError:
      raise ValueError(f'config argument {key}={text!r}: expected a number') from None
  return text


def parse_arg(arg: str | None, **defaults: Any) -> ml_collections.ConfigDict:
  """Parses `k=v,k=v` (the part after `:` in `--config=file.py:...`) against `defaults`.

  A bare `k` means `k=true` (`runlocal`). Unknown keys are rejected with the list of known ones
  so that a typo never silently falls back to a default.
  """
  values = dict(defaults)
  for item in filter(None, (arg or '').split(',')):
    key, _, text = item.partition('=')
    key = key.strip()
    if key not in defaults:
      raise ValueError(f'unknown config argument {key!r} in {arg!r}; known: {sorted(defaults)}')
    values[key] = _parse_value(key, text.strip(), defaults[key])
  return ml_collections.ConfigDict(values)


def from_dataclass(instance: Any) -> ml_collections.ConfigDict:
  """`dataclasses.asdict(instance)` as a ConfigDict whose None fields stay overridable.

  A None default (e.g. `model.width`: the size preset's value) becomes a typed
  `placeholder`, so that `--config.model.width=256` parses as an int; the dataclass is the one
  owner of the default, the config only mirrors it.
  """
  hints = typing.get_type_hints(type(instance))
  section = ml_collections.ConfigDict()
  for key, value in dataclasses.asdict(instance).items():
    if value is None:
      kinds = [typing.get_origin(t) or t for t in typing.get_args(hints[key])
               if t is not type(None)]
      if len(kinds) != 1:
        raise TypeError(f'{type(instance).__name__}.{key}: a None default needs a type '
                        f'`T | None`, got {hints[key]}')
      value = ml_collections.config_dict.placeholder(kinds[0])
    section[key] = value
  return section
