"""How every benchmark prints its result: a table on stderr, then one JSON line on stdout."""

from __future__ import annotations

import json
from typing import Any


def print_result(result: dict[str, Any], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    Console(stderr=True).print(table)
    print(json.dumps(result))
