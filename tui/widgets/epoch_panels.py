"""Live's per-epoch panels as Rich text: the confusion matrix as a heat map, per-class accuracy
with its change since the previous epoch, the misclassified images in half-block cells, and
sparklines. Pure functions of recorded epochs; Live caches them until the next epoch arrives."""

from __future__ import annotations

import base64
from collections.abc import Sequence

import numpy as np
from rich.style import Style
from rich.text import Text

from cifar_tui.engine.cifar_classes import CLASSES

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


def confusion_matrix(counts: Sequence[int], epoch: int) -> Text:
    """Rows: the true class; columns: the prediction; each cell the row's percentage, its
    background as bright as the share (the diagonal green, mistakes red)."""
    n = int(round(len(counts) ** 0.5))
    text = Text.assemble((f"confusion, epoch {epoch}", "bold"), " (row %: true → predicted)\n")
    if n * n != len(counts) or n == 0:
        return text.append("after the first epoch", style="dim")
    names = SHORT if n == len(SHORT) else tuple(str(i) for i in range(n))
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


def class_accuracy(class_acc: Sequence[float], previous: Sequence[float] | None, epoch: int) -> Text:
    text = Text.assemble((f"per-class acc, epoch {epoch}", "bold"), "\n")
    for index, (name, acc) in enumerate(zip(CLASSES, class_acc)):
        filled = round(acc / 10)
        change = acc - previous[index] if previous else 0.0
        arrow = ("▲", "green") if change > 0.5 else ("▼", "red") if change < -0.5 else (" ", "")
        text.append(f"{name:>10} ")
        text.append("█" * filled, style="cyan")
        text.append("░" * (10 - filled), style="dim")
        text.append(f" {acc:5.1f} ")
        text.append(arrow[0], style=arrow[1])
        text.append("\n")
    return text


def image_strip(images_b64: str, labels: Sequence[int], width: int) -> Text:
    """The misclassified images side by side (as many as fit), each with 'true→predicted'."""
    text = Text.assemble(("misclassified test images", "bold"), " (true → predicted)\n")
    raw = base64.b64decode(images_b64) if images_b64 else b""
    size = IMAGE_SIDE * IMAGE_SIDE * 3
    count = min(len(raw) // size, len(labels) // 2, max(0, (width + 1) // (IMAGE_SIDE + 2)))
    if count == 0:
        return text.append("none recorded yet" if not raw else "(wider terminal to see them)", style="dim")
    images = np.frombuffer(raw[: count * size], dtype=np.uint8).reshape(count, IMAGE_SIDE, IMAGE_SIDE, 3)
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
        label = f"{SHORT[true]}→{SHORT[predicted]}" if max(true, predicted) < len(SHORT) else f"{true}→{predicted}"
        text.append(f"{label[:IMAGE_SIDE]:<{IMAGE_SIDE}}{gap}", style="dim")
    return text
