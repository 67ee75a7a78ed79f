"""The audit of Liger-Kernel and flash-linear-attention (issue 27): contracts of ours for their ops, the
adapters that call the libraries (installed at bench time into the ignored `.peers/`), and `run.py`."""
