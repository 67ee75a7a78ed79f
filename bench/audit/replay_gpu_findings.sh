#!/usr/bin/env bash
# Replays of the audit's GPU-only findings after their judgement (one short device call; results in $1):
#     bash bench/audit/replay_gpu_findings.sh "$OUT"      # with `.whl` and `.peers` carried
# kl_div (float16 subnormal gradient: held once the second opinion knows the storage floor), layer_norm at D=1 (the
# reference's float32 evaluation on the CPU too; then bench/results/audit/repro_layer_norm_d1.py against torch's),
# the fused recurrent delta rule (contract now declares operand precision), and fla's chunk GDN forward with IEEE
# float32 dots instead of Triton's TF32 default.
set -uo pipefail
out=${1:?output folder}
bash bench/gpu_install.sh >/dev/null 2>&1
export PEERS=.peers COLUMNS=160 PYTHONUNBUFFERED=1
replay() {  # name, library module, op, adapter, case, extra options...
  local name=$1 module=$2 op=$3 impl=$4 case=$5
  shift 5
  timeout 60 python3 -m shapecheck.cli run "$module:$op" --impl "$module:$impl" --contracts "$module" --device cuda \
    --autotune-configs drawn --reproduce "$case" "$@" > "$out/$name.txt" 2>&1
  echo "-- $name (exit $?)"; grep -E "held|VIOLATED|relative RMS|raised" "$out/$name.txt" | head -6
}
replay kl_div bench.audit.liger kl_div liger_kl_div \
  '{"contract":"kl_div","dims":{"N":1,"V":1579},"options":{"cotangents":{},"dtypes":{"logits":"float16","target_logits":"float16"},"log_target":true,"reduction":"mean"},"seed":0}'
replay delta_rule bench.audit.fla fused_recurrent_delta_rule fla_fused_recurrent_delta_rule \
  '{"contract":"fused_recurrent_delta_rule","dims":{"B":1,"H":1,"K":93,"N":1,"T":56,"V":121},"options":{"cotangents":{"final_state":"zero","o":"strided"},"cu_seqlens":null,"dtypes":{"beta":"float16","cu_seqlens":"int32","k":"float16","q":"float16","v":"float16"},"initial_state":null,"output_final_state":true},"seed":0}'
replay layer_norm bench.audit.liger layer_norm liger_layer_norm \
  '{"contract":"layer_norm","dims":{"D":1,"N":9},"options":{"cotangents":{},"dtypes":{"B":"float32","W":"float32","X":"float32"},"eps":1e-06},"seed":0}'
TRITON_F32_DEFAULT=ieee replay chunk_gdn_ieee bench.fla_chunk chunk_gdn fla_chunk_gdn \
  '{"contract":"chunk_gdn","dims":{"B":1,"H":1,"HV":2,"K":12,"N":1,"T":10,"V":9},"options":{"cotangents":{},"cu_seqlens":null,"dtypes":{"cu_seqlens":"int32"},"initial_state":[],"output_final_state":true},"seed":0}' \
  --no-backward
timeout 60 python3 bench/results/audit/repro_layer_norm_d1.py cuda 2>&1 | tee "$out/layer_norm_d1.txt"
