#!/usr/bin/env bash
# Real CIFAR-10 on a lent GPU machine (issue 28), one call of about 9 minutes:
#   run(command="bash tests/gpu/real_data.sh", carry=[".whl", ".bench", ".data"], timeout_s=590)
# .data/ holds ../shared/data/cifar10-jpeg.npz and cifar10_jpeg.py; .bench/ airbench's two files
# (see tests/gpu/real_data.py); .whl/ the wheels tests/gpu/check.sh installs. All git-ignored.
# $OUT gets log.txt and summary.tsv (install, versions), real.json and real.log (the study).
set -u
cd "$(dirname "$0")/../.." || exit 1
export OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"
CHECK_ONLY='^(install|nvidia-smi|versions)$' bash tests/gpu/check.sh
export PYTHONPATH=${CHECK_SITE:-/tmp/site}:$PWD PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
set -o pipefail
timeout -k 10 "${REAL_TIMEOUT_S:-545}" python3 tests/gpu/real_data.py .data/cifar10-jpeg.npz "$OUT/real.json" 2>&1 \
  | tee "$OUT/real.log"
echo "gpu_real_data exit ${PIPESTATUS[0]}"
