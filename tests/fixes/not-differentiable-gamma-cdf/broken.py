import torch
from torch.distributions import Gamma

torch.manual_seed(0)
log_conc = torch.zeros(1, requires_grad=True)
opt = torch.optim.Adam([log_conc], lr=0.05)
for _ in range(30):
    dist = Gamma(log_conc.exp(), torch.ones(1))
    cdf = dist.cdf(torch.tensor(1.0))
    loss = (cdf - 0.3).pow(2).sum()  # want P(wait <= 1) = 0.3
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"concentration {log_conc.exp().item():.3f}")
