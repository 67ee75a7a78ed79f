import torch
import torch.nn as nn


class Model(nn.Module):
    """Max over axis 1 of a [batch, length] input."""

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return torch.max(x, dim=self.dim).values


batch = 12
length = 130
dim = 1


def get_inputs():
    return [torch.randn(batch, length)]


def get_init_inputs():
    return [dim]
