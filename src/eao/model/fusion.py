"""The modality-agnostic fusion transformer (docs/model.md) with a packed multi-pass fast path.

The official model calls the transformer once per pass (t, v, a, tv, ta, va: six calls). A pass
concatenates the tokens of its modalities (order text, video, audio), runs the blocks with a key
padding mask and averages each modality's valid output tokens. One call here runs all requested
passes with the same math, sharing the work the official code repeats:

- Padding tokens are dead: they are masked as keys and excluded from the means, so whatever a
  block computes for them never reaches an output. The residual stream therefore holds only the
  valid tokens, packed as (T, W) rows, and every per-token op (LayerNorms, qkv, proj, MLP: all
  the matmul FLOPs) runs on those rows only. Attention alone uses dense (B, heads, N, hd)
  tensors (padding rows zero, masked as keys).
- In the first block a modality's input is the same in every pass that contains it, so LN1 +
  qkv (half of a block's FLOPs at mlp_ratio 1) runs once per unique token; queries of all passes
  are gathered from it and keys/values are the unique tokens.
- All passes go through one `F.scaled_dot_product_attention` call per block; a boolean mask lets
  a query see only valid keys of its own pass, so passes stay independent.
- The masked means of every (pass, modality) group are one `index_add`.

State-dict keys are the official FusionTransformer's: `cls_token` (optional), `masking_token`,
`blocks.i.norm1`, `blocks.i.attn.qkv`, `blocks.i.attn.proj`, `blocks.i.norm2`,
`blocks.i.mlp.fc1/fc2`, and the unused final `norm`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MODALITIES = ("text", "video", "audio")  # fixed concatenation order of a joint pass
ROPE_BASE = 10000.0
CLS = "cls"

Pass = tuple[str, ...]


def rope_tables(pos: Tensor, head_dim: int) -> tuple[Tensor, Tensor]:
    """cos/sin (N, head_dim/2) for integer positions `pos` (N,), RoFormer frequencies."""
    inv_freq = ROPE_BASE ** (-torch.arange(0, head_dim, 2, device=pos.device) / head_dim)
    angles = pos.to(inv_freq.dtype)[:, None] * inv_freq[None, :]
    return angles.cos(), angles.sin()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate (..., N, head_dim) by position: pairs (i, i + head_dim/2), rotate-half layout."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


def _pack(x: Tensor, index: Tensor) -> Tensor:
    """Rows `index` (sorted flat indices) of x (N, W); x itself when every row is kept."""
    return x if len(index) == len(x) else x.index_select(0, index)


def _unpack(x: Tensor, index: Tensor, n: int) -> Tensor:
    """Inverse of `_pack`: (n, W) with x's rows at `index`, zeros elsewhere."""
    return x if len(index) == n else x.new_zeros(n, x.shape[1]).index_copy(0, index, x)


@dataclass
class AttentionPlan:
    """How one block's attention maps packed valid rows to dense sequences and back.

    Keys/values: the block's input rows, scattered to (batch, n_kv) at `kv_index` (flat
    b * n_kv + j). Queries: the same dense sequences, or, with `query_rows`, the dense rows
    gathered by `query_rows` (the first block, whose input tokens are shared by several passes;
    `residual_src` then picks each output row's input row). Outputs: the dense query rows at
    `out_index` (flat b * n_q + r), i.e. the valid ones, packed."""

    batch: int
    n_kv: int
    kv_index: Tensor
    mask: Tensor  # (B, 1, n_q, n_kv) bool, True = may attend
    out_index: Tensor
    query_rows: Tensor | None = None
    residual_src: Tensor | None = None
    rope: tuple[Tensor, Tensor] | None = None  # tables for the n_kv positions


class FusionAttention(nn.Module):
    """Multi-head attention; qkv rows are [q; k; v], each split into consecutive heads; scale
    head_dim**-0.5 (SDPA's default, as timm's)."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, h: Tensor, plan: AttentionPlan) -> Tensor:
        """h: packed normalised rows (T, W) -> attention output of the valid query rows, before
        `proj` (T_out, W)."""
        b, n, w = plan.batch, plan.n_kv, h.shape[1]
        dense = _unpack(self.qkv(h), plan.kv_index, b * n)
        dense = dense.view(b, n, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = dense[0], dense[1], dense[2]
        if plan.rope is not None:
            cos, sin = (t.to(q.dtype) for t in plan.rope)  # keep q, k, v in one dtype (autocast)
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if plan.query_rows is not None:
            q = q.index_select(2, plan.query_rows)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=plan.mask)  # (B, H, n_q, hd)
        return _pack(out.transpose(1, 2).reshape(-1, w), plan.out_index)


class Mlp(nn.Module):
    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.act = nn.GELU()  # exact erf form, as timm's default
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class FusionBlock(nn.Module):
    """Pre-norm ViT block: x + Attn(LN1(x)); x + MLP(LN2(x)); LayerNorm eps 1e-6."""

    def __init__(self, width: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, eps=1e-6)
        self.attn = FusionAttention(width, heads)
        self.norm2 = nn.LayerNorm(width, eps=1e-6)
        self.mlp = Mlp(width, int(width * mlp_ratio))

    def forward(self, x: Tensor, plan: AttentionPlan) -> Tensor:
        """x: packed valid rows (T, W) -> packed valid output rows."""
        attended = self.attn(self.norm1(x), plan)
        if plan.residual_src is not None:
            x = x.index_select(0, plan.residual_src)
        x = x + self.attn.proj(attended)
        return x + self.mlp(self.norm2(x))


@dataclass
class _Layout:
    """Bookkeeping of one multi-pass call. Unique tokens: [cls] + the modalities' tokens in
    text, video, audio order (U per sample). Rows: for each pass, [its cls row] + its
    modalities' tokens in the same order (R per sample). Only valid ones are computed."""

    first: AttentionPlan  # first block: keys = unique tokens, queries = rows
    later: AttentionPlan | None  # later blocks: rows attend to rows of the same pass
    unique_index: Tensor  # (T_u,) flat b * U + u of the valid unique tokens (packed input)
    row_src: Tensor  # (T_r,) packed unique token of each valid row
    groups: list[tuple[int, str]]  # (pass, modality) of each mean group
    group_index: Tensor  # (T_r,) b * G + g of each valid row (mean pooling)
    group_count: Tensor  # (B * G, 1) valid rows per group
    cls_index: Tensor  # (B, P) packed row of each pass's cls token


def _flat(valid: Tensor) -> Tensor:
    return valid.flatten().nonzero().squeeze(1)


def _lookup(index: Tensor, size: int) -> Tensor:
    """Inverse of a flat index: position in the packed tensor, -1 where not packed."""
    lut = torch.full((size,), -1, dtype=torch.long, device=index.device)
    lut[index] = torch.arange(len(index), device=index.device)
    return lut


@dataclass
class _Tokens:
    """The unique tokens of one call, U per sample: [cls] + each modality's, in `names` order."""

    names: list[str]  # [cls] + the modalities
    sizes: list[int]  # tokens per name
    valid: Tensor  # (B, U) bool
    kind: Tensor  # (U,) index into `names` of each token
    pos: Tensor  # (U,) position within its modality (the RoPE position)


def _unique_tokens(masks: dict[str, Tensor], cls: bool) -> _Tokens:
    any_mask = next(iter(masks.values()))
    device, batch = any_mask.device, any_mask.shape[0]
    names = ([CLS] if cls else []) + list(masks)
    sizes = [1 if m == CLS else masks[m].shape[1] for m in names]
    cls_valid = [torch.ones(batch, 1, dtype=torch.bool, device=device)] if cls else []
    valid = torch.cat(cls_valid + [masks[m] for m in masks], 1)
    kind = torch.cat([torch.full((n,), i) for i, n in enumerate(sizes)])
    pos = torch.cat([torch.arange(n) for n in sizes])
    return _Tokens(names, sizes, valid, kind, pos)


@dataclass
class _PassRows:
    """The rows of every pass, pass after pass, R in all: [the pass's cls row] + the tokens of
    its modalities. Static structure (no batch data), on the CPU."""

    token: Tensor  # (R,) the unique token each row starts from
    pass_of: Tensor  # (R,) the pass of each row
    group: list[int]  # (R,) the mean group of each row (a cls row's is never pooled)
    cls_rows: list[int]  # the cls row of each pass
    groups: list[tuple[int, str]]  # (pass, modality) of each mean group
    sees: Tensor  # (P, len(names)) bool: pass p contains name k


def _pass_rows(tokens: _Tokens, passes: list[Pass]) -> _PassRows:
    names, sizes = tokens.names, tokens.sizes
    start = {m: sum(sizes[:i]) for i, m in enumerate(names)}
    rows, row_pass, row_group, cls_rows, groups = [], [], [], [], []
    for p, mods in enumerate(passes):
        for m in [n for n in names if n == CLS or n in mods]:
            if m == CLS:
                cls_rows.append(len(rows))
            else:
                groups.append((p, m))
            n = sizes[names.index(m)]
            rows += range(start[m], start[m] + n)
            row_pass += [p] * n
            row_group += [max(len(groups) - 1, 0)] * n  # cls rows are never mean-pooled
    sees = torch.tensor([[m == CLS or m in mods for m in names] for mods in passes])
    return _PassRows(torch.tensor(rows), torch.tensor(row_pass), row_group, cls_rows, groups, sees)


def _layout(
    masks: dict[str, Tensor], passes: list[Pass], cls: bool, deep: bool, head_dim: int | None
) -> _Layout:
    """masks: modality -> (B, N) valid tokens. deep: plan blocks after the first. head_dim:
    build RoPE tables (None: no RoPE)."""
    tokens = _unique_tokens(masks, cls)
    rows = _pass_rows(tokens, passes)
    device, batch = tokens.valid.device, tokens.valid.shape[0]
    n_u, n_r, n_g = tokens.valid.shape[1], len(rows.token), len(rows.groups)
    row_token = rows.token.to(device)

    # flat indices of the valid tokens / rows, and how they map onto each other
    valid_r = tokens.valid[:, row_token]  # (B, R)
    unique_index, row_index = _flat(tokens.valid), _flat(valid_r)
    b_col = torch.arange(batch, device=device)[:, None]
    row_src = _lookup(unique_index, batch * n_u)[(b_col * n_u + row_token).flatten()]
    row_src = row_src[row_index]
    group_index = (b_col * n_g + torch.tensor(rows.group, device=device)).flatten()[row_index]
    ones = torch.ones(len(group_index), 1, device=device)
    group_count = torch.zeros(batch * n_g, 1, device=device).index_add_(0, group_index, ones)
    cls_index = _lookup(row_index, batch * n_r).view(batch, n_r)[:, rows.cls_rows]

    first = _first_plan(tokens, rows, unique_index, row_index, row_src, head_dim)
    later = _later_plan(tokens, rows, valid_r, row_index, head_dim) if deep else None
    return _Layout(
        first, later, unique_index, row_src, rows.groups, group_index, group_count, cls_index
    )


def _first_plan(
    tokens: _Tokens,
    rows: _PassRows,
    unique_index: Tensor,
    row_index: Tensor,
    row_src: Tensor,
    head_dim: int | None,
) -> AttentionPlan:
    """The first block: a query (row) of pass p sees the valid unique tokens of p's
    modalities; keys/values are the unique tokens, computed once for every pass."""
    device, batch = tokens.valid.device, tokens.valid.shape[0]
    mask = rows.sees[rows.pass_of][:, tokens.kind].to(device)[None] & tokens.valid[:, None, :]
    return AttentionPlan(
        batch=batch,
        n_kv=tokens.valid.shape[1],
        kv_index=unique_index,
        mask=mask.unsqueeze(1),
        out_index=row_index,
        query_rows=rows.token.to(device),
        residual_src=row_src,
        rope=rope_tables(tokens.pos.to(device), head_dim) if head_dim else None,
    )


def _later_plan(
    tokens: _Tokens, rows: _PassRows, valid_r: Tensor, row_index: Tensor, head_dim: int | None
) -> AttentionPlan:
    """The blocks after the first: a row sees the valid rows of its own pass."""
    device = valid_r.device
    same_pass = (rows.pass_of[:, None] == rows.pass_of[None, :]).to(device)
    return AttentionPlan(
        batch=valid_r.shape[0],
        n_kv=valid_r.shape[1],
        kv_index=row_index,
        mask=(same_pass[None] & valid_r[:, None, :]).unsqueeze(1),
        out_index=row_index,
        rope=rope_tables(tokens.pos[rows.token].to(device), head_dim) if head_dim else None,
    )


class FusionTransformer(nn.Module):
    """`depth` FusionBlocks shared by all modalities, a learned masking token (used by the model
    for empty modalities), an optional cls token, and the official (unused) final `norm`."""

    def __init__(
        self,
        width: int,
        depth: int,
        heads: int,
        mlp_ratio: float = 1.0,
        cls_token: bool = False,
        rope: bool = False,
    ):
        super().__init__()
        if rope and (width // heads) % 2:
            raise ValueError("rope needs an even head dim")
        # registration order = official state_dict order: cls_token, masking_token, blocks, norm
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width)) if cls_token else None
        self.masking_token = nn.Parameter(torch.zeros(width))
        self.blocks = nn.Sequential(*(FusionBlock(width, heads, mlp_ratio) for _ in range(depth)))
        self.norm = nn.LayerNorm(width, eps=1e-6)  # never applied (official checkpoints have it)
        self.rope = rope
        self.head_dim = width // heads
        self._init_weights()

    def _init_weights(self) -> None:
        # timm ViT init: tokens and Linear weights trunc-normal std .02 (cut at +-2),
        # biases 0, LayerNorm 1/0.
        nn.init.trunc_normal_(self.masking_token, std=0.02)
        if self.cls_token is not None:
            nn.init.trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(
        self, tokens: dict[str, tuple[Tensor, Tensor]], passes: list[Pass]
    ) -> dict[Pass, dict[str, Tensor]]:
        """Run several passes at once.

        tokens: modality -> (x (B, N_m, W), mask (B, N_m), nonzero = valid); every sample needs
        at least one valid token per modality (the model's masking token ensures that). Values
        at padded positions are never read.
        passes: e.g. [("text",), ("video",), ("text", "video")]; a pass attends over the tokens
        of its modalities only. Returns pass -> {modality: masked mean of its output tokens}
        (B, W), or pass -> {"cls": output cls token} with a cls token.
        """
        names = [m for m in MODALITIES if m in tokens]
        for p in passes:
            if not p or set(p) - set(names):
                raise ValueError(f"pass {p} needs tokens of {p}; given {names}")
        lay = _layout(
            {m: tokens[m][1] != 0 for m in names},
            passes,
            cls=self.cls_token is not None,
            deep=len(self.blocks) > 1,
            head_dim=self.head_dim if self.rope else None,
        )
        xs = [tokens[m][0] for m in names]
        if self.cls_token is not None:
            xs.insert(0, self.cls_token.to(xs[0].dtype).expand(xs[0].shape[0], -1, -1))
        x = _pack(torch.cat(xs, 1).flatten(0, 1), lay.unique_index)  # valid tokens (T_u, W)
        if len(self.blocks) == 0:
            x = x.index_select(0, lay.row_src)
        for i, block in enumerate(self.blocks):
            x = block(x, lay.first if i == 0 else lay.later)
        return self._pool(x, lay, passes)

    def _pool(self, x: Tensor, lay: _Layout, passes: list[Pass]) -> dict[Pass, dict[str, Tensor]]:
        out: dict[Pass, dict[str, Tensor]] = {p: {} for p in passes}
        if self.cls_token is not None:
            for p, idx in zip(passes, lay.cls_index.T, strict=True):
                out[p][CLS] = x.index_select(0, idx)
            return out
        sums = x.new_zeros(lay.group_count.shape[0], x.shape[1]).index_add(0, lay.group_index, x)
        means = (sums / lay.group_count.to(x.dtype)).view(-1, len(lay.groups), x.shape[1])
        for g, (p, m) in enumerate(lay.groups):
            out[passes[p]][m] = means[:, g]
        return out
