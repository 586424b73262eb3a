"""`folder:PATH`: an image folder (class folders under train/ and test/, or val/ or valid/ as
CINIC-10 names it) decoded once, in parallel, into the same uint8 tensors as CIFAR's, and cached
in the home's data folder. The cache is keyed by the folder's listing (each file's path, size and
modification time), so a changed folder is decoded again.

Class names are the train/ folder names in sorted order, as torchvision's ImageFolder has them;
images are read in that order, each class's files sorted by name. Images all of one size other
than 32x32 are resized to 32x32 once (the cache keeps the result).
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from .data import Dataset, DatasetUnavailable, Split
from .folder_layout import folder_layout_problem, folder_test_split
from .image_decode import ImageError, decode, size
from .notices import notice
from .text import printable, unprintable

# torchvision's ImageFolder's (torchvision.datasets.folder.IMG_EXTENSIONS), without importing it
EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
SIDE = 32  # what every built-in model takes
CACHE_FOLDER = "image-folders"
CACHE_VERSION = 2  # bumped when the cache's layout or the decoding changes
CHUNK = 2_000  # images resized at a time
MIN_PER_PROCESS = 2_000  # for fewer images a process costs more to start than it saves


def load(folder: Path, data_dir: Path) -> Dataset:
    """The folder's train and test splits as a Dataset, from the cache when the folder has not changed."""
    problem = folder_layout_problem(folder)
    if problem:
        raise DatasetUnavailable(problem)
    train, test = folder / "train", folder_test_split(folder)
    classes, splits = _load_splits(folder, {"train": train, "test": test}, data_dir)
    return Dataset(splits["train"], splits["test"], classes)


def load_test_folder(folder: Path, data_dir: Path) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """An evaluation set's folder (--eval-on folder:PATH): its test/ (val/, valid/) split, or its
    own class folders; (images, labels, its class names)."""
    classes, splits = _load_splits(folder, {"test": folder_test_split(folder) or folder}, data_dir)
    return splits["test"].images, splits["test"].labels, classes


def _load_splits(folder: Path, split_folders: dict[str, Path], data_dir: Path) -> tuple[tuple[str, ...], dict]:
    listing = list_images(split_folders)
    key = _fingerprint(listing)
    which = f"{folder}|{','.join(f'{name}={path}' for name, path in split_folders.items())}"
    cache = data_dir / CACHE_FOLDER / f"{hashlib.sha256(which.encode()).hexdigest()[:16]}.pt"
    cached = _read_cache(cache, key)
    if cached is not None:
        return cached
    if cache.exists():
        notice(f"{folder} changed since it was decoded; decoding it again")
    else:
        images = sum(len(files) for files in listing[1].values())
        notice(f"decoding the {images:,} images of {folder} once (later runs read them from {cache.parent})")
    splits = _decode(folder, listing)
    _write_cache(cache, key, listing[0], splits)
    return listing[0], splits


File = tuple[str, int, int, int]  # path, label, size, modification time (ns)
Listing = tuple[tuple[str, ...], dict[str, list[File]]]  # the class names, and each split's files


def list_images(split_folders: dict[str, Path]) -> Listing:
    """The class names (the first split's folders, sorted) and each split's files with their labels."""
    first = next(iter(split_folders.values()))
    classes = tuple(sorted(entry.name for entry in os.scandir(first) if entry.is_dir()))
    if not classes:
        raise DatasetUnavailable(f"{first} holds no class folders (<class>/<image>.png or .jpg)")
    for name in classes:  # a class's name is shown and exported as text: the rule for a user's text
        if unprintable(name):
            raise DatasetUnavailable(f"{printable(str(first / name))}: a class folder's name {unprintable(name)}")
    index = {name: label for label, name in enumerate(classes)}
    splits: dict[str, list[File]] = {}
    for split_name, split in split_folders.items():
        files = []
        for name in sorted(entry.name for entry in os.scandir(split) if entry.is_dir()):
            if name not in index:
                raise DatasetUnavailable(f"{split / name} is a class that {first} lacks; add it there or remove it")
            label = index[name]
            images = sorted(
                (entry.path, label, stat.st_size, stat.st_mtime_ns)
                for entry in os.scandir(split / name)
                if entry.name.lower().endswith(EXTENSIONS) and entry.is_file()
                for stat in (entry.stat(),)
            )
            if not images:
                raise DatasetUnavailable(f"{split / name} holds no images ({', '.join(EXTENSIONS)})")
            files += images
        if not files:
            raise DatasetUnavailable(f"{split} holds no class folders of images")
        splits[split_name] = files
    return classes, splits


def _fingerprint(listing: Listing) -> str:
    """Changes when a file is added, removed, renamed, rewritten or relabelled."""
    digest = hashlib.sha256(f"{CACHE_VERSION}\n{listing[0]}\n".encode())
    for split, files in listing[1].items():
        digest.update(f"{split}\n{files}\n".encode())
    return digest.hexdigest()


def _read_cache(cache: Path, key: str) -> tuple[tuple[str, ...], dict[str, Split]] | None:
    try:
        saved = torch.load(cache, weights_only=True)
        if saved["key"] != key:
            return None
        return tuple(saved["classes"]), {name: Split(*tensors) for name, tensors in saved["splits"].items()}
    except Exception:  # none yet, or one cut short, or of another version: decode again
        return None


def _write_cache(cache: Path, key: str, classes: tuple[str, ...], splits: dict[str, Split]) -> None:
    """Written whole or not at all (a temporary file renamed over it); a full disk only costs the
    next run a decode."""
    temporary = cache.with_suffix(f".{os.getpid()}.tmp")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        saved = {name: (split.images, split.labels) for name, split in splits.items()}
        torch.save({"key": key, "classes": list(classes), "splits": saved}, temporary)
        os.replace(temporary, cache)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        notice(f"the decoded images could not be cached in {cache.parent} ({error.strerror or error})")


def _decode(folder: Path, listing: Listing) -> dict[str, Split]:
    _, splits = listing
    paths = [file[0] for files in splits.values() for file in files]
    try:
        parts = _decode_all(paths)
    except ImageError as error:
        text = str(error)
        raise DatasetUnavailable(text if text.startswith(str(folder)) else f"{folder} {text}") from None
    starts = [sum(len(p) for p in parts[:i]) for i in range(len(parts))]
    shapes = {}
    for part, start in zip(parts, starts):
        shapes.setdefault(part.shape[1:], start)
    if len(shapes) > 1:  # each process saw one size, but not the same
        (common, _), (other, start) = list(shapes.items())[:2]
        raise DatasetUnavailable(
            f"{folder} mixes image sizes ({size(common)} and {size(other)}, e.g. {paths[start]}); make them one size"
        )
    images = torch.from_numpy(np.concatenate(parts))  # (N, 3, H, W) uint8
    if images.shape[2:] != (SIDE, SIDE):
        notice(f"{folder}'s images are {size(images.shape[1:])}; resized to {SIDE}x{SIDE} once (the cache keeps them)")
        images = _resize(images)
    out, start = {}, 0
    for name, files in splits.items():
        labels = torch.tensor([file[1] for file in files], dtype=torch.int64)
        out[name], start = Split(images[start : start + len(files)], labels), start + len(files)
    return out


def _resize(images: torch.Tensor) -> torch.Tensor:
    out = []
    for start in range(0, len(images), CHUNK):  # bounded memory: floats of one chunk at a time
        chunk = images[start : start + CHUNK].float()
        chunk = torch.nn.functional.interpolate(chunk, size=(SIDE, SIDE), mode="bilinear", antialias=True)
        out.append(chunk.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)


def _decode_all(paths: list[str]) -> list[np.ndarray]:
    """The images in consecutive parts, one (n, 3, H, W) array each, decoded by one process per
    core (engine/image_decode.py): decoding holds Python's lock most of its time, so threads would
    not help, and a daemonic training process may not fork multiprocessing's children."""
    workers = min(os.cpu_count() or 1, len(paths) // MIN_PER_PROCESS)
    if workers < 2:
        return [decode(paths)]
    bounds = [len(paths) * i // workers for i in range(workers + 1)]
    parts = [paths[bounds[i] : bounds[i + 1]] for i in range(workers)]
    with ThreadPoolExecutor(workers) as pool:  # each thread waits on its process
        return list(pool.map(_decode_in_process, parts))


def _decode_in_process(paths: list[str]) -> np.ndarray:
    process = subprocess.run(
        [sys.executable, "-m", "cifar_tui.engine.image_decode"],
        input="\0".join(paths).encode("utf-8", "surrogateescape"),
        capture_output=True,
        check=False,
    )
    if process.returncode == 2:
        raise ImageError(process.stderr.decode(errors="replace").strip())
    if process.returncode != 0:
        last = (process.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
        raise DatasetUnavailable(f"decoding images failed (exit status {process.returncode}: {last})")
    return np.load(io.BytesIO(process.stdout), allow_pickle=False)
