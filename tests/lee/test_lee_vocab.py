"""LEE's token vocabulary: the ids the shipped model was trained on, each token one the expression core reads."""

import json

from symdescent.expr import ops
from symdescent_lee import vocab
from symdescent_lee.plugin import default_model_dir


def test_the_shipped_model_has_this_vocabulary():
    manifest = json.loads((default_model_dir() / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["vocabulary"] == list(vocab.TOKENS)
    assert manifest["special_tokens"] == {"pad": vocab.PAD, "bos": vocab.BOS, "eos": vocab.EOS}


def test_every_expression_token_is_a_core_token_with_the_arity_the_decoder_masks_by():
    for i, tok in enumerate(vocab.TOKENS):
        if i < len(vocab.SPECIALS):
            assert vocab.ARITY[i] == -1
            continue
        if tok in ops.OPERATORS:
            assert vocab.ARITY[i] == ops.OPERATORS[tok].arity > 0, tok
        else:  # a leaf: a variable, the constant placeholder or a literal, never an operator the core lost
            assert tok == ops.CONST or tok in ops.LITERALS or ops.is_variable(tok), tok
            assert vocab.ARITY[i] == 0, tok
    assert [vocab.TOKENS[i] for i in vocab.VAR_ID] == [f"x{i}" for i in range(vocab.MAX_VARS)]


def test_tokens_round_trip_through_ids():
    tokens = ("add", "mul", "C", "x0", "sin", "x9")
    ids = vocab.encode_tokens(tokens, length=9)
    assert ids.tolist() == [vocab.INDEX[t] for t in tokens] + [vocab.EOS, vocab.PAD, vocab.PAD]
    assert vocab.INDEX["add"] == 3 and vocab.INDEX["pi"] == vocab.VOCAB_SIZE - 1 == 36
    assert vocab.decode_ids(ids) == tokens
