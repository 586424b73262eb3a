"""DESIGN.md's import rules, checked in fresh interpreters."""

import json
import subprocess
import sys

import pytest

ENGINE_MODULES = [
    "cifar_tui.engine.config",
    "cifar_tui.engine.models",
    "cifar_tui.engine.data",
    "cifar_tui.engine.train",
    "cifar_tui.engine.worker",
    "cifar_tui.engine.events",
    "cifar_tui.engine.loss_stream",
    "cifar_tui.engine.device",
]
STORE_MODULES = ["cifar_tui.store.schema", "cifar_tui.store.runs", "cifar_tui.store.recorder", "cifar_tui.store.export"]


def loaded_after_import(modules: list[str]) -> set[str]:
    code = f"import importlib, json, sys\nfor m in {modules!r}: importlib.import_module(m)\nprint(json.dumps(list(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return {layer(name) for name in json.loads(out)}


def layer(module: str) -> str:
    """The project's package of a module (cifar_tui.store.runs -> store), or its top-level name."""
    parts = module.split(".")
    return parts[1] if parts[0] == "cifar_tui" and len(parts) > 1 else parts[0]


@pytest.mark.parametrize(
    "modules, forbidden",
    [
        (ENGINE_MODULES, {"textual", "sqlite_utils"}),
        (STORE_MODULES, {"textual", "torch"}),
    ],
)
def test_package_imports_nothing_forbidden(modules, forbidden):
    loaded = loaded_after_import(modules)
    assert {layer(m) for m in modules} <= loaded
    assert not loaded & forbidden


@pytest.mark.parametrize("module", ["cifar_tui.tui.cli", "cifar_tui.tui.app"])
def test_start_up_does_without_torch(module):
    # Commands that only read the store, and the app's first frame, must not wait for torch.
    assert "torch" not in loaded_after_import([module])


def imported_names() -> dict[str, set[str]]:
    """module -> every name it imports, anywhere in its source (function-level imports too)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    files = {
        ".".join(("cifar_tui", *p.relative_to(root).with_suffix("").parts)).removesuffix(".__init__"): p
        for package in ("engine", "store", "tui")
        for p in (root / package).rglob("*.py")
    }
    imported: dict[str, set[str]] = {}
    for module, path in files.items():
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        imported[module] = names
    return imported


def import_graph() -> dict[str, set[str]]:
    """module -> the project's modules it imports (a cycle through a late import is a cycle all the same)."""
    imported = imported_names()
    return {
        module: {name for name in names if name in imported and name != module} for module, names in imported.items()
    }


def test_only_the_engine_s_ray_backend_imports_ray():
    importers = {module for module, names in imported_names().items() if any(n.split(".")[0] == "ray" for n in names)}
    assert importers == {"cifar_tui.engine.ray_backend"}


def test_the_ray_backend_knows_neither_the_store_nor_the_app():
    pytest.importorskip("ray")
    loaded = loaded_after_import(["cifar_tui.engine.ray_backend"])
    assert "ray" in loaded and not loaded & {"store", "tui", "textual", "sqlite_utils"}


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


def test_no_import_cycles_between_modules_or_packages():
    graph = import_graph()
    assert len(graph) > 40 and "cifar_tui.tui.runners.headless" in graph["cifar_tui.tui.cli"]  # the graph is real
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))
    packages = {layer(name): set() for name in graph}
    for module, targets in graph.items():
        packages[layer(module)] |= {layer(t) for t in targets} - {layer(module)}
    assert find_cycle(packages) is None
    assert packages["engine"] == set() and packages["store"] == {"engine"}


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]


@pytest.mark.slow
def test_the_app_trains_a_run_without_importing_torch(tmp_path):
    """With the engine in a child process, the app process never imports torch (no CUDA context
    or 1 GB of libraries in the UI): the form, Live and the notifications read the store."""
    code = f"""
import asyncio, sys
from pathlib import Path
from cifar_tui.tui.app import CifarApp
from cifar_tui.tui.home import Home

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
