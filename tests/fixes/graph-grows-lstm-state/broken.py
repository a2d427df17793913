import torch
import torch.nn as nn

torch.manual_seed(0)
vocab, hidden, chunk = 20, 16, 5
text = torch.randint(0, vocab, (5 * chunk + 1, 2))
embed, lstm, head = nn.Embedding(vocab, hidden), nn.LSTM(hidden, hidden), nn.Linear(hidden, vocab)
model = nn.ModuleList([embed, lstm, head])
state = None
for i in range(0, text.size(0) - 1, chunk):
    x, y = text[i : i + chunk], text[i + 1 : i + 1 + chunk]
    model.zero_grad()
    out, state = lstm(embed(x), state)
    loss = nn.functional.cross_entropy(head(out).reshape(-1, vocab), y.reshape(-1))
    loss.backward(retain_graph=True)
    for p in model.parameters():
        p.data.add_(p.grad, alpha=-0.1)
print(f"loss {loss.item():.3f}")
