"""The distribution installs one import name, cifar_tui: the index holds unrelated packages named
store and tui, and a wheel with those top-level names would write into their folders."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("engine", "store", "tui")


@pytest.mark.slow
def test_the_wheel_holds_one_top_level_package_and_every_source_file(tmp_path):
    source = tmp_path / "source"  # a copy: the build leaves build/ and *.egg-info behind it
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "__init__.py", *LAYERS):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(
            ROOT / name,
            source / name,
            **({"ignore": shutil.ignore_patterns("__pycache__")} if copy is shutil.copytree else {}),
        )
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {name.split("/")[0] for name in names if ".dist-info/" not in name} == {"cifar_tui"}
    files = {
        f"cifar_tui/{path.relative_to(ROOT)}"
        for layer in LAYERS
        for path in (ROOT / layer).rglob("*")
        if path.suffix in (".py", ".tcss")
    }
    assert files and not files - names, sorted(files - names)  # a new subpackage is listed in pyproject.toml
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "cifar-tui = cifar_tui.tui.cli:main" in entry_points
