"""Realistic models for comparing ``trace()``'s inferred op modules with ``watch()``'s spans.

Each builder returns ``(variable name, model, forward)`` where ``forward(model)`` returns the
loss; tests/test_trace.py runs the same forward under ``watch()`` and ``trace(params=model)``.
The nanoGPT classes follow github.com/karpathy/nanoGPT's model.py (its Block, and a GPT whose
``lm_head`` shares the token embedding's weight and whose ``forward`` computes the loss).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

Case = tuple[str, nn.Module, Callable[[Any], torch.Tensor]]


class Gated(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.gate = nn.Sigmoid()
        self.act = nn.ReLU(inplace=True)
        self.out = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc(x)
        h = h * self.gate(h)
        return self.out(self.act(h))


class Pooler(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.dense = nn.Linear(d, d)
        self.activation = nn.Tanh()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(h[:, 0]))


class Bert(nn.Module):
    """Embeddings, LayerNorm, dropout, a batch_first TransformerEncoder, a pooler, a head."""

    def __init__(self, d: int = 16) -> None:
        super().__init__()
        self.embeddings = nn.Embedding(50, d)
        self.pos = nn.Embedding(8, d)
        self.ln = nn.LayerNorm(d)
        self.drop = nn.Dropout(0.1)
        layer = nn.TransformerEncoderLayer(d, 2, 32, batch_first=True, dropout=0.0)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.pooler = Pooler(d)
        self.cls = nn.Linear(d, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.embeddings(ids) + self.pos(torch.arange(ids.shape[1]))
        return self.cls(self.pooler(self.encoder(self.drop(self.ln(h)))))


class LayerNorm(nn.Module):
    def __init__(self, ndim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.attn_dropout = nn.Dropout(0.1)
        self.resid_dropout = nn.Dropout(0.1)
        self.n_head, self.n_embd = heads, d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=0.0, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.c_fc = nn.Linear(d, 4 * d)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * d, d)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, d: int = 16, heads: int = 2) -> None:
        super().__init__()
        self.ln_1 = LayerNorm(d)
        self.attn = CausalSelfAttention(d, heads)
        self.ln_2 = LayerNorm(d)
        self.mlp = MLP(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab: int = 32, d: int = 16, layers: int = 2) -> None:
        super().__init__()
        self.transformer = nn.ModuleDict(
            {
                "wte": nn.Embedding(vocab, d),
                "wpe": nn.Embedding(8, d),
                "drop": nn.Dropout(0.1),
                "h": nn.ModuleList([Block(d) for _ in range(layers)]),
                "ln_f": LayerNorm(d),
            }
        )
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying, as nanoGPT does

    def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        t = self.transformer
        x = t.drop(t.wte(idx) + t.wpe(torch.arange(idx.shape[1])))
        for block in t.h:
            x = block(x)
        logits = self.lm_head(t.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


class BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock: one ReLU module called twice, a residual add."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(2)
        self.layer1 = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 8))
        self.layer2 = nn.Sequential(BasicBlock(8, 16, 2), BasicBlock(16, 16))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class LSTMLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(30, 8)
        self.lstm = nn.LSTM(8, 16, batch_first=True)
        self.head = nn.Linear(16, 30)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embed(ids))
        return self.head(out)


def cases() -> dict[str, Case]:
    """The models by name: (the variable holding the model, model, forward to a loss)."""
    torch.manual_seed(0)
    seq = nn.Sequential(
        nn.Flatten(), nn.Linear(12, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 8), nn.ReLU()
    )
    seq.append(nn.Linear(8, 1))  # appended after construction
    return {
        "sequential": ("model", seq, lambda m: m(torch.randn(2, 3, 4)).pow(2).mean()),
        "gated": ("model", Gated(), lambda m: m(torch.randn(2, 4)).sum()),
        "bert": (
            "model",
            Bert(),
            lambda m: F.cross_entropy(m(torch.randint(0, 50, (2, 6))), torch.tensor([0, 2])),
        ),
        "gpt-block": ("model", Block(), lambda m: m(torch.randn(2, 8, 16)).pow(2).mean()),
        "gpt": (
            "model",
            GPT(),
            lambda m: m(torch.randint(0, 32, (2, 8)), torch.randint(0, 32, (2, 8))),
        ),
        "resnet": (
            "model",
            ResNet(),
            lambda m: F.cross_entropy(m(torch.randn(2, 3, 8, 8)), torch.tensor([1, 2])),
        ),
        "lstm": (
            "model",
            LSTMLM(),
            lambda m: F.cross_entropy(
                m(torch.randint(0, 30, (2, 5))).reshape(-1, 30), torch.randint(0, 30, (10,))
            ),
        ),
    }


__all__ = ["cases", "Case"]
