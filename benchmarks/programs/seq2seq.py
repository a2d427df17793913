"""A seq2seq encoder-decoder: an nn.GRU encoder, a GRUCell decoder loop with teacher forcing.

python seq2seq.py [SRC_STEPS] [TGT_STEPS]   (default 50 and 100)
"""

import sys

import torch
from torch import nn


class Encoder(nn.Module):
    def __init__(self, vocab: int, dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.rnn = nn.GRU(dim, dim, batch_first=True)

    def forward(self, src: torch.Tensor) -> torch.Tensor:
        _, h = self.rnn(self.embed(src))
        return h[0]


class Decoder(nn.Module):
    def __init__(self, vocab: int, dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.cell = nn.GRUCell(dim, dim)
        self.out = nn.Linear(dim, vocab)

    def forward(self, h: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        logits = []
        for t in range(tgt.shape[1]):
            h = self.cell(self.embed(tgt[:, t]), h)
            logits.append(self.out(h))
        return torch.stack(logits, dim=1)


src_steps = int(sys.argv[1]) if len(sys.argv) > 1 else 50
tgt_steps = int(sys.argv[2]) if len(sys.argv) > 2 else 100
torch.manual_seed(0)
vocab, dim = 20, 16
encoder = Encoder(vocab, dim)
decoder = Decoder(vocab, dim)
opt = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-3)
src = torch.randint(vocab, (2, src_steps))
tgt = torch.randint(vocab, (2, tgt_steps + 1))
logits = decoder(encoder(src), tgt[:, :-1])
loss = nn.functional.cross_entropy(logits.reshape(-1, vocab), tgt[:, 1:].reshape(-1))
opt.zero_grad()
loss.backward()
opt.step()
print(f"loss {loss.item():.4f}")
