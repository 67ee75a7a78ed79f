#!/usr/bin/env bash
# The README's test command, exactly, on the GPU machine with its own torch/triton (device tool, one call):
#     bash bench/gpu_readme_test.sh "$OUT"      # with `.whl` carried (beartype, ruff, mypy and their deps)
# A venv that sees the machine's torch/triton (--system-site-packages), the carried wheels installed into it,
# shapecheck installed without dependencies, then the `# test` line of README.md as .ci/run reads it.
set -uo pipefail
out=${1:?output folder}
python3 -m venv --system-site-packages .venv
.venv/bin/python -m pip install -q --no-index --no-deps --no-compile --no-cache-dir .whl/*.whl
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
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
