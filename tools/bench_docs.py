"""Generate the benchmark tables of BENCHMARKS.md and docs/cluster.md from the bench JSONs.

    python tools/bench_docs.py                      # rewrite the generated regions in place
    python tools/bench_docs.py --collect results/bench   # first copy fresh JSONs in, recost
    python tools/bench_docs.py --check              # exit 1 when a region differs from its JSON
    python tools/bench_docs.py --results DIR --out-dir D  # render from DIR into copies under D

The JSONs the docs come from are committed in bench/results/ (results/ is ignored): each bench
script writes results/bench/<name>.json, and `--collect` (run by `make bench-docs` and at the
end of `make bench`) copies them there and recomputes cost.json from them. A generated region
is the text between `<!-- bench:RENDERER@FILE -->` and `<!-- /bench -->`: RENDERER (a function
of this file) turns bench/results/FILE.json into markdown headed by the run's date, machine,
load average and command; the prose around the regions is hand-written.
tests/test_bench_docs.py regenerates every region from the committed JSONs and fails on any
difference, so a number in a region is always the one its JSON holds.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

# the tables' renderers, beside this file (run as a script or imported by path)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tables import (  # noqa: E402
    EXTRACTION,
    MEASURE,
    RENDERERS,
    SECTION_BASELINE,
    cost,
    provenance,
)

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
DOCS = ["BENCHMARKS.md", "docs/cluster.md"]
REGION = re.compile(r"(<!-- bench:(\w+)@(\w+) -->\n)(.*?)(<!-- /bench -->)", re.S)


# the extraction JSONs bench/cost.py reads rates from (a later one's rate wins)
def render_region(renderer: str, stem: str, results: Path) -> str:
    path = results / f"{stem}.json"
    if not path.exists():
        how = MEASURE.get(stem, "bench/gpu.sh" if stem.endswith("gpu") else "make bench")
        return f"Not measured yet: no `bench/results/{stem}.json` (`{how}` writes it).\n"
    data = json.loads(path.read_text(encoding="utf-8"))
    if renderer == "cost":  # computed, not measured: its own header
        m = data.get("meta", {})
        head = (
            f"Computed {m.get('date', '?')} by `{m.get('command', 'bench/cost.py')}` from the "
            "JSONs in bench/results/.\n\n"
        )
        return head + cost(data)
    # a section with its own baseline (bench/passes.py's decode_only, end_to_end)
    section = data.get(renderer) if isinstance(data.get(renderer), dict) else {}
    baseline = section.get("baseline_is") or SECTION_BASELINE.get(renderer)
    return provenance(data, baseline) + RENDERERS[renderer](data)


def render_doc(text: str, results: Path = RESULTS) -> str:
    """`text` with every generated region rewritten from the JSONs under `results`."""

    def one(m: re.Match) -> str:
        if m[2] not in RENDERERS:
            raise KeyError(f"unknown renderer {m[2]!r} in {m[0].splitlines()[0]}")
        return m[1] + render_region(m[2], m[3], results) + m[5]

    return REGION.sub(one, text)


def regions(text: str) -> list[tuple[str, str]]:
    """(renderer, file) of every generated region of `text`."""
    return [(m[2], m[3]) for m in REGION.finditer(text)]


# ---------------------------------------------------------------------------- collect


def collect(source: Path, results: Path = RESULTS) -> list[str]:
    """Copy the bench JSONs under `source` (not cost.json) into `results`, then recompute
    cost.json from what `results` now holds. Returns the copied names."""
    results.mkdir(parents=True, exist_ok=True)
    copied = []
    for path in sorted(source.glob("*.json")):
        if path.name != "cost.json":
            shutil.copyfile(path, results / path.name)
            copied.append(path.name)
    recost(results)
    return copied


def recost(results: Path) -> None:
    results = results.resolve()
    r = results.relative_to(REPO) if results.is_relative_to(REPO) else results
    cmd = [sys.executable, "bench/cost.py", "--out", f"{r}/cost.json"]
    cmd += ["--extraction", *(f"{r}/{n}.json" for n in EXTRACTION)]
    cmd += [
        "--training",
        *(f"{r}/{n}.json" for n in ("training", "training_paper", "training_gpu")),
    ]
    cmd += ["--word2vec", f"{r}/word2vec.json"]
    subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--collect", type=Path, help="copy this folder's JSONs in first, recost")
    ap.add_argument("--results", type=Path, default=RESULTS, help="the JSONs (bench/results)")
    ap.add_argument("--out-dir", type=Path, help="write the docs under this folder instead")
    ap.add_argument("--check", action="store_true", help="exit 1 when a doc is out of date")
    args = ap.parse_args(argv)
    if args.collect:
        print(f"[bench-docs] collected {collect(args.collect, args.results)}")
    stale = []
    for doc in DOCS:
        text = (REPO / doc).read_text(encoding="utf-8")
        new = render_doc(text, args.results)
        if args.check:
            stale += [doc] if new != text else []
            continue
        out = (args.out_dir or REPO) / doc
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(new, encoding="utf-8")
        print(f"[bench-docs] {out}: {len(regions(text))} regions")
    if stale:
        print(f"[bench-docs] out of date: {stale}; run `make bench-docs`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
