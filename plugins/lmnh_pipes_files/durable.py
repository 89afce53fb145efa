"""Local files changed so that a crash (a SIGKILL, a power cut) leaves either the old state or the new one.

A rename is atomic, but durable only once the folder holding it is fsynced; a file's bytes, once it is.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from typing import IO, Any

import attrs

__all__ = ["Fingerprint", "fingerprint", "fsync_folder", "lock", "remove", "replace", "truncate", "write_file"]


@attrs.frozen
class Fingerprint:
    """A file's size and the SHA-256 of its bytes: whether it is still the file that was read."""

    size: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "sha256": self.sha256}

    @classmethod
    def from_json(cls, data: Any) -> Fingerprint:
        return cls(int(data["size"]), str(data["sha256"]))


def fingerprint(path: str) -> Fingerprint:
    """The fingerprint of the file at ``path`` as it is now."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return Fingerprint(size, digest.hexdigest())


def fsync_folder(path: str) -> None:
    """Make the names in the folder holding ``path`` durable (a rename, a new or a removed file)."""
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: str, data: bytes) -> None:
    """Put ``data`` at ``path`` in one step: written beside it, fsynced, renamed over it."""
    temporary = f"{path}.tmp"
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    replace(temporary, path)


def replace(temporary: str, path: str) -> None:
    """Rename the (fsynced) ``temporary`` over ``path``, durably."""
    os.replace(temporary, path)
    fsync_folder(path)


def remove(path: str) -> None:
    """Remove ``path`` durably, if it is there."""
    try:
        os.remove(path)
    except FileNotFoundError:
        return
    fsync_folder(path)


def truncate(path: str, length: int) -> None:
    """Cut the file at ``path`` to ``length`` bytes, durably."""
    with open(path, "r+b") as file:
        os.ftruncate(file.fileno(), length)
        os.fsync(file.fileno())


def lock(file: IO[bytes], *, shared: bool) -> bool:
    """Take an advisory lock (flock) on an open file, without waiting: shared by the sinks that write a file,
    exclusive for a replay that rewrites it. False when another holds one that conflicts; True also on a file
    system without locks (nothing to be had there)."""
    try:
        fcntl.flock(file.fileno(), (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return True
