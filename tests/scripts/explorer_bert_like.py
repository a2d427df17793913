# A two-layer BERT for sequence classification in plain torch (the shape of transformers'
# BertForSequenceClassification, hidden size 64): 180 nodes, the loss computed inside the
# model's forward from out.logits, as transformers does. --nan: a sqrt at 0 in the pooler, so a
# NaN gradient (nonfinite-grad) appears at an op in the middle of the picture.
import sys

import torch
import torch.nn as nn


class Output(dict):  # as transformers' ModelOutput: out["loss"] is out.loss
    __getattr__ = dict.__getitem__


class Embeddings(nn.Module):
    def __init__(self, vocab, hidden, positions=512):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.position_embeddings = nn.Embedding(positions, hidden)
        self.token_type_embeddings = nn.Embedding(2, hidden)
        self.LayerNorm = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(0.1)

    def forward(self, ids):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        types = torch.zeros_like(ids)
        h = self.word_embeddings(ids) + self.token_type_embeddings(types)
        h = h + self.position_embeddings(pos)
        return self.dropout(self.LayerNorm(h))


class SelfAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads, self.size = heads, hidden // heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(0.1)
        self.mask = torch.zeros(1, 1, 1, 16)  # no padding: every token attends

    def split(self, x):
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.size).transpose(1, 2)

    def forward(self, h):
        q, k, v = self.split(self.query(h)), self.split(self.key(h)), self.split(self.value(h))
        scores = q @ k.transpose(-1, -2) / self.size**0.5 + self.mask
        ctx = self.dropout(scores.softmax(-1)) @ v
        b, _, t, _ = ctx.shape
        return ctx.transpose(1, 2).reshape(b, t, -1)


class DenseNorm(nn.Module):
    def __init__(self, inner, hidden):
        super().__init__()
        self.dense = nn.Linear(inner, hidden)
        self.LayerNorm = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class Layer(nn.Module):
    def __init__(self, hidden, heads, inner):
        super().__init__()
        self.attention = SelfAttention(hidden, heads)
        self.attention_output = DenseNorm(hidden, hidden)
        self.intermediate = nn.Linear(hidden, inner)
        self.output = DenseNorm(inner, hidden)

    def forward(self, h):
        a = self.attention_output(self.attention(h), h)
        return self.output(nn.functional.gelu(self.intermediate(a)), a)


class Bert(nn.Module):
    def __init__(self, vocab=1000, hidden=64, heads=2, inner=128, layers=2):
        super().__init__()
        self.embeddings = Embeddings(vocab, hidden)
        self.encoder = nn.ModuleList(Layer(hidden, heads, inner) for _ in range(layers))
        self.pooler = nn.Linear(hidden, hidden)

    def forward(self, ids):
        h = self.embeddings(ids)
        for layer in self.encoder:
            h = layer(h)
        pooled = torch.tanh(self.pooler(h[:, 0]))
        if "--nan" in sys.argv:
            pooled = torch.sqrt(pooled - pooled.detach()) + pooled  # the same values; d/dx: inf
        return pooled


class BertForSequenceClassification(nn.Module):
    def __init__(self, labels=2):
        super().__init__()
        self.bert = Bert()
        self.dropout = nn.Dropout(0.1)
        self.classifier = nn.Linear(64, labels)

    def forward(self, ids, labels):
        logits = self.classifier(self.dropout(self.bert(ids)))
        loss_fct = nn.CrossEntropyLoss()
        loss = loss_fct(logits.view(-1, logits.shape[-1]), labels.view(-1))
        return Output(loss=loss, logits=logits)


torch.manual_seed(0)
model = BertForSequenceClassification()
out = model(torch.randint(0, 1000, (2, 16)), torch.tensor([0, 1]))
out.loss.backward()
print("loss", round(out.loss.item(), 4))
