"""torch's warnings, as the user's filters and Python's once-per-location registry see them."""

import warnings

import torch


def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
    print(
        f"warning {category.__name__} at {filename.rsplit('/', 1)[-1]}:{lineno}: {str(message)[:50]}"
    )


warnings.showwarning = show
warnings.filterwarnings(
    "error", message="Converting a tensor with requires_grad", module="__main__"
)
w = torch.ones(2, requires_grad=True)
try:
    print("float:", float((w * 2).sum()))
except UserWarning as e:
    print("raised:", str(e)[:50])
warnings.resetwarnings()
warnings.simplefilter("default")
for _i in range(3):
    h = w * 3
    print("grad", h.grad)  # torch warns once for this line
    t = torch.tensor(w)  # and once for this one
    (h.sum() + t.sum()).backward()
print(w.grad.tolist())
