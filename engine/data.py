"""CIFAR-10 and the synthetic stand-in, held as uint8 tensors on the training device.

Augmentation and normalisation are tensor ops on a whole batch: no PIL, no DataLoader.
"""

from __future__ import annotations

import hashlib
import pickle
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from cifar_tui.engine.cifar_classes import CLASSES
from cifar_tui.engine.notices import notice

ARCHIVE_NAME = "cifar-10-python.tar.gz"
FOLDER_NAME = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
# torchvision.datasets.CIFAR10's checksums of the official batch files.
MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}


class DatasetUnavailable(RuntimeError):
    """The dataset cannot be had: the message says where to put it by hand."""


@dataclass(frozen=True)
class Split:
    images: torch.Tensor  # (N, 3, 32, 32) uint8
    labels: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return self.labels.shape[0]

    def to(self, device: torch.device | str) -> Split:
        return Split(self.images.to(device), self.labels.to(device))


@dataclass(frozen=True)
class Dataset:
    train: Split
    test: Split
    classes: tuple[str, ...] = CLASSES

    def to(self, device: torch.device | str) -> Dataset:
        return Dataset(self.train.to(device), self.test.to(device), self.classes)


# ---------------------------------------------------------------- CIFAR-10


def load_cifar10(data_dir: Path) -> Dataset:
    """Read the batch files from data_dir, extracting a placed tarball or downloading them first."""
    folder = data_dir / FOLDER_NAME
    if not all((folder / name).exists() for name in TRAIN_FILES + TEST_FILES):
        archive = data_dir / ARCHIVE_NAME
        if not archive.exists():
            _download(data_dir)
        _extract(archive, data_dir)
    return read_batch_folder(folder)


def _download(data_dir: Path) -> None:
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import download_url

    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        download_url(CIFAR10.url, str(data_dir), ARCHIVE_NAME, CIFAR10.tgz_md5)
    except Exception as error:  # no network, a proxy, a truncated file: all the same to the user
        (data_dir / ARCHIVE_NAME).unlink(missing_ok=True)
        raise DatasetUnavailable(
            f"CIFAR-10 could not be downloaded ({type(error).__name__}); put {ARCHIVE_NAME} "
            f"or the extracted {FOLDER_NAME}/ in {data_dir}, or use --dataset synthetic"
        ) from error


def _extract(archive: Path, data_dir: Path) -> None:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(data_dir, filter="data")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DatasetUnavailable(f"{archive} is not a readable CIFAR-10 archive ({error}); replace it") from error


def read_batch_folder(folder: Path) -> Dataset:
    """Read a cifar-10-batches-py folder into uint8 tensors: whatever torchvision's CIFAR10 reads
    (pickles of either Python, data as an array or nested lists, `labels` or `fine_labels`)."""
    train, train_changed = _read_batches(folder, TRAIN_FILES)
    test, test_changed = _read_batches(folder, TEST_FILES)
    if changed := train_changed + test_changed:  # modified CIFAR variants use the same format
        notice(
            f"{_listed(changed)} in {folder} {'differs' if len(changed) == 1 else 'differ'} from the official "
            "CIFAR-10 files (md5); reading them anyway"
        )
    classes = CLASSES
    meta = folder / "batches.meta"
    if meta.exists():
        names = _unpickle(meta).get("label_names")
        if names:
            classes = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    labels = torch.cat([train.labels, test.labels])
    if labels.numel() and (labels.min() < 0 or labels.max() >= len(classes)):
        raise DatasetUnavailable(
            f"{folder} has labels outside 0..{len(classes) - 1} "
            f"(found {labels.min().item()}..{labels.max().item()}); the files do not match"
        )
    return Dataset(train, test, classes)


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            entry = pickle.load(f, encoding="latin1")  # as torchvision: str keys from Python 2 pickles too
    except Exception as error:  # a pickle of garbage can raise almost anything
        raise DatasetUnavailable(f"{path} is not a CIFAR-10 batch file ({type(error).__name__}: {error})") from None
    if not isinstance(entry, dict):
        raise DatasetUnavailable(f"{path} is not a CIFAR-10 batch file (it holds a {type(entry).__name__})")
    # Keys written as bytes (a Python 3 script copying Python 2 names) read like str keys.
    return {key.decode("latin1") if isinstance(key, bytes) else key: value for key, value in entry.items()}


def _listed(names: list[str]) -> str:
    """data_batch_1..5 and test_batch."""
    parts = ["data_batch_1..5"] if set(TRAIN_FILES) <= set(names) else [n for n in names if n in TRAIN_FILES]
    parts += [n for n in names if n not in TRAIN_FILES]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _read_batches(folder: Path, names: tuple[str, ...]) -> tuple[Split, list[str]]:
    """The files' images and labels, and the names of those that are not the official files."""
    import numpy as np

    images, labels, changed = [], [], []
    for name in names:
        path = folder / name
        if not path.exists():
            raise DatasetUnavailable(f"{path} is missing; put the whole {FOLDER_NAME}/ folder there")
        if hashlib.md5(path.read_bytes()).hexdigest() != MD5[name]:
            changed.append(name)
        entry = _unpickle(path)
        targets = entry.get("labels", entry.get("fine_labels"))
        if "data" not in entry or targets is None:
            raise DatasetUnavailable(f"{path} is not a CIFAR-10 batch file (it needs 'data' and 'labels')")
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


# ---------------------------------------------------------------- synthetic


def synthetic(n_train: int = 50_000, n_test: int = 10_000, seed: int = 0) -> Dataset:
    """CIFAR-shaped, deterministic and learnable: each class is a smooth colour pattern.

    An image blends a random 32x32 window of its class's 40x40 pattern with a fainter window
    of another class's, plus pixel noise. Blends at 50/50 are ambiguous, so no model passes
    about 90%, while a small CNN passes 50% within one epoch. Each image is two indexes into
    small banks of windows plus noise: well under a second for 60k images.
    """
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(10, 3, 4, 4, generator=g)
    patterns = F.interpolate(coarse, size=40, mode="bicubic", align_corners=False)
    patterns = (patterns - patterns.amin()) / (patterns.amax() - patterns.amin())
    windows = patterns.unfold(2, 32, 1).unfold(3, 32, 1)  # (10, 3, 9, 9, 32, 32)
    windows = windows.permute(0, 2, 3, 1, 4, 5).reshape(1, 10, 81, 3, 32, 32)
    weights = torch.tensor([0.5, 0.6, 0.7, 0.85]).view(4, 1, 1, 1, 1, 1)
    main_bank = (windows * weights * 160).to(torch.uint8)  # (4 weights, 10 classes, 81 windows, 3, 32, 32)
    other_bank = (windows * (1 - weights) * 160).to(torch.uint8)
    splits = []
    for n in (n_train, n_test):
        labels = torch.randint(0, 10, (n,), generator=g)
        others = (labels + torch.randint(1, 10, (n,), generator=g)) % 10
        weight = torch.randint(0, 4, (n,), generator=g)
        window, other_window = torch.randint(0, 81, (2, n), generator=g)
        noise = torch.empty(n * 3 * 32 * 32 // 8 + 1, dtype=torch.int64).random_(generator=g)
        noise = noise.view(torch.uint8)[: n * 3 * 32 * 32].view(n, 3, 32, 32) >> 2  # uniform 0..63
        images = main_bank[weight, labels, window] + other_bank[weight, others, other_window] + noise
        splits.append(Split(images, labels))
    return Dataset(splits[0], splits[1])


def _gather(images: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Image i's pixels at rows[i] x cols[i] (each (n, size) indices), for all i in one gather."""
    n, c = images.shape[:2]
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(c, device=images.device)[None, :, None, None]
    return images[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


# ---------------------------------------------------------------- batches on the device


def train_batches(
    split: Split,
    batch_size: int,
    generator: torch.Generator,
    hflip: bool,
    crop: bool,
    drop_last: bool = False,
    translate: int = 0,
    flips: torch.Tensor | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of shuffled, augmented, normalised batches, all on the split's device.
    `flips` (one bool an image: alternating_flips) replaces hflip's coin tosses."""
    n = len(split)
    order = torch.randperm(n, generator=generator, device=generator.device).to(split.labels.device)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    for start in range(0, stop, batch_size):
        index = order[start : start + batch_size]
        images = split.images[index]
        if crop:
            images = random_crop(images, generator)
        if translate:
            images = random_translate(images, generator, translate)
        if flips is not None:
            images = torch.where(flips[index][:, None, None, None], images.flip(3), images)
        elif hflip:
            images = random_hflip(images, generator)
        yield normalize(images), split.labels[index]


def alternating_flips(n: int, seed: int, epoch: int, device: torch.device | str) -> torch.Tensor:
    """airbench's derandomised flips: a random half of the images (fixed by the seed) is flipped
    in odd epochs, the other half in even ones, so each image is seen both ways every two epochs."""
    first = torch.rand(n, generator=torch.Generator().manual_seed(seed)) < 0.5
    return (first ^ (epoch % 2 == 0)).to(device)


def eval_batches(split: Split, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The test split in order, never augmented (the tutorial flipped test images; we do not)."""
    for start in range(0, len(split), batch_size):
        yield normalize(split.images[start : start + batch_size]), split.labels[start : start + batch_size]


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] to float in [-1, 1]: ToTensor then Normalize(0.5, 0.5)."""
    return images.float().mul_(2 / 255).sub_(1)


def random_hflip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    flip = torch.rand(images.shape[0], generator=generator, device=generator.device) < 0.5
    flip = flip.to(images.device)[:, None, None, None]
    return torch.where(flip, images.flip(3), images)


def random_crop(images: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """RandomCrop(32, padding=4) for a whole batch: zero-pad, then one gather per batch."""
    n, _, h, w = images.shape
    padded = F.pad(images, (padding,) * 4)
    offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator, device=generator.device)
    offsets = offsets.to(images.device)
    rows = torch.arange(h, device=images.device)[None, :] + offsets[:, :1]
    cols = torch.arange(w, device=images.device)[None, :] + offsets[:, 1:]
    return _gather(padded, rows, cols)


def random_translate(images: torch.Tensor, generator: torch.Generator, pixels: int) -> torch.Tensor:
    """Shift each image by up to `pixels` both ways, the edge mirrored in (reflect padding), in
    one gather per batch."""
    n, _, h, w = images.shape
    shifts = torch.randint(-pixels, pixels + 1, (n, 2), generator=generator, device=generator.device)
    shifts = shifts.to(images.device)
    rows = _reflect(torch.arange(h, device=images.device)[None, :] + shifts[:, :1], h)
    cols = _reflect(torch.arange(w, device=images.device)[None, :] + shifts[:, 1:], w)
    return _gather(images, rows, cols)


def _reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    """Indices past an edge mirrored back inside, as F.pad's "reflect" does (-1 -> 1, size -> size-2)."""
    index = index.abs()
    return torch.where(index >= size, 2 * (size - 1) - index, index)
