"""Files, the one way: atomic whole-file writes, JSON and JSON-lines read and written.

Every file arche writes whole (token files, run files, results, pipeline state, samples) goes through
`atomic_write`: a temporary file, fsync, rename, so a kill at any moment leaves the old file or the
new one, never half of either. JSON-lines files that grow while a run trains (metrics.jsonl) are read
with `read_jsonl`, which skips a line being written.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

from .errors import UserError


class DiskFullError(UserError, OSError):
    """A write found the disk (or the quota) full."""


def atomic_write(path, blob: bytes | str) -> None:
    """Write to a temporary file and rename: a kill mid-write leaves the old file or none."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    write_new(tmp, blob)
    os.replace(tmp, path)


def write_new(path, blob: bytes | str) -> None:
    """`blob` into a new file at `path`, synced to disk. A file left there by a kill, or a link planted
    there, is removed and never followed: O_EXCL creates a new file, O_NOFOLLOW refuses a link put there
    in between (a link's target would be overwritten). Mode 0o666 less the umask, as open() gives."""
    path = Path(path)
    if path.is_symlink() or path.exists():
        path.unlink()
    try:
        with open(path, "xb", opener=_no_follow) as f:  # "x": O_CREAT | O_EXCL
            f.write(blob.encode() if isinstance(blob, str) else blob)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        path.unlink(missing_ok=True)  # the half-written file; the file it was to replace is untouched
        raise DiskFullError(
            f"no space left on the device writing {path} ({len(blob):,} bytes): free some space and run the same "
            f"command again (what was written before, checkpoints included, is intact)"
        ) from None


def _no_follow(path, flags):
    return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0), 0o666)


def write_json(path, obj, indent: int = 1) -> None:
    """obj as JSON (numpy and other number types as floats), atomically, making the parent directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(obj, indent=indent, default=float))


def read_json(path, default=None):
    """The JSON in `path`, or `default` when the file is missing or damaged."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return default


def read_jsonl(path) -> list[dict] | None:
    """The rows of a JSON-lines file, skipping blank and half-written lines; None when there is no file."""
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return None
    rows = []
    for line in lines:
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def append_jsonl(path, row: dict) -> None:
    """One row appended and flushed (a growing log; a kill may leave a half line, which read_jsonl skips)."""
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
