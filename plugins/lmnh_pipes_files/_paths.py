"""Where files are: telling local paths from URLs, expanding globs (local and S3), and opening with smart-open."""

from __future__ import annotations

import codecs
import glob
import os
from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import IO, Any, Final

from lmnh_pipes import ConfigError, Problem

__all__ = [
    "check_encoding",
    "compression_mode",
    "is_glob",
    "is_local",
    "local_path",
    "not_found_reason",
    "open_binary",
    "path_error",
    "resolve",
    "s3_client",
    "writable_problem",
]

S3_SCHEMES: Final = ("s3://", "s3a://", "s3n://")
HTTP_SCHEMES: Final = ("http://", "https://")
GLOB_CHARS: Final = frozenset("*?[")
#: S3 error codes (and HTTP statuses) that mean "this path is wrong", not "the service is down".
NOT_FOUND_CODES: Final = frozenset(
    {"NoSuchKey", "NoSuchBucket", "AccessDenied", "InvalidBucketName", "AllAccessDisabled", "403", "404"}
)
NOT_FOUND_STATUSES: Final = frozenset({401, 403, 404, 410})


def is_local(path: str) -> bool:
    """True for a plain path or a ``file://`` URL."""
    return path.startswith("file://") or "://" not in path


def local_path(path: str) -> str:
    """A local path without its ``file://`` prefix, with ``~`` expanded."""
    return os.path.expanduser(path.removeprefix("file://"))


def is_glob(path: str) -> bool:
    """True when ``path`` holds a glob character (``*``, ``?`` or ``[``)."""
    return not GLOB_CHARS.isdisjoint(path)


def path_error(path: str, message: str) -> ConfigError:
    """A :class:`ConfigError` about the ``path`` option; for a relative local path, it says from which working
    directory the path was read (the pipeline file's folder plays no part)."""
    hint = ""
    if is_local(path) and not os.path.isabs(local_path(path)):
        hint = f"relative to the working directory {os.getcwd()}"
    return ConfigError([Problem(message=message, path="path", hint=hint)])


def writable_problem(path: str) -> str | None:
    """Why a local file could not be written at ``path`` (its missing folders being made), found without creating
    anything; None when nothing stands in the way."""
    target = os.path.abspath(path)
    if os.path.isdir(target):
        return "it is a directory"
    if os.path.exists(target):
        if not os.path.isfile(target):
            return None  # a device or a pipe (/dev/stdout): whether it takes rows is found when it opens
        folder = os.path.dirname(target)
        if not os.access(target, os.W_OK):
            return "permission denied"
    else:
        folder = os.path.dirname(target)
        while not os.path.lexists(folder):
            folder = os.path.dirname(folder)
        if not os.path.isdir(folder):
            return f"{folder} is not a directory"
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"permission denied in {folder}"
    if hasattr(os, "statvfs"):
        stats = os.statvfs(folder)
        if stats.f_flag & os.ST_RDONLY:
            return f"{folder} is on a read-only file system"
        # proc, sysfs and cgroup report no blocks and no inodes: root may "write" there, but no file can be made.
        if stats.f_blocks == 0 and stats.f_files == 0:
            return f"{folder} is on a pseudo file system (such as proc or sysfs), where no file can be made"
    return None


def check_encoding(_: Any, __: Any, value: str) -> None:
    """An attrs validator: ``value`` names a text encoding Python knows, else :class:`ConfigError`."""
    try:
        codecs.lookup(value)
    except LookupError:
        raise ConfigError(f"unknown text encoding {value!r}") from None


def compression_mode(compression: str) -> str:
    """Map the ``compression`` option (``infer``, ``none``, ``gz``, ``.gz`` ...) to smart-open's argument.

    Raises :class:`ConfigError` for a compression smart-open does not know.
    """
    from smart_open import compression as so_compression  # here: importing smart-open (and boto3) takes 0.13 s

    if compression == "infer":
        return so_compression.INFER_FROM_EXTENSION
    if compression == "none":
        return so_compression.NO_COMPRESSION
    ext = compression if compression.startswith(".") else f".{compression}"
    known = so_compression.get_supported_extensions()
    if ext.lower() not in known:
        choices = ", ".join(["infer", "none", *(e.lstrip(".") for e in known)])
        raise ConfigError(f"unknown compression {compression!r}; expected one of {choices}")
    return ext.lower()


def resolve(path: str, transport_params: dict[str, Any] | None) -> list[str]:
    """The files that ``path`` names, in sorted order. A path without glob characters names itself.

    Raises :class:`ConfigError` when a glob matches nothing, or globbing is not possible for that scheme.
    """
    if is_local(path):
        return _resolve_local(path)
    if path.startswith(S3_SCHEMES):
        bucket, _, key = path.split("://", 1)[1].partition("/")
        if not is_glob(key):
            return [path]
        if is_glob(bucket):
            raise path_error(path, f"{path!r}: a glob may not be used in the bucket name")
        scheme = path.split("://", 1)[0]
        keys = _list_s3(bucket, key, transport_params)
        if not keys:
            raise path_error(path, f"no S3 object matches {path!r}")
        return [f"{scheme}://{bucket}/{k}" for k in keys]
    if path.startswith(HTTP_SCHEMES):
        return [path]  # '?' begins a query string here, never a glob
    if is_glob(path):
        raise path_error(path, f"{path!r}: glob patterns work for local paths and s3:// only")
    return [path]


def _resolve_local(path: str) -> list[str]:
    plain = local_path(path)
    if not is_glob(plain) or os.path.isfile(plain):  # a real name holding '[' wins over a pattern
        return [plain]
    matches = sorted(p for p in glob.glob(plain, recursive=True) if os.path.isfile(p))
    if not matches:
        raise path_error(path, f"no file matches {path!r}")
    return matches


def s3_client(transport_params: dict[str, Any] | None) -> Any:
    """The boto3 S3 client that smart-open would use with these transport parameters.

    Without a ``client``, boto3 reads its usual configuration, including ``AWS_ENDPOINT_URL`` and
    ``AWS_ENDPOINT_URL_S3`` for an S3-compatible server.
    """
    params = transport_params or {}
    if params.get("client") is not None:
        return params["client"]
    import boto3

    client_kwargs = (params.get("client_kwargs") or {}).get("S3.Client", {})
    return boto3.client("s3", **client_kwargs)


def _list_s3(bucket: str, pattern: str, transport_params: dict[str, Any] | None) -> list[str]:
    """Keys of ``bucket`` matching ``pattern`` segment by segment (``*`` stays within one ``/`` segment,
    ``**`` spans any number of them), sorted."""
    first = min(i for i, ch in enumerate(pattern) if ch in GLOB_CHARS)
    prefix = pattern[:first]
    parts = pattern.split("/")
    client = s3_client(transport_params)
    try:
        keys = [k for k in _s3_keys(client, bucket, prefix) if not k.endswith("/") and _match(parts, k.split("/"))]
    except Exception as exc:
        reason = not_found_reason(exc)
        if reason is None:
            raise
        raise path_error(f"s3://{bucket}/", f"cannot list s3://{bucket}/{prefix}: {reason}") from exc
    return sorted(keys)


def _s3_keys(client: Any, bucket: str, prefix: str) -> Iterator[str]:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", ()):
            yield item["Key"]


def _match(pattern: list[str], parts: list[str]) -> bool:
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match(rest, parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], head) and _match(rest, parts[1:])


def open_binary(path: str, compression: str, transport_params: dict[str, Any] | None) -> IO[bytes]:
    """Open ``path`` for reading bytes, decompressed as ``compression`` (smart-open's argument) says."""
    import smart_open

    target = local_path(path) if is_local(path) else path
    handle: IO[bytes] = smart_open.open(
        target, "rb", compression=compression, transport_params=dict(transport_params or {})
    )
    return handle


def not_found_reason(exc: BaseException) -> str | None:
    """A short reason when ``exc`` (or an error it was raised from) means that the path does not exist or may
    not be read (a configuration problem); None for anything else (an outage, a bug)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, FileNotFoundError | IsADirectoryError | NotADirectoryError | PermissionError):
            return current.strerror or str(current)
        response = getattr(current, "response", None)
        status = getattr(response, "status_code", None)  # requests.HTTPError
        if status in NOT_FOUND_STATUSES:
            return f"HTTP {status}"
        if isinstance(response, dict):  # botocore ClientError
            code = str(response.get("Error", {}).get("Code", ""))
            if code in NOT_FOUND_CODES:
                return str(response.get("Error", {}).get("Message") or code)
        current = current.__cause__ or current.__context__
    return None
