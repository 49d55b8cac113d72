"""The LEE token vocabulary: special tokens followed by the core vocabulary."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from symdescent.expr import ops

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<bos>", "<eos>")
TOKENS: tuple[str, ...] = SPECIALS + ops.ALL_TOKENS
INDEX = {t: i for i, t in enumerate(TOKENS)}
VOCAB_SIZE = len(TOKENS)
MAX_LEN = 32  # decoded prefix tokens, EOS included
MAX_VARS = ops.MAX_VARIABLES

# For each token id: arity (-1 for specials), used to mask decoding to valid prefix trees.
ARITY = np.array([-1, -1, -1] + [ops.arity(t) for t in ops.ALL_TOKENS], dtype=np.int64)
VAR_ID = np.array([INDEX[f"x{i}"] for i in range(MAX_VARS)], dtype=np.int64)


def encode_tokens(tokens: Sequence[str], length: int = MAX_LEN) -> np.ndarray:
    """Token ids padded to ``length`` (no BOS, EOS appended)."""
    ids = [INDEX[t] for t in tokens][: length - 1] + [EOS]
    out = np.full(length, PAD, dtype=np.int64)
    out[: len(ids)] = ids
    return out


def decode_ids(ids: Sequence[int]) -> tuple[str, ...]:
    out = []
    for i in ids:
        i = int(i)
        if i == EOS:
            break
        if i in (PAD, BOS):
            continue
        out.append(TOKENS[i])
    return tuple(out)
