"""Text queries embedded as the index's model embeds captions: the text encoder named in the
index's footer (encoder, weights, seed) is built once, then each query goes through it and the
model's text branch. `eao search` embeds one query per process; `eao serve` keeps one
QueryEncoder for all its requests, so a query costs the encoder and the text branch only.
"""

from __future__ import annotations

import threading

import numpy as np
import torch

from eao.data.tokens import text_tokens
from eao.errors import BadInput

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


class QueryEncoder:
    """Texts -> (n, proj_dim) L2-normalised embeddings of `model`, for an index's footer."""

    def __init__(
        self,
        meta: dict[str, str],
        model: torch.nn.Module,
        device: str,
        tokenizer: str | None,
        dtype: str = "float32",
    ):
        from eao.backbones.registry import text_encoder

        settings = {"weights": meta["text_weights"], "seed": int(meta["text_seed"])}
        self.encoder = text_encoder(meta["text_encoder"]).build(
            {**settings, "tokenizer": tokenizer}, device
        )
        # bfloat16 reads half the weights per query: the paper-width text branch is ~660 MB
        # of float32, and one query is a matrix-vector product bound by memory bandwidth
        self.dtype = DTYPES[dtype]
        self.model, self.device = model.to(self.dtype), device
        self.max_words = int(meta["max_words"])
        self.lock = threading.Lock()  # a server's threads share one encoder and model

    def _text_embeddings(self, batch: dict[str, torch.Tensor]) -> np.ndarray:
        """The model's text branch in eval mode, 64 texts at a time (no progress line: a
        server embeds one query per request)."""
        self.model.eval()
        parts = []
        with torch.no_grad():
            for at in range(0, len(batch["text"]), 64):
                sub = {k: v[at : at + 64].to(self.device) for k, v in batch.items()}
                out = self.model(sub, force_cross_modal=True)["text_embed"].float().cpu()
                parts.append(torch.nn.functional.normalize(out, dim=-1))
        return torch.cat(parts).numpy()

    def _encode(self, queries: list[str], at: int) -> list:
        return self.encoder.encode(queries[at : at + 256])  # the extractor's chunk of texts

    def embed(self, queries: list[str], skip_unknown: bool = False) -> np.ndarray:
        """A query with no word the encoder knows is an error naming it, or with skip_unknown
        a row of NaN (so a caption list can be measured as a whole)."""
        with self.lock:
            encoded = [e for at in range(0, len(queries), 256) for e in self._encode(queries, at)]
            tokens, masks, known = [], [], []
            for i, (query, (words, feats)) in enumerate(zip(queries, encoded, strict=True)):
                if not words:
                    if skip_unknown:
                        continue
                    raise BadInput("no word the text encoder knows", f"query {query!r}")
                t, mask = text_tokens([feats], self.max_words, self.encoder.dim)
                tokens.append(t)
                masks.append(mask)
                known.append(i)
            result = np.full((len(queries), self.model.cfg.proj_dim), np.nan, np.float32)
            if known:
                batch = {
                    "text": torch.from_numpy(np.stack(tokens)).to(self.dtype),
                    "text_mask": torch.from_numpy(np.stack(masks)),
                }
                result[known] = self._text_embeddings(batch)
            return result
