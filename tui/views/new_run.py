"""The New experiment form: every config field, presets, validation beside each field."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.suggester import Suggester
from textual.widget import Widget
from textual.widgets import Button, Input, Select, Static, Switch

from ...engine.config import PRESETS, SETTINGS, ConfigError, RunConfig, make_config
from ...engine.datasets import DATASETS, IMAGE_FOLDER
from ...engine.device_check import device_problem
from ...engine.models import MODELS
from ...engine.sweep import expand, parse_value
from ...engine.user_model import is_user_model
from ...store.study import PRUNERS, SEARCHES, StudySettings, check_grid, grid_size, search_space
from ..config_flags import model_completions
from ..safe_text import markup_safe

FIELD_NAMES = [f.name for f in fields(RunConfig) if not SETTINGS[f.name].internal]
MODEL_FILE_HELP = "or FILE.py:Class of your own (tab completes)"
IMAGE_FOLDER_HELP = "or a folder with train/ and test/ of class folders"
EXTRA_HELP = {  # form fields that are not config fields
    "model_file": MODEL_FILE_HELP,
    "image_folder": IMAGE_FOLDER_HELP,
    "copies": "N runs with seeds seed, seed+1, …",
    "search": "tpe, random or grid: Optuna proposes each next trial from the lists and ranges (1e-4:1e-1)",
    "trials": "the search's trials in all (grid: at most its size)",
    "prune": "stop a search's losing trials at an epoch's end",
}
EXTRA_FIELDS = tuple(EXTRA_HELP)


class ModelFileSuggester(Suggester):
    """Completes Python files, then the classes and functions in the file typed (tui/config_flags.py)."""

    def __init__(self):
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        offers = [offer for offer in model_completions(value) if offer.startswith(value) and offer != value]
        return offers[0] if offers else None


MAX_FORM_RUNS = 1000


def help_of(name: str, value: Any = None) -> str:
    """A field's help line; a switch says whether it is on, the dataset describes the chosen one."""
    if name in EXTRA_HELP:
        return EXTRA_HELP[name]
    if name == "dataset" and value in DATASETS:
        return DATASETS[value].help
    if isinstance(value, bool):
        return f"{'on ' if value else 'off'} · {SETTINGS[name].help}"
    return SETTINGS[name].help


class NewRunForm(Widget):
    """Emits Submitted with valid configs; shows each error beside its field."""

    BINDINGS = [Binding("ctrl+s", "app.add_run", "Add to queue")]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._wrong: dict[str, Any] = {}  # field -> the value its error is about

    class Submitted(Message):
        def __init__(self, configs: list[RunConfig], search: tuple[dict[str, Any], StudySettings] | None = None):
            """configs: the runs to queue; or search: a search's values and settings (no configs)."""
            super().__init__()
            self.configs = configs
            self.search = search

    def compose(self) -> ComposeResult:
        defaults = RunConfig()
        with VerticalScroll(id="form"):
            with Horizontal(classes="field"):
                yield Static("preset", classes="name")
                yield Select(
                    [(name, name) for name in PRESETS], prompt="custom", id="preset", value="seed-cnn", compact=True
                )
                yield Static("fills the fields below", classes="help")
            group = None
            for name in FIELD_NAMES:
                value, setting = getattr(defaults, name), SETTINGS[name]
                if setting.group != group:
                    group = setting.group
                    yield Static(group, classes="form-group")
                with Horizontal(classes="field", id=f"row-{name}"):
                    yield Static(name.replace("_", " "), classes="name")
                    if setting.allowed():
                        yield Select(
                            [(c, c) for c in setting.allowed()],
                            allow_blank=False,
                            id=f"field-{name}",
                            value=value,
                            compact=True,
                        )
                    elif isinstance(value, bool):
                        yield Switch(value=value, id=f"field-{name}")
                    else:
                        yield Input(str(value), id=f"field-{name}", select_on_focus=True, compact=True)
                    yield Static(markup_safe(help_of(name, value)), classes="help", id=f"error-{name}")
                if name == "model":
                    with Horizontal(classes="field", id="row-model_file"):
                        yield Static("model file", classes="name")
                        yield Input(
                            "",
                            id="field-model_file",
                            placeholder="net.py:Net",
                            suggester=ModelFileSuggester(),
                            compact=True,
                        )
                        yield Static(MODEL_FILE_HELP, classes="help", id="error-model_file")
                if name == "dataset":
                    with Horizontal(classes="field", id="row-image_folder"):
                        yield Static("image folder", classes="name")
                        yield Input("", id="field-image_folder", placeholder="path/to/folder", compact=True)
                        yield Static(IMAGE_FOLDER_HELP, classes="help", id="error-image_folder")
            with Horizontal(classes="field"):
                yield Static("copies", classes="name")
                yield Input("1", id="copies", select_on_focus=True, compact=True)
                yield Static(EXTRA_HELP["copies"], classes="help", id="error-copies")
            yield Static("search", classes="form-group")
            for name, choices in (("search", ("off", *SEARCHES)), ("trials", None), ("prune", PRUNERS)):
                with Horizontal(classes="field", id=f"row-{name}"):
                    yield Static(name, classes="name")
                    if choices:
                        yield Select(
                            [(c, c) for c in choices],
                            allow_blank=False,
                            id=f"field-{name}",
                            value=choices[0],
                            compact=True,
                        )
                    else:
                        yield Input("", placeholder="20 (grid: its size)", id=f"field-{name}", compact=True)
                    yield Static(EXTRA_HELP[name], classes="help", id=f"error-{name}")
        with Horizontal(id="form-buttons"):  # outside the scroll: always in view
            yield Button("Add to queue", variant="primary", id="add", compact=True)
            yield Static("ctrl+s adds from any field · F1-F4 switch tabs while typing", classes="help")

    def on_mount(self) -> None:
        self.fill(PRESETS["seed-cnn"])

    @on(Select.Changed, "#preset")
    def _preset_chosen(self, event: Select.Changed) -> None:
        if event.value in PRESETS:
            self.fill(PRESETS[event.value])

    @on(Select.Changed, "#field-model")
    def _model_chosen(self) -> None:
        self._describe_model()

    def _describe_model(self) -> None:
        spec = MODELS.get(str(self.query_one("#field-model", Select).value))
        label = self.query_one("#error-model", Static)
        label.remove_class("error")
        if spec is not None:
            size = f"{spec.input_size}x{spec.input_size}" + (
                " (resized on the device)" if spec.input_size != 32 else ""
            )
            label.update(f"{spec.family}, trains at {size}")

    def fill(self, values: dict[str, Any]) -> None:
        """Put a preset's (or a past run's) config into the form; other fields get defaults."""
        merged = {**RunConfig().to_dict(), **values}
        user_model = is_user_model(str(merged["model"]))
        # A past run's own model file: the form names it, and its recorded source goes with a clone.
        self.query_one("#field-model_file", Input).value = str(merged["model"]) if user_model else ""
        self._recorded_source = (str(merged["model"]), str(merged.get("model_source", ""))) if user_model else None
        if user_model:
            merged["model"] = RunConfig().model
        folder = str(merged["dataset"]).startswith(IMAGE_FOLDER)
        self.query_one("#field-image_folder", Input).value = (
            str(merged["dataset"])[len(IMAGE_FOLDER) :] if folder else ""
        )
        if folder:
            merged["dataset"] = RunConfig().dataset
        for name in FIELD_NAMES:
            widget = self.query_one(f"#field-{name}")
            value = merged[name]
            if isinstance(widget, Switch):
                widget.value = bool(value)
            elif isinstance(widget, Select):
                widget.value = value
            else:
                widget.value = str(value)
        self.clear_errors()

    def clone(self, config: dict[str, Any]) -> None:
        self.query_one("#preset", Select).clear()
        self.fill(config)

    def values(self) -> dict[str, Any]:
        values = {name: self.query_one(f"#field-{name}").value for name in FIELD_NAMES}
        model_file = self.query_one("#field-model_file", Input).value.strip()
        if model_file:
            values["model"] = model_file
            recorded = getattr(self, "_recorded_source", None)
            if recorded is not None and recorded[0] == model_file:
                values["model_source"] = recorded[1]  # a clone trains the recorded source, not today's file
        image_folder = self.query_one("#field-image_folder", Input).value.strip()
        if image_folder:
            values["dataset"] = IMAGE_FOLDER + image_folder
        return values

    def clear_errors(self) -> None:
        self._wrong.clear()
        for name in FIELD_NAMES + list(EXTRA_FIELDS):
            self.restore_help(name)

    def restore_help(self, name: str) -> None:
        if name == "model":
            self._describe_model()
            return
        label = self.query_one(f"#error-{name}", Static)
        label.remove_class("error")
        widget = self.query_one(f"#field-{name}" if name != "copies" else "#copies")
        label.update(markup_safe(help_of(name, widget.value)))

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Switch.Changed)
    def _field_changed(self, event) -> None:
        """A fixed field loses its error; a switch and the dataset keep their help line true."""
        name = (event.control.id or "").removeprefix("field-")
        if name in FIELD_NAMES or name in EXTRA_FIELDS:
            fixed = name in self._wrong and event.control.value != self._wrong[name]
            if fixed or isinstance(event, Switch.Changed) or name == "dataset":
                self._wrong.pop(name, None)
                self.restore_help(name)

    def show_error(self, field: str, message: str) -> None:
        label = self.query_one(f"#error-{field}", Static)
        label.add_class("error")
        label.update(markup_safe(message))  # it quotes what the user typed
        widget = self.query_one(f"#field-{field}" if field != "copies" else "#copies")
        self._wrong[field] = widget.value  # the error stays until this value changes
        widget.focus()

    def submit(self) -> None:
        """Queue the form's run, or its sweep when a field holds a list (1e-3,1e-2) or a range
        (0..4); copies repeat each with the next seeds."""
        self.clear_errors()
        try:
            values = {name: parse_value(name, value) for name, value in self.values().items()}
            search = self.search_settings(values)
            configs = [] if search else expand(values)
        except ConfigError as error:
            field = error.field if error.field in FIELD_NAMES or error.field in EXTRA_FIELDS else "name"
            if field == "model" and self.query_one("#field-model_file", Input).value.strip():
                field = "model_file"
            if field == "dataset" and self.query_one("#field-image_folder", Input).value.strip():
                field = "image_folder"
            self.show_error(field, str(error).split(": ", 1)[1])
            return
        if search:
            self.post_message(self.Submitted([], (values, search)))
            return
        for config in configs:
            device_problem = check_device(config, self.app.engine_devices)
            if device_problem:
                self.show_error(*device_problem)
                return
        preset = self.query_one("#preset", Select).value
        if preset in PRESETS:  # recorded: the ledger counts the run as the preset's if its recipe is unchanged
            configs = [config.replace(preset=preset) for config in configs]
        copies_text = self.query_one("#copies", Input).value.strip()
        if not copies_text.isdigit() or not 1 <= int(copies_text) <= 100:
            self.show_error("copies", f"must be a whole number from 1 to 100 (got {copies_text!r})")
            return
        copies = int(copies_text)
        if copies > 1:
            configs = [
                config.replace(seed=config.seed + i, name=f"{config.label} s{config.seed + i}")
                for config in configs
                for i in range(copies)
            ]
        if len(configs) > MAX_FORM_RUNS:
            self.show_error(
                "copies", f"{len(configs)} runs; the form queues at most {MAX_FORM_RUNS} (use a sweep file)"
            )
            return
        self.post_message(self.Submitted(configs))

    def search_settings(self, values: dict[str, Any]) -> StudySettings | None:
        """The search the form asks for (None: off), checked with its space; ConfigError names the field."""
        kind = self.query_one("#field-search", Select).value
        if kind == "off":
            return None
        trials = self.query_one("#field-trials", Input).value.strip()
        if trials and not trials.isdigit():
            raise ConfigError("trials", f"a whole number of trials (got {trials!r})")
        space = search_space(values, None)[0]
        count = int(trials) if trials else (grid_size(space) if kind == "grid" else None) or 20
        settings = StudySettings(kind, count, self.query_one("#field-prune", Select).value).checked()
        if isinstance(values.get("device"), str):
            problem = check_device(make_config(device=values["device"]), self.app.engine_devices)
            if problem:
                raise ConfigError(*problem)
        check_grid(settings, space)
        return settings

    @on(Button.Pressed, "#add")
    def _add(self) -> None:
        self.submit()

    @on(Input.Submitted)
    def _enter(self) -> None:
        self.screen.focus_next()  # enter goes to the next field; ctrl+s (or the button) queues


def check_device(config: RunConfig, devices: list[str] | None) -> tuple[str, str] | None:
    """(field, message) when the config cannot run on the devices the app's engine registered in
    the store (None: not known yet, nothing to check). The UI never asks torch itself."""
    return None if devices is None else device_problem(config.device, config.compile, devices)
    gpus = [d for d in devices if d.startswith("cuda")]
    name = "cuda:0" if config.device == "cuda" else config.device
    if name == "auto":
        name = (gpus or [d for d in devices if d == "mps"] or ["cpu"])[0]
    elif name.startswith("cuda") and not gpus:
        return "device", "cuda was asked for but CUDA is not available here; use cpu or auto"
    elif name not in devices:
        return "device", f"{name} does not exist; this machine has {', '.join(devices)}"
    if config.compile == "cudagraphs" and not name.startswith("cuda"):
        return "compile", f"cudagraphs needs a CUDA device; {config.device} is {name}"
    return None
