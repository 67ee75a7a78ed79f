import torch
import torch.nn as nn


class Model(nn.Module):
    """x * sigmoid(x) over a 3-D activation."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x * torch.sigmoid(x)


batch = 4
seq = 16
dim = 40


def get_inputs():
    return [torch.randn(batch, seq, dim)]


def get_init_inputs():
    return []
