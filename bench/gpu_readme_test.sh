#!/usr/bin/env bash
# The README's test command, exactly, on the GPU machine with its own torch/triton (device tool, one call):
#     bash bench/gpu_readme_test.sh "$OUT"      # with `.whl` carried (beartype, ruff, mypy and their deps)
# The carried wheels and shapecheck (no dependencies) installed into the machine's python, then the `# test`
# line of README.md as .ci/run reads it.
set -uo pipefail
out=${1:?output folder}
# The machine's python is itself a venv, which neither a --system-site-packages venv nor a symlink to its
# interpreter sees: `.venv/bin` holds one-line wrappers that exec it and the tools installed beside it, so
# the README's `.venv/bin/...` paths run them.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir .whl/*.whl
# Without --no-deps: the machine's own torch/triton must satisfy the declared ranges and stay in place.
before=$(python3 -c 'import torch, triton; print(torch.__version__, triton.__version__)')
python3 -m pip install -q --no-index --no-build-isolation -e . 2>&1 | tee "$out/install_log.txt" | tail -3 \
  || python3 -m pip install -q --no-deps --no-build-isolation -e .
after=$(python3 -c 'import torch, triton; print(torch.__version__, triton.__version__)')
echo "torch/triton before install: $before; after: $after" | tee "$out/install.txt"
bin=$(dirname "$(python3 -c 'import sys; print(sys.executable)')")
rm -rf .venv && mkdir -p .venv/bin
for tool in python ruff mypy shapecheck; do
  printf '#!/bin/sh\nexec %s "$@"\n' "$bin/$([ $tool = python ] && echo python3 || echo $tool)" > .venv/bin/$tool
  chmod +x .venv/bin/$tool
done
test_cmd=$(awk '/^# test$/{getline; print; exit}' README.md)
.venv/bin/python - <<'PY' | tee "$out/versions.txt"
import torch, triton, hypothesis, jaxtyping, beartype
print(torch.cuda.get_device_name(), "| torch", torch.__version__, "| triton", triton.__version__, "| hypothesis",
      hypothesis.__version__, "| jaxtyping", jaxtyping.__version__, "| beartype", beartype.__version__)
PY
echo "test command: $test_cmd" | tee -a "$out/versions.txt"
export PYTHONUNBUFFERED=1
bash -c "$test_cmd" > "$out/pytest_gpu_readme_command.txt" 2>&1
echo "exit $?" | tee -a "$out/pytest_gpu_readme_command.txt"
grep -v "PytestBenchmarkWarning\|warner(" "$out/pytest_gpu_readme_command.txt" | tail -40
