//! Shared helpers for the integration tests: the real binary, the real ONNX Runtime, and an
//! in-process fake of GitHub's REST API.
#![allow(dead_code)]

pub mod action_runner;
pub mod commands;
pub mod expr;
pub mod fake_github;
mod fake_routes;
pub mod workflow_runner;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The repository root, where `models/` lives.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn model(name: &str) -> PathBuf {
    root().join("models").join(name)
}

/// The ONNX Runtime library, located (and fetched, on a fresh machine) once per test binary by
/// `modelgate env`, so parallel tests do not all fetch it at once.
pub fn ort_lib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let out = Command::new(env!("CARGO_BIN_EXE_modelgate"))
            .arg("env")
            .output()
            .expect("run modelgate env");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "modelgate env failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout.lines().next().unwrap_or_default();
        let path = line
            .split(" from ")
            .nth(1)
            .and_then(|rest| rest.rsplit_once(" ("))
            .map(|(p, _)| p)
            .unwrap_or_default();
        assert!(!path.is_empty(), "no library path in: {stdout}");
        PathBuf::from(path)
    })
}

/// The modelgate command with the located library, outside any Actions environment.
pub fn modelgate_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_modelgate"));
    command
        .arg("--ort-lib")
        .arg(ort_lib())
        .args(args)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_BASE_REF")
        .env_remove("MODELGATE_BASE_REF");
    command
}

/// Runs modelgate with the located library and returns its output.
pub fn modelgate(args: &[&str]) -> Output {
    modelgate_command(args).output().expect("run modelgate")
}

/// Runs `modelgate gate --config CONFIG --json JSON EXTRA...` and returns its output and the
/// comparison it wrote (null when it wrote none).
pub fn gate(config: &Path, json: &Path, extra: &[&str]) -> (Output, serde_json::Value) {
    let mut args = vec![
        "gate",
        "--config",
        config.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = modelgate(&args);
    let comparison = std::fs::read_to_string(json)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_default();
    (out, comparison)
}

/// Runs git in `dir` as a test author (committing needs no global config), asserting it
/// succeeds; returns its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the exit code, showing both output streams when it differs.
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}{}",
        stdout(out),
        stderr(out)
    );
}

/// A line of `LogProgress`: `LABEL: N% (DONE/TARGET UNIT)`.
pub fn is_progress_line(line: &str) -> bool {
    line.rsplit_once(": ").is_some_and(|(_, rest)| {
        rest.split_once("% (")
            .is_some_and(|(pct, tail)| pct.parse::<u64>().is_ok() && tail.ends_with(')'))
    })
}

/// Asserts exit code 2 with one `error:` line naming `expected`, and no panic.
pub fn assert_user_error(out: &Output, expected: &str) {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit code for {expected}: stderr {err}"
    );
    assert!(!err.contains("panicked"), "panic: {err}");
    // Progress lines (`phase: 40% (8/20 runs)`) may come before the error.
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.trim().is_empty() && !is_progress_line(l))
        .collect();
    assert_eq!(lines.len(), 1, "one line expected: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(
        lines[0].contains(expected),
        "{err} should contain {expected}"
    );
}
