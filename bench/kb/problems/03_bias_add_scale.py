import torch
import torch.nn as nn


class Model(nn.Module):
    """(x + bias) * 0.5, a learnt bias per feature."""

    def __init__(self, features):
        super().__init__()
        self.bias = nn.Parameter(torch.randn(features))

    def forward(self, x):
        return (x + self.bias) * 0.5


tokens = 24
features = 48


def get_inputs():
    return [torch.randn(tokens, features)]


def get_init_inputs():
    return [features]
