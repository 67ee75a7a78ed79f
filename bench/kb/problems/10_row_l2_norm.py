import torch
import torch.nn as nn


class Model(nn.Module):
    """Euclidean norm of each row, scaled down: tiny outputs."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.linalg.vector_norm(x, dim=-1) * 1e-6


rows = 6
cols = 90


def get_inputs():
    return [torch.randn(rows, cols)]


def get_init_inputs():
    return []
