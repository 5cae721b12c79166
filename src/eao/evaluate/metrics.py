"""Retrieval metrics of the released code (`metric.py`, `trainer.eval`; docs/model.md).

A similarity matrix has queries as rows and gallery items as columns, the match of row i is
column i. Ties are averaged: the rank of a row is the mean of every sorted position whose score
equals the diagonal exactly, so a tie for first place gives rank 0.5 and misses R@1. R@K is
divided by the complete test-set size (clips missing from our features count as failures),
while MedR and MeanR are taken over the rows actually evaluated.
"""

from __future__ import annotations

import numpy as np
import torch

# The metric list of the released train config (inherited by test.py), in its order.
METRIC_TASKS: tuple[str, ...] = (
    *("t2v", "v2t", "t2a", "a2t", "v2a", "a2v"),  # one modality to another
    *("t2va", "va2t", "v2ta", "ta2v", "a2tv", "tv2a"),  # to / from the fused other two
    *("t2v+a", "v+a2t", "v2t+a", "t+a2v", "a2t+v", "t+v2a"),  # the other two late-fused
)

RECALL_KS = (1, 5, 10, 50)
QUERY_TYPES = ("text", "video", "audio")
_SHORT = {"text": "t", "video": "v", "audio": "a"}


def diagonal_ranks(sim: np.ndarray) -> np.ndarray:
    """0-based rank of each row's diagonal entry in that row sorted descending, ties averaged.

    The tied positions run from #(strictly larger) to #(strictly larger) + #(equal) - 1, so
    their mean is larger + (equal - 1) / 2 (exact in float64: half-integers)."""
    sim = np.asarray(sim)
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1]:
        raise ValueError(f"need a square similarity matrix, got shape {sim.shape}")
    diag = np.diagonal(sim)
    if not np.all(np.isfinite(diag)):
        # The reference silently drops such rows; a NaN embedding is a bug worth stopping on.
        raise ValueError("similarity matrix has non-finite diagonal entries")
    diag = diag[:, None]
    larger = np.count_nonzero(sim > diag, axis=1)
    equal = np.count_nonzero(sim == diag, axis=1)  # includes the diagonal itself
    return larger + (equal - 1) / 2.0


def geometric_mean(values: list[float]) -> float:
    """exp(mean(log x)) as scipy's gmean computes it; 0 when any value is 0."""
    with np.errstate(divide="ignore"):
        return float(np.exp(np.mean(np.log(np.asarray(values, dtype=np.float64)))))


def ranks_to_metrics(ranks: np.ndarray, complete_size: int | None = None) -> dict[str, float]:
    """R1/R5/R10/R50 in percent of `complete_size` (default: number of ranks), MedR, MeanR."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if ranks.size == 0:
        raise ValueError("no ranks to summarise")
    n = ranks.size if complete_size is None else int(complete_size)
    if n < ranks.size:
        raise ValueError(f"complete_size {n} is smaller than the {ranks.size} evaluated rows")
    metrics: dict[str, float] = {}
    for k in RECALL_KS:
        # R1 counts rank == 0 exactly (a tied first place, rank 0.5, is a miss), as the
        # reference does; for K >= 5 the reference's rank < K is used.
        hits = np.count_nonzero(ranks == 0) if k == 1 else np.count_nonzero(ranks < k)
        metrics[f"R{k}"] = 100.0 * int(hits) / n
    metrics["MedR"] = float(np.median(ranks)) + 1.0
    metrics["MeanR"] = float(np.mean(ranks)) + 1.0
    metrics["geometric_mean_R1-R5-R10"] = geometric_mean(
        [metrics["R1"], metrics["R5"], metrics["R10"]]
    )
    return metrics


def retrieval_metrics(sim: np.ndarray, complete_size: int | None = None) -> dict[str, float]:
    """Metrics of a square query x gallery matrix with the matches on the diagonal."""
    return ranks_to_metrics(diagonal_ranks(sim), complete_size)


def chance_metrics(n: int, complete_size: int | None = None) -> dict[str, float]:
    """What a random ranking of n items scores on average, to print next to real results.

    A random rank is uniform on 0..n-1, so E[#(rank < K)] = min(K, n) over n rows; MedR and
    MeanR are the median and mean of that distribution plus one, (n + 1) / 2. The geometric
    mean is taken of the expected recalls (not the expectation of the geometric mean)."""
    if n < 1:
        raise ValueError("need at least one item")
    total = n if complete_size is None else int(complete_size)
    if total < n:
        raise ValueError(f"complete_size {total} is smaller than n = {n}")
    metrics = {f"R{k}": 100.0 * min(k, n) / total for k in RECALL_KS}
    metrics["MedR"] = metrics["MeanR"] = (n + 1) / 2.0
    metrics["geometric_mean_R1-R5-R10"] = geometric_mean(
        [metrics["R1"], metrics["R5"], metrics["R10"]]
    )
    return metrics


def _short_name(key: str) -> str:
    """'text_embed' -> 't', 'tv_embed' -> 'tv', 't+v_embed' -> 't+v' (the reference's names)."""
    name = key.removesuffix("_embed")
    for long, short in _SHORT.items():
        name = name.replace(long, short)
    return name


def normalise_rows(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Each row divided by max(norm, eps), as the reference's `sim_matrix` does."""
    return x / torch.clamp(x.norm(dim=1, keepdim=True), min=eps)


def cosine_similarity(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Rows of a against rows of b: the operations of the reference's `sim_matrix`, in the
    same order, so near-ties break the same way."""
    return normalise_rows(a, eps) @ normalise_rows(b, eps).t()


def similarity_tasks(out: dict[str, np.ndarray | torch.Tensor]) -> dict[str, np.ndarray]:
    """Cosine matrices 'q2e' for each query type q (text, video, audio) present and each other
    `<e>_embed` of `out` whose name lacks q's letter, skipping a pair whose reverse exists.

    With all nine embeddings this gives t2v, t2a, t2va, t2v+a, v2a, v2ta, v2t+a, a2tv, a2t+v in
    that order. Rows with an empty modality are kept, as in the reference (it drops
    nothing; only the loss looks at the non-empty masks)."""
    # Normalised once per embedding type rather than once per pair: the same numbers.
    embeds = {
        _short_name(key): normalise_rows(torch.as_tensor(value).detach().cpu())
        for key, value in out.items()
        if key.endswith("_embed")
    }
    sims: dict[str, np.ndarray] = {}
    for query in QUERY_TYPES:
        q = _SHORT[query]
        if q not in embeds:
            continue
        for e, gallery in embeds.items():
            if q in e or f"{e}2{q}" in sims:
                continue
            sims[f"{q}2{e}"] = (embeds[q] @ gallery.t()).numpy()
    return sims


def reverse_task(name: str) -> str:
    """'va2t' -> 't2va'."""
    query, gallery = name.split("2")
    return f"{gallery}2{query}"


def metrics_for_tasks(
    sims: dict[str, np.ndarray],
    names: tuple[str, ...] | list[str] = METRIC_TASKS,
    complete_size: int | None = None,
) -> dict[str, dict[str, float]]:
    """retrieval_metrics for each task name whose matrix, or its reverse (transposed), exists."""
    results: dict[str, dict[str, float]] = {}
    for name in names:
        if name in sims:
            sim = sims[name]
        elif reverse_task(name) in sims:
            sim = sims[reverse_task(name)].T
        else:
            continue
        results[name] = retrieval_metrics(sim, complete_size)
    return results
