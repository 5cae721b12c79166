"""Text that fits a table's notes: every note's text stays within NOTE_LIMIT characters, a long
list is wrapped into continuation notes, a too-long line is cut with '…' (the CSV keeps each
cell's provenance and reason whole). Settings and config overrides as 'key=value' items."""

from __future__ import annotations

import json

from eao.tables.schema import Note

NOTE_LIMIT = 193  # characters of a note's text; Markdown adds "- " and, for a warning, "**" twice
# Settings that change how fast or where a job runs, never its numbers: left out of the notes.
RUNTIME_KEYS = frozenset(
    {
        *("threads", "mem_mb", "disk_mb", "runtime", "tmpdir"),  # the job's resources
        *("workers", "num_workers", "prefetch", "pin_memory"),  # data loading
        *("device", "devices", "gpus"),  # where it runs
        *("log_every_steps", "progress"),  # what it prints
    }
)


def clip(text: str, limit: int = NOTE_LIMIT) -> str:
    """`text`, cut to `limit` characters with '…' when longer."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def wrapped(
    head: str, items: list[str], warning: bool = False, sep: str = ", ", first: str = ""
) -> list[Note]:
    """'first: a, b, c' as few notes as fit NOTE_LIMIT, continuing as 'head (cont.): d, e'
    (`first` defaults to `head`)."""
    notes: list[Note] = []
    prefix, parts = f"{first or head}: ", []
    room = NOTE_LIMIT - len(f"{head} (cont.): ")
    for item in (clip(i, room) for i in items):
        if parts and len(prefix + sep.join([*parts, item])) > NOTE_LIMIT:
            notes.append(Note(prefix + sep.join(parts), warning))
            prefix, parts = f"{head} (cont.): ", []
        parts.append(item)
    if parts:
        notes.append(Note(clip(prefix + sep.join(parts)), warning))
    return notes


def settings_items(settings: dict | None) -> list[str]:
    """'key=value' for each setting that can change results (RUNTIME_KEYS left out)."""
    return [
        f"{key}={setting_text(value)}"
        for key, value in (settings or {}).items()
        if key not in RUNTIME_KEYS
    ]


def setting_text(value: object) -> str:
    """A setting's value as the config writes it: strings bare, dicts as {key: value, ...},
    anything else as JSON."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {setting_text(v)}" for k, v in value.items()) + "}"
    return value if isinstance(value, str) else json.dumps(value)


def overrides_items(overrides: dict) -> list[str]:
    """A variant's config overrides, a 'section key=value, key=value' item per section (a
    top-level value: 'key=value'); empty sections and runtime-only keys left out."""
    items = []
    for section, values in overrides.items():
        if isinstance(values, dict):
            changes = settings_items(values)
            if changes:
                items.append(f"{section} " + ", ".join(changes))
        elif section not in RUNTIME_KEYS:
            items.append(f"{section}={setting_text(values)}")
    return items
