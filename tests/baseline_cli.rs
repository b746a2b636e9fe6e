//! `modelgate baseline approve` and `modelgate history` on the real ONNX Runtime, each test in its
//! own throwaway project (see `workspace`).

use crate::support;
use crate::workspace;

use support::{modelgate, stderr, stdout};
use workspace::{assert_refused, edit_json, read_json, Workspace};

#[test]
fn approve_from_a_results_file_writes_the_baseline_with_provenance_and_history() {
    let ws = Workspace::new("cancer_fp32.onnx", "", "");
    let results = ws.measure("cancer_fp32.onnx", "r.json");
    let results_arg = results.to_str().unwrap();
    let out = ws.approve(&[
        "--from-results",
        results_arg,
        "--yes",
        "--approver",
        "alice",
        "--note",
        "first cut",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "p50",
        "p95",
        "p99",
        "accuracy",
        "recall (malignant)",
        "model sha256",
        "approved by alice",
    ] {
        assert!(text.contains(expected), "{expected} missing from {text}");
    }
    let baseline = read_json(&ws.baseline());
    assert_eq!(baseline["schema_version"], 1);
    assert_eq!(baseline["model"]["name"], "cancer");
    assert_eq!(baseline["model"]["path"], "models/cancer_fp32.onnx");
    let provenance = &baseline["provenance"];
    assert_eq!(provenance["approved_by"], "alice");
    assert_eq!(provenance["source"], results_arg);
    assert_eq!(provenance["note"], "first cut");
    assert!(
        provenance["approved_at"].as_str().unwrap().ends_with('Z'),
        "{provenance}"
    );
    assert_eq!(
        provenance["commit"],
        serde_json::Value::Null,
        "a temporary folder is not a git repository"
    );
    assert_eq!(baseline["bench"], read_json(&results)["bench"]);
    let history = std::fs::read_to_string(ws.history()).unwrap();
    let entry: serde_json::Value = serde_json::from_str(history.trim()).unwrap();
    assert_eq!(entry["version"], 1);
    assert_eq!(entry["approved_by"], "alice");
    assert_eq!(entry["model_sha256"], baseline["model"]["sha256"]);
    assert_eq!(
        entry["p50_ms"],
        baseline["bench"]["runs"][0]["summary"]["p50_ms"]
    );
    assert_eq!(entry["recall"], 0.9375);
}

#[test]
fn approve_by_measuring_adds_a_version_that_history_shows_with_the_change() {
    let ws = Workspace::new("cancer_fp32.onnx", "", "");
    ws.approve_ok(&ws.measure("cancer_fp32.onnx", "r.json"));
    let out = ws.approve(&["--yes", "--approver", "bob"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("same model"), "{}", stdout(&out));
    let baseline = read_json(&ws.baseline());
    assert_eq!(baseline["provenance"]["source"], "measured");
    assert_eq!(baseline["model"]["path"], "models/cancer_fp32.onnx");
    assert!(
        baseline["bench"]["runs"][0]["samples_ms"]
            .as_array()
            .unwrap()
            .len()
            >= 300
    );
    assert_eq!(baseline["eval"]["metrics"]["n"], 171);

    let config = ws.config();
    let out = modelgate(&["history", "cancer", "--config", &config]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.starts_with("cancer: v1 -> v2\n"), "{table}");
    let v2 = table
        .lines()
        .find(|l| l.trim_start().starts_with("v2"))
        .unwrap();
    assert!(
        v2.contains("bob") && v2.contains(" %)") && v2.contains("(+0.00 pts)"),
        "{table}"
    );
    let out = modelgate(&["history", "cancer", "--config", &config, "--json"]);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        entries
            .iter()
            .map(|e| e["version"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2]
    );
}

#[test]
fn approve_without_yes_refuses_when_stdin_is_not_a_terminal() {
    let ws = Workspace::new("cancer_fp32.onnx", "", "");
    let results = ws.measure("cancer_fp32.onnx", "r.json");
    let out = ws.approve(&[
        "--from-results",
        results.to_str().unwrap(),
        "--approver",
        "alice",
    ]);
    assert_refused(&out, "pass --yes to approve non-interactively");
    assert!(
        stdout(&out).contains("p50"),
        "the change is shown first: {}",
        stdout(&out)
    );
    // Measuring would take long, so that is refused before it starts.
    let out = ws.approve(&["--approver", "alice"]);
    assert_refused(&out, "pass --yes");
    assert!(!ws.baseline().exists() && !ws.history().exists());
}

#[test]
fn approve_refuses_results_for_another_model_file() {
    let ws = Workspace::new("cancer_fp32.onnx", "", "");
    let other = ws.measure("cancer_lowrecall.onnx", "low.json");
    let out = ws.approve(&[
        "--from-results",
        other.to_str().unwrap(),
        "--yes",
        "--approver",
        "alice",
    ]);
    assert_refused(&out, "but models/cancer_fp32.onnx is");
    assert!(stderr(&out).contains("re-measure it"), "{}", stderr(&out));
    assert!(!ws.baseline().exists());
}

#[test]
fn approve_needs_force_for_results_from_other_hardware() {
    let ws = Workspace::new("cancer_fp32.onnx", "", "");
    let results = ws.measure("cancer_fp32.onnx", "r.json");
    ws.approve_ok(&results);
    let before = std::fs::read(ws.baseline()).unwrap();
    edit_json(&results, |v| {
        v["environment"]["cpu_model"] = "Some Other CPU 9000".into()
    });
    let args = [
        "--from-results",
        results.to_str().unwrap(),
        "--yes",
        "--approver",
        "alice",
    ];
    let out = ws.approve(&args);
    assert_refused(
        &out,
        "other hardware than the current baseline (different CPU:",
    );
    assert!(stderr(&out).contains("pass --force"), "{}", stderr(&out));
    assert_eq!(std::fs::read(ws.baseline()).unwrap(), before);

    let out = ws.approve(&[&args[..], &["--force"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: approving results from other hardware"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        read_json(&ws.baseline())["environment"]["cpu_model"],
        "Some Other CPU 9000"
    );

    // With no baseline yet, the results are held to this machine.
    let fresh = Workspace::new("cancer_fp32.onnx", "", "");
    std::fs::copy(&results, fresh.path("r.json")).unwrap();
    let out = fresh.approve(&[
        "--from-results",
        fresh.path("r.json").to_str().unwrap(),
        "--yes",
        "--approver",
        "alice",
    ]);
    assert_refused(&out, "other hardware than this machine");
}

#[test]
fn malformed_current_baseline_is_refused_and_left_untouched() {
    let ws = Workspace::new("cancer_fp32.onnx", "", "");
    let results = ws.measure("cancer_fp32.onnx", "r.json");
    let args = [
        "--from-results",
        results.to_str().unwrap(),
        "--yes",
        "--approver",
        "alice",
    ];
    for (text, expected) in [
        (
            "{\"schema_version\": 1, \"model\": ",
            "is malformed (it is not JSON",
        ),
        (
            "{\"schema_version\": 1}",
            "is malformed (it does not match schema version 1",
        ),
        ("{\"schema_version\": 7}", "has schema_version 7"),
    ] {
        std::fs::write(ws.baseline(), text).unwrap();
        assert_refused(&ws.approve(&args), expected);
        assert_eq!(std::fs::read_to_string(ws.baseline()).unwrap(), text);
        assert!(!ws.history().exists());
    }
    // --force replaces a malformed baseline, but never one from another schema version.
    let out = ws.approve(&[&args[..], &["--force"]].concat());
    assert_refused(&out, "not replaced, even with --force");
    std::fs::write(ws.baseline(), "not json").unwrap();
    let out = ws.approve(&[&args[..], &["--force"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: replacing the malformed baseline"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        read_json(&ws.baseline())["provenance"]["approved_by"],
        "alice"
    );
}

#[test]
fn unwritable_baselines_folder_fails_and_keeps_the_old_baseline() {
    let ws = Workspace::new("cancer_fp32.onnx", "", "");
    let results = ws.measure("cancer_fp32.onnx", "r.json");
    let args = [
        "--from-results",
        results.to_str().unwrap(),
        "--yes",
        "--approver",
        "alice",
    ];
    ws.approve_ok(&results);
    let before = std::fs::read(ws.baseline()).unwrap();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let folder = ws.path("baselines");
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o555)).unwrap();
        // root writes through folder permissions, so there the check cannot be made this way.
        let privileged = std::fs::write(folder.join("probe"), "").is_ok();
        if privileged {
            println!("note: running as a user who can write a 0555 folder (root?); skipping the chmod check");
        } else {
            assert_refused(&ws.approve(&args), "is not writable");
            assert_eq!(std::fs::read(ws.baseline()).unwrap(), before);
        }
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    // A file where the folder should be stops anyone, root included.
    let blocked = Workspace::new("cancer_fp32.onnx", "", "");
    std::fs::remove_dir(blocked.path("baselines")).unwrap();
    std::fs::write(blocked.path("baselines"), "a file").unwrap();
    let out = blocked.approve(&[
        "--from-results",
        results.to_str().unwrap(),
        "--yes",
        "--approver",
        "alice",
    ]);
    assert_refused(&out, "baselines");
    assert_eq!(
        std::fs::read_to_string(blocked.path("baselines")).unwrap(),
        "a file"
    );
}

#[test]
fn a_reader_never_sees_a_partial_baseline_while_it_is_rewritten() {
    let ws = Workspace::new("cancer_fp32.onnx", "", "");
    let results = ws.measure("cancer_fp32.onnx", "r.json");
    ws.approve_ok(&results);
    let path = ws.baseline();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (path, done) = (path.clone(), done.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let text = std::fs::read_to_string(&path).expect("the baseline is always there");
                let value: serde_json::Value =
                    serde_json::from_str(&text).expect("every read is a whole file");
                assert_eq!(value["provenance"]["approved_by"], "alice");
                reads += 1;
            }
            reads
        })
    };
    for _ in 0..20 {
        ws.approve_ok(&results);
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads = reader.join().expect("no read saw a partial file");
    assert!(reads > 0);
    let history = std::fs::read_to_string(ws.history()).unwrap();
    assert_eq!(history.lines().count(), 21);
    let leftovers: Vec<_> = std::fs::read_dir(ws.path("baselines"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "no temporary files left: {leftovers:?}");
}

#[test]
fn approver_falls_back_to_github_actor() {
    let ws = Workspace::new("cancer_fp32.onnx", "", "");
    let results = ws.measure("cancer_fp32.onnx", "r.json");
    let config = ws.config();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .args([
            "--ort-lib",
            support::ort_lib().to_str().unwrap(),
            "baseline",
            "approve",
            "--model",
            "cancer",
        ])
        .args([
            "--config",
            &config,
            "--from-results",
            results.to_str().unwrap(),
            "--yes",
        ])
        .env("GITHUB_ACTOR", "carol")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        read_json(&ws.baseline())["provenance"]["approved_by"],
        "carol"
    );
}

#[test]
fn history_errors_name_the_file() {
    let ws = Workspace::new("cancer_fp32.onnx", "", "");
    let config = ws.config();
    assert_refused(
        &modelgate(&["history", "cancer", "--config", &config]),
        "cancer.history.jsonl does not exist",
    );
    assert_refused(
        &modelgate(&["history", "digits", "--config", &config]),
        "no model `digits`",
    );
    std::fs::write(ws.history(), "{\"version\": 1}\n").unwrap();
    assert_refused(
        &modelgate(&["history", "cancer", "--config", &config]),
        "cancer.history.jsonl line 1 is not a history entry",
    );
    // A malformed history also stops an approval before the baseline is written.
    let results = ws.measure("cancer_fp32.onnx", "r.json");
    let out = ws.approve(&[
        "--from-results",
        results.to_str().unwrap(),
        "--yes",
        "--approver",
        "alice",
    ]);
    assert_refused(&out, "line 1 is not a history entry");
    assert!(!ws.baseline().exists());
}

/// `modelgate history --html` after three approvals (the second a lower-recall model): one page,
/// a chart per metric with a point per approval, the recall drop marked.
#[test]
fn history_html_draws_a_point_per_approval_for_every_metric() {
    let ws = Workspace::new("cancer_fp32.onnx", "", "");
    let file = ws.path("models/cancer_fp32.onnx");
    ws.approve_ok(&ws.measure("cancer_fp32.onnx", "r1.json"));
    std::fs::copy(ws.path("models/cancer_lowrecall.onnx"), &file).unwrap();
    ws.approve_ok(&ws.measure("cancer_fp32.onnx", "r2.json"));
    std::fs::copy(support::model("cancer_fp32.onnx"), &file).unwrap();
    ws.approve_ok(&ws.measure("cancer_fp32.onnx", "r3.json"));

    let page = ws.path("site/history.html");
    std::fs::create_dir_all(page.parent().unwrap()).unwrap();
    let config = ws.config();
    let out = modelgate(&[
        "history",
        "--config",
        &config,
        "--html",
        page.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let html = std::fs::read_to_string(&page).unwrap();
    let charts: Vec<&str> = html
        .split("<svg")
        .skip(1)
        .map(|s| &s[..s.find("</svg>").unwrap()])
        .collect();
    // accuracy, recall, p50, p95, model size, peak memory.
    assert_eq!(charts.len(), 6, "{html}");
    for chart in &charts {
        assert_eq!(chart.matches("<circle").count(), 3, "{chart}");
    }
    // v2 lowered recall: a red point on the recall chart.
    assert!(charts[1].contains("#CF222E"), "{}", charts[1]);
    assert_eq!(html.matches("<tr><td>v").count(), 3, "{html}");
    assert!(html.contains("<tr><td>v2</td>"), "{html}");
    // A model without a history is named, exit 2.
    let out = modelgate(&["history", "nosuch", "--config", &config, "--html", "x.html"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
