import math

import torch

from sslab.vision.models import SmallCNN, count_parameters


def test_seed_architecture_and_parameter_count():
    m = SmallCNN()
    assert count_parameters(m) == 8500
    shapes = {n: tuple(p.shape) for n, p in m.named_parameters()}
    assert shapes == {"conv1.weight": (10, 3, 5, 5), "conv1.bias": (10,), "conv2.weight": (10, 10, 5, 5),
                      "conv2.bias": (10,), "fc1.weight": (20, 250), "fc1.bias": (20,), "fc2.weight": (10, 20),
                      "fc2.bias": (10,)}
    assert m.conv1.stride == (1, 1) and m.conv2.stride == (1, 1)
    assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert SmallCNN(n_classes=3)(torch.zeros(1, 3, 32, 32)).shape == (1, 3)


def test_he_initialisation_variance():
    torch.manual_seed(0)
    weights = {"conv1": [], "conv2": [], "fc1": []}
    for _ in range(30):
        m = SmallCNN()
        for name in weights:
            weights[name].append(getattr(m, name).weight.flatten())
    for name, fan_in in (("conv1", 75), ("conv2", 250), ("fc1", 250)):
        var = torch.cat(weights[name]).var().item()
        assert math.isclose(var, 2 / fan_in, rel_tol=0.1), (name, var, 2 / fan_in)
    assert torch.count_nonzero(SmallCNN().conv1.bias) == 0


def test_forward_is_the_seeds_conv_relu_pool_order_in_value_and_gradient():
    """SmallCNN pools before the ReLU in channels-last layout; that must be the same function."""
    fn = torch.nn.functional
    torch.manual_seed(0)
    # In float64, so that the two summation orders agree far below the tolerance (in float32 a few
    # gradient elements differed by 2.5e-5 on one CPU: rounding, not a different function).
    model = SmallCNN().double()
    x = torch.randn(8, 3, 32, 32, dtype=torch.float64)

    def textbook(x):
        x = fn.max_pool2d(fn.relu(model.conv1(x)), 2)
        x = fn.max_pool2d(fn.relu(model.conv2(x)), 2)
        return model.fc2(fn.relu(model.fc1(x.flatten(1))))

    ours = model(x)
    reference = textbook(x)
    torch.testing.assert_close(ours, reference, rtol=1e-10, atol=1e-10)
    grads = torch.autograd.grad(ours.square().sum(), list(model.parameters()))
    ref_grads = torch.autograd.grad(reference.square().sum(), list(model.parameters()))
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r, rtol=1e-9, atol=1e-9)
