"""Read a pickle of arrays without running code: only numpy arrays, dtypes and scalars, torch
tensors and plain containers are rebuilt; any other global is refused (BadInput naming the file
and `module.name`) before it is called.

The released EAO evaluation files (data.tar) are pickles of dicts of numpy arrays, some with
torch tensors. `pickle.load` on such a file can run any code it names (`os.system`, ...), so
they are read through `load_pickle`. A tensor's storage is serialised with `torch.save`
inside the pickle (`torch.storage._load_from_bytes`, whose own `torch.load` is not
weights_only); that call is replaced by a weights_only `torch.load`.

numpy 1 writes `numpy.core.*` and numpy 2 `numpy._core.*`; both spellings are read by either.
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
import warnings
from typing import Any, NoReturn

from eao.errors import BadInput, need_file, reading

READS = "only numpy arrays, torch tensors and plain containers are read"

NUMPY = {
    ("multiarray", "_reconstruct"),
    ("multiarray", "scalar"),
    ("numeric", "_frombuffer"),
}
ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),  # bytes in protocol-2 pickles (Python 2 era numpy arrays)
    ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch", "Size"),
    *(
        ("builtins", name)
        for name in (
            "dict",
            "list",
            "tuple",
            "set",
            "frozenset",
            "bytearray",
            "bytes",
            "str",
            "int",
            "float",
            "complex",
            "bool",
        )
    ),
    *(("__builtin__", name) for name in ("set", "frozenset", "bytearray", "complex")),
}


def _safe_load_from_bytes(data: bytes):
    """torch.storage._load_from_bytes, weights_only (tensors and storages, no code)."""
    import torch

    if not isinstance(data, bytes | bytearray):
        raise pickle.UnpicklingError("a tensor storage that is not bytes")
    with warnings.catch_warnings():  # "Detected pickle protocol 4": the storage reads fine
        warnings.simplefilter("ignore", UserWarning)
        return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")


class SafeUnpickler(pickle.Unpickler):
    """An Unpickler whose globals are only those of arrays, tensors and plain containers."""

    def __init__(self, file, path: str | os.PathLike = "<pickle>"):
        super().__init__(file, encoding="latin1")  # numpy arrays pickled by Python 2
        self.path = path

    def persistent_load(self, pid: object) -> NoReturn:
        raise BadInput(f"refused persistent id {pid!r} in the pickle: {READS}", self.path)

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return _safe_load_from_bytes
        if module == "torch" and _is_torch_dtype(name):
            import torch

            return getattr(torch, name)
        parts = module.split(".")
        if parts[0] == "numpy" and len(parts) == 3 and parts[1] in ("core", "_core"):
            if (parts[2], name) in NUMPY:
                return _numpy_core(parts[2], name)
        elif (module, name) in ALLOWED:
            if module == "__builtin__":
                module = "builtins"
            return getattr(importlib.import_module(module), name)
        raise BadInput(
            f"refused to load the global {module}.{name} from the pickle: {READS}", self.path
        )


def _is_torch_dtype(name: str) -> bool:
    import torch

    return isinstance(getattr(torch, name, None), torch.dtype)


def _numpy_core(submodule: str, name: str):
    """numpy.core.X.name / numpy._core.X.name of the installed numpy (either spelling)."""
    for module in (f"numpy._core.{submodule}", f"numpy.core.{submodule}"):
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"numpy has no core.{submodule}.{name}")


def load_pickle(path: str | os.PathLike) -> Any:
    """The object pickled in `path`, rebuilt by `SafeUnpickler`; BadInput naming the file when
    it is missing, not a pickle, truncated, or names a global outside the allowed ones."""
    need_file(path, "pickle file")
    with reading(path), open(path, "rb") as f:
        return SafeUnpickler(f, path).load()


def load_dicts(path: str | os.PathLike, need_id: bool = True) -> list[dict]:
    """The list of dicts of a released feature pickle (BadInput naming the file otherwise)."""
    data = load_pickle(path)
    if not isinstance(data, list | tuple):
        raise BadInput(f"not a list of dicts but a {type(data).__name__}", path)
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise BadInput(f"item {i} is a {type(item).__name__}, not a dict", path)
        if need_id and item.get("id") is None:
            raise BadInput(f"item {i} has no 'id'", path)
    if not data:
        raise BadInput("no items", path)
    return list(data)
