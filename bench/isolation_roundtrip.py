"""What one isolated call costs beyond the call itself: a trivial candidate (`x * w`, two float32 inputs), called
in process and through `shapecheck.isolate.Isolated` (no settle wait, no fresh-input twin: the fixed cost of
the round trip alone), median of many calls per tensor size. Prints a table naming the device.

    python bench/isolation_roundtrip.py --device cpu
    python bench/isolation_roundtrip.py --device cuda --baseline /tmp/baseline   # another commit's shapecheck too

`--baseline DIR`: a tree installed with `pip install --no-deps --no-build-isolation --target DIR <commit>`; its
row runs in a fresh process with DIR first on the path, so both rows come from one machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CANDIDATE = "def kernel(x, w):\n    return x * w\n"


def measure(device: str, sizes: list[int], calls: int) -> list[tuple[int, float, float]]:
    """(elements, in-process µs, isolated µs) per size."""
    import torch

    from shapecheck.isolate import Isolated

    folder = Path(tempfile.mkdtemp())
    (folder / "trivial.py").write_text(CANDIDATE)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    rows = []
    with Isolated(f"{folder / 'trivial.py'}:kernel", device, 60.0, 0.0) as worker:
        for n in sizes:
            x, w = torch.randn(n, device=device), torch.randn(n, device=device)
            local, remote = [], []
            for i in range(calls):
                for times, fn in ((local, lambda **a: a["x"] * a["w"]), (remote, worker)):
                    sync()
                    start = time.perf_counter()
                    fn(x=x, w=w)
                    sync()
                    if i >= calls // 10:  # the first calls warm caches and the worker's arenas
                        times.append(time.perf_counter() - start)
            rows.append((n, 1e6 * statistics.median(local), 1e6 * statistics.median(remote)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--baseline", type=Path, default=None)
    parser.add_argument("--rows-only", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    sizes = [1 << 10, 1 << 16, 1 << 20]
    rows = measure(options.device, sizes, options.calls)
    if options.rows_only:
        print(json.dumps(rows))
        return
    import torch

    where = torch.cuda.get_device_name() if options.device == "cuda" else f"CPU ({os.cpu_count()} cores)"
    print(f"# isolated round trip: {where}, torch {torch.__version__}; median of {options.calls} calls, µs")
    print(f"{'shapecheck':<12} {'elements':>9} {'in-process':>11} {'isolated':>9} {'overhead':>9}")
    labelled = [("this", rows)]
    if options.baseline is not None:
        argv = [sys.executable, __file__, "--device", options.device, "--calls", str(options.calls), "--rows-only"]
        env = {**os.environ, "PYTHONPATH": f"{options.baseline}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=tempfile.gettempdir())
        labelled.append(("baseline", json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else []))
        if done.returncode:
            print(f"baseline failed: {done.stderr.strip().splitlines()[-1:]}")
    for label, found in labelled:
        for n, local, remote in found:
            print(f"{label:<12} {n:>9} {local:>11.1f} {remote:>9.1f} {remote - local:>9.1f}")


if __name__ == "__main__":
    main()
