"""The speedrun preset on a GPU, in one process: against airbench94's own code on the same data
and GPU (when .bench/airbench94.py is there: the legacy file of KellerJordan/cifar10-airbench,
git-ignored, carried to the device), and what each piece of the recipe is worth.

    python tests/gpu/speedrun_study.py OUT_JSON     # STUDY_VARIANTS="speedrun,fp32": only those

Both train on the engine's synthetic CIFAR-shaped data (no CIFAR-10 copy on the GPU machine),
so the times compare and the accuracies only say that a piece does or does not hurt here.
airbench's time covers its whitening, its 9.9 epochs and its final test-time-augmented
evaluation (its own CUDA-event timing); ours `train_s` covers 10 epochs' steps, `wall_s` also
the whitening, the per-epoch evaluations (the last with test-time augmentation) and the start.
"""

import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from profiling import kernel_table  # tests/gpu/profiling.py: a script's folder is on its path

from cifar_tui.engine.config import make_config
from cifar_tui.engine.data import synthetic
from cifar_tui.engine.events import EpochEnd
from cifar_tui.engine.train import train

VARIANTS = {
    "speedrun": {},
    "no test-time augmentation": dict(tta="off"),
    "no lookahead": dict(lookahead=False),
    "no translate": dict(translate=0),
    "no label smoothing": dict(label_smoothing=0.0),
    "bias lr x1": dict(bias_lr_scale=1.0),
    "fp32": dict(precision="fp32"),
    "torch.compile": dict(compile="default"),
}
SEEDS = {"speedrun": 3, "torch.compile": 2}  # others: 2


def ours(config, data) -> dict:
    seconds, acc = 0.0, None

    def emit(event) -> None:
        nonlocal seconds, acc
        if isinstance(event, EpochEnd):
            seconds += event.seconds
            acc = event.test_acc

    start = time.perf_counter()
    train(0, config, emit, data=data)
    return {"train_s": seconds, "wall_s": time.perf_counter() - start, "test_acc": acc}


def summary(runs: list[dict]) -> dict:
    out = {"runs": len(runs)}
    for key in runs[0]:
        values = [r[key] for r in runs]
        out[key] = round(statistics.mean(values), 3)
        if len(values) > 1:
            out[key + " std"] = round(statistics.stdev(values), 3)
    return out


def airbench(dataset, runs: int) -> dict | None:
    path = Path(".bench/airbench94.py")
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("airbench94", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    folder = tempfile.mkdtemp()
    os.makedirs(f"{folder}/cifar10")
    for name, split in (("train", dataset.train), ("test", dataset.test)):
        images = split.images.permute(0, 2, 3, 1).contiguous()  # airbench keeps CIFAR's HWC uint8
        torch.save({"images": images, "labels": split.labels, "classes": list(dataset.classes)},
                   f"{folder}/cifar10/{name}.pt")  # fmt: skip
    times = []
    module.print_training_details = lambda variables, is_final_entry: (
        times.append(variables["total_time_seconds"]) if is_final_entry else None
    )
    here = os.getcwd()
    os.chdir(folder)
    try:
        module.main("warmup")
        accs = [module.main(run) * 100 for run in range(runs)]
    finally:
        os.chdir(here)
    return {"runs": runs, "time_s": round(statistics.mean(times[1:]), 3), "times": [round(t, 3) for t in times[1:]],
            "test_acc": round(statistics.mean(accs), 2), "warmup run time_s": round(times[0], 3)}  # fmt: skip


def main(out_json: str) -> None:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dataset = synthetic()
    on_device = dataset.to(device)
    report: dict = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
                    "torch": torch.__version__, "data": "synthetic (50,000 + 10,000 CIFAR-shaped images)"}  # fmt: skip
    quick = device.type != "cuda"  # a rehearsal on a CPU: 2 batches an epoch
    base = make_config("speedrun", dataset="synthetic", device=str(device))
    if quick:
        base = base.replace(epochs=2, limit_batches=2, batch_size=64, precision="fp32")
    ours(base, on_device)  # warm-up: kernels, cudnn's choices

    def save() -> None:
        Path(out_json).write_text(json.dumps(report, indent=1))

    try:
        report["airbench94 (its code, same data)"] = airbench(dataset, 1 if quick else 3)
    except Exception as error:  # a finding, not the end of the study
        report["airbench94 error"] = f"{type(error).__name__}: {error}"[:300]
    print(json.dumps(report), flush=True)
    save()
    chosen = os.environ.get("STUDY_VARIANTS", "").split(",") if os.environ.get("STUDY_VARIANTS") else list(VARIANTS)
    for name, overrides in VARIANTS.items():
        if (quick and name == "torch.compile") or name not in chosen:
            continue
        try:
            runs = [ours(base.replace(seed=seed, **overrides), on_device) for seed in range(SEEDS.get(name, 2))]
            report[name] = summary(runs)
        except Exception as error:
            report[name] = f"{type(error).__name__}: {error}"[:300]
        print(name, report[name], flush=True)
        save()
    if device.type == "cuda":
        try:
            report["profile of one speedrun (GPU time by kernel)"] = profile(base, on_device)
        except Exception as error:
            report["profile error"] = f"{type(error).__name__}: {error}"[:300]
        save()


def profile(config, data) -> list[str]:
    """The 15 kernels that take the most GPU time in one speedrun, for the next speed-up."""
    return kernel_table(lambda: ours(config, data), rows=15, width=60)


if __name__ == "__main__":
    main(sys.argv[1])
