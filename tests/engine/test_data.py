import pickle
import tarfile

import numpy as np
import pytest
import torch

from cifar_tui.engine.cifar_classes import CLASSES
from cifar_tui.engine.cifar_files import CIFAR10, CIFAR100, CIFAR100_COARSE, load, read_batch_folder
from cifar_tui.engine.data import (
    DatasetUnavailable,
    eval_batches,
    normalize,
    random_crop,
    random_hflip,
    synthetic,
    train_batches,
)

ARCHIVE_NAME, FOLDER_NAME = "cifar-10-python.tar.gz", "cifar-10-batches-py"
TRAIN_FILES, TEST_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",)


def load_cifar10(data_dir):
    return load(CIFAR10, data_dir)


def write_batch_folder(root, per_file=6):
    """A tiny cifar-10-batches-py/ in the standard pickle format: image i is filled with value i."""
    folder = root / FOLDER_NAME
    folder.mkdir(parents=True)
    value = 0
    for name in TRAIN_FILES + TEST_FILES:
        images = np.stack([np.full(3072, value + i, dtype=np.uint8) for i in range(per_file)])
        labels = [(value + i) % 10 for i in range(per_file)]
        value += per_file
        with open(folder / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"data": images, b"labels": labels}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [f"class{i}".encode() for i in range(10)]}, f)
    return folder


def test_batch_file_reader(tmp_path, capsys):
    folder = write_batch_folder(tmp_path)
    dataset = read_batch_folder(folder)
    read_batch_folder(folder)  # said once
    assert capsys.readouterr().err.splitlines() == [
        f"cifar-tui: notice: data_batch_1..5 and test_batch in {folder} differ from the official CIFAR-10 "
        "files (md5); reading them anyway"
    ]
    assert dataset.train.images.shape == (30, 3, 32, 32) and dataset.train.images.dtype == torch.uint8
    assert dataset.test.images.shape == (6, 3, 32, 32)
    assert dataset.train.images[7].unique().tolist() == [7]
    assert dataset.test.images[0].unique().tolist() == [30]
    assert dataset.train.labels.tolist() == [i % 10 for i in range(30)]
    assert dataset.classes[3] == "class3"
    # what the run's environment records, so that a table never compares such a copy silently
    assert dataset.files == "not the official CIFAR-10 files: data_batch_1..5 and test_batch differ (md5)"
    assert dataset.to("cpu").files == dataset.files


def test_a_placed_tarball_is_extracted_and_read(tmp_path):
    folder = write_batch_folder(tmp_path / "src")
    with tarfile.open(tmp_path / ARCHIVE_NAME, "w:gz") as tar:
        tar.add(folder, arcname=FOLDER_NAME)
    dataset = load_cifar10(tmp_path)
    assert len(dataset.train) == 30 and (tmp_path / FOLDER_NAME / "test_batch").exists()


def test_a_missing_dataset_says_where_to_put_it(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr("torchvision.datasets.utils.download_url", no_network)
    with pytest.raises(DatasetUnavailable, match=f"put {ARCHIVE_NAME} .* in {tmp_path}"):
        load_cifar10(tmp_path)


def test_a_broken_batch_file_is_a_clear_error(tmp_path):
    folder = write_batch_folder(tmp_path)
    (folder / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(DatasetUnavailable, match="data_batch_3 is not a CIFAR-10 batch file"):
        read_batch_folder(folder)


def test_synthetic_is_cifar_shaped_and_deterministic():
    a, b, c = synthetic(2000, 500), synthetic(2000, 500), synthetic(2000, 500, seed=1)
    assert a.train.images.shape == (2000, 3, 32, 32) and a.train.images.dtype == torch.uint8
    assert a.test.images.shape == (500, 3, 32, 32)
    assert torch.equal(a.train.images, b.train.images) and torch.equal(a.test.labels, b.test.labels)
    assert not torch.equal(a.train.images, c.train.images)
    assert set(a.train.labels.tolist()) == set(range(10))


def test_synthetic_default_size():
    dataset = synthetic()
    assert (len(dataset.train), len(dataset.test)) == (50_000, 10_000)


def test_train_batches_cover_the_split_once_shuffled():
    split = synthetic(1000, 10).train
    g = torch.Generator().manual_seed(0)
    labels = torch.cat([y for _, y in train_batches(split, 64, g, hflip=False, crop=False)])
    assert len(labels) == 1000 and not torch.equal(labels, split.labels)
    assert torch.equal(labels.sort().values, split.labels.sort().values)


def test_normalize_matches_totensor_and_normalize():
    images = torch.tensor([0, 255, 51], dtype=torch.uint8).view(1, 3, 1, 1)
    expected = (images.float() / 255 - 0.5) / 0.5
    assert torch.allclose(normalize(images), expected)


def test_hflip_flips_about_half():
    images = torch.arange(64 * 3 * 32 * 32).remainder(251).to(torch.uint8).view(64, 3, 32, 32)
    out = random_hflip(images, torch.Generator().manual_seed(0))
    flipped = [torch.equal(o, i.flip(2)) for o, i in zip(out, images)]
    kept = [torch.equal(o, i) for o, i in zip(out, images)]
    assert all(f or k for f, k in zip(flipped, kept)) and 16 < sum(flipped) < 48


def test_crop_is_a_shifted_window_of_the_padded_image():
    images = torch.randint(1, 255, (16, 3, 32, 32), dtype=torch.uint8)
    out = random_crop(images, torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4))
    for o, p in zip(out, padded):
        assert any(torch.equal(o, p[:, y : y + 32, x : x + 32]) for y in range(9) for x in range(9))


def test_test_batches_are_in_order_and_unaugmented():
    split = synthetic(10, 100).test
    batches = list(eval_batches(split, 40))
    assert [len(y) for _, y in batches] == [40, 40, 20]
    assert torch.equal(batches[0][0], normalize(split.images[:40]))


def write_python3_folder(root, per_file=4, as_lists=False, label_key="labels"):
    """A folder as a user's own Python 3 script writes it: str keys, numpy or plain lists."""
    import numpy as np

    folder = root / FOLDER_NAME
    folder.mkdir(parents=True)
    for k, name in enumerate(TRAIN_FILES + TEST_FILES):
        data = np.arange(per_file * 3072, dtype=np.int64).reshape(per_file, 3072) % 251 + k
        data = data.astype(np.uint8)
        labels = [(k + i) % 10 for i in range(per_file)]
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data.tolist() if as_lists else data, label_key: labels}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": list(CLASSES)}, f)
    return folder


@pytest.mark.parametrize("as_lists, label_key", [(False, "labels"), (True, "labels"), (False, "fine_labels")])
def test_reads_every_folder_torchvision_reads(tmp_path, monkeypatch, as_lists, label_key):
    import numpy as np
    from torchvision.datasets import CIFAR10

    folder = write_python3_folder(tmp_path, as_lists=as_lists, label_key=label_key)
    # Its md5 checks accept only the official files: everything else it does is what we compare with.
    monkeypatch.setattr(CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda *args, **kwargs: True)
    theirs = CIFAR10(str(tmp_path), train=True, download=False)
    ours = read_batch_folder(folder)
    # torchvision keeps images as HWC numpy arrays; ours are CHW tensors of the same bytes.
    assert np.array_equal(ours.train.images.permute(0, 2, 3, 1).numpy(), theirs.data)
    assert ours.train.labels.tolist() == theirs.targets
    assert ours.classes == tuple(theirs.classes)


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"data": [[1, 2, 3]], "labels": [0]}, "data_batch_2: 'data' is not N images of 3x32x32 bytes"),
        ({"data": [[0] * 3072] * 2, "labels": [0]}, "data_batch_2 has 2 images but 1 labels"),
        ({"data": [[300] * 3072], "labels": [0]}, "pixel values outside 0..255"),
        ({"labels": [0]}, "data_batch_2 is not a CIFAR-10 batch file"),
        ([1, 2, 3], "data_batch_2 is not a CIFAR-10 batch file .it holds a list"),
    ],
)
def test_malformed_batches_name_the_file(tmp_path, entry, message):
    folder = write_python3_folder(tmp_path)
    with open(folder / "data_batch_2", "wb") as f:
        pickle.dump(entry, f)
    with pytest.raises(DatasetUnavailable, match=message):
        read_batch_folder(folder)


def test_labels_beyond_the_classes_are_refused(tmp_path):
    folder = write_python3_folder(tmp_path)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({"data": [[0] * 3072], "labels": [10]}, f)
    with pytest.raises(DatasetUnavailable, match="labels outside 0..9"):
        read_batch_folder(folder)


def write_cifar100_folder(root, per_file=(7, 3)):
    """A tiny cifar-100-python/ as the official files are laid out: train, test and meta pickles
    with fine and coarse labels (image i of a file filled with a value of its own)."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    start = 0
    for name, n in zip(("train", "test"), per_file):
        data = np.stack([np.full(3072, start + i, dtype=np.uint8) for i in range(n)])
        fine = [(start + 37 * i) % 100 for i in range(n)]
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "fine_labels": fine, "coarse_labels": [x // 5 for x in fine]}, f)
        start += n
    with open(folder / "meta", "wb") as f:
        meta = {
            "fine_label_names": [f"fine{i}" for i in range(100)],
            "coarse_label_names": [f"super{i}" for i in range(20)],
        }
        pickle.dump(meta, f)
    return folder


def test_cifar100_reads_as_torchvision_reads_it(tmp_path, monkeypatch):
    from torchvision.datasets import CIFAR100 as TorchvisionCIFAR100

    folder = write_cifar100_folder(tmp_path)
    monkeypatch.setattr(TorchvisionCIFAR100, "_check_integrity", lambda self: True)
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda *args, **kwargs: True)
    ours = read_batch_folder(folder, CIFAR100)
    for split, train in ((ours.train, True), (ours.test, False)):
        theirs = TorchvisionCIFAR100(str(tmp_path), train=train, download=False)
        assert np.array_equal(split.images.permute(0, 2, 3, 1).numpy(), theirs.data)
        assert split.labels.tolist() == theirs.targets
    assert ours.classes == tuple(theirs.classes) and len(ours.classes) == 100
    coarse = read_batch_folder(folder, CIFAR100_COARSE)
    assert coarse.classes == tuple(f"super{i}" for i in range(20))
    assert coarse.train.labels.tolist() == [x // 5 for x in ours.train.labels.tolist()]
    assert torch.equal(coarse.test.images, ours.test.images)


def test_cifar100_from_a_placed_tarball_with_one_notice(tmp_path, capsys):
    folder = write_cifar100_folder(tmp_path / "src")
    with tarfile.open(tmp_path / "cifar-100-python.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname="cifar-100-python")
    from cifar_tui.engine.datasets import load_dataset

    dataset = load_dataset("cifar100", tmp_path)
    assert (len(dataset.train), len(dataset.test), len(dataset.classes)) == (7, 3, 100)
    assert capsys.readouterr().err.splitlines() == [
        f"cifar-tui: notice: train and test in {tmp_path / 'cifar-100-python'} differ from the official "
        "CIFAR-100 files (md5); reading them anyway"
    ]


def test_cifar100_without_its_meta_file_says_so(tmp_path):
    folder = write_cifar100_folder(tmp_path)
    (folder / "meta").unlink()
    with pytest.raises(DatasetUnavailable, match="meta is missing or has no 'fine_label_names'"):
        read_batch_folder(folder, CIFAR100)


def test_cifar100_download_failure_says_where_to_put_it(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr("torchvision.datasets.utils.download_url", no_network)
    with pytest.raises(
        DatasetUnavailable, match=f"CIFAR-100 could not be downloaded .*cifar-100-python/ in {tmp_path}"
    ):
        load(CIFAR100, tmp_path)
