"""Files that an interrupted write must never leave half-written, and folders proven writable
before any work writes to them."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from raygan.errors import RayganError


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and `os.replace`: a reader (or a resume
    after a crash) finds the old file or the new one, never a truncated one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# Kernel filesystems: files there are kernel knobs or devices, never a place for results.
PSEUDO_FILESYSTEMS = frozenset({
    "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "debugfs", "tracefs",
    "securityfs", "pstore", "bpf", "configfs", "efivarfs", "mqueue", "fusectl", "binfmt_misc",
    "autofs", "hugetlbfs", "rpc_pipefs", "nsfs", "selinuxfs"})


def _mount_of(path: Path) -> tuple[str, str, set[str]] | None:
    """(mount point, filesystem type, options) of the mount that holds the existing `path`, from
    /proc/self/mounts (the last mount of the longest matching point wins); None off Linux."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return None
    best = None
    real = str(path.resolve())
    for line in lines:
        fields = line.split()
        if len(fields) < 4:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[1])  # \040: a space
        if real == point or real.startswith(point.rstrip("/") + "/"):
            if best is None or len(point) >= len(best[0]):
                best = (point, fields[2], set(fields[3].split(",")))
    return best


def writable_folder(path: Path | str, flag: str) -> Path:
    """The folder `path` (the value of option `flag`, e.g. "--out"), created if missing, once a
    probe file has been written and removed in it; otherwise a one-line RayganError that says
    why: a file on the way, a kernel filesystem (/proc, /sys, /dev), a read-only mount or a
    folder this user cannot write. Permission bits alone do not decide (root ignores them, a
    read-only mount does not), so the probe writes."""
    given = path
    path = Path(path).expanduser()
    existing = next(p for p in (path, *path.parents) if p.exists() or p == p.parent)
    # Name the folder at fault: `path` itself, or its nearest existing parent.
    said = f"{flag} {given}" if existing == path else f"{flag} {given}: {existing}"
    if not existing.is_dir():
        raise RayganError(f"{said} is a file, not a folder; pass a folder path")
    mount = _mount_of(existing)
    if mount is not None and mount[1] in PSEUDO_FILESYSTEMS:
        raise RayganError(f"{said} is not writable: it is on {mount[0]} ({mount[1]}), a kernel "
                          "filesystem, not a place for files; pass a folder on a disk")
    if mount is not None and "ro" in mount[2]:
        raise RayganError(f"{said} is not writable: {mount[0]} is mounted read-only; pass a "
                          "folder on a writable disk")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".raygan-probe-")
        try:
            os.write(fd, b"raygan")
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RayganError(f"{said} is not writable ({reason}); pass a folder you can write to, "
                          "or fix its permissions") from None
    return path
