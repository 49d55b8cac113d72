"""LEE inference on the ONNX export, with numpy and onnxruntime only.

This module never imports torch (the tests check it in a subprocess with
torch blocked).  ``LeeRuntime.load(model_dir)`` reads ``manifest.json`` as
written by :mod:`symdescent_lee.training.export`, verifies every file against its
SHA-256 and the vocabulary against this package, and opens one onnxruntime
session per graph.  Then:

* :meth:`LeeRuntime.encode` maps data (and optionally candidate expressions)
  to latent codes ``z``;
* :meth:`LeeRuntime.sample` and :meth:`LeeRuntime.beam` decode ``z`` into
  expression skeletons under a prefix grammar, so every result is a complete
  tree over the problem's variables;
* :meth:`LeeRuntime.decode_logits` runs the same cached decoder on given
  tokens (teacher forcing): the decoder's cost, and its agreement with torch;
* :meth:`LeeRuntime.refine_z` takes gradient steps on ``z`` against the data
  through the evaluation decoder.

Decoding keeps a preallocated self-attention cache per layer; each step runs
``decoder_step.onnx`` on the live rows only and writes the new keys and values
into the cache in place.  Sampling and beam search share one decoding loop and
differ only in how they choose the next tokens.  Everything random comes from
the numpy Generator the caller passes, so results are deterministic given it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from symdescent.errors import DataError, PluginError
from symdescent.expr import ops
from symdescent.expr.evaluate import evaluate_tokens
from symdescent.expr.expression import Expression
from symdescent.expr.fit import strip_scaling
from symdescent_lee import encoding as enc
from symdescent_lee import vocab
from symdescent_lee.manifest import GRAPHS, model_file, read_manifest

MAX_TOKENS = vocab.MAX_LEN - 1  # tree tokens; EOS takes the last position


class Proposal(NamedTuple):
    """A decoded skeleton: constants are placeholders (1.0) to be fitted."""

    expression: Expression
    log_prob: float  # under the model at temperature 1, renormalised over the grammar's allowed tokens
    source: int  # the row of z it was decoded from


@dataclass(frozen=True)
class Prepared:
    """Data prepared like :func:`symdescent_lee.training.data.assemble` does for one sample."""

    X: np.ndarray  # (n, d) subsampled inputs
    y: np.ndarray  # (n,) subsampled targets
    n_vars: int
    base: np.ndarray  # (1, n, X_FEATURES + Y_FEATURES) float32
    qx: np.ndarray  # (1, n, X_FEATURES) float32: the query side of g_eval
    qy: np.ndarray  # (1, n) float32: standardised y (g_eval's target)
    y_mean: np.ndarray  # (1, 1)
    y_std: np.ndarray  # (1, 1)


def _log_softmax(a: np.ndarray) -> np.ndarray:
    m = a.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return a - m - np.log(np.exp(a - m).sum(axis=-1, keepdims=True))


def _grown(cache: list[np.ndarray], length: int) -> list[np.ndarray]:
    """The cache arrays ``(B, H, T, hd)`` zero-padded to ``length`` positions."""
    out = []
    for c in cache:
        g = np.zeros(c.shape[:2] + (length,) + c.shape[3:], np.float32)
        g[:, :, : c.shape[2]] = c
        out.append(g)
    return out


class _Decoder:
    """Incremental decoding through ``decoder_step``: one call of it per position for all live rows.

    Holds, per live row, the cross-attention keys and values of its latent code
    (the rows ``rows`` of the ``decoder_init`` output, default all) and the
    self-attention cache of the tokens fed so far.  The cache starts at
    ``capacity`` positions (default ``min(8, length)``) and doubles, up to
    ``length``, when a step reaches its end; each step writes its new keys and
    values into it in place.
    """

    def __init__(self, rt: "LeeRuntime", ck, cv, rows=None, *, length: int, capacity: int | None = None):
        pick = (lambda c: c) if rows is None else (lambda c: c[rows])
        self.cross_k = [np.ascontiguousarray(pick(ck[i])) for i in range(rt.n_layers)]
        self.cross_v = [np.ascontiguousarray(pick(cv[i])) for i in range(rt.n_layers)]
        self.length = int(length)
        self.capacity = min(8, self.length) if capacity is None else max(1, int(capacity))
        shape = (self.cross_k[0].shape[0], rt.n_heads, self.capacity, rt.head_dim)
        self.cache_k = [np.zeros(shape, np.float32) for _ in range(rt.n_layers)]
        self.cache_v = [np.zeros(shape, np.float32) for _ in range(rt.n_layers)]
        self._session = rt.sessions["decoder_step"]
        self._cross_names, self._cache_names = rt._cross_names, rt._cache_names

    def step(self, token: np.ndarray, pos: int) -> np.ndarray:
        """Feed ``token`` (one per live row) at position ``pos``; returns the next-token logits ``(B, V)``."""
        if pos >= self.capacity:
            self.capacity = min(2 * self.capacity, self.length)
            self.cache_k, self.cache_v = _grown(self.cache_k, self.capacity), _grown(self.cache_v, self.capacity)
        feeds = {"token": token, "pos": np.array(pos, dtype=np.int64)}
        feeds.update(zip(self._cross_names[0], self.cross_k))
        feeds.update(zip(self._cross_names[1], self.cross_v))
        feeds.update(zip(self._cache_names[0], self.cache_k))
        feeds.update(zip(self._cache_names[1], self.cache_v))
        logits, new_k, new_v = self._session.run(None, feeds)
        for i in range(len(self.cache_k)):
            self.cache_k[i][:, :, pos] = new_k[i]
            self.cache_v[i][:, :, pos] = new_v[i]
        return logits

    def keep(self, rows: np.ndarray) -> None:
        """Go on with the live rows ``rows`` only, in that order (a row may be repeated)."""
        self.cross_k = [c[rows] for c in self.cross_k]
        self.cross_v = [c[rows] for c in self.cross_v]
        self.cache_k = [c[rows] for c in self.cache_k]
        self.cache_v = [c[rows] for c in self.cache_v]


class _Frontier:
    """The decoding loop's state, shared by sampling and beam search: the live partial trees and the finished ones.

    Each live row has its tokens so far, its number of open slots, its
    log-probability and its group (the row of z it decodes).  :meth:`scores`
    runs one decoder step under the grammar mask; :meth:`advance` extends the
    chosen rows by the chosen tokens, sets the completed trees aside and goes
    on with the rest.  Sampling and beam search differ only in what they choose.
    """

    def __init__(self, decoder: _Decoder, groups: np.ndarray, n_groups: int, allowed: np.ndarray, max_tokens: int):
        B = len(groups)
        self.decoder, self.allowed, self.max_tokens = decoder, allowed, max_tokens
        self.group = groups
        self.token = np.full(B, vocab.BOS, dtype=np.int64)
        self.open_slots = np.ones(B, dtype=np.int64)
        self.seq = np.zeros((B, max_tokens), dtype=np.int64)
        self.logp = np.zeros(B)
        self.done: list[tuple[int, float, np.ndarray]] = []  # (group, log_prob, tokens), in the order they finished
        self.finished: list[list[tuple[float, np.ndarray]]] = [[] for _ in range(n_groups)]  # per group

    def scores(self, pos: int):
        """One decoder step: ``(logits, log_probs, mask)``, each ``(B, V)``, the logits and
        log-probabilities -inf where a token cannot lead to a complete tree of at most
        ``max_tokens`` tokens (or is not allowed)."""
        logits = self.decoder.step(self.token, pos)
        room = self.max_tokens - pos - self.open_slots  # arity a is allowed when open - 1 + a <= max_tokens - pos - 1
        mask = self.allowed[None, :] & (vocab.ARITY[None, :] <= room[:, None])
        logits = np.where(mask, logits.astype(np.float64), -np.inf)
        return logits, _log_softmax(logits), mask

    def advance(self, pos: int, choices: np.ndarray, lp: np.ndarray, parents: np.ndarray | None = None) -> bool:
        """Extend row ``parents[j]`` (default: every live row once, in order) by token ``choices[j]``
        at position ``pos``, with ``lp`` from :meth:`scores`; False when no row is left to decode."""
        rows = np.arange(len(choices)) if parents is None else parents
        new_open = self.open_slots[rows] + vocab.ARITY[choices] - 1
        new_lp = self.logp[rows] + lp[rows, choices]
        new_seq = self.seq if parents is None else self.seq[rows]
        new_seq[:, pos] = choices
        fin = new_open == 0
        for j in np.flatnonzero(fin):
            g, lp_j, seq_j = int(self.group[rows[j]]), float(new_lp[j]), new_seq[j, : pos + 1].copy()
            self.done.append((g, lp_j, seq_j))
            self.finished[g].append((lp_j, seq_j))
        live = np.flatnonzero(~fin)
        if live.size == 0:
            return False
        if parents is None and live.size == len(choices):  # every row goes on: nothing to select
            self.token, self.open_slots, self.logp, self.seq = choices, new_open, new_lp, new_seq
            return True
        sel = rows[live]
        self.group, self.token, self.open_slots = self.group[sel], choices[live], new_open[live]
        self.logp, self.seq = new_lp[live], new_seq[live]
        self.decoder.keep(sel)
        return True


class LeeRuntime:
    """A loaded LEE export.  Create with :meth:`load`."""

    def __init__(self, model_dir: Path, manifest: dict, sessions: dict, max_points: int = 200, seed: int = 0):
        self.model_dir = model_dir
        self.manifest = manifest
        self.sessions = sessions  # graph name -> onnxruntime session (or anything with its run / get_inputs)
        self.max_points = int(max_points)
        self.seed = int(seed)
        sh = manifest["shapes"]
        self.n_latent, self.d_model = int(sh["n_latent"]), int(sh["d_model"])
        self.n_heads, self.head_dim = int(sh["n_heads"]), int(sh["head_dim"])
        self.n_layers = int(sh["decoder_layers"])
        L = self.n_layers
        self._cross_names = ([f"cross_k_{i}" for i in range(L)], [f"cross_v_{i}" for i in range(L)])
        self._cache_names = ([f"cache_k_{i}" for i in range(L)], [f"cache_v_{i}" for i in range(L)])
        want = {"token", "pos", *self._cross_names[0], *self._cross_names[1], *self._cache_names[0],
                *self._cache_names[1]}
        got = {i.name for i in sessions["decoder_step"].get_inputs()}
        if got != want:
            raise PluginError(f"LEE model: decoder_step inputs {sorted(got)} do not match {L} decoder layers")

    # -- loading -----------------------------------------------------------------
    @classmethod
    def load(cls, model_dir, threads: int = 1, *, max_points: int = 200, seed: int = 0) -> "LeeRuntime":
        """Open an export folder; raises :class:`PluginError` naming the file or manifest entry at fault.

        The manifest is validated (:func:`symdescent_lee.manifest.read_manifest`) and every file it names
        confined to ``model_dir`` before any of them is opened.  Each graph is read once: its bytes are
        hashed and the same bytes are handed to onnxruntime, so the file cannot change in between.
        """
        model_dir = Path(model_dir)
        manifest = read_manifest(model_dir)
        mpath = model_dir / "manifest.json"
        try:
            import onnxruntime as ort
        except ImportError:
            raise PluginError("LEE model: onnxruntime is not installed (pip install onnxruntime)") from None
        hashes = manifest["sha256"]
        graphs = {}
        for name in GRAPHS:
            fname = manifest["graphs"][name]["file"]
            path = model_file(model_dir, fname, f"graphs.{name}.file")
            if not path.is_file():
                raise PluginError(f"LEE model: file {path} listed in {mpath} (graphs.{name}.file) is missing")
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise PluginError(f"LEE model: cannot read {path} (graphs.{name}.file): {exc}") from None
            digest = hashlib.sha256(data).hexdigest()
            if digest != hashes[fname]:
                raise PluginError(
                    f"LEE model: {path} is corrupt or was changed: SHA-256 {digest[:16]}... does not match "
                    f"{hashes[fname][:16]}... in {mpath}; export the model again")
            graphs[name] = path, data
        so = ort.SessionOptions()
        so.intra_op_num_threads = max(1, int(threads))
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        sessions = {}
        for name in GRAPHS:
            spec = manifest["graphs"][name]
            path, data = graphs[name]
            try:
                sess = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own exception types
                raise PluginError(f"LEE model: cannot load ONNX graph {path}: {str(exc).strip()[:300]}") from None
            got = [i.name for i in sess.get_inputs()], [o.name for o in sess.get_outputs()]
            want = [i["name"] for i in spec["inputs"]], [o["name"] for o in spec["outputs"]]
            if got != want:
                raise PluginError(f"LEE model: {path} has inputs/outputs {got}, manifest says {want}")
            sessions[name] = sess
        return cls(model_dir, manifest, sessions, max_points=max_points, seed=seed)

    # -- data --------------------------------------------------------------------
    def _subsample(self, n: int) -> np.ndarray:
        if n <= self.max_points:
            return np.arange(n)
        rng = np.random.default_rng([self.seed, n])
        return np.sort(rng.choice(n, self.max_points, replace=False))

    def prepare(self, X, y) -> Prepared:
        """Validate and subsample ``X`` (n, d), ``y`` (n,) and encode them as in training."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X[:, None]
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if X.ndim != 2 or X.shape[0] != y.shape[0]:
            raise DataError(f"LEE: X must be (n, d) and y (n,); got {X.shape} and {y.shape}")
        n, d = X.shape
        if d < 1 or d > enc.MAX_VARS:
            raise DataError(f"LEE supports 1 to {enc.MAX_VARS} variables, got {d}")
        if n < 2:
            raise DataError(f"LEE needs at least 2 points, got {n}")
        if not (np.isfinite(X).all() and np.isfinite(y).all()):
            raise DataError("LEE: X and y must be finite")
        idx = self._subsample(n)
        Xs, ys = X[idx], y[idx]
        Xp = enc.pad_columns(Xs)[None]
        Ye = ys[None]
        x_mean, x_std = enc.stats(Xp, axis=1)
        y_mean, y_std = enc.stats(Ye, axis=1)
        nv = np.array([d])
        qx = enc.encode_x(Xp, nv, x_mean, x_std)
        base = np.concatenate([qx, enc.encode_y(Ye, y_mean, y_std)], axis=-1)
        return Prepared(Xs, ys, d, base, qx, enc.target_y(Ye, y_mean, y_std), y_mean, y_std)

    def _points(self, prob: Prepared, yhat: np.ndarray | None) -> np.ndarray:
        n = prob.y.shape[0]
        if yhat is None:
            return np.concatenate([prob.base, np.zeros((1, n, enc.CAND_FEATURES), np.float32)], axis=-1)
        yhat = np.atleast_2d(np.asarray(yhat, dtype=np.float64))
        B = yhat.shape[0]
        has = np.isfinite(yhat).all(axis=1)
        cand = enc.encode_candidate(yhat, np.broadcast_to(prob.y[None], (B, n)), prob.y_mean, prob.y_std, has)
        return np.concatenate([np.broadcast_to(prob.base, (B,) + prob.base.shape[1:]), cand], axis=-1)

    def features(self, X, y, yhat=None) -> np.ndarray:
        """Encoder point features ``(B, n', POINT_FEATURES)`` float32, as ``data.assemble`` builds them.

        ``X`` (n, d) and ``y`` (n,) are subsampled to at most ``max_points``
        rows (deterministically); statistics come from those points.  ``yhat``
        — candidate predictions aligned with ``X``, ``(n,)`` or ``(B, n)`` —
        fills the candidate features (a row with a non-finite value counts as
        no candidate); without it ``B`` is 1 and they are zero.
        """
        prob = self.prepare(X, y)
        if yhat is not None:
            yhat = np.atleast_2d(np.asarray(yhat, dtype=np.float64))
            if yhat.shape[1] != np.asarray(y).reshape(-1).shape[0]:
                raise DataError(f"LEE: yhat has {yhat.shape[1]} points, y has {np.asarray(y).size}")
            yhat = yhat[:, self._subsample(yhat.shape[1])]
        return self._points(prob, yhat)

    # -- encoder -------------------------------------------------------------------
    def encode(self, X, y, candidates: Sequence[Expression] | None = None) -> np.ndarray:
        """Latent codes: ``(1, K, d)`` from the data alone, or one row per candidate.

        Each candidate is evaluated on the (subsampled) points and fitted to
        ``y`` by linear scaling, and its tokens are given without root scaling
        (:func:`symdescent.expr.fit.strip_scaling`), as in training.  A
        candidate that evaluates to a non-finite value is encoded as no
        candidate.
        """
        prob = self.prepare(X, y)
        if candidates is None:
            points = self._points(prob, None)
            tokens = np.full((1, 1), vocab.PAD, dtype=np.int64)
            return self._encode(points, tokens)
        candidates = list(candidates)
        if not candidates:
            return np.zeros((0, self.n_latent, self.d_model), np.float32)
        n = prob.y.shape[0]
        yhat = np.full((len(candidates), n), np.nan)
        tokens = np.zeros((len(candidates), vocab.MAX_LEN), dtype=np.int64)
        for i, cand in enumerate(candidates):
            if not isinstance(cand, Expression):
                raise DataError(f"LEE: candidate {i} is a {type(cand).__name__}, not an Expression")
            used = cand.variables
            if used and used[-1] >= prob.n_vars:
                raise DataError(f"LEE: candidate {i} ({cand}) uses x{used[-1]} but X has {prob.n_vars} column(s)")
            f = evaluate_tokens(cand.tokens, cand.constants, prob.X)
            if not np.isfinite(f).all():
                continue
            yhat[i] = enc.scaled_prediction(f, prob.y)
            if not np.isfinite(yhat[i]).all():
                continue
            toks = strip_scaling(cand).tokens
            if any(t not in vocab.INDEX for t in toks):
                raise DataError(f"LEE: candidate {i} ({cand}) has tokens outside the LEE vocabulary")
            tokens[i] = vocab.encode_tokens(toks)
        length = max(1, int((tokens != vocab.PAD).sum(axis=1).max()))
        return self._encode(self._points(prob, yhat), np.ascontiguousarray(tokens[:, :length]))

    def _encode(self, points: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        points = np.ascontiguousarray(points, dtype=np.float32)
        (z,) = self.sessions["encoder"].run(None, {"points": points, "tokens": tokens})
        return z

    # -- grammar -------------------------------------------------------------------
    def _allowed(self, n_vars: int, operators) -> np.ndarray:
        if not 1 <= int(n_vars) <= enc.MAX_VARS:
            raise DataError(f"LEE: n_vars must be 1..{enc.MAX_VARS}, got {n_vars}")
        allowed = np.zeros(vocab.VOCAB_SIZE, dtype=bool)
        allowed[vocab.ARITY >= 0] = True
        allowed[vocab.VAR_ID] = False
        allowed[vocab.VAR_ID[: int(n_vars)]] = True
        if operators is not None:
            keep = set(ops.validate_operator_names(operators))
            # the model's own operators: the core may know operators this model was never trained on
            for name in vocab.TOKENS:
                if ops.arity(name) and name not in keep:
                    allowed[vocab.INDEX[name]] = False
        return allowed

    # -- decoding ------------------------------------------------------------------
    def _cross(self, z: np.ndarray):
        z = np.ascontiguousarray(np.asarray(z, dtype=np.float32).reshape(-1, self.n_latent, self.d_model))
        ck, cv = self.sessions["decoder_init"].run(None, {"z": z})
        return ck, cv

    @staticmethod
    def _proposals(finished) -> list[Proposal]:
        """Unique skeletons from ``(tokens, log_prob, source)`` records, best first (ties: the first found)."""
        best: dict[tuple, Proposal] = {}
        for seq, lp, src in finished:
            toks = tuple(vocab.TOKENS[i] for i in seq)
            old = best.get(toks)
            if old is None or lp > old.log_prob:
                best[toks] = Proposal(Expression(toks), float(lp), int(src))
        return sorted(best.values(), key=lambda p: -p.log_prob)

    def _check_len(self, max_tokens):
        max_tokens = MAX_TOKENS if max_tokens is None else int(max_tokens)
        if not 1 <= max_tokens <= MAX_TOKENS:
            raise DataError(f"LEE: max_tokens must be 1..{MAX_TOKENS}, got {max_tokens}")
        return max_tokens

    def decode_logits(self, z, tokens, *, capacity: int | None = None) -> np.ndarray:
        """Next-token logits ``(B, t, V)`` for ``tokens`` ``(B, t)`` fed one position at a time (teacher forcing).

        Row ``b`` of ``tokens`` is decoded from row ``b`` of ``z`` ((B, K, d))
        by the cached step decoder that :meth:`sample` and :meth:`beam` use,
        without the grammar mask; ``capacity`` is the first length of its
        self-attention cache (default ``min(8, t)``, doubled whenever decoding
        reaches its end).  This is the decoder's full cost for ``t`` tokens: the
        latency experiment times it, and it must equal the training model's
        ``decode_logits``.
        """
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.ndim != 2 or not 1 <= tokens.shape[1] <= vocab.MAX_LEN:
            raise DataError(f"LEE: tokens must be (B, t) with 1 <= t <= {vocab.MAX_LEN}, got {tokens.shape}")
        ck, cv = self._cross(z)
        if ck.shape[1] != tokens.shape[0]:
            raise DataError(f"LEE: {ck.shape[1]} rows of z for {tokens.shape[0]} rows of tokens")
        t = tokens.shape[1]
        dec = _Decoder(self, ck, cv, length=t, capacity=capacity)
        return np.stack([dec.step(np.ascontiguousarray(tokens[:, pos]), pos) for pos in range(t)], axis=1)

    def sample(self, z, n: int, temperature: float = 1.0, rng=None, *, n_vars: int,
               max_tokens: int | None = None, operators: Sequence[str] | None = None) -> list[Proposal]:
        """Sample ``n`` skeletons from every row of ``z`` ((B, K, d) or (K, d)).

        Decoding is grammar-constrained: only complete prefix trees of at most
        ``max_tokens`` tokens over ``x0..x{n_vars-1}`` (and the allowed
        ``operators``, default all) come out.  ``temperature`` <= 0 decodes
        greedily.  Returns the unique skeletons, best log-probability first
        (log-probabilities at temperature 1; a skeleton found from several rows
        keeps its best).  Deterministic given ``rng`` (a numpy Generator or seed).
        """
        rng = np.random.default_rng(rng)
        max_tokens = self._check_len(max_tokens)
        allowed = self._allowed(n_vars, operators)
        ck, cv = self._cross(z)
        nz = ck.shape[1]
        if n <= 0 or nz == 0:
            return []
        src = np.repeat(np.arange(nz), n)
        front = _Frontier(_Decoder(self, ck, cv, src, length=max_tokens), src, nz, allowed, max_tokens)
        for pos in range(max_tokens):
            logits, lp, mask = front.scores(pos)
            if temperature <= 0:
                choice = lp.argmax(axis=1)
            else:
                p = np.exp(_log_softmax(logits / temperature))
                cdf = np.cumsum(p, axis=1)
                u = rng.random(len(cdf)) * cdf[:, -1]
                choice = np.minimum((cdf < u[:, None]).sum(axis=1), vocab.VOCAB_SIZE - 1)
                bad = ~mask[np.arange(len(choice)), choice]  # rounding at the top of the cdf
                if bad.any():
                    choice[bad] = lp[bad].argmax(axis=1)
            if not front.advance(pos, choice, lp):
                break
        return self._proposals((seq, lp, g) for g, lp, seq in front.done)

    def beam(self, z, width: int, *, n_vars: int, max_tokens: int | None = None,
             operators: Sequence[str] | None = None) -> list[Proposal]:
        """Beam search with ``width`` beams per row of ``z``, grammar-constrained like :meth:`sample`.

        Returns, for every row, its ``width`` best complete skeletons, merged
        and unique, best log-probability first (``source`` names the row).
        """
        max_tokens = self._check_len(max_tokens)
        allowed = self._allowed(n_vars, operators)
        ck, cv = self._cross(z)
        nz = ck.shape[1]
        width = int(width)
        if width <= 0 or nz == 0:
            return []
        # start with one live beam per row of z
        front = _Frontier(_Decoder(self, ck, cv, length=max_tokens), np.arange(nz), nz, allowed, max_tokens)
        for pos in range(max_tokens):
            _, lp, _ = front.scores(pos)
            total = front.logp[:, None] + lp  # (B, V)
            parents, choices = [], []
            for g in range(nz):
                rows = np.flatnonzero(front.group == g)
                if rows.size == 0:
                    continue
                fin = front.finished[g]
                if len(fin) >= width:
                    worst = sorted(fin, key=lambda f: -f[0])[width - 1][0]
                    if front.logp[rows].max() <= worst:
                        continue  # no live beam can still enter the top `width`
                flat = total[rows].reshape(-1)
                k = min(width, int(np.isfinite(flat).sum()))
                if k == 0:
                    continue
                top = np.argpartition(-flat, k - 1)[:k]
                top = top[np.argsort(-flat[top], kind="stable")]
                for f in top:
                    parents.append(rows[f // vocab.VOCAB_SIZE])
                    choices.append(f % vocab.VOCAB_SIZE)
            if not parents:
                break
            if not front.advance(pos, np.asarray(choices, dtype=np.int64), lp, parents=np.asarray(parents)):
                break
        return self._proposals((seq, lp, g) for g, fin in enumerate(front.finished)
                               for lp, seq in sorted(fin, key=lambda f: -f[0])[:width])

    # -- evaluation decoder ------------------------------------------------------------
    def _query(self, prob: Prepared, B: int):
        qx = np.ascontiguousarray(np.broadcast_to(prob.qx, (B,) + prob.qx.shape[1:]))
        qy = np.ascontiguousarray(np.broadcast_to(prob.qy, (B, prob.qy.shape[1])))
        return qx, qy

    def predict(self, z, X, y) -> np.ndarray:
        """g_eval's prediction of ``y`` at the (subsampled) points, in the units of ``y``: ``(B, n')``."""
        prob = self.prepare(X, y)
        z = np.ascontiguousarray(np.asarray(z, dtype=np.float32))
        qx, _ = self._query(prob, z.shape[0])
        (ys,) = self.sessions["evaluate"].run(None, {"z": z, "x": qx})
        return ys.astype(np.float64) * prob.y_std + prob.y_mean

    def fit_loss(self, z, X, y, *, n_query: int | None = None) -> np.ndarray:
        """The evaluation decoder's mean squared error (standardised y) for every row of ``z``."""
        loss, _ = self._fit_grad(z, self.prepare(X, y), n_query)
        return loss

    def _fit_grad(self, z, prob: Prepared, n_query: int | None = None):
        z = np.ascontiguousarray(np.asarray(z, dtype=np.float32))
        qx, qy = self._query(prob, z.shape[0])
        n = qy.shape[1]
        if n_query is not None and 0 < int(n_query) < n:
            idx = np.sort(np.random.default_rng([self.seed, n, 1]).choice(n, int(n_query), replace=False))
            qx, qy = np.ascontiguousarray(qx[:, idx]), np.ascontiguousarray(qy[:, idx])
        w = np.ones_like(qy)
        loss, grad = self.sessions["fit_grad"].run(None, {"z": z, "x": qx, "y": qy, "w": w})
        return loss, grad

    def refine_z(self, z, X, y, steps: int = 5, step_size: float = 0.5, *, n_query: int | None = None):
        """Gradient descent on ``z`` against g_eval's fit to the data.

        The query points are the (subsampled) data points with the encoder's
        statistics, as in training; ``n_query`` uses a fixed subset of them
        (the cost of a step is proportional to ``rows of z x query points``).
        Returns ``(z, losses)``: the refined codes and the loss of every row
        before each step, ``(steps, B)``.
        """
        prob = self.prepare(X, y)
        z = np.array(z, dtype=np.float32)
        losses = []
        for _ in range(int(steps)):
            loss, grad = self._fit_grad(z, prob, n_query)
            losses.append(loss)
            z -= np.float32(step_size) * grad
        return z, np.asarray(losses).reshape(int(steps), z.shape[0])
