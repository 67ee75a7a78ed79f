import torch
import torch.nn as nn


class Model(nn.Module):
    """Index of the largest entry of each row (int64)."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.argmax(x, dim=1)


rows = 10
classes = 70


def get_inputs():
    return [torch.randn(rows, classes)]


def get_init_inputs():
    return []
