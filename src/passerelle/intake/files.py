"""Local files and folders (folders are walked in name order; hidden files are skipped)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from passerelle.core.content import Content
from passerelle.core.message import Message, grouped
from passerelle.intake import Problem

DEFAULT_MAX_BYTES = 200 * 1024 * 1024


def iter_files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and not any(
                p.startswith(".") for p in child.relative_to(path).parts
            ):
                yield child
    else:
        yield path


def read_file(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Content | Problem:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return Problem(
                str(path),
                Message(
                    "file too large: %(size)s bytes (limit %(limit)s)",
                    {"size": grouped(size), "limit": grouped(max_bytes)},
                ),
            )
        return Content(source=str(path), data=path.read_bytes(), origin="file")
    except FileNotFoundError:
        return Problem(str(path), Message("no such file or folder"))
    except PermissionError:
        return Problem(str(path), Message("permission denied"))
    except IsADirectoryError:
        return Problem(str(path), Message("is a folder"))
    except OSError as exc:
        return Problem(
            str(path), Message("cannot read: %(error)s", {"error": str(exc.strerror or exc)})
        )
