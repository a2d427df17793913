import torch

torch.manual_seed(0)
layer = torch.nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32, batch_first=True)
encoder = torch.nn.TransformerEncoder(layer, num_layers=6, enable_nested_tensor=False)
x = torch.randn(2, 5, 16, requires_grad=True)
loss = encoder(x).pow(2).mean()
loss.backward()
