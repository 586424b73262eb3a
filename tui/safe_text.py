"""Text from the store is data: it never reaches the terminal as markup or control sequences.

Names are refused with control characters at input (engine/config.py), but a store written by
an older version, or by hand, may hold any text; errors quote whatever the user typed.
"""

from __future__ import annotations

import unicodedata

from rich.markup import escape
from rich.text import Text


def printable(text: str) -> str:
    """Control characters (ESC, BEL, CR, ...) as visible escapes such as \\x1b; the rest as is."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    if unicodedata.category(ch) in ("Zs",):  # exotic spaces print as spaces
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain(text: object) -> Text:
    """A Rich/Textual renderable that shows the text literally: no markup, no escapes."""
    return Text(printable("" if text is None else str(text)))


def markup_safe(text: object) -> str:
    """For places that take markup (notifications, Static): the text escaped, shown literally."""
    return escape(printable("" if text is None else str(text)))
