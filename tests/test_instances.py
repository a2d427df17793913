"""Modules named by instance, parameters named from the user's variable, distinct graphs, and
ops that keep their line and module in graphs captured after an earlier backward."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import graphscope
from graphscope.model import GROUP, OP, AutogradGraph
from graphscope.names import Names, module_names
from graphscope.overview import collapse

PROGRAMS = Path(__file__).resolve().parent.parent / "benchmarks" / "programs"


def _ops(g: AutogradGraph) -> list[dict[str, Any]]:
    return [d for _, d in g.nodes(data=True) if d["kind"] == OP]


def _params(g: AutogradGraph) -> set[str]:
    return {d["name"] for _, d in g.nodes(data=True) if d.get("role") == "param"}


def test_two_script_level_linears_are_two_groups() -> None:
    torch.manual_seed(0)
    first = nn.Linear(3, 3)
    second = nn.Linear(3, 3)  # same class, same shapes: still another instance
    with graphscope.watch() as scope:
        loss = second(first(torch.randn(2, 3))).sum()
        loss.backward()
    (g,) = scope.captures
    assert {d["module"] for d in _ops(g)} == {"first", "second", None}
    assert _params(g) == {"first.weight", "first.bias", "second.weight", "second.bias"}
    assert {p: i["cls"] for p, i in g.graph["modules"].items()} == {
        "first": "Linear",
        "second": "Linear",
    }
    shown = collapse(g, depth=0)
    groups = {n: d for n, d in shown.nodes(data=True) if d["kind"] == GROUP}
    assert sorted(groups) == ["g:first", "g:second"]
    assert groups["g:first"]["label"] == "first · Linear"
    assert sorted(p for p, _ in groups["g:second"]["params"]) == ["second.bias", "second.weight"]


def test_modules_in_lists_dicts_and_objects_are_named_by_where_the_script_holds_them() -> None:
    class Holder:
        def __init__(self) -> None:
            self.model = nn.Linear(2, 2)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = [nn.Linear(2, 2), nn.Linear(2, 2)]  # a plain list: not submodules

    blocks = [nn.Linear(2, 2) for _ in range(3)]
    heads = {"a": nn.Linear(2, 1)}
    trainer = Holder()
    net = Net()
    found = {name: m for name, m in module_names(sys._getframe()).values()}
    assert found["blocks[2]"] is blocks[2] and found["heads['a']"] is heads["a"]
    assert found["trainer.model"] is trainer.model
    assert found["net.layers[1]"] is net.layers[1] and found["net"] is net


def test_a_loop_over_a_list_of_blocks_folds_them_as_siblings() -> None:
    torch.manual_seed(0)
    blocks = [nn.Linear(4, 4) for _ in range(6)]
    with graphscope.watch() as scope:
        x = torch.randn(2, 4)
        for block in blocks:
            x = torch.tanh(block(x))
        loss = x.sum()
        loss.backward()
    (g,) = scope.captures
    assert {d["module"] for d in _ops(g)} >= {f"blocks[{i}]" for i in range(6)}
    assert "blocks[5].weight" in _params(g)
    shown = collapse(g, max_nodes=10)
    labels = [d["label"] for _, d in shown.nodes(data=True) if d["kind"] == GROUP]
    # the Tanh after each call is the script's own op: a step is (a block's call, Tanh)
    assert labels == ["blocks[0]–blocks[5] · Linear ×6"]


def test_an_instance_the_script_does_not_hold_is_named_by_class_and_numbered() -> None:
    def make() -> tuple[nn.Module, nn.Module]:
        return nn.Linear(2, 2), nn.Linear(2, 2)

    with graphscope.watch() as scope:
        a_b = make()
        loss = a_b[1](a_b[0](torch.ones(1, 2))).sum()  # a tuple: named a_b[0], a_b[1]
        loss.backward()
        anon = [m for m in make()]
        out = anon[0](torch.ones(1, 2))
        del anon
        loss2 = out.sum()
        loss2.backward()
    first, second = scope.captures
    assert {d["module"] for d in _ops(first)} == {"a_b[0]", "a_b[1]", None}
    assert {d["module"] for d in _ops(second)} - {None} == {"anon[0]"}


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_gan_names_its_two_models_apart_and_has_one_graph_per_backward_site(
    capsys: pytest.CaptureFixture[str],
) -> None:
    old = sys.argv
    sys.argv = ["gan.py", "4"]
    try:
        with graphscope.watch() as scope:
            runpy.run_path(str(PROGRAMS / "gan.py"), run_name="__main__")
    finally:
        sys.argv = old
    # 4 iterations x 3 backward sites; the first D step (netG not yet run: fewer unreached
    # parameters) and the last, smaller batch are the same graphs as the others
    assert len(scope.events.backward) == 12
    assert [g.graph["calls"] for g in scope.captures] == [
        [1, 4, 7, 10],
        [2, 5, 8, 11],
        [3, 6, 9, 12],
    ]
    real, fake, gen = scope.captures
    d_params = {f"netD.main[{i}].{w}" for i in (0, 2) for w in ("weight", "bias")}
    g_params = {f"netG.main[{i}].{w}" for i in (0, 1, 3) for w in ("weight", "bias")}
    assert _params(gen) == d_params | g_params
    for g in (real, fake, gen):
        mods = {d["module"] for d in _ops(g)} - {None}
        assert all(m.split(".")[0] in ("netD", "netG", "criterion") for m in mods)
    # the generator's ops were made before the previous backward: they keep line and module
    g_ops = [d for d in _ops(gen) if (d["module"] or "").startswith("netG")]
    assert len(g_ops) >= 6 and all(d["line"] is not None for d in g_ops)
    # netG's unreached parameters in the D steps are greyed nodes of their own model's box
    unreached = {d["name"] for _, d in real.nodes(data=True) if d.get("reached") is False}
    assert unreached == g_params


def test_a_trunk_shared_across_two_backward_calls_keeps_its_lines() -> None:
    torch.manual_seed(0)
    trunk = nn.Linear(3, 3)
    head1 = nn.Linear(3, 1)
    head2 = nn.Linear(3, 1)
    with graphscope.watch() as scope:
        h = trunk(torch.randn(2, 3))
        head1(h).sum().backward(retain_graph=True)
        for _ in range(5):  # other work between the two calls
            head1(torch.randn(2, 3)).sum().backward()
        head2(h).sum().backward()
    last = scope.captures[-1]
    trunk_ops = [d for d in _ops(last) if d["module"] == "trunk"]
    assert trunk_ops and all(d["line"] is not None and d["file"] for d in trunk_ops)


def test_trace_alone_infers_modules_and_says_lines_need_watch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)
    encoder = nn.TransformerEncoder(layer, num_layers=4, enable_nested_tensor=False)
    loss = encoder(torch.randn(1, 3, 8)).pow(2).mean()
    out = graphscope.render(loss, tmp_path / "enc.svg", params=encoder, engine="embedded", depth=2)
    text = out.read_text()
    assert "source lines need graphscope.watch()" in text
    assert "inferred from the parameters" in text
    g = graphscope.trace(loss, params=encoder)
    assert g.graph["modules_inferred"] is True
    shown = collapse(g, depth=2)
    labels = [d["label"] for _, d in shown.nodes(data=True) if d["kind"] == GROUP]
    # depth works from Python as from the command line: layers 1-3 fold (layer 0 reads the
    # input, which does not require grad, so its attention differs)
    assert any(lab.startswith("layers.1–3") and lab.endswith("×3") for lab in labels), labels
    # encoder and encoder.layers hold every op, so they are always open: depth 0 already
    # shows the layers, layer 0 as a box
    depth0 = collapse(g, depth=0)
    assert sorted(d["label"] for _, d in depth0.nodes(data=True) if d["kind"] == GROUP) == [
        "0 · TransformerEncoderLayer",
        "layers.1–3 · TransformerEncoderLayer ×3",
    ]


def test_parameters_are_named_from_the_variable_even_in_a_method() -> None:
    class Layer(nn.Linear):
        def step(self, x: torch.Tensor) -> AutogradGraph:
            loss = self.forward(x).sum()
            return graphscope.trace(loss)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = [Layer(2, 2), Layer(2, 2)]

    net = Net()
    g0 = net.layers[0].step(torch.ones(1, 2))
    g1 = net.layers[1].step(torch.ones(1, 2))
    # not "self.weight" twice: the script's own name for each layer
    assert _params(g0) == {"net.layers[0].weight", "net.layers[0].bias"}
    assert _params(g1) == {"net.layers[1].weight", "net.layers[1].bias"}
    names = Names()
    names.add_params(net.layers[0], "first.")
    assert names.classes == {"first": "Layer"}


def test_torchs_own_bookkeeping_names_nothing_and_a_submodule_called_alone_is_named_under_its_model() -> (
    None
):
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Linear(2, 3)
            self.head = nn.Linear(3, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(torch.relu(self.body(x)))

    torch.manual_seed(0)
    net = Net()
    found = {name for name, _ in module_names(sys._getframe()).values()}
    assert "net" in found and not any("_modules" in n for n in found)  # not net._modules['body']
    g = graphscope.trace(net(torch.randn(4, 2)).sum(), params=net)
    names = {
        d["name"]: list(d["aliases"]) for _, d in g.nodes(data=True) if d.get("role") == "param"
    }
    assert names == {
        "net.body.weight": [],
        "net.body.bias": [],
        "net.head.weight": [],
        "net.head.bias": [],
    }
    with graphscope.watch() as scope:
        net.head(torch.randn(4, 3)).sum().backward()  # the submodule on its own
    (g,) = scope.captures
    assert {d["module"] for d in _ops(g)} == {"net.head", None}


def test_tensors_of_a_model_output_are_named_from_it_and_plain_dicts_name_nothing() -> None:
    class Output(dict):  # as transformers' ModelOutput: its keys are attributes too
        def __init__(self, **items: torch.Tensor) -> None:
            super().__init__(**items)
            self.__dict__.update(items)

    torch.manual_seed(0)
    net = nn.Linear(3, 1)
    batch = {"x": torch.randn(4, 3, requires_grad=True), 7: torch.ones(1)}
    pred = net(batch["x"])
    out = Output(loss=pred.pow(2).mean(), logits=pred)
    g = graphscope.trace(out.loss, params=net)
    names = {d["name"] for _, d in g.nodes(data=True) if d["kind"] != OP}
    assert {"out.loss", "pred"} <= names  # pred, a variable, wins over out.logits
    assert not any(n and n.startswith("batch") for n in names)
    assert "out.logits" in next(d["aliases"] for _, d in g.nodes(data=True) if d["name"] == "pred")


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_a_compiled_model_is_labelled_by_its_own_class_and_paths_skip_orig_mod() -> None:
    from graphscope.names import params_and_classes

    def module_classes(prefix: str, module: nn.Module) -> dict[str, str]:
        return params_and_classes(prefix, module)[1]

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 1)

    compiled = torch.compile(Net())  # nothing is compiled until it is called
    assert module_classes("model.", compiled) == {"model": "Net (compiled)", "model.fc": "Linear"}
    assert module_classes("model.", nn.DataParallel(Net())) == {
        "model": "Net (DataParallel)",
        "model.fc": "Linear",
    }
