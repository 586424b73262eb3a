"""The per-epoch panels (Live, run detail, compare) with ten classes and with a hundred."""

from cifar_tui.engine.cifar_classes import CLASSES
from cifar_tui.tui.widgets.epoch_panels import class_accuracy, confusion_matrix, image_strip

HUNDRED = tuple(f"name{i:02d}" for i in range(100))


def diagonal_confusion(n, mistakes):
    """Ten test images a class, all right but for the (true, predicted, count) mistakes."""
    counts = [0] * (n * n)
    for i in range(n):
        counts[i * n + i] = 10
    for true, predicted, count in mistakes:
        counts[true * n + true] -= count
        counts[true * n + predicted] += count
    return counts


def test_ten_classes_draw_the_whole_grid_with_cifar_names():
    text = confusion_matrix(diagonal_confusion(10, [(3, 5, 4)]), 2, CLASSES).plain
    lines = text.splitlines()
    assert lines[0].startswith("confusion, epoch 2") and len(lines) == 12
    assert lines[1].split() == ["pla", "car", "bir", "cat", "dee", "dog", "fro", "hor", "shi", "tru"]
    assert lines[5].split()[0] == "cat" and lines[5].split()[4] == "60" and lines[5].split()[6] == "40"


def test_a_hundred_classes_show_the_most_confused_pairs_by_name():
    counts = diagonal_confusion(100, [(7, 8, 6), (40, 2, 3), (99, 0, 1)])
    lines = confusion_matrix(counts, 5, HUNDRED).plain.splitlines()
    assert lines[0] == "most confused, epoch 5 (% of the true class)"
    assert [line.split()[:3] for line in lines[1:]] == [
        ["name07", "→", "name08"],
        ["name40", "→", "name02"],
        ["name99", "→", "name00"],
    ]
    assert lines[1].endswith("60% ██████") and max(map(len, lines)) <= 48  # its panel is 48 columns


def test_a_hundred_classes_show_the_worst_and_best_five():
    acc = [50.0 + (i % 50) * 0.5 for i in range(100)]
    acc[13], acc[77] = 3.0, 99.0
    previous = list(acc)
    previous[13] = 10.0  # it got worse
    lines = class_accuracy(acc, previous, 4, HUNDRED).plain.splitlines()
    assert lines[0] == "worst & best classes, epoch 4" and len(lines) == 12
    assert lines[1].split()[0] == "name13" and lines[1].endswith("▼")
    assert lines[6].strip() == "⋯ 90 classes between"
    assert lines[11].split()[0] == "name77" and "99.0" in lines[11]
    assert max(map(len, lines)) <= 31  # its panel is 32 columns with a padding of one


def test_misclassified_images_carry_their_datasets_names():
    image = bytes(16 * 16 * 3)
    import base64

    strip = image_strip(base64.b64encode(image).decode(), [41, 7], 60, HUNDRED).plain
    assert strip.splitlines()[-1].strip() == "name41→name07"
    strip = image_strip(base64.b64encode(image).decode(), [3, 5], 60, CLASSES).plain
    assert strip.splitlines()[-1].strip() == "cat→dog"


def test_a_folders_hostile_class_names_reach_no_terminal():
    names = ("\x1b[2Jcat", "dog\x07") + tuple(f"c{i}" for i in range(10))
    counts = diagonal_confusion(12, [(0, 1, 5)])
    text = confusion_matrix(counts, 1, names).plain + class_accuracy([50.0] * 12, None, 1, names).plain
    assert "\x1b" not in text and "\x07" not in text and "\\x1b[2Jcat" in text
