import torch

torch.manual_seed(0)
signal = torch.randn(64)
target = torch.fft.rfft(signal * 0.5)
gain = torch.ones(1, requires_grad=True)
opt = torch.optim.SGD([gain], lr=0.01)
for _ in range(50):
    pred = torch.fft.rfft(signal * gain)
    loss = (pred - target).abs().pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"gain {gain.item():.3f}")
