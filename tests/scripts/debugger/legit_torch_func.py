# Per-sample gradients with torch.func (the tutorial's recipe): functional_call + grad + vmap on
# detached copies of the parameters; the model's own parameters are not meant to get .grad.
import torch
import torch.nn as nn
from _dump import dump
from torch.func import functional_call, grad, vmap

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))
params = {k: v.detach() for k, v in model.named_parameters()}


def compute_loss(params, sample, target):
    prediction = functional_call(model, params, (sample.unsqueeze(0),))
    return nn.functional.mse_loss(prediction, target.unsqueeze(0))


data, targets = torch.randn(16, 3), torch.randn(16, 1)
per_sample_grads = vmap(grad(compute_loss), in_dims=(None, 0, 0))(params, data, targets)
one = grad(compute_loss)(params, data[0], targets[0])
dump(**per_sample_grads, **{f"one.{k}": v for k, v in one.items()})
