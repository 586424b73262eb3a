"""Text from the store is data: it never reaches the terminal as markup or control sequences.

Names are refused with control characters at input (engine/config.py), but a store written by
an older version, or by hand, may hold any text; errors quote whatever the user typed.
"""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text

from ..engine.text import printable

__all__ = ["markup_safe", "middle_cut", "plain", "printable"]


def plain(text: object) -> Text:
    """A Rich/Textual renderable that shows the text literally: no markup, no escapes."""
    return Text(printable("" if text is None else str(text)))


def markup_safe(text: object) -> str:
    """For places that take markup (notifications, Static): the text escaped, shown literally."""
    return escape(printable("" if text is None else str(text)))


def middle_cut(text: str, width: int) -> str:
    """Text of more than `width` characters with its middle cut out: a path keeps its start and
    its file's name ("/data/sets/cif…/cifar10-c/gaussian_noise")."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return f"{text[:head]}…{text[len(text) - (width - 1 - head) :]}"
