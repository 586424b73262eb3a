import pytest
import torch

from engine.models import MODELS, build_model, count_parameters

TUTORIAL_COUNTS = {"seed-cnn": 43_626, "seed-resnet": 175_258, "resnet18": 11_181_642}


@pytest.mark.parametrize("name, count", TUTORIAL_COUNTS.items())
def test_parameter_counts_match_the_tutorial(name, count):
    assert count_parameters(build_model(name)) == count


@pytest.mark.parametrize("name", list(MODELS))
def test_output_shape(name):
    model = build_model(name).eval()
    assert model(torch.zeros(3, 3, 32, 32)).shape == (3, 10)


def test_dropout_is_off_in_evaluation():
    torch.manual_seed(0)
    model = build_model("seed-cnn", dropout=0.5)
    x = torch.randn(8, 3, 32, 32)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


def test_xavier_init_follows_the_tutorial():
    torch.manual_seed(0)
    model = build_model("seed-cnn", init="xavier-uniform")
    bound = (6 / (3 * 9 + 8 * 9)) ** 0.5  # xavier-uniform bound for conv1
    assert model.conv1.weight.abs().max() <= bound
    assert model.conv1.bias.std() > 0.3  # biases from N(0, 1), not the default small uniform
    assert abs(model.conv1_bn.weight.mean().item() - 1) < 0.05
    assert torch.equal(model.conv1_bn.bias, torch.zeros(8))
