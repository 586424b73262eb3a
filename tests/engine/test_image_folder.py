"""folder:PATH: image folders read as torchvision's ImageFolder reads them, cached, and each
mistake in one line."""

import os

import numpy as np
import pytest
import torch

from cifar_tui.engine import image_folder
from cifar_tui.engine.config import ConfigError, make_config
from cifar_tui.engine.data import DatasetUnavailable
from cifar_tui.engine.datasets import load_dataset


def write_image(path, image, kind="png"):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(path, format="PNG" if kind == "png" else "JPEG")


def make_folder(root, test_name="test", per_class=3, side=32, classes=("cat", "dog", "ship"), kind="png"):
    """root/train/<class>/<i>.png and root/<test_name>/<class>/<i>.png of seeded random pixels."""
    g = torch.Generator().manual_seed(0)
    for split, n in (("train", per_class), (test_name, 2)):
        for name in classes:
            for i in range(n):
                image = torch.randint(0, 256, (3, side, side), dtype=torch.uint8, generator=g)
                write_image(root / split / name / f"{i:03d}.{kind}", image, kind)
    return root


@pytest.mark.parametrize("kind", ["png", "jpg"])
def test_reads_what_torchvision_image_folder_reads(tmp_path, kind):
    from torchvision.datasets import ImageFolder
    from torchvision.datasets.folder import IMG_EXTENSIONS

    assert image_folder.EXTENSIONS == IMG_EXTENSIONS
    folder = make_folder(tmp_path / "pets", kind=kind)
    ours = load_dataset(f"folder:{folder}", tmp_path / "home")
    for split, name in ((ours.train, "train"), (ours.test, "test")):
        theirs = ImageFolder(str(folder / name))
        assert split.labels.tolist() == theirs.targets
        expected = np.stack([np.asarray(theirs.loader(path)) for path, _ in theirs.samples])  # PIL, HWC
        assert np.array_equal(split.images.permute(0, 2, 3, 1).numpy(), expected)
    assert ours.classes == tuple(ImageFolder(str(folder / "train")).classes) == ("cat", "dog", "ship")
    assert ours.train.images.dtype == torch.uint8 and ours.train.images.shape == (9, 3, 32, 32)


@pytest.mark.parametrize("test_name", ["val", "valid"])
def test_cinic_names_its_test_split_valid(tmp_path, test_name):
    folder = make_folder(tmp_path / "cinic", test_name=test_name, kind="jpg")
    assert len(load_dataset(f"folder:{folder}", tmp_path / "home").test) == 6


def test_the_second_load_reads_the_cache_and_a_changed_folder_is_decoded_again(tmp_path, monkeypatch, capsys):
    folder = make_folder(tmp_path / "pets")
    first = load_dataset(f"folder:{folder}", tmp_path / "home")
    decoded = []
    real = image_folder._decode_all
    monkeypatch.setattr(image_folder, "_decode_all", lambda paths: decoded.append(len(paths)) or real(paths))
    again = load_dataset(f"folder:{folder}", tmp_path / "home")
    assert decoded == [] and torch.equal(again.train.images, first.train.images) and again.classes == first.classes
    changed = folder / "test" / "dog" / "001.png"
    write_image(changed, torch.zeros(3, 32, 32, dtype=torch.uint8))
    os.utime(changed, ns=(1, 1))  # a rewrite within the clock's resolution is still seen: the size may differ too
    capsys.readouterr()
    fresh = load_dataset(f"folder:{folder}", tmp_path / "home")
    assert decoded == [15] and fresh.test.images[3].eq(0).all()
    assert capsys.readouterr().err == f"cifar-tui: notice: {folder} changed since it was decoded; decoding it again\n"


@pytest.mark.slow
def test_decoding_in_processes_gives_what_decoding_in_one_gives(tmp_path, monkeypatch):
    """Two processes (tests/engine/test_image_folder.py runs them for real): the same tensors."""
    folder = make_folder(tmp_path / "pets", per_class=5)
    alone = load_dataset(f"folder:{folder}", tmp_path / "home1")
    monkeypatch.setattr(image_folder, "MIN_PER_PROCESS", 4)  # two decoding processes
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    pooled = load_dataset(f"folder:{folder}", tmp_path / "home2")
    assert torch.equal(pooled.train.images, alone.train.images) and torch.equal(pooled.test.labels, alone.test.labels)


def test_images_of_another_size_are_resized_once(tmp_path, capsys):
    folder = make_folder(tmp_path / "big", side=64)
    dataset = load_dataset(f"folder:{folder}", tmp_path / "home")
    assert dataset.train.images.shape == (9, 3, 32, 32)
    assert capsys.readouterr().err.splitlines() == [
        f"cifar-tui: notice: decoding the 15 images of {folder} once (later runs read them from "
        f"{tmp_path / 'home' / 'image-folders'})",
        f"cifar-tui: notice: {folder}'s images are 64x64; resized to 32x32 once (the cache keeps them)",
    ]


def break_folder(folder, mistake):
    if mistake == "empty class":
        for path in (folder / "train" / "dog").iterdir():
            path.unlink()
        return f"{folder / 'train' / 'dog'} holds no images"
    if mistake == "class only in test":
        write_image(folder / "test" / "zebra" / "000.png", torch.zeros(3, 32, 32, dtype=torch.uint8))
        return f"{folder / 'test' / 'zebra'} is a class that {folder / 'train'} lacks"
    if mistake == "unreadable":
        (folder / "train" / "cat" / "001.png").write_bytes(b"not a png")
        return f"{folder / 'train' / 'cat' / '001.png'} cannot be read as an image"
    if mistake == "mixed sizes":
        write_image(folder / "train" / "cat" / "001.png", torch.zeros(3, 40, 40, dtype=torch.uint8))
        return f"{folder} mixes image sizes \\(32x32 and 40x40, e.g. {folder / 'train' / 'cat' / '001.png'}\\)"
    if mistake == "newline in a class":
        for split in ("train", "test"):
            (folder / split / "dog").rename(folder / split / "d\nog")
        return "a class folder's name must be printable text; it holds the invisible or control character U\\+000A"
    if mistake == "no test":
        (folder / "test").rename(folder / "testing")
        return f"{folder} needs a train/ folder and a test/ \\(or val/, valid/\\) folder of class folders"
    raise AssertionError(mistake)


@pytest.mark.parametrize("processes", [1, pytest.param(2, marks=pytest.mark.slow)])
@pytest.mark.parametrize(
    "mistake", ["empty class", "class only in test", "unreadable", "mixed sizes", "newline in a class", "no test"]
)
def test_each_mistake_is_one_line_that_names_it(tmp_path, monkeypatch, mistake, processes):
    monkeypatch.setattr(image_folder, "MIN_PER_PROCESS", 4 if processes == 2 else 10**9)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    folder = make_folder(tmp_path / "pets")
    message = break_folder(folder, mistake)
    with pytest.raises(DatasetUnavailable, match=message) as error:
        load_dataset(f"folder:{folder}", tmp_path / "home")
    assert "\n" not in str(error.value)


def test_a_run_is_made_with_the_folders_absolute_path(tmp_path, monkeypatch):
    make_folder(tmp_path / "pets")
    monkeypatch.chdir(tmp_path)
    assert make_config("seed-cnn", dataset="folder:pets").dataset == f"folder:{tmp_path / 'pets'}"
    with pytest.raises(ConfigError, match=f"dataset: {tmp_path / 'nope'} is not a folder"):
        make_config("seed-cnn", dataset="folder:nope")
    with pytest.raises(ConfigError, match="allowed: cifar10, cifar100, cifar100-coarse, synthetic, or folder:PATH"):
        make_config("seed-cnn", dataset="folder")
    (tmp_path / "bare" / "val").mkdir(parents=True)  # a folder, but no train/ in it: refused when made
    with pytest.raises(ConfigError, match=f"dataset: {tmp_path / 'bare'} needs a train/ folder and a test/"):
        make_config("seed-cnn", dataset="folder:bare")


def test_the_command_line_refuses_a_folder_without_train_and_test_and_stores_nothing(tmp_path, capsys):
    from cifar_tui.store.runs import RunStore
    from tests.tui.test_cli import cifar_tui

    (tmp_path / "bare").mkdir()
    home = ("--home", str(tmp_path / "home"))
    for command in (("run", "--epochs", "1"), ("queue", "add")):
        status, out, err = cifar_tui(capsys, *home, *command, "--dataset", f"folder:{tmp_path / 'bare'}")
        assert status == 2 and err.strip().count("\n") == 0 and "needs a train/ folder and a test/" in err
    assert RunStore(tmp_path / "home" / "runs.db").count() == 0
