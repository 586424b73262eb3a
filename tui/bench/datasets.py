"""`cifar-tui bench datasets`: each dataset's load time (the first, and the next from its cache)
and its training speed, against the first dataset named, in one process. Every dataset ends as
the same uint8 tensors on the device, so the speeds should match; this shows that they do."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def bench_datasets(names: list[str], data_dir: Path, device: str, batches: int) -> dict[str, Any]:
    from ...engine.config import make_config
    from ...engine.datasets import load_dataset
    from ...engine.device import resolve_device
    from ...engine.events import EpochEnd
    from ...engine.train import train

    torch_device = resolve_device(device)
    loaded, result = {}, {"device": str(torch_device), "batches": batches}
    for name in names:
        start = time.perf_counter()
        load_dataset(name, data_dir)  # the first load: a download, a decode, or the cache
        first = time.perf_counter() - start
        start = time.perf_counter()
        loaded[name] = load_dataset(name, data_dir).to(torch_device)
        result[f"{name} load_s (first, again)"] = f"{first:.2f}, {time.perf_counter() - start:.2f}"

    def rate(name: str) -> float:
        config = make_config("seed-cnn", dataset=name, device=device, epochs=1, limit_batches=batches)
        ends: list[EpochEnd] = []
        train(0, config, lambda event: ends.append(event) if isinstance(event, EpochEnd) else None, data=loaded[name])
        return ends[-1].images_per_s

    rate(names[0])  # warm-up: kernels, allocator
    best = dict.fromkeys(names, 0.0)
    for _ in range(3):  # alternate, keep each one's best: a small machine's noise is larger than the effect
        for name in names:
            best[name] = max(best[name], rate(name))
    for name in names:
        result[f"{name} img_s"] = round(best[name])
        result[f"{name} speed vs {names[0]}"] = round(best[name] / best[names[0]], 3)
    return result
