//! `modelgate gate` and `modelgate compare` end to end: real models, real ONNX Runtime, verdicts
//! and exit codes. Each test writes its own config into a temporary folder, so baselines and
//! results never touch the repository.

use crate::support;

use std::path::{Path, PathBuf};

use support::{assert_exit, assert_user_error, model, modelgate, root, stderr, stdout};

/// A gate config for one model, in a fresh folder with a `baselines/` beside it.
struct Gate {
    dir: tempfile::TempDir,
}

impl Gate {
    fn new(body: &str) -> Gate {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("baselines")).unwrap();
        std::fs::write(dir.path().join("modelgate.toml"), body).unwrap();
        Gate { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Commits the repository's approved cancer baseline (evaluated on the same test set).
    fn with_baseline(self) -> Gate {
        std::fs::copy(
            root().join("baselines/cancer.json"),
            self.path("baselines/cancer.json"),
        )
        .unwrap();
        self
    }

    fn run(&self, extra: &[&str]) -> (std::process::Output, serde_json::Value) {
        support::gate(
            &self.path("modelgate.toml"),
            &self.path("comparison.json"),
            extra,
        )
    }
}

/// A copy of `models/<name>` in `dir` that runs the same but has other bytes (an unknown
/// protobuf field appended), so it is a different file to the gate: a retrained model that
/// learned the same thing.
fn respun(dir: &Path, name: &str) -> PathBuf {
    let mut bytes = std::fs::read(model(name)).unwrap();
    bytes.extend_from_slice(&[0xC0, 0x3E, 0x01]);
    let path = dir.join(format!("respun_{name}"));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The cancer classifier with its data; `candidate` and `base` are model file names in models/
/// or paths.
fn cancer(candidate: &str, base: Option<&str>, extra: &str) -> String {
    let base = base
        .map(|b| format!("base_model = {:?}\n", model(b)))
        .unwrap_or_default();
    format!(
        "[[models]]\nname = \"cancer\"\ncandidate = {:?}\n{base}\
         [models.dataset]\npath = {:?}\n\
         [models.postprocess]\nactivation = \"sigmoid\"\nclass_names = [\"benign\", \"malignant\"]\npositive_class = \"malignant\"\n\
         [models.bench]\niterations = 300\nwarmup = 5\nmax_time_s = 2\nintra_threads = 1\n{extra}",
        model(candidate),
        root().join("models/data/breast_cancer/test.csv"),
    )
}

fn criterion<'a>(comparison: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    let criteria = comparison["models"][0]["criteria"].as_array().unwrap();
    criteria
        .iter()
        .find(|c| c["name"].as_str().unwrap().starts_with(name))
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn identical_models_pass_with_same_runner_ab() {
    let dir = tempfile::tempdir().unwrap();
    let candidate = respun(dir.path(), "cancer_fp32.onnx");
    let gate = Gate::new(&cancer(
        candidate.to_str().unwrap(),
        Some("cancer_fp32.onnx"),
        "",
    ))
    .with_baseline();
    let report = gate.path("report.md");
    let (out, comparison) = gate.run(&["--report", report.to_str().unwrap()]);
    assert_exit(&out, 0);
    assert_eq!(comparison["verdict"], "pass");
    assert_eq!(
        comparison["models"][0]["latency_source"]["kind"],
        "same_runner_ab"
    );
    assert_eq!(comparison["models"][0]["accuracy"]["agreement_rate"], 1.0);
    let text = std::fs::read_to_string(report).unwrap();
    assert!(text.contains("cancer"), "{text}");
}

#[test]
fn an_unchanged_model_is_not_re_timed_but_its_quality_is_judged() {
    let gate = Gate::new(&cancer(
        "cancer_fp32.onnx",
        Some("cancer_fp32.onnx"),
        "[models.criteria]\nmax_p95_ms = 1000\n",
    ))
    .with_baseline();
    let (out, comparison) = gate.run(&[]);
    assert_exit(&out, 0);
    let model = &comparison["models"][0];
    assert_eq!(model["latency_source"]["kind"], "model_unchanged");
    let p50 = criterion(&comparison, "p50 latency");
    assert_eq!(p50["status"], "skipped");
    assert!(p50["detail"].as_str().unwrap().contains("model unchanged"));
    assert_eq!(criterion(&comparison, "accuracy")["status"], "pass");
    assert_eq!(
        criterion(&comparison, "p95 latency limit")["status"],
        "pass"
    );
}

#[test]
fn quality_is_judged_against_the_approved_baseline_not_the_base_model() {
    // The base model is the low-recall one and so is the candidate: against the base nothing
    // dropped, but against the approved baseline recall fell 6.25 points.
    let dir = tempfile::tempdir().unwrap();
    let candidate = respun(dir.path(), "cancer_lowrecall.onnx");
    let gate = Gate::new(&cancer(
        candidate.to_str().unwrap(),
        Some("cancer_lowrecall.onnx"),
        "",
    ))
    .with_baseline();
    let (out, comparison) = gate.run(&[]);
    assert_exit(&out, 1);
    assert_eq!(
        comparison["models"][0]["latency_source"]["kind"],
        "same_runner_ab"
    );
    let recall = criterion(&comparison, "recall (malignant)");
    assert_eq!(recall["status"], "fail", "{recall}");
    assert!((recall["change"].as_f64().unwrap() + 6.25).abs() < 1e-6);
}

#[test]
fn lower_recall_fails_the_gate_with_exit_1() {
    let gate = Gate::new(&cancer(
        "cancer_lowrecall.onnx",
        Some("cancer_fp32.onnx"),
        "[models.criteria]\nmin_recall = 0.85\n",
    ))
    .with_baseline();
    let (out, comparison) = gate.run(&[]);
    assert_exit(&out, 1);
    assert_eq!(comparison["verdict"], "fail");
    let recall = criterion(&comparison, "recall (malignant)");
    assert_eq!(recall["status"], "fail");
    assert!(
        (recall["change"].as_f64().unwrap() + 6.25).abs() < 1e-6,
        "{recall}"
    );
    assert_eq!(criterion(&comparison, "minimum recall")["status"], "fail");
    assert!(!comparison["models"][0]["accuracy"]["changed"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(stdout(&out).contains("FAIL"), "{}", stdout(&out));
}

#[test]
fn a_much_slower_model_fails_on_latency() {
    let body = cancer("cancer_slow.onnx", Some("cancer_fp32.onnx"), "");
    let gate = Gate::new(&body).with_baseline();
    let (out, comparison) = gate.run(&[]);
    assert_exit(&out, 1);
    let p50 = criterion(&comparison, "p50 latency");
    assert_eq!(p50["status"], "fail", "{p50}");
    assert!(p50["ci"]["lower"].as_f64().unwrap() > 1.05);
    assert_eq!(
        criterion(&comparison, "accuracy")["status"],
        "pass",
        "same predictions"
    );
}

/// A model slower than 4 ms a run alternates with its base in blocks of fewer runs (as many as
/// fit in 100 ms), every session pair holds whole blocks of them, and the results and the
/// verdict record the block, so it can be recomputed.
#[test]
fn a_slow_model_alternates_in_short_blocks_and_the_verdict_records_them() {
    let dir = tempfile::tempdir().unwrap();
    let candidate = respun(dir.path(), "resnet_small.onnx");
    // Batches of 8 on one thread: about 10 ms a run.
    let body = format!(
        "[[models]]\nname = \"r\"\ncandidate = {:?}\nbase_model = {:?}\n\
         [models.bench]\nbatch = 8\nwarmup = 3\nmax_time_s = 6\nintra_threads = 1\n",
        candidate,
        model("resnet_small.onnx"),
    );
    let gate = Gate::new(&body);
    let results = gate.path("results");
    let (out, comparison) = gate.run(&["--allow-new", "--results-dir", results.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(2), "{}", stderr(&out));
    let run = |name: &str| {
        let text = std::fs::read_to_string(results.join(name)).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["bench"]["runs"][0].clone()
    };
    let (cand, base) = (run("r.json"), run("r.base.json"));
    let block = cand["block_runs"]
        .as_u64()
        .expect("the A/B records its block");
    assert!(
        (1..25).contains(&block),
        "a 10 ms model in blocks of {block}"
    );
    assert_eq!(base["block_runs"], cand["block_runs"]);
    let sessions: Vec<u64> = cand["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    assert!(sessions.len() >= 4, "{sessions:?}");
    assert!(
        sessions.iter().all(|n| n % block == 0 && *n >= 50),
        "{sessions:?} in blocks of {block}"
    );
    let method = &criterion(&comparison, "p50 latency")["method"];
    assert_eq!(method["kind"], "sessions", "{method}");
    assert_eq!(method["block_runs"].as_u64(), Some(block), "{method}");
}

#[test]
fn missing_baseline_fails_unless_allow_new() {
    let gate = Gate::new(&cancer("cancer_fp32.onnx", None, ""));
    let (out, comparison) = gate.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(comparison["models"][0]["reasons"][0]
        .as_str()
        .unwrap()
        .contains("--allow-new"));
    let (out, comparison) = gate.run(&["--allow-new"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(comparison["verdict"], "new");
}

#[test]
fn committed_baseline_from_other_hardware_is_not_compared_on_latency() {
    let gate = Gate::new(&cancer("cancer_fp32.onnx", None, ""));
    let results = gate.path("results");
    let (out, _) = gate.run(&["--allow-new", "--results-dir", results.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The measured results become the baseline, as if measured on another machine.
    let mut baseline: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(results.join("cancer.json")).unwrap())
            .unwrap();
    baseline["environment"]["cpu_model"] = "Some Other CPU".into();
    std::fs::write(gate.path("baselines/cancer.json"), baseline.to_string()).unwrap();
    let (out, comparison) = gate.run(&[]);
    assert_exit(&out, 0);
    let source = &comparison["models"][0]["latency_source"];
    assert_eq!(source["kind"], "not_comparable");
    assert!(
        source["reason"]
            .as_str()
            .unwrap()
            .contains("Some Other CPU"),
        "{source}"
    );
    assert_eq!(criterion(&comparison, "p95 latency")["status"], "skipped");
    assert_eq!(
        criterion(&comparison, "accuracy")["status"],
        "pass",
        "accuracy is still compared"
    );
}

/// The low-recall cancer model gated beside the fp32 one, its results files written to
/// `artifact/`: the gate, that folder, and the comparison.
fn measured_artifact() -> (Gate, PathBuf, serde_json::Value) {
    let gate = Gate::new(&cancer(
        "cancer_lowrecall.onnx",
        Some("cancer_fp32.onnx"),
        "",
    ))
    .with_baseline();
    let results = gate.path("artifact");
    let (out, comparison) = gate.run(&["--results-dir", results.to_str().unwrap()]);
    assert_exit(&out, 1);
    (gate, results, comparison)
}

#[test]
fn results_measured_by_one_job_are_judged_by_another() {
    let (gate, results, first) = measured_artifact();
    assert!(results.join("cancer.json").exists() && results.join("cancer.base.json").exists());
    let report = gate.path("report.md");
    let (out, second) = gate.run(&[
        "--from-results",
        results.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        first["models"][0]["criteria"].as_array().unwrap().len(),
        second["models"][0]["criteria"].as_array().unwrap().len()
    );
    assert_eq!(criterion(&second, "recall (malignant)")["status"], "fail");
    assert!(
        second["models"][0]["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("unverified: the candidate's figures were measured by another run"),
        "{}",
        second["models"][0]["notes"]
    );
    let report = std::fs::read_to_string(gate.path("report.md")).unwrap();
    assert!(report.contains("unverified"), "{report}");

    // Whoever made the directory cannot choose the reference: a base file that is the
    // candidate itself is refused (its SHA-256 is not the base model's), and quality is still
    // judged against the approved baseline.
    std::fs::copy(
        results.join("cancer.json"),
        results.join("cancer.base.json"),
    )
    .unwrap();
    let (out, forged) = gate.run(&["--from-results", results.to_str().unwrap()]);
    assert_exit(&out, 1);
    assert_eq!(forged["models"][0]["latency_source"]["kind"], "rejected");
    assert_eq!(criterion(&forged, "latency reference")["status"], "fail");
    assert_eq!(criterion(&forged, "recall (malignant)")["status"], "fail");

    // Removing the evaluation does not make the accuracy criteria vanish.
    let mut candidate: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(results.join("cancer.json")).unwrap())
            .unwrap();
    candidate.as_object_mut().unwrap().remove("eval");
    std::fs::write(results.join("cancer.json"), candidate.to_string()).unwrap();
    std::fs::remove_file(results.join("cancer.base.json")).unwrap();
    let (out, no_eval) = gate.run(&["--from-results", results.to_str().unwrap()]);
    assert_exit(&out, 1);
    assert_eq!(criterion(&no_eval, "evaluation")["status"], "fail");
}

#[test]
fn compare_judges_two_results_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = root().join("models/data/breast_cancer/test.csv");
    let file = |name: &str| dir.path().join(name);
    for (model_file, json) in [
        ("cancer_fp32.onnx", "base.json"),
        ("cancer_lowrecall.onnx", "cand.json"),
    ] {
        let out = modelgate(&[
            "eval",
            model(model_file).to_str().unwrap(),
            "--dataset",
            data.to_str().unwrap(),
            "--activation",
            "sigmoid",
            "--class-names",
            "benign,malignant",
            "--json",
            file(json).to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = modelgate(&[
        "compare",
        "--baseline",
        file("base.json").to_str().unwrap(),
        "--candidate",
        file("cand.json").to_str().unwrap(),
        "--json",
        file("cmp.json").to_str().unwrap(),
    ]);
    assert_exit(&out, 1);
    let comparison: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file("cmp.json")).unwrap()).unwrap();
    assert_eq!(
        criterion(&comparison, "recall (malignant)")["status"],
        "fail"
    );
    let tests = comparison["models"][0]["tests"].as_array().unwrap();
    assert!(
        tests.iter().all(|t| t["adjusted_p"].as_f64().is_some()),
        "every test carries a Holm-adjusted p"
    );
}

#[test]
fn bad_config_and_baselines_are_errors_with_exit_2() {
    let gate = Gate::new(&cancer("cancer_fp32.onnx", None, ""));
    std::fs::write(
        gate.path("baselines/cancer.json"),
        "{\"schema_version\": 7}",
    )
    .unwrap();
    let (out, comparison) = gate.run(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(comparison["models"][0]["error"]
        .as_str()
        .unwrap()
        .contains("schema_version 7"));

    let typo = Gate::new(&cancer(
        "cancer_fp32.onnx",
        None,
        "[models.criteria]\nmax_p95_regresion_pct = 3\n",
    ));
    assert_user_error(&typo.run(&[]).0, "max_p95_regresion_pct");
    let missing = Path::new("/nonexistent/modelgate.toml");
    assert_user_error(
        &modelgate(&["gate", "--config", missing.to_str().unwrap()]),
        "/nonexistent/modelgate.toml",
    );
}

#[test]
fn peak_memory_is_each_models_own() {
    // A larger model A/B'd first, then the small cancer model: the gate process's own peak holds
    // both resnet sessions, but the cancer model's figure and its limit are for it alone.
    let dir = tempfile::tempdir().unwrap();
    let resnet = respun(dir.path(), "resnet_small.onnx");
    // Latency limits wide enough that a busy test machine's timing decides nothing here.
    let body = format!(
        "[criteria]\nmax_p50_regression_pct = 1000.0\nmax_p95_regression_pct = 1000.0\n\
         max_p99_regression_pct = 1000.0\n\n\
         [[models]]\nname = \"resnet\"\ncandidate = {:?}\nbase_model = {:?}\n\
         [models.bench]\niterations = 200\nwarmup_s = 0.1\nmax_time_s = 2\n\n{}",
        resnet,
        model("resnet_small.onnx"),
        cancer("cancer_fp32.onnx", None, ""),
    );
    let gate = Gate::new(&body);
    let results = gate.path("results");
    let (out, _) = gate.run(&["--allow-new", "--results-dir", results.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let peak = |file: &str| {
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(results.join(file)).unwrap()).unwrap();
        r["bench"]["memory"]["peak_rss_bytes"].as_u64().unwrap()
    };
    let (resnet_peak, cancer_peak) = (peak("resnet.json"), peak("cancer.json"));
    assert!(
        cancer_peak < resnet_peak,
        "cancer {cancer_peak} should be below resnet {resnet_peak}"
    );
    assert!(peak("resnet.base.json") > 0);
}

/// The lines of `log` a GitHub Actions runner would execute as workflow commands (it ends lines
/// at `\n`, `\r\n` and a lone `\r`).
fn runner_commands(log: &str) -> Vec<String> {
    let mut runner = support::commands::CommandProcessor::default();
    log.split(['\n', '\r'])
        .filter_map(|line| runner.process(line))
        .map(|command| command.line)
        .collect()
}

#[test]
fn text_from_a_results_file_never_reaches_the_log_as_a_workflow_command() {
    let (gate, results, _) = measured_artifact();
    let file = results.join("cancer.json");
    let mut candidate: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    candidate["environment"]["cpu_model"] = "X\n::error title=forged::cpu".into();
    candidate["bench"]["notes"] = serde_json::json!([
        "ok\r::warning title=forged::note",
        "  ::add-mask::forged-mask\n::stop-commands::forged"
    ]);
    std::fs::write(&file, candidate.to_string()).unwrap();
    // Without the base file the committed baseline's hardware is compared, so the CPU model is
    // quoted in the report.
    std::fs::remove_file(results.join("cancer.base.json")).unwrap();

    let (out, comparison) = gate.run(&["--from-results", results.to_str().unwrap()]);
    assert_exit(&out, 1);
    let log = format!("{}{}", stdout(&out), stderr(&out));
    assert!(log.contains("forged"), "the hostile text is shown: {log}");
    assert_eq!(runner_commands(&log), Vec::<String>::new(), "{log}");

    // The annotations modelgate writes are its own commands, whatever they quote.
    let json = gate.path("comparison.json");
    std::fs::write(&json, comparison.to_string()).unwrap();
    let out = modelgate(&["annotate", "--comparison", json.to_str().unwrap()]);
    assert_exit(&out, 0);
    let commands = runner_commands(&stdout(&out));
    assert!(!commands.is_empty());
    for command in commands {
        assert!(command.starts_with("::error file="), "{command}");
    }

    // A sample id the baseline does not know is quoted in the model's error.
    candidate["eval"]["samples"][0]["id"] = "s\n::error title=forged::id".into();
    std::fs::write(&file, candidate.to_string()).unwrap();
    let (out, comparison) = gate.run(&["--from-results", results.to_str().unwrap()]);
    assert_exit(&out, 2);
    assert!(comparison["models"][0]["error"]
        .as_str()
        .unwrap()
        .contains("::error title=forged::id"));
    let log = format!("{}{}", stdout(&out), stderr(&out));
    assert!(log.contains("forged::id"), "{log}");
    assert_eq!(runner_commands(&log), Vec::<String>::new(), "{log}");
}

/// The cancer test set with a `site` column: the first 20 rows from site "small", the rest from
/// "big". Written under the name `test.csv`, so sample ids match the approved baseline's.
fn cancer_with_sites(gate: &Gate) -> PathBuf {
    let text = std::fs::read_to_string(root().join("models/data/breast_cancer/test.csv")).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let site = match i {
            0 => "site",
            1..=20 => "small",
            _ => "big",
        };
        out.push_str(&format!("{site},{line}\n"));
    }
    std::fs::create_dir_all(gate.path("data")).unwrap();
    let path = gate.path("data/test.csv");
    std::fs::write(&path, out).unwrap();
    path
}

/// `cancer(...)` reading the dataset at `data` with `slices = ["site"]`.
fn cancer_sliced(gate: &Gate, extra: &str) -> String {
    let data = cancer_with_sites(gate);
    cancer("cancer_fp32.onnx", Some("cancer_fp32.onnx"), extra)
        .replace(
            &format!("{:?}", root().join("models/data/breast_cancer/test.csv")),
            &format!("{data:?}"),
        )
        .replace(
            "[models.dataset]\n",
            "[models.dataset]\nslices = [\"site\"]\n",
        )
}

#[test]
fn subgroups_are_reported_and_judged_when_large_enough() {
    let gate = Gate::new("").with_baseline();
    let body = cancer_sliced(
        &gate,
        "[models.criteria]\nslice_min_recall = 0.5\nslice_max_recall_drop_pts = 1.0\n\
         max_auroc_drop_pts = 1.0\nmax_precision_drop_pts = 1.0\nmax_specificity_drop_pts = 1.0\n\
         min_class_recall = 0.5\nmax_ece = 0.5\n",
    );
    std::fs::write(gate.path("modelgate.toml"), body).unwrap();
    let report = gate.path("report.md");
    let results = gate.path("artifact");
    let (out, comparison) = gate.run(&[
        "--report",
        report.to_str().unwrap(),
        "--results-dir",
        results.to_str().unwrap(),
    ]);
    assert_exit(&out, 0);
    // The results' eval section keeps each sample's subgroup and the per-subgroup metrics.
    let measured: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(results.join("cancer.json")).unwrap())
            .unwrap();
    assert_eq!(measured["eval"]["samples"][0]["slices"]["site"], "small");
    let eval_slices = measured["eval"]["slices"].as_array().unwrap();
    assert_eq!(eval_slices.len(), 2);
    assert_eq!(eval_slices[0]["value"], "big");
    assert_eq!(eval_slices[0]["n"], 151);
    assert!(eval_slices[0]["positive_recall_ci95"]["lower"].is_number());
    let slices = comparison["models"][0]["accuracy"]["slices"]
        .as_array()
        .unwrap();
    let values: Vec<(&str, bool)> = slices
        .iter()
        .map(|s| {
            (
                s["candidate"]["value"].as_str().unwrap(),
                s["judged"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(values, [("big", true), ("small", false)]);
    assert_eq!(
        criterion(&comparison, "recall (malignant) in site=big")["status"],
        "pass"
    );
    let small = criterion(&comparison, "recall (malignant) in site=small");
    assert_eq!(small["status"], "skipped");
    assert!(small["detail"]
        .as_str()
        .unwrap()
        .contains("fewer than min_slice_size = 30"));
    for name in [
        "AUROC (malignant)",
        "precision (malignant)",
        "specificity (not malignant)",
        "minimum recall of class benign",
        "expected calibration error",
    ] {
        assert_eq!(criterion(&comparison, name)["status"], "pass", "{name}");
    }
    let text = std::fs::read_to_string(report).unwrap();
    assert!(
        text.contains("| Subgroup |")
            && text.contains("site\\=small")
            && text.contains("reported only"),
        "{text}"
    );
}

#[test]
fn a_slice_column_missing_from_the_data_names_the_columns_present() {
    let gate = Gate::new("").with_baseline();
    let body = cancer_sliced(&gate, "").replace("slices = [\"site\"]", "slices = [\"hospital\"]");
    std::fs::write(gate.path("modelgate.toml"), body).unwrap();
    let (out, _) = gate.run(&[]);
    assert_exit(&out, 2);
    let err = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        err.contains("no column \"hospital\" (columns present: site, mean_radius"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// The confidence labels in `line`: "(95 %)", "99.9 % CI", "Wilson 95 %" (markdown's
/// backslash escapes removed first).
fn confidence_labels(line: &str) -> Vec<String> {
    let clean = line.replace('\\', "");
    let mut labels = Vec::new();
    for (at, _) in clean.match_indices(" %") {
        let before = &clean[..at];
        let start = before
            .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
            .map_or(0, |p| p + 1);
        let (prefix, number, after) = (&before[..start], &before[start..], &clean[at + 2..]);
        if number.is_empty() {
            continue;
        }
        let in_parens = prefix.ends_with('(') && after.starts_with(')');
        if in_parens || after.starts_with(" CI") || prefix.ends_with("Wilson ") {
            labels.push(number.to_string());
        }
    }
    labels
}

/// A confidence as the reports write it: 0.9875 -> "98.75", 0.95 -> "95".
fn percent_label(confidence: f64) -> String {
    let text = format!("{:.2}", confidence * 100.0);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[test]
fn every_interval_is_labelled_with_its_own_confidence_and_progress_counts_the_runs_timed() {
    // Latency intervals at 99.9 % (the first of four looks, which spends 0.1 %; 95.1-95.3 % on
    // a runner slow enough that the last look decides), quality intervals at 95 %, a Wilson
    // floor, and tails too short to judge: all in one run, shown in every output.
    // A budget it does not use up (the slowdown settles at the first look), so the A/B's end
    // comes before the budget's.
    let body = cancer(
        "cancer_slow.onnx",
        Some("cancer_fp32.onnx"),
        "[models.criteria]\nmin_recall = 0.8\n",
    )
    .replace("max_time_s = 2\n", "max_time_s = 8\n");
    let gate = Gate::new(&body).with_baseline();
    let report = gate.path("report.md");
    let (out, comparison) = gate.run(&["--report", report.to_str().unwrap()]);
    assert_exit(&out, 1);
    let json = gate.path("comparison.json");
    let render = |format: &str| {
        let out = modelgate(&[
            "report",
            "--comparison",
            json.to_str().unwrap(),
            "--format",
            format,
        ]);
        assert_exit(&out, 0);
        stdout(&out)
    };
    let outputs = [
        ("terminal", stdout(&out)),
        ("comment", std::fs::read_to_string(&report).unwrap()),
        ("summary", render("summary")),
        ("html", render("html")),
    ];
    let model = &comparison["models"][0];
    // Each criterion's and each test's lines carry its own interval's confidence, or none.
    let mut named: Vec<(String, Option<String>)> = Vec::new();
    for item in model["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .chain(model["tests"].as_array().unwrap())
    {
        let confidence = item["ci"]["confidence"].as_f64().map(percent_label);
        named.push((item["name"].as_str().unwrap().to_string(), confidence));
    }
    let labelled: Vec<&str> = named.iter().filter_map(|(_, c)| c.as_deref()).collect();
    let p50 = named.iter().find(|(name, _)| name == "p50 latency");
    let p50 = p50.and_then(|(_, c)| c.as_deref());
    assert!(
        matches!(p50, Some("99.9" | "95.1" | "95.2" | "95.3")) && labelled.contains(&"95"),
        "{named:?}"
    );
    let mut checked = 0;
    for (output, text) in &outputs {
        for line in text.lines() {
            let plain = line.replace('\\', "");
            // The longest name a line holds decides ("minimum recall (malignant)" over
            // "recall (malignant)").
            let Some((name, confidence)) = named
                .iter()
                .filter(|(name, _)| plain.contains(name.as_str()))
                .max_by_key(|(name, _)| name.len())
            else {
                continue;
            };
            for label in confidence_labels(line) {
                assert_eq!(
                    Some(&label),
                    confidence.as_ref(),
                    "{output}: `{name}` labelled {label} %: {line}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "only {checked} labels found");

    // The terminal's criterion rows start their values in one column, whatever the names'
    // lengths ("minimum recall (malignant)" is the longest here).
    let terminal = &outputs[0].1;
    let mut starts = Vec::new();
    for c in model["criteria"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        // "  STATUS  NAME  VALUES": the row whose second word starts the name.
        let row = terminal.lines().find(|l| {
            let rest = l.trim_start();
            l.starts_with("  ")
                && rest
                    .split_once(' ')
                    .is_some_and(|(_, tail)| tail.trim_start().starts_with(name))
        });
        let row = row.unwrap_or_else(|| panic!("no row for {name}:\n{terminal}"));
        let at = row.find(name).unwrap() + name.len();
        starts.push((name, at + row[at..].len() - row[at..].trim_start().len()));
    }
    assert!(starts.len() >= 6, "{starts:?}\n{terminal}");
    assert!(
        starts.iter().all(|(_, at)| *at == starts[0].1),
        "{starts:?}\n{terminal}"
    );

    // One sign convention, candidate relative to base: a change, a t statistic and a ratio
    // effect all say "higher" the same way.
    for c in model["criteria"].as_array().unwrap() {
        if let (Some(base), Some(cand), Some(change)) = (
            c["baseline"].as_f64(),
            c["candidate"].as_f64(),
            c["change"].as_f64(),
        ) {
            assert_eq!((cand - base).signum(), change.signum(), "{c}");
        }
    }
    for t in model["tests"].as_array().unwrap() {
        if t["effect_name"].as_str().unwrap().contains("ratio") {
            let (stat, effect) = (
                t["statistic"].as_f64().unwrap(),
                t["effect_size"].as_f64().unwrap(),
            );
            assert_eq!(stat > 0.0, effect > 1.0, "{t}");
        }
    }

    // The last progress line of the A/B counts the runs the JSON records for each model.
    let log = stderr(&out);
    let last = log
        .lines()
        .rfind(|l| l.starts_with("A/B: "))
        .unwrap_or_else(|| panic!("no A/B progress: {log}"));
    let counts = last.split_once('(').unwrap().1.split_once(' ').unwrap().0;
    let runs = model["latency"]["baseline_runs"].as_u64().unwrap();
    assert_eq!(counts, format!("{runs}/{runs}"), "{log}");
    assert_eq!(model["latency"]["candidate_runs"].as_u64(), Some(runs));
}

#[test]
fn a_gate_before_the_first_commit_says_to_commit_and_names_the_model_once() {
    // A new user's order: init, approve, gate, before any commit; and the same outside git.
    for in_git in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let body = format!(
            "[[models]]\nname = \"cancer\"\ncandidate = {:?}\nbase_ref = \"merge-base\"\n",
            model("cancer_fp32.onnx")
        );
        std::fs::write(dir.path().join("modelgate.toml"), body).unwrap();
        if in_git {
            support::git(dir.path(), &["init", "--quiet"]);
        }
        let config = dir.path().join("modelgate.toml");
        let out = modelgate(&["gate", "--config", config.to_str().unwrap()]);
        assert_exit(&out, 2);
        let err = stderr(&out);
        let line = err
            .lines()
            .find(|l| l.starts_with("error: model `cancer`"))
            .unwrap_or_else(|| panic!("{err}"));
        assert_eq!(line.matches("model `cancer`").count(), 1, "{line}");
        let fix = if in_git {
            "has no commit yet"
        } else {
            "is not in a git repository"
        };
        assert!(line.contains(fix) && line.contains("base_model"), "{line}");
    }
}
