#!/usr/bin/env bash
# The ARM64 check (npm run test:arm64): sets up qemu user-mode emulation, then runs the smoke check
# with the arm64 Node under each CPU model (Pi 4 = cortex-a72, Pi 5 = cortex-a76) and compares with
# the x64 results. Exits non-zero on any failure. Wall times printed here are for budgeting the CI step
# only: emulated timings say nothing about performance on a board.
#
# To add a step, write a function `step_<name> <cpu>` that uses `run_arm64 "$cpu" <node args...>` and
# add it to STEPS: it runs for every CPU model, and a non-zero exit fails the run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT="${EDGESIGHT_ARM64_OUT:-$ARM64_DIR/out}"
mkdir -p "$OUT"

step_smoke() {
  local cpu="$1"
  run_arm64 "$cpu" ci/smoke.mjs --out "$OUT/smoke-$cpu.json" --ref "$OUT/smoke-x64.json"
}
STEPS=(smoke)

t0=$SECONDS
bash "$ARM64_REPO/.ci/arm64/setup.sh"
t_setup=$((SECONDS - t0))
[[ -f "$ARM64_REPO/dist/src/service/platform.js" ]] || (cd "$ARM64_REPO" && npx tsc -p tsconfig.json)
arm64_sync_app

arm64_log "x64 reference run"
t1=$SECONDS
node "$ARM64_REPO/.ci/arm64/smoke.mjs" --out "$OUT/smoke-x64.json" || arm64_die "the x64 reference smoke run failed"
t_ref=$((SECONDS - t1))

declare -A took
failed=()
for cpu in "${ARM64_CPUS[@]}"; do
  t1=$SECONDS
  for step in "${STEPS[@]}"; do
    arm64_log "$step under QEMU_CPU=$cpu"
    if ! "step_$step" "$cpu"; then
      failed+=("$step@$cpu")
      arm64_log "FAILED: $step under $cpu"
    fi
  done
  took[$cpu]=$((SECONDS - t1))
done

if ((${#ARM64_CPUS[@]} >= 2)); then
  arm64_log "cross-check of the CPU models"
  node "$ARM64_REPO/.ci/arm64/crosscheck.mjs" "$OUT" "${ARM64_CPUS[@]}" || failed+=("crosscheck")
fi

echo
echo "ARM64 check: setup ${t_setup}s, x64 reference ${t_ref}s$(for c in "${ARM64_CPUS[@]}"; do printf ', %s %ss' "$c" "${took[$c]}"; done) (emulated wall time, not performance)"
if ((${#failed[@]})); then
  echo "ARM64 check FAILED: ${failed[*]}"
  exit 1
fi
echo "ARM64 check passed for ${ARM64_CPUS[*]}"
