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
# exit 0 with what is skipped when the development folder is absent (a clone on its own)
arm64_require_shared || exit 0

OUT="${EDGESIGHT_ARM64_OUT:-$ARM64_DIR/out}"
mkdir -p "$OUT"
# Results of an earlier run must not stand in for this one's (crosscheck reads files).
rm -f "$OUT"/*.f32 "$OUT"/smoke-*.json "$OUT"/seg-*.json "$OUT"/detect-*.jsonl "$OUT"/mqtt-*.txt "$OUT"/run-*.mqtt
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
# The project's own native addon (sd_notify, cross-compiled for arm64) through its self-test.
step_sdnotify() {
  local cpu="$1" msg
  if msg="$(run_arm64 "$cpu" dist/src/systemd/sdnotify-selftest.js 2>&1)"; then
    echo "  ok    sdnotify addon: $msg"
  else
    echo "  FAIL  sdnotify addon: $msg"; return 1
  fi
}

# `edgesight detect` on a PNG and a JPEG with the same prepared models as the x64 run.
DETECT_PHOTOS=("$ARM64_SHARED/data/photos/astronaut.png" "$ARM64_SHARED/data/photos/messi5.jpg")
DETECT_THRESHOLD=0.3
detect_cmd() { # <node launcher...>: runs detect with the prepared cache and precision
  EDGESIGHT__MODELS__CACHE_DIR="$OUT/models" EDGESIGHT__MODELS__PRECISION="$PRECISION" EDGESIGHT_OFFLINE=1 \
    "$@" dist/src/cli/main.js detect "${DETECT_PHOTOS[@]}" --json --score-threshold "$DETECT_THRESHOLD"
}
step_detect() {
  local cpu="$1"
  detect_cmd run_arm64 "$cpu" > "$OUT/detect-$cpu.jsonl" 2> "$OUT/detect-$cpu.log" \
    || { echo "  FAIL  detect ($PRECISION): exit $? ($(tail -3 "$OUT/detect-$cpu.log"))"; return 1; }
  local ref="$OUT/detect-x64.jsonl" act=uint8
  if grep -q '"activations":"int8"' "$OUT/detect-$cpu.log"; then ref="$OUT/detect-x64-s8.jsonl" act=int8; fi
  node "$ARM64_REPO/.ci/arm64/compare-detect.mjs" "$ref" "$OUT/detect-$cpu.jsonl" \
    "$DETECT_THRESHOLD" "detect ($PRECISION, $act activations) on astronaut.png + messi5.jpg"
}
# The product's prepared segmenter (int8 once the quantizer is in the build) on two fixture inputs,
# masks compared with x64 — until `edgesight segment` exists.
SEG_MODEL() { printf '%s' "$OUT/models/lraspp_mobilenet_v3_small_voc/$PRECISION.onnx"; }
step_segment() {
  local cpu="$1"
  run_arm64 "$cpu" ci/seg.mjs --model "$(SEG_MODEL)" --out "$OUT/seg-$cpu.json" --ref "$OUT/seg-x64.json" \
    --label "segmenter ($PRECISION) 320×240 on astronaut + messi5"
}

# Models for the CLI steps, prepared once on x64 (offline, from ../shared) into $OUT/models. int8 is
# the product's model; until the quantizer is part of the build, the CLI can only run fp32.
prepare_cli_models() {
  if [[ -f "$ARM64_REPO/dist/src/cli/models-quantize.js" ]]; then PRECISION=int8; else PRECISION=fp32; fi
  arm64_log "preparing $PRECISION models for the CLI steps"
  (cd "$ARM64_REPO" && node dist/src/cli/main.js models fetch --precision "$PRECISION" --cache "$OUT/models" --offline \
     --from "$ARM64_SHARED/models/upstream" --from "$ARM64_SHARED/models/lraspp") > "$OUT/models-prepare.log" 2>&1 \
    || arm64_die "model preparation failed: $(tail -5 "$OUT/models-prepare.log")"
  (cd "$ARM64_APP" && detect_cmd node > "$OUT/detect-x64.jsonl" 2> "$OUT/detect-x64.log") \
    || arm64_die "x64 reference detect failed: $(tail -5 "$OUT/detect-x64.log")"
  # x64 picks the uint8-activation model; a core with dot product (A76) picks the int8-activation one, a
  # different model: its reference is x64 running that same shipped model
  if [[ "$PRECISION" == int8 ]]; then
    (cd "$ARM64_APP" && EDGESIGHT__MODELS__DETECTOR=models/prepared/ssdlite_mobilenet_v3_small_coco/int8-s8.json \
       detect_cmd node > "$OUT/detect-x64-s8.jsonl" 2> "$OUT/detect-x64-s8.log") \
      || arm64_die "x64 reference detect (int8 activations) failed: $(tail -5 "$OUT/detect-x64-s8.log")"
  fi
  (cd "$ARM64_APP" && EDGESIGHT_SHARED="$ARM64_SHARED" node ci/seg.mjs --model "$(SEG_MODEL)" --out "$OUT/seg-x64.json") \
    || arm64_die "x64 reference segmentation failed"
}

# A short `edgesight run`: RUN_FRAMES photos (PNG + JPEG) as a files camera that does not loop,
# detection + segmentation, the inference worker pinned, publishing to the broker on the host, where
# mosquitto_sub records everything. Frames are paced in real time and emulation is slow, so some are
# skipped as busy (drop-if-busy); the step waits, by the daemon's own stats topic, until every frame is
# accounted for, then sends SIGTERM: exit 0 and a retained "offline" are required.
RUN_FRAMES=10
step_run() {
  local cpu="$1" dev="arm64_${1//-/_}" cfg="$OUT/run-$1.yaml" log="$OUT/run-$1.log" sub_out="$OUT/run-$1.mqtt"
  local frames="$OUT/run-frames"
  rm -rf "$frames"; mkdir -p "$frames"
  for i in $(seq -w 1 "$RUN_FRAMES"); do
    if ((10#$i % 2)); then ln -s "$ARM64_SHARED/data/photos/astronaut.png" "$frames/f$i.png"
    else ln -s "$ARM64_SHARED/data/photos/messi5.jpg" "$frames/f$i.jpg"; fi
  done
  cat > "$cfg" <<YAML
device: { id: $dev }
camera:
  name: cam1
  source: files
  fps: 0.5
  files: { path: $frames, loop: false }
models: { cache_dir: $OUT/models, precision: $PRECISION, auto_prepare: false }
segmentation: { every: 2 }
# Emulated runs are many times slower than a board and the CI machine is shared: the default 10 s
# stall limit would restart the worker for nothing.
inference: { stall_timeout_s: 300 }
metrics: { stats_interval_s: 5 }
mqtt: { url: "mqtt://127.0.0.1:$BROKER_PORT" }
logging: { level: info, pretty: false }
YAML
  mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -t "edgesight/$dev/#" -v > "$sub_out" &
  local sub=$!
  local cmd; arm64_cmd "$cpu" cmd
  (cd "$ARM64_APP" && EDGESIGHT_OFFLINE=1 exec "${cmd[@]}" "$ARM64_NODE" dist/src/cli/main.js run --config "$cfg") > "$log" 2>&1 &
  local daemon=$! # the node itself (everything on the way execs), so SIGTERM reaches the daemon
  # Bounded wait (not a pass/fail timing): the stats topic says when all frames are through.
  local waited=0
  until node "$ARM64_REPO/.ci/arm64/run-check.mjs" idle "$sub_out" "$RUN_FRAMES"; do
    if ! kill -0 "$daemon" 2>/dev/null || ((waited >= 600)); then break; fi
    sleep 2; waited=$((waited + 2))
  done
  kill -TERM "$daemon" 2>/dev/null || true
  local code=0; wait "$daemon" || code=$?
  sleep 1; kill "$sub" 2>/dev/null; wait "$sub" 2>/dev/null || true
  local verdict; verdict="$(node "$ARM64_REPO/.ci/arm64/run-check.mjs" report "$sub_out" "$RUN_FRAMES")" || true
  local pinned; pinned=$(grep -c 'pinned to core' "$log" || true)
  if [[ "$verdict" == ok* ]] && ((code == 0 && pinned > 0)); then
    echo "  ok    run ($PRECISION): ${verdict#ok }; inference pinned; SIGTERM → exit 0"
  else
    echo "  FAIL  run ($PRECISION): ${verdict#* }; pinned log lines: $pinned; exit $code after SIGTERM (log: $log)"
    return 1
  fi
}

STEPS=(smoke sdnotify detect segment run mqtt)

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
if [[ ! -f "$ARM64_REPO/dist/src/systemd/native/prebuilds/linux-arm64/edgesight_sdnotify.node" ]]; then
  arm64_log "cross-building the arm64 sd_notify addon"
  (cd "$ARM64_REPO" && node src/systemd/native/build.mjs --arch=arm64) || arm64_die "arm64 addon build failed"
fi
arm64_sync_app
start_broker

arm64_log "x64 reference run"
t1=$SECONDS
node "$ARM64_REPO/.ci/arm64/smoke.mjs" --out "$OUT/smoke-x64.json" || arm64_die "the x64 reference smoke run failed"
prepare_cli_models
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
