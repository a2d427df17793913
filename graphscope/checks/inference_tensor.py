"""inference-tensor: a tensor made under ``torch.inference_mode()`` used where autograd records.

torch's words (2.2 to 2.13)::

    Inference tensors cannot be saved for backward. ...
    Setting requires_grad=True on inference tensor outside InferenceMode is not allowed.
    Inplace update to inference tensor outside InferenceMode is not allowed. ...

Inference tensors carry no version counter and no autograd metadata, so they can never join a
graph. Features computed once under ``inference_mode`` and then fed to a layer that trains is the
usual way to meet it. The fix goes on the ``with torch.inference_mode():`` line (the latest one
the recorder saw before the error, ``events.grad_off``): ``torch.no_grad()`` makes ordinary
tensors without a graph; the line that raised is ``related``.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphscope.checks.catalogue import Entry, TorchError
from graphscope.model import Events, Finding, GradOff, Location, Named

KIND = "inference-tensor"

_SAVED = r"Inference tensors cannot be saved for backward"
_REQUIRES = r"Setting requires_grad=True on inference tensor outside InferenceMode"
_INPLACE = r"Inplace update to inference tensor outside InferenceMode"

_WHAT = {
    _SAVED: "autograd would have to save it for backward",
    _REQUIRES: "it is asked to require grad",
    _INPLACE: "it is written in place outside inference mode",
}


def _explain(events: Events, err: TorchError) -> Iterator[Finding]:
    site = err.script.site if err.script is not None else None
    inference = [n for n in (site.names if site else ()) if n.what == "tensor" and n.inference]
    named: Named | None = inference[0] if inference else None
    mode = _latest_inference_mode(events.grad_off)
    pattern = err.match.re.pattern if err.match else _SAVED
    why = _WHAT.get(pattern, "autograd cannot use it")
    who = named.name if named is not None else "a tensor"
    made = f" (line {named.line})" if named is not None and named.line is not None else ""
    raised = Location(err.file, err.line, "torch raised here")
    if mode is not None and mode.line is not None:
        yield Finding(
            KIND,
            "error",
            f"{who}{made} was made under torch.inference_mode() (line {mode.line}), and here "
            f"{why}: an inference tensor can never be part of an autograd graph.",
            f"Use `with torch.no_grad():` instead of `with torch.inference_mode():` at line "
            f"{mode.line}: it also records no graph, but makes ordinary tensors that later "
            f"computations can use (or clone it outside: `{_name(named)} = "
            f"{_name(named)}.clone()`).",
            mode.file,
            mode.line,
            related=(raised,),
        )
        return
    yield Finding(
        KIND,
        "error",
        f"{who}{made} was made under torch.inference_mode(), and here {why}: an inference "
        "tensor can never be part of an autograd graph.",
        "Make it under `torch.no_grad()` instead of `torch.inference_mode()`, or clone it "
        f"outside inference mode before using it: `{_name(named)} = {_name(named)}.clone()`.",
        err.file,
        err.line,
    )


def _name(named: Named | None) -> str:
    return named.name if named is not None else "x"


def _latest_inference_mode(offs: list[GradOff]) -> GradOff | None:
    modes = [g for g in offs if g.api == "inference_mode"]
    return max(modes, key=lambda g: g.index) if modes else None


#: torch's messages this kind explains (see :mod:`graphscope.checks.catalogue`)
MESSAGES = (
    Entry(
        KIND,
        (_SAVED,),
        explain=_explain,
        example="Inference tensors cannot be saved for backward. Please do not use Tensors "
        "created in inference mode in computation tracked by autograd.",
    ),
    Entry(
        KIND,
        (_REQUIRES,),
        explain=_explain,
        example="Setting requires_grad=True on inference tensor outside InferenceMode is not "
        "allowed.",
    ),
    Entry(
        KIND,
        (_INPLACE,),
        explain=_explain,
        example="Inplace update to inference tensor outside InferenceMode is not allowed.You can "
        "make a clone to get a normal tensor before doing inplace update.",
    ),
)
