"""The registry of backbones: every module of this package that declares a `SPEC` (a media
backbone) or a `TEXT_SPEC` (a text encoder).

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
from eao.backbones.spec import Backbone, TextEncoder

# The order a run lists the paper's backbones and text encoders in (command lines, the gathered
# failures table); any other follows them, by name.
ORDER = ("resnet152", "resnext101", "clip", "s3d", "logmel")
TEXT_ORDER = ("hf", "word2vec", "clip")


def _collect(attribute: str, kind: type, order: tuple[str, ...]) -> dict:
    """name -> the `attribute` spec of every module of this package that declares one."""
    found: dict[str, object] = {}
    for info in pkgutil.iter_modules(eao.backbones.__path__):
        name = f"eao.backbones.{info.name}"
        try:
            module = importlib.import_module(name)
        except Exception as e:  # one line naming the module, not a traceback through the DAG
            raise ImportError(f"backbone module {name} cannot be imported: {e}") from e
        spec = getattr(module, attribute, None)
        # a spec counts in the module that builds it, not in one that imports it
        if isinstance(spec, kind) and spec.build.__module__ == name:
            if spec.name in found:
                raise ValueError(f"two modules declare the {attribute} name {spec.name!r}")
            found[spec.name] = spec
    rank = {name: i for i, name in enumerate(order)}
    return dict(sorted(found.items(), key=lambda kv: (rank.get(kv[0], len(order)), kv[0])))


@functools.cache
def backbones() -> dict[str, Backbone]:
    """name -> spec of every media backbone (a module's `SPEC`), in ORDER then by name."""
    return _collect("SPEC", Backbone, ORDER)


@functools.cache
def text_encoders() -> dict[str, TextEncoder]:
    """name -> spec of every text encoder (a module's `TEXT_SPEC`), in TEXT_ORDER then by name."""
    return _collect("TEXT_SPEC", TextEncoder, TEXT_ORDER)


def text_encoder(name: str) -> TextEncoder:
    """The spec of `name`; KeyError names the known text encoders."""
    try:
        return text_encoders()[name]
    except KeyError:
        known = ", ".join(text_encoders())
        raise KeyError(f"unknown text encoder {name!r}; known: {known}") from None


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
    """Each backbone's and text encoder's output version as an eao.versions key:
    {"features.<backbone>": version, "text.<encoder>": version}."""
    media = {f"features.{name}": spec.version for name, spec in backbones().items()}
    return media | {f"text.{name}": spec.version for name, spec in text_encoders().items()}
