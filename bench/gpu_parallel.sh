#!/usr/bin/env bash
# The README test command beside gpu_job.sh steps that measure no time, in one device call (device time is
# scarce; they share the GPU and the 16 CPUs, so never a timing step here). Results come back as one tarball,
# $OUT/results.tgz (the device returns at most 8 files), each job's log tail printed:
#     bash bench/gpu_parallel.sh "$OUT" audit-liger audit-fla fla-chunk     # with .whl and .peers carried
# The README test installs first (bench/gpu_readme_test.sh); the other steps wait for that install and skip
# their own (SKIP_INSTALL: two editable installs of one checkout race). Limits: AUDIT_LIMIT, CHUNK_LIMIT, ...
set -uo pipefail
out=${1:?output folder}
shift
work=$(mktemp -d)
mkdir -p "$work/readme"
bash bench/gpu_readme_test.sh "$work/readme" > "$work/readme/log.txt" 2>&1 &
for _ in $(seq 150); do [ -f "$work/readme/install.txt" ] && break; sleep 2; done
for step in "$@"; do
  mkdir -p "$work/$step"
  SKIP_INSTALL=1 bash bench/gpu_job.sh "$work/$step" "$step" > "$work/$step/log.txt" 2>&1 &
done
wait
tar czf "$out/results.tgz" -C "$work" .
cat "$work/readme/install.txt"; tail -4 "$work/readme/log.txt"
for step in "$@"; do echo "== $step"; grep -v "^W[0-9]" "$work/$step/log.txt" | tail -24; done
