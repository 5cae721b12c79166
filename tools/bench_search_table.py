"""BENCHMARKS.md's search table (bench/search.py's JSON), beside tools/bench_tables.py's."""

from __future__ import annotations


def _n(x: float | None, digits: int = 3) -> str:
    from bench_tables import num  # imported late: bench_tables imports this module

    return num(x, digits)


def _row(size: dict, side: str, dtypes: list[str]) -> list[str]:
    s = size[side]
    base = size["exact"]
    speed = "1×"
    if side == "ann":  # against ExactSearch in memory; else against the chunked float16 scan
        ratio = f"{_n(base['p50_ms'] / s['p50_ms'])}×"
        speed = f"**{ratio}**" if base["how"] == "float32 in memory" else f"{ratio} (vs the scan)"
    recall = _n(s["recall_at_k"]) if side == "ann" else "1 (reference)"
    memory = (
        f"{_n(s['index_mb'])} MB index + {_n(s['vectors_file_mb'])} MB float16 file (mapped)"
        if side == "ann"
        else f"{_n(s['memory_mb'])} MB ({s['how']}; {s['queries_timed']} queries timed)"
    )
    e2e = [f"{_n(s['end_to_end'][d]['p95_ms'])}" for d in dtypes]
    return [
        f"{size['windows']:,}",
        "approximate (ours)" if side == "ann" else "exact (baseline)",
        _n(s["p50_ms"]),
        _n(s["p95_ms"]),
        speed,
        *e2e,
        recall,
        memory,
    ]


def search(d: dict) -> str:
    dtypes = [k for k in ("float32", "bfloat16") if k in d["text"]]
    rows = [_row(size, side, dtypes) for size in d["sizes"] for side in ("exact", "ann")]
    header = ["windows", "search", "p50 (ms)", "p95 (ms)", "p50 vs exact"]
    header += [f"p95 with {t} text (ms)" for t in dtypes]
    header += [f"recall@{d['k']}", "memory"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    syn = d["synthetic"]
    text = "; ".join(
        f"{t}: p50 {_n(d['text'][t]['p50_ms'])} ms, p95 {_n(d['text'][t]['p95_ms'])} ms"
        for t in dtypes
    )
    ann = d["sizes"][-1]["ann"]
    settings = ", ".join(f"{k} {v}" for k, v in ann["settings"].items())
    head = (
        f"{d['queries']} queries, one at a time, top {d['k']}; synthetic {syn['dim']}-d "
        f"embeddings ({syn['clusters']} topics in a {syn['latent']}-d latent space, noise "
        f"{syn['noise']} per dimension). Approximate index at {d['sizes'][-1]['windows']:,} "
        f"windows: {settings}; built in {_n(ann['build_s'])} s.\n\n"
        f"Text side of a query (the demo's text encoder and the model's text branch at the "
        f"paper's width): {text}; a bfloat16 query's embedding has cosine "
        f"≥ {d['text'].get('bfloat16_cosine_min', float('nan')):.6f} with the float32 one.\n\n"
    )
    start = d["startup"]
    foot = (
        f"\n`eao search` start-up (a fresh process, one query; {start['windows']:,} windows, "
        f"{start['model']}): exact {_n(start['exact']['s_median'])} s, approximate "
        f"{_n(start['ann']['s_median'])} s (median of {len(start['exact']['s_runs'])}).\n"
    )
    return head + "\n".join(lines) + "\n" + foot
