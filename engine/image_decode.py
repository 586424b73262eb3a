"""Decoding image files into uint8 arrays with PIL, as torchvision's ImageFolder reads them; run as
`python -m cifar_tui.engine.image_decode` it decodes the NUL-separated paths on its stdin and writes
one .npy array (n, 3, H, W) to its stdout, so that image_folder.py can decode on every core from
any process (a daemonic training process may not fork multiprocessing's children). No torch here:
a decoding process starts in a fraction of a second."""

from __future__ import annotations

import sys

import numpy as np


class ImageError(ValueError):
    """A file that cannot be decoded, or images of more than one size: the message names it."""


def decode(paths: list[str]) -> np.ndarray:
    """The images as one (n, 3, H, W) uint8 array, in order."""
    from PIL import Image, UnidentifiedImageError

    images = []
    for path in paths:
        try:
            with Image.open(path) as image:
                images.append(np.asarray(image.convert("RGB")).transpose(2, 0, 1))
        except (OSError, UnidentifiedImageError, ValueError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ImageError(f"{path} cannot be read as an image ({reason})") from None
        if images[-1].shape != images[0].shape:
            raise ImageError(
                f"mixes image sizes ({size(images[0].shape)} and {size(images[-1].shape)}, e.g. {path}); "
                "make them one size"
            )
    return np.stack(images) if images else np.zeros((0, 3, 0, 0), np.uint8)


def size(shape: tuple[int, ...]) -> str:
    return f"{shape[2]}x{shape[1]}"


def main() -> int:
    paths = [p for p in sys.stdin.buffer.read().decode("utf-8", "surrogateescape").split("\0") if p]
    try:
        images = decode(paths)
    except ImageError as error:
        print(error, file=sys.stderr)
        return 2
    np.save(sys.stdout.buffer, images, allow_pickle=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
