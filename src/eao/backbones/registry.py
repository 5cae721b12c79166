"""The registry of media backbones: every module of this package that declares a `SPEC`.

Adding a backbone is creating its module (eao.backbones.spec says what a SPEC holds;
docs/extending.md walks through one); nothing here or elsewhere lists it. Everything else is
derived from `backbones()`: the extractor's dispatch and flags (eao.features), the corpus's table
kinds (eao.data.corpus), the workflow's extraction passes and params (eao.workflow) and the
config schema's `features.<name>` entries (tools/config_schema.py).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

import eao.backbones
from eao.backbones.spec import Backbone

# The order a run lists the paper's backbones in (command lines, the gathered failures table);
# any other backbone follows them, by name.
ORDER = ("resnet152", "resnext101", "clip", "s3d", "logmel")


@functools.cache
def backbones() -> dict[str, Backbone]:
    """name -> spec of every backbone module in this package, in ORDER then by name."""
    found: dict[str, Backbone] = {}
    for info in pkgutil.iter_modules(eao.backbones.__path__):
        module = importlib.import_module(f"eao.backbones.{info.name}")
        spec = getattr(module, "SPEC", None)
        if isinstance(spec, Backbone):
            if spec.name in found:
                raise ValueError(f"two backbone modules declare the name {spec.name!r}")
            found[spec.name] = spec
    rank = {name: i for i, name in enumerate(ORDER)}
    return dict(sorted(found.items(), key=lambda kv: (rank.get(kv[0], len(ORDER)), kv[0])))


def backbone(name: str) -> Backbone:
    """The spec of `name`; KeyError names the known backbones."""
    try:
        return backbones()[name]
    except KeyError:
        raise KeyError(f"unknown backbone {name!r}; known: {', '.join(backbones())}") from None


def names(kind: str | None = None) -> list[str]:
    """The backbones' names, of one kind ("2d", "3d", "audio") or all."""
    return [n for n, spec in backbones().items() if kind is None or spec.kind == kind]


def versions() -> dict[str, int]:
    """Each backbone's output version as an eao.versions key: {"features.<name>": version}."""
    return {f"features.{name}": spec.version for name, spec in backbones().items()}
