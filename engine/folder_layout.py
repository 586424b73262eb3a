"""An image folder's layout (folder:PATH): what it must hold, checked without reading an image,
when a run is made and again when it loads. No torch: the form checks it."""

from __future__ import annotations

from pathlib import Path

FOLDER_TEST_NAMES = ("test", "val", "valid")  # an image folder's test split: the first of these present


def folder_test_split(folder: Path) -> Path | None:
    return next((folder / name for name in FOLDER_TEST_NAMES if (folder / name).is_dir()), None)


def folder_layout_problem(folder: Path) -> str | None:
    """What an image folder lacks (checked when a run is made, and again when it loads), or None."""
    if not (folder / "train").is_dir() or folder_test_split(folder) is None:
        return f"{folder} needs a train/ folder and a test/ (or val/, valid/) folder of class folders"
    return None
