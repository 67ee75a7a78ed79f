"""Precision at fla's fused_recurrent_delta_rule API in bfloat16 (emulation, no fla code): the backward sees q, k
l2-normalised in their own dtype and a bfloat16 sigmoid(beta). Rounding just those three to bfloat16 in an
otherwise float64 computation at the audit's shrunk shape (B=1, T=1, H=2, K=11, V=125; T=1 so the recurrence is
o = K^-1/2 (q.k) beta v), and storing the gradients in bfloat16, puts them past bfloat16's 5e-3 bound with no
kernel arithmetic at all (max over 40 draws: q 7.5e-3, k 5.2e-3, v 5.5e-2, beta 5.0e-2).
    python bench/results/audit/repro_delta_rule_bf16.py
"""

import torch

B, T, H, K, V = 1, 1, 2, 11, 125
DRAWS = 40


def bf16(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.bfloat16).to(torch.float64)


def l2norm(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True)


def forward(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, beta: torch.Tensor, rounded: bool) -> torch.Tensor:
    """T = 1 and no initial state: h = k^T (beta v), o = K^-1/2 q h."""
    r = bf16 if rounded else (lambda x: x)
    qh, kh, b = r(l2norm(q)), r(l2norm(k)), r(torch.sigmoid(beta))
    return K**-0.5 * (qh * kh).sum(-1, keepdim=True) * b[..., None] * v


def rel(found: torch.Tensor, exact: torch.Tensor) -> float:
    return ((found - exact).pow(2).mean().sqrt() / exact.pow(2).mean().sqrt()).item()


def main() -> None:
    torch.manual_seed(0)
    errors: dict[str, list[float]] = {"q": [], "k": [], "v": [], "beta": []}
    for _ in range(DRAWS):
        inputs = [bf16(torch.randn(*s)) for s in ((B, T, H, K), (B, T, H, K), (B, T, H, V), (B, T, H))]
        cotangent = bf16(torch.randn(B, T, H, V))
        grads = []
        for rounded in (False, True):
            leaves = [x.clone().requires_grad_() for x in inputs]
            forward(*leaves, rounded=rounded).backward(cotangent)
            grads.append([x.grad for x in leaves])
        for name, exact, found in zip(errors, *grads):
            errors[name].append(rel(bf16(found), exact))  # the gradient stored in bfloat16, as fla returns it
    for name, found in errors.items():
        print(f"grad of {name}: median {sorted(found)[DRAWS // 2]:.2e}, max {max(found):.2e} (bound 5e-3)")


if __name__ == "__main__":
    main()
