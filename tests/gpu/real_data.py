"""Real CIFAR-10 on a lent GPU, in one call: the speedrun presets against airbench's own code on
the same data and GPU, what each piece of the recipe is worth, and every preset's accuracy.

    python tests/gpu/real_data.py NPZ OUT_JSON

NPZ is ../shared/data/cifar10-jpeg.npz (carried to the GPU machine in a git-ignored folder beside
its cifar10_jpeg.py, which writes it as cifar-10-batches-py/). .bench/airbench94.py and
.bench/airbench94_muon.py are KellerJordan/cifar10-airbench's legacy/airbench94.py and
airbench94_muon.py, also git-ignored and carried. Environment: REAL_BUDGET_S (520), REAL_SEEDS
(10), REAL_PIECE_SEEDS (4), REAL_ONLY (a comma list of sections; speedrun-95, speedrun-96,
resnet20, preact-resnet18 and bench-augment run only when named there). On a CPU it rehearses
every section with tiny runs (REAL_BUDGET_S is then a limit, not a plan).

Times. airbench's own (CUDA events) cover its whitening, its training steps and its final
test-time-augmented evaluation, not its per-epoch evaluations; `timed_s` here covers the same for
the engine (building the model with its whitening, the epochs' steps, the last evaluation), each
phase ended by a device sync. torch.compile's warm-up stays outside both: a first run that is not
counted, as airbench's warm-up run on random labels. Sections run one after another on an
otherwise idle GPU, except `presets`, whose CLI runs train beside `pieces` (their accuracies are
what counts there; the pieces' times are flagged as shared).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from profiling import kernel_table  # tests/gpu/profiling.py: a script's folder is on its path

import cifar_tui.engine.train as engine_train
from cifar_tui.engine.cifar_files import CIFAR10
from cifar_tui.engine.config import make_config
from cifar_tui.engine.datasets import load_dataset
from cifar_tui.engine.events import EpochEnd

REPO = Path(__file__).resolve().parent.parent
T0 = time.monotonic()
BUDGET = float(os.environ.get("REAL_BUDGET_S", 520))
CUDA = torch.cuda.is_available()
DEVICE = torch.device("cuda" if CUDA else "cpu")
SEEDS = int(os.environ.get("REAL_SEEDS", 10 if CUDA else 2))
PIECE_SEEDS = int(os.environ.get("REAL_PIECE_SEEDS", 4 if CUDA else 1))
ONLY = [s for s in os.environ.get("REAL_ONLY", "").split(",") if s]
REPORT: dict = {}
PIECES = {  # each of the speedrun's pieces switched off in turn
    "random flips (not alternating)": dict(alternate_flips=False),
    "10 whole epochs (not 9.9)": dict(last_epoch_share=1.0),
    "whitening bias trained all epochs": dict(whiten_bias_epochs=0),
    "last partial batch kept": dict(drop_last=False),
    "cudnn benchmark off": dict(cudnn_benchmark=False),
}


def left() -> float:
    return BUDGET - (time.monotonic() - T0)


def sync() -> None:
    if CUDA:
        torch.cuda.synchronize()


def save(out: str) -> None:
    REPORT["elapsed_s"] = round(time.monotonic() - T0, 1)
    Path(out).write_text(json.dumps(REPORT, indent=1))


def summary(runs: list[dict]) -> dict:
    out: dict = {"n": len(runs)}
    for key in runs[0]:
        if key == "seed":
            continue
        values = [r[key] for r in runs if r.get(key) is not None]
        if not values or not isinstance(values[0], (int, float)):
            continue
        out[key] = round(statistics.mean(values), 4)
        if len(values) > 1:
            out[key + "_std"] = round(statistics.stdev(values), 4)
    out["runs"] = runs
    return out


def rehearsal(config):
    """On a CPU every run is tiny: the code paths, not the figures."""
    if CUDA:
        return config
    return config.replace(
        epochs=2, limit_batches=2, batch_size=64, limit_eval_batches=1, precision="fp32", compile="off"
    )


# ---------------------------------------------------------------- the engine, timed as airbench is


class Phases:
    """Times the engine's build (model, whitening, optimizer) and its test-time-augmented last
    evaluation, each ended by a sync, by wrapping the module's functions for one run."""

    def __init__(self):
        self.build_s = self.tta_s = 0.0

    def __enter__(self):
        self.build, self.evaluate = engine_train.build, engine_train.evaluate

        def build(*args, **kwargs):
            sync()
            start = time.perf_counter()
            try:
                return self.build(*args, **kwargs)
            finally:
                sync()
                self.build_s += time.perf_counter() - start

        def evaluate(model, split, num_classes, config):
            if config.tta == "off":
                return self.evaluate(model, split, num_classes, config)
            sync()
            start = time.perf_counter()
            try:
                return self.evaluate(model, split, num_classes, config)
            finally:
                sync()
                self.tta_s += time.perf_counter() - start

        engine_train.build, engine_train.evaluate = build, evaluate
        return self

    def __exit__(self, *exc):
        engine_train.build, engine_train.evaluate = self.build, self.evaluate


def engine_run(config, data) -> dict:
    ends: list[EpochEnd] = []
    start = time.perf_counter()
    with Phases() as phases:
        engine_train.train(0, config, lambda e: ends.append(e) if isinstance(e, EpochEnd) else None, data=data)
    steps_s = sum(e.seconds for e in ends)
    return {
        "seed": config.seed,
        "test_acc": round(ends[-1].test_acc, 2),
        "timed_s": round(phases.build_s + steps_s + phases.tta_s, 4),
        "steps_s": round(steps_s, 4),
        "build_s": round(phases.build_s, 4),
        "tta_eval_s": round(phases.tta_s, 4),
        "wall_s": round(time.perf_counter() - start, 3),
        "epoch_acc": [round(e.test_acc, 2) for e in ends],
    }


def preset_seeds(preset: str, data, seeds: int, **overrides) -> dict:
    config = rehearsal(make_config(preset, device=str(DEVICE), **overrides))
    warm = engine_run(config.replace(seed=10_000), data)  # kernels, cudnn's choices, torch.compile
    runs = [engine_run(config.replace(seed=seed), data) for seed in range(seeds)]
    out = summary(runs)
    out["warmup_run"] = {"wall_s": warm["wall_s"], "timed_s": warm["timed_s"]}
    out["compile_s (warm-up wall less a run's)"] = round(warm["wall_s"] - out["wall_s"], 2)
    return out


def reference_run(preset: str, data, room_s: float) -> dict:
    """A reference preset's run (issue 37): its whole schedule when an estimate from 60 steps says
    it fits in room_s, else as many epochs as fit (then `partial`: not the preset's recipe)."""
    config = rehearsal(make_config(preset, device=str(DEVICE)))
    probe = engine_run(config.replace(epochs=1, limit_batches=60, lr_milestones="0.5+0.75", warmup_epochs=0.0), data)
    per_epoch = probe["steps_s"] / 60 * math.ceil(len(data.train) / config.batch_size)
    epochs = config.epochs if per_epoch * config.epochs * 1.15 < room_s else max(1, int(room_s / (per_epoch * 1.15)))
    if epochs < config.epochs:
        config = config.replace(epochs=epochs, lr_milestones="0.5+0.75", warmup_epochs=0.0)
    out = engine_run(config, data)
    out.update(preset=preset, epochs=epochs, of_epochs=make_config(preset).epochs, epoch_s_estimate=round(per_epoch, 2))
    out["partial"] = epochs < make_config(preset).epochs
    return out


# ---------------------------------------------------------------- airbench's own code


def airbench_module(name: str):
    path = REPO / ".bench" / f"{name}.py"
    if not path.exists():
        raise FileNotFoundError(f"{path} (KellerJordan/cifar10-airbench's file, git-ignored) is not here")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def airbench_folder(dataset) -> str:
    """The same decoded images in airbench's own format: cifar10/{train,test}.pt, HWC uint8."""
    folder = tempfile.mkdtemp()
    os.makedirs(f"{folder}/cifar10")
    for name, split in (("train", dataset.train), ("test", dataset.test)):
        images = split.images.permute(0, 2, 3, 1).contiguous().cpu()
        torch.save(
            {"images": images, "labels": split.labels.cpu(), "classes": list(dataset.classes)},
            f"{folder}/cifar10/{name}.pt",
        )
    return folder


def airbench(name: str, folder: str, seeds: int, compiled: str | None = None) -> dict:
    module = airbench_module(name)
    times: list[float] = []

    def details(variables, is_final_entry):  # its own timing, read where it prints it
        if is_final_entry:
            times.append(variables.get("total_time_seconds", variables.get("time_seconds")))

    module.print_training_details = details
    here = os.getcwd()
    os.chdir(folder)
    try:
        if compiled is not None:  # airbench94_muon: one model, compiled once, reused by every run
            model = module.CifarNet().cuda().to(memory_format=torch.channels_last)
            model.compile(mode=compiled)
            started = time.perf_counter()
            module.main("warmup", model)
            warm_s = time.perf_counter() - started
            accs = [module.main(run, model) * 100 for run in range(seeds)]
        else:
            started = time.perf_counter()
            module.main("warmup")
            warm_s = time.perf_counter() - started
            accs = [module.main(run) * 100 for run in range(seeds)]
    finally:
        os.chdir(here)
    runs = [
        {"seed": i, "test_acc": round(a, 2), "timed_s": round(t, 4)} for i, (a, t) in enumerate(zip(accs, times[1:]))
    ]
    out = summary(runs)
    out["warmup_run"] = {"wall_s": round(warm_s, 2), "timed_s": round(times[0], 4)}
    out["compile"] = compiled or "none (eager)"
    return out


def versus(ours: dict, theirs: dict) -> dict:
    from scipy import stats  # on the GPU image; a Welch t-test of the two accuracies

    a = [r["test_acc"] for r in ours["runs"]]
    b = [r["test_acc"] for r in theirs["runs"]]
    out = {
        "acc_difference": round(statistics.mean(a) - statistics.mean(b), 3),
        "time_ratio (ours / theirs)": round(ours["timed_s"] / theirs["timed_s"], 3),
    }
    if len(a) > 1 and len(b) > 1:
        out["welch_p"] = round(float(stats.ttest_ind(a, b, equal_var=False).pvalue), 4)
    return out


# ---------------------------------------------------------------- presets through the product


def cli(home: Path, *args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cifar_tui.tui.cli", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=max(5, timeout),
    )


def start_presets(home: Path, data_dir: Path, r18_epochs: int) -> list[subprocess.Popen]:
    """seed-cnn (10 epochs), seed-resnet (3), seed-resnet18 (3) x 3 seeds through the queue and a
    worker, and resnet18-cifar through `run`, in two processes beside each other."""
    (home / "data").mkdir(parents=True, exist_ok=True)
    link = home / "data" / CIFAR10.folder
    if not link.exists():
        link.symlink_to(data_dir / CIFAR10.folder)
    quick = [] if CUDA else ["--epochs", "1", "--limit-batches", "2"]
    seeds = "0..2" if CUDA else "0"
    for preset in ("seed-cnn", "seed-resnet", "seed-resnet18"):
        done = cli(home, "queue", "add", "--preset", preset, "--device", str(DEVICE), "--seed", seeds,
                   "--sweep-name", preset, *quick, timeout=60)  # fmt: skip
        REPORT.setdefault("presets queued", []).append(f"{preset}: exit {done.returncode} {done.stderr.strip()[-200:]}")
    log = open(home / "processes.log", "w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "cifar_tui.tui.cli", "--home", str(home), "worker", "--until-empty"],
        stdout=log,
        stderr=log,
    )
    r18 = ["--epochs", str(r18_epochs)] if CUDA else ["--epochs", "1", "--limit-batches", "2"]
    resnet = subprocess.Popen(
        [sys.executable, "-m", "cifar_tui.tui.cli", "--home", str(home), "run", "--preset", "resnet18-cifar",
         "--device", str(DEVICE), "--name", f"resnet18-cifar {r18_epochs} epochs", *r18],
        stdout=log, stderr=log,
    )  # fmt: skip
    return [worker, resnet]


def resnet18_epoch_s(data) -> float:
    """One epoch of resnet18-cifar, estimated from 60 steps (the first 20 not counted)."""
    config = rehearsal(make_config("resnet18-cifar", device=str(DEVICE), epochs=1, limit_batches=60))
    state = engine_train.build(config, DEVICE, data)
    step = engine_train.make_step(engine_train.prepare_model(state.raw_model, config), state.optimizer, config, DEVICE)
    batches = engine_train.train_batches(data.train, config.batch_size, state.generator, True, True)
    for i, (inputs, targets) in zip(range(60 if CUDA else 4), batches):
        if i == (20 if CUDA else 1):
            sync()
            start = time.perf_counter()
        step(inputs, targets)
    sync()
    per_step = (time.perf_counter() - start) / (40 if CUDA else 3)
    return per_step * math.ceil(len(data.train) / config.batch_size) + 0.5  # + the epoch's evaluation


def collect_presets(home: Path, processes: list[subprocess.Popen]) -> None:
    for process in processes:
        try:
            process.wait(timeout=max(5, left() - 25))
        except subprocess.TimeoutExpired:
            process.terminate()
            REPORT.setdefault("presets problems", []).append(f"{process.args[4:7]} stopped by the budget")
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    table = cli(home, "runs", "--json", timeout=30)
    try:
        runs = json.loads(table.stdout)
    except json.JSONDecodeError:
        REPORT["presets table error"] = (table.stdout + table.stderr)[-500:]
        return
    groups: dict[str, list] = {}
    for run in runs:
        groups.setdefault(run.get("sweep") or run.get("name") or run.get("model"), []).append(run)
    REPORT["presets"] = {
        name: {
            "n": len(rows),
            "statuses": sorted({r.get("status") for r in rows}),
            "test_acc": [r.get("best_test_acc") if r.get("test_acc") is None else r.get("test_acc") for r in rows],
            "epochs_done": [r.get("epochs_done") for r in rows],
            "images_per_s": [r.get("images_per_s") for r in rows],
            "device_name": rows[0].get("device_name"),
        }
        for name, rows in groups.items()
    }
    log = home / "processes.log"
    REPORT["presets log tail"] = log.read_text()[-1500:] if log.exists() else ""


def profile(config, data) -> list[str]:
    """The kernels that take the most GPU time in one speedrun: where the next speed-up is."""
    return kernel_table(lambda: engine_run(config, data))


# ---------------------------------------------------------------- main


def main(npz: str, out: str) -> None:
    REPORT.update(device=torch.cuda.get_device_name() if CUDA else "cpu (rehearsal)", torch=torch.__version__,
                  cuda=torch.version.cuda, budget_s=BUDGET)  # fmt: skip
    data_dir = Path(tempfile.mkdtemp(prefix="cifar10-real-"))
    started = time.perf_counter()
    subprocess.run([sys.executable, str(Path(npz).parent / "cifar10_jpeg.py"), "batches", str(data_dir)], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    REPORT["data"] = {"from": Path(npz).name, "written_s": round(time.perf_counter() - started, 1)}
    dataset = load_dataset("cifar10", data_dir, "cpu")
    data = dataset.to(DEVICE)
    REPORT["data"].update(train=len(dataset.train), test=len(dataset.test))
    folder = airbench_folder(dataset)
    save(out)

    def section(name: str, work, minimum_s: float) -> None:
        if ONLY and name not in ONLY:
            return
        if left() < minimum_s:
            REPORT[name] = f"skipped: {left():.0f} s of the budget left, {minimum_s:.0f} needed"
        else:
            started = time.perf_counter()
            try:
                REPORT[name] = work()
            except Exception as error:  # a finding, not the end of the check
                REPORT[name] = f"error: {type(error).__name__}: {str(error)[:400]}"
            REPORT[f"{name} section_s"] = round(time.perf_counter() - started, 1)
        print(f"== {name}: {json.dumps(REPORT[name])[:600]}", flush=True)
        save(out)

    section("speedrun", lambda: preset_seeds("speedrun", data, SEEDS), 40)
    section("airbench94", lambda: airbench("airbench94", folder, SEEDS) if CUDA else "needs CUDA", 40)
    if isinstance(REPORT.get("speedrun"), dict) and isinstance(REPORT.get("airbench94"), dict):
        REPORT["speedrun vs airbench94"] = versus(REPORT["speedrun"], REPORT["airbench94"])
    # precision half: the model's weights in fp16 (BatchNorm in fp32), no autocast, as airbench
    # trains; the suspect for the speedrun's 1.2-1.35x of airbench94's time under bf16 autocast.
    section("speedrun, half", lambda: preset_seeds("speedrun", data, SEEDS, precision="half"), 40)
    if isinstance(REPORT.get("speedrun, half"), dict) and isinstance(REPORT.get("airbench94"), dict):
        REPORT["speedrun half vs airbench94"] = versus(REPORT["speedrun, half"], REPORT["airbench94"])
    section("speedrun-muon", lambda: preset_seeds("speedrun-muon", data, SEEDS), 90)
    section(
        "airbench94_muon",
        lambda: airbench("airbench94_muon", folder, SEEDS, compiled="default") if CUDA else "needs CUDA",
        90,
    )
    if isinstance(REPORT.get("speedrun-muon"), dict) and isinstance(REPORT.get("airbench94_muon"), dict):
        REPORT["speedrun-muon vs airbench94_muon"] = versus(REPORT["speedrun-muon"], REPORT["airbench94_muon"])
    section("speedrun-muon, half", lambda: preset_seeds("speedrun-muon", data, SEEDS, precision="half"), 90)
    if isinstance(REPORT.get("speedrun-muon, half"), dict) and isinstance(REPORT.get("airbench94_muon"), dict):
        REPORT["speedrun-muon half vs airbench94_muon"] = versus(
            REPORT["speedrun-muon, half"], REPORT["airbench94_muon"]
        )
    save(out)

    # The presets train (accuracy only) while the pieces are measured beside them.
    home = Path(tempfile.mkdtemp(prefix="cifar-tui-real-"))
    processes = []
    if not ONLY or "presets" in ONLY:
        try:
            epoch_s = resnet18_epoch_s(data)
            room = left() - 90  # the seed presets and the collection after it
            epochs = max(5, min(60, int(room / (epoch_s * 1.5))))  # 1.5: it shares the GPU
            REPORT["resnet18-cifar plan"] = {"epoch_s_estimate": round(epoch_s, 2), "epochs": epochs}
            processes = start_presets(home, data_dir, epochs)
        except Exception as error:
            REPORT["presets"] = f"error: {type(error).__name__}: {str(error)[:400]}"
    for name, overrides in PIECES.items():
        section(f"speedrun, {name}", lambda o=overrides: preset_seeds("speedrun", data, PIECE_SEEDS, **o), 30)
    if processes:
        collect_presets(home, processes)
    if (not ONLY or "profile" in ONLY) and CUDA and left() > 30:
        section("profile", lambda: profile(make_config("speedrun", device=str(DEVICE)), data), 30)
    if (not ONLY or "bench-gpu" in ONLY) and left() > 75:
        done = cli(home, "bench", "gpu", "--device", str(DEVICE), *([] if CUDA else ["--quick"]), timeout=left() - 10)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        REPORT["bench gpu"] = json.loads(lines[-1]) if lines else (done.stdout + done.stderr)[-800:]
    # Issue 37's reference presets and issue 36's bench augment: only when REAL_ONLY names them.
    for preset, seeds in (("speedrun-95", SEEDS), ("speedrun-96", max(2, SEEDS // 4))):  # 96: ~35 s a run
        if preset in ONLY:
            section(preset, lambda p=preset, n=seeds: preset_seeds(p, data, n), 60)
    for preset in ("resnet20", "preact-resnet18"):
        if preset in ONLY:
            section(preset, lambda p=preset: reference_run(p, data, left() - 60), 90)
    if "bench-augment" in ONLY and left() > 60:
        done = cli(home, "bench", "augment", "--device", str(DEVICE), timeout=left() - 10)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        REPORT["bench augment"] = json.loads(lines[-1]) if lines else (done.stdout + done.stderr)[-800:]
    save(out)
    print(json.dumps({k: v for k, v in REPORT.items() if "vs" in k}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
