"""One lock per directory, for every command that writes into one (run, train, sample, paper, prepare).

The lock is a file, DIR/.lock, created exclusively (O_EXCL) and holding who took it: host, pid, what
for, since when. That works on a local disk and on a shared one (Google Drive, where Colab runtimes on
different machines share a run directory) where flock does not. A lock whose holder is gone is taken
over, with a log line:

  - at once when the holder ran on this host and its process no longer exists (SIGKILL included);
  - after STALE_AFTER seconds without a heartbeat when it ran on another host (a holder touches the
    file every HEARTBEAT seconds, from a background thread).

A thread may take the lock of a directory it already holds (the runner building the paper of the run
it is running): the inner one is a no-op. Another thread of the same process is refused like any
other holder.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path

from .errors import UserError
from .io import DiskFullError

LOCK_NAME = ".lock"
HEARTBEAT = 30.0  # seconds between two touches of a held lock file
STALE_AFTER = 600.0  # a lock from another host without a touch for this long is abandoned
UNWRITTEN_AFTER = 10.0  # a lock file still empty after this long was left by a kill at creation

_held: dict[str, list] = {}  # lock file -> [holding thread, nesting depth], for this process's locks
_mutex = threading.Lock()


class LockedError(UserError):
    """The directory is in use by another live process."""


@contextlib.contextmanager
def run_lock(directory, what: str, wait: float = 0.0, log=print):
    """Hold DIR/.lock for the duration of the block. `wait` seconds: how long to wait for another
    holder to finish before giving up with LockedError (0: refuse at once)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory.resolve() / LOCK_NAME
    key = str(path)
    with _mutex:
        nested = _held.get(key, [None])[0] == threading.get_ident()
        if nested:
            _held[key][1] += 1
    if nested:
        try:
            yield
        finally:
            with _mutex:
                _held[key][1] -= 1
        return

    token = _acquire(path, directory, what, wait, log)
    with _mutex:
        _held[key] = [threading.get_ident(), 1]
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(path, token, stop), daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join()
        with _mutex:
            del _held[key]
        holder = _read(path)
        if holder is not None and holder.get("token") == token:  # never remove a lock taken over
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _acquire(path: Path, directory: Path, what: str, wait: float, log) -> str:
    token = uuid.uuid4().hex
    info = {
        "token": token,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "pid_start": _process_start(os.getpid()),
        "what": what,
        "since": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }
    deadline = time.monotonic() + wait
    said_waiting = False
    if path.is_dir() and not path.is_symlink():
        raise LockedError(f"{path} is a directory, not a lock file: nothing arche writes; remove it and run again")
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read(path)
            why = _stale(path, holder)
            if why:
                if _remove_stale(path, holder):
                    log(f"lock: took over the stale lock of {directory} ({why})")
                continue
            if time.monotonic() < deadline:
                if not said_waiting:
                    log(f"lock: {directory} is in use by {_describe(holder)}; waiting")
                    said_waiting = True
                time.sleep(0.5)
                continue
            raise LockedError(
                f"{directory} is in use by {_describe(holder)}. Wait for it to finish, or use another "
                f"directory. A lock whose process is gone is taken over by itself (at once on the same "
                f"machine, after {STALE_AFTER / 60:.0f} min without a heartbeat from another); if you "
                f"are sure nothing uses the directory, delete {path}"
            ) from None
        try:
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(info))
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            path.unlink(missing_ok=True)
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise DiskFullError(f"no space left on the device to take the lock {path}: free some space") from None
            raise
        return token


def _heartbeat(path: Path, token: str, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT):
        holder = _read(path)
        if holder is None or holder.get("token") != token:
            return
        with contextlib.suppress(OSError):
            os.utime(path)


def _read(path: Path) -> dict | None:
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def _describe(holder: dict | None) -> str:
    if holder is None:
        return "a process that is still creating its lock"
    return f"{holder.get('what', '?')} (pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('since')})"


def _stale(path: Path, holder: dict | None) -> str | None:
    """Why the lock at `path` is abandoned, or None while its holder may be alive."""
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return "gone"
    if holder is None:
        return f"an empty lock file {age:.0f} s old" if age > UNWRITTEN_AFTER else None
    if holder.get("host") == socket.gethostname():
        pid = holder.get("pid")
        if pid == os.getpid():
            return None if str(path) in _held else f"left by this process (pid {pid}), which no longer holds it"
        if not _alive(pid, holder.get("pid_start")):
            return f"its process {pid} on this host is gone"
        return None
    if age > STALE_AFTER:
        return f"no heartbeat from {holder.get('host')} for {age:.0f} s"
    return None


def _remove_stale(path: Path, holder: dict | None) -> bool:
    """Move the stale lock aside and delete it. If what was moved is not the lock judged stale (another
    process took it over in between), put it back. False when the lock was not removed."""
    aside = path.with_name(f"{LOCK_NAME}.stale-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    moved = _read(aside)
    if (moved or {}).get("token") != (holder or {}).get("token"):
        with contextlib.suppress(OSError):
            os.link(aside, path)  # fails if yet another lock exists; then that one stands
        aside.unlink()
        return False
    aside.unlink()
    return True


def _alive(pid, start) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    now = _process_start(pid)
    if now is None:
        return True  # no /proc: trust kill(0)
    return now != "zombie" and (start is None or now == start)


def _process_start(pid: int):
    """The start time of a process from /proc (tells a reused pid apart), "zombie", or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return "zombie" if fields[0] == "Z" else fields[19]
