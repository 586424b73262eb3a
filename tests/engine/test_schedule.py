import pytest

from cifar_tui.engine.schedule import lr_at


def test_constant():
    assert lr_at(0, 100, 0.1, "constant") == lr_at(99, 100, 0.1, "constant") == 0.1


def test_cosine_warms_up_then_decays_to_zero():
    lrs = [lr_at(step, 110, 0.1, "cosine", warmup_steps=10) for step in range(110)]
    assert lrs[0] == pytest.approx(0.01) and lrs[9] == pytest.approx(0.1)
    assert lrs[10] == pytest.approx(0.1) and lrs[60] == pytest.approx(0.05)
    assert lrs[-1] == pytest.approx(0.0, abs=1e-4)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
