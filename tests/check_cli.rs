//! `modelgate check` on the real ONNX Runtime: each criterion failing alone, all passing, latency
//! from other hardware, and bad input.
//!
//! The release candidate is a copy of the baseline's own measurement unless a test is about
//! something else: two measurements of a model that runs in a few microseconds, taken 300 times
//! on a runner busy with other tests, differ in their tail by whatever else ran, and these tests
//! are about the checklist, not the runner. For the same reason the latency tolerances are wide:
//! even one sample set against itself gives a wide bootstrap interval at p99 over 300 runs.

use crate::support;
use crate::workspace;

use std::collections::BTreeSet;
use std::path::Path;

use support::{modelgate, stderr, stdout};
use workspace::{assert_refused, edit_json, read_json, Workspace};

const WIDE: &str =
    "max_p50_regression_pct = 200.0\nmax_p95_regression_pct = 10000.0\nmax_p99_regression_pct = 1000000.0";

/// Runs `check --candidate C --model cancer` with `--json`, returning the exit code, the marks by
/// line name, and the text.
fn check(ws: &Workspace, candidate: &Path, extra: &[&str]) -> (i32, Vec<(String, String)>, String) {
    let (config, json) = (ws.config(), ws.path("check.json"));
    let mut args = vec![
        "check",
        "--candidate",
        candidate.to_str().unwrap(),
        "--model",
        "cancer",
        "--config",
        &config,
    ];
    args.extend_from_slice(&["--json", json.to_str().unwrap()]);
    args.extend_from_slice(extra);
    let out = modelgate(&args);
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    let code = out.status.code().unwrap_or(-1);
    assert!(code == 0 || code == 1, "exit {code}: {}", stderr(&out));
    let report = read_json(&json);
    assert_eq!(report["passed"], code == 0);
    let marks = report["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap().to_string(),
                l["mark"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (code, marks, stdout(&out))
}

fn with_mark(marks: &[(String, String)], mark: &str) -> BTreeSet<String> {
    marks
        .iter()
        .filter(|(_, m)| m == mark)
        .map(|(n, _)| n.clone())
        .collect()
}

/// A project whose approved baseline is a measurement of cancer_fp32, and a copy of that
/// measurement as the release candidate.
fn project(model_criteria: &str) -> (Workspace, std::path::PathBuf) {
    let ws = Workspace::new("cancer_fp32.onnx", WIDE, model_criteria);
    let base = ws.measure("cancer_fp32.onnx", "base.json");
    // Some of these tests set limits the measurement fails on purpose (the release check must
    // fail them), so the baseline is approved past approve's own check of them.
    let out = ws.approve(&[
        "--from-results",
        base.to_str().unwrap(),
        "--yes",
        "--approver",
        "alice",
        "--force",
    ]);
    assert!(out.status.success(), "approve: {}", support::stderr(&out));
    let candidate = ws.path("rc.json");
    std::fs::copy(&base, &candidate).unwrap();
    (ws, candidate)
}

#[test]
fn check_passes_when_every_criterion_holds() {
    let (ws, candidate) = project("min_recall = 0.8\nmax_p95_ms = 1000.0\nmin_throughput = 1.0");
    let (code, marks, text) = check(&ws, &candidate, &[]);
    assert_eq!(code, 0, "{text}");
    let names: BTreeSet<String> = marks.iter().map(|(n, _)| n.clone()).collect();
    for expected in [
        "p50 latency",
        "p95 latency",
        "p99 latency",
        "accuracy",
        "recall (malignant)",
        "minimum recall (malignant)",
    ] {
        assert!(names.contains(expected), "{expected} missing: {text}");
    }
    for expected in [
        "no new errors or failed samples",
        "p95 latency limit",
        "throughput floor",
    ] {
        assert!(names.contains(expected), "{expected} missing: {text}");
    }
    assert_eq!(with_mark(&marks, "pass").len(), marks.len(), "{text}");
    assert!(
        text.contains("[pass] no new errors or failed samples") && text.contains("result: pass"),
        "{text}"
    );
}

#[test]
fn lower_recall_fails_the_recall_drop_and_the_floor() {
    let (ws, _) = project("min_recall = 0.8");
    let candidate = ws.measure("cancer_lowrecall.onnx", "low.json");
    // Its own evaluation, with the baseline's timings: this test is about recall alone.
    let timings = read_json(&ws.path("base.json"))["bench"].clone();
    edit_json(&candidate, |v| v["bench"] = timings);
    let (code, marks, text) = check(&ws, &candidate, &[]);
    assert_eq!(code, 1, "{text}");
    let failed = with_mark(&marks, "fail");
    assert_eq!(
        failed,
        BTreeSet::from([
            "recall (malignant)".to_string(),
            "minimum recall (malignant)".to_string()
        ]),
        "{text}"
    );
    assert!(
        text.contains("[FAIL] recall (malignant)") && text.contains("-6.25 points"),
        "{text}"
    );
}

#[test]
fn a_required_latency_improvement_fails_for_the_same_model() {
    let (ws, _) = project("min_latency_improvement_pct = 10.0");
    // The baseline's own samples against themselves: a ratio of exactly 1, never 10 % faster.
    let (code, marks, text) = check(&ws, &ws.path("base.json"), &[]);
    assert_eq!(code, 1, "{text}");
    assert_eq!(
        with_mark(&marks, "fail"),
        BTreeSet::from(["p50 latency 10 % faster".to_string()]),
        "{text}"
    );
    assert!(
        text.contains("the upper bound must be at most 0.900"),
        "{text}"
    );
}

#[test]
fn a_tiny_p95_limit_fails() {
    let (ws, candidate) = project("max_p95_ms = 0.000001");
    let (code, marks, text) = check(&ws, &candidate, &[]);
    assert_eq!(code, 1, "{text}");
    assert_eq!(
        with_mark(&marks, "fail"),
        BTreeSet::from(["p95 latency limit".to_string()]),
        "{text}"
    );
}

#[test]
fn missing_samples_fail_no_new_errors() {
    let (ws, candidate) = project("");
    edit_json(&candidate, |v| {
        let samples = v["eval"]["samples"].as_array_mut().unwrap();
        samples.retain(|s| s["id"] != "test.csv:5" && s["id"] != "test.csv:17");
    });
    let (code, marks, text) = check(&ws, &candidate, &[]);
    assert_eq!(code, 1, "{text}");
    assert_eq!(
        with_mark(&marks, "fail"),
        BTreeSet::from(["no new errors or failed samples".to_string()]),
        "{text}"
    );
    assert!(text.contains("2 of 171 baseline samples missing"), "{text}");
    // Accuracy cannot be paired over different samples: skipped with the reason, not passed.
    assert_eq!(
        with_mark(&marks, "skip"),
        BTreeSet::from(["accuracy".to_string(), "recall".to_string()]),
        "{text}"
    );
}

#[test]
fn latency_from_other_hardware_is_skipped_and_passes_only_when_allowed() {
    let (ws, candidate) = project("");
    edit_json(&candidate, |v| {
        v["environment"]["cpu_model"] = "Some Other CPU 9000".into()
    });
    let (code, marks, text) = check(&ws, &candidate, &[]);
    assert_eq!(code, 1, "{text}");
    let skipped = BTreeSet::from(["p50 latency", "p95 latency", "p99 latency"].map(String::from));
    assert_eq!(with_mark(&marks, "skip"), skipped, "{text}");
    assert!(with_mark(&marks, "fail").is_empty(), "{text}");
    assert!(
        text.contains("latency not comparable: different CPU:"),
        "{text}"
    );
    assert!(text.contains("--allow-skipped"), "{text}");
    let (code, _, text) = check(&ws, &candidate, &["--allow-skipped"]);
    assert_eq!(code, 0, "{text}");
}

#[test]
fn check_with_a_baseline_file_takes_the_criteria_of_the_matching_model() {
    let (ws, _) = project("max_p95_ms = 0.000001");
    let low = ws.measure("cancer_lowrecall.onnx", "low.json");
    let (config, baseline) = (ws.config(), ws.baseline());
    let out = modelgate(&[
        "check",
        "--candidate",
        low.to_str().unwrap(),
        "--baseline",
        baseline.to_str().unwrap(),
        "--config",
        &config,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("[FAIL] p95 latency limit"),
        "{}",
        stdout(&out)
    );
    // Without a config, the built-in criteria: no absolute limits.
    let out = modelgate(&[
        "check",
        "--candidate",
        low.to_str().unwrap(),
        "--baseline",
        baseline.to_str().unwrap(),
    ]);
    assert!(
        !stdout(&out).contains("p95 latency limit"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn bad_check_input_is_one_line_and_exit_2() {
    let ws = Workspace::new("cancer_fp32.onnx", "", "");
    let config = ws.config();
    let results = ws.measure("cancer_fp32.onnx", "r.json");
    let r = results.to_str().unwrap();
    assert_refused(
        &modelgate(&[
            "check",
            "--candidate",
            "missing.json",
            "--model",
            "cancer",
            "--config",
            &config,
        ]),
        "missing.json",
    );
    assert_refused(
        &modelgate(&[
            "check",
            "--candidate",
            r,
            "--model",
            "cancer",
            "--config",
            &config,
        ]),
        "has no baseline at",
    );
    assert_refused(
        &modelgate(&[
            "check",
            "--candidate",
            r,
            "--model",
            "digits",
            "--config",
            &config,
        ]),
        "no model `digits`",
    );
    std::fs::write(ws.path("bad.json"), "{\"schema_version\": 9}").unwrap();
    assert_refused(
        &modelgate(&[
            "check",
            "--candidate",
            r,
            "--baseline",
            ws.path("bad.json").to_str().unwrap(),
        ]),
        "schema_version 9",
    );
    let out = modelgate(&["check", "--candidate", r]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
