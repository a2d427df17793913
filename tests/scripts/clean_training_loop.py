# expect: nothing
import torch

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
data, target = torch.randn(16, 4), torch.randn(16, 1)
for _step in range(5):
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(model(data), target)
    loss.backward()
    opt.step()
    with torch.no_grad():
        for p in model.parameters():
            p.data.mul_(0.999)  # weight decay by hand, outside autograd

w = torch.tensor([1.0], requires_grad=True)
y = (w + 2) * (w + 1)
y.backward(retain_graph=True)
y.backward()  # fine: the first call kept the graph
print("w.grad:", w.grad)
