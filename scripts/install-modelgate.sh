#!/usr/bin/env bash
# Installs the modelgate binary for the composite action (action.yml).
#
# First choice: the prebuilt release asset for this platform,
#   modelgate-<version>-<target>.tar.gz with modelgate-<version>-<target>.tar.gz.sha256 beside it,
# from the GitHub release <version> of the action's repository, checked with sha256sum -c.
# Otherwise it builds from source with cargo: from the action's own checkout when the wanted
# version is the action's own ref (the reliable fallback), else from the repository at that ref.
#
# Environment (set by action.yml; every value arrives through env, never pasted into the script):
#   MODELGATE_INSTALL_DIR  where bin/modelgate goes (required)
#   MODELGATE_VERSION      the `version` input: a release tag, branch or commit; empty means the
#                          action's own ref
#   ACTION_REPOSITORY      github.action_repository (owner/name); may be empty, see below
#   ACTION_REF             github.action_ref; may be empty, see below
#   ACTION_PATH            github.action_path: the action's checkout
#   GITHUB_SERVER_URL      https://github.com unless on GitHub Enterprise
#   GITHUB_PATH            when set, the bin folder is added to it for the job's later steps
#   GITHUB_OUTPUT          when set, the binary's path is written to it as `path`
set -euo pipefail

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
# The version lands in a URL and in cargo's arguments: allow ref characters only, and no
# leading dash that a program could read as an option.
if [[ -n "$version" && ! "$version" =~ ^[A-Za-z0-9_.+][A-Za-z0-9_.+/-]*$ ]]; then
    echo "::error title=modelgate version::'$version' is not a tag, branch or commit name (letters, digits, . _ + / -)" >&2
    exit 2
fi

bin_dir="$MODELGATE_INSTALL_DIR/bin"
mkdir -p "$bin_dir"
work="$(mktemp -d "${RUNNER_TEMP:-/tmp}/modelgate-install.XXXXXX")"
trap 'rm -rf "$work"' EXIT

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

sha256_check() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum --check --strict "$@"
    else
        shasum --algorithm 256 --check --strict "$@"
    fi
}

# Downloads and verifies the release asset and sets installed=true; leaves it false when there
# is none to use. Called as a plain command, not in a condition, so that set -e holds inside.
installed=false
install_release() {
    local target asset base status=0 expected
    target="$(target_triple)"
    if [[ -z "$repo" || -z "$version" || -z "$target" ]]; then
        return 0
    fi
    asset="modelgate-${version}-${target}.tar.gz"
    base="${server}/${repo}/releases/download/${version}"
    fetch "$base/$asset" "$work/$asset" || status=$?
    if [[ "$status" -ne 0 ]]; then
        echo "No release asset $asset for $repo $version; building from source." >&2
        return 0
    fi
    # A binary that was published without its checksum, or whose checksum does not match,
    # is refused outright rather than replaced by a build: either means the release is broken
    # or tampered with, and someone should look.
    if ! fetch "$base/$asset.sha256" "$work/$asset.sha256"; then
        echo "::error title=modelgate install::$asset is published without $asset.sha256; refusing an unverified binary. Pin \`version\` to a commit to build from source instead." >&2
        exit 2
    fi
    expected="$(awk 'NR == 1 { print tolower($1) }' "$work/$asset.sha256")"
    if [[ ! "$expected" =~ ^[0-9a-f]{64}$ ]]; then
        echo "::error title=modelgate install::$asset.sha256 does not hold a SHA-256 digest" >&2
        exit 2
    fi
    printf '%s  %s\n' "$expected" "$asset" >"$work/check.sha256"
    if ! (cd "$work" && sha256_check check.sha256); then
        echo "::error title=modelgate install::$asset does not match $asset.sha256; refusing it" >&2
        exit 2
    fi
    mkdir -p "$work/unpacked"
    tar -xzf "$work/$asset" -C "$work/unpacked"
    local found
    found="$(find "$work/unpacked" -type f -name modelgate -print -quit)"
    if [[ -z "$found" ]]; then
        echo "::error title=modelgate install::$asset holds no modelgate binary" >&2
        exit 2
    fi
    install -m 0755 "$found" "$bin_dir/modelgate"
    installed=true
    echo "Installed modelgate $version from the release asset $asset (SHA-256 $expected)." >&2
}

install_from_source() {
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
    if ! cargo install --locked --root "$MODELGATE_INSTALL_DIR" "${source[@]}"; then
        echo "::error title=modelgate install::building modelgate with cargo failed (its message is above); set \`version\` to a release tag to use a prebuilt binary" >&2
        exit 2
    fi
}

install_release
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
