"""Which module made each op of a graph traced after the fact, inferred from what it reads.

``trace()`` runs after the forward and sees no module hooks, so its ops have no ``module``;
their parameters do (``encoder.layers.0.linear1.weight`` belongs to ``encoder.layers.0.linear1``).
The evidence, in the order it is used (ops in forward order: autograd numbers them as the
forward makes them, and a module's forward makes a contiguous run of them):

- an op that reads parameters belongs to their module (the deepest module holding all of them;
  ``MultiheadAttention`` reads its ``out_proj``'s parameters itself, so they count as its own),
  and so does the matrix product that reads a weight's transpose;
- the ops between two ops of one call of a leaf module (one that holds no other module) are its
  own (``Linear`` on a 3-D input: ``T``, ``Clone``, ``UnsafeView``, ``Mm``, ``UnsafeView``, then
  the bias ``Add``), and so are the few ops torch's own implementation of that class makes around
  them (at::linear's and transformers' ``Conv1D``'s flatten/unflatten ``View`` pair, checked by
  shape; an RNN's or attention's batch_first ``Transpose``);
- an op named like a parameterless leaf module's class (``ReluBackward0`` and a ``ReLU``; a
  ``Dropout``'s ``MulBackward0`` of one value by its mask, an ``AdaptiveAvgPool``'s
  ``MeanBackward1``) between the modules around it is that leaf's (``model.1`` between
  ``model.0`` and ``model.2``; ``pooler.activation`` after ``pooler.dense``); a leaf called
  again later (one ``self.relu`` used twice in a ResNet block) is found among its parent's
  earlier children;
- an op that combines the output of a module's last layer with a value made inside that module,
  or with the input of a container's item, ends that module (a residual ``out += identity``
  belongs to its block, not to the next block of the ``Sequential``);
- an op that feeds the first layer of a module from outside it is that module's own when the
  module is not a container (``h[:, 0]`` before ``pooler.dense`` is ``pooler``'s: it ran in
  ``BertPooler.forward``); any other op belongs to the deepest module holding both the module
  that fed it and the one it feeds (the next item of a list when those are two of its items),
  never to a container (``Sequential``, ``ModuleList``, ``ModuleDict`` make no op of their own).

What cannot be known after the fact (``watch()``'s spans say it; tests/test_trace.py lists the
cases of its models against watch(), op by op):

- whether the ops after the last module that reads a parameter ran in the model's ``forward``
  or in the caller: nanoGPT's loss inside ``GPT.forward`` is ``None`` here, ``gpt`` under watch;
- where a module's ``forward`` stops when it goes on after its last child with ops of its own
  that read nothing but its children's outputs, before a module outside it: such ops go to the
  module holding both (transformers' ``BertSelfAttention`` computes attention after
  ``value``: its matmuls land in ``attention``, not ``attention.self``); the same for an op
  after a block whose other input needs no gradient (nanoGPT's ``x + attn(...)`` on a leaf
  ``x``);
- which module read a weight two modules share (tied embeddings: the first module holding it);
  whether a parameter was read by its own module or by a parent reaching into it (other than
  ``MultiheadAttention``'s ``out_proj``);
- which of two parameterless siblings of one class ran (nanoGPT's ``attn_dropout``, never
  called with flash attention, and ``resid_dropout``: the first after the layer is taken), a
  parameterless module called functionally instead (``F.dropout`` beside a ``self.dropout``),
  and one whose ops are not named after its class (transformers' ``NewGELUActivation``: its
  ``Mul``/``Pow``/``Tanh`` go to the module around it).

The pictures say the modules of a traced graph were inferred (``modules_inferred``).

It runs inside the walk, on the walk's own node dicts and adjacency lists, before the graph is
handed to networkx (no views: 2-3 µs a node on a 10k-node graph, from 4-8 through networkx).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graphscope.tracer.modtree import MHA, NO, ModuleTree, between, common

__all__ = ["infer_modules"]


def infer_modules(
    nodes: Mapping[str, dict[str, Any]],
    ops: Sequence[str],
    succ: Mapping[str, list[str]],
    pred: Mapping[str, list[str]],
    classes: Mapping[str, str] | None = None,
) -> bool:
    """Fill the ``module`` of the ``ops`` (node ids in forward order) from the parameters they
    read; ``succ``/``pred``: each node's neighbours along and against the data flow;
    ``classes``: the module tree, when known. Returns whether any op got a module (False, and
    nothing changed, when an op has one already)."""
    if not ops:
        return False
    remap = _read_by_parent(classes) if classes else None
    # One pass in forward order (an op's feeders come first): the module of the parameters
    # each op reads (no op has a module yet, so a module among its inputs is a parameter's),
    # the product that reads a weight's transpose (the transpose's module), and for the
    # other ops the latest op that fed them and that op's module (``up``)
    own: dict[str, str | None] = {}
    rank: dict[str, int] = {}
    anchors: list[int] = []  # the ranks of the ops that read parameters
    tees: dict[str, str] = {}  # a parameter's transpose -> its module
    free: list[str] = []  # the ops whose module is to be inferred
    up: dict[str, str | None] = {}
    late: dict[str, int] = {}  # each free op's latest feeder
    for r, n in enumerate(ops):
        d = nodes[n]
        if d["module"] is not None:
            return False  # the spans named them
        rank[n] = r
        m = tm = None
        best = -1
        for p in pred.get(n, NO):
            k = rank.get(p)
            if k is not None:
                if k > best:
                    best = k
                if tees and p in tees:
                    tm = tees[p]
            else:  # a tensor: a parameter, or a named tensor an op made
                pm = nodes[p]["module"]
                if pm:
                    if remap is not None:
                        pm = remap.get(pm, pm)
                    m = pm if m is None else (common(m, pm) or "")
                else:
                    for q in pred.get(p, NO):
                        k = rank.get(q)
                        if k is not None and k > best:
                            best = k
        if m:
            own[n] = m
            anchors.append(r)
            if d["name"] == "TBackward0":
                tees[n] = m
            continue
        if tm is not None:
            own[n] = tm
            anchors.append(r)
            continue
        own[n] = None
        free.append(n)
        late[n] = best
        if best >= 0:
            f = ops[best]
            up[n] = own[f] or up.get(f)
        else:
            up[n] = None
    if not anchors:
        return False
    end = len(ops)
    down: dict[str, str | None] = {}
    direct: set[str] = set()  # free ops whose first reader reads parameters
    for n in reversed(free):
        k = earliest(succ, rank, n, end)
        if k < end:
            f = ops[k]
            m = own[f]
            if m is not None:
                down[n] = m
                direct.add(n)
            else:
                down[n] = down.get(f)
        else:
            down[n] = None
    out: dict[str, str | None] = {}  # the free ops a leaf's call takes
    tree = ModuleTree(classes, {m for m in own.values() if m}) if classes else None
    if tree is not None:
        tree.calls(nodes, ops, own, anchors, succ, pred, rank, out)
    for r in anchors:
        nodes[ops[r]]["module"] = own[ops[r]]
    for n in free:  # forward order: the ops an op reads are placed before it
        module = out.get(n, "")
        if module != "":
            nodes[n]["module"] = module
            continue
        a, b = up[n], down[n]
        if a is None:
            module = None
        elif tree is None:
            module = between(a, b) if b is not None else None
        else:
            module = tree.leaf_for(nodes[n], a, b, len(pred.get(n, NO))) if tree.bare else None
            if module is None:
                if b is not None:
                    if n in direct:
                        module = tree.entered(a, b)
                    if module is None:
                        module = tree.lift(between(a, b))
                if len(pred.get(n, NO)) > 1:  # it combines values: it may end a module
                    module = tree.ending(n, a, module, late[n], nodes, pred, succ, rank, ops)
        nodes[n]["module"] = module
    return True


def _read_by_parent(classes: Mapping[str, str]) -> dict[str, str] | None:
    """``{attn.out_proj: attn}`` for the submodules whose parameters their parent reads itself
    (``MultiheadAttention`` passes ``out_proj.weight`` to ``F.multi_head_attention_forward``:
    its ``out_proj`` never runs)."""
    if MHA not in set(classes.values()):
        return None
    out = {
        p: p[: -len(".out_proj")]
        for p in classes
        if p.endswith(".out_proj") and classes.get(p[: -len(".out_proj")]) == MHA
    }
    return out or None


def earliest(succ: Mapping[str, list[str]], rank: Mapping[str, int], op: str, none: int) -> int:
    """The lowest rank among the ops ``op`` feeds (looking through a named tensor between),
    or ``none``."""
    best = none
    for p in succ.get(op, NO):
        r = rank.get(p)
        if r is None:  # a tensor: the ops that read it
            for q in succ.get(p, NO):
                r = rank.get(q)
                if r is not None and r < best:
                    best = r
        elif r < best:
            best = r
    return best
