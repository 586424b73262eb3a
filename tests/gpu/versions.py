"""What the GPU machine runs: Python, the packages' versions, the GPU, and that every layer imports
(imported last, so that a failing import still leaves the versions printed)."""
# ruff: noqa: E402

import platform
import sys
from importlib import metadata

print("python", sys.version.replace("\n", " "), platform.machine())
for name in (
    "torch",
    "torchvision",
    "textual",
    "sqlite-utils",
    "rich",
    "click",
    "platformdirs",
    "pytest",
    "pytest-asyncio",
    "numpy",
    "markdown-it-py",
    "pygments",
):
    try:
        dist = metadata.distribution(name)
        print(f"  {name:15} {dist.version:14} {dist.locate_file('')}")
    except metadata.PackageNotFoundError:
        print(f"  {name:15} MISSING")
import sqlite3

import torch

print(
    "sqlite",
    sqlite3.sqlite_version,
    "| torch.version.cuda",
    torch.version.cuda,
    "| cudnn",
    torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
    "| threads",
    torch.get_num_threads(),
)
print("cuda available:", torch.cuda.is_available())
if torch.cuda.is_available():
    props = torch.cuda.get_device_properties(0)
    print(
        "device:",
        torch.cuda.get_device_name(),
        f"{props.total_memory / 2**30:.1f} GiB",
        f"capability {props.major}.{props.minor}",
    )
import cifar_tui.engine.train
import cifar_tui.store.runs
import cifar_tui.tui.app
import cifar_tui.tui.cli  # noqa: F401 (every layer)

print("engine, store, tui import from", cifar_tui.engine.train.__file__.rsplit("/", 2)[0])
