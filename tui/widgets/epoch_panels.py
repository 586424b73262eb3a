"""Live's per-epoch panels as Rich text: the confusion matrix as a heat map, per-class accuracy
with its change since the previous epoch, the misclassified images in half-block cells, and
sparklines. Pure functions of recorded epochs; Live caches them until the next epoch arrives."""

from __future__ import annotations

import base64
from collections.abc import Sequence

import numpy as np
from rich.style import Style
from rich.text import Text

from ...engine.cifar_classes import CLASSES
from ..safe_text import printable

SHORT = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SPARKS = "▁▂▃▄▅▆▇█"
IMAGE_SIDE = 16  # the recorded images are halved to 16x16: 16 columns x 8 rows of half blocks


def sparkline(values: Sequence[float], width: int = 12) -> str:
    values = [v for v in values if v is not None][-width:]
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low or 1.0
    return "".join(SPARKS[min(7, int((v - low) / span * 7.999))] for v in values)


GRID_UP_TO = 10  # classes a confusion grid and a per-class list show whole in their panels
CONFUSED_SHOWN = 10  # pairs in the many-class view of confusion
ENDS_SHOWN = 5  # worst and best classes in the many-class view of per-class accuracy


def short_names(classes: Sequence[str]) -> tuple[str, ...]:
    """CIFAR-10's names as its panels have always shown them; other datasets' as they are, but
    with control characters escaped (a folder's names are anyone's)."""
    return SHORT if tuple(classes) == CLASSES else tuple(printable(name) for name in classes)


def confusion_matrix(counts: Sequence[int], epoch: int, classes: Sequence[str] = CLASSES) -> Text:
    """Rows: the true class; columns: the prediction; each cell the row's percentage, its
    background as bright as the share (the diagonal green, mistakes red). Past GRID_UP_TO
    classes (a 100x100 grid fits no terminal): the most confused pairs instead."""
    n = int(round(len(counts) ** 0.5))
    if n * n != len(counts) or n == 0:
        return Text.assemble((f"confusion, epoch {epoch}", "bold"), "\n").append("after the first epoch", style="dim")
    names = short_names(classes) if len(classes) == n else tuple(str(i) for i in range(n))
    if n > GRID_UP_TO:
        return most_confused(counts, n, epoch, names)
    text = Text.assemble((f"confusion, epoch {epoch}", "bold"), " (row %: true → predicted)\n")
    text.append("       " + "".join(f"{name[:3]:>4}" for name in names) + "\n", style="dim")
    for row_index in range(n):
        row = counts[row_index * n : (row_index + 1) * n]
        total = sum(row) or 1
        text.append(f"{names[row_index][:6]:>6} ", style="dim")
        for column, count in enumerate(row):
            share = count / total
            base = (40, 160, 70) if column == row_index else (200, 60, 50)
            level = 0.15 + 0.85 * share if count else 0.0
            background = tuple(int(c * level) for c in base) if count else (30, 30, 30)
            label = f"{round(100 * share):>3} " if count else "  · "
            text.append(label, style=Style(bgcolor=f"rgb{background}", color="white" if share > 0.3 else "grey70"))
        text.append("\n")
    return text


def most_confused(counts: Sequence[int], n: int, epoch: int, names: Sequence[str]) -> Text:
    """The mistakes that cost most: the true class → predicted pairs with the largest share of
    the true class's test images, each with that share as a bar."""
    text = Text.assemble((f"most confused, epoch {epoch}", "bold"), " (% of the true class)\n")
    totals = [sum(counts[i * n : (i + 1) * n]) or 1 for i in range(n)]
    pairs = sorted(
        ((counts[i * n + j] / totals[i], i, j) for i in range(n) for j in range(n) if i != j and counts[i * n + j]),
        reverse=True,
    )[:CONFUSED_SHOWN]
    if not pairs:
        return text.append("no mistakes", style="green")
    for share, true, predicted in pairs:
        text.append(f"{names[true][:13]:>13} → {names[predicted][:13]:<13}{100 * share:4.0f}% ")
        text.append("█" * max(1, round(share * 10)) + "\n", style="red")
    return text


def class_accuracy(
    class_acc: Sequence[float], previous: Sequence[float] | None, epoch: int, classes: Sequence[str] = CLASSES
) -> Text:
    """Each class's accuracy as a bar, with its change since the previous epoch; past GRID_UP_TO
    classes, the worst and the best ENDS_SHOWN."""
    names = tuple(map(printable, classes)) if len(classes) == len(class_acc) else tuple(map(str, range(len(class_acc))))
    order = list(range(len(class_acc)))
    text = Text.assemble((f"per-class acc, epoch {epoch}", "bold"), "\n")
    if len(order) > GRID_UP_TO:
        order.sort(key=lambda i: class_acc[i])
        text = Text.assemble((f"worst & best classes, epoch {epoch}", "bold"), "\n")
        shown = [*order[:ENDS_SHOWN], None, *order[-ENDS_SHOWN:]]
    else:
        shown = order
    for index in shown:
        if index is None:
            text.append(f"{'⋯':>10} {len(order) - 2 * ENDS_SHOWN} classes between\n", style="dim")
            continue
        acc = class_acc[index]
        filled = round(acc / 10)
        change = acc - previous[index] if previous and len(previous) == len(class_acc) else 0.0
        arrow = ("▲", "green") if change > 0.5 else ("▼", "red") if change < -0.5 else (" ", "")
        text.append(f"{names[index][:10]:>10} ")
        text.append("█" * filled, style="cyan")
        text.append("░" * (10 - filled), style="dim")
        text.append(f" {acc:5.1f} ")
        text.append(arrow[0], style=arrow[1])
        text.append("\n")
    return text


def image_strip(images_b64: str, labels: Sequence[int], width: int, classes: Sequence[str] = CLASSES) -> Text:
    """The misclassified images side by side (as many as fit), each with 'true→predicted'."""
    text = Text.assemble(("misclassified test images", "bold"), " (true → predicted)\n")
    raw = base64.b64decode(images_b64) if images_b64 else b""
    size = IMAGE_SIDE * IMAGE_SIDE * 3
    count = min(len(raw) // size, len(labels) // 2, max(0, (width + 1) // (IMAGE_SIDE + 2)))
    if count == 0:
        return text.append("none recorded yet" if not raw else "(wider terminal to see them)", style="dim")
    images = np.frombuffer(raw[: count * size], dtype=np.uint8).reshape(count, IMAGE_SIDE, IMAGE_SIDE, 3)
    names = short_names(classes)
    gap = " " * 2
    for y in range(0, IMAGE_SIDE, 2):
        for index in range(count):
            for x in range(IMAGE_SIDE):
                top, bottom = images[index, y, x], images[index, y + 1, x]
                text.append(
                    "▀",
                    style=Style(
                        color=f"rgb({top[0]},{top[1]},{top[2]})", bgcolor=f"rgb({bottom[0]},{bottom[1]},{bottom[2]})"
                    ),
                )
            text.append(gap)
        text.append("\n")
    for index in range(count):
        true, predicted = labels[2 * index], labels[2 * index + 1]
        label = (
            f"{names[true][:7]}→{names[predicted][:8]}" if max(true, predicted) < len(names) else f"{true}→{predicted}"
        )
        text.append(f"{label[:IMAGE_SIDE]:<{IMAGE_SIDE}}{gap}", style="dim")
    return text
