"""A config field is declared once (engine/config.py): the flags, the form, `show` and the
README's flag list are made from that declaration, and these tests fail when any lacks a field."""

from dataclasses import fields
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from textual.widgets import Select, Static, Switch

from cifar_tui.engine.config import GROUPS, SETTINGS, RunConfig
from cifar_tui.tui.app import CifarApp
from cifar_tui.tui.cli import cli
from cifar_tui.tui.config_flags import flag, flag_reference
from cifar_tui.tui.views.new_run import help_of

FIELDS = [f.name for f in fields(RunConfig) if not SETTINGS[f.name].internal]  # internal: filled in, never typed
INTERNAL = [f.name for f in fields(RunConfig) if SETTINGS[f.name].internal]
README = Path(__file__).parents[2] / "README.md"


def test_every_field_declares_its_help_and_group_and_groups_are_contiguous():
    seen = []
    for name in FIELDS:
        setting = SETTINGS[name]
        assert setting.help.strip(), name
        assert setting.group in GROUPS, name
        if not seen or seen[-1] != setting.group:
            assert setting.group not in seen, f"{name}: group {setting.group} is split"
            seen.append(setting.group)


@pytest.mark.parametrize("command", [("run",), ("queue", "add")])
def test_every_field_is_a_flag(command):
    target = cli
    for word in command:
        target = target.commands[word]
    options = {opt for param in target.params for opt in param.opts + param.secondary_opts}
    for name in FIELDS:
        assert flag(name) in options, name
        if isinstance(getattr(RunConfig(), name), bool):
            assert "--no-" + flag(name)[2:] in options, name


def test_fields_with_choices_complete_in_the_shell():
    run = cli.commands["run"]
    ctx = click.Context(run)
    for name in FIELDS:
        allowed = SETTINGS[name].allowed()
        if not allowed:
            continue
        param = next(p for p in run.params if flag(name) in p.opts)
        offered = [item.value for item in param.type.shell_complete(ctx, param, "")]
        assert offered[: len(allowed)] == list(allowed)  # the model's are followed by files
    optimizer = next(p for p in run.params if "--optimizer" in p.opts)
    assert [item.value for item in optimizer.type.shell_complete(ctx, optimizer, "s")] == ["sgd"]
    assert "[adam|adamw|sgd|muon]" in CliRunner().invoke(cli, ["run", "--help"]).output


def test_readme_flag_list_is_generated_from_the_fields():
    text = README.read_text()
    start = text.index("\n", text.index("<!-- config flags:")) + 1
    end = text.index("<!-- end of config flags -->")
    assert text[start:end] == flag_reference(), (
        "README's flag list is stale: paste the output of "
        "python -c 'from cifar_tui.tui.config_flags import flag_reference; print(flag_reference(), end=\"\")'"
    )
    for name in FIELDS:
        assert f"`{flag(name)}`" in text[start:end]


def test_show_lists_every_field_by_group(tmp_path):
    runner = CliRunner()
    home = ["--home", str(tmp_path)]
    assert runner.invoke(cli, [*home, "queue", "add", "--dataset", "synthetic", "--name", "shown"]).exit_code == 0
    result = runner.invoke(cli, [*home, "show", "1"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for name in FIELDS:
        assert f" {name} " in result.output, name
    lines = result.output.splitlines()
    assert [g for g in GROUPS if any(line.startswith(f"│ {g} ") for line in lines)] == list(GROUPS)


async def test_the_form_has_every_field_in_its_group(tmp_path):
    from cifar_tui.tui.worker.home import Home

    app = CifarApp(Home(tmp_path), engine="thread")
    async with app.run_test(size=(100, 60)):
        form = app.query_one("#form")
        order = [child for child in form.children]
        headers = {str(w.render()): i for i, w in enumerate(order) if w.has_class("form-group")}
        assert list(headers) == [*GROUPS, "search"]  # the search section is the form's own, after the config's
        for name in FIELDS:
            row = app.query_one(f"#row-{name}")
            position = order.index(row)
            group = max((g for g, i in headers.items() if i < position), key=headers.get)
            assert group == SETTINGS[name].group, name
            widget = app.query_one(f"#field-{name}")
            if SETTINGS[name].allowed():
                assert isinstance(widget, Select), name
            elif isinstance(getattr(RunConfig(), name), bool):
                assert isinstance(widget, Switch), name
            if name != "model":  # the model's line describes the chosen model
                assert str(app.query_one(f"#error-{name}", Static).render()) == help_of(name, widget.value)


def test_devices_and_run_ids_complete(tmp_path, monkeypatch):
    run = cli.commands["run"]
    device = next(p for p in run.params if "--device" in p.opts)
    assert [i.value for i in device.type.shell_complete(click.Context(run), device, "cu")] == [
        "cuda",
        "cuda:0",
        "cuda:1",
    ]
    runner = CliRunner()
    for name in ("a", "b"):
        runner.invoke(cli, ["--home", str(tmp_path), "queue", "add", "--name", name])
    monkeypatch.setenv("CIFAR_TUI_HOME", str(tmp_path))
    show = cli.commands["show"]
    ctx = click.Context(show, parent=click.Context(cli, info_name="cifar-tui"))
    ctx.parent.params = {"home": None}
    run_id = show.params[0]
    assert [(i.value, i.help) for i in run_id.type.shell_complete(ctx, run_id, "")] == [("2", "b"), ("1", "a")]


def test_an_internal_field_is_no_flag_and_no_form_field():
    assert INTERNAL == ["model_source", "preset"]
    options = {opt for param in cli.commands["run"].params for opt in param.opts}
    for internal in ("--model-source", "--preset-name"):
        assert internal not in options and internal not in flag_reference()
    assert "--preset" in options  # the preset's own option, which fills the recipe and records its name


def test_the_model_completes_python_files_then_their_classes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nets").mkdir()
    (tmp_path / "nets" / "wide.py").write_text("class Wide:\n    pass\n\ndef build(num_classes):\n    pass\n")
    (tmp_path / "notes.txt").write_text("")
    run = cli.commands["run"]
    param = next(p for p in run.params if "--model" in p.opts)

    def offers(typed):
        return [item.value for item in param.type.shell_complete(click.Context(run), param, typed)]

    assert offers("n") == ["nets/"]
    assert offers("nets/") == ["nets/wide.py:"]
    assert offers("nets/wide.py:") == ["nets/wide.py:Wide", "nets/wide.py:build"]
    assert offers("nets/wide.py:W") == ["nets/wide.py:Wide"]
    assert offers("seed-r") == ["seed-resnet"]


def test_the_dataset_completes_its_names_then_folder_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cinic" / "train").mkdir(parents=True)
    (tmp_path / "cinic" / "valid").mkdir()
    (tmp_path / "cifar.txt").write_text("")
    run = cli.commands["run"]
    param = next(p for p in run.params if "--dataset" in p.opts)

    def offers(typed):
        return [item.value for item in param.type.shell_complete(click.Context(run), param, typed)]

    assert offers("cifar100") == ["cifar100", "cifar100-coarse"]
    assert offers("f") == ["folder:"]
    assert offers("folder:") == ["folder:cinic/"]
    assert offers("folder:cinic/") == ["folder:cinic/train/", "folder:cinic/valid/"]
