"""The exhibition catalogue of the ``kiosk`` validator: site strings mapped to public exhibition ids.

Each catalogue file is one JSON object with an ``EXHIBITION_ID`` of the form ``EXH_NN``. Site ``"N"`` names the
exhibition ``EXH_`` + N padded to two digits, so ``"3"`` is ``EXH_03`` and ``"12"`` is ``EXH_12``. Exhibitions are
looked up by that public id, never by their position in the catalogue.
"""

from __future__ import annotations

import re
from typing import Any, Final

import attrs

from lmnh_pipes import ConfigError, load_json_objects

__all__ = ["DEFAULT_PATTERN", "Exhibitions", "exhibition_id", "load_exhibitions"]

#: The catalogue files are selected by this base-name pattern (they lie beside unrelated files).
DEFAULT_PATTERN: Final = "lmnh_exhibition_*.json"

_ID = re.compile(r"EXH_([0-9]{2,})", re.ASCII)


def exhibition_id(site: str) -> str:
    """The public exhibition id that a canonical site string names: ``"3"`` -> ``"EXH_03"``."""
    return f"EXH_{int(site):02d}"


@attrs.frozen(kw_only=True)
class Exhibitions:
    """A loaded catalogue: ``by_site`` maps a canonical site string to its id; ``objects`` maps an id to its file's
    object; ``paths`` maps an id to the file it came from."""

    by_site: dict[str, str]
    objects: dict[str, dict[str, Any]]
    paths: dict[str, str]


def load_exhibitions(location: str, pattern: str = DEFAULT_PATTERN) -> Exhibitions:
    """Read the catalogue at ``location`` (a folder, a glob, a file or ``s3://bucket/prefix``).

    Raises :class:`~lmnh_pipes.ConfigError` when it is missing, holds no exhibition file, or a file has no valid,
    unique ``EXHIBITION_ID``.
    """
    by_site: dict[str, str] = {}
    objects: dict[str, dict[str, Any]] = {}
    paths: dict[str, str] = {}
    for path, obj in load_json_objects(location, pattern, "catalogue"):
        ident = obj.get("EXHIBITION_ID")
        if not isinstance(ident, str):
            raise ConfigError(f"catalogue file {path}: expected a string EXHIBITION_ID, found {ident!r}")
        m = _ID.fullmatch(ident)
        site = str(int(m.group(1))) if m else ""
        if m is None or exhibition_id(site) != ident:
            raise ConfigError(
                f"catalogue file {path}: EXHIBITION_ID {ident!r} is not 'EXH_' and a number of at least two digits "
                "without extra leading zeros (EXH_00, EXH_03, EXH_12)"
            )
        if ident in paths:
            raise ConfigError(f"catalogue files {paths[ident]} and {path} both hold EXHIBITION_ID {ident!r}")
        by_site[site] = ident
        objects[ident] = obj
        paths[ident] = path
    if not by_site:  # load_json_objects refuses an empty catalogue; kept for a reader that changes that
        raise ConfigError(f"catalogue {location!r} holds no exhibition")
    return Exhibitions(by_site=by_site, objects=objects, paths=paths)
