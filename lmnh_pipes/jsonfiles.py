"""Reading a set of JSON object files with smart-open: a local folder, a glob, a file, or ``s3://bucket/prefix``.

For a validator that loads reference data when it opens. S3 listing uses boto3's own configuration, so
``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3``) points it at an S3-compatible server.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from typing import Any

from .decoding import DecodeError, decode_object
from .errors import ConfigError

__all__ = ["list_locations", "load_json_objects"]

_GLOB_CHARS = "*?["


def load_json_objects(
    location: str, pattern: str = "*.json", what: str = "location"
) -> list[tuple[str, dict[str, Any]]]:
    """Read every JSON object file at ``location`` whose base name matches ``pattern``, each decoded by
    :func:`~lmnh_pipes.decoding.decode_object`.

    Returns ``(path, object)`` pairs in path order. Raises :class:`ConfigError` when ``location`` does not exist
    or nothing matches, or when a file cannot be read or is not one JSON object. Messages call the location
    ``what`` (the caller's option name): ``reference '/data' does not exist``.
    """
    import smart_open

    paths = list_locations(location, pattern, what)
    if not paths:
        raise ConfigError(f"{what} {location!r} holds no file matching {pattern!r}")
    items = []
    for path in paths:
        try:
            with smart_open.open(path, "rb", transport_params=_transport(path)) as fh:
                items.append((path, decode_object(fh.read())))
        except DecodeError as exc:
            raise ConfigError(f"{what} file {path}: {exc}") from None
        except Exception as exc:
            raise ConfigError(f"{what} file {path} cannot be read: {exc}") from None
    return items


def list_locations(location: str, pattern: str = "*", what: str = "location") -> list[str]:
    """Expand a folder, glob, file or ``s3://`` location into sorted file paths matching ``pattern``.

    Raises :class:`ConfigError`, calling the location ``what``, when it does not exist or cannot be listed."""
    if location.startswith("s3://"):
        return _list_s3(location, pattern, what)
    if "://" in location:
        return [location]  # one remote object (https://...): nothing to list
    if any(c in location for c in _GLOB_CHARS):
        # The name pattern applies to a glob's matches too: "dir/*" must not read unrelated files.
        return sorted(
            p for p in glob.glob(location) if os.path.isfile(p) and fnmatch.fnmatchcase(os.path.basename(p), pattern)
        )
    if os.path.isdir(location):
        return sorted(
            os.path.join(location, n)
            for n in os.listdir(location)
            if fnmatch.fnmatchcase(n, pattern) and os.path.isfile(os.path.join(location, n))
        )
    if os.path.isfile(location):
        return [location]
    raise ConfigError(f"{what} {location!r} does not exist")


def _list_s3(location: str, pattern: str, what: str) -> list[str]:
    import boto3

    bucket, _, key = location[len("s3://") :].partition("/")
    glob_at = min((key.find(c) for c in _GLOB_CHARS if c in key), default=-1)
    if glob_at >= 0:
        prefix, full_pattern = key[:glob_at], key
    else:
        prefix, full_pattern = key, ""
    client = boto3.client("s3")
    try:
        found = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                name: str = obj["Key"]
                if full_pattern and not fnmatch.fnmatchcase(name, full_pattern):
                    continue
                if (
                    not full_pattern
                    and prefix
                    and not prefix.endswith("/")
                    and name[len(prefix) :][:1] not in ("", "/")
                ):
                    continue  # s3://bucket/data is a folder: not data-old/...
                if fnmatch.fnmatchcase(name.rsplit("/", 1)[-1], pattern):
                    found.append(name)
    except Exception as exc:
        raise ConfigError(f"{what} {location!r} cannot be listed: {exc}") from None
    return [f"s3://{bucket}/{k}" for k in sorted(found)]


def _transport(path: str) -> dict[str, Any]:
    if path.startswith("s3://"):
        import boto3

        return {"client": boto3.client("s3")}
    return {}
