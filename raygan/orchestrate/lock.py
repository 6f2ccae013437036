"""A running sweep holds its name: a lock file in its output folder with process id and host.

A second start or `--resume` of a sweep whose lock names a live process is refused; a lock
whose process is gone (same host, pid not alive, or alive with another start time, i.e. reused)
is stale and taken over with a note. A lock from another host cannot be checked from here, so
it is refused with the way to clear it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

from raygan.artifacts import LOCK_FILE
from raygan.errors import RayganError
from raygan.files import write_atomic


def _start_ticks(pid: int) -> int | None:
    """When process `pid` started (clock ticks after boot, Linux /proc), to tell a reused pid."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _alive(holder: dict) -> bool:
    """Whether the process that wrote the lock `holder` still runs on this host."""
    pid = holder["pid"]
    if pid == os.getpid():  # this process holds no lock yet: a restarted container reuses pids
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        pass
    ticks, then = _start_ticks(pid), holder.get("start_ticks")
    return ticks is None or then is None or ticks == then  # else: the pid was reused


def _read(path: Path) -> dict | None:
    """The lock's holder, {} for an unreadable lock, None when there is no lock."""
    try:
        holder = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _live_holder(out_dir: Path) -> dict | None:
    """The lock's holder if it may still be running, else None (no lock, or a stale one)."""
    holder = _read(out_dir / LOCK_FILE)
    if not holder or not isinstance(holder.get("pid"), int):
        return None
    if holder.get("host") != socket.gethostname():
        return holder  # another machine: its process cannot be checked from here
    return holder if _alive(holder) else None


def _refusal(name: str, out_dir: Path, holder: dict) -> RayganError:
    where = f"process {holder['pid']} on host {holder.get('host')}"
    return RayganError(
        f"sweep {name!r} is running ({where}, since {holder.get('started', '?')}); wait for it "
        f"to end or stop it, or pick another --name (if that process is gone, delete "
        f"{out_dir / LOCK_FILE})")


def check_free(name: str, out_dir: Path) -> None:
    """Raise RayganError if a live process holds the sweep `name` (nothing is written)."""
    holder = _live_holder(out_dir)
    if holder is not None:
        raise _refusal(name, out_dir, holder)


@contextlib.contextmanager
def hold(name: str, out_dir: Path, log: Callable[[str], None] = print) -> Iterator[None]:
    """Hold the sweep's lock for the body; released at the end, on errors and on Ctrl-C."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname(),
          "start_ticks": _start_ticks(os.getpid()),
          "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    # The folder's flock makes check-then-take one step between processes on this host.
    fd = os.open(out_dir, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # NFS refuses an exclusive flock on a read-only fd
            fcntl.flock(fd, fcntl.LOCK_EX)
        holder = _live_holder(out_dir)
        if holder is not None:
            raise _refusal(name, out_dir, holder)
        old = _read(path)
        if old is not None:
            log(f"note: taking over the stale lock of sweep {name!r} (process "
                f"{old.get('pid', '?')} on host {old.get('host', '?')} is gone)")
        write_atomic(path, json.dumps(me))
    finally:
        os.close(fd)  # closing the descriptor drops the flock
    try:
        yield
    finally:
        if _read(path) == me:  # never remove a lock that another process took over
            path.unlink(missing_ok=True)
