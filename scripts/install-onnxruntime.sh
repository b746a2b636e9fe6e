#!/usr/bin/env bash
# Installs the pinned ONNX Runtime wheel for the composite action (action.yml, step "Install
# ONNX Runtime") and writes the library's path to $GITHUB_OUTPUT as `path`; the gate step passes
# it to modelgate as ORT_DYLIB_PATH. (An output, not $GITHUB_ENV, so no later step of the job
# inherits an environment this step chose.)
#
# The wheel is trusted by content only: pip runs with --require-hashes against
# onnxruntime-1.31.1.txt beside this script, whose digests are the ones src/engine/ortlib.rs pins (a
# unit test keeps the two equal). The wheel is kept in $MG_ORT_DIR/wheels, which actions/cache
# restores in later jobs; any job of the repository can write that cache, so a restored wheel is
# checked against the digests again before it is unpacked, and the library is unpacked afresh
# each time rather than trusted from the cache.
#
# Environment: MG_PROVIDER (cpu, cuda or tensorrt), MG_ORT_DIR (a folder the job may write),
# GITHUB_OUTPUT; ORT_DYLIB_PATH, when it names a file, wins and nothing is installed.
set -euo pipefail

# A runner that already has ONNX Runtime (a self-hosted GPU machine) keeps its own.
if [[ -n "${ORT_DYLIB_PATH:-}" && -f "$ORT_DYLIB_PATH" ]]; then
    echo "Using ONNX Runtime from ORT_DYLIB_PATH=$ORT_DYLIB_PATH"
    echo "path=$ORT_DYLIB_PATH" >>"$GITHUB_OUTPUT"
    exit 0
fi
ort_version=1.31.1
package=onnxruntime
if [[ "$MG_PROVIDER" != cpu ]]; then
    package=onnxruntime-gpu
fi
pinned="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/onnxruntime-$ort_version.txt"
if ! command -v python3 >/dev/null 2>&1; then
    echo "::error title=modelgate install::python3 with pip is needed to install $package==$ort_version; or set ORT_DYLIB_PATH to an ONNX Runtime $ort_version library"
    exit 2
fi

work="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/modelgate-ort.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# Only the line for this package, so pip installs nothing else.
if ! grep -E "^$package==$ort_version " "$pinned" >"$work/requirements.txt"; then
    echo "::error title=modelgate install::$pinned has no line for $package==$ort_version"
    exit 2
fi

# Only the shared library is used, so: no dependencies, a fixed wheel whatever the runner's
# Python (--python-version), and --target so no system or user site changes.
pip_args=(--disable-pip-version-check --no-input --no-deps --only-binary=:all: --python-version 3.12 --require-hashes -r "$work/requirements.txt")
wheels="$MG_ORT_DIR/wheels"
mkdir -p "$wheels"
# 1. Into the cached folder: pip keeps a copy already there only when its hash is pinned, and
#    downloads it again otherwise.
if ! python3 -m pip download --quiet "${pip_args[@]}" --dest "$wheels"; then
    echo "::error title=modelgate install::downloading $package==$ort_version failed, or the wheel the package index served does not have a SHA-256 pinned in $pinned (pip's message is above)"
    exit 2
fi
# 2. From that folder only, offline, checking the hash again: the wheel installed is the one
#    just checked, not whatever else the folder holds.
installed="$MG_ORT_DIR/installed"
rm -rf "$installed"
if ! python3 -m pip install --quiet --no-index --find-links "$wheels" "${pip_args[@]}" --target "$installed"; then
    echo "::error title=modelgate install::installing $package==$ort_version from $wheels failed its SHA-256 check against $pinned (pip's message is above)"
    exit 2
fi

lib=""
for candidate in "$installed/onnxruntime/capi/libonnxruntime.so.$ort_version" \
    "$installed/onnxruntime/capi/libonnxruntime.$ort_version.dylib"; do
    if [[ -f "$candidate" ]]; then
        lib="$candidate"
        break
    fi
done
if [[ -z "$lib" ]]; then
    echo "::error title=modelgate install::$package==$ort_version installed no ONNX Runtime library under $installed/onnxruntime/capi"
    exit 2
fi
echo "path=$lib" >>"$GITHUB_OUTPUT"
echo "Installed $package==$ort_version (SHA-256 checked against $pinned): $lib"
