# Shared settings for the ARM64 emulation check; sourced by setup.sh, run.sh and bench.sh.
# Everything lives under one cache folder so the x64 install in the repo is never touched.

ARM64_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ARM64_DIR="${EDGESIGHT_ARM64_DIR:-$ARM64_REPO/.cache/arm64}"
# The arm64 copy of the project: package files, node_modules built for arm64, dist/ and these scripts.
ARM64_APP="$ARM64_DIR/app"
ARM64_NODE_DIR="$ARM64_DIR/node"
ARM64_NODE="$ARM64_NODE_DIR/bin/node"
ARM64_PLUGIN="$ARM64_DIR/libinsn.so"
ARM64_SHARED="${EDGESIGHT_SHARED:-$(cd "$ARM64_REPO/.." && pwd)/shared}"
# The measuring tools (arm-insn plugin, xnnpack-ref harness); overridable on their own because a
# developer checkout may keep them elsewhere than beside the data.
ARM64_TOOLS="${EDGESIGHT_SHARED_TOOLS:-$ARM64_SHARED/tools}"
# The CPU models of the boards the product targets: Pi 4 and Pi 5.
ARM64_CPUS=(${EDGESIGHT_ARM64_CPUS:-cortex-a72 cortex-a76})

# The check reads development material that is not in the repository: the qemu instruction-counting
# plugin (tools/arm-insn), the float reference detector and its fixtures (models/reference), the
# upstream model folders and photos. Without that folder it stops at once and says what it skips.
arm64_require_shared() {
  local missing=()
  for need in tools/arm-insn/insn.c models/reference/fixtures models/reference/ssdlite_mobilenet_v3_small_320_coco_fp32.onnx data/photos; do
    [[ -e "$ARM64_SHARED/$need" ]] || missing+=("$need")
  done
  if ((${#missing[@]})); then
    printf '[arm64] SKIPPED: the ARM64 check needs the development folder %s (set EDGESIGHT_SHARED=DIR); missing: %s.\n' "$ARM64_SHARED" "${missing[*]}" >&2
    printf '[arm64] Not run: arm64 smoke/detect/segment/MQTT runs under qemu (Cortex-A72, A76) and the instruction counts.\n' >&2
    return 1
  fi
}

arm64_log() { printf '[arm64 %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
arm64_die() { printf '[arm64] ERROR: %s\n' "$*" >&2; exit 1; }

# Copies the compiled project and the check scripts into the arm64 app folder, so the arm64 Node
# resolves every import (onnxruntime-node, sharp, …) from the arm64 node_modules, never from the x64 one.
# A symlinked dist/ would resolve to its real path and pick up the x64 node_modules.
arm64_sync_app() {
  [[ -d "$ARM64_REPO/dist" ]] || arm64_die "no $ARM64_REPO/dist: build the project first (npx tsc -p tsconfig.json)"
  rm -rf "$ARM64_APP/dist" "$ARM64_APP/ci" "$ARM64_APP/models" "$ARM64_APP/config"
  cp -a "$ARM64_REPO/dist" "$ARM64_APP/dist"
  # the package's data as it ships beside dist/: model sources, prepared models, labels, calibration, demo
  cp -a "$ARM64_REPO/models" "$ARM64_APP/models"
  cp -a "$ARM64_REPO/config" "$ARM64_APP/config"
  mkdir -p "$ARM64_APP/ci"
  cp -a "$ARM64_REPO"/.ci/arm64/*.mjs "$ARM64_APP/ci/"
}

# qemu-user 7.2 shows the guest the host's x86 /proc/cpuinfo, on which onnxruntime's cpuinfo library
# crashes (SIGSEGV when loading the binding). Each run gets an ARM /proc/cpuinfo for its CPU model,
# bind-mounted in a private mount namespace (see cpuinfo.mjs); the host's /proc is untouched.
arm64_cpuinfo() {
  local cpu="$1" f="$ARM64_DIR/cpuinfo.$1"
  if [[ ! -s "$f" || "$ARM64_APP/ci/cpuinfo.mjs" -nt "$f" ]]; then
    (cd "$ARM64_APP" && QEMU_CPU="$cpu" "$ARM64_NODE" ci/cpuinfo.mjs > "$f.tmp") || arm64_die "cpuinfo.mjs failed for $cpu"
    mv "$f.tmp" "$f"
  fi
  printf '%s' "$f"
}
# The command prefix that runs the arm64 node for <cpu> in the private mount namespace: unshare and
# sh exec into the node, so its PID is the one to signal (`(cd "$ARM64_APP" && exec "${cmd[@]}" …) &`).
arm64_cmd() { # <cpu> <array name>
  local cpu="$1" cpuinfo; cpuinfo="$(arm64_cpuinfo "$cpu")"
  local -n _cmd="$2"
  _cmd=(env QEMU_CPU="$cpu" EDGESIGHT_SHARED="$ARM64_SHARED"
        unshare --mount --propagation private sh -c 'mount --bind "$0" /proc/cpuinfo && exec "$@"' "$cpuinfo")
}

# run_arm64 <cpu> <node args...>: runs the arm64 Node under qemu with the given CPU model, in the
# arm64 app folder. Goes through binfmt (as a board would exec it), so arm64 child processes work too.
run_arm64() {
  local cpu="$1"; shift
  local cmd; arm64_cmd "$cpu" cmd
  (cd "$ARM64_APP" && exec "${cmd[@]}" "$ARM64_NODE" "$@")
}

# run_arm64_counted <cpu> <node args...>: the same under the dynamic qemu-aarch64 with the
# instruction-counting plugin (the static build cannot load plugins). Child processes are not counted.
run_arm64_counted() {
  local cpu="$1"; shift
  local cmd; arm64_cmd "$cpu" cmd
  (cd "$ARM64_APP" && exec "${cmd[@]}" qemu-aarch64 -cpu "$cpu" -plugin "$ARM64_PLUGIN" "$ARM64_NODE" "$@")
}
