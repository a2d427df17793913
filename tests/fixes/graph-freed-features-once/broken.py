import torch
import torch.nn as nn

torch.manual_seed(0)
embed = nn.Embedding(50, 8)
clf = nn.Linear(8, 2)
opt = torch.optim.SGD([*embed.parameters(), *clf.parameters()], lr=0.1)
tokens = torch.randint(0, 50, (32,))
labels = torch.randint(0, 2, (32,))

feats = embed(tokens)
for epoch in range(5):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(clf(feats), labels)
    loss.backward()
    opt.step()
    print(f"epoch {epoch}: loss {loss.item():.4f}")
