import torch
import torch.nn as nn


class Model(nn.Module):
    """Mean over the last axis of a 3-D input."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x.mean(dim=2)


batch = 4
channels = 12
width = 50


def get_inputs():
    return [torch.randn(batch, channels, width)]


def get_init_inputs():
    return []
