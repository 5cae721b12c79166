"""`eao`: one command, a subcommand per stage. Each subcommand is the stage's own entry point
(`eao probe ...` is `python -m eao.ingest.probe ...`), so rules and users call the same code.

A bad input file or argument is one line on stderr and exit status 2 (eao.errors);
`eao --debug CMD ...` (or EAO_DEBUG=1) also prints the traceback.

Only the chosen subcommand's module is imported (torch takes over a second to import): the
table below names each one's module and function, and `eao --help` lists it without importing
any (tests/test_cli_fast.py)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

from eao import errors

# name -> ("module:function", one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo-world": ("eao.demo.__main__:main", "generate the demo world"),
    "manifest": ("eao.ingest.manifest:main", "build a dataset's manifest and captions tables"),
    "probe": ("eao.ingest.probe:main", "probe one shard of a manifest"),
    "failures": ("eao.ingest.failures:main", "gather failures tables"),
    "extract": (
        "eao.features.extract:main",
        "media features of one probed shard: every backbone from one decode per video",
    ),
    "text": ("eao.features.text:main", "per-token text features of a shard's captions"),
    "word2vec": (
        "eao.backbones.word2vec:main",
        "convert a word2vec file for memory-mapped loading",
    ),
    "train": ("eao.train.loop:main", "pretrain the fusion model on feature shards"),
    "import-checkpoint": ("eao.checkpoints:main", "convert a released EAO checkpoint to ours"),
    "import-features": (
        "eao.features.imported:main",
        "convert EAO's released evaluation features to shards",
    ),
    "finetune": (
        "eao.train.finetune:main",
        "fine-tune a pretrained model on a retrieval benchmark",
    ),
    "retrieval": (
        "eao.evaluate.retrieval:main",
        "text-to-video retrieval metrics of a model on a benchmark",
    ),
    "localize": (
        "eao.evaluate.localize:main",
        "zero-shot step localization on CrossTask / Mining YouTube",
    ),
    "tables": ("eao.tables.__main__:main", "the paper's tables with our numbers beside them"),
    "report": ("eao.report.__main__:main", "the report's figures"),
    "index": (
        "eao.own_videos:main",
        "make a folder of videos searchable: probe, extract, embed, index",
    ),
    "index-shards": (
        "eao.evaluate.search:index_main",
        "embed feature shards into an index (rule index)",
    ),
    "search": ("eao.evaluate.search:search_main", "rank an index's windows for a text query"),
    "serve": ("eao.serve.__main__:main", "search indexes in the browser (page and JSON API)"),
    "info": ("eao.info:main", "what a Parquet table holds: schema, rows, provenance"),
    "doctor": ("eao.doctor:main", "check ffmpeg, packages, GPUs and the config's weights"),
}


def entry_point(name: str) -> Callable[[list[str]], int]:
    """The function behind command `name`, its module imported now."""
    module, _, function = COMMANDS[name][0].partition(":")
    return getattr(importlib.import_module(module), function)


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
    return errors.run(entry_point(argv[0]), argv[1:], f"eao {argv[0]}", debug=debug or None)


if __name__ == "__main__":
    sys.exit(main())
