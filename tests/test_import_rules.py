"""ARCHITECTURE.md's import rules, each checked: statically on the source tree (every import,
function-level ones too, relative ones resolved) and, for what a module loads at import time, in
a fresh interpreter."""

import ast
import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("engine", "store", "tui")
# The engine modules the store may import: torch-free at import time, they describe a run
# (its config, events, environment, class names) or move its files (ARCHITECTURE.md, rule 2).
STORE_MAY_IMPORT = {
    "cifar_tui.engine.config",
    "cifar_tui.engine.events",
    "cifar_tui.engine.text",
    "cifar_tui.engine.sweep",
    "cifar_tui.engine.environment",
    "cifar_tui.engine.cifar_classes",
    "cifar_tui.engine.checkpoint",
    "cifar_tui.engine.pause_points",
    "cifar_tui.engine.presets",
}
# Every floor, lowest first, and the floors below it that it may import (ARCHITECTURE.md).
FLOORS = {"engine": set(), "store": {"engine"}, "worker": {"engine", "store"}, "tui": {"engine", "store", "worker"}}


@functools.cache
def module_files() -> dict[str, Path]:
    return {
        ".".join(("cifar_tui", *p.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__"): p
        for package in LAYERS
        for p in (ROOT / package).rglob("*.py")
    }


def resolved(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute name an ImportFrom names: `from ..engine import x` in cifar_tui.store.runs is cifar_tui.engine."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imported_names() -> dict[str, set[str]]:
    """module -> every name it imports, anywhere in its source (function-level imports too)."""
    return {module: set(names) for module, names in parsed_imports().items()}


@functools.cache
def parsed_imports() -> dict[str, frozenset[str]]:
    """The source tree parsed once per session (the rules read it many times)."""
    imported: dict[str, frozenset[str]] = {}
    for module, path in module_files().items():
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                target = resolved(module, path, node)
                names |= {target} | {f"{target}.{alias.name}" for alias in node.names}
        imported[module] = frozenset(names)
    return imported


def import_graph() -> dict[str, set[str]]:
    """module -> the project's modules it imports (a cycle through a late import is a cycle all the same)."""
    imported = imported_names()
    return {
        module: {name for name in names if name in imported and name != module} for module, names in imported.items()
    }


def floor(module: str) -> str:
    """The floor of a project module (cifar_tui.tui.worker.headless -> worker), or a top-level name."""
    parts = module.split(".")
    if parts[0] != "cifar_tui" or len(parts) < 2:
        return parts[0]
    return "worker" if parts[1:3] == ["tui", "worker"] else parts[1]


def outside_names(module: str) -> set[str]:
    """The top-level names of the libraries a module imports."""
    return {name.split(".")[0] for name in imported_names()[module] if not name.startswith("cifar_tui")}


def loaded_after_import(modules: list[str]) -> set[str]:
    code = f"import importlib, json, sys\nfor m in {modules!r}: importlib.import_module(m)\nprint(json.dumps(list(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return {floor(name) for name in json.loads(out)}


def modules_of(name: str) -> list[str]:
    return sorted(m for m in module_files() if floor(m) == name)


def test_the_graph_is_read_whole():
    graph = import_graph()
    assert len(graph) >= 100
    assert "cifar_tui.engine.config" in graph["cifar_tui.store.run_queue"]  # a relative import across floors
    assert "cifar_tui.store.schema" in graph["cifar_tui.store.runs"]  # and within one
    assert "cifar_tui.tui.worker.headless" in graph["cifar_tui.tui.cli.training"]
    assert "cifar_tui.tui.cli.root" in graph["cifar_tui.tui.cli"]  # a package's __init__ is a module too


def test_rule_1_floors_import_only_the_floors_below():
    wrong = {
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for target in targets
        if floor(target) != floor(module) and floor(target) not in FLOORS[floor(module)]
    }
    assert not wrong, sorted(wrong)


def test_rule_2_the_store_imports_only_the_engine_s_descriptions():
    imports = {t for m in modules_of("store") for t in import_graph()[m] if floor(t) == "engine"}
    assert imports and imports <= STORE_MAY_IMPORT, sorted(imports - STORE_MAY_IMPORT)


@pytest.mark.parametrize(
    "name, forbidden",
    [
        ("engine", {"textual", "sqlite_utils", "rich", "click"}),
        ("store", {"textual", "torch", "torchvision", "rich", "click"}),
        ("worker", {"textual"}),
    ],
)
def test_rule_3_libraries_stay_on_their_floors(name, forbidden):
    found = {f"{m}: {lib}" for m in modules_of(name) for lib in outside_names(m) & forbidden}
    assert not found, sorted(found)


def test_rule_4_only_the_engine_s_ray_backend_imports_ray():
    importers = {module for module, names in imported_names().items() if any(n.split(".")[0] == "ray" for n in names)}
    assert importers == {"cifar_tui.engine.ray_backend"}


EXTRAS = {  # an optional extra's library -> the only modules that import it
    "matplotlib": {"cifar_tui.tui.figures.style", "cifar_tui.tui.figures.kinds"},
    "torch.utils.tensorboard": {"cifar_tui.tui.tensorboard_export"},  # TensorBoard's writer, as torch ships it
    "mlflow": {"cifar_tui.tui.mlflow_export"},
}


@pytest.mark.parametrize("library", sorted(EXTRAS))
def test_rule_7_an_extra_s_library_is_imported_by_its_own_modules_only(library):
    names = imported_names()
    importers = {module for module, found in names.items() if any(f"{n}.".startswith(f"{library}.") for n in found)}
    assert importers <= EXTRAS[library] and importers, importers


def test_rule_5_the_package_names_itself_relatively():
    """`from cifar_tui.…` inside the package resolves only through the install's package map: a
    tool that reads the checkout (an import-graph drawer, a type checker) could not follow it."""
    absolute = {
        f"{module}: {node.module}"
        for module, path in module_files().items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith("cifar_tui")
    }
    assert not absolute, sorted(absolute)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_rule_6_no_import_cycles_between_modules_or_floors():
    graph = import_graph()
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))
    floors = {floor(name): set() for name in graph}
    for module, targets in graph.items():
        floors[floor(module)] |= {floor(t) for t in targets} - {floor(module)}
    assert find_cycle(floors) is None
    assert floors == FLOORS  # each floor uses the ones below it: the picture is true


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]


def test_the_floor_rule_catches_an_import_from_below(monkeypatch):
    graph = import_graph() | {"cifar_tui.store.runs": import_graph()["cifar_tui.store.runs"] | {"cifar_tui.tui.app"}}
    monkeypatch.setattr(sys.modules[__name__], "import_graph", lambda: graph)
    with pytest.raises(AssertionError, match="cifar_tui.store.runs -> cifar_tui.tui.app"):
        test_rule_1_floors_import_only_the_floors_below()


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, forbidden",
    [("engine", {"textual", "sqlite_utils", "store", "tui"}), ("store", {"textual", "torch", "tui"})],
)
def test_rule_3_at_import_time(name, forbidden):
    """What importing a floor loads, lazy imports of libraries included (a fresh interpreter)."""
    modules = [m for m in modules_of(name) if not m.endswith(("ray_backend", "__main__"))]
    loaded = loaded_after_import(modules)
    assert {floor(m) for m in modules} <= loaded
    assert not loaded & forbidden


@pytest.mark.slow
def test_rule_3_the_worker_runtime_starts_without_textual_or_the_cli():
    loaded = loaded_after_import([m for m in modules_of("worker") if "ray_dispatcher" not in m])
    assert "worker" in loaded and "textual" not in loaded
    out = subprocess.run(
        [sys.executable, "-c", "import sys, cifar_tui.tui.worker.command; print('cifar_tui.tui.cli' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "False"


@pytest.mark.slow
def test_the_ray_backend_knows_neither_the_store_nor_the_app():
    pytest.importorskip("ray")
    loaded = loaded_after_import(["cifar_tui.engine.ray_backend"])
    assert "ray" in loaded and not loaded & {"store", "tui", "worker", "textual", "sqlite_utils"}


@pytest.mark.slow
@pytest.mark.parametrize("module", ["cifar_tui.tui.cli", "cifar_tui.tui.app"])
def test_start_up_does_without_torch(module):
    # Commands that only read the store, and the app's first frame, must not wait for torch.
    assert "torch" not in loaded_after_import([module])


@pytest.mark.slow
def test_the_app_trains_a_run_without_importing_torch(tmp_path):
    """With the engine in a child process, the app process never imports torch (no CUDA context
    or 1 GB of libraries in the UI): the form, Live and the notifications read the store."""
    code = f"""
import asyncio, sys
from pathlib import Path
from cifar_tui.tui.app import CifarApp
from cifar_tui.tui.worker.home import Home

async def main():
    app = CifarApp(Home(Path({str(tmp_path)!r})), engine="process")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("1")
        for name, value in dict(dataset="synthetic", device="cpu", epochs="1", limit_batches="5").items():
            app.query_one(f"#field-{{name}}").value = value
        await pilot.press("ctrl+s", "3")
        for _ in range(600):
            await pilot.pause(0.1)
            if app.live.run is not None and app.live.run.status == "finished":
                break
        print(app.live.run.status if app.live.run else None, "torch" in sys.modules)

asyncio.run(main())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180).stdout
    assert out.split() == ["finished", "False"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [("runs", "--limit", "5"), ("runs", "--group"), ("show", "1"), ("export", "--format", "md"), ("queue", "add")],
)
def test_commands_that_do_not_train_do_not_import_torch(tmp_path, args):
    """torch takes about 1.5 s to import on a small machine: a table must not wait for it."""
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('torch' in sys.modules))\n"
        "from cifar_tui.tui.cli import main\n"
        f"main(['--home', {str(tmp_path)!r}, 'queue', 'add', '--dataset', 'synthetic'])\n"
    )
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    done = subprocess.run(
        [sys.executable, "-c", code.replace("'queue', 'add', '--dataset', 'synthetic'", ", ".join(map(repr, args)))],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"
