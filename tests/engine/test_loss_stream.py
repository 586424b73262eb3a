import math

import pytest
import torch

from cifar_tui.engine.loss_stream import Diverged, LossStream


def test_chunks_carry_every_loss_in_order_with_the_memory_reading():
    sent = []
    readings = iter(range(100, 200))
    stream = LossStream(7, sent.append, interval_s=3600, max_chunk=3, memory=lambda: next(readings))
    for step in range(7):
        stream.append(step, 1 + step // 5, torch.tensor(float(step)))
    stream.flush()
    assert [(c.epoch, c.first_step, c.losses) for c in sent] == [
        (1, 0, (0.0, 1.0, 2.0)),
        (1, 3, (3.0, 4.0)),  # an epoch's last chunk is cut at the epoch's end
        (2, 5, (5.0, 6.0)),
    ]
    assert [c.memory_used for c in sent] == [100, 101, 102]  # read when each chunk left
    assert stream.epoch_mean(1) == 2.0 and stream.epoch_mean(2) == 5.5


def test_a_non_finite_loss_stops_the_run_after_it_is_sent():
    sent = []
    stream = LossStream(1, sent.append, interval_s=3600)
    stream.append(0, 1, torch.tensor(1.0))
    stream.append(1, 1, torch.tensor(math.nan))
    with pytest.raises(Diverged, match="loss became nan at step 1"):
        stream.flush()
    assert len(sent) == 1 and math.isnan(sent[0].losses[1])
