"""`eao`: one command, a subcommand per stage. Each subcommand is the stage's own entry point
(`eao probe ...` is `python -m eao.data.probe ...`), so rules and users call the same code.

A bad input file or argument is one line on stderr and exit status 2 (eao.errors);
`eao --debug CMD ...` (or EAO_DEBUG=1) also prints the traceback."""

from __future__ import annotations

import sys

from eao import checkpoints, doctor, errors, info, own_videos
from eao.data import failures, manifest, probe
from eao.demo import __main__ as demo
from eao.evaluate import localize, retrieval, search
from eao.features import imported
from eao.tables import __main__ as tables
from eao.train import finetune, loop

COMMANDS = {
    "demo-world": (demo.main, "generate the demo world"),
    "manifest": (manifest.main, "build a dataset's manifest and captions tables"),
    "probe": (probe.main, "probe one shard of a manifest"),
    "failures": (failures.main, "gather failures tables"),
    "train": (loop.main, "pretrain the fusion model on feature shards"),
    "import-checkpoint": (checkpoints.main, "convert a released EAO checkpoint to ours"),
    "import-features": (imported.main, "convert EAO's released evaluation features to shards"),
    "finetune": (finetune.main, "fine-tune a pretrained model on a retrieval benchmark"),
    "retrieval": (retrieval.main, "text-to-video retrieval metrics of a model on a benchmark"),
    "localize": (localize.main, "zero-shot step localization on CrossTask / Mining YouTube"),
    "tables": (tables.main, "the paper's tables with our numbers beside them"),
    "index": (own_videos.main, "make a folder of videos searchable: probe, extract, embed, index"),
    "index-shards": (search.index_main, "embed feature shards into an index (rule index)"),
    "search": (search.search_main, "rank an index's windows for a text query"),
    "info": (info.main, "what a Parquet table holds: schema, rows, provenance"),
    "doctor": (doctor.main, "check ffmpeg, packages, GPUs and the config's weights"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = argv[:1] == ["--debug"]
    argv = argv[1:] if debug else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: eao [--debug] COMMAND [--help]\n\ncommands:")
        for name, (_, text) in COMMANDS.items():
            print(f"  {name:<18} {text}")
        if argv and argv[0] in ("-h", "--help"):
            return 0
        what = f"unknown command {argv[0]!r}" if argv else "no command given"
        print(f"eao: error: {what}", file=sys.stderr)
        return errors.EXIT_BAD_INPUT
    command, _ = COMMANDS[argv[0]]
    return errors.run(command, argv[1:], f"eao {argv[0]}", debug=debug or None)


if __name__ == "__main__":
    sys.exit(main())
