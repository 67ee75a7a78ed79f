#!/usr/bin/env bash
# Everything one GPU session measures, in one call (device time is scarce): the test suite on the GPU's
# own torch/triton, the GPU property job, property throughput and the decorator overhead.
# Usage on the device machine:  bash bench/gpu_job.sh "$OUT"   (beartype wheel carried in .whl/)
set -uo pipefail
out=${1:?output folder}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 COLUMNS=160
python3 - <<'PY' | tee "$out/versions.txt"
import torch, triton, jaxtyping, beartype, hypothesis
print(torch.cuda.get_device_name(), "torch", torch.__version__, "triton", triton.__version__,
      "jaxtyping", jaxtyping.__version__, "beartype", beartype.__version__, "hypothesis", hypothesis.__version__)
PY
echo "== pytest on GPU"
python3 -m pytest -q -p no:cacheprovider tests/test_kernel.py tests/test_bad_inputs.py tests/test_gpu.py \
  tests/test_property.py -rs 2>&1 | tee "$out/pytest_gpu.txt" | tail -15
echo "== property job (GPU profile)"
python3 -m shapecheck.cli run --device cuda --profile gpu --no-db --seed 0 --json "$out/gpu_property.json" \
  --junit "$out/gpu_junit.xml" 2>&1 | tee "$out/gpu_property.txt" | tail -25
echo "== throughput"
python3 bench/property_throughput.py --device cuda --profile gpu --examples 200 2>&1 | tee "$out/throughput_gpu.txt"
echo "== overhead"
python3 bench/overhead.py 2>&1 | tee "$out/overhead_gpu.txt" | tail -40
