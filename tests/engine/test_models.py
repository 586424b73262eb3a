import math

import pytest
import torch

from cifar_tui.engine.config import make_config
from cifar_tui.engine.data import synthetic
from cifar_tui.engine.events import Losses, RunFinished
from cifar_tui.engine.models import MODELS, build_model, count_parameters, parameter_count
from cifar_tui.engine.train import train
from cifar_tui.engine.train_step import loss_of

TINY = synthetic(n_train=8, n_test=8)

TUTORIAL_COUNTS = {"seed-cnn": 43_626, "seed-resnet": 175_258, "resnet18": 11_181_642}


@pytest.mark.parametrize("name, count", TUTORIAL_COUNTS.items())
def test_parameter_counts_match_the_tutorial(name, count):
    assert count_parameters(build_model(name)) == count == parameter_count(name)


LIGHT = [
    "seed-cnn",
    "seed-resnet",
    "resnet18",
    "resnet18-cifar",
    "squeezenet1_0",
    "googlenet",
    "shufflenet_v2_x1_0",
    "mobilenet_v2",
    "mnasnet1_0",
]
HEAVY = [name for name in MODELS if name not in LIGHT]  # seconds each on a 2-core CPU


def test_every_model_named_by_the_tutorial_is_registered():
    assert set(LIGHT + HEAVY) == set(MODELS) and {
        "alexnet",
        "vgg16",
        "squeezenet1_0",
        "densenet161",
        "inception_v3",
        "googlenet",
        "shufflenet_v2_x1_0",
        "mobilenet_v2",
        "resnext50_32x4d",
        "wide_resnet50_2",
        "mnasnet1_0",
        "resnet18-cifar",
    } <= set(MODELS)


@pytest.mark.parametrize("name", LIGHT + [pytest.param(n, marks=pytest.mark.slow) for n in HEAVY])
def test_each_model_trains_two_batches_on_cifar_sized_images(name):
    events = []
    config = make_config(model=name, dataset="synthetic", device="cpu", epochs=1, limit_batches=2, batch_size=4)
    train(1, config, events.append, data=TINY)
    assert isinstance(events[-1], RunFinished), events[-1]
    losses = [x for e in events if isinstance(e, Losses) for x in e.losses]
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses)


def test_models_too_big_for_32x32_resize_on_the_device():
    model = build_model("alexnet").eval()
    assert MODELS["alexnet"].input_size == 63
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert count_parameters(model) == parameter_count("alexnet")  # the resize adds no weights


def test_auxiliary_outputs_count_in_training_and_not_in_evaluation():
    model = build_model("googlenet")
    outputs = model.train()(torch.zeros(2, 3, 32, 32))
    assert isinstance(outputs, tuple) and len(outputs) == 3
    loss = loss_of(outputs, torch.zeros(2, dtype=torch.long))
    main_only = torch.nn.functional.cross_entropy(outputs[0], torch.zeros(2, dtype=torch.long))
    assert loss > main_only  # the auxiliary losses (weighted 0.4) are added
    assert model.eval()(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_cifar_resnet18_has_a_3x3_stem_and_no_maxpool():
    model = build_model("resnet18-cifar")
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, torch.nn.Identity)
    config = make_config("resnet18-cifar")
    assert (config.optimizer, config.lr_schedule, config.crop, config.hflip, config.weight_decay) == (
        "sgd",
        "cosine",
        True,
        True,
        5e-4,
    )


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
