"""The `cifar-tui` command group, and what its commands share: run ids, bad input, the config from flags."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from ...engine.config import make_config
from ...engine.text import unprintable
from ...store.runs import RunStore
from ..worker.errors import fail, log_error, one_line
from ..worker.home import ENV_HOME, Home, default_home

SQLITE_MAX_INT = 2**63 - 1  # the largest integer a store's column (or a LIMIT) holds


class RunIdType(click.IntRange):
    """A run id; the shell completes the newest ones from the store."""

    def __init__(self) -> None:
        super().__init__(1, SQLITE_MAX_INT)  # a larger id is a typo, not an overflow

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
        from click.shell_completion import CompletionItem

        try:
            home = ctx.find_root().params.get("home") or os.environ.get(ENV_HOME)
            store = Home(Path(home).expanduser() if home else default_home()).store()
            rows = store.find(sort="-id", limit=200)
        except Exception:  # completion never prints an error into the user's command line
            return []
        return [
            CompletionItem(str(r["id"]), help=r["name"] or r["model"])
            for r in rows
            if str(r["id"]).startswith(incomplete)
        ]


RUN_ID = RunIdType()


SMALL_STORE = 100  # tui/bench/ui.py's baseline store


TABLE_ROWS = 100  # rows `cifar-tui runs` prints unless told otherwise


class BadInput(click.UsageError):
    """A user's mistake: exit status 2 and one line."""


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cifar-tui", prog_name="cifar-tui")
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    envvar=ENV_HOME,
    help=f"Folder for runs.db and data/ (default: ${ENV_HOME} or the user data folder).",
)
@click.option(
    "--engine",
    type=click.Choice(["process", "thread"]),
    default="process",
    show_default=True,
    help="Where the app trains: a `cifar-tui worker` child process, or a thread of the app.",
)
@click.option(
    "--notify",
    metavar="TARGET",
    help="The app's engine tells of each run it ends: an http(s):// URL it POSTs the summary to, or a "
    "command it gives it on stdin (default: the home's setting notify).",
)
@click.pass_context
def cli(ctx: click.Context, home: str | None, engine: str, notify: str | None) -> None:
    """A terminal experiment runner for CIFAR-10. With no command, opens the app."""
    if home is not None and not str(home).strip():
        raise BadInput("home: an empty path; give a folder, or leave --home out for the default")
    ctx.obj = Home((default_home() if home is None else Path(home)).expanduser())
    ctx.obj.start_log()
    if notify is not None:
        from ..worker.notify import ENV, NotifyError, checked_target

        try:
            os.environ[ENV] = checked_target(notify) if notify else ""  # the engine child inherits it
        except NotifyError as error:
            raise BadInput(str(error)) from None
    if ctx.invoked_subcommand is None:
        from ..app import CifarApp

        app = CifarApp(ctx.obj, engine=engine)
        app.run()
        if app.return_code:
            crash = getattr(app, "_exception", None)  # Textual keeps what stopped the app
            if crash is not None:
                log_error(crash)
            fail(f"the app stopped on an error; details in {ctx.obj.log_path}", app.return_code)


def sweep_values(flags: dict[str, Any]) -> dict[str, Any]:
    """The config flags given, each parsed: one value, a list, a range or an interval."""
    from ...engine.sweep import parse_value

    return {key: parse_value(key, value) for key, value in flags.items() if value is not None}


def config_from_flags(flags: dict[str, Any]):
    # Numbers arrive as text so that the config's validation names the field in every error.
    from ...engine.sweep import is_sweep

    preset = flags.pop("preset")
    values = sweep_values(flags)
    if is_sweep(values):
        raise BadInput("run trains one config; queue a sweep (lists, ranges) with `cifar-tui queue add`")
    return make_config(preset, **values)


def check_device(config) -> None:
    """The app's form asks the same of the devices its engine registered (engine/device_check.py)."""
    from ...engine.device import available_devices
    from ...engine.device_check import device_problem

    if problem := device_problem(config.device, config.compile, available_devices()):
        raise BadInput(": ".join(problem))


def store_of(ctx: click.Context) -> RunStore:
    return ctx.obj.store()


def check_text(field: str, text: str, limit: int) -> None:
    if problem := unprintable(text):
        raise BadInput(f"{field}: {problem}")
    if len(text) > limit:
        raise BadInput(f"{field}: at most {limit} characters (got {len(text)})")


def main(argv: list[str] | None = None) -> None:
    for stream in (sys.stdout, sys.stderr):  # a non-UTF-8 locale shows odd names as escapes, never crashes
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        status = cli.main(args=argv, prog_name="cifar-tui", standalone_mode=False)
    except click.exceptions.Abort:
        fail("interrupted", 130)
    except click.exceptions.NoArgsIsHelpError as error:  # `cifar-tui queue`: its help, as --help shows it
        assert error.ctx is not None
        click.echo(error.ctx.get_help(), err=True)
        sys.exit(2)
    except click.UsageError as error:
        fail(error.format_message(), 2)
    except click.ClickException as error:
        fail(error.format_message(), error.exit_code)
    except Exception as error:
        fail(*one_line(error))
    sys.exit(status if isinstance(status, int) else 0)
