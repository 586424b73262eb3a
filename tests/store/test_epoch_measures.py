"""Each epoch's measures are declared once (store/columns.py EPOCH_MEASURES): the epoch tables,
the headless progress line and a search's objectives all read them."""

from dataclasses import fields, replace

from cifar_tui.engine.events import EpochEnd
from cifar_tui.store import columns
from cifar_tui.store.columns import EPOCH_MEASURES, EpochMeasure, objectives, progress_line
from cifar_tui.tui.views.live_view import epoch_cells, epoch_columns

END = EpochEnd(
    run_id=1, epoch=2, step=200, train_loss=1.23456, test_loss=0.98765, test_acc=61.5, class_acc=(61.5,),
    seconds=12.34, images_per_s=5123.4, lr=0.00125,
)  # fmt: skip


def test_every_measure_is_an_epoch_field():
    names = {f.name for f in fields(EpochEnd)}
    assert [m.name for m in EPOCH_MEASURES if m.name not in names] == []


def test_the_progress_line_and_live_cells_read_the_declarations():
    assert progress_line(END) == "train loss 1.2346  test loss 0.9877  test acc 61.50%  12.3s  5,123 img/s"
    assert epoch_cells(END, {}) == ["2", "1.2346", "0.9877", "61.50%", "0.00125", "12.3s", "5,123"]
    partial = replace(END, eval_images=1000, lr=0.0)
    assert epoch_cells(partial, {})[3:5] == ["61.50%*", ""]  # part of the test set marked; lr not recorded
    assert "*" not in progress_line(partial)  # the line says it in words instead


def test_a_new_measure_reaches_every_epoch_table_and_the_objectives(monkeypatch):
    memory = EpochMeasure("memory_peak", "memory", 9, line="{} bytes", spec=",d", objective="minimize")
    monkeypatch.setattr(columns, "EPOCH_MEASURES", (*EPOCH_MEASURES, memory))
    end = replace(END, memory_peak=2048)
    assert epoch_columns(None)[-1] == ("memory", 9)
    assert epoch_cells(end, {})[-1] == "2,048"
    assert progress_line(end).endswith("5,123 img/s  2,048 bytes")
    assert objectives()["memory_peak"] == "minimize"


def test_the_raw_models_accuracy_is_shown_for_runs_with_an_average():
    averaged = replace(END, raw_test_acc=58.25)
    assert ("raw acc", 8) not in epoch_columns({"ema": 0.0}) and ("raw acc", 8) in epoch_columns({"ema": 0.999})
    assert epoch_cells(averaged, {"ema": 0.999})[3:5] == ["61.50%", "58.25%"]
    assert (
        progress_line(averaged)
        == "train loss 1.2346  test loss 0.9877  test acc 61.50%  raw 58.25%  12.3s  5,123 img/s"
    )
    assert "raw" not in progress_line(END)


def test_objectives_and_the_run_columns_measured_each_epoch():
    assert objectives() == {"test_acc": "maximize", "test_loss": "minimize", "train_loss": "minimize"}
    assert columns.PER_EPOCH == ("test_acc", "test_loss", "raw_test_acc", "train_loss", "images_per_s", "seconds")
