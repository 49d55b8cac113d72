"""The LEE token vocabulary: three special tokens, then the expression tokens the model reads and writes.

A token's id is its position in :data:`TOKENS`.  The shipped model's ``manifest.json`` records this list
and the runtime refuses an export whose vocabulary differs (:mod:`symdescent_lee.manifest`), so the order
is spelt out here rather than derived from the expression core's tables: an operator added to
:mod:`symdescent.expr.ops` leaves every id the model was trained on where it is.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from symdescent.expr import ops

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<bos>", "<eos>")
MAX_VARS = 10  # variable tokens x0 … x9
#: The expression tokens in the order that fixes their ids: binary operators, unary operators, variables,
#: the constant placeholder, literals.
EXPRESSION_TOKENS: tuple[str, ...] = (
    "add", "sub", "mul", "div", "pow",
    "neg", "sqrt", "exp", "log", "sin", "cos", "tan", "tanh", "asin", "abs", "square", "cube",
    *(f"x{i}" for i in range(MAX_VARS)),
    ops.CONST,
    "1", "2", "3", "4", "5", "pi",
)
TOKENS: tuple[str, ...] = SPECIALS + EXPRESSION_TOKENS
INDEX = {t: i for i, t in enumerate(TOKENS)}
VOCAB_SIZE = len(TOKENS)
MAX_LEN = 32  # decoded prefix tokens, EOS included

# For each token id: arity (-1 for specials), used to mask decoding to valid prefix trees.
ARITY = np.array([-1, -1, -1] + [ops.arity(t) for t in EXPRESSION_TOKENS], dtype=np.int64)
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
