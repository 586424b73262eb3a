"""One optimisation step, built once per run from the config's speed options.

fp32, bf16 autocast, fp16 autocast with a gradient scaler, or half (the model's weights and
activations in fp16, BatchNorm in fp32, no autocast: airbench's way); channels_last; an optional
torch.compile of the model; fused optimizer kernels (chosen in make_optimizer). Every option
runs on the CPU too, so each is tested without a GPU.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .config import RunConfig, replays_one_step

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}

Step = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def autocast(config: RunConfig, device: torch.device):
    if config.precision not in DTYPES:  # fp32, or half: the model itself is in fp16
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[config.precision])


def cast_model(model: nn.Module, config: RunConfig) -> nn.Module:
    """With precision half, the model in fp16 but its BatchNorm layers in fp32 (their statistics
    and affine terms need the range), as airbench94 trains: no cast of a weight at each step."""
    if config.precision == "half":
        model.half()
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.float()
    return model


# On an H200 at batch 64, one CUDA graph per step trained these 4.7-5.6x, 2.6-3.3x and 3.7x faster
# than eager with the same losses (`cifar-tui bench gpu`, two runs): compile auto picks it for them.
GRAPHED_BY_DEFAULT = ("seed-cnn", "seed-resnet", "resnet18")


def resolve_compile(config: RunConfig, device: torch.device) -> RunConfig:
    """The config with compile auto made concrete for this device: cudagraphs for a model it was
    measured on, on CUDA, where a graph can replay the step (constant lr, no lookahead, no fp16
    scaler); otherwise off. The recorded config keeps auto: a resumed run decides again."""
    if config.compile != "auto":
        return config
    graphable = (
        device.type == "cuda"
        and config.model in GRAPHED_BY_DEFAULT
        and replays_one_step(config)
        and config.precision != "fp16"
    )
    return config.replace(compile="cudagraphs" if graphable else "off")


def prepare_model(model: nn.Module, config: RunConfig) -> nn.Module:
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if config.compile == "default":
        model = torch.compile(model)
    return model


def prepare_inputs(inputs: torch.Tensor, config: RunConfig) -> torch.Tensor:
    if config.precision == "half":
        inputs = inputs.half()
    return inputs.contiguous(memory_format=torch.channels_last) if config.channels_last else inputs


def loss_of(outputs, targets: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    if isinstance(outputs, tuple):  # (logits, aux logits...) from googlenet / inception_v3
        main, *aux = outputs
        return F.cross_entropy(main.float(), targets, label_smoothing=label_smoothing) + 0.4 * sum(
            F.cross_entropy(a.float(), targets, label_smoothing=label_smoothing) for a in aux
        )
    # fp32 logits (a no-op but with precision half): the loss's softmax keeps its range
    return F.cross_entropy(outputs.float(), targets, label_smoothing=label_smoothing)


def trial_step(model: nn.Module, config: RunConfig, device: torch.device, num_classes: int) -> None:
    """Forward and backward one batch of zeros, so that a model too big for this batch size fails
    now, with OutOfMemoryError, instead of mid-run. BatchNorm statistics are put back as they were."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [{name: buffer.clone() for name, buffer in m.named_buffers(recurse=False)} for m in norms]
    try:
        inputs = torch.zeros(config.batch_size, 3, 32, 32, device=device)
        targets = torch.zeros(config.batch_size, dtype=torch.long, device=device)
        with autocast(config, device):
            loss = loss_of(model(prepare_inputs(inputs, config)), targets, config.label_smoothing)
        loss.backward()
    finally:
        with torch.no_grad():
            for m, buffers in zip(norms, saved):
                for name, value in buffers.items():
                    getattr(m, name).copy_(value)
        model.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()


def make_step(model: nn.Module, optimizer: torch.optim.Optimizer, config: RunConfig, device: torch.device) -> Step:
    """A function that trains on one batch and returns its loss, still on the device."""
    if config.compile == "cudagraphs":
        if device.type != "cuda":
            raise ValueError(f"compile: cudagraphs needs a CUDA device, not {device}; use compile off or default")
        return GraphStep(model, optimizer, config, device)
    scaler = torch.amp.GradScaler(device.type) if config.precision == "fp16" else None

    def step(inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        with autocast(config, device):
            loss = loss_of(model(prepare_inputs(inputs, config)), targets, config.label_smoothing)
        if scaler is None:
            loss.backward()
            clip(optimizer, config.clip_grad_norm)
            optimizer.step()
        else:
            scaler.scale(loss).backward()
            if config.clip_grad_norm:
                scaler.unscale_(optimizer)  # the norm of the true gradients, not the scaled ones
                clip(optimizer, config.clip_grad_norm)
            scaler.step(optimizer)
            scaler.update()
        return loss.detach()

    return step


def clip(optimizer: torch.optim.Optimizer, max_norm: float) -> None:
    """--clip-grad-norm: every trained parameter's gradients scaled together to max_norm at most."""
    if max_norm:
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        torch.nn.utils.clip_grad_norm_(params, max_norm)


class GraphStep:
    """The whole training step (forward, backward, optimizer) replayed as one CUDA graph.

    At batch 64 a step is launch-bound; one replay replaces hundreds of kernel launches.
    The first WARMUP steps run eagerly on a side stream (they train, like any step), the next
    is captured, then every step copies its batch into the static inputs and replays. Needs a
    fixed batch shape (the loop drops the last partial batch) and a capturable optimizer.
    """

    WARMUP = 3

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, config: RunConfig, device: torch.device):
        self.model, self.optimizer, self.config, self.device = model, optimizer, config, device
        self.steps = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.inputs: torch.Tensor | None = None
        self.targets: torch.Tensor | None = None
        self.loss: torch.Tensor | None = None

    def _forward_backward_step(self) -> torch.Tensor:
        # No autocast cache: cached casts would outlive the capture.
        with torch.autocast(
            "cuda",
            dtype=DTYPES.get(self.config.precision, torch.bfloat16),
            enabled=self.config.precision in DTYPES,
            cache_enabled=False,
        ):
            loss = loss_of(self.model(self.inputs), self.targets, self.config.label_smoothing)
        loss.backward()
        self.optimizer.step()
        return loss

    def __call__(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.inputs is None:
            self.inputs = torch.empty_like(prepare_inputs(inputs, self.config))
            self.targets = torch.empty_like(targets)
        self.inputs.copy_(inputs)
        self.targets.copy_(targets)
        self.steps += 1
        if self.graph is not None:
            self.graph.replay()
            return self.loss.clone()  # the next replay overwrites self.loss
        if self.steps <= self.WARMUP:
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                self.optimizer.zero_grad(set_to_none=True)
                loss = self._forward_backward_step().detach()
            torch.cuda.current_stream(self.device).wait_stream(side)
            return loss
        self.graph = torch.cuda.CUDAGraph()
        self.optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(self.graph):
            self.loss = self._forward_backward_step().detach()
        self.graph.replay()  # capturing does not run the step: this replay trains on this batch
        return self.loss.clone()
