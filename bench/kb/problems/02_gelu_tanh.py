import math

import torch
import torch.nn as nn


class Model(nn.Module):
    """GELU, tanh approximation, elementwise."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


batch = 8
hidden = 200


def get_inputs():
    return [torch.randn(batch, hidden) * 2]


def get_init_inputs():
    return []
