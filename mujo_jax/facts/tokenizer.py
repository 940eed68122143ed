"""Byte-level tokenizer: text in any language without a vocabulary file to download.

Ids are UTF-8 bytes shifted by 3 so that 0 can be padding (the text encoder masks id 0), 1 marks
the beginning and 2 the end of a text. Every encoded text is `[bos, bytes..., eos, pad...]` of a
fixed length, so batches have static shapes under jit. The `Tokenizer` protocol is what the data
pipeline and the text encoder rely on; another tokenizer (e.g. SentencePiece) can replace this one
if it keeps 0 as padding and reports its `vocab_size`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

import numpy as np

PAD_ID = 0
BOS_ID = 1
EOS_ID = 2
_BYTE_OFFSET = 3  # Byte b has id b + 3.


class Tokenizer(Protocol):
  """What the pipeline and the text encoder need from a tokenizer (id 0 must be padding)."""

  @property
  def vocab_size(self) -> int: ...

  @property
  def max_len(self) -> int: ...

  def encode(self, text: str) -> np.ndarray: ...

  def encode_batch(self, texts: Sequence[str]) -> np.ndarray: ...

  def decode(self, ids: np.ndarray | Sequence[int]) -> str: ...


@dataclasses.dataclass(frozen=True)
class ByteTokenizer:
  """UTF-8 bytes + 3; 0 pad, 1 bos, 2 eos; fixed output length `max_len` (>= 2).

  Texts longer than `max_len - 2` bytes are cut at a character boundary and still end with eos,
  so the model always sees where a text stops.
  """

  max_len: int

  def __post_init__(self):
    if not isinstance(self.max_len, int) or self.max_len < 2:
      raise ValueError(
        f'ByteTokenizer.max_len={self.max_len!r}: expected an int >= 2 (room for bos and eos)'
      )

  @property
  def vocab_size(self) -> int:
    return 256 + _BYTE_OFFSET

  def _content_bytes(self, text: str) -> bytes:
    if not isinstance(text, str):
      raise ValueError(f'ByteTokenizer.encode: expected a str, got {type(text).__name__}')
    data = text.encode('utf-8')
    limit = self.max_len - 2
    if len(data) > limit:
      # Drop a multi-byte character cut in half rather than emit an invalid UTF-8 sequence.
      data = data[:limit].decode('utf-8', errors='ignore').encode('utf-8')
    return data

  def encode(self, text: str) -> np.ndarray:
    """Returns int32 `(max_len,)`: bos, the text's bytes + 3, eos, then padding."""
    ids = np.zeros((self.max_len,), np.int32)
    data = self._content_bytes(text)
    ids[0] = BOS_ID
    ids[1 : 1 + len(data)] = np.frombuffer(data, np.uint8).astype(np.int32) + _BYTE_OFFSET
    ids[1 + len(data)] = EOS_ID
    return ids

  def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
    """Returns int32 `(len(texts), max_len)`."""
    if isinstance(texts, str):
      raise ValueError('ByteTokenizer.encode_batch: expected a sequence of str, got one str')
    out = np.zeros((len(texts), self.max_len), np.int32)
    for row, text in enumerate(texts):
      out[row] = self.encode(text)
    return out

  def decode(self, ids: np.ndarray | Sequence[int]) -> str:
    """Inverse of `encode`: skips bos and padding, stops at the first eos."""
    ids = np.asarray(ids)
    if ids.ndim != 1:
      raise ValueError(f'ByteTokenizer.decode: expected one sequence of ids, got shape {ids.shape}')
    if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
      raise ValueError(
        f'ByteTokenizer.decode: ids must lie in [0, {self.vocab_size}), got '
        f'[{ids.min()}, {ids.max()}]'
      )
    data = bytearray()
    for token in ids.tolist():
      if token == EOS_ID:
        break
      if token >= _BYTE_OFFSET:
        data.append(token - _BYTE_OFFSET)
    return data.decode('utf-8', errors='replace')
