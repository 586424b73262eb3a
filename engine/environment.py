"""What a run ran on, recorded when it starts: the software (cifar-tui and its git commit, Python,
torch, torchvision, CUDA, cuDNN), the device (GPU name, compute capability, driver; CPU model and
threads) and the machine (host, OS). The fields are declared once, in ENVIRONMENT; show, the run
detail screen, exports (env_ columns), compare and the group mark read them from there.

This module imports nothing heavy at its top, so that the store and the app can read the
declaration; measuring imports torch.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import socket
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class EnvironmentField:
    key: str  # in the stored JSON; env_KEY in exports
    label: str  # where people read it
    marks_group: bool = True  # a group whose finished runs differ in it is marked (a host's name is not)


ENVIRONMENT = (
    EnvironmentField("cifar_tui", "cifar-tui"),
    EnvironmentField("git_commit", "git commit"),
    EnvironmentField("python", "Python"),
    EnvironmentField("torch", "torch"),
    EnvironmentField("torchvision", "torchvision"),
    EnvironmentField("cuda", "CUDA"),
    EnvironmentField("cudnn", "cuDNN"),
    EnvironmentField("gpu", "GPU"),
    EnvironmentField("gpu_capability", "compute capability"),
    EnvironmentField("gpu_driver", "GPU driver"),
    EnvironmentField("cpu", "CPU"),
    EnvironmentField("cpu_threads", "CPU threads"),
    EnvironmentField("host", "host", marks_group=False),
    EnvironmentField("os", "OS"),
    EnvironmentField("data_files", "data files"),  # the CIFAR files' md5 check: a copy is not the official set
)
LABELS = {f.key: f.label for f in ENVIRONMENT}
NOT_MARKING = tuple(f.key for f in ENVIRONMENT if not f.marks_group)
PREFIX = "env_"  # an export's column of a field: env_torch


def measure_environment(device: Any, data_files: str = "") -> dict[str, Any]:
    """The environment of a run on `device` (a torch.device), every ENVIRONMENT key present
    (None where there is nothing to say: CUDA on a CPU-only build, a GPU on a CPU run, data files
    of a dataset that is not CIFAR's)."""
    import torch

    found = dict(_process_environment())
    found["data_files"] = data_files or None
    found["cpu_threads"] = torch.get_num_threads()
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        found |= {
            "gpu": torch.cuda.get_device_name(device),
            "gpu_capability": f"{major}.{minor}",
            "gpu_driver": _nvidia_driver(),
        }
    elif device.type == "mps":
        found["gpu"] = "Apple GPU (MPS)"
    return {f.key: found.get(f.key) for f in ENVIRONMENT}


def environment_json(device: Any, data_files: str = "") -> str:
    """As the store keeps it: keys sorted, so that equal environments are equal text."""
    return json.dumps(measure_environment(device, data_files), sort_keys=True)


@functools.cache
def _process_environment() -> tuple[tuple[str, Any], ...]:
    """What does not change while a process lives (a worker trains run after run): once each."""
    import torch
    import torchvision  # its __version__ carries the build (0.29.1+cu130), as torch's does

    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return tuple(
        {
            "cifar_tui": _version("cifar-tui"),
            "git_commit": _git_commit(Path(__file__).resolve().parent.parent),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "cuda": torch.version.cuda,
            "cudnn": _cudnn_text(cudnn),
            "cpu": _cpu_model(),
            "host": socket.gethostname(),
            "os": platform.platform(),
        }.items()
    )


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _cudnn_text(version: int | None) -> str | None:
    """cuDNN's 90100 as 9.1.0 (8.x's 8902 as 8.9.2)."""
    if not version:
        return None
    major, rest = (version // 10000, version % 10000) if version >= 10000 else (version // 1000, version % 1000)
    return f"{major}.{rest // 100}.{rest % 100}"


def _git_commit(folder: Path) -> str | None:
    """The commit of the checkout the code runs from (+changes when its tracked files are
    changed); None for an installed copy, or where git is missing."""
    if not (folder / ".git").exists():
        return None
    head = _git(folder, "rev-parse", "--short=12", "HEAD")
    if not head:
        return None
    return head + ("+changes" if _git(folder, "status", "--porcelain", "--untracked-files=no") else "")


def _git(folder: Path, *args: str) -> str:
    """git's output in folder, stripped; "" when it fails or is missing."""
    quiet = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # git status must not take the checkout's index lock
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=5, env=quiet)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model")) and ":" in line:
                return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    if platform.system() == "Darwin":
        try:
            found = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True)
            return found.stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or None


def _nvidia_driver() -> str | None:
    """The NVIDIA driver's version (550.54.15): from the kernel module's file on Linux, else nvidia-smi."""
    try:
        text = Path("/proc/driver/nvidia/version").read_text()
        words = text.split("Kernel Module", 1)[1].split() if "Kernel Module" in text else []
        if words:
            return words[0]
    except OSError:
        pass
    try:
        found = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return found.stdout.splitlines()[0].strip() if found.returncode == 0 and found.stdout.strip() else None
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def differing_fields(environments: list[dict[str, Any] | None]) -> list[str]:
    """The ENVIRONMENT keys whose values are not the same in every recorded environment (None:
    a run that recorded none, from before environments were, or one that never started)."""
    known = [e for e in environments if e]
    return [f.key for f in ENVIRONMENT if len({json.dumps(e.get(f.key)) for e in known}) > 1]


def environment_columns(environment: dict[str, Any] | None) -> dict[str, Any]:
    """A run's environment as flat export columns (env_torch, ...), in ENVIRONMENT's order."""
    return {PREFIX + f.key: (environment or {}).get(f.key) for f in ENVIRONMENT} if environment else {}
