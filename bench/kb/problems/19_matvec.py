import torch
import torch.nn as nn


class Model(nn.Module):
    """y = A @ v."""

    def __init__(self):
        super().__init__()

    def forward(self, A, v):
        return torch.mv(A, v)


rows = 40
cols = 80


def get_inputs():
    return [torch.randn(rows, cols), torch.randn(cols)]


def get_init_inputs():
    return []
