import torch
import torch.nn as nn


class Model(nn.Module):
    """nn.Conv1d, no padding, stride 1, with bias."""

    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size)

    def forward(self, x):
        return self.conv(x)


batch = 2
in_channels = 6
out_channels = 8
length = 40
kernel_size = 3


def get_inputs():
    return [torch.randn(batch, in_channels, length)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size]
