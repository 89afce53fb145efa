"""Bytes as one line of readable text, and back: how the ``csv`` sink writes ``raw`` (and any other bytes).

Printable UTF-8 text stands for itself. A backslash is written ``\\\\``. Each byte that is not part of valid UTF-8,
and each control byte (0x00-0x1F and 0x7F: NUL, TAB, CR and LF among them), is written ``\\xNN`` in lowercase hex.
The text so made holds no control character (one reject, one line; nothing that COPY or a spreadsheet refuses),
and only one byte string gives it: the literal four characters ``\\xd0`` are written ``\\\\xd0``, the byte 0xD0 is
written ``\\xd0``.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["RawTextError", "decode", "encode"]

# What cannot stand for itself: controls, the backslash, and (after decoding with surrogateescape) each byte that
# is not valid UTF-8, as a lone surrogate U+DC80..U+DCFF.
_SPECIAL: Final = re.compile("[\x00-\x1f\x7f\\\\\udc80-\udcff]")
_ESCAPES: Final = {
    **{code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F)},
    ord("\\"): "\\\\",
    **{0xDC00 + byte: f"\\x{byte:02x}" for byte in range(0x80, 0x100)},
}
_VALID_ESCAPE: Final = re.compile(r"\\\\|\\x[0-9a-f]{2}")
_BACKSLASH: Final = re.compile(r"\\(\\|x[0-9a-f]{2})?")


class RawTextError(ValueError):
    """Text that :func:`decode` refuses: a backslash followed by something other than ``\\`` or ``xNN``."""


def encode(data: bytes) -> str:
    """``data`` as text: itself where it is printable UTF-8, ``\\\\`` and ``\\xNN`` escapes elsewhere."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", "surrogateescape")
    else:
        # The usual case, nothing to escape: printable ASCII is checked in C; other text by one regex search.
        if (text.isascii() and text.isprintable() and "\\" not in text) or _SPECIAL.search(text) is None:
            return text
    return text.translate(_ESCAPES)


def decode(text: str) -> bytes:
    """The bytes that :func:`encode` made ``text`` of. :class:`RawTextError` for a backslash that begins neither
    ``\\\\`` nor ``\\xNN`` (lowercase hex). Characters other than a backslash stand for their UTF-8 bytes."""
    if "\\" not in text:
        return text.encode("utf-8")
    if "\\" in _VALID_ESCAPE.sub("", text):
        bad = next(m.start() for m in _BACKSLASH.finditer(text) if m.group(1) is None)
        raise RawTextError(
            f"{text[bad : bad + 4]!r} at character {bad}: a backslash must begin \\\\ (a backslash) or \\xNN (a byte)"
        )
    # Only \\ and \xNN are left to unicode_escape; every other byte becomes the latin-1 character that gives it back.
    return text.encode("utf-8").decode("unicode_escape").encode("latin-1")
