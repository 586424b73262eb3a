"""Held-out evaluation sets (`--eval-on`): each kind is one EvalKind, as a dataset is one DatasetSpec.

    cifar10.1:PATH                        CIFAR-10.1 (v6, else v4) from its NumPy files in PATH
    cifar10-c:PATH[#fog+snow][@1+5]       CIFAR-10-C: <corruption>.npy and labels.npy in PATH
    folder:PATH                           an image folder: class folders (or its test/ split)
    cifar10, cifar100, ...                a registered dataset's test split

A set is parsed and checked when the run is made (torch-free: the app does it); the engine
loads it when it first evaluates, and CIFAR-10-C goes through one corruption and severity
(10,000 images) at a time, from memory-mapped files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .cifar_classes import CLASSES

if TYPE_CHECKING:
    from .data import Split

CIFAR10_1_VERSIONS = ("v6", "v4")  # v6: 2,000 class-balanced images; v4: 2,021
BENCHMARK_CORRUPTIONS = (
    "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate", "jpeg_compression",
)  # fmt: skip
EXTRA_CORRUPTIONS = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
SEVERITIES = (1, 2, 3, 4, 5)
C_IMAGES_PER_SEVERITY = 10_000
LABEL = re.compile(r"[^A-Za-z0-9.]+")


class EvalSetError(ValueError):
    """A set that cannot be evaluated: one line naming it and what is wrong."""


@dataclass(frozen=True)
class EvalPart:
    """Images to evaluate as one figure: a whole set (name ""), or one corruption at one severity."""

    name: str
    load: Callable[[], Split]  # uint8 images on the CPU, labels in the training data's class order
    benchmark: bool = True  # CIFAR-10-C: one of the 15 benchmark corruptions (the paper's mean)
    severity: int = 0


@dataclass(frozen=True)
class EvalSet:
    kind: str  # its EvalKind's name: "cifar10.1", "cifar10-c", "folder" or "dataset"
    argument: str  # the text after "kind:" (absolute paths once checked), or the dataset's name
    label: str  # its columns' prefix: cifar10.1_acc, cifar10-c_s3, cinic-test_gap

    @property
    def of(self) -> EvalKind:
        return BY_NAME[self.kind]

    @property
    def spec(self) -> str:
        return f"{self.kind}:{self.argument}" if self.of.takes_path else self.argument


@dataclass(frozen=True)
class EvalKind:
    """A kind of held-out set: how --eval-on writes it, checks it (torch-free, when the run is
    made) and loads it (the engine, when it evaluates)."""

    name: str  # before the colon (cifar10.1:PATH); "dataset" for a registered dataset's name
    syntax: str  # how the setting's help writes it
    label: Callable[[str], str]  # its columns' prefix, from the argument
    parts: Callable[[EvalSet, tuple[str, ...], Path], Iterator[EvalPart]]  # (set, training classes, data dir)
    check: Callable[[str], None] = lambda argument: None  # the argument's words, when parsed
    path_of: Callable[[str], str] = lambda argument: argument  # the PATH within the argument
    files: Callable[[Path, str], object] = lambda path, argument: (
        None
    )  # the folder holds what it needs, or EvalSetError
    takes_path: bool = True
    cifar10_classes: bool = False  # holds CIFAR-10's ten classes: the training data's must be those
    streamed: bool = False  # its parts are read when evaluated, not loaded before training


def parse_list(text: str) -> list[EvalSet]:
    """The sets of an --eval-on value (comma-separated); EvalSetError on a mistake, in one line."""
    sets = [parse(item.strip()) for item in text.split(",") if item.strip()]
    labels = [s.label for s in sets]
    twice = next((label for label in labels if labels.count(label) > 1), None)
    if twice:
        raise EvalSetError(f"two sets named {twice!r}; evaluate each set once")
    return sets


def parse(item: str) -> EvalSet:
    from .datasets import CHOICES

    name, colon, argument = item.partition(":")
    with_path = [k for k in KINDS if k.takes_path]
    if not colon:
        if item in CHOICES:
            return EvalSet(DATASET.name, item, item)
        raise EvalSetError(f"unknown set {item!r}; give {', '.join(f'{k.name}:PATH' for k in with_path)} or a dataset")
    if not argument:
        raise EvalSetError(f"{item!r} names no path; give {name}:PATH")
    kind = BY_NAME.get(name)
    if kind is None or not kind.takes_path:
        raise EvalSetError(f"unknown set kind {name!r} in {item!r}; known: {', '.join(k.name for k in with_path)}")
    kind.check(argument)
    return EvalSet(kind.name, argument, kind.label(argument))


def folder_label(path: Path) -> str:
    """A folder's columns' prefix: its name, with its parent's when the name is a split's (cinic-test)."""
    parts = [p for p in Path(str(path).rstrip("/")).parts if p not in ("/", "")]
    name = parts[-1] if parts else "folder"
    if name in ("test", "val", "valid", "train") and len(parts) > 1:
        name = f"{parts[-2]}-{name}"
    return LABEL.sub("-", name).strip("-").lower() or "folder"


def corruptions_and_severities(argument: str) -> tuple[str, tuple[str, ...], tuple[int, ...]]:
    """(path, corruptions, severities) of cifar10-c's PATH[#a+b][@1+2]: by default the 15
    benchmark corruptions at all 5 severities."""
    rest, _, severities = argument.partition("@")
    path, _, corruptions = rest.partition("#")
    names = tuple(corruptions.split("+")) if corruptions else BENCHMARK_CORRUPTIONS
    known = BENCHMARK_CORRUPTIONS + EXTRA_CORRUPTIONS
    unknown = [n for n in names if n not in known]
    if unknown:
        raise EvalSetError(f"cifar10-c: unknown corruption {unknown[0]!r}; known: {', '.join(known)}")
    try:
        levels = tuple(int(s) for s in severities.split("+")) if severities else SEVERITIES
    except ValueError:
        raise EvalSetError(f"cifar10-c: severities are 1 to 5, joined by + (got {severities!r})") from None
    if not levels or any(s not in SEVERITIES for s in levels):
        raise EvalSetError(f"cifar10-c: severities are 1 to 5, joined by + (got {severities!r})")
    return path, names, levels


def checked(text: str, cwd: Path, dataset: str = "") -> str:
    """The --eval-on value with each path absolute, after checking that its files are there (a
    run is made in one folder and trained from another) and, where the training dataset's
    classes are declared, that they fit; EvalSetError otherwise."""
    from .datasets import spec_of

    found = spec_of(dataset)
    out = []
    for s in parse_list(text):
        kind = s.of
        if kind.cifar10_classes and found and not found[0].takes_path and not found[0].cifar10_classes:
            raise EvalSetError(f"{s.label} holds CIFAR-10's ten classes; --dataset {dataset} has others")
        if not kind.takes_path:
            out.append(s.spec)
            continue
        path_text = kind.path_of(s.argument)
        suffix = s.argument[len(path_text) :]  # cifar10-c's #corruptions@severities
        path = (cwd / Path(path_text).expanduser()).resolve()
        if not path.is_dir():
            raise EvalSetError(f"{kind.name}: {path} is not a folder")
        kind.files(path, s.argument)
        out.append(f"{kind.name}:{path}{suffix}")
    return ",".join(out)


def cifar10_1_files(path: Path) -> tuple[Path, Path]:
    for version in CIFAR10_1_VERSIONS:
        data, labels = path / f"cifar10.1_{version}_data.npy", path / f"cifar10.1_{version}_labels.npy"
        if data.is_file() and labels.is_file():
            return data, labels
    raise EvalSetError(
        f"cifar10.1: {path} holds neither cifar10.1_v6_data.npy nor cifar10.1_v4_data.npy with its labels"
    )


def _cifar10_c_files(path: Path, argument: str) -> None:
    _, names, _ = corruptions_and_severities(argument)
    missing = [f"{n}.npy" for n in ("labels", *names) if not (path / f"{n}.npy").is_file()]
    if missing:
        raise EvalSetError(f"cifar10-c: {path} lacks {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
    _cifar10_c_shapes(path, names)


def _cifar10_c_shapes(path: Path, names: tuple[str, ...]) -> None:
    """Each corruption's images and labels.npy of the published shapes, read from the .npy
    headers alone (a corruption file is 150 MB): checked when the run is made and before it
    trains, not found after training."""
    labels_shape, _ = _npy_header(path / "labels.npy")
    count = labels_shape[0] if len(labels_shape) == 1 else -1
    if count <= 0 or count % C_IMAGES_PER_SEVERITY:
        raise EvalSetError(
            f"cifar10-c: {path / 'labels.npy'} holds an array of shape {labels_shape}; expected 5 x "
            f"{C_IMAGES_PER_SEVERITY:,} labels"
        )
    for name in names:
        shape, dtype = _npy_header(path / f"{name}.npy")
        if shape != (count, 32, 32, 3) or dtype != "uint8":
            raise EvalSetError(
                f"cifar10-c: {path / (name + '.npy')} holds {dtype} images of shape {shape}; expected uint8 "
                f"{count} x 32 x 32 x 3, as labels.npy's {count:,} labels"
            )


def _npy_header(path: Path) -> tuple[tuple[int, ...], str]:
    """A .npy file's shape and dtype, from its header (no array is read)."""
    import numpy as np

    try:
        with open(path, "rb") as file:
            version = np.lib.format.read_magic(file)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(file)
    except (OSError, ValueError) as error:
        raise EvalSetError(f"{path} is not a NumPy array file ({error})") from None
    return tuple(shape), str(dtype)


# ------------------------------------------------------------------ loading (the engine's side)


def parts(s: EvalSet, classes: tuple[str, ...], data_dir: Path) -> Iterator[EvalPart]:
    """The set's parts, their images loaded when asked, labels mapped to the training classes."""
    if s.of.cifar10_classes:
        _require_cifar10_classes(s, classes)
    return s.of.parts(s, classes, data_dir)


def _cifar10_1_parts(s: EvalSet, classes: tuple[str, ...], data_dir: Path) -> Iterator[EvalPart]:
    data, labels = cifar10_1_files(Path(s.argument))
    yield EvalPart("", lambda: _from_numpy(_load_npy(data), _load_npy(labels), s.label, len(classes)))


def _cifar10_c_parts(s: EvalSet, classes: tuple[str, ...], data_dir: Path) -> Iterator[EvalPart]:
    path_text, names, levels = corruptions_and_severities(s.argument)
    path = Path(path_text)
    _cifar10_c_shapes(path, names)  # the files may have changed since the run was made
    for name in names:
        for level in levels:
            yield EvalPart(
                f"{name}/{level}",
                lambda name=name, level=level: _cifar10_c_part(path, name, level, s.label, len(classes)),
                benchmark=name in BENCHMARK_CORRUPTIONS,
                severity=level,
            )


def _test_split_parts(s: EvalSet, classes: tuple[str, ...], data_dir: Path) -> Iterator[EvalPart]:
    yield EvalPart("", lambda: _test_split(s, classes, data_dir))


def _require_cifar10_classes(s: EvalSet, classes: tuple[str, ...]) -> None:
    if tuple(classes) != CLASSES:
        raise EvalSetError(
            f"{s.label} holds CIFAR-10's ten classes; this run's data has {len(classes)} others "
            f"({', '.join(classes[:3])}, ...)"
        )


def _load_npy(path: Path, mmap: bool = False):
    import numpy as np

    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise EvalSetError(f"{path} is not a NumPy array file ({error})") from None


def _from_numpy(images, labels, label: str, num_classes: int) -> Split:
    """N x 32 x 32 x 3 uint8 images and N labels (as the published files hold them) as a Split."""
    import numpy as np
    import torch

    from .data import Split

    images, labels = np.asarray(images), np.asarray(labels).reshape(-1)
    if images.ndim != 4 or images.shape[1:] != (32, 32, 3) or len(images) != len(labels):
        raise EvalSetError(
            f"{label}: expected N x 32 x 32 x 3 images and N labels (got {images.shape} and {labels.shape})"
        )
    if images.dtype != np.uint8:
        raise EvalSetError(f"{label}: images must be uint8 (got {images.dtype})")
    targets = torch.from_numpy(labels.astype(np.int64))
    if len(targets) and (targets.min() < 0 or targets.max() >= num_classes):
        raise EvalSetError(f"{label}: labels outside 0..{num_classes - 1}")
    return Split(torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))), targets)


def _cifar10_c_part(path: Path, name: str, level: int, label: str, num_classes: int) -> Split:
    """One corruption at one severity: 10,000 images read from the memory-mapped file."""
    images = _load_npy(path / f"{name}.npy", mmap=True)
    labels = _load_npy(path / "labels.npy", mmap=True)
    if len(images) != len(labels) or len(images) % C_IMAGES_PER_SEVERITY:
        raise EvalSetError(
            f"{label}: {name}.npy holds {len(images)} images and labels.npy {len(labels)} labels; "
            f"expected 5 x {C_IMAGES_PER_SEVERITY:,} each"
        )
    rows = slice((level - 1) * C_IMAGES_PER_SEVERITY, level * C_IMAGES_PER_SEVERITY)
    return _from_numpy(images[rows], labels[rows], f"{label} {name}", num_classes)


def _test_split(s: EvalSet, classes: tuple[str, ...], data_dir: Path) -> Split:
    """A folder's images (its test/ split, or its class folders) or a dataset's test split, with
    labels re-numbered to the training data's classes by name."""
    import torch

    from .data import DatasetUnavailable, Split
    from .datasets import load_dataset

    try:
        if s.kind == FOLDER.name:
            from .image_folder import load_test_folder

            images, labels, names = load_test_folder(Path(s.argument), data_dir)
        else:
            dataset = load_dataset(s.argument, data_dir)
            images, labels, names = dataset.test.images, dataset.test.labels, dataset.classes
    except DatasetUnavailable as error:
        raise EvalSetError(str(error)) from None
    index = {name: i for i, name in enumerate(classes)}
    unknown = [name for name in names if name not in index]
    if unknown:
        raise EvalSetError(f"{s.label}: class {unknown[0]!r} is not one of the training data's classes")
    mapping = torch.tensor([index[name] for name in names], dtype=torch.int64)
    return Split(images, mapping[labels])


CIFAR10_1 = EvalKind(
    "cifar10.1", "cifar10.1:PATH", lambda argument: "cifar10.1", _cifar10_1_parts,
    files=lambda path, argument: cifar10_1_files(path), cifar10_classes=True,
)  # fmt: skip
CIFAR10_C = EvalKind(
    "cifar10-c", "cifar10-c:PATH[#fog+snow][@1+5]", lambda argument: "cifar10-c", _cifar10_c_parts,
    check=corruptions_and_severities, path_of=lambda argument: corruptions_and_severities(argument)[0],
    files=_cifar10_c_files, cifar10_classes=True, streamed=True,
)  # fmt: skip
FOLDER = EvalKind("folder", "folder:PATH", lambda argument: folder_label(Path(argument)), _test_split_parts)
DATASET = EvalKind(
    "dataset", "a dataset's name (its test split)", lambda name: name, _test_split_parts, takes_path=False
)
KINDS: tuple[EvalKind, ...] = (CIFAR10_1, CIFAR10_C, FOLDER, DATASET)  # in the setting's help's order
BY_NAME = {k.name: k for k in KINDS}


def kinds_help() -> str:
    return ", ".join(k.syntax for k in KINDS[:-1]) + f", or {KINDS[-1].syntax}"
