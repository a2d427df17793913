import torch
import torch.nn as nn

torch.manual_seed(0)
actor = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 2))
critic = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 1))
opt_a = torch.optim.Adam(actor.parameters(), lr=1e-3)
opt_c = torch.optim.Adam(critic.parameters(), lr=1e-3)

for episode in range(3):
    states, returns = torch.randn(20, 4), torch.randn(20, 1)
    dist = torch.distributions.Categorical(logits=actor(states))
    actions = dist.sample()
    advantage = returns - critic(states)
    critic_loss = advantage.pow(2).mean()
    actor_loss = -(dist.log_prob(actions) * advantage.squeeze(1)).mean()
    opt_c.zero_grad()
    critic_loss.backward(retain_graph=True)
    opt_c.step()
    opt_a.zero_grad()
    actor_loss.backward()
    opt_a.step()
    print(f"episode {episode}: critic {critic_loss.item():.4f} actor {actor_loss.item():.4f}")
