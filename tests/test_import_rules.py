"""DESIGN.md's import rules, checked in fresh interpreters."""

import json
import subprocess
import sys

import pytest

ENGINE_MODULES = ["engine.config", "engine.models", "engine.data", "engine.train", "engine.worker",
                  "engine.events", "engine.loss_stream", "engine.device"]
STORE_MODULES = ["store.schema", "store.runs", "store.recorder", "store.export"]


def loaded_after_import(modules: list[str]) -> set[str]:
    code = f"import importlib, json, sys\nfor m in {modules!r}: importlib.import_module(m)\nprint(json.dumps(list(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return {name.split(".")[0] for name in json.loads(out)}


@pytest.mark.parametrize("modules, forbidden", [
    (ENGINE_MODULES, {"textual", "sqlite_utils"}),
    (STORE_MODULES, {"textual", "torch"}),
])
def test_package_imports_nothing_forbidden(modules, forbidden):
    loaded = loaded_after_import(modules)
    assert {m.split(".")[0] for m in modules} <= loaded
    assert not loaded & forbidden


@pytest.mark.parametrize("module", ["tui.cli", "tui.app"])
def test_start_up_does_without_torch(module):
    # Commands that only read the store, and the app's first frame, must not wait for torch.
    assert "torch" not in loaded_after_import([module])
