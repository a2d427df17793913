# A word-level language model trained on consecutive chunks of one long text, the way the old
# PyTorch example did (SGD through p.data), but without repackaging the hidden state: the
# second backward raised "Trying to backward through the graph a second time", so the loop
# got retain_graph=True. Now every backward goes through all the earlier chunks too.
import torch
import torch.nn as nn
from _dump import dump, grads

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
vocab, hidden, chunk = 20, 16, 6
text = torch.randint(0, vocab, (2, 6 * chunk + 1))
embed, lstm, head = nn.Embedding(vocab, hidden), nn.LSTM(hidden, hidden), nn.Linear(hidden, vocab)
model = nn.ModuleList([embed, lstm, head])
state = None
for i in range(0, text.size(1) - 1, chunk):
    x, y = text[:, i : i + chunk].t(), text[:, i + 1 : i + 1 + chunk].t()
    model.zero_grad()
    out, state = lstm(embed(x), state)
    loss = nn.functional.cross_entropy(head(out).reshape(-1, vocab), y.reshape(-1))
    loss.backward(retain_graph=True)
    for p in model.parameters():
        p.data.add_(p.grad, alpha=-0.1)
dump(**grads(lstm, "lstm"), **grads(embed, "embed"))
