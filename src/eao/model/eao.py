"""Everything at Once: gated token projections, a DAVEnet audio CNN, one modality-agnostic
fusion transformer over any subset of text/video/audio tokens, and gated final projections
(docs/model.md; the paper's Sec. 3).

The default `ModelConfig` is the paper's main (tva) model; its state_dict has exactly the 188
keys of docs/model.md, so released checkpoints load strictly (see `eao.checkpoints`).
The variants of the paper's ablations are options of the same config (not copies):

- fusion="none": no transformer blocks (depth 0 keys, 176 entries); embeddings are projections
  of the masked mean of the normalised tokens.
- fusion="per_modality": one transformer per modality: `fusion` (text, also holds the masking
  token for every modality, as the official code), `fusion_video`, `fusion_audio`, registered
  last. Never computes fused pairs (tv/ta/va), like the official TransformerPerModalityModel.
  Our state_dict omits the official's duplicate `fusion_text.*` alias of `fusion.*` (218 keys
  instead of 233); `eao.checkpoints.import_official` drops it.
- cross_modal=False: the training forward computes only t/v/a; force_cross_modal still gives
  tv/ta/va (official fusion_no_comb).
- pooling="cls": a `fusion.cls_token` is prepended to every pass and its output is the pass's
  embedding, projected by one shared `proj` (implies individual_projections=False).
- individual_projections=False: one shared final projection `proj`.
- positional="learned": `text_pos_embed` (1, max_tokens[0], W), `video_pos_embed`,
  `audio_pos_embed` added after the masking-token fix (inputs up to max_tokens long).
- positional="rope": rotary embeddings on q/k in every block, positions counted per modality
  (each modality's tokens start at 0 in every pass; supplement A.6). No extra parameters.
- width/heads/depth/mlp_ratio: fusion size (head dim = width / heads).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from eao.model.davenet import AUDIO_POOLING, ResDavenet, pool_audio_tokens
from eao.model.fusion import CLS, MODALITIES, FusionTransformer
from eao.model.layers import GatedEmbeddingUnit

ABBREV = {"text": "t", "video": "v", "audio": "a"}


@dataclass(frozen=True)
class ModelConfig:
    """Defaults = the paper's main model (configs/pretraining/everything_at_once_tva.yaml)."""

    video_dim: int = 4096
    text_dim: int = 300
    width: int = 4096
    heads: int = 64
    depth: int = 1
    mlp_ratio: float = 1.0
    proj_dim: int = 6144
    audio_channels: tuple[int, ...] = (128, 128, 256, 512, 1024, 2048, 4096)
    audio_blocks: tuple[int, ...] = (2, 2, 1, 1, 1, 1)
    n_mels: int = 40
    fusion: str = "shared"  # "shared" | "per_modality" | "none"
    pooling: str = "mean"  # "mean" | "cls"
    individual_projections: bool = True
    positional: str = "none"  # "none" | "learned" | "rope"
    max_tokens: tuple[int, int, int] = (20, 12, 12)  # text, video, audio; "learned" only
    cross_modal: bool = True
    sync_batchnorm: bool = False

    def __post_init__(self) -> None:
        # Checkpoints store dataclasses.asdict(cfg); tuples may come back as lists.
        for name in ("audio_channels", "audio_blocks", "max_tokens"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        if self.pooling == "cls":  # the cls variant has one shared projection (official)
            object.__setattr__(self, "individual_projections", False)
        if self.fusion == "none":  # no transformer blocks (official depth 0)
            object.__setattr__(self, "depth", 0)
        elif self.depth < 1:
            raise ValueError("depth must be >= 1; no transformer is fusion='none'")
        choices = {
            "fusion": ("shared", "per_modality", "none"),
            "pooling": ("mean", "cls"),
            "positional": ("none", "learned", "rope"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"ModelConfig.{name}={getattr(self, name)!r}; one of {allowed}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not divisible by heads {self.heads}")
        if len(self.audio_channels) != len(self.audio_blocks) + 1:
            raise ValueError("need len(audio_channels) == len(audio_blocks) + 1")
        if len(self.max_tokens) != 3:
            raise ValueError("max_tokens = (text, video, audio)")

    @property
    def head_dim(self) -> int:
        return self.width // self.heads


class EverythingAtOnce(nn.Module):
    """forward(batch, force_cross_modal=False) -> dict of embeddings (see `forward`)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        # Registration order = official state_dict order (docs/model.md).
        self.fusion = self._transformer()
        self.video_norm_layer = nn.LayerNorm(w, eps=1e-6)
        self.text_norm_layer = nn.LayerNorm(w, eps=1e-6)
        self.audio_norm_layer = nn.LayerNorm(w, eps=1e-6)
        self.davenet = ResDavenet(cfg.n_mels, cfg.audio_channels, cfg.audio_blocks)
        if cfg.sync_batchnorm:  # needs an initialised process group in training mode
            self.davenet = nn.SyncBatchNorm.convert_sync_batchnorm(self.davenet)
        if cfg.positional == "learned":
            n_text, n_video, n_audio = cfg.max_tokens
            self.video_pos_embed = nn.Parameter(torch.zeros(1, n_video, w))
            self.text_pos_embed = nn.Parameter(torch.zeros(1, n_text, w))
            self.audio_pos_embed = nn.Parameter(torch.zeros(1, n_audio, w))
            for p in (self.video_pos_embed, self.text_pos_embed, self.audio_pos_embed):
                nn.init.trunc_normal_(p, std=0.02)
        self.video_token_proj = GatedEmbeddingUnit(cfg.video_dim, w)
        self.text_token_proj = GatedEmbeddingUnit(cfg.text_dim, w)
        self.audio_token_proj = GatedEmbeddingUnit(cfg.audio_channels[-1], w)
        if cfg.individual_projections:
            self.video_proj = GatedEmbeddingUnit(w, cfg.proj_dim)
            self.text_proj = GatedEmbeddingUnit(w, cfg.proj_dim)
            self.audio_proj = GatedEmbeddingUnit(w, cfg.proj_dim)
        else:
            self.proj = GatedEmbeddingUnit(w, cfg.proj_dim)
        if cfg.fusion == "per_modality":
            self.fusion_video = self._transformer()
            self.fusion_audio = self._transformer()
        # Modules the official forward never applies stay for the checkpoint layout; frozen, so
        # that DDP does not wait for gradients that never come.
        for p in self._dead_parameters():
            p.requires_grad_(False)
        # Evaluation setting, not architecture (reference `strategy_audio_pooling`): audio tokens
        # pooled to n tokens ("nearest" | "max_pool") for Table 6's long-video strategies.
        self.audio_pooling: tuple[str, int] = ("none", 0)

    def _dead_parameters(self) -> list[nn.Parameter]:
        dead = [*self.fusion.norm.parameters(), *self.davenet.batchnorm1.parameters()]
        if self.cfg.fusion == "per_modality":  # the masking token is always fusion's
            for net in (self.fusion_video, self.fusion_audio):
                dead += [net.masking_token, *net.norm.parameters()]
        return dead

    def _transformer(self) -> FusionTransformer:
        cfg = self.cfg
        return FusionTransformer(
            cfg.width,
            cfg.depth,
            cfg.heads,
            cfg.mlp_ratio,
            cls_token=cfg.pooling == "cls",
            rope=cfg.positional == "rope",
        )

    # ---- tokens -------------------------------------------------------------------------------
    def _raw_tokens(self, m: str, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Projected + normalised tokens (B, N, W) and valid mask (B, N) bool, before the fix.
        Padding tokens are never read downstream (masked as keys, excluded from the means), so
        only valid ones are projected; padded positions are left zero."""
        x, mask = batch[m], batch.get(f"{m}_mask")
        if m == "audio":
            x, mask = self._audio_tokens(x, mask)
        valid = mask != 0 if mask is not None else x.new_ones(x.shape[:2], dtype=torch.bool)
        proj, norm = getattr(self, f"{m}_token_proj"), getattr(self, f"{m}_norm_layer")
        y = norm(proj(x[valid]))
        tokens = y.new_zeros(*valid.shape, y.shape[-1])
        tokens[valid] = y
        return tokens, valid

    def _audio_tokens(self, spec: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor | None]:
        n_frames, per_token = spec.shape[-1], self.davenet.frames_per_token
        if n_frames % per_token:
            raise ValueError(f"audio has {n_frames} frames; need a multiple of {per_token}")
        x = self.davenet(spec).transpose(1, 2)  # (B, F / per_token, C)
        # A token is valid if any of its frames is (official: max-pool with kernel = stride).
        token_mask = None if mask is None else F.max_pool1d(mask.unsqueeze(1), per_token).squeeze(1)
        mode, n_tokens = self.audio_pooling
        if mode == "none":
            return x, token_mask
        if mode not in AUDIO_POOLING:
            raise ValueError(f"unknown audio pooling {mode!r}; expected one of {AUDIO_POOLING}")
        if mask is None:
            valid_frames = torch.full((len(spec),), n_frames, device=spec.device)
        else:
            valid_frames = mask.sum(1)
        return pool_audio_tokens(x, token_mask, valid_frames, n_tokens, mode, per_token)

    def _fill_empty(self, x: Tensor, valid: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Samples with no valid token get the learned masking token at position 0 (docs/model.md).
        Returns new tensors (the caller's are not mutated), valid mask, nonempty (B,)."""
        if x.shape[1] == 0:  # a zero-length sequence: make room for the masking token
            x, valid = x.new_zeros(x.shape[0], 1, x.shape[2]), valid.new_zeros(x.shape[0], 1)
        nonempty = valid.any(1)
        first = torch.zeros_like(valid)
        first[:, 0] = True
        fill = first & ~nonempty[:, None]
        x = torch.where(fill[..., None], self.fusion.masking_token.to(x.dtype), x)
        return x, valid | fill, nonempty

    def _add_position(self, m: str, x: Tensor) -> Tensor:
        pos = getattr(self, f"{m}_pos_embed")
        if x.shape[1] > pos.shape[1]:
            raise ValueError(f"{m} has {x.shape[1]} tokens; learned positions cover {pos.shape[1]}")
        return x + pos[:, : x.shape[1]].to(x.dtype)

    def tokens(self, batch: dict[str, Tensor]) -> dict[str, tuple[Tensor, Tensor, Tensor]]:
        """modality -> (tokens (B, N, W), valid mask (B, N) bool, nonempty (B,) bool), for the
        modalities present in `batch`, in text, video, audio order."""
        out = {}
        for m in MODALITIES:
            if m in batch:
                x, valid, nonempty = self._fill_empty(*self._raw_tokens(m, batch))
                if self.cfg.positional == "learned":
                    x = self._add_position(m, x)
                out[m] = (x, valid, nonempty)
        return out

    # ---- fusion and embeddings ----------------------------------------------------------------
    def _passes(self, present: list[str], cross: bool) -> list[tuple[str, ...]]:
        passes = [(m,) for m in present]
        if cross and self.cfg.fusion != "per_modality":
            passes += list(itertools.combinations(present, 2))  # tv, ta, va; no tva pass
        return passes

    def _fuse(
        self, tokens: dict[str, tuple[Tensor, Tensor]], passes: list[tuple[str, ...]]
    ) -> dict[tuple[str, ...], dict[str, Tensor]]:
        if self.cfg.fusion != "per_modality":
            return self.fusion(tokens, passes)
        nets = {"text": self.fusion, "video": self.fusion_video, "audio": self.fusion_audio}
        return {(m,): nets[m]({m: tokens[m]}, [(m,)])[(m,)] for (m,) in passes}

    def _project(self, pooled: dict[tuple[str, ...], dict[str, Tensor]]) -> dict[tuple, Tensor]:
        """Final projection of every pooled vector; one call per projection module (batched
        over passes) instead of one per (pass, modality)."""
        jobs: dict[nn.Module, list[tuple[tuple, Tensor]]] = {}
        for p, parts in pooled.items():
            for m, v in parts.items():
                shared = m == CLS or not self.cfg.individual_projections
                module = self.proj if shared else getattr(self, f"{m}_proj")
                jobs.setdefault(module, []).append(((p, m), v))
        out = {}
        for module, items in jobs.items():
            ys = module(torch.cat([v for _, v in items])).split([len(v) for _, v in items])
            out.update({key: y for (key, _), y in zip(items, ys, strict=True)})
        return out

    def forward(
        self, batch: dict[str, Tensor], force_cross_modal: bool = False
    ) -> dict[str, Tensor]:
        """batch: any subset of `text` (B, Nt, text_dim), `video` (B, Nv, video_dim), `audio`
        (B, n_mels, F) with masks `<m>_mask` ((B, N) or (B, F), nonzero = valid).

        Returns `<m>_embed` (B, proj_dim), unnormalised; `tv_embed`, `ta_embed`, `va_embed`
        = (n(proj(a from the joint pass)) + n(proj(b from it))) / 2 when cross_modal or
        force_cross_modal; `t+v_embed`, `t+a_embed`, `v+a_embed` = late fusion
        (n(a_embed) + n(b_embed)) / 2 with force_cross_modal; `<m>_nonempty_input_mask` (B,)."""
        toks = self.tokens(batch)
        if not toks:
            raise ValueError("batch has none of 'text', 'video', 'audio'")
        out = {f"{m}_nonempty_input_mask": t[2] for m, t in toks.items()}
        present = list(toks)
        passes = self._passes(present, self.cfg.cross_modal or force_cross_modal)
        proj = self._project(self._fuse({m: t[:2] for m, t in toks.items()}, passes))
        cls = self.cfg.pooling == "cls"
        for m in present:
            out[f"{m}_embed"] = proj[((m,), CLS if cls else m)]
        for a, b in (p for p in passes if len(p) == 2):
            name = f"{ABBREV[a]}{ABBREV[b]}_embed"
            if cls:
                out[name] = proj[((a, b), CLS)]
            else:
                out[name] = (_normalize(proj[((a, b), a)]) + _normalize(proj[((a, b), b)])) / 2
        if force_cross_modal:
            for a, b in itertools.combinations(present, 2):
                late = _normalize(out[f"{a}_embed"]) + _normalize(out[f"{b}_embed"])
                out[f"{ABBREV[a]}+{ABBREV[b]}_embed"] = late / 2
        return out


def _normalize(x: Tensor) -> Tensor:
    return F.normalize(x, dim=-1, eps=1e-8)  # x / max(||x||, 1e-8), as the official code
