"""Muon for convolution filters, Nesterov SGD for everything else, in one optimizer.

airbench94_muon's recipe (Keller Jordan, 2024): each filter's Nesterov momentum (0.6) is
orthogonalised by 3 steps of a quintic Newton-Schulz iteration in bf16, the filter is rescaled
to norm sqrt(out_channels) before each step, and no weight decay applies to it. The other
parameters (biases, the head) take plain Nesterov SGD with weight decay.

Written here rather than taken from torch.optim.Muon (torch 2.9+), which refuses anything but 2-D
parameters, has no weight normalisation and keeps its momentum as an average (lerp), not a sum;
one optimizer for both kinds keeps a run's checkpoint one state dict.
"""

from __future__ import annotations

import torch

NEWTON_SCHULZ = (3.4445, -4.7750, 2.0315)  # a quintic whose slope at zero is large: few steps
NEWTON_SCHULZ_STEPS = 3
MUON_MOMENTUM = 0.6


def orthogonalise(matrix: torch.Tensor, steps: int = NEWTON_SCHULZ_STEPS, eps: float = 1e-7) -> torch.Tensor:
    """About U V^T of the matrix's SVD (singular values land near 0.5-1.5, which trains as well)."""
    a, b, c = NEWTON_SCHULZ
    x = matrix.bfloat16() if matrix.is_cuda else matrix.float()  # bf16 as airbench on the GPU; a CPU is slow in it
    x = x / (x.norm() + eps)  # the largest singular value at most 1
    wide = x.shape[0] > x.shape[1]
    if wide:
        x = x.T
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if wide else x


class Muon(torch.optim.Optimizer):
    """Param groups with `muon: True` take Muon steps; the others Nesterov SGD.

    lr, momentum and weight_decay are per group, as in torch's optimizers, so the engine's
    schedule sets each group's lr the same way for both kinds.
    """

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, muon=False))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            if group["muon"]:
                self._muon(params, group)
            else:
                self._sgd(params, group)

    def _buffers(self, params: list[torch.Tensor]) -> list[torch.Tensor]:
        for p in params:
            if "momentum_buffer" not in self.state[p]:
                self.state[p]["momentum_buffer"] = torch.zeros_like(p)
        return [self.state[p]["momentum_buffer"] for p in params]

    def _muon(self, params: list[torch.Tensor], group: dict) -> None:
        momentum = group["momentum"]
        for p, buffer in zip(params, self._buffers(params)):
            buffer.mul_(momentum).add_(p.grad)
            nesterov = p.grad.add(buffer, alpha=momentum)
            p.mul_(len(p) ** 0.5 / p.norm())
            update = orthogonalise(nesterov.reshape(len(p), -1)).view(p.shape)
            p.add_(update.to(p.dtype), alpha=-group["lr"])

    def _sgd(self, params: list[torch.Tensor], group: dict) -> None:
        grads = [p.grad for p in params]
        if group["weight_decay"]:
            grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
        buffers = self._buffers(params)
        torch._foreach_mul_(buffers, group["momentum"])
        torch._foreach_add_(buffers, grads)
        steps = torch._foreach_add(grads, buffers, alpha=group["momentum"])  # Nesterov
        torch._foreach_add_(params, steps, alpha=-group["lr"])
