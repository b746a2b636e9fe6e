#!/usr/bin/env bash
# Installs the modelgate binary for the composite action (action.yml).
#
# A release (a version vX.Y.Z whose sums are committed in the action's own checkout as
# releases/<version>.sha256, see docs/releasing.md; an action pinned by commit is the release
# its checkout's Cargo.toml names, when that release's sums are committed in it): the asset modelgate-<version>-<target>.tar.gz
# is downloaded from the GitHub release <version> of the action's repository and checked against
# the committed digest. The digest never comes from the release itself: whoever can replace an
# asset can replace a checksum file beside it, but not the action's checkout, which the caller
# pinned by tag or commit. A mismatch stops the install; it never falls back to a build, which
# would hide the tampering.
# Anything else (a branch or commit, or a platform without a release build): a build from source
# with cargo, from the action's own checkout when the wanted version is the action's own ref,
# else from the repository at that ref.
#
# Only verified release archives are cached (action.yml restores the install folder's
# `archives/` with actions/cache, keyed on what `--cache-key` prints). A cache entry can be
# written by any job of the repository, a job that parsed a pull request's models included, so
# nothing in it is trusted by name: `bin/` is emptied before every install, a cached archive is
# checked against the committed digest again, and source builds are never cached (their key
# would be computable from public source, and a poisoned entry would run with the next job's
# token).
#
# Usage: install-modelgate.sh              install, and write `path` to GITHUB_OUTPUT
#        install-modelgate.sh --cache-key  write `key` to GITHUB_OUTPUT: the cache key for this
#                                          install, empty when it should not be cached; never fails
#
# Environment (set by action.yml; every value arrives through env, never pasted into the script):
#   MODELGATE_INSTALL_DIR  where bin/modelgate goes (required); also the cached folder
#   MODELGATE_VERSION      the `version` input: a release tag, branch or commit; empty means the
#                          action's own ref
#   ACTION_REPOSITORY      github.action_repository (owner/name); may be empty, see below
#   ACTION_REF             github.action_ref; may be empty, see below
#   ACTION_PATH            github.action_path: the action's checkout
#   GITHUB_SERVER_URL      https://github.com unless on GitHub Enterprise
#   GITHUB_PATH            when set, the bin folder is added to it for the job's later steps
#   GITHUB_OUTPUT          when set, the binary's path (or the cache key) is written to it
set -euo pipefail

mode=install
case "${1:-}" in
"") ;;
--cache-key) mode=cache-key ;;
*)
    echo "usage: install-modelgate.sh [--cache-key]" >&2
    exit 2
    ;;
esac

# In --cache-key mode every doubt means "do not cache": the install step that follows reports
# the problem properly.
no_cache() {
    if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
        echo "key=" >>"$GITHUB_OUTPUT"
    fi
    exit 0
}

if [[ "$mode" == cache-key && (-z "${MODELGATE_INSTALL_DIR:-}" || -z "${ACTION_PATH:-}") ]]; then
    no_cache
fi
: "${MODELGATE_INSTALL_DIR:?MODELGATE_INSTALL_DIR must name the install folder}"
: "${ACTION_PATH:?ACTION_PATH must name the action checkout}"
server="${GITHUB_SERVER_URL:-https://github.com}"
repo="${ACTION_REPOSITORY:-}"
ref="${ACTION_REF:-}"

# github.action_repository and github.action_ref are not promised inside composite actions
# (actions/runner#2473). The runner keeps a downloaded action at _actions/OWNER/NAME/REF, so
# read them from the path when they are missing. A local action (`uses: ./`) has neither.
if [[ -z "$repo" || -z "$ref" ]] &&
    [[ "$ACTION_PATH" =~ /_actions/([^/]+)/([^/]+)/([^/]+)/?$ ]]; then
    repo="${repo:-${BASH_REMATCH[1]}/${BASH_REMATCH[2]}}"
    ref="${ref:-${BASH_REMATCH[3]}}"
fi

version="${MODELGATE_VERSION:-$ref}"

# Pinned by commit: the action's checkout names its version in Cargo.toml, and when that
# release's sums are committed in the same checkout, the release is what gets installed. Only
# for a downloaded action (a local `uses: ./` builds its own working tree) using its own ref.
if [[ -n "$ref" && (-z "${MODELGATE_VERSION:-}" || "${MODELGATE_VERSION:-}" == "$ref") &&
    ! "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ && -f "$ACTION_PATH/Cargo.toml" ]]; then
    package_version="$(awk -F'"' '/^\[/ { in_package = ($0 == "[package]") } in_package && /^version *=/ { print $2; exit }' "$ACTION_PATH/Cargo.toml")"
    if [[ "$package_version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ && -f "$ACTION_PATH/releases/v${package_version}.sha256" ]]; then
        echo "The action's checkout at $ref is modelgate $package_version, whose release sums it commits: installing release v$package_version." >&2
        version="v$package_version"
    fi
fi
# The version lands in a URL, a file name and cargo's arguments: allow ref characters only, and
# no leading dash that a program could read as an option.
if [[ -n "$version" && ! "$version" =~ ^[A-Za-z0-9_.+][A-Za-z0-9_.+/-]*$ ]]; then
    if [[ "$mode" == cache-key ]]; then
        no_cache
    fi
    echo "::error title=modelgate version::'$version' is not a tag, branch or commit name (letters, digits, . _ + / -)" >&2
    exit 2
fi

bin_dir="$MODELGATE_INSTALL_DIR/bin"
archive_dir="$MODELGATE_INSTALL_DIR/archives"

# The Rust target triple of this runner, for the release asset's name; empty where no
# release asset is built.
target_triple() {
    case "$(uname -s)/$(uname -m)" in
    Linux/x86_64) echo x86_64-unknown-linux-gnu ;;
    Linux/aarch64 | Linux/arm64) echo aarch64-unknown-linux-gnu ;;
    Darwin/arm64) echo aarch64-apple-darwin ;;
    Darwin/x86_64) echo x86_64-apple-darwin ;;
    *) echo "" ;;
    esac
}

# sha256_of FILE...: `DIGEST  NAME` lines, with sha256sum (Linux) or shasum (macOS).
sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$@"
    else
        shasum --algorithm 256 "$@"
    fi
}

digest_of() {
    sha256_of "$1" | awk '{ print tolower($1) }'
}

target="$(target_triple)"
asset="modelgate-${version}-${target}.tar.gz"

# The committed digest of this runner's asset, or empty when there is none: the version is not
# a release (release.yml only makes vX.Y.Z), its sums are not in the action's checkout, or they
# list no build for this target. A listed line that is not a digest is an error, not "none".
committed_digest() {
    local sums="$ACTION_PATH/releases/${version}.sha256" line
    if [[ -z "$target" || ! "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ || ! -f "$sums" ]]; then
        return 0
    fi
    # sha256sum writes `DIGEST  NAME`, or `DIGEST *NAME` in binary mode.
    line="$(awk -v asset="$asset" '$2 == asset || $2 == "*" asset { print tolower($1); exit }' "$sums")"
    if [[ -n "$line" && ! "$line" =~ ^[0-9a-f]{64}$ ]]; then
        echo "::error title=modelgate install::releases/${version}.sha256 in the action's checkout lists $asset without a SHA-256 digest" >&2
        exit 2
    fi
    echo "$line"
}

if [[ "$mode" == cache-key ]]; then
    expected="$(committed_digest 2>/dev/null)" || no_cache
    key=""
    if [[ -n "$expected" ]]; then
        key="modelgate-bin-${target}-${version}-${expected}"
    fi
    echo "Cache key for the modelgate install: ${key:-none (not cached)}" >&2
    if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
        echo "key=$key" >>"$GITHUB_OUTPUT"
    fi
    exit 0
fi

# Whatever a restored cache or an earlier step left in bin/ is not trusted: the folder goes on
# PATH, so it must hold only the binary installed now.
rm -rf "$bin_dir"
mkdir -p "$bin_dir"
work="$(mktemp -d "${RUNNER_TEMP:-/tmp}/modelgate-install.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# fetch URL FILE: 0 when downloaded, 1 when the server says 404 (no such asset), 2 on any
# other failure (network, 5xx), so a caller can tell "not released" from "could not ask".
fetch() {
    local code
    code="$(curl --silent --show-error --location --retry 3 --retry-connrefused \
        --connect-timeout 20 --max-time 600 --output "$2" --write-out '%{http_code}' "$1")" || code="${code:-000}"
    case "$code" in
    200) return 0 ;;
    404) return 1 ;;
    *)
        echo "::warning title=modelgate install::downloading $1 failed (HTTP $code)" >&2
        return 2
        ;;
    esac
}

# Installs the release asset checked against the committed digest $1 and sets installed=true;
# leaves it false when the asset cannot be downloaded. Called as a plain command, not in a
# condition, so that set -e holds inside.
installed=false
install_release() {
    local expected="$1" cached="$archive_dir/$asset" actual status=0
    if [[ -f "$cached" ]]; then
        actual="$(digest_of "$cached")"
        if [[ "$actual" == "$expected" ]]; then
            echo "Re-verified the cached $asset against releases/${version}.sha256." >&2
        else
            echo "::warning title=modelgate install::the cached $asset has SHA-256 $actual, not the committed $expected; discarding it and downloading the release asset. Delete this cache entry." >&2
            rm -f "$cached"
        fi
    fi
    if [[ ! -f "$cached" ]]; then
        if [[ -z "$repo" ]]; then
            echo "::warning title=modelgate install::the action's repository is unknown here, so its release $version cannot be downloaded; building from source" >&2
            return 0
        fi
        fetch "${server}/${repo}/releases/download/${version}/${asset}" "$work/$asset" || status=$?
        if [[ "$status" -ne 0 ]]; then
            # The committed sums say this release exists, so a missing asset is worth a warning;
            # a build from the action's trusted source is still safe.
            echo "::warning title=modelgate install::the release asset $asset of $repo $version could not be downloaded; building from source, which takes several minutes" >&2
            return 0
        fi
        actual="$(digest_of "$work/$asset")"
        if [[ "$actual" != "$expected" ]]; then
            echo "::error title=modelgate install::the downloaded $asset has SHA-256 $actual, but releases/${version}.sha256 in the action's checkout commits $expected; refusing it" >&2
            exit 2
        fi
        mkdir -p "$archive_dir"
        mv "$work/$asset" "$cached"
    fi
    mkdir -p "$work/unpacked"
    tar -xzf "$cached" -C "$work/unpacked"
    local found
    found="$(find "$work/unpacked" -type f -name modelgate -print -quit)"
    if [[ -z "$found" ]]; then
        echo "::error title=modelgate install::$asset holds no modelgate binary" >&2
        exit 2
    fi
    install -m 0755 "$found" "$bin_dir/modelgate"
    installed=true
    echo "Installed modelgate $version from the release asset $asset (SHA-256 $expected, as committed in releases/${version}.sha256)." >&2
}

install_from_source() {
    echo "no release of ${version:-this ref}${target:+ for $target}; building from source, which takes several minutes" >&2
    if ! command -v cargo >/dev/null 2>&1; then
        echo "::error title=modelgate install::no release binary for '${version:-this ref}' on this runner and no cargo to build one. Add dtolnay/rust-toolchain@stable before this action, or set \`version\` to a release tag." >&2
        exit 2
    fi
    # Keep the build out of the action's checkout and the caller's workspace.
    export CARGO_TARGET_DIR="$work/target"
    local -a source
    if [[ -f "$ACTION_PATH/Cargo.toml" && (-z "${MODELGATE_VERSION:-}" || "${MODELGATE_VERSION:-}" == "$ref") ]]; then
        source=(--path "$ACTION_PATH")
        echo "Building modelgate from the action's checkout ($ACTION_PATH)." >&2
    elif [[ -n "$repo" && -n "$version" ]]; then
        source=(--git "${server}/${repo}" --rev "$version" modelgate)
        echo "Building modelgate from ${server}/${repo} at $version." >&2
    else
        echo "::error title=modelgate install::cannot tell where to build modelgate '$version' from: the action's repository is unknown here (a local \`uses: ./\` action builds only its own checkout; leave \`version\` empty)." >&2
        exit 2
    fi
    # JPEG decoding as release binaries do it, with libjpeg-turbo's SIMD (about twice as fast;
    # the same pixels): on x86_64 it needs nasm, installed here where apt can (GitHub's Ubuntu
    # runners). Without it the build decodes with libjpeg-turbo's C code and says so.
    local -a features=()
    if [[ "$(uname -m)" == x86_64 ]]; then
        if ! command -v nasm >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then
            sudo apt-get install -y --no-install-recommends nasm >/dev/null 2>&1 || true
        fi
        if command -v nasm >/dev/null 2>&1; then
            features=(--features jpeg-simd)
            echo "Building with libjpeg-turbo's SIMD ($(nasm -v 2>/dev/null))." >&2
        else
            echo "::notice title=modelgate install::nasm is not available, so this build decodes JPEG without libjpeg-turbo's SIMD (about half as fast, the same pixels); install nasm before the action for the fast path" >&2
        fi
    fi
    # (The guarded expansion keeps an empty array from tripping `set -u` in bash 3.)
    if ! cargo install --locked --force --root "$work/root" ${features[@]+"${features[@]}"} "${source[@]}"; then
        echo "::error title=modelgate install::building modelgate with cargo failed (its message is above); set \`version\` to a release tag to use a prebuilt binary" >&2
        exit 2
    fi
    install -m 0755 "$work/root/bin/modelgate" "$bin_dir/modelgate"
}

expected="$(committed_digest)"
if [[ -n "$expected" ]]; then
    install_release "$expected"
fi
if [[ "$installed" == false ]]; then
    install_from_source
fi

"$bin_dir/modelgate" --version
if [[ -n "${GITHUB_PATH:-}" ]]; then
    echo "$bin_dir" >>"$GITHUB_PATH"
fi
if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
    echo "path=$bin_dir/modelgate" >>"$GITHUB_OUTPUT"
fi
