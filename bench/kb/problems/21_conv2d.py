import torch
import torch.nn as nn


class Model(nn.Module):
    """nn.Conv2d, square kernel, no padding, no bias."""

    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, bias=False)

    def forward(self, x):
        return self.conv(x)


batch = 2
in_channels = 3
out_channels = 4
height = width = 12
kernel_size = 3


def get_inputs():
    return [torch.randn(batch, in_channels, height, width)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size]
