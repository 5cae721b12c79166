"""`eao doctor [--config config.yaml]`: is this machine ready to run the workflow?

Checks ffmpeg and ffprobe, the Python packages against every pin of the installed `eao`
distribution (importlib.metadata, dependencies and extras), the GPUs torch sees, and every
weights file or name the config refers to; says what is missing and how to get it.
Exit code 0 when nothing required is missing, 1 otherwise (random weights and no GPU are
warnings: the workflow runs, and says so); 2 when the config given is not a config file."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from eao.backbones.registry import backbones
from eao.errors import ArgumentParser, run
from eao.io.config import read_config

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


REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;]*)(?:;(.*))?$")
EXTRA = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")


def pins(distribution: str = "eao") -> list[tuple[str, str, str | None]]:
    """(name, pinned version, extra or None) of every `name==version` requirement of the
    installed distribution (its metadata: pyproject.toml as of the last `pip install`)."""
    found = []
    for requirement in importlib.metadata.requires(distribution) or []:
        match = REQUIREMENT.match(requirement)
        if match is None:
            continue
        name, spec, marker = match.groups()
        spec = spec.strip()
        if not spec.startswith("==") or "," in spec:
            continue  # a range is not a pin
        extra = EXTRA.search(marker or "")
        found.append((name, spec[2:].strip(), extra.group(1) if extra else None))
    return found


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def stale(pyproject: Path, distribution: str = "eao") -> bool:
    """Whether pyproject.toml's requirements differ from the installed distribution's (edited
    since the last `pip install`); False when it cannot tell (no file, Python 3.10)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        return False
    if not pyproject.is_file():
        return False
    project = tomllib.loads(pyproject.read_text()).get("project", {})
    if project.get("name") != distribution:
        return False
    listed = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        listed += extra
    installed = importlib.metadata.requires(distribution) or []

    def plain(requirements: list[str]) -> set[str]:  # without markers and spaces
        return {re.sub(r"\s+", "", r.split(";")[0]).lower() for r in requirements}

    return plain(listed) != plain(installed)


def check_packages(
    report: Report, distribution: str = "eao", pyproject: Path | None = None
) -> None:
    """Every pinned requirement of `distribution` against the installed version: a missing
    dependency is missing, a missing optional one (an extra: dev, slurm) only noted, and a
    different version a warning."""
    print("python packages")
    try:
        pinned = pins(distribution)
    except importlib.metadata.PackageNotFoundError:
        report.fail(f"{distribution} is not installed; run `make setup` (or pip install -e .)")
        return
    if pyproject is not None and stale(pyproject, distribution):
        report.warn(
            f"{pyproject} lists other requirements than the installed {distribution}: "
            "run `make setup` (or pip install -e '.[dev]') to install them"
        )
    seen: set[str] = set()
    for name, want, extra in pinned:
        if canonical(name) in seen:
            continue  # one package in two extras
        seen.add(canonical(name))
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            if extra is None:
                report.fail(f"{name} is not installed; run `make setup` (or pip install -e .)")
            else:
                report.ok(f"{name} not installed (only the [{extra}] extra pins it: {want})")
            continue
        if version != want:
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
        report.warn(
            f"no GPU visible to torch {torch.__version__}: everything runs on CPU "
            f"({os.cpu_count()} cores), slowly at HowTo100M scale"
        )


def _on_by_default(key: str) -> bool:
    """features.<backbone>: one of the paper's backbones (a text encoder is off by default)."""
    name = key.removeprefix("features.")
    return name in backbones() and backbones()[name].paper


def check_weights(report: Report, config: dict) -> None:
    print("weights in the config")
    features = config.get("features", {})
    specs = [(f"features.{k}", v) for k, v in features.items() if k != "text"]
    specs += [(f"features.text.{k}", v) for k, v in features.get("text", {}).items()]
    for key, spec in specs:
        if not isinstance(spec, dict) or not spec.get("enabled", _on_by_default(key)):
            continue
        if "weights" not in spec:
            continue
        weights = str(spec["weights"])
        if weights == "random":
            seed = spec.get("seed", 0)
            report.warn(
                f"{key}: RANDOM weights (seed {seed}): features carry no pretrained "
                "knowledge (docs/features.md: where to put the real ones)"
            )
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
    check_packages(report, pyproject=Path(path).resolve().parent / "pyproject.toml")
    check_gpu(report)
    if config is not None or Path(path).exists():
        check_weights(report, config if config is not None else read_config(path))
    else:
        report.warn(f"{path} not found: weights not checked (--config PATH)")
    print(f"{report.missing} required thing(s) missing" if report.missing else "ready")
    return 1 if report.missing else 0


if __name__ == "__main__":
    sys.exit(run(main, prog="eao doctor"))
