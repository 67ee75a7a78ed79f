import torch
import torch.nn as nn


class Model(nn.Module):
    """torch.bmm of [b, m, k] and [b, k, n]."""

    def __init__(self):
        super().__init__()

    def forward(self, A, B):
        return torch.bmm(A, B)


b = 3
m = 20
k = 24
n = 18


def get_inputs():
    return [torch.randn(b, m, k), torch.randn(b, k, n)]


def get_init_inputs():
    return []
