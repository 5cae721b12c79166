"""Zero-shot step localisation: CrossTask recall and Mining YouTube recall / IoU / IoD.

Inputs per video are a score matrix S (T windows x K steps, e.g. cosine similarity of each
window's fused `va` embedding with each step text) and a 0/1 ground truth Y (T x K).
EAO released no code for any of this; the protocol follows CrossTask's `dp.pyx` and `train.py`
(DmZhukov/CrossTask) and MCN's `eval_cross.py`.

Everything here is one dynamic programme over the left-to-right chain of 2K+1 states
    bg_0, step_1, bg_1, step_2, ..., step_K, bg_K
(state s: even = background, odd = step (s - 1) // 2). Before the first frame the path is in
bg_0; each frame occupies one state; from frame to frame a path may stay (background always,
steps only when they may last several frames), advance one state, or jump from step_k straight
to step_k+1 (skipping the background in between). It ends in step_K or bg_K.

Short videos (fewer frames than steps, T < K) have no path: they are still scored, with no
prediction at all, so each of their annotated steps is a miss (recall) or a zero (IoU / IoD).
That is what CrossTask's evaluation does: its DP leaves the output all zeros there and
`get_recalls` still counts the video's annotated steps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np


def _chain_decode(cost: np.ndarray, bg_cost: float, steps_repeat: bool) -> np.ndarray | None:
    """Minimum-cost state path of the chain for cost (T, K) (float64; +inf = forbidden).

    Ties are broken as CrossTask's dp.pyx does: among predecessors the first minimum in the
    order stay, previous state, state before that wins; at the end step_K wins over bg_K.
    Returns the state index of every frame, shape (T,), or None when no path exists (T < K:
    every step needs a frame of its own)."""
    n_frames, n_steps = cost.shape
    n_states = 2 * n_steps + 1
    states = np.arange(n_states)
    is_step = states % 2 == 1
    # Cost of being in each state at each frame: the step's column or the background cost.
    state_cost = np.full((n_frames, n_states), bg_cost, dtype=np.float64)
    state_cost[:, is_step] = cost

    inf = np.inf
    best = np.full(n_states, inf)
    best[0] = 0.0  # bg_0 before the first frame
    back = np.zeros((n_frames, n_states), dtype=np.int64)
    for t in range(n_frames):
        stay = best.copy()
        if not steps_repeat:
            stay[is_step] = inf
        from_prev = np.concatenate([[inf], best[:-1]])
        from_skip = np.concatenate([[inf, inf], best[:-2]])
        from_skip[~is_step] = inf  # only a step may be entered by skipping a background
        candidates = np.stack([stay, from_prev, from_skip])
        choice = np.argmin(candidates, axis=0)  # first minimum = the reference's tie order
        back[t] = states - choice
        best = candidates[choice, states] + state_cost[t]

    last_step, last_bg = n_states - 2, n_states - 1
    if not np.isfinite(best[last_step]) and not np.isfinite(best[last_bg]):
        return None
    # At T = K only step_K is reachable (bg_K is +inf), so the identity path is returned
    # whatever the costs: the reference compares against a stale value there instead.
    state = last_bg if best[last_bg] < best[last_step] else last_step
    path = np.empty(n_frames, dtype=np.int64)
    for t in range(n_frames - 1, -1, -1):
        path[t] = state
        state = back[t, state]
    return path


def _check_matrix(name: str, x: np.ndarray) -> None:
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(f"{name} must be (T, K) with K >= 1, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} has non-finite entries")


def crosstask_dp(cost: np.ndarray, bg_cost: float = 0.0) -> np.ndarray:
    """CrossTask's `dp(Y, C, exactly_one=True, bg_cost)`: Y (T, K) uint8 with exactly one 1 per
    step column, steps in order at strictly increasing frames, total cost minimal.

    Written by hand because the reference is a Cython file (`dp.pyx`) that is not on PyPI.
    Equivalent to choosing frames t_1 < ... < t_K minimising sum_k C[t_k, k] (background costs
    bg_cost per frame, constant over paths). The cost is rounded to float32 first because the
    reference only accepts float32 (sums are float64 there and here).

    Short inputs, checked against a build of the reference:
    - T < K: no assignment exists; the result is all zeros, as in the reference (its traceback
      starts from an unreachable state and marks nothing), so the video's steps are misses.
    - T = K: the identity (step k at frame k), the only assignment. The reference returns it
      only when C[T-1, K-1] <= bg_cost and all zeros otherwise (with cost = -S and bg_cost 0:
      when the last similarity is negative), because its end check compares step_K with bg_K,
      unreachable at T = K, whose stored cost is a leftover: the cost up to step_{K-1} plus
      bg_cost. We do not copy that quirk."""
    cost = np.asarray(cost, dtype=np.float32).astype(np.float64)
    _check_matrix("cost", cost)
    path = _chain_decode(cost, float(bg_cost), steps_repeat=False)
    y = np.zeros(cost.shape, dtype=np.uint8)
    if path is None:
        return y
    frames = np.flatnonzero(path % 2 == 1)
    y[frames, (path[frames] - 1) // 2] = 1
    return y


def predict_steps(scores: np.ndarray) -> np.ndarray:
    """One frame per step from similarity scores (T, K): the DP on cost = -scores (no frame at
    all when T < K)."""
    return crosstask_dp(-np.asarray(scores, dtype=np.float32))


def log_softmax(scores: np.ndarray, temperature: float = 1.0, axis: int = 1) -> np.ndarray:
    """log softmax(scores / temperature) along `axis` (MCN uses it over steps for MYT)."""
    z = np.asarray(scores, dtype=np.float64) / temperature
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def step_hits(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[int, int]:
    """(steps with a predicted frame inside their ground truth, steps present in the ground
    truth) for one video. Absent steps are predicted too but count in neither."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"shapes differ: {y_true.shape} vs {y_pred.shape}")
    hits = int(np.count_nonzero(((y_true > 0) & (y_pred > 0)).any(axis=0)))
    present = int(np.count_nonzero((y_true > 0).any(axis=0)))
    return hits, present


def crosstask_recall(videos: Iterable[tuple[str, np.ndarray, np.ndarray]]) -> dict:
    """Recall in percent from (task, y_true, y_pred) per video, in both published forms.

    - pooled (CrossTask's `get_recalls`): per task sum(hits) / sum(present), then the
      unweighted mean over tasks;
    - per_video (MCN's `eval_cross.py`): per video hits / present, mean over the task's
      videos, then mean over tasks.
    Videos without any annotated step are left out of the per-video means (MCN would divide
    0 by 0) and add nothing to the pooled sums; a task with none left is dropped."""
    counts: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for task, y_true, y_pred in videos:
        counts[task].append(step_hits(y_true, y_pred))
    pooled, per_video = {}, {}
    skipped = 0
    for task, pairs in counts.items():
        usable = [(h, p) for h, p in pairs if p > 0]
        skipped += len(pairs) - len(usable)
        if not usable:
            continue
        pooled[task] = 100.0 * sum(h for h, _ in usable) / sum(p for _, p in usable)
        per_video[task] = 100.0 * float(np.mean([h / p for h, p in usable]))
    if not pooled:
        raise ValueError("no video with an annotated step")
    return {
        "recall_pooled": float(np.mean(list(pooled.values()))),
        "recall_per_video": float(np.mean(list(per_video.values()))),
        "per_task_pooled": pooled,
        "per_task_per_video": per_video,
        "videos": sum(len(p) for p in counts.values()),
        "videos_without_steps": skipped,
    }


def mining_recall(videos: Iterable[tuple[np.ndarray, np.ndarray]]) -> dict:
    """Mining YouTube recall from (y_true, y_pred) per video: MCN averages the per-video recall
    over all videos (no per-dish averaging); the pooled value is given as well."""
    result = crosstask_recall(("all", y_true, y_pred) for y_true, y_pred in videos)
    keys = ("recall_pooled", "recall_per_video", "videos", "videos_without_steps")
    return {key: result[key] for key in keys}


def ordered_alignment(log_probs: np.ndarray, bg_log_prob: float | None = None) -> np.ndarray:
    """Frame labels (T,) of the best segmentation that keeps the K entries in order: label k
    for entry k, -1 for background. Maximises the summed log-probabilities.

    Every entry gets one contiguous segment of at least one frame. With `bg_log_prob` None
    there is no background: the K segments tile the video. Otherwise background frames score
    `bg_log_prob` each and may fill any gap before, between or after entries (a gap may also
    be empty). There is no length model: the reference's Poisson model and 20-frame hypothesis
    spacing were tuned for 30 fps frames, ours are 1-s windows.

    T = K gives entry k at frame k. T < K has no such segmentation: every frame is -1, i.e. no
    entry is predicted, so each annotated entry scores IoU = IoD = 0 (the counterpart of the
    misses that recall counts for the same videos)."""
    log_probs = np.asarray(log_probs, dtype=np.float64)
    _check_matrix("log_probs", log_probs)
    bg_cost = np.inf if bg_log_prob is None else -float(bg_log_prob)
    path = _chain_decode(-log_probs, bg_cost, steps_repeat=True)
    if path is None:
        return np.full(log_probs.shape[0], -1, dtype=np.int64)
    return np.where(path % 2 == 1, (path - 1) // 2, -1)


def alignment_overlap(y_true: np.ndarray, labels: np.ndarray) -> tuple[float, float] | None:
    """(IoU, IoD) of one video as fractions, averaged over the entries present in y_true (T, K):
    for entry k, G = frames where y_true[:, k] = 1 and D = frames labelled k; IoU = |G&D| /
    |G|D|, IoD = |G&D| / |D| (0 when D is empty, e.g. a short video with no alignment). None
    when no entry is present.

    Entries are matched by position, since an ordered alignment gives each transcript entry
    exactly one segment (rather than by class, or segment to segment as Lea et al.)."""
    y_true, labels = np.asarray(y_true) > 0, np.asarray(labels)
    if labels.shape != (y_true.shape[0],):
        raise ValueError(f"labels {labels.shape} do not match y_true {y_true.shape}")
    predicted = labels[:, None] == np.arange(y_true.shape[1])[None, :]
    present = y_true.any(axis=0)
    if not present.any():
        return None
    inter = (y_true & predicted).sum(axis=0)[present]
    union = (y_true | predicted).sum(axis=0)[present]
    pred_size = predicted.sum(axis=0)[present]
    iod = np.divide(inter, pred_size, out=np.zeros(inter.shape), where=pred_size > 0)
    return float(np.mean(inter / union)), float(np.mean(iod))


def segmentation_scores(videos: Iterable[tuple[np.ndarray, np.ndarray]]) -> dict:
    """Mean IoU and IoD in percent over videos, from (y_true, labels) per video; videos with no
    annotated entry are left out and counted. A video whose labels are all -1 (a short video
    with no alignment) stays in the mean with 0 for both."""
    scores, skipped = [], 0
    for y_true, labels in videos:
        pair = alignment_overlap(y_true, labels)
        if pair is None:
            skipped += 1
        else:
            scores.append(pair)
    if not scores:
        raise ValueError("no video with an annotated entry")
    iou, iod = np.mean(np.asarray(scores), axis=0)
    return {
        "IoU": 100.0 * float(iou),
        "IoD": 100.0 * float(iod),
        "videos": len(scores),
        "videos_without_steps": skipped,
    }
