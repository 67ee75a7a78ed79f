import torch
import torch.nn as nn


class Model(nn.Module):
    """log_softmax over axis 1."""

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return torch.log_softmax(x, dim=self.dim)


batch = 8
classes = 100
dim = 1


def get_inputs():
    return [torch.randn(batch, classes)]


def get_init_inputs():
    return [dim]
