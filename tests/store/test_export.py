import json

import pytest

from store.export import export_runs

ROWS = [
    {
        "id": 2,
        "name": "wide_net & 50%",
        "status": "finished",
        "model": "seed-resnet",
        "dataset": "synthetic",
        "epochs": 3,
        "epochs_done": 3,
        "test_acc": 87.254,
        "test_loss": 0.351234,
        "best_test_acc": 88.0,
        "images_per_s": 6123.4,
        "seconds": 25.25,
        "error": None,
    },
    {
        "id": 1,
        "name": "",
        "status": "failed",
        "model": "seed-cnn",
        "dataset": "cifar10",
        "epochs": 10,
        "epochs_done": 0,
        "test_acc": None,
        "test_loss": None,
        "best_test_acc": None,
        "images_per_s": None,
        "seconds": None,
        "error": "no data | here",
    },
]


def test_csv():
    assert export_runs(ROWS, "csv") == (
        "id,name,status,model,dataset,epochs,epochs_done,test_acc,test_loss,best_test_acc,images_per_s,seconds,error\r\n"
        "2,wide_net & 50%,finished,seed-resnet,synthetic,3,3,87.254,0.351234,88.0,6123.4,25.25,\r\n"
        "1,,failed,seed-cnn,cifar10,10,0,,,,,,no data | here\r\n"
    )


def test_json():
    assert json.loads(export_runs(ROWS, "json")) == ROWS


def test_markdown():
    assert export_runs(ROWS, "md") == (
        "| id | name | status | model | dataset | epochs | epochs_done | test_acc | test_loss | best_test_acc | images_per_s | seconds | error |\n"
        "| ---: | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n"
        "| 2 | wide_net & 50% | finished | seed-resnet | synthetic | 3 | 3 | 87.25 | 0.3512 | 88.00 | 6,123 | 25.2 |  |\n"
        "| 1 |  | failed | seed-cnn | cifar10 | 10 | 0 |  |  |  |  |  | no data \\| here |\n"
    )


def test_latex():
    assert export_runs(ROWS, "latex") == (
        "\\begin{tabular}{rllllrrrrrrrl}\n"
        "\\hline\n"
        "id & name & status & model & dataset & epochs & epochs\\_done & test\\_acc & test\\_loss & best\\_test\\_acc & images\\_per\\_s & seconds & error \\\\\n"
        "\\hline\n"
        "2 & wide\\_net \\& 50\\% & finished & seed-resnet & synthetic & 3 & 3 & 87.25 & 0.3512 & 88.00 & 6,123 & 25.2 &  \\\\\n"
        "1 &  & failed & seed-cnn & cifar10 & 10 & 0 &  &  &  &  &  & no data | here \\\\\n"
        "\\hline\n"
        "\\end{tabular}\n"
    )


def test_unknown_format():
    with pytest.raises(ValueError, match="format: unknown format 'xls'; allowed: csv, json, md, latex"):
        export_runs(ROWS, "xls")
