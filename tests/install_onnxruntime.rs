//! scripts/install-onnxruntime.sh, the action's "Install ONNX Runtime" step, refuses a wheel
//! whose bytes are not the pinned ones: one a package index serves, and one a restored cache
//! holds under the right name. pip runs offline here (`PIP_NO_INDEX`), reading wheels only from
//! a folder the test fills, so no test needs the network.

use crate::support;

use std::path::Path;
use std::process::{Command, Output};

use sha2::Digest;
use support::root;

/// The wheel pip would pick on this machine, as named in the pinned table.
fn wheel_name() -> String {
    let platform = match (std::env::consts::OS, std::env::consts::ARCH) {
        ("macos", _) => "macosx_14_0_arm64",
        (_, "aarch64") => "manylinux_2_28_aarch64",
        _ => "manylinux_2_28_x86_64",
    };
    format!("onnxruntime-1.31.1-cp312-cp312-{platform}.whl")
}

/// Runs the script as the step does, offline, with `links` as pip's only source of wheels.
fn install(dir: &Path, links: &Path, extra_env: &[(&str, &str)]) -> Output {
    let mut command = Command::new("bash");
    command
        .arg(root().join("scripts/install-onnxruntime.sh"))
        .env_remove("ORT_DYLIB_PATH")
        .env("MG_PROVIDER", "cpu")
        .env("MG_ORT_DIR", dir.join("ort"))
        .env("GITHUB_OUTPUT", dir.join("github_output"))
        .env("RUNNER_TEMP", dir)
        .env("PIP_NO_INDEX", "1")
        .env("PIP_FIND_LINKS", links)
        .env("PIP_CONFIG_FILE", "/dev/null");
    for (key, value) in extra_env {
        command.env(key, value);
    }
    command.output().expect("run bash")
}

fn exported(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("github_output")).unwrap_or_default()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn wheel_served_with_other_bytes_fails_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let links = dir.path().join("index");
    std::fs::create_dir(&links).unwrap();
    std::fs::write(links.join(wheel_name()), b"not the pinned wheel").unwrap();

    let output = install(dir.path(), &links, &[]);
    let log = text(&output);
    assert_eq!(output.status.code(), Some(2), "{log}");
    assert!(log.contains("::error title=modelgate install::"), "{log}");
    assert!(log.contains("onnxruntime-1.31.1.txt"), "{log}");
    // Refused for its digest, which pip prints, not for want of a wheel.
    let digest: String = sha2::Sha256::digest(b"not the pinned wheel")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(log.contains(&digest), "{log}");
    assert!(!exported(dir.path()).contains("path="));
}

#[test]
fn cached_wheel_with_other_bytes_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    // What actions/cache restored: the right name, other bytes, and nowhere to fetch from.
    let wheels = dir.path().join("ort/wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    std::fs::write(wheels.join(wheel_name()), b"not the pinned wheel").unwrap();
    let empty = dir.path().join("index");
    std::fs::create_dir(&empty).unwrap();

    let output = install(dir.path(), &empty, &[]);
    let log = text(&output);
    assert_eq!(output.status.code(), Some(2), "{log}");
    assert!(!exported(dir.path()).contains("path="), "{log}");
    assert!(!dir.path().join("ort/installed/onnxruntime").exists());
}

#[test]
fn ort_dylib_path_on_the_runner_wins() {
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("libonnxruntime.so.1.31.1");
    std::fs::write(&library, b"").unwrap();
    let output = install(
        dir.path(),
        dir.path(),
        &[("ORT_DYLIB_PATH", library.to_str().unwrap())],
    );
    let log = text(&output);
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(
        log.contains("Using ONNX Runtime from ORT_DYLIB_PATH"),
        "{log}"
    );
    assert!(!dir.path().join("ort").exists(), "nothing installed");
    assert_eq!(
        exported(dir.path()).trim(),
        format!("path={}", library.display())
    );
}
