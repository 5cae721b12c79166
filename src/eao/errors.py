"""One error convention for every entry point (`eao CMD` and each `python -m eao...` a rule runs).

A bad input, a file or an argument the command cannot use, ends the command with one line on
stderr, `PROG: error: FILE: PROBLEM`, and exit status 2, without a traceback. `EAO_DEBUG=1` (or
`eao --debug CMD`) prints the traceback as well. Any other exception is a bug and surfaces as
Python shows it (traceback, status 1).

- `BadInput(problem, file)`: raised where an input is opened and checked, so the message is
  specific ("x.parquet: not a features table (table=manifest)").
- `reading(path)`: the errors a bad file raises while its block reads it (truncated, empty, not
  the format, a missing key) become BadInput naming the file.
- `run(main, argv, prog)`: the wrapper every `__main__` and `eao CMD` call; the safety net that
  turns the standard errors a bad file raises (FileNotFoundError, ArrowInvalid, ...) into the
  one line, naming the file when the error knows it.
- `ArgumentParser`: argparse's usage errors as one line (plain argparse prints two);
  `json_object`: the `type` of an option holding a JSON object.

Only the standard library is imported here: every module may import this one.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import pickle
import re
import sys
import traceback
import zipfile
from collections.abc import Callable, Iterator
from typing import NoReturn

EXIT_BAD_INPUT = 2  # argparse's status for a bad argument: one status for every bad input
DEBUG_ENV = "EAO_DEBUG"

# What a path that cannot be opened raises anywhere: caught by `run` as bad input (the error
# names its file). Nothing else is: a parse or library error outside a `reading` block may as
# well be a bug, and a bug keeps its traceback.
FILE_ERRORS: tuple[type[BaseException], ...] = (
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)
# What a reader raises on a file that is not what it expects: bad input inside `reading` only,
# whose block just reads.
READ_ERRORS = (
    *FILE_ERRORS,
    EOFError,
    zipfile.BadZipFile,
    pickle.UnpicklingError,
    json.JSONDecodeError,
    UnicodeDecodeError,
    csv.Error,
    OSError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    RuntimeError,
)


class BadInput(ValueError):
    """An input the command cannot use: `file` (a path, an option, or None when `problem` names
    it already) and `problem`. A ValueError, so callers that catch ValueError still do."""

    def __init__(self, problem: str, file: str | os.PathLike | None = None):
        self.problem = problem
        self.file = None if file is None else os.fsdecode(file)
        super().__init__(problem if self.file is None else f"{self.file}: {problem}")


def _library_errors() -> tuple[type[BaseException], ...]:
    """pyarrow's and PyYAML's error bases, if those are loaded (only then can they be raised);
    looked up lazily so that this module imports neither."""
    found: list[type[BaseException]] = []
    if "pyarrow" in sys.modules:
        found.append(sys.modules["pyarrow"].lib.ArrowException)
    if "yaml" in sys.modules:
        found.append(sys.modules["yaml"].YAMLError)
    return tuple(found)


def is_bad_input(error: BaseException) -> bool:
    return isinstance(error, (BadInput, *FILE_ERRORS))


def problem(error: BaseException) -> str:
    """What went wrong, on one line and without the file name (the caller knows the file)."""
    if isinstance(error, BadInput):
        return error.problem
    if isinstance(error, OSError) and error.strerror:
        return error.strerror[:1].lower() + error.strerror[1:]
    if isinstance(error, EOFError):
        return "ends too early (empty or truncated)"
    if isinstance(error, KeyError):
        return f"has no {error.args[0]!r} entry" if error.args else "a missing entry"
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8 text ({error.reason} at byte {error.start})"
    if isinstance(error, json.JSONDecodeError):
        return f"not JSON ({error.msg} at line {error.lineno}, column {error.colno})"
    mark = getattr(error, "problem_mark", None)  # PyYAML's parse errors
    if mark is not None and getattr(error, "problem", None):
        return f"not YAML ({error.problem} at line {mark.line + 1}, column {mark.column + 1})"
    if type(error) is ValueError and str(error).strip():  # ours: the message is the story
        return " ".join(str(error).split())
    text = first_sentence(error)
    return f"{text} ({type(error).__name__})" if text else type(error).__name__


def first_sentence(error: BaseException) -> str:
    """The first sentence of the error's first non-empty line: torch's and pyarrow's messages
    run to paragraphs of advice that do not fit one line."""
    lines = [" ".join(line.split()) for line in str(error).splitlines()]
    text = next((line for line in lines if line), "")
    return re.split(r"\.\s+(?=[A-Z])", text, maxsplit=1)[0][:200]


def describe(error: BaseException) -> str:
    """The one line `FILE: PROBLEM` (just PROBLEM when the error does not know its file)."""
    if isinstance(error, BadInput):
        text = str(error)
    elif isinstance(error, OSError) and error.filename is not None:
        text = f"{os.fsdecode(error.filename)}: {problem(error)}"
    else:
        text = problem(error)
    return " ".join(text.split())


@contextlib.contextmanager
def reading(path: str | os.PathLike) -> Iterator[None]:
    """Errors a bad file raises inside the block (which reads `path`) become BadInput naming
    it; a BadInput raised inside passes unchanged."""
    try:
        yield
    except BadInput:
        raise
    except (*READ_ERRORS, *_library_errors()) as e:
        other = getattr(e, "filename", None)
        other = os.fsdecode(other) if isinstance(other, str | bytes | os.PathLike) else None
        about = f"{other}: " if other and other != os.fsdecode(path) else ""  # a file beside it
        raise BadInput(about + problem(e), path) from e


def need_file(path: str | os.PathLike, what: str = "file") -> None:
    """BadInput unless `path` is an existing, non-empty file (for readers that would take a
    folder, as pyarrow does, or report an empty file vaguely)."""
    if os.path.isdir(path):
        raise BadInput(f"is a folder, not a {what}", path)
    if not os.path.exists(path):
        raise BadInput(f"no such {what}", path)
    if os.path.getsize(path) == 0:
        raise BadInput(f"empty, not a {what}", path)


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def run(
    main: Callable[[list[str] | None], int],
    argv: list[str] | None = None,
    prog: str = "eao",
    debug: bool | None = None,
) -> int:
    """`main(argv)`'s status; a bad input is one line on stderr and status 2 instead of a
    traceback (with the traceback too when `debug`, default: $EAO_DEBUG)."""
    try:
        return main(argv)
    except Exception as e:
        if not is_bad_input(e):
            raise  # a bug: the traceback is what its report needs
        if debug_enabled() if debug is None else debug:
            traceback.print_exc()
        print(f"{prog}: error: {describe(e)}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT


def json_object(text: str) -> dict:
    """argparse `type` of an option holding a JSON object (--train-config '{...}'): the dict, or
    argparse's one-line error naming the option."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not JSON ({e.msg} at character {e.pos})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"not a JSON object but a {type(value).__name__}")
    return value


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser whose usage errors are one line, `PROG: error: ...`, and status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {' '.join(message.split())}\n")
