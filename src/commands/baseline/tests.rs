//! Unit tests of the baseline checks, the current-baseline reader and the history file, on a
//! real results file (`testdata/cancer.json`: `modelgate bench models/cancer_fp32.onnx
//! --iterations 20 --warmup 2` then `modelgate eval --config ... --model-name cancer`, with the
//! config of the integration tests).

use super::history::{self, HistoryEntry};
use super::*;
use crate::files::results::Provenance;

fn fixture() -> ResultsFile {
    crate::files::results::parse(include_str!("testdata/cancer.json"))
        .expect("the fixture is a results file")
}

fn cancer_model(with_dataset: bool) -> ModelConfig {
    let dataset = if with_dataset {
        "[models.dataset]\npath = \"data.csv\"\n"
    } else {
        ""
    };
    let text = format!(
        "[[models]]\nname = \"cancer\"\ncandidate = \"models/cancer_fp32.onnx\"\n{dataset}"
    );
    crate::files::config::GateConfig::parse(&text)
        .unwrap()
        .models
        .remove(0)
}

fn provenance(who: &str) -> Provenance {
    Provenance {
        approved_by: who.into(),
        approved_at: "2025-03-04T05:06:07Z".into(),
        commit: Some("0123456789abcdef".into()),
        source: "measured".into(),
        note: None,
    }
}

#[test]
fn key_numbers_come_from_the_primary_run_and_the_positive_class() {
    let results = fixture();
    let k = key_numbers(&results);
    let run = &results.bench.as_ref().unwrap().runs[0];
    assert_eq!(k.p50_ms, Some(run.summary.p50_ms));
    assert_eq!(k.p99_ms, Some(run.summary.p99_ms));
    assert_eq!(k.recall_name, "recall (malignant)");
    assert!((k.recall.unwrap() - 0.9375).abs() < 1e-12, "{:?}", k.recall);
    assert!(
        (k.accuracy.unwrap() - 163.0 / 171.0).abs() < 1e-12,
        "{:?}",
        k.accuracy
    );
}

#[test]
fn results_must_be_for_the_configured_model_file() {
    let results = fixture();
    let sha = results.model.sha256.clone();
    let source = Path::new("r.json");
    check_results_for_model(&results, source, &cancer_model(true), &sha).unwrap();

    let err = check_results_for_model(&results, source, &cancer_model(true), &"f".repeat(64))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "is for model sha {}…, but models/cancer_fp32.onnx is ffffffffffff…; re-measure it",
            &sha[..12]
        )),
        "{err}"
    );

    let mut renamed = results.clone();
    renamed.model.name = "digits".into();
    let err = check_results_for_model(&renamed, source, &cancer_model(true), &sha)
        .unwrap_err()
        .to_string();
    assert!(err.contains("is for model `digits`, not `cancer`"), "{err}");
    renamed.model.name = "cancer".into();
    check_results_for_model(&renamed, source, &cancer_model(true), &sha).unwrap();

    let mut no_eval = results.clone();
    no_eval.eval = None;
    let err = check_results_for_model(&no_eval, source, &cancer_model(true), &sha)
        .unwrap_err()
        .to_string();
    assert!(err.contains("has no eval results"), "{err}");
    check_results_for_model(&no_eval, source, &cancer_model(false), &sha).unwrap();

    let mut no_bench = results;
    no_bench.bench = None;
    let err = check_results_for_model(&no_bench, source, &cancer_model(true), &sha)
        .unwrap_err()
        .to_string();
    assert!(err.contains("has no bench results"), "{err}");
}

#[test]
fn current_baseline_is_missing_valid_malformed_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cancer.json");
    assert!(matches!(read_current(&path).unwrap(), Current::Missing));
    std::fs::write(&path, include_str!("testdata/cancer.json")).unwrap();
    assert!(matches!(read_current(&path).unwrap(), Current::Valid(_)));
    for (text, why) in [
        ("{\"schema_version\": 1", "not JSON"),
        ("{\"model\": 1}", "no schema_version"),
        (
            "{\"schema_version\": 1, \"model\": 3}",
            "does not match schema version 1",
        ),
    ] {
        std::fs::write(&path, text).unwrap();
        match read_current(&path).unwrap() {
            Current::Malformed(reason) => assert!(reason.contains(why), "{reason}"),
            other => panic!("{text}: {other:?}"),
        }
    }
    std::fs::write(&path, "{\"schema_version\": 2}").unwrap();
    let err = read_current(&path).unwrap_err().to_string();
    assert!(
        err.contains("schema_version 2") && err.contains("not replaced, even with --force"),
        "{err}"
    );
}

#[test]
fn paths_and_changes_read_as_a_person_writes_them() {
    assert_eq!(
        history_path(Path::new("baselines/cancer.json")),
        Path::new("baselines/cancer.history.jsonl")
    );
    assert_eq!(
        history_path(Path::new("b/v1.2.json")),
        Path::new("b/v1.2.history.jsonl")
    );
    assert_eq!(
        display_path(Path::new("./baselines/x.json")),
        "baselines/x.json"
    );
    assert_eq!(config_root(Path::new("modelgate.toml")), Path::new("."));
    assert_eq!(short_sha("0123456789abcdef"), "0123456789ab");
    assert_eq!(pct_change(Some(2.0), Some(2.062)), "+3.1 %");
    assert_eq!(pct_change(Some(2.0), Some(2.0000001)), "+0.0 %");
    assert_eq!(pct_change(None, Some(2.0)), "");
    assert_eq!(
        pts_change(Some(0.953216374269006), Some(0.9532163742690059)),
        "+0.00 pts"
    );
    assert_eq!(pts_change(Some(0.9375), Some(0.875)), "-6.25 pts");
}

#[test]
fn change_table_shows_current_new_and_change() {
    let new = key_numbers(&fixture());
    let mut old = new.clone();
    old.p50_ms = new.p50_ms.map(|v| v / 1.031);
    old.recall = Some(1.0);
    old.model_sha256 = "a".repeat(64);
    let table = change_table(Some(&old), &new);
    assert!(table.contains("+3.1 %"), "{table}");
    assert!(
        table.contains("recall (malignant)") && table.contains("-6.25 pts"),
        "{table}"
    );
    assert!(
        table.contains("aaaaaaaaaaaa") && table.contains("new model"),
        "{table}"
    );
    let first = change_table(None, &new);
    assert!(first.lines().nth(2).unwrap().contains(" - "), "{first}");
}

#[test]
fn history_appends_lines_and_numbers_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cancer.history.jsonl");
    assert!(history::read_if_exists(&path).unwrap().is_empty());
    let mut results = fixture();
    history::append(&path, &HistoryEntry::new(1, &results, &provenance("alice"))).unwrap();
    if let Some(run) = results.bench.as_mut().map(|b| &mut b.runs[0]) {
        run.summary.p50_ms *= 1.031;
    }
    // A hand-edited file whose last line lost its newline still gets a separate line.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.trim_end()).unwrap();
    let entries = history::read_if_exists(&path).unwrap();
    history::append(
        &path,
        &HistoryEntry::new(
            history::next_version(&entries),
            &results,
            &provenance("bob"),
        ),
    )
    .unwrap();
    let entries = history::read_if_exists(&path).unwrap();
    assert_eq!(
        entries.iter().map(|e| e.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(entries[1].approved_by, "bob");
    assert_eq!(entries[0].commit.as_deref(), Some("0123456789abcdef"));
    let table = history::table("cancer", &entries);
    assert!(table.starts_with("cancer: v1 -> v2\n"), "{table}");
    assert!(
        table.contains("(+3.1 %)") && table.contains("2025-03-04") && table.contains("01234567"),
        "{table}"
    );
}

#[test]
fn malformed_history_names_the_file_and_line() {
    let good =
        serde_json::to_string(&HistoryEntry::new(1, &fixture(), &provenance("alice"))).unwrap();
    let err = history::parse(
        &format!("{good}\n\n{{\"version\": \"x\"}}\n"),
        "baselines/cancer.history.jsonl",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("baselines/cancer.history.jsonl line 3 is not a history entry"),
        "{err}"
    );
    assert_eq!(
        history::next_version(&history::parse(&good, "h").unwrap()),
        2
    );
    assert_eq!(history::next_version(&[]), 1);
}
