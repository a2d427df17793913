"""A user's TorchDispatchMode and TorchFunctionMode count what they see of a training step."""

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode


class CountDispatch(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        self.ops.append(str(func))
        return func(*args, **(kwargs or {}))


class CountFunctions(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        self.calls.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


torch.manual_seed(0)
model = torch.nn.Linear(4, 2)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(3, 4)
dispatch, functions = CountDispatch(), CountFunctions()
for _ in range(2):
    with dispatch, functions:
        loss = model(x).pow(2).sum()
        loss.backward()
    opt.step()
    opt.zero_grad()
print(len(dispatch.ops), " ".join(dispatch.ops))
print(len(functions.calls), " ".join(functions.calls))
