"""`python -m cifar_tui.tui.worker --home DIR [options]`: a worker started without the command
line or the app (the app's child worker and a pool's members start this way)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .command import start, worker_options
from .errors import fail, one_line
from .home import ENV_HOME, Home, default_home

PROGRAM = "cifar-tui worker"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(file_okay=False), envvar=ENV_HOME, help="Folder for runs.db and data/.")
@worker_options
def worker(home: str | None, **options) -> int:
    """Train queued runs; Ctrl-C cancels the one training and stops."""
    folder = Home((default_home() if home is None else Path(home)).expanduser())
    folder.start_log()
    return start(folder, **options)


def main(argv: list[str] | None = None) -> None:
    try:
        status = worker.main(args=argv, prog_name=PROGRAM, standalone_mode=False)
    except click.exceptions.Abort:
        fail("interrupted", 130, PROGRAM)
    except click.ClickException as error:
        fail(error.format_message(), 2 if isinstance(error, click.UsageError) else error.exit_code, PROGRAM)
    except Exception as error:
        fail(*one_line(error), PROGRAM)
    sys.exit(status if isinstance(status, int) else 0)


if __name__ == "__main__":
    main()
