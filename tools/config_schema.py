"""Rewrite the generated blocks of the config schema from the backbone registry.

    python tools/config_schema.py            # rewrite workflow/schemas/config.schema.yaml
    python tools/config_schema.py --check    # exit 1 when the schema is out of date

The blocks between `# >>> generated: NAME` and `# <<< generated: NAME` (eao.workflow.
schema_blocks) hold each backbone's features.<name> entry, each text encoder's
features.text.<name> entry and the pretrain slots' choices. After adding a backbone module, run
this and then tools/config_docs.py (docs/config.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from eao.io.atomic import write_text_atomic
from eao.workflow.schema_blocks import render

SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when the schema is out of date")
    ap.add_argument("--schema", type=Path, default=SCHEMA)
    args = ap.parse_args(argv)
    text = args.schema.read_text(encoding="utf-8")
    new = render(text)
    if args.check:
        if new != text:
            print(f"{args.schema} is out of date: run python tools/config_schema.py")
            return 1
        return 0
    if new != text:
        write_text_atomic(args.schema, new)
        print(f"wrote {args.schema}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
