"""Torch-module factories for tests of ``model=torch model.factory=...`` (a user's own network)."""

import torch
from torch import nn


def tiny_head(n_out: int = 16, seed: int = 0):
    """A small seeded CNN with its own ``n_out``-way head, and what it expects: 32x32 images
    normalised with mean 0.5, std 0.25."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(8, n_out))
    return net, {"size": [32, 32], "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}
