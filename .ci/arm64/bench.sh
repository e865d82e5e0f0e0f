#!/usr/bin/env bash
# ARM cost (npm run bench:arm64): guest instructions per inference under each CPU model, counted by
# the arm-insn qemu plugin. Not part of CI (fp32 runs under emulation are slow). Emulated wall time is
# never a performance figure; instruction counts are the ARM cost figure.
#
#   bash .ci/arm64/bench.sh [--runs N] [--only <regex over case names>] [--pipeline-only | --nodes-only | --no-pipeline]
#
# After the per-inference counts, insn-pipeline.mjs counts instructions per frame of the whole pipeline
# (files source → preprocess → int8 detector → post-process → MQTT publish), detection only and with
# segmentation every 5th frame, then the camera's raw path (the fake rpicam-vid of test/fixtures/bin
# streaming yuv420 at the model size, detection only), and the ratio to the bare inference. Then the XNNPACK reference
# ($EDGESIGHT_SHARED_TOOLS/xnnpack-ref, default ../shared/tools) on the same emulated cores, and a
# per-node-group profile of the int8 detector and segmenter (insn-nodes.mjs; --no-nodes skips it).
# Last, the summary lines `insn <cpu> detector …` and `insn <cpu> pipeline <raw|mjpeg> …`. --pipeline-only skips the
# per-inference runs and uses the insn.json of an earlier run; --nodes-only runs only the per-node profiles
# (on the models of an earlier run). Environment: EDGESIGHT_ARM64_PIPELINE_FRAMES
# (measured frames, default 20), EDGESIGHT_ARM64_PIPELINE_WARMUP (5), EDGESIGHT_ARM64_PIPELINE_FPS (files
# source rate, default 0.33: slow enough that emulation drops no frame as busy).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# exit 0 with what is skipped when the development folder is absent (a clone on its own)
arm64_require_shared || exit 0

PIPELINE=1 PER_INFERENCE=1 NODES=1 insn_args=()
for a in "$@"; do
  case "$a" in
    --pipeline-only) PER_INFERENCE=0 NODES=0 ;;
    --nodes-only) PER_INFERENCE=0 PIPELINE=0 ;;
    --no-pipeline) PIPELINE=0 ;;
    --no-nodes) NODES=0 ;;
    *) insn_args+=("$a") ;;
  esac
done

OUT="${EDGESIGHT_ARM64_OUT:-$ARM64_DIR/out}"
mkdir -p "$OUT"

bash "$ARM64_REPO/.ci/arm64/setup.sh"
[[ -f "$ARM64_REPO/dist/src/modeltools/convert.js" ]] || (cd "$ARM64_REPO" && npx tsc -p tsconfig.json)
arm64_sync_app
command -v qemu-aarch64 >/dev/null || arm64_die "qemu-aarch64 (package qemu-user) is missing"

# The faithful QDQ detectors come from the product's converter, via the x64 smoke run.
if [[ ! -f "$OUT/qdq-detector-int8.onnx" || ! -f "$OUT/qdq-detector-uint8.onnx" ]]; then
  node "$ARM64_REPO/.ci/arm64/smoke.mjs" --out "$OUT/smoke-x64.json" >/dev/null || arm64_die "x64 smoke (model conversion) failed"
fi

# The product's own int8 models (and the fp32 they are made from), quantized on this x64 host with the
# shipped calibration set, once per activation type; insn.mjs counts both on each CPU model.
OURS="$OUT/ours"
mkdir -p "$OURS"
# --pipeline-only reuses the models its per-inference counts (insn.json) were made with
if ((PER_INFERENCE)) || [[ ! -f "$OURS/cache-int8/ssdlite_mobilenet_v3_small_coco/int8.onnx" || ! -f "$OURS/cache-int8/lraspp_mobilenet_v3_small_voc/int8.onnx" ]]; then
for act in uint8 int8; do
  cache="$OURS/cache-$act"
  for m in ssdlite_mobilenet_v3_small_coco lraspp_mobilenet_v3_small_voc; do
    rm -f "$cache/$m/int8.json"
    (cd "$ARM64_REPO" && node dist/src/cli/main.js models quantize "$m" --config config/demo.yaml --cache "$cache" \
        --from "$ARM64_SHARED/models" --activations "$act" --offline > "$OURS/quantize-$m-$act.log" 2>&1) \
      || { tail -20 "$OURS/quantize-$m-$act.log" >&2; arm64_die "quantizing $m ($act activations) failed"; }
  done
  cp "$cache/ssdlite_mobilenet_v3_small_coco/int8.onnx" "$OURS/detector-int8-$act.onnx"
  cp "$cache/lraspp_mobilenet_v3_small_voc/int8.onnx" "$OURS/segmenter-int8-$act.onnx"
done
cp "$OURS/cache-uint8/ssdlite_mobilenet_v3_small_coco/fp32.onnx" "$OURS/detector-fp32.onnx"
fi

if ((PER_INFERENCE)); then
logs=()
for cpu in "${ARM64_CPUS[@]}"; do
  arm64_log "counting instructions under $cpu"
  t1=$SECONDS
  run_arm64_counted "$cpu" ci/insn.mjs --child --models "$OUT" --ours "$OURS" ${insn_args[@]+"${insn_args[@]}"} 2> "$OUT/insn-$cpu.log" \
    || { tail -20 "$OUT/insn-$cpu.log" >&2; arm64_die "counted run under $cpu failed"; }
  arm64_log "$cpu done in $((SECONDS - t1)) s (emulated wall time)"
  logs+=("$cpu=$OUT/insn-$cpu.log")
done
node "$ARM64_REPO/.ci/arm64/insn.mjs" --report "$OUT/insn.json" "${logs[@]}"
arm64_log "saved $OUT/insn.json"
# the int8 gate, on the counts just made
node "$ARM64_REPO/.ci/arm64/insn-gate.mjs" "$OUT/insn.json" || arm64_die "our int8 models are not cheaper than fp32 under emulation (insn-gate above)"
fi

# --- the XNNPACK reference: the same upstream int8 TFLite model, TFLite 2.9 + XNNPACK, 1 thread ---------
XNN="$ARM64_TOOLS/xnnpack-ref" XNN_OUT="$OUT/xnnpack.txt" XNN_MISSING=""
if ((PER_INFERENCE)); then
  rm -f "$XNN_OUT"
  if [[ ! -x "$XNN/measure.sh" ]]; then
    XNN_MISSING="no $XNN (set EDGESIGHT_SHARED_TOOLS)"
  elif ! (cd "$ARM64_REPO" && bash "$XNN/setup.sh" > "$OUT/xnnpack-setup.log" 2>&1); then
    XNN_MISSING="xnnpack-ref setup.sh failed: $(tail -1 "$OUT/xnnpack-setup.log")"
  else
    for cpu in "${ARM64_CPUS[@]}"; do
      arm64_log "XNNPACK reference under $cpu"
      (cd "$ARM64_REPO" && nice -n 10 bash "$XNN/measure.sh" "$ARM64_SHARED/models/upstream/ssd_mobilenet_v3_small_coco_int8.tflite" "$cpu" >> "$XNN_OUT" 2> "$OUT/xnnpack-$cpu.log") \
        || XNN_MISSING="xnnpack-ref measure.sh failed under $cpu: $(tail -1 "$OUT/xnnpack-$cpu.log")"
    done
  fi
  [[ -n "$XNN_MISSING" ]] && echo "$XNN_MISSING" > "$OUT/xnnpack.missing"
elif [[ -f "$OUT/xnnpack.missing" ]]; then
  XNN_MISSING="$(cat "$OUT/xnnpack.missing")"
fi

# --- per-node-group profile of the int8 models --------------------------------------------------------
if ((NODES)); then
  # each core profiles the models it prepares by default (`--activations auto`): uint8 activations on the
  # Cortex-A72 (no dot-product instructions), int8 on the A76; one profile (and report) per activation type
  default_act() { [[ $1 == cortex-a72 || $1 == cortex-a53 ]] && echo uint8 || echo int8; }
  for m in detector segmenter; do
    kind=det; [[ $m == segmenter ]] && kind=seg
    for act in uint8 int8; do
      cpus=()
      for cpu in "${ARM64_CPUS[@]}"; do [[ $(default_act "$cpu") == "$act" ]] && cpus+=("$cpu"); done
      ((${#cpus[@]})) || continue
      dir="$OUT/nodes-$m-$act"
      rm -rf "$dir"
      node "$ARM64_REPO/.ci/arm64/insn-nodes.mjs" --prepare "$OURS/$m-int8-$act.onnx" --kind "$kind" --out "$dir" \
        || arm64_die "cutting $m ($act activations) into node groups failed"
      nlogs=()
      for cpu in "${cpus[@]}"; do
        arm64_log "per-node profile of the $m ($act activations) under $cpu"
        t1=$SECONDS
        run_arm64_counted "$cpu" --single-threaded-gc ci/insn-nodes.mjs --child --dir "$dir" --optimized "$dir/opt-$cpu" 2> "$OUT/nodes-$m-$act-$cpu.log" \
          || { tail -20 "$OUT/nodes-$m-$act-$cpu.log" >&2; arm64_die "per-node profile of the $m under $cpu failed"; }
        arm64_log "$cpu done in $((SECONDS - t1)) s (emulated wall time)"
        nlogs+=("$cpu=$OUT/nodes-$m-$act-$cpu.log=$dir/opt-$cpu")
      done
      node "$ARM64_REPO/.ci/arm64/insn-nodes.mjs" --report "$OUT/nodes-$m-$act.json" --dir "$dir" "${nlogs[@]}" \
        || arm64_log "WARNING: the $m's per-node profile ($act activations) does not add up to the whole (see above)"
    done
  done
fi

if ((PIPELINE)); then
  [[ -f "$OUT/insn.json" ]] || arm64_die "no $OUT/insn.json for the pipeline ratios: run bench.sh without --pipeline-only first"
  plogs=()
  for cpu in "${ARM64_CPUS[@]}"; do
    arm64_log "counting instructions per pipeline frame under $cpu"
    t1=$SECONDS
    # the int8 models the daemon picks for that core (--activations auto: uint8 on the A72, int8 on the A76)
    run_arm64_counted "$cpu" ci/insn-pipeline.mjs --child --config "$ARM64_REPO/config/demo.yaml" --cache "$OURS/cache-int8" \
        --photos "$ARM64_REPO/config/demo-photos" --every 0,5 --raw-camera "$ARM64_REPO/test/fixtures/bin/rpicam-vid" --frames "${EDGESIGHT_ARM64_PIPELINE_FRAMES:-20}" \
        --warmup "${EDGESIGHT_ARM64_PIPELINE_WARMUP:-5}" --fps "${EDGESIGHT_ARM64_PIPELINE_FPS:-0.33}" 2> "$OUT/insn-pipeline-$cpu.log" \
      || { tail -20 "$OUT/insn-pipeline-$cpu.log" >&2; arm64_die "counted pipeline run under $cpu failed"; }
    arm64_log "$cpu done in $((SECONDS - t1)) s (emulated wall time)"
    plogs+=("$cpu=$OUT/insn-pipeline-$cpu.log")
  done
  node "$ARM64_REPO/.ci/arm64/insn-pipeline.mjs" --report "$OUT/insn-pipeline.json" --insn "$OUT/insn.json" "${plogs[@]}"
  arm64_log "saved $OUT/insn-pipeline.json (and its pipeline section in $OUT/insn.json)"
fi

node "$ARM64_REPO/.ci/arm64/insn-lines.mjs" --insn "$OUT/insn.json" --xnnpack "$XNN_OUT" ${XNN_MISSING:+--xnnpack-missing "$XNN_MISSING"} \
  --pipeline "$OUT/insn-pipeline.json"
