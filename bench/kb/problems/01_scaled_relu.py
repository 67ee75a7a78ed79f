import torch
import torch.nn as nn


class Model(nn.Module):
    """relu(x) * scale, elementwise."""

    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return torch.relu(x) * self.scale


rows = 32
features = 96
scale = 3


def get_inputs():
    return [torch.randn(rows, features)]


def get_init_inputs():
    return [scale]
