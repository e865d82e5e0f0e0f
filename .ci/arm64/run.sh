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
# Results of an earlier run must not stand in for this one's (crosscheck reads files).
rm -f "$OUT"/*.f32 "$OUT"/smoke-*.json "$OUT"/mqtt-*.txt
CHECKS="$OUT/checks.log"
: > "$CHECKS"

step_smoke() {
  local cpu="$1"
  run_arm64 "$cpu" ci/smoke.mjs --out "$OUT/smoke-$cpu.json" --ref "$OUT/smoke-x64.json"
}

# The arm64 Node publishes to the broker on the host; mosquitto_sub on the host must receive it.
# The message is retained, so it arrives whether or not the subscription was in place first.
step_mqtt() {
  local cpu="$1" topic="edgesight/arm64-check/$1" got
  local sub_out="$OUT/mqtt-$cpu.txt"
  mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -t "$topic" -C 1 -W 120 > "$sub_out" &
  local sub=$!
  run_arm64 "$cpu" ci/mqtt.mjs --port "$BROKER_PORT" --topic "$topic" || { kill "$sub" 2>/dev/null; return 1; }
  wait "$sub" || { echo "  FAIL  mqtt: mosquitto_sub received nothing on $topic"; return 1; }
  got="$(cat "$sub_out")"
  if [[ "$got" != *'"arch":"arm64"'* || "$got" != *"\"qemuCpu\":\"$cpu\""* ]]; then
    echo "  FAIL  mqtt: unexpected payload on $topic: $got"; return 1
  fi
  echo "  ok    mqtt: host mosquitto_sub received $got"
}
STEPS=(smoke mqtt)

# A private broker on a free loopback port, stopped on exit.
BROKER_PID=""
start_broker() {
  BROKER_PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$BROKER_PORT" > "$OUT/mosquitto.conf"
  /usr/sbin/mosquitto -c "$OUT/mosquitto.conf" > "$OUT/mosquitto.log" 2>&1 &
  BROKER_PID=$!
  for _ in $(seq 50); do
    (echo > "/dev/tcp/127.0.0.1/$BROKER_PORT") 2>/dev/null && return 0
    sleep 0.2
  done
  arm64_die "mosquitto did not start on port $BROKER_PORT ($(cat "$OUT/mosquitto.log"))"
}
stop_broker() { [[ -n "$BROKER_PID" ]] && { kill "$BROKER_PID" 2>/dev/null; wait "$BROKER_PID" 2>/dev/null; }; BROKER_PID=""; }
trap stop_broker EXIT

t0=$SECONDS
bash "$ARM64_REPO/.ci/arm64/setup.sh"
t_setup=$((SECONDS - t0))
[[ -f "$ARM64_REPO/dist/src/service/platform.js" ]] || (cd "$ARM64_REPO" && npx tsc -p tsconfig.json)
arm64_sync_app
start_broker

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
    if ! "step_$step" "$cpu" | tee -a "$CHECKS"; then
      failed+=("$step@$cpu")
      arm64_log "FAILED: $step under $cpu"
    fi
  done
  took[$cpu]=$((SECONDS - t1))
done

if ((${#ARM64_CPUS[@]} >= 2)); then
  arm64_log "cross-check of the CPU models"
  node "$ARM64_REPO/.ci/arm64/crosscheck.mjs" "$OUT" "${ARM64_CPUS[@]}" | tee -a "$CHECKS" || failed+=("crosscheck")
fi

echo
echo "ARM64 check: setup ${t_setup}s, x64 reference ${t_ref}s$(for c in "${ARM64_CPUS[@]}"; do printf ', %s %ss' "$c" "${took[$c]}"; done) (emulated wall time, not performance)"
n_ok=$(grep -c '^  ok ' "$CHECKS" || true)
n_fail=$(grep -c '^  FAIL' "$CHECKS" || true)
# A step that died without a FAIL line (e.g. a crash) still counts as failed.
((${#failed[@]} > n_fail)) && n_fail=${#failed[@]}
if ((${#failed[@]})); then
  echo "ARM64 check FAILED: ${failed[*]}"
  echo "arm64: $n_ok passed, $n_fail failed"
  exit 1
fi
echo "ARM64 check passed for ${ARM64_CPUS[*]}"
echo "arm64: $n_ok passed, $n_fail failed"
