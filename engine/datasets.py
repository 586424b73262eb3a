"""Every dataset a run can train on, one DatasetSpec each, as a model is one ModelSpec: the
config's choices, `cifar-tui datasets`, the form's help line, shell completion and the loader
come from here. No torch at import: the app reads this without the engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .folder_layout import folder_layout_problem

if TYPE_CHECKING:
    import torch

    from .data import Dataset


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str  # what it is, in a few words
    description: str
    classes: str  # how many, and where their names come from
    images: str  # channels x height x width
    get: str  # how to get it: a download, or where to put the files
    load: Callable[[Path, str], Dataset]  # (data_dir, PATH or "") -> the dataset, as uint8 tensors on the CPU
    takes_path: bool = False  # named NAME:PATH (its name is declared as "NAME:PATH")
    cifar10_classes: bool = False  # CIFAR-10's ten classes, in its order: CIFAR-10.1 and -C can test it

    @property
    def help(self) -> str:
        """The form's line for it: what it is and how to get it, the most useful words first."""
        return f"{self.title}: {self.get}."


def _cifar(files: str) -> Callable[[Path], Dataset]:
    """A loader of torchvision's CIFAR files (engine/cifar_files.py), imported when it loads."""

    def load(data_dir: Path, path: str) -> Dataset:
        from . import cifar_files

        return cifar_files.load(getattr(cifar_files, files), data_dir)

    return load


def _synthetic(data_dir: Path, path: str) -> Dataset:
    from .data import synthetic

    return synthetic()


def _image_folder(data_dir: Path, path: str) -> Dataset:
    from . import image_folder

    return image_folder.load(Path(path), data_dir)


IMAGE_FOLDER = "folder:"  # folder:PATH, the image folder at PATH


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            "cifar10",
            "CIFAR-10",
            "CIFAR-10: 50,000 training and 10,000 test images.",
            "10, named by the files' batches.meta",
            "3x32x32",
            "downloaded once to <home>/data (170 MB), or put cifar-10-python.tar.gz or cifar-10-batches-py/ there",
            _cifar("CIFAR10"),
            cifar10_classes=True,
        ),
        DatasetSpec(
            "cifar100",
            "CIFAR-100",
            "CIFAR-100: 50,000 training and 10,000 test images of 100 classes (fine labels).",
            "100, named by the files' meta (fine_label_names)",
            "3x32x32",
            "downloaded once to <home>/data (169 MB), or put cifar-100-python.tar.gz or cifar-100-python/ there",
            _cifar("CIFAR100"),
        ),
        DatasetSpec(
            "cifar100-coarse",
            "CIFAR-100, 20 superclasses",
            "CIFAR-100's images labelled by their 20 superclasses (coarse labels).",
            "20, named by the files' meta (coarse_label_names)",
            "3x32x32",
            "the cifar100 files: downloaded once to <home>/data (169 MB), or put cifar-100-python/ there",
            _cifar("CIFAR100_COARSE"),
        ),
        DatasetSpec(
            f"{IMAGE_FOLDER}PATH",
            "Image folder",
            "Class folders of PNG or JPEG images under PATH/train and PATH/test (or val, valid), as CINIC-10 "
            "and ImageFolder lay them out; decoded once and cached in <home>/data.",
            "as many as train/'s class folders, named by them in sorted order",
            "3x32x32 (one size for all; other sizes resized to 32x32 once)",
            "your own folder: folder:PATH",
            _image_folder,
            takes_path=True,
        ),
        DatasetSpec(
            "synthetic",
            "Synthetic, CIFAR-shaped",
            "Built in: CIFAR-shaped and learnable, for trying things without data.",
            "10, named as CIFAR-10's",
            "3x32x32",
            "built in, made in under a second",
            _synthetic,
            cifar10_classes=True,
        ),
    )
}


# What --dataset offers by name; NAME:PATH datasets are accepted by their prefix.
CHOICES = tuple(name for name, spec in DATASETS.items() if not spec.takes_path)


def spec_of(dataset: str) -> tuple[DatasetSpec, str] | None:
    """The declaration a --dataset value names, and its PATH ("" for a plain name); None if none."""
    if dataset in CHOICES:
        return DATASETS[dataset], ""
    prefix, _, path = dataset.partition(":")
    spec = DATASETS.get(f"{prefix}:PATH")
    return (spec, path) if spec is not None and path else None


def takes_path(dataset: str) -> bool:
    """folder:PATH and the like: a value the config accepts beside the plain names."""
    found = spec_of(dataset)
    return found is not None and found[0].takes_path


def with_absolute_path(dataset: str, cwd: Path) -> str:
    """NAME:PATH with PATH absolute, for a run made in one folder and trained from another (a
    ValueError in one line when PATH is no folder); any other name as it is."""
    if not takes_path(dataset):
        return dataset
    prefix, _, path = dataset.partition(":")
    folder = (cwd / Path(path).expanduser()).resolve()
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder ({prefix}:PATH takes a folder with train/ and test/ in it)")
    problem = folder_layout_problem(folder) if f"{prefix}:" == IMAGE_FOLDER else None
    if problem:
        raise ValueError(problem)
    return f"{prefix}:{folder}"


def load_dataset(name: str, data_dir: Path, device: torch.device | str = "cpu") -> Dataset:
    """The dataset its declaration loads, on the device."""
    found = spec_of(name)
    if found is None:
        raise ValueError(f"unknown dataset {name!r}")
    spec, path = found
    return spec.load(Path(data_dir), path).to(device)
