"""The printable-text rule, once: what a name, note, tag, filter word or any text a user gives
may hold, and how stored text is shown, since a store written by hand or by an older version
may hold anything."""

from __future__ import annotations

import unicodedata


def unprintable(text: str) -> str | None:
    """Why the text cannot be a user's text (it holds a control or invisible character); None if it can."""
    bad = next((ch for ch in text if not ch.isprintable()), None)  # a space is printable; a tab is not
    return (
        None if bad is None else f"must be printable text; it holds the invisible or control character U+{ord(bad):04X}"
    )


def printable(text: str) -> str:
    """Control characters (ESC, BEL, CR, ...) as visible escapes such as \\x1b; the rest as is."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    if unicodedata.category(ch) == "Zs":  # exotic spaces print as spaces
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
