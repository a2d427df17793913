# A character-level RNN trained on consecutive chunks of one long sequence. The hidden state is
# carried from one batch to the next (good: the model sees the context) but never detached, so
# the second backward goes back into the first batch's graph, which the first backward freed.
import torch
import torch.nn as nn
from _dump import dump, grads

# (_dump: the test suite's byte-for-byte comparison of gradients; idle by default)
torch.manual_seed(0)
vocab, hidden_size, chunk = 12, 16, 8
text = torch.randint(0, vocab, (1, 8 * chunk + 1))

embed = nn.Embedding(vocab, hidden_size)
rnn = nn.RNN(hidden_size, hidden_size, batch_first=True)
decoder = nn.Linear(hidden_size, vocab)
params = [*embed.parameters(), *rnn.parameters(), *decoder.parameters()]
optimizer = torch.optim.Adam(params, lr=1e-2)
criterion = nn.CrossEntropyLoss()

h = torch.zeros(1, 1, hidden_size)
for i in range(0, text.size(1) - 1, chunk):
    x, y = text[:, i : i + chunk], text[:, i + 1 : i + 1 + chunk]
    optimizer.zero_grad()
    out, h = rnn(embed(x), h)
    loss = criterion(decoder(out).reshape(-1, vocab), y.reshape(-1))
    loss.backward()
    dump(**grads(rnn, "rnn"), **grads(decoder, "decoder"))
    optimizer.step()
    print(f"chunk {i // chunk}: loss {loss.item():.3f}")
