"""Upstream repro (emulation, no Liger code): Liger-Kernel 0.8.5's group_norm forward takes each group's variance
in one pass, E[X^2] - E[X]^2 in float32 (liger_kernel/ops/group_norm.py), which cancels when a group's mean is
large against its spread. On groups of two elements (B=8, C=1, L=2, G=1, the shrunk case of the audit) the same
float32 arithmetic with a one-pass variance is up to 1.6e-3 off float64 over 200 draws, a two-pass one 1.1e-5.
    python bench/results/audit/repro_group_norm_one_pass.py
"""

import torch

DRAWS, EPS = 200, 1e-6


def rel(found: torch.Tensor, exact: torch.Tensor) -> float:
    return ((found - exact).pow(2).mean().sqrt() / exact.pow(2).mean().sqrt()).item()


def main() -> None:
    torch.manual_seed(0)
    one, two = [], []
    for _ in range(DRAWS):
        x = torch.randn(8, 2)  # 8 groups of C / G * L = 2 elements, float32
        xd = x.double()
        exact = (xd - xd.mean(1, keepdim=True)) / (xd.var(1, unbiased=False, keepdim=True) + EPS).sqrt()
        mean = x.mean(1, keepdim=True)
        one_pass = (x * x).mean(1, keepdim=True) - mean * mean  # E[X^2] - E[X]^2, as Liger's kernel
        two_pass = ((x - mean) ** 2).mean(1, keepdim=True)
        one.append(rel(((x - mean) * torch.rsqrt(one_pass + EPS)).double(), exact))
        two.append(rel(((x - mean) * torch.rsqrt(two_pass + EPS)).double(), exact))
    for name, found in (("one-pass", one), ("two-pass", two)):
        print(f"{name} float32 variance: median {sorted(found)[DRAWS // 2]:.2e}, max {max(found):.2e}")


if __name__ == "__main__":
    main()
