"""Reading a torch.save file safely: torch's weights_only unpickler, and one clear error naming
the file for each way a file can fail to be a checkpoint. Used for our checkpoints, the official
EAO ones and the backbones' weight files alike (no model code here)."""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path

import torch

from eao.errors import BadInput, first_sentence, need_file, problem

# What torch.load raises on a file that is no checkpoint (cut short, a zip of something else,
# text, a pickle of unknown classes), besides the unpickling and OS errors handled apart.
NOT_A_CHECKPOINT = (
    *(RuntimeError, EOFError, KeyError, IndexError, ValueError, AttributeError, ImportError),
    zipfile.BadZipFile,
)


class PickledObjects(BadInput, pickle.UnpicklingError):
    """A file holding pickled objects beyond tensors and plain containers, which torch's
    weights_only unpickler refuses (unpickling them can run code from the file)."""


def read_checkpoint(
    path: str | Path,
    trust_pickle: bool = False,
    mmap: bool = False,
    map_location: str | torch.device = "cpu",
) -> dict:
    """The dict a torch.save file holds, read with the safe weights_only unpickler (unless
    `trust_pickle`). BadInput naming the file when it is no such file (missing, a folder, empty,
    truncated, text, JSON, not a dict); PickledObjects when the unpickler refused an object,
    the one case a trusted file could still be read. mmap: for zip-format files (torch >= 1.6),
    the tensors stay on disk until used."""
    need_file(path, "checkpoint file")
    try:
        obj = torch.load(
            path,
            map_location=map_location,
            weights_only=not trust_pickle,
            mmap=mmap and zipfile.is_zipfile(path),
        )
    except pickle.UnpicklingError as e:
        # Only a refused GLOBAL means real pickled objects; any other unpickling error is a
        # file that is no pickle at all (text, JSON)
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        if found and not trust_pickle:
            raise PickledObjects(
                f"holds pickled objects beyond tensors and plain containers (e.g. {found[1]}); "
                "unpickling them can run code from the file, so it is refused",
                path,
            ) from e
        raise _not_torch(path, e) from e
    except OSError as e:
        raise BadInput(problem(e), path) from e
    except NOT_A_CHECKPOINT as e:
        raise _not_torch(path, e) from e
    if not isinstance(obj, dict):
        raise BadInput(f"not a checkpoint: holds a {type(obj).__name__}, not a dict", path)
    return obj


def _not_torch(path: str | Path, error: BaseException) -> BadInput:
    detail = f"{type(error).__name__}: {first_sentence(error)}".rstrip(": ")
    return BadInput(f"not a PyTorch checkpoint, or a truncated one ({detail})", path)
