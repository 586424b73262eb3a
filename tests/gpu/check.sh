#!/usr/bin/env bash
# cifar-tui on a lent GPU machine: one call, never hangs. On an H200 (2026-11-28) every step but
# pytest-engine and resume took 264 s, and those two about 200 s more.
#
#   bash tests/gpu/check.sh                       # from the repo root; results in $OUT (<= 8 flat files)
#   CHECK_SKIP='^(pytest-engine|resume)$' bash tests/gpu/check.sh      # the first call of a session
#   CHECK_ONLY='^(install|bench-gpu|speedrun-study)$' bash tests/gpu/check.sh   # a short second call
#   GPU_DRY=1 OUT=/tmp/gpu_out bash tests/gpu/check.sh   # rehearsal on a CPU-only machine
# carry=[".whl", ".bench"]: .bench/airbench94.py (legacy/airbench94.py of KellerJordan/cifar10-airbench,
# git-ignored) is the speedrun study's baseline, run on the same data and GPU.
#
# Not part of CI (CI has no GPU). The GPU machine reaches no package index: it needs .whl/ (and
# .whl/fallback/), wheels for Python 3.12 of what its image lacks (textual, sqlite-utils,
# sqlite-fts4, click-default-group, platformdirs, pytest-asyncio, mdit-py-plugins, linkify-it-py;
# fallback: rich, pygments, markdown-it-py, mdurl, typing_extensions, pytest, pluggy, iniconfig,
# packaging), made here with
#   pip download --no-deps --only-binary=:all: --python-version 3.12 -d .whl NAME==VERSION
# and git-ignored (.git/info/exclude), so the device call carries it: carry=[".whl"].
# Every step has a timeout and is logged as "name rc seconds expected verdict" in $OUT/summary.tsv;
# a failing step never stops the script (set -u, not -e). A global budget (CHECK_BUDGET_S, 420 s)
# clips each step's timeout and skips the steps left when it is spent.
#
# $OUT gets: log.txt (everything printed), summary.tsv, bench.jsonl (bench gpu), speedrun.json, runs.json, resume.json,
# cifar-tui.log (the home's log), live.json and live.svg (the speedrun with the app's Live open).
set -u
export PYTHONUNBUFFERED=1
export PYTHONDONTWRITEBYTECODE=1
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD

OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
TEE_PID=$!

DRY=${GPU_DRY:-0}
PY=${PYTHON:-python3}
SITE=${CHECK_SITE:-/tmp/site}
H=${CHECK_HOME:-/tmp/h}
TMP=${CHECK_TMP:-/tmp/gpu_check_tmp}
BUDGET=${CHECK_BUDGET_S:-420}        # seconds for all steps together; later steps are skipped past it
SKIP=${CHECK_SKIP:-}                 # a regex of step names to skip (rehearsals)
ONLY=${CHECK_ONLY:-}                 # a regex of the step names to run (a second, shorter call)
SUMMARY=$OUT/summary.tsv
T0=$(date +%s)
DEADLINE=$(( T0 + BUDGET ))
rm -rf "$H" "$TMP"
mkdir -p "$TMP"
printf 'step\trc\tseconds\texpected\tverdict\n' > "$SUMMARY"

if [[ $DRY == 1 ]]; then
  DEVICE=cpu
  export OMP_NUM_THREADS=1            # a shared small CPU: no thread oversubscription
  CNN_LIMIT=(--limit-batches 20)      # seed-cnn runs: 20 batches an epoch
  SMALL=(--limit-batches 20)
  RESNET_LIMIT=(--limit-batches 3)
  R18_ARGS=(--model seed-cnn --limit-batches 20)   # the preset's SGD + cosine + crop, on a cheap model
else
  DEVICE=cuda
  CNN_LIMIT=()                        # 782 batches an epoch at batch 64
  SMALL=(--limit-batches 100)
  RESNET_LIMIT=()                     # 98 batches an epoch at batch 512
  R18_ARGS=(--limit-batches 100)      # 100 of 391 batches at batch 128
fi
CT=("$PY" -m cifar_tui.tui.cli --home "$H")     # the CLI without installing the project

finish() {
  echo
  echo "===== collecting (t+$(( $(date +%s) - T0 ))s)"
  [[ -f $H/runs.db ]] && timeout 30 "${CT[@]}" runs --json > "$OUT/runs.json" 2>/dev/null
  [[ -f $H/cifar-tui.log ]] && cp "$H/cifar-tui.log" "$OUT/cifar-tui.log"
  echo "===== summary"
  column -t "$SUMMARY" 2>/dev/null || cat "$SUMMARY"
  echo "===== done in $(( $(date +%s) - T0 ))s; files in $OUT: $(ls "$OUT" | tr '\n' ' ')"
  exec >/dev/null 2>&1
  wait "$TEE_PID" 2>/dev/null || sleep 1
}
trap finish EXIT
trap 'exit 143' TERM INT

# step NAME LIMIT_S CMD...: run CMD under timeout, log its exit code and time. STEP_OUT=file also
# keeps its output (stdout and stderr) there; EXPECT=N is the exit code that counts as ok (default 0).
# Returns CMD's status (99: skipped, the budget is spent).
step() {
  local name=$1 limit=$2 rc start secs left verdict expect=${EXPECT:-0}
  shift 2
  left=$(( DEADLINE - $(date +%s) ))
  if [[ -n $SKIP && $name =~ $SKIP ]] || [[ -n $ONLY && ! $name =~ $ONLY ]]; then
    echo; echo "===== [$name] SKIPPED: CHECK_SKIP / CHECK_ONLY"
    printf '%s\tskipped\t0\t%s\tSKIPPED\n' "$name" "$expect" >> "$SUMMARY"
    return 99
  fi
  if (( left < 15 )); then
    echo; echo "===== [$name] SKIPPED: the ${BUDGET}s budget is spent"
    printf '%s\tskipped\t0\t%s\tSKIPPED\n' "$name" "$expect" >> "$SUMMARY"
    return 99
  fi
  (( limit > left )) && limit=$left
  echo; echo "===== [$name] $(date +%T) t+$(( $(date +%s) - T0 ))s, limit ${limit}s"
  echo "+ $*"
  start=$(date +%s.%N)
  if [[ -n ${STEP_OUT:-} ]]; then
    timeout -k 5 "$limit" "$@" 2>&1 | tee "$STEP_OUT"
    rc=${PIPESTATUS[0]}
  else
    timeout -k 5 "$limit" "$@"
    rc=$?
  fi
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  [[ $rc == 124 || $rc == 137 ]] && echo "===== [$name] TIMED OUT after ${limit}s"
  if [[ $rc == "$expect" ]]; then verdict=ok; else verdict=UNEXPECTED; fi
  echo "===== [$name] rc=$rc in ${secs}s ($verdict, expected $expect)"
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$rc" "$secs" "$expect" "$verdict" >> "$SUMMARY"
  return "$rc"
}

echo "cifar-tui GPU check: dry=$DRY device=$DEVICE home=$H site=$SITE out=$OUT budget=${BUDGET}s"
echo "repo $REPO, commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u)"

# ------------------------------------------------------------------ a. install and versions
# The wheels in .whl/ always; one in .whl/fallback/ only where the image's own copy does not
# satisfy a requirement (say textual's rich>=14.2.0, or pytest-asyncio's pytest>=8.4).

install() {
  rm -rf "$SITE"
  local wheels
  mapfile -t wheels < <("$PY" "$REPO/tests/gpu/select_wheels.py")
  if (( ${#wheels[@]} == 0 )); then
    echo "wheel selection failed: installing .whl/*.whl"
    wheels=(.whl/*.whl)
  fi
  printf 'installing %s\n' "${wheels[@]}"
  "$PY" -m pip install -q --disable-pip-version-check --no-index --no-deps --no-compile --no-cache-dir \
    --target "$SITE" "${wheels[@]}" && return 0
  # No pip, or pip failed: these are all pure-Python wheels without .data/, so unzipping them is
  # the same install (minus entry-point scripts, which nothing here uses).
  echo "pip install failed: unzipping the wheels into $SITE instead"
  rm -rf "$SITE" && mkdir -p "$SITE" || return 1
  local w
  for w in "${wheels[@]}"; do "$PY" -m zipfile -e "$w" "$SITE" || return 1; done
  return 3   # worked, but not the ordinary way: the summary shows it
}
export -f install
export PY SITE TMP
step install 120 bash -c install
# The project's one import name without installing it: cifar_tui/{engine,store,tui} as links.
mkdir -p "$SITE/cifar_tui" && ln -sfn "$REPO/engine" "$REPO/store" "$REPO/tui" "$SITE/cifar_tui/"
export PYTHONPATH=$SITE:$REPO

[[ $DRY == 1 ]] || step nvidia-smi 20 nvidia-smi
step versions 60 "$PY" "$REPO/tests/gpu/versions.py"
step pip-check 30 "$PY" -m pip check --disable-pip-version-check

# ------------------------------------------------------------------ b. tests
step pytest-gpu 120 "$PY" -m pytest -q -rs -p no:cacheprovider --continue-on-collection-errors -m gpu tests
step pytest-engine 100 "$PY" -m pytest -q --maxfail=5 -p no:cacheprovider --durations=8 -m "not slow" tests/engine

# ------------------------------------------------------------------ c. benchmark
# `bench gpu`: speed against the tutorial (eager and CUDA graphs, three models), seed-resnet b512
# bf16, logging overhead, graph-vs-eager losses, the memory pre-check, resume; its last line is JSON.
: > "$OUT/bench.jsonl"
QUICK=(); [[ $DRY == 1 ]] && QUICK=(--quick)
STEP_OUT=$TMP/bench-gpu.out step bench-gpu 240 "${CT[@]}" bench gpu --device "$DEVICE" "${QUICK[@]}"
grep '^{' "$TMP/bench-gpu.out" 2>/dev/null | tail -n 1 | grep '^{' >> "$OUT/bench.jsonl" \
  || echo '{"bench": "gpu", "error": "no JSON line"}' >> "$OUT/bench.jsonl"
# The speedrun preset, 5 seeds, through the queue and a worker (synthetic data: no CIFAR-10 there).
SPEED_RUN=(--preset speedrun --dataset synthetic --device "$DEVICE")
[[ $DRY == 1 ]] && SPEED_RUN+=(--epochs 1 --limit-batches 2 --batch-size 64 --precision fp32)
SPEED=("${SPEED_RUN[@]}" --seed 0..4 --sweep-name speedrun)
step speedrun-queue 30 "${CT[@]}" queue add "${SPEED[@]}"
step speedrun-train 150 "${CT[@]}" worker --until-empty
STEP_OUT=$OUT/speedrun.json step speedrun-table 30 "${CT[@]}" runs sweep=speedrun --json
# Against airbench94's own code on the same data and GPU (.bench/airbench94.py, carried when
# there), and each piece of the recipe switched off in turn: study.json.
step speedrun-study 200 "$PY" tests/gpu/speedrun_study.py "$OUT/study.json"
# The same 5 seeds trained by the app's own engine with its Live view open (headless Textual):
# live.json (the runs as the store has them), live.svg (Live while the third run trains).
CTL=("$PY" -m cifar_tui.tui.cli --home "$H-live")
rm -rf "$H-live"
step speedrun-live-queue 30 "${CTL[@]}" queue add "${SPEED[@]}"
step speedrun-live 170 "$PY" tests/gpu/live_speedrun.py "$H-live" "$OUT/live.json" "$OUT/live.svg" 160

# ------------------------------------------------------------------ d. real runs, the product road
SYN=(--dataset synthetic --device "$DEVICE")
step run-seed-cnn 90 "${CT[@]}" run --preset seed-cnn "${SYN[@]}" --epochs 2 "${CNN_LIMIT[@]}" --name d-cnn
if [[ $DRY == 1 ]]; then
  echo "(dry run: cudagraphs needs CUDA; checking that it is refused with exit 2 instead)"
  EXPECT=2 step run-cudagraphs-refused 60 "${CT[@]}" run --preset seed-cnn "${SYN[@]}" --epochs 1 --compile cudagraphs
else
  step run-seed-cnn-cudagraphs 90 "${CT[@]}" run --preset seed-cnn "${SYN[@]}" --epochs 2 --compile cudagraphs --name d-cnn-graphs
fi
step run-seed-resnet-bf16 90 "${CT[@]}" run --preset seed-resnet "${SYN[@]}" --batch-size 512 --precision bf16 --epochs 2 "${RESNET_LIMIT[@]}" --name d-resnet-bf16
step run-resnet18-cifar 120 "${CT[@]}" run --preset resnet18-cifar "${SYN[@]}" --epochs 1 "${R18_ARGS[@]}" --name d-r18-cosine
step runs-table 30 "${CT[@]}" runs

# ------------------------------------------------------------------ e. resume on the device
# A, A2: 3 epochs straight (A2 measures the device's own run-to-run noise). B: the same, stopped
# with SIGINT once epoch 2 is recorded, then `cifar-tui resume`. C: the same with SIGKILL.
# D0/D0r: dropout 0, straight and resumed: if only the dropout runs differ after a resume, the
# checkpoint is missing the device's RNG state.
step resume 240 "$PY" "$REPO/tests/gpu/resume_check.py" "$H" "$DEVICE" "$OUT/resume.json" "${CNN_LIMIT[@]}"

# ------------------------------------------------------------------ f. out of memory, and recovery
if [[ $DRY == 1 ]]; then
  echo; echo "(dry run: skipping the out-of-memory runs)"
else
  # Saved activations, measured on the CPU (channels_last, fp32): torchvision resnet18 at 32x32
  # 0.43 MiB an image, so batch 65536 needs ~28 GiB and probably FITS an H100 (the run may then
  # finish, exit 0, against the expected 1); resnet18-cifar (no stem downsampling) 4.5 MiB an
  # image, ~287 GiB at 65536: a sure out-of-memory on an H100 or an H200.
  STEP_OUT=$TMP/oom-1.out EXPECT=1 step oom-seed-resnet18 120 "${CT[@]}" run --preset seed-resnet18 "${SYN[@]}" --batch-size 65536 --epochs 1
  STEP_OUT=$TMP/oom-2.out EXPECT=1 step oom-resnet18-cifar 120 "${CT[@]}" run --preset resnet18-cifar "${SYN[@]}" --batch-size 65536 --epochs 1 --limit-batches 1
  for f in "$TMP"/oom-*.out; do
    [[ -f $f ]] || continue
    echo "== $(basename "$f"): 'CUDA out of memory at batch size 65536' lines: $(grep -c 'CUDA out of memory at batch size 65536' "$f")," \
         "Traceback lines: $(grep -c Traceback "$f"), error lines: $(grep -c '^cifar-tui: ' "$f")"
  done
fi
step after-oom-fresh-process 60 "${CT[@]}" run --preset seed-cnn "${SYN[@]}" --epochs 1 "${SMALL[@]}" --name f-after-oom
# The same process going on after an OOM: a worker given a too-big run, then a small one.
echo; echo "queued for the worker (run ids):"
{
  if [[ $DRY != 1 ]]; then
    timeout 60 "${CT[@]}" queue add --preset resnet18-cifar "${SYN[@]}" --batch-size 65536 --epochs 1 --limit-batches 1 --name f-worker-oom
  fi
  timeout 60 "${CT[@]}" queue add --preset seed-cnn "${SYN[@]}" --epochs 1 "${SMALL[@]}" --name f-worker-small
} 2>&1
step worker-after-oom 120 "${CT[@]}" worker --until-empty
timeout 30 "$PY" "$REPO/tests/gpu/list_runs.py" "$H/runs.db"
# torch.compile on the speedrun (one seed; the first compile is part of its time).
[[ $DRY == 1 ]] || step speedrun-compiled 150 "${CT[@]}" run "${SPEED_RUN[@]}" --compile default --name speedrun-compiled
[[ $DRY == 1 ]] || timeout 20 nvidia-smi --query-gpu=name,memory.used,memory.total,utilization.gpu --format=csv 2>&1
# g. is the EXIT trap: runs.json and cifar-tui.log into $OUT, the summary table.
exit 0
