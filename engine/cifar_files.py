"""The CIFAR-10 and CIFAR-100 files as torchvision downloads them (pickled batches), read into
uint8 tensors: whatever torchvision's CIFAR10 and CIFAR100 read, they read the same.

Each format is one CifarFiles; its download address, folder, file names and checksums are
torchvision's own class attributes, so they cannot drift from what torchvision fetches."""

from __future__ import annotations

import hashlib
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import torch

from .cifar_classes import CLASSES
from .data import Dataset, DatasetUnavailable, Split
from .notices import notice


@dataclass(frozen=True)
class CifarFiles:
    title: str  # as messages name it
    torchvision_class: str  # in torchvision.datasets: its url, archive, folder, files and md5s
    label_keys: tuple[str, ...]  # the first a batch file has is read
    names_key: str  # the class names' key in the meta file
    default_names: tuple[str, ...] = ()  # when the meta file is missing; () makes it required

    def _torchvision(self):
        import torchvision.datasets

        return getattr(torchvision.datasets, self.torchvision_class)

    @property
    def archive(self) -> str:
        return self._torchvision().filename

    @property
    def folder(self) -> str:
        return self._torchvision().base_folder

    @property
    def train_files(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self._torchvision().train_list)

    @property
    def test_files(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self._torchvision().test_list)

    @property
    def meta_file(self) -> str:
        return self._torchvision().meta["filename"]

    def md5(self, name: str) -> str:
        cls = self._torchvision()
        return dict(cls.train_list + cls.test_list)[name]


CIFAR10 = CifarFiles("CIFAR-10", "CIFAR10", ("labels", "fine_labels"), "label_names", CLASSES)
CIFAR100 = CifarFiles("CIFAR-100", "CIFAR100", ("labels", "fine_labels"), "fine_label_names")
CIFAR100_COARSE = CifarFiles("CIFAR-100", "CIFAR100", ("coarse_labels",), "coarse_label_names")


def load(files: CifarFiles, data_dir: Path) -> Dataset:
    """Read the batch files from data_dir, extracting a placed tarball or downloading them first."""
    folder = data_dir / files.folder
    if not all((folder / name).exists() for name in files.train_files + files.test_files):
        archive = data_dir / files.archive
        if not archive.exists():
            _download(files, data_dir)
        _extract(files, archive, data_dir)
    return read_batch_folder(folder, files)


def _download(files: CifarFiles, data_dir: Path) -> None:
    from torchvision.datasets.utils import download_url

    cls = files._torchvision()
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        download_url(cls.url, str(data_dir), cls.filename, cls.tgz_md5)
    except Exception as error:  # no network, a proxy, a truncated file: all the same to the user
        (data_dir / cls.filename).unlink(missing_ok=True)
        raise DatasetUnavailable(
            f"{files.title} could not be downloaded ({type(error).__name__}); put {cls.filename} "
            f"or the extracted {cls.base_folder}/ in {data_dir}, or use --dataset synthetic"
        ) from error


def _extract(files: CifarFiles, archive: Path, data_dir: Path) -> None:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(data_dir, filter="data")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DatasetUnavailable(f"{archive} is not a readable {files.title} archive ({error}); replace it") from error


def read_batch_folder(folder: Path, files: CifarFiles = CIFAR10) -> Dataset:
    """Read a cifar-10-batches-py (or cifar-100-python) folder into uint8 tensors: pickles of
    either Python, data as an array or nested lists."""
    train, train_changed = _read_batches(folder, files, files.train_files)
    test, test_changed = _read_batches(folder, files, files.test_files)
    provenance = f"official {files.title} (md5)"
    if changed := train_changed + test_changed:  # modified CIFAR variants use the same format
        listed, verb = _listed(changed, files.train_files), "differs" if len(changed) == 1 else "differ"
        notice(f"{listed} in {folder} {verb} from the official {files.title} files (md5); reading them anyway")
        provenance = f"not the official {files.title} files: {listed} {verb} (md5)"
    classes = _class_names(folder, files)
    labels = torch.cat([train.labels, test.labels])
    if labels.numel() and (labels.min() < 0 or labels.max() >= len(classes)):
        raise DatasetUnavailable(
            f"{folder} has labels outside 0..{len(classes) - 1} "
            f"(found {labels.min().item()}..{labels.max().item()}); the files do not match"
        )
    return Dataset(train, test, classes, provenance)


def _class_names(folder: Path, files: CifarFiles) -> tuple[str, ...]:
    meta = folder / files.meta_file
    names = _unpickle(meta, files).get(files.names_key) if meta.exists() else None
    if names:
        return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    if files.default_names:
        return files.default_names
    raise DatasetUnavailable(f"{meta} is missing or has no {files.names_key!r}; put the whole {folder.name}/ there")


def _unpickle(path: Path, files: CifarFiles) -> dict:
    try:
        with open(path, "rb") as f:
            entry = pickle.load(f, encoding="latin1")  # as torchvision: str keys from Python 2 pickles too
    except Exception as error:  # a pickle of garbage can raise almost anything
        raise DatasetUnavailable(
            f"{path} is not a {files.title} batch file ({type(error).__name__}: {error})"
        ) from None
    if not isinstance(entry, dict):
        raise DatasetUnavailable(f"{path} is not a {files.title} batch file (it holds a {type(entry).__name__})")
    # Keys written as bytes (a Python 3 script copying Python 2 names) read like str keys.
    return {key.decode("latin1") if isinstance(key, bytes) else key: value for key, value in entry.items()}


def _listed(names: list[str], train_files: tuple[str, ...]) -> str:
    """data_batch_1..5 and test_batch."""
    whole = len(train_files) > 1 and set(train_files) <= set(names)
    parts = [f"{train_files[0][:-2]}_1..{len(train_files)}"] if whole else [n for n in names if n in train_files]
    parts += [n for n in names if n not in train_files]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _read_batches(folder: Path, files: CifarFiles, names: tuple[str, ...]) -> tuple[Split, list[str]]:
    """The files' images and labels, and the names of those that are not the official files."""
    import numpy as np

    images, labels, changed = [], [], []
    for name in names:
        path = folder / name
        if not path.exists():
            raise DatasetUnavailable(f"{path} is missing; put the whole {folder.name}/ folder there")
        if hashlib.md5(path.read_bytes()).hexdigest() != files.md5(name):
            changed.append(name)
        entry = _unpickle(path, files)
        targets = next((entry[key] for key in files.label_keys if key in entry), None)
        if "data" not in entry or targets is None:
            raise DatasetUnavailable(
                f"{path} is not a {files.title} batch file (it needs 'data' and '{files.label_keys[0]}')"
            )
        try:
            data = np.asarray(entry["data"])
            if data.dtype != np.uint8:
                if data.size and (data.min() < 0 or data.max() > 255):
                    raise ValueError("pixel values outside 0..255")
                data = data.astype(np.uint8)
            data = data.reshape(-1, 3, 32, 32)
            targets = np.asarray(targets, dtype=np.int64).reshape(-1)
        except (ValueError, TypeError) as error:
            raise DatasetUnavailable(f"{path}: 'data' is not N images of 3x32x32 bytes ({error})") from None
        if len(targets) != len(data):
            raise DatasetUnavailable(f"{path} has {len(data)} images but {len(targets)} labels")
        images.append(torch.from_numpy(np.ascontiguousarray(data)))
        labels.append(torch.from_numpy(targets))
    return Split(torch.cat(images), torch.cat(labels)), changed
