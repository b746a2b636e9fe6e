#!/usr/bin/env bash
# Builds the pip wheel that carries the modelgate binary (pyproject.toml: maturin with
# `bindings = "bin"`), so `pip install modelgate` needs no Rust toolchain. maturin is installed
# from scripts/wheel-tools.txt (pinned by SHA-256) into a new virtual environment of its own under
# the target folder on every run, so no earlier install is trusted.
#
# Usage: scripts/build-wheel.sh [--target TRIPLE] [--features LIST] [--out DIR]
#        (defaults: this machine, no features, dist/wheels)
# Then: python3 -m venv v && v/bin/pip install DIR/modelgate-*.whl && v/bin/modelgate --version
set -euo pipefail

target=""
features=""
out="dist/wheels"
while [[ $# -gt 0 ]]; do
    case "$1" in
    --target) target="$2"; shift 2 ;;
    --features) features="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *)
        echo "usage: build-wheel.sh [--target TRIPLE] [--features LIST] [--out DIR]" >&2
        exit 2
        ;;
    esac
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="target/maturin"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
    --no-deps --only-binary=:all: -r scripts/wheel-tools.txt
args=(build --release --locked --out "$out")
if [[ -n "$target" ]]; then
    args+=(--target "$target")
fi
if [[ -n "$features" ]]; then
    args+=(--features "$features")
fi
"$venv/bin/maturin" "${args[@]}"
ls -l "$out"/*.whl
