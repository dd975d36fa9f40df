"""One Transformer for both paradigms, as in the released code.

Pre-norm blocks with RMSNorm, rotary position embeddings, SwiGLU feed-forward and no biases.
`causal=True` gives the autoregressive model (tied output head); `causal=False` gives the masked
diffusion model: one extra embedding row for [MASK], a timestep embedding (sinusoid of t in [0, 1]
-> Linear with bias -> SiLU) added to every token embedding, and by default an untied output head
over the real vocabulary (the [MASK] class is never predicted, as in the released code). With the
paper's sizes this gives exactly 123,551,232 (AR) and 162,739,968 (MDLM) parameters; the gap is the
untied head and the time MLP, nothing inherent to diffusion. A tied head reuses the embedding's
first `vocab_size` rows (all but [MASK]).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        # Normalise in fp32 for stability under bf16 autocast.
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return xf.type_as(x) * self.weight


def rope_tables(seq_len: int, head_dim: int, base: float, device=None):
    """cos/sin tables of shape (seq_len, head_dim // 2)."""
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(seq_len, device=device, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rope(x, cos, sin):
    """x: (B, H, T, D). Rotates pairs (x[..., :D/2], x[..., D/2:]) by the position's angle."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half].float(), x[..., half:].float()
    out = torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return out.type_as(x)


class Attention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, causal: bool):
        super().__init__()
        self.n_heads = n_heads
        self.causal = causal
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.proj = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x, cos, sin, cache=None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (z.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2) for z in (q, k, v))
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        mask, is_causal = None, self.causal
        if cache is not None:
            # Incremental decoding: append this step's keys/values, attend to everything so far.
            k, v = cache.update(self, k, v)
            S = k.shape[2]
            if self.causal and S > T:
                # New queries sit at the end: query i sees keys up to S - T + i (bottom-right aligned).
                mask = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=S - T)
                is_causal = False
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal)
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))


class FeedForward(nn.Module):
    """SwiGLU: w2(silu(w1 x) * w3 x)."""

    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.w1 = nn.Linear(d_model, d_ff, bias=False)
        self.w3 = nn.Linear(d_model, d_ff, bias=False)
        self.w2 = nn.Linear(d_ff, d_model, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, d_model, n_heads, d_ff, causal):
        super().__init__()
        self.norm1 = RMSNorm(d_model)
        self.attn = Attention(d_model, n_heads, causal)
        self.norm2 = RMSNorm(d_model)
        self.ffn = FeedForward(d_model, d_ff)

    def forward(self, x, cos, sin, cache=None):
        x = x + self.attn(self.norm1(x), cos, sin, cache)
        return x + self.ffn(self.norm2(x))


class KVCache:
    """Keys and values of every layer for incremental AR decoding (batch fixed at creation)."""

    def __init__(self):
        self.store = {}
        self.length = 0  # positions already cached

    def update(self, layer, k, v):
        if layer in self.store:
            pk, pv = self.store[layer]
            k, v = torch.cat([pk, k], dim=2), torch.cat([pv, v], dim=2)
        self.store[layer] = (k, v)
        return k, v


def timestep_embedding(t, dim: int):
    """Sinusoidal embedding of t in [0, 1], unscaled, [sin, cos], as in the released code."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([args.sin(), args.cos()], dim=-1)


class Transformer(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        n_layers: int,
        n_heads: int,
        d_ff: int,
        max_len: int,
        causal: bool,
        tied_head: bool,
        rope_base: float = 10000.0,
    ):
        super().__init__()
        self.causal = causal
        self.vocab_size = vocab_size  # real tokens; MDLM adds [MASK] at index vocab_size
        self.mask_id = None if causal else vocab_size
        n_embed = vocab_size if causal else vocab_size + 1
        self.d_model, self.n_heads, self.max_len = d_model, n_heads, max_len
        self.embed = nn.Embedding(n_embed, d_model)
        self.time_mlp = None if causal else nn.Linear(d_model, d_model, bias=True)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, d_ff, causal) for _ in range(n_layers))
        self.norm = RMSNorm(d_model)
        # Logits over the real vocabulary only; a tied head reads the embedding rows instead.
        self.head = None if tied_head else nn.Linear(d_model, vocab_size, bias=False)
        cos, sin = rope_tables(max_len, d_model // n_heads, rope_base)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init)
        # GPT-2 style: shrink the residual projections with depth.
        for name, p in self.named_parameters():
            if name.endswith("proj.weight") or name.endswith("w2.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * n_layers))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, tokens, t=None, cache: KVCache | None = None, where=None):
        """tokens (B, T) -> logits (B, T, n_out). MDLM needs t (B,) in [0, 1]; AR takes none.
        `where`, a (B, T) boolean mask, returns the logits of those positions only, (M, n_out) in
        `x[where]` order: a sampler that reads a few positions skips the output head elsewhere."""
        B, T = tokens.shape
        start = cache.length if cache is not None else 0
        if start + T > self.max_len:
            raise ValueError(f"sequence of {start + T} tokens exceeds the model's max_len {self.max_len}")
        x = self.embed(tokens)
        if self.causal:
            if t is not None:
                raise ValueError("the autoregressive model takes no timestep")
        else:
            if t is None:
                raise ValueError("the diffusion model needs a timestep t of shape (batch,)")
            x = x + F.silu(self.time_mlp(timestep_embedding(t, self.d_model))).to(x.dtype)[:, None, :]
        cos, sin = self.rope_cos[start : start + T], self.rope_sin[start : start + T]
        for block in self.blocks:
            x = block(x, cos, sin, cache)
        if cache is not None:
            cache.length += T
        x = self.norm(x)
        if where is not None:
            x = x[where]
        if self.head is None:
            return F.linear(x, self.embed.weight[: self.vocab_size])
        return self.head(x)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())  # tied weights counted once


def build_model(config, paradigm: str, vocab_size: int | None = None) -> Transformer:
    """`paradigm` is "ar" or "mdlm". `vocab_size` defaults to the config's (GPT-2's 50,257)."""
    if paradigm not in ("ar", "mdlm"):
        raise ValueError(f"paradigm must be 'ar' or 'mdlm', got {paradigm!r}")
    causal = paradigm == "ar"
    return Transformer(
        vocab_size=vocab_size or config.vocab_size,
        d_model=config.d_model,
        n_layers=config.n_layers,
        n_heads=config.n_heads,
        d_ff=config.d_ff,
        max_len=max(config.seq_len, config.sample_length),
        causal=causal,
        tied_head=causal or config.mdlm_tied_head,
        rope_base=config.rope_base,
    )


def param_counts(config, vocab_size: int | None = None) -> dict:
    """Parameter counts of every model variant (at `vocab_size`, default config.vocab_size), built on the
    meta device (no memory used)."""
    v = vocab_size or config.vocab_size
    with torch.device("meta"):
        return {
            "ar": build_model(config, "ar", vocab_size=v).n_params(),
            "mdlm": build_model(config, "mdlm", vocab_size=v).n_params(),
            "mdlm_tied": build_model(config.replace(mdlm_tied_head=True), "mdlm", vocab_size=v).n_params(),
        }
