import torch

torch.autograd.set_detect_anomaly(True)
torch.manual_seed(0)
logits = torch.randn(8, 5, requires_grad=True)
probs = torch.softmax(logits, dim=-1)
probs = probs * (torch.arange(5) < 4)  # the last class is masked out
entropy = -(probs * torch.log(probs.clamp_min(1e-12))).sum(-1).mean()
entropy.backward()
print(f"{entropy.item():.4f}", logits.grad.isfinite().all().item())
