"""A dataset is one declaration (engine/datasets.py): the config's choices, the loader, the
form's help and `cifar-tui datasets` come from it (issue 24, item 1)."""

import json

import pytest

from cifar_tui.engine.config import SETTINGS, ConfigError, make_config
from cifar_tui.engine.datasets import DATASETS, load_dataset
from cifar_tui.tui.views.new_run import help_of


def test_the_configs_choices_the_loader_and_the_forms_help_come_from_the_declarations(tmp_path):
    assert tuple(DATASETS) == ("cifar10", "cifar100", "cifar100-coarse", "folder:PATH", "synthetic")
    assert SETTINGS["dataset"].allowed() == ("cifar10", "cifar100", "cifar100-coarse", "synthetic")
    assert SETTINGS["dataset"].accepts("folder:x") and not SETTINGS["dataset"].accepts("folder:")
    with pytest.raises(ConfigError, match="dataset"):
        make_config(dataset="cifar11")
    assert len(load_dataset("synthetic", tmp_path).train) == 50_000
    with pytest.raises(ValueError, match="unknown dataset 'cifar11'"):
        load_dataset("cifar11", tmp_path)
    assert help_of("dataset", "synthetic") == DATASETS["synthetic"].help
    assert help_of("dataset", "cifar10").startswith("CIFAR-10: downloaded once to <home>/data (170 MB)")


def test_the_datasets_command_lists_every_declaration(tmp_path, capsys):
    from cifar_tui.tui.cli import main

    with pytest.raises(SystemExit) as ended:
        main(["--home", str(tmp_path), "datasets", "--json"])
    assert ended.value.code == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(DATASETS)
    assert rows[3]["classes"] == "as many as train/'s class folders, named by them in sorted order"
    assert "cifar-10-batches-py" in rows[0]["get"]
