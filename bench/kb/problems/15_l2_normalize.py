import torch
import torch.nn as nn


class Model(nn.Module):
    """Each row divided by its Euclidean norm."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x / torch.linalg.vector_norm(x, dim=1, keepdim=True)


n = 14
d = 120


def get_inputs():
    return [torch.randn(n, d)]


def get_init_inputs():
    return []
