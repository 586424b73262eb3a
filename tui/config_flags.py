"""The command line's config flags, made from the config's own field declarations
(engine/config.py): one `--flag` per field, completion for fields with choices, and the README's
flag list. Values stay text: the config's validation names the field in every error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

import click
from click.shell_completion import CompletionItem

from ..engine.config import PRESETS, SETTINGS, RunConfig

_KIND = {int: "INTEGER", float: "NUMBER", str: "TEXT"}


class FieldValue(click.ParamType):
    """A value as typed (text), with the allowed values for help and shell completion."""

    def __init__(
        self,
        kind: str,
        allowed: Callable[[], tuple[str, ...]] = tuple,
        suggested: Callable[[], tuple[str, ...]] | None = None,  # completion's offers (default: allowed)
        complete: Callable[[str], list[str]] | None = None,  # or offers made from what is typed so far
    ):
        self.name = kind.lower()
        self.kind = kind
        self.allowed = allowed
        self.suggested = suggested or allowed
        self.complete = complete

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        allowed = self.allowed()
        return f"[{'|'.join(allowed)}]" if allowed and len(allowed) <= 6 else self.kind

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return value if isinstance(value, str) else str(value)

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        if self.complete is not None:
            return [CompletionItem(choice) for choice in self.complete(incomplete)]
        return [CompletionItem(choice) for choice in self.suggested() if choice.startswith(incomplete)]


def typed_fields() -> list:
    """The config fields people set; the internal ones (a model file's source) are filled in."""
    return [f for f in fields(RunConfig) if not SETTINGS[f.name].internal]


def field_value(name: str, kind: type) -> FieldValue:
    setting = SETTINGS[name]
    if name == "model":
        return FieldValue(_KIND[kind], setting.allowed, None, model_completions)
    if name == "dataset":
        return FieldValue(_KIND[kind], setting.allowed, None, dataset_completions)
    return FieldValue(_KIND[kind], setting.allowed, lambda: setting.allowed() or setting.examples)


def model_completions(incomplete: str) -> list[str]:
    """Built-in models, Python files (as FILE.py:), and the classes and functions of a FILE.py: typed."""
    import ast
    from pathlib import Path

    from ..engine.user_model import SUFFIX

    if SUFFIX in incomplete:
        path, _, start = incomplete.rpartition(SUFFIX)
        try:
            tree = ast.parse(Path(path + ".py").expanduser().read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            return []
        names = [n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))]
        return [f"{path}{SUFFIX}{name}" for name in names if name.startswith(start)]
    folder, _, start = incomplete.rpartition("/")
    try:
        entries = sorted(Path(folder or ".").expanduser().iterdir())
    except OSError:
        entries = []
    prefix = f"{folder}/" if folder else ""
    files = [
        f"{prefix}{e.name}" + ("/" if e.is_dir() else ":")
        for e in entries
        if e.name.startswith(start) and not e.name.startswith(".") and (e.is_dir() or e.suffix == ".py")
    ]
    return [name for name in SETTINGS["model"].allowed() if name.startswith(incomplete)] + files


def dataset_completions(incomplete: str) -> list[str]:
    """The datasets by name, then folder:PATH's folders as the path is typed."""
    from pathlib import Path

    from ..engine.datasets import IMAGE_FOLDER

    names = [name for name in (*SETTINGS["dataset"].allowed(), IMAGE_FOLDER) if name.startswith(incomplete)]
    if not incomplete.startswith(IMAGE_FOLDER):
        return names
    folder, _, start = incomplete[len(IMAGE_FOLDER) :].rpartition("/")
    try:
        entries = sorted(Path(folder or ".").expanduser().iterdir())
    except OSError:
        return []
    prefix = IMAGE_FOLDER + (f"{folder}/" if folder else "")
    return [f"{prefix}{e.name}/" for e in entries if e.is_dir() and e.name.startswith(start) and e.name[0] != "."]


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def describe(name: str) -> str:
    """A field's help with its unit and default, as `--help` and the README print it."""
    setting = SETTINGS[name]
    default = getattr(RunConfig(), name)
    shown = ("on" if default else "off") if isinstance(default, bool) else (default if default != "" else "none")
    unit = f" Unit: {setting.unit}." if setting.unit else ""
    return f"{setting.help}{unit} Default: {shown}."


def config_options(command: Callable) -> Callable:
    """Every config flag, plus --preset, on a click command. None means: keep the preset's value."""
    presets = FieldValue("TEXT", lambda: tuple(PRESETS))
    options = [click.option("--preset", type=presets, help="Start from a preset's values.")]
    for f in typed_fields():
        kind = type(f.default)
        if kind is bool:
            names = f"{flag(f.name)}/--no-{flag(f.name)[2:]}"
            options.append(click.option(names, f.name, default=None, help=describe(f.name)))
        else:
            options.append(click.option(flag(f.name), f.name, type=field_value(f.name, kind), help=describe(f.name)))
    for option in reversed(options):
        command = option(command)
    return command


def flag_reference() -> str:
    """The README's table of config flags, by form group."""
    lines = ["| flag | group | allowed | meaning |", "| --- | --- | --- | --- |"]
    for f in typed_fields():
        setting = SETTINGS[f.name]
        kind = type(f.default)
        names = f"`{flag(f.name)}` / `--no-{flag(f.name)[2:]}`" if kind is bool else f"`{flag(f.name)}`"
        allowed = ", ".join(setting.allowed()) if setting.allowed() else _KIND.get(kind, "on/off").lower()
        if f.name == "model":
            allowed = "see `cifar-tui models`; FILE.py:Class"
        lines.append(f"| {names} | {setting.group} | {allowed} | {_markdown_text(describe(f.name))} |")
    return "\n".join(lines) + "\n"


def _markdown_text(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
