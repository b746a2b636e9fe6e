#!/usr/bin/env bash
# Usage: scripts/install_timing.sh [MODELGATE_BINARY]   (default target/release/modelgate)
#
# Times the action's two installers on this machine: modelgate from a release served on
# 127.0.0.1 (cold: empty install folder; warm: the cached archive re-verified), and ONNX Runtime
# from the package registry (cold: no wheel; warm: the cached wheel).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="${1:-$repo/target/release/modelgate}"
w=$(mktemp -d)
version=v9.9.9
target=x86_64-unknown-linux-gnu
asset="modelgate-$version-$target.tar.gz"
mkdir -p "$w/srv/o/modelgate/releases/download/$version" "$w/pkg" "$w/action/scripts" "$w/action/releases"
cp "$binary" "$w/pkg/modelgate"
tar -czf "$w/srv/o/modelgate/releases/download/$version/$asset" -C "$w/pkg" modelgate
(cd "$w/srv/o/modelgate/releases/download/$version" && sha256sum "$asset") >"$w/action/releases/$version.sha256"
cp "$repo/scripts/install-modelgate.sh" "$w/action/scripts/"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$w/srv" >/dev/null 2>&1 &
srv=$!
trap 'kill "$srv" 2>/dev/null; rm -rf "$w"' EXIT
sleep 1
inst() {
  MODELGATE_INSTALL_DIR="$w/install" MODELGATE_VERSION=$version ACTION_REPOSITORY=o/modelgate \
  ACTION_REF=$version ACTION_PATH="$w/action" GITHUB_SERVER_URL="http://127.0.0.1:$port" \
  RUNNER_TEMP="$w" bash "$w/action/scripts/install-modelgate.sh" >"$w/log" 2>&1 || {
    cat "$w/log" >&2
    exit 1
  }
  # The release, not a source build.
  grep -q "from the release asset\|from the cached" "$w/log" || {
    cat "$w/log" >&2
    exit 1
  }
}
t() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); python3 -c "print(f'{$e-$s:.2f}')"; }
echo "archive $(du -h "$w/srv/o/modelgate/releases/download/$version/$asset" | cut -f1)"
for _ in 1 2 3; do
  rm -rf "$w/install"
  echo "modelgate cold: $(t inst)"
  echo "modelgate warm: $(t inst)"
done
ort() { PIP_NO_CACHE_DIR=1 MG_PROVIDER=cpu MG_ORT_DIR="$w/ort" GITHUB_OUTPUT="$w/out" RUNNER_TEMP="$w" env -u ORT_DYLIB_PATH bash "$repo/scripts/install-onnxruntime.sh" >"$w/log" 2>&1 || {
  cat "$w/log" >&2
  exit 1
}; }
for _ in 1 2 3; do
  rm -rf "$w/ort"
  echo "onnxruntime cold: $(t ort)"
  # A later job: only the cached wheels folder is restored.
  find "$w/ort" -maxdepth 1 -mindepth 1 ! -name wheels -exec rm -rf {} +
  echo "onnxruntime warm (wheel cached): $(t ort)"
done
