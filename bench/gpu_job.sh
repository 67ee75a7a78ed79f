#!/usr/bin/env bash
# What one GPU session measures, in one call (device time is scarce). Run on the device machine from this
# checkout's root, with `.whl` (beartype, ruff, mypy and their deps) and `.peers` (fla-core's wheel, SGLang's or a
# zip of its kernel file: bench/compile_budget.py says how) carried:
#     bash bench/gpu_job.sh "$OUT" STEP...
# Steps, in the order given:
#   peers-sweep  bench/peers.py with the launch-variant sweep and `baseline_gdn.py` (main's kernel) as a row
#   peers        bench/peers.py, the table only
#   property     `shapecheck run` on the GDN contract, GPU profile, twice, each in a fresh process: first with an
#                empty Triton cache (cold), then with the disk cache the first left (warm); EXAMPLES=n limits it
#   adapters     the peers through the contract (bench/adapters.py), GPU profile
#   pytest       the test files that exercise the kernel, on the GPU's torch/triton
#   readme       the README's test command, exactly (bench/gpu_readme_test.sh)
#   overhead     bench/overhead.py: the decorator's per-call cost, eager and compiled, with guard counts
#   budget       bench/compile_budget.py: the property job on kernels that specialise like upstream, cold/warm
#   fla-chunk    fla-core's chunk_gated_delta_rule through bench/fla_chunk.py, forward and backward; EXAMPLES=n
#   kb           bench/kb_throughput.py: `shapecheck kb` isolated against in-process, candidates/hour, cheats
#   audit-liger  bench/audit/run.py --device cuda over Liger-Kernel's 12 ops (needs .peers/liger_kernel-0.8.5-*.whl)
#   audit-fla    the same over fla-core's 6 entry points (needs .peers/fla_core-0.6.0-*.whl and einops); the rows of
#                each library's rows land in $out/audit_<library>/audit_cuda.{md,json,xml} (two can run at once;
#                bench/audit/run.py --merge joins them into bench/results/audit); STEERED=1: both go round the
#                judged findings (run.py --steered, tables audit_cuda_steered.*); AUDIT_OPS=a,b: only those ops
#                (several jobs of one library side by side, each its own $out); AUDIT_WORKERS=n: each op's cases
#                over n processes on the one GPU (ops whose cases each compile a drawn config: chunk_gla)
set -uo pipefail
out=${1:?output folder}
shift
# SKIP_INSTALL=1 when another job of this call (bench/gpu_readme_test.sh) already installed: two editable
# installs of one checkout at once race on its build files.
[ -n "${SKIP_INSTALL:-}" ] || bash bench/gpu_install.sh
export PYTHONUNBUFFERED=1 COLUMNS=160 PEERS=.peers
python3 - <<'PY' | tee "$out/versions.txt"
import torch, triton, hypothesis
print(torch.cuda.get_device_name(), "| torch", torch.__version__, "| triton", triton.__version__, "| CUDA",
      torch.version.cuda, "| hypothesis", hypothesis.__version__)
PY
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,power.draw --format=csv | tee -a "$out/versions.txt"
examples=${EXAMPLES:+--examples $EXAMPLES}
for step in "$@"; do
  echo "== $step ($(date +%T))"
  case $step in
    peers-sweep) python3 bench/peers.py --peers "$PEERS" --sweep --baseline baseline_gdn.py --out "$out" \
                   2>&1 > "$out/peers_log.txt" | tail -5; tail -45 "$out/peers_log.txt" ;;
    peers) python3 bench/peers.py --peers "$PEERS" --baseline baseline_gdn.py --out "$out" 2>&1 > "$out/peers_log.txt" \
             | tail -5; sed -n '/^# Decode kernel/,$p' "$out/peers_log.txt" ;;
    property)
      export TRITON_CACHE_DIR=$(mktemp -d)
      for pass in cold warm; do
        python3 -m shapecheck.cli run fused --device cuda --profile gpu --no-db --seed 0 $examples \
          --json "$out/property_$pass.json" > "$out/property_$pass.txt" 2>&1
        echo "-- $pass (exit $?)"; grep -E "cases run|compilations|wall time|time split|^│ +│" "$out/property_$pass.txt"
      done
      unset TRITON_CACHE_DIR ;;
    adapters)  # fla-core twice: as drawn, then with its fixed softplus (beta 1, threshold 20) pinned
      for run in "sglang_gdn" "fla_gdn" "fla_gdn --pin softplus_beta=1.0 --pin softplus_threshold=20.0"; do
        name=$(echo "$run" | tr -c 'a-z0-9_\n' '_' | tr -s _)
        timeout 150 python3 -m shapecheck.cli run fused --impl bench/adapters.py:$run --device cuda \
          --profile gpu --no-db --seed 0 --examples ${ADAPTER_EXAMPLES:-100} > "$out/adapters_$name.txt" 2>&1
        echo "-- $run (exit $?)"; grep -E "held|VIOLATED|cases run|compilations|wall time|^  - |case:" "$out/adapters_$name.txt"
      done ;;
    pytest) timeout 120 python3 -m pytest -q -p no:cacheprovider tests/test_kernel.py tests/test_gpu.py \
              tests/test_static_explain.py -rs 2>&1 | tee "$out/pytest_gpu.txt" | tail -8 ;;
    readme) bash bench/gpu_readme_test.sh "$out" ;;
    kb) timeout ${KB_LIMIT:-560} python3 bench/kb_throughput.py --device cuda --out "$out/kb" ${EXAMPLES:+--examples $EXAMPLES} ;;
    overhead) timeout ${OVERHEAD_LIMIT:-400} python3 bench/overhead.py --out "$out" > "$out/overhead_log.txt" 2>&1
              echo "exit $?"; tail -60 "$out/overhead_log.txt" ;;
    budget)  # BASELINE=.baseline/<commit> (carried): that tree installed beside ours, its bundled row run too
      base=()
      if [ -n "${BASELINE:-}" ]; then
        rm -rf /tmp/baseline && python3 -m pip install -q --no-deps --no-build-isolation --target /tmp/baseline "$BASELINE" \
          && base=(--baseline /tmp/baseline)
      fi
      timeout ${BUDGET_LIMIT:-560} python3 bench/compile_budget.py --out "$out/compile_budget" ${ONLY:+--only $ONLY} "${base[@]}" ;;
    audit-liger|audit-fla)
      lib=${step#audit-}
      ops=$(python3 -c "from bench.audit.run import OPS; print(','.join(o.name for o in OPS if o.library == '$lib'))")
      [ -z "${AUDIT_OPS:-}" ] || ops=$(echo "$AUDIT_OPS" | tr , '\n' | grep -xF -f <(echo "$ops" | tr , '\n') | paste -sd,)
      [ -n "$ops" ] || { echo "no $lib op in AUDIT_OPS=$AUDIT_OPS"; continue; }
      timeout ${AUDIT_LIMIT:-560} python3 bench/audit/run.py --device cuda --out "$out/audit_$lib" --only "$ops" \
        --timeout ${AUDIT_OP_LIMIT:-240} ${STEERED:+--steered} --workers ${AUDIT_WORKERS:-1}
      echo "exit $?"; tail -30 "$out/audit_$lib/audit_cuda${STEERED:+_steered}.md" ;;
    fla-chunk) timeout ${CHUNK_LIMIT:-400} python3 -m shapecheck.cli run bench.fla_chunk:chunk_gdn --contracts bench.fla_chunk \
                 --impl bench.fla_chunk:fla_chunk_gdn --device cuda --profile gpu --no-db --seed 1 --autotune-configs drawn \
                 --examples ${EXAMPLES:-120} --json "$out/fla_chunk.json" > "$out/fla_chunk.txt" 2>&1
               echo "exit $?"; tail -40 "$out/fla_chunk.txt" ;;
    *) echo "unknown step $step" ;;
  esac
done
echo "== done ($(date +%T))"
