"""The LEE network in torch (training only; inference runs the ONNX export).

Three parts share one latent ``z`` (``n_latent`` vectors of width ``d_model``):

* encoder ``f_theta(points, tokens) -> z``: a per-point MLP pooled by attention
  into a few set tokens, an optional candidate-expression token encoder, one
  joint attention layer over both, and attention pooling into ``z``;
* expression decoder ``g_expr(z, prefix) -> next-token logits``: a small
  pre-norm transformer decoder that cross-attends to ``z``, with a cached
  step (:meth:`LeeModel.decode_step`) for step-by-step decoding;
* evaluation decoder ``g_eval(z, x) -> y``: an MLP on encoded ``x``,
  conditioned on ``z`` additively and multiplicatively, which grounds ``z`` in
  function values and gives a differentiable data-fit loss in ``z``.

Every module is written with explicit matmuls and additive masks (no boolean
indexing, no nn.MultiheadAttention) so that the dynamo ONNX exporter produces
plain graphs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from symdescent_lee import encoding as enc
from symdescent_lee import vocab

NEG = -1e9


@dataclass(frozen=True)
class ModelConfig:
    d_model: int = 128
    n_heads: int = 4
    n_latent: int = 4
    point_hidden: int = 256
    token_layers: int = 2
    decoder_layers: int = 3
    ff: int = 512
    eval_hidden: int = 256
    z_noise: float = 0.05

    def to_dict(self) -> dict:
        return asdict(self)


class Attention(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.h, self.hd = heads, d // heads
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.o = nn.Linear(d, d)

    def split(self, x):
        B, n, _ = x.shape
        return x.view(B, n, self.h, self.hd).transpose(1, 2)  # (B, h, n, hd)

    def attend(self, q, k, v, mask=None):
        att = q @ k.transpose(-1, -2) / math.sqrt(self.hd)
        if mask is not None:
            att = att + mask
        out = torch.softmax(att, dim=-1) @ v  # (B, h, nq, hd)
        B, _, nq, _ = out.shape
        return self.o(out.transpose(1, 2).reshape(B, nq, self.h * self.hd))

    def forward(self, x, kv, mask=None):
        return self.attend(self.split(self.q(x)), self.split(self.k(kv)), self.split(self.v(kv)), mask)


class Block(nn.Module):
    """Pre-norm attention block: (self or cross) attention, then a feed-forward layer."""

    def __init__(self, d: int, heads: int, ff: int):
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.att = Attention(d, heads)
        self.ff = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Linear(ff, d))

    def forward(self, x, kv=None, mask=None):
        h = self.n1(x)
        x = x + self.att(h, h if kv is None else kv, mask)
        return x + self.ff(self.n2(x))


class Pool(nn.Module):
    """Attention pooling of a set into ``k`` learned seed vectors (Set Transformer's PMA)."""

    def __init__(self, d: int, heads: int, ff: int, k: int):
        super().__init__()
        self.seeds = nn.Parameter(torch.randn(k, d) * 0.1)
        self.nkv = nn.LayerNorm(d)
        self.att = Attention(d, heads)
        self.n2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Linear(ff, d))

    def forward(self, x, mask=None):
        B = x.shape[0]
        s = self.seeds.unsqueeze(0).expand(B, -1, -1)
        s = s + self.att(s, self.nkv(x), mask)
        return s + self.ff(self.n2(s))


class DecoderLayer(nn.Module):
    def __init__(self, d: int, heads: int, ff: int):
        super().__init__()
        self.n1, self.n2, self.n3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.self_att = Attention(d, heads)
        self.cross = Attention(d, heads)
        self.ff = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Linear(ff, d))


class LeeModel(nn.Module):
    def __init__(self, cfg: ModelConfig = ModelConfig()):
        super().__init__()
        self.cfg = cfg
        d, H = cfg.d_model, cfg.n_heads
        # encoder
        self.point_mlp = nn.Sequential(
            nn.Linear(enc.POINT_FEATURES, cfg.point_hidden), nn.GELU(),
            nn.Linear(cfg.point_hidden, cfg.point_hidden), nn.GELU(), nn.Linear(cfg.point_hidden, d),
        )
        self.point_pool = Pool(d, H, cfg.ff, 2 * cfg.n_latent)
        self.tok_emb = nn.Embedding(vocab.VOCAB_SIZE, d)
        self.tok_pos = nn.Parameter(torch.randn(vocab.MAX_LEN, d) * 0.02)
        self.tok_layers = nn.ModuleList([Block(d, H, cfg.ff) for _ in range(cfg.token_layers)])
        self.kind = nn.Parameter(torch.randn(2, d) * 0.02)  # marks set tokens vs expression tokens
        self.joint = Block(d, H, cfg.ff)
        self.z_pool = Pool(d, H, cfg.ff, cfg.n_latent)
        self.z_norm = nn.LayerNorm(d)
        # expression decoder
        self.dec_emb = nn.Embedding(vocab.VOCAB_SIZE, d)
        self.dec_pos = nn.Parameter(torch.randn(vocab.MAX_LEN, d) * 0.02)
        self.dec_layers = nn.ModuleList([DecoderLayer(d, H, cfg.ff) for _ in range(cfg.decoder_layers)])
        self.dec_norm = nn.LayerNorm(d)
        self.dec_out = nn.Linear(d, vocab.VOCAB_SIZE)
        # evaluation decoder
        zdim, E = cfg.n_latent * d, cfg.eval_hidden
        self.ev_x = nn.Linear(enc.X_FEATURES, E)
        self.ev_z = nn.Linear(zdim, E)
        self.ev_h = nn.Linear(E, E)
        self.ev_g = nn.Linear(zdim, E)
        self.ev_h2 = nn.Linear(E, E)
        self.ev_out = nn.Linear(E, 1)

    # -- encoder -------------------------------------------------------------
    def encode(self, points: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """``points`` (B, n, POINT_FEATURES), ``tokens`` (B, L) ids (all PAD: no candidate) -> z (B, K, d)."""
        B = points.shape[0]
        P = self.point_pool(self.point_mlp(points)) + self.kind[0]
        L = tokens.shape[1]
        pad = (tokens == vocab.PAD).to(points.dtype)  # (B, L)
        tmask = (pad * NEG).view(B, 1, 1, L)
        T = self.tok_emb(tokens) + self.tok_pos[:L]
        for layer in self.tok_layers:
            T = layer(T, mask=tmask)
        T = T + self.kind[1]
        joint = torch.cat([P, T], dim=1)
        jmask = torch.cat([torch.zeros(B, P.shape[1], dtype=points.dtype, device=points.device), pad * NEG], dim=1)
        jmask = jmask.view(B, 1, 1, -1)
        joint = self.joint(joint, mask=jmask)
        return self.z_norm(self.z_pool(joint, mask=jmask))

    # -- expression decoder ----------------------------------------------------
    def decode_logits(self, z: torch.Tensor, inp: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits: ``inp`` (B, t) starts with BOS -> (B, t, V)."""
        t = inp.shape[1]
        x = self.dec_emb(inp) + self.dec_pos[:t]
        causal = torch.triu(torch.full((t, t), NEG, device=z.device), diagonal=1)
        for layer in self.dec_layers:
            h = layer.n1(x)
            x = x + layer.self_att(h, h, causal)
            x = x + layer.cross(layer.n2(x), z)
            x = x + layer.ff(layer.n3(x))
        return self.dec_out(self.dec_norm(x))

    # -- cached decoding (inference and export only) -----------------------------
    # What decoder_init.onnx and decoder_step.onnx run.  Cross-attention keys and
    # values are computed once per z by ``cross_kv``.  The self-attention cache is
    # one pair of arrays per layer, ``(B, heads, T, head_dim)``, owned by the
    # caller: the step reads it (slots ``>= pos`` masked), attends to the new key
    # separately and returns only the new keys and values, which the caller writes
    # into slot ``pos`` in place.  Per-layer inputs avoid any slicing copy inside
    # the graph; batch-major rows let the caller drop finished sequences cheaply.

    def cross_kv(self, z: torch.Tensor):
        """Cross-attention keys and values of every decoder layer for ``z`` (B, K, d):
        two tensors ``(layers, B, heads, K, head_dim)``."""
        ks, vs = [], []
        for layer in self.dec_layers:
            ks.append(layer.cross.split(layer.cross.k(z)))
            vs.append(layer.cross.split(layer.cross.v(z)))
        return torch.stack(ks), torch.stack(vs)

    def decode_step(self, token, pos, cross_k, cross_v, cache_k, cache_v):
        """One cached decoding step, equal to row ``pos`` of :meth:`decode_logits`.

        ``token`` (B,) ids at position ``pos`` (a 0-d int64 tensor);
        ``cross_k``, ``cross_v``: sequences of one ``(B, heads, K, head_dim)``
        tensor per layer (the rows of :meth:`cross_kv`); ``cache_k``,
        ``cache_v``: sequences of one ``(B, heads, T, head_dim)`` tensor per
        layer holding the keys/values of positions ``0..pos-1`` (slots ``>= pos``
        are masked, so any ``T >= 1`` works, but they must hold finite values,
        e.g. zeros).  The caches are only read.
        Returns next-token logits ``(B, V)`` and this position's keys and values,
        two tensors ``(layers, B, heads, head_dim)`` to store at slot ``pos``.
        """
        B = token.shape[0]
        H = self.cfg.n_heads
        hd = self.cfg.d_model // H
        scale = 1.0 / math.sqrt(hd)
        T = cache_k[0].shape[2]
        mask = (torch.arange(T, device=token.device) >= pos).to(cache_k[0].dtype) * NEG  # (T,)
        x = self.dec_emb(token) + torch.index_select(self.dec_pos, 0, pos.reshape(1))  # (B, d)
        new_k, new_v = [], []
        for i, layer in enumerate(self.dec_layers):
            att = layer.self_att
            h = layer.n1(x)
            q = att.q(h).view(B, H, 1, hd)
            k = att.k(h).view(B, H, 1, hd)
            v = att.v(h).view(B, H, 1, hd)
            new_k.append(k.view(B, H, hd))
            new_v.append(v.view(B, H, hd))
            s_cache = (q @ cache_k[i].transpose(-1, -2)) * scale + mask  # (B, H, 1, T)
            s_new = (q * k).sum(-1, keepdim=True) * scale  # (B, H, 1, 1)
            p = torch.softmax(torch.cat([s_cache, s_new], dim=-1), dim=-1)  # (B, H, 1, T + 1)
            out = p[..., :T] @ cache_v[i] + p[..., T:] * v  # (B, H, 1, hd)
            x = x + att.o(out.reshape(B, H * hd))
            cr = layer.cross
            q2 = cr.q(layer.n2(x)).view(B, H, 1, hd)
            p2 = torch.softmax((q2 @ cross_k[i].transpose(-1, -2)) * scale, dim=-1)  # (B, H, 1, K)
            x = x + cr.o((p2 @ cross_v[i]).reshape(B, H * hd))
            x = x + layer.ff(layer.n3(x))
        logits = self.dec_out(self.dec_norm(x))
        return logits, torch.stack(new_k), torch.stack(new_v)

    def empty_cache(self, batch: int, length: int = vocab.MAX_LEN, device=None):
        """Zeroed self-attention caches: two lists of one ``(batch, heads, length, head_dim)`` tensor per layer."""
        c = self.cfg
        shape = (batch, c.n_heads, length, c.d_model // c.n_heads)
        return ([torch.zeros(shape, device=device) for _ in range(c.decoder_layers)],
                [torch.zeros(shape, device=device) for _ in range(c.decoder_layers)])

    # -- evaluation decoder ----------------------------------------------------
    def evaluate(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Predict standardised y: ``z`` (B, K, d), ``x`` (B, q, X_FEATURES) -> (B, q)."""
        return self.evaluate_parts(z, x)[0]

    def evaluate_parts(self, z: torch.Tensor, x: torch.Tensor):
        """``evaluate`` and the pre-activations and gate a backward pass needs:
        ``(y, (a1, u, gate, a2, a3))``."""
        zf = z.reshape(z.shape[0], 1, -1)
        a1 = self.ev_x(x) + self.ev_z(zf)
        u = self.ev_h(F.gelu(a1))
        gate = 1 + self.ev_g(zf)
        a2 = u * gate
        a3 = self.ev_h2(F.gelu(a2))
        return self.ev_out(F.gelu(a3)).squeeze(-1), (a1, u, gate, a2, a3)

    def fit_loss(self, z, x, y, weight):
        """Weighted mean squared error of ``g_eval``: ``weight`` (B, q) masks padded points."""
        return weighted_mse(self.evaluate(z, x), y, weight)


def _gelu_grad(a: torch.Tensor) -> torch.Tensor:
    """Derivative of the exact (erf) GELU: ``Phi(a) + a * phi(a)``."""
    return 0.5 * (1.0 + torch.erf(a * (1.0 / math.sqrt(2.0)))) + a * torch.exp(-0.5 * a * a) * (
        1.0 / math.sqrt(2.0 * math.pi))


def weighted_mse(pred, y, weight):
    """Per-row mean of ``weight * (pred - y)**2`` over the points that count."""
    return ((pred - y) ** 2 * weight).sum(-1) / weight.sum(-1).clamp_min(1.0)


def fit_loss_and_grad(model: LeeModel, z, x, y, w):
    """``fit_loss`` and its gradient in ``z`` by a hand-written backward pass.

    The same numbers as autograd (:func:`z_grad_fn`, checked in the tests), as
    plain matmuls and element-wise ops: the exported ``fit_grad`` graph is this
    function, so the export does not depend on tracing autograd (onnxruntime
    runs it about as fast as the make_fx trace it replaced: 140 against 159 ms
    for 5 steps of 16 codes on 200 points, one core).
    """
    pred, (a1, u, gate, a2, a3) = model.evaluate_parts(z, x)
    loss = weighted_mse(pred, y, w)
    # backward: d loss_b / d pred_bq, then through the MLP to z
    dpred = 2.0 * (pred - y) * w / w.sum(-1, keepdim=True).clamp_min(1.0)
    da3 = dpred.unsqueeze(-1) * model.ev_out.weight.reshape(1, 1, -1) * _gelu_grad(a3)
    da2 = torch.matmul(da3, model.ev_h2.weight) * _gelu_grad(a2)
    dgate = (da2 * u).sum(1)
    da1 = torch.matmul(da2 * gate, model.ev_h.weight) * _gelu_grad(a1)
    dzf = torch.matmul(da1.sum(1), model.ev_z.weight) + torch.matmul(dgate, model.ev_g.weight)
    return loss, dzf.reshape(z.shape)


def z_grad_fn(model: LeeModel):
    """``(z, x, y, w) -> (loss (B,), dloss/dz)`` through autograd (the reference for
    :func:`fit_loss_and_grad`)."""

    def fn(z, x, y, w):
        z = z.detach().requires_grad_(True)
        loss = model.fit_loss(z, x, y, w)
        (g,) = torch.autograd.grad(loss.sum(), z)
        return loss.detach(), g

    return fn


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
