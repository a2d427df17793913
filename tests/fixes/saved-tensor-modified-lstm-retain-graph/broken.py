import torch
import torch.nn as nn

torch.manual_seed(0)
vocab, emb, hid, bptt, batch = 50, 16, 32, 8, 4


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        self.rnn = nn.LSTM(emb, hid)
        self.out = nn.Linear(hid, vocab)

    def forward(self, x, hidden):
        out, hidden = self.rnn(self.embed(x), hidden)
        return self.out(out), hidden


model = LM()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
crit = nn.CrossEntropyLoss()
data = torch.randint(0, vocab, (bptt * 6 + 1, batch))
hidden = (torch.zeros(1, batch, hid), torch.zeros(1, batch, hid))
for i in range(0, bptt * 6, bptt):
    x, y = data[i : i + bptt], data[i + 1 : i + 1 + bptt]
    opt.zero_grad()
    logits, hidden = model(x, hidden)
    loss = crit(logits.view(-1, vocab), y.reshape(-1))
    loss.backward(retain_graph=True)
    opt.step()
    print(f"batch {i // bptt} loss {loss.item():.3f}")
