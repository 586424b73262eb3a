"""What the training loop tells its subscribers (small frozen dataclasses), and EventSink: what
takes them, one method per event."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, get_args


@dataclass(frozen=True)
class RunStarted:
    run_id: int
    config_json: str
    device: str  # "cpu", "cuda:0", ...
    device_name: str  # "CPU (2 threads)", "NVIDIA H100 80GB HBM3", ...
    params: int
    steps_per_epoch: int
    total_steps: int
    first_step: int = 0  # > 0 when a run continues from a checkpoint
    memory_total: int = 0  # bytes of the GPU; 0 on a CPU
    classes: tuple[str, ...] = ()  # the dataset's class names in label order; () from older rows: CIFAR-10's
    environment: str = ""  # what the run ran on, as JSON (engine/environment.py); "" where unmeasured


@dataclass(frozen=True)
class Losses:
    """Consecutive batch losses: losses[i] is the loss of step first_step + i (steps count from 0)."""

    run_id: int
    epoch: int  # 1-based
    first_step: int
    losses: tuple[float, ...]
    memory_used: int = 0  # bytes torch holds on the GPU when the chunk was sent; 0 on a CPU


@dataclass(frozen=True)
class EpochEnd:
    run_id: int
    epoch: int  # 1-based
    step: int  # steps done when the epoch ended
    train_loss: float
    test_loss: float
    test_acc: float  # percent
    class_acc: tuple[float, ...]  # percent, one per class
    seconds: float  # training time of this epoch, evaluation excluded
    images_per_s: float
    memory_peak: int = 0  # the most bytes torch held on the GPU during the epoch; 0 on a CPU
    lr: float = 0.0  # the learning rate at the epoch's end
    confusion: tuple[int, ...] = ()  # test counts, true class x predicted class, row-major
    wrong_labels: tuple[int, ...] = ()  # (true, predicted) of each image in wrong_images
    wrong_images: str = ""  # a few misclassified test images, halved: uint8 16x16x3 each, base64
    eval_images: int = 0  # test images the test figures cover when evaluation was limited; 0: all
    raw_test_acc: float | None = None  # with --ema, the raw model's test accuracy (test_acc is the average's)
    # A checkpoint written for this epoch (checkpoint_temp), to be moved to `checkpoint` once this
    # event and every loss before it are recorded (engine/checkpoint.py); "" when there is none.
    checkpoint_temp: str = ""
    checkpoint: str = ""


@dataclass(frozen=True)
class RunFinished:
    run_id: int
    test_acc: float
    test_loss: float
    seconds: float


@dataclass(frozen=True)
class RunFailed:
    run_id: int
    error: str  # one line: what happened and what to do
    detail: str = ""  # the traceback, when the user's own code (a model file) raised


@dataclass(frozen=True)
class RunCancelled:
    run_id: int
    step: int
    reason: str = ""  # why, when it was not the loop that stopped (a cancel made by force, say)


@dataclass(frozen=True)
class RunPruned:
    """A search's pruner stopped the trial after this epoch (its checkpoint kept): it ends pruned."""

    run_id: int
    epoch: int
    step: int


@dataclass(frozen=True)
class RunPaused:
    """A pause of the run was asked for (held at its next batch), or taken back: from the store."""

    run_id: int
    paused: bool


@dataclass(frozen=True)
class RunInterrupted:
    """Its worker died (killed, crashed, lost): the store says so, the engine never does."""

    run_id: int
    reason: str


@dataclass(frozen=True)
class RunLost:
    """This worker no longer holds the run's claim (it was frozen, marked interrupted, resumed
    elsewhere): nothing more of it was recorded, and its training stops. From the recorder."""

    run_id: int
    reason: str


@dataclass(frozen=True)
class Evaluated:
    """A held-out set's figures (--eval-on) at an epoch's end: each part's and the summary's."""

    run_id: int
    epoch: int
    label: str  # the set's columns' prefix: cifar10.1, cifar10-c, cinic-test
    parts: tuple[tuple[str, int, float, float], ...]  # (part: "" or "fog/3", images, acc %, loss)
    summary: tuple[tuple[str, float], ...]  # acc, loss, gap (test acc minus acc); s1..s5 for CIFAR-10-C


Event = (
    RunStarted
    | Losses
    | EpochEnd
    | Evaluated
    | RunFinished
    | RunFailed
    | RunCancelled
    | RunPruned
    | RunPaused
    | RunInterrupted
    | RunLost
)


def _handler(event_class: type) -> str:
    """RunStarted -> on_run_started."""
    return "on_" + re.sub(r"(?<!^)(?=[A-Z])", "_", event_class.__name__).lower()


HANDLERS: dict[type, str] = {event_class: _handler(event_class) for event_class in get_args(Event)}


class EventSink:
    """What takes a run's events: `handle(event)` calls the method HANDLERS names for its type, and
    each is a no-op here, so a subclass writes only those it cares about. A subclass's on_* method
    that names no event is a TypeError when the class is made: misspelt, it would never be called."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        known = set(HANDLERS.values())
        stray = sorted(name for name in vars(cls) if name.startswith("on_") and name not in known)
        if stray:
            raise TypeError(f"{cls.__name__}.{stray[0]} handles no event; the handlers: {', '.join(sorted(known))}")

    def handle(self, event: object) -> None:
        name = HANDLERS.get(type(event))
        if name is not None:
            getattr(self, name)(event)

    def __call__(self, event: object) -> None:
        """A sink is a subscriber too: the engine's emit and the recorder's forward call it."""
        self.handle(event)

    def on_run_started(self, event: RunStarted) -> None: ...
    def on_losses(self, event: Losses) -> None: ...
    def on_epoch_end(self, event: EpochEnd) -> None: ...
    def on_evaluated(self, event: Evaluated) -> None: ...
    def on_run_finished(self, event: RunFinished) -> None: ...
    def on_run_failed(self, event: RunFailed) -> None: ...
    def on_run_cancelled(self, event: RunCancelled) -> None: ...
    def on_run_pruned(self, event: RunPruned) -> None: ...
    def on_run_paused(self, event: RunPaused) -> None: ...
    def on_run_interrupted(self, event: RunInterrupted) -> None: ...
    def on_run_lost(self, event: RunLost) -> None: ...
