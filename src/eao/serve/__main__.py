"""`eao serve INDEX... [--host 127.0.0.1] [--port 8000]`: search indexes in the browser.

Loads each index, its model and its text encoder once, then serves the page, the JSON API and
the indexes' videos (eao.serve.app) with uvicorn until interrupted. Only this machine can
connect unless --host says otherwise. Run it in the folder the workflow ran in: an index lists
its videos relative to it.
"""

from __future__ import annotations

import os
import socket
import sys

from eao.devices import resolve_device
from eao.errors import ArgumentParser, BadInput, run


def port_free(host: str, port: int) -> None:
    """BadInput when the address cannot be bound (uvicorn would log it and exit 1)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
        except OSError as e:
            raise BadInput(f"cannot listen there: {e.strerror}", f"{host}:{port}") from None


def parser() -> ArgumentParser:
    ap = ArgumentParser(prog="eao serve", description=__doc__.split("\n")[0])
    ap.add_argument("index", nargs="+", help="indexes written by the `index` rule")
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (default: local)")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--device", default="auto")
    ap.add_argument(
        "--video-root",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder the index's videos may be links into (repeatable); without it a listed "
        "video must be a file inside the folder the index lists it in",
    )
    ap.add_argument("--tokenizer", help="CLIP text with random weights: its tokenizer folder")
    ap.add_argument(
        "--query-dtype",
        choices=["float32", "bfloat16"],
        default="float32",
        help="precision of the model's text branch for queries; bfloat16 reads half the "
        "weights per query (BENCHMARKS.md: search latency)",
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    if not 0 < args.port < 65536:
        ap.error(f"--port must be between 1 and 65535, not {args.port}")
    port_free(args.host, args.port)
    import uvicorn

    from eao.serve.app import create_app
    from eao.serve.catalog import missing_videos, open_served

    device = resolve_device(args.device)
    served = open_served(args.index, device, args.tokenizer, args.query_dtype, args.video_root)
    for s in served.values():
        d = s.describe()
        print(f"{d['name']}: {d['windows']} windows, {d['search']} search, model {d['model']}")
        if missing := missing_videos(s):  # paths are relative to the workflow's folder
            print(
                f"{d['name']}: {missing} of {d['videos']} videos not found from {os.getcwd()} "
                "(run eao serve in the folder the workflow ran in)"
            )
    print(f"eao serve: http://{args.host}:{args.port}/", flush=True)
    uvicorn.run(create_app(served), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(run(main, prog="eao serve"))
