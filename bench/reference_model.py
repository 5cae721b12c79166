"""A straightforward Everything-at-Once model: the baseline of the training-speed benchmark and
the oracle of the fast-path tests (tests/test_model.py).

It follows the official code's structure (spec sections 1-2): one fusion-transformer call per
pass (t, v, a, tv, ta, va: six calls per training step), eager attention with an explicit
softmax and -inf key masking, gated units written as GLU over a concatenation, a final projection
call per (pass, modality). fp32. Module names equal `eao.model.EverythingAtOnce`'s, so
`ReferenceModel(cfg).load_state_dict(ours.state_dict())` works for every ModelConfig variant.
Unlike the official code it does not mutate the caller's mask tensors.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from eao.model import ModelConfig


class GatedUnit(nn.Module):
    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.fc = nn.Linear(d_in, d_out)
        self.cg = nn.Module()
        self.cg.fc = nn.Linear(d_out, d_out)

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x)
        return F.glu(torch.cat([y, self.cg.fc(y)], -1), -1)


class Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, (1, 9), stride, (0, 4), bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, (1, 9), 1, (0, 4), bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        residual = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + residual)


class Davenet(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        ch, blocks = cfg.audio_channels, cfg.audio_blocks
        self.batchnorm1 = nn.BatchNorm2d(1)
        self.conv1 = nn.Conv2d(1, ch[0], (cfg.n_mels, 1), bias=False)
        self.bn1 = nn.BatchNorm2d(ch[0])
        for i, n in enumerate(blocks):
            layer = [Block(ch[i], ch[i + 1], 2)]
            layer += [Block(ch[i + 1], ch[i + 1], 1) for _ in range(n - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*layer))
        self.n_layers = len(blocks)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.relu(self.bn1(self.conv1(x.unsqueeze(1))))
        for i in range(self.n_layers):
            x = getattr(self, f"layer{i + 1}")(x)
        return x.squeeze(2)


def rotate(x: Tensor, pos: Tensor) -> Tensor:
    """Rotary embedding (RoFormer, rotate-half pairing) of (B, H, N, hd) at positions (N,)."""
    hd = x.shape[-1]
    freq = 1.0 / 10000.0 ** (torch.arange(0, hd, 2).float() / hd)
    ang = pos.float()[:, None] * freq[None, :]
    cos, sin = torch.cat([ang.cos(), ang.cos()], -1), torch.cat([ang.sin(), ang.sin()], -1)
    rot = torch.cat([-x[..., hd // 2 :], x[..., : hd // 2]], -1)
    return x * cos + rot * sin


class Attention(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: Tensor, mask: Tensor, pos: Tensor | None) -> Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if pos is not None:
            q, k = rotate(q, pos), rotate(k, pos)
        attn = (q @ k.transpose(-2, -1)) * (c // self.heads) ** -0.5
        attn = attn.masked_fill((mask == 0).view(b, 1, 1, n), -math.inf)
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class FusionBlock(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.width, eps=1e-6)
        self.attn = Attention(cfg.width, cfg.heads)
        self.norm2 = nn.LayerNorm(cfg.width, eps=1e-6)
        self.mlp = Mlp(cfg.width, int(cfg.width * cfg.mlp_ratio))

    def forward(self, x: Tensor, mask: Tensor, pos: Tensor | None) -> Tensor:
        x = x + self.attn(self.norm1(x), mask, pos)
        return x + self.mlp(self.norm2(x))


class Fusion(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        w = cfg.width
        self.cls_token = nn.Parameter(torch.zeros(1, 1, w)) if cfg.pooling == "cls" else None
        self.masking_token = nn.Parameter(torch.zeros(w))
        depth = 0 if cfg.fusion == "none" else cfg.depth
        self.blocks = nn.Sequential(*[FusionBlock(cfg) for _ in range(depth)])
        self.norm = nn.LayerNorm(w, eps=1e-6)
        self.rope = cfg.positional == "rope"

    def forward(self, **mods: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
        """mods: modality -> (tokens, float mask), given in text, video, audio order."""
        tokens = torch.cat([x for x, _ in mods.values()], 1)
        mask = torch.cat([m for _, m in mods.values()], 1)
        pos = torch.cat([torch.arange(x.shape[1]) for x, _ in mods.values()])
        offset = 0
        if self.cls_token is not None:
            b = tokens.shape[0]
            tokens = torch.cat([self.cls_token.expand(b, -1, -1), tokens], 1)
            mask = torch.cat([torch.ones(b, 1), mask], 1)
            pos = torch.cat([torch.zeros(1, dtype=torch.long), pos])
            offset = 1
        for block in self.blocks:
            tokens = block(tokens, mask, pos if self.rope else None)
        if self.cls_token is not None:
            return {"cls": tokens[:, 0]}
        out = {}
        for name, (x, m) in mods.items():
            t = tokens[:, offset : offset + x.shape[1]]
            offset += x.shape[1]
            out[name] = (t * m.unsqueeze(2)).sum(1) / m.unsqueeze(2).sum(1)
        return out


def normalize(x: Tensor) -> Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp(min=1e-8)


class ReferenceModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.fusion = Fusion(cfg)
        self.video_norm_layer = nn.LayerNorm(w, eps=1e-6)
        self.text_norm_layer = nn.LayerNorm(w, eps=1e-6)
        self.audio_norm_layer = nn.LayerNorm(w, eps=1e-6)
        self.davenet = Davenet(cfg)
        if cfg.positional == "learned":
            self.video_pos_embed = nn.Parameter(torch.zeros(1, cfg.max_tokens[1], w))
            self.text_pos_embed = nn.Parameter(torch.zeros(1, cfg.max_tokens[0], w))
            self.audio_pos_embed = nn.Parameter(torch.zeros(1, cfg.max_tokens[2], w))
        self.video_token_proj = GatedUnit(cfg.video_dim, w)
        self.text_token_proj = GatedUnit(cfg.text_dim, w)
        self.audio_token_proj = GatedUnit(cfg.audio_channels[-1], w)
        if cfg.individual_projections:
            self.video_proj = GatedUnit(w, cfg.proj_dim)
            self.text_proj = GatedUnit(w, cfg.proj_dim)
            self.audio_proj = GatedUnit(w, cfg.proj_dim)
        else:
            self.proj = GatedUnit(w, cfg.proj_dim)
        if cfg.fusion == "per_modality":
            self.fusion_video = Fusion(cfg)
            self.fusion_audio = Fusion(cfg)

    def extract(self, name: str, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mask = mask.clone()
        if name == "audio":
            x = self.davenet(x).permute(0, 2, 1)
            k = math.ceil(mask.shape[1] / x.shape[1])
            mask = F.max_pool1d(mask.unsqueeze(0), kernel_size=k).squeeze(0)
        x = getattr(self, f"{name}_norm_layer")(getattr(self, f"{name}_token_proj")(x))
        nonempty = mask.sum(-1) != 0
        x = x.clone()
        x[~nonempty, :1] = self.fusion.masking_token
        mask[~nonempty, :1] = 1
        if self.cfg.positional == "learned":
            x = x + getattr(self, f"{name}_pos_embed")[:, : x.shape[1]]
        return x, mask, nonempty

    def forward(self, data: dict[str, Tensor], force_cross_modal: bool = False) -> dict:
        cfg = self.cfg
        names = [m for m in ("text", "video", "audio") if m in data]
        tok, out = {}, {}
        for m in names:
            x, mask, nonempty = self.extract(m, data[m], data[f"{m}_mask"])
            tok[m] = (x, mask)
            out[f"{m}_nonempty_input_mask"] = nonempty
        cls = cfg.pooling == "cls"

        def proj(m: str) -> nn.Module:
            return getattr(self, f"{m}_proj") if cfg.individual_projections else self.proj

        fusions = {m: self.fusion for m in names}
        if cfg.fusion == "per_modality":
            fusions.update(video=getattr(self, "fusion_video", None))
            fusions.update(audio=getattr(self, "fusion_audio", None))
        for m in names:
            res = fusions[m](**{m: tok[m]})
            out[f"{m}_embed"] = proj(m)(res["cls" if cls else m])
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
        if (cfg.cross_modal or force_cross_modal) and cfg.fusion != "per_modality":
            for a, b in pairs:
                res = self.fusion(**{a: tok[a], b: tok[b]})
                key = f"{a[0]}{b[0]}_embed"
                if cls:
                    out[key] = self.proj(res["cls"])
                else:
                    out[key] = (normalize(proj(a)(res[a])) + normalize(proj(b)(res[b]))) / 2
        if force_cross_modal:
            for a, b in pairs:
                e_a, e_b = normalize(out[f"{a}_embed"]), normalize(out[f"{b}_embed"])
                out[f"{a[0]}+{b[0]}_embed"] = (e_a + e_b) / 2
        return out
