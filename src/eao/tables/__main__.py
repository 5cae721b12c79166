"""`python -m eao.tables`: every table of the paper and supplement, paper numbers beside ours.

    python -m eao.tables --config-json '<json>' --out results/tables --evaluations \
        results/evaluate/retrieval/zeroshot/main/youcook2/at_once.json ...

Reads exactly the result JSONs named by --evaluations (rule tables passes its inputs, the
results the tables read under its config); a file no table reads is refused. Writes
<out>/<table>.{md,tex,csv,html} for the 12 tables (eao.tables.paper.TABLES), for your_benchmarks
(every retrieval benchmark given that is not the paper's, eao.tables.yours) and <out>/index.md;
the .html is the table as an HTML page with its notes (for the report).

--config-json is a JSON object (or @path to a file holding one); every key is optional:

    {
      "datasets": ["youcook2", "msrvtt", "crosstask", "mining_youtube"],
          configured benchmarks (config `datasets` keys); absent: all count as configured
      "ablations_run": ["tv", "rope"],
          variants trained and evaluated besides `main` (config `ablations.run`)
      "variants": {"rope": {"model": {"positional": "rope"}}},
          each variant's config overrides, quoted in its row's note
      "pretrain": {"dataset": "howto", "text": "hf", "epochs": 40},
          pretraining settings quoted once in the notes (runtime-only keys left out)
      "finetune_variants": ["main", "tv"]
          variants fine-tuned (config `finetune.variants`); absent: not checked
    }

A cell without our number says why: "dataset <d> not in config datasets", "not run: add <v>
to ablations.run", "not fine-tuned: add <v> to finetune.variants", "no result: <key> (not
among the results given)" (e.g. a long-video strategy this run leaves out), "no result: <path>",
or the fixed reason of a row this pipeline cannot reproduce (Row.cannot).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from eao.errors import ArgumentParser, BadInput, reading, run
from eao.tables.build import Config, build_all, given_results
from eao.tables.write import filled, write_all
from eao.tables.yours import build_yours

log = logging.getLogger("eao.tables")


def parse_config(text: str) -> Config:
    """--config-json's Config; BadInput naming the option or the @file when it is none."""
    source = text[1:] if text.startswith("@") else "--config-json"
    with reading(source):
        text = Path(source).read_text(encoding="utf-8") if text.startswith("@") else text
        data = json.loads(text)
        if not isinstance(data, dict):
            raise BadInput(f"not a JSON object but a {type(data).__name__}", source)
        return Config.from_dict(data)


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="eao tables", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--evaluations", nargs="*", required=True, metavar="JSON", help="the results to read"
    )
    parser.add_argument("--config-json", default="{}", help="JSON object or @file (see above)")
    parser.add_argument("--out", required=True, help="the folder the tables are written to")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = parse_config(args.config_json)
    results = given_results(args.evaluations)
    tables = [*build_all(results, config), build_yours(results, config)]
    write_all(tables, args.out)
    for built in tables:
        have, total = filled(built)
        log.info("%s: ours in %d of %d ★ cells", built.table.name, have, total)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, prog="eao tables"))
