"""For the test suite: the script's gradients (or parameters) saved with torch.save, so that a
run under graphscope can be compared byte for byte with a plain run. Does nothing unless the
environment variable GS_DUMP names a file."""

import os

import torch


def dump(**tensors):
    path = os.environ.get("GS_DUMP")
    if path:
        torch.save(
            {k: v.detach().clone() if v is not None else None for k, v in tensors.items()}, path
        )


def grads(model, prefix):
    return {f"{prefix}.{n}.grad": p.grad for n, p in model.named_parameters()}
