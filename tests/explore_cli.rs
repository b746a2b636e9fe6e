//! `modelgate explore` on the demo's tabular model and its fp16 and int8 variants, through the
//! real ONNX Runtime: the three files, the CSV against the JSON, the Pareto front against a
//! brute-force search, and constraints no variant meets (exit 1).

use crate::support;

use std::path::Path;

use support::{assert_exit, root};

/// The cancer model with its two committed variants and short timings, in `dir`.
fn project(dir: &Path, constraints: &str) -> std::path::PathBuf {
    for file in ["cancer_fp32.onnx", "cancer_fp16.onnx", "cancer_int8.onnx"] {
        std::fs::create_dir_all(dir.join("models")).unwrap();
        std::fs::copy(
            root().join("models").join(file),
            dir.join("models").join(file),
        )
        .unwrap();
    }
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::copy(
        root().join("models/data/breast_cancer/test.csv"),
        dir.join("data/test.csv"),
    )
    .unwrap();
    let config = format!(
        r#"[[models]]
name = "cancer"
candidate = "models/cancer_fp32.onnx"

[models.dataset]
path = "data/test.csv"

[models.postprocess]
activation = "sigmoid"
threshold = 0.5
class_names = ["benign", "malignant"]
positive_class = "malignant"

[models.bench]
iterations = 300
warmup_s = 0.1
intra_threads = 1

[[models.variants]]
name = "fp16"
file = "models/cancer_fp16.onnx"

[[models.variants]]
name = "int8"
file = "models/cancer_int8.onnx"

{constraints}
"#
    );
    let path = dir.join("modelgate.toml");
    std::fs::write(&path, config).unwrap();
    path
}

fn explore(config: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "explore",
        "--config",
        config.to_str().unwrap(),
        "--model",
        "cancer",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    support::modelgate(&args)
}

#[test]
fn explore_writes_a_dashboard_whose_csv_and_front_agree_with_its_json() {
    let dir = tempfile::tempdir().unwrap();
    let config = project(dir.path(), "[explore.constraints]\nrecall_min = 0.5\n");
    let out = dir.path().join("out");
    let run = explore(&config, &out, &["--peak-qps", "200000", "--safety", "2"]);
    assert_exit(&run, 0);
    for file in [
        "dashboard.csv",
        "summary.json",
        "tradeoff.svg",
        "tradeoff.png",
        "report.md",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let png = std::fs::read(out.join("tradeoff.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "tradeoff.png is not a PNG");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let variants = summary["variants"].as_array().unwrap();
    let names: Vec<&str> = variants
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["reference", "fp16", "int8"]);
    assert_eq!(variants[0]["versus_reference"], "reference");
    for v in &variants[1..] {
        assert!(v["accuracy_p_adj"].is_number(), "{v}");
        for p in [
            "latency_p50_p_adj",
            "latency_p95_p_adj",
            "recall_p_adj",
            "f1_p_adj",
            "auroc_p_adj",
        ] {
            assert!(v[p].is_number(), "{p}: {v}");
        }
        // Each change carries its interval, the change inside it.
        for (change, low, high) in [
            (
                "accuracy_change_pts",
                "accuracy_change_ci_low",
                "accuracy_change_ci_high",
            ),
            (
                "recall_change_pts",
                "recall_change_ci_low",
                "recall_change_ci_high",
            ),
            ("f1_change_pts", "f1_change_ci_low", "f1_change_ci_high"),
            (
                "auroc_change_pts",
                "auroc_change_ci_low",
                "auroc_change_ci_high",
            ),
            (
                "latency_p50_ratio",
                "latency_p50_ci_low",
                "latency_p50_ci_high",
            ),
            (
                "latency_p95_ratio",
                "latency_p95_ci_low",
                "latency_p95_ci_high",
            ),
        ] {
            let (c, lo, hi) = (&v[change], &v[low], &v[high]);
            let (c, lo, hi) = (
                c.as_f64().unwrap(),
                lo.as_f64().unwrap(),
                hi.as_f64().unwrap(),
            );
            assert!(lo <= hi, "{low} {lo} > {high} {hi}");
            if change.ends_with("_pts") {
                assert!(lo <= c && c <= hi, "{change} {c} outside [{lo}, {hi}]");
            }
        }
    }
    // Timed together, as the gate times a base and a candidate.
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(log.contains("timing 3 variants interleaved"), "{log}");

    // Every CSV cell is the JSON's value for its column (numbers compared as numbers).
    let csv = std::fs::read_to_string(out.join("dashboard.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let front: Vec<&str> = summary["pareto_front"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    for (line, variant) in lines.zip(variants) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), header.len(), "{line}");
        for (column, cell) in header.iter().zip(&cells) {
            let value = &variant[*column];
            match *column {
                "pareto" => assert_eq!(
                    *cell == "true",
                    front.contains(&variant["name"].as_str().unwrap())
                ),
                "missed" => assert_eq!(value.as_array().unwrap().is_empty(), cell.is_empty()),
                "instances_for_peak" => assert_eq!(
                    *cell,
                    variant["capacity"]["instances"].to_string(),
                    "{column}"
                ),
                _ => match value {
                    serde_json::Value::Null => assert_eq!(*cell, "", "{column}"),
                    serde_json::Value::Number(n) => {
                        let parsed: f64 =
                            cell.parse().unwrap_or_else(|_| panic!("{column}: {cell}"));
                        // serde_json's default float parsing may land one ulp off the
                        // written digits; the CSV holds the same digits as the JSON file.
                        let want = n.as_f64().unwrap();
                        assert!(
                            (parsed - want).abs() <= 1e-12 * want.abs().max(1.0),
                            "{column}: {parsed} against {want}"
                        );
                    }
                    serde_json::Value::Bool(b) => assert_eq!(*cell, b.to_string(), "{column}"),
                    serde_json::Value::String(s) => assert_eq!(*cell, s, "{column}"),
                    other => panic!("{column}: unexpected {other}"),
                },
            }
        }
    }

    // The front, by brute force over the JSON's points: the variants meeting the constraints,
    // p95 latency against the quality the constraints guard (recall, with recall_min set).
    assert_eq!(summary["tradeoff"], "recall");
    let eligible: Vec<usize> = (0..variants.len())
        .filter(|&i| variants[i]["meets_constraints"] == true)
        .collect();
    let point = |i: usize| {
        (
            variants[i]["latency_p95_ms"].as_f64().unwrap(),
            variants[i]["recall"].as_f64().unwrap(),
        )
    };
    let brute: Vec<&str> = eligible
        .iter()
        .copied()
        .filter(|&i| {
            !eligible.iter().any(|&j| {
                let (a, b) = (point(j), point(i));
                j != i && a.0 <= b.0 && a.1 >= b.1 && (a.0 < b.0 || a.1 > b.1)
            })
        })
        .map(|i| names[i])
        .collect();
    assert_eq!(front, brute);
    assert!(!front.is_empty());
    // Each variant's capacity for the peak, recomputed from its own throughput.
    for v in variants {
        let rate = v["throughput_samples_per_s"].as_f64().unwrap();
        let want = (200000.0 * 2.0 / (rate * 0.7)).ceil();
        assert_eq!(
            v["capacity"]["instances"].as_f64().unwrap(),
            want.max(1.0),
            "{v}"
        );
    }
    // The composite's best is the highest score among those meeting the constraints.
    let best = summary["best"]["composite"].as_str().unwrap();
    let top = variants
        .iter()
        .filter(|v| v["meets_constraints"] == true)
        .max_by(|a, b| {
            a["composite_score"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["composite_score"].as_f64().unwrap())
        })
        .unwrap();
    assert_eq!(
        top["composite_score"],
        variants.iter().find(|v| v["name"] == best).unwrap()["composite_score"]
    );
}

#[test]
fn constraints_that_exclude_every_variant_exit_1_naming_what_each_missed() {
    let dir = tempfile::tempdir().unwrap();
    let config = project(
        dir.path(),
        "[explore.constraints]\nlatency_p95_ms = 0.000001\naccuracy_min = 0.5\n",
    );
    let out = dir.path().join("out");
    let run = explore(&config, &out, &[]);
    assert_exit(&run, 1);
    assert!(
        support::stderr(&run).contains("no variant meets the constraints"),
        "{}",
        support::stderr(&run)
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert!(
        summary["best"].as_object().unwrap().is_empty(),
        "{}",
        summary["best"]
    );
    for v in summary["variants"].as_array().unwrap() {
        assert_eq!(v["meets_constraints"], false);
        assert!(
            v["missed"][0]
                .as_str()
                .unwrap()
                .starts_with("latency_p95_ms "),
            "{v}"
        );
    }
}

#[test]
fn a_model_without_variants_or_an_unknown_model_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = project(dir.path(), "");
    let text = std::fs::read_to_string(&config).unwrap();
    let bare = text
        .split("[[models.variants]]")
        .next()
        .unwrap()
        .to_string();
    std::fs::write(&config, bare).unwrap();
    let run = explore(&config, &dir.path().join("out"), &[]);
    support::assert_user_error(&run, "has no variants to explore");
    let run = support::modelgate(&[
        "explore",
        "--config",
        config.to_str().unwrap(),
        "--model",
        "nope",
    ]);
    support::assert_user_error(&run, "--model nope: the config has no such model");
}

#[test]
fn a_batched_variant_is_timed_at_its_batch_and_a_fixed_batch_model_refuses_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = project(dir.path(), "");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "name = \"int8\"\nfile = \"models/cancer_int8.onnx\"",
        "name = \"int8\"\nfile = \"models/cancer_int8.onnx\"\nbatch = 8",
    );
    std::fs::write(&config, text).unwrap();
    let out = dir.path().join("out");
    let run = explore(&config, &out, &[]);
    assert_exit(&run, 0);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let int8 = &summary["variants"][2];
    assert_eq!(int8["batch"], 8);
    let f = |k: &str| int8[k].as_f64().unwrap();
    assert!((f("sample_p50_ms") - f("latency_p50_ms") / 8.0).abs() < 1e-12);
    assert!((f("throughput_samples_per_s") - 8000.0 / f("latency_mean_ms")).abs() < 1e-6);

    // A model whose first dim is fixed cannot be batched: one line naming the batch and the
    // file, exit 2, and nothing written.
    std::fs::copy(
        root().join("models/tiny.onnx"),
        dir.path().join("models/tiny.onnx"),
    )
    .unwrap();
    std::fs::write(
        &config,
        "[[models]]\nname = \"cancer\"\ncandidate = \"models/tiny.onnx\"\n\n[models.bench]\niterations = 50\n\n\
         [[models.variants]]\nname = \"batched\"\nbatch = 4\n",
    )
    .unwrap();
    let fresh = dir.path().join("fresh");
    let run = explore(&config, &fresh, &[]);
    support::assert_user_error(&run, "batch 4: the first dim of");
    assert!(support::stderr(&run).contains("tiny.onnx"));
    assert!(!fresh.join("summary.json").exists());
}

#[test]
fn files_and_a_dataset_without_a_config_are_explored_with_inits_guesses() {
    // The digits models and their labeled scans, no config: settings are guessed as
    // `modelgate init` guesses them, and each variant's accuracy must equal Python's
    // (onnxruntime with PIL preprocessing, models/metrics.json, written by
    // models/make_models.py).
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = support::modelgate(&[
        "explore",
        root().join("models/digits_fp32.onnx").to_str().unwrap(),
        root()
            .join("models/digits_lowrecall.onnx")
            .to_str()
            .unwrap(),
        "--dataset",
        root().join("models/data/digits/test.csv").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_exit(&run, 0);
    assert!(support::stderr(&run).contains("as `modelgate init` guesses them"));
    let python: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("models/metrics.json")).unwrap())
            .unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    for (row, variant) in summary["variants"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["fp32", "lowrecall"])
    {
        assert_eq!(row["name"], format!("digits_{variant}"));
        let want = python["digits"]["variants"][variant]["accuracy"]
            .as_f64()
            .unwrap();
        let got = row["accuracy"].as_f64().unwrap();
        assert!(
            (got - want).abs() < 1e-4,
            "{variant}: {got} against Python's {want}"
        );
    }
    assert!(summary["variants"][1]["accuracy_change_ci_low"].is_number());

    // Neither a config model nor files: one line saying what to give.
    let run = support::modelgate(&["explore", "--out", out.to_str().unwrap()]);
    support::assert_user_error(&run, "give --model NAME");
}

#[test]
fn a_dataset_on_the_command_line_replaces_the_models_own() {
    let dir = tempfile::tempdir().unwrap();
    let config = project(dir.path(), "");
    // The first 80 rows of the test set.
    let full = std::fs::read_to_string(dir.path().join("data/test.csv")).unwrap();
    let subset: Vec<&str> = full.lines().take(81).collect();
    let subset_path = dir.path().join("subset.csv");
    std::fs::write(&subset_path, subset.join("\n") + "\n").unwrap();
    let out = dir.path().join("out");
    let missing = dir.path().join("nope.csv");
    let run = explore(&config, &out, &["--dataset", missing.to_str().unwrap()]);
    support::assert_user_error(&run, "nope.csv does not exist; check the path");
    assert!(!out.exists(), "nothing written");
    let run = explore(&config, &out, &["--dataset", subset_path.to_str().unwrap()]);
    assert_exit(&run, 0);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    // `modelgate eval` of the reference with the same config model and the subset.
    let json = dir.path().join("eval.json");
    let eval = support::modelgate(&[
        "eval",
        dir.path().join("models/cancer_fp32.onnx").to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--model-name",
        "cancer",
        "--dataset",
        subset_path.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_exit(&eval, 0);
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(results["eval"]["samples"].as_array().unwrap().len(), 80);
    assert_eq!(
        summary["variants"][0]["accuracy"],
        results["eval"]["metrics"]["accuracy"]
    );
}

#[test]
fn a_variant_under_the_recall_floor_is_never_best_nor_on_the_front_and_is_drawn_apart() {
    let dir = tempfile::tempdir().unwrap();
    // lowrecall: the same accuracy as fp32 (163 of 171), recall 0.875 against 0.9375
    // (models/metrics.json), so only a recall floor tells it apart.
    let config = project(dir.path(), "[explore.constraints]\nrecall_min = 0.9\n");
    std::fs::copy(
        root().join("models/cancer_lowrecall.onnx"),
        dir.path().join("models/cancer_lowrecall.onnx"),
    )
    .unwrap();
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[explore.constraints]",
        "[[models.variants]]\nname = \"lowrecall\"\nfile = \"models/cancer_lowrecall.onnx\"\n\n[explore.constraints]",
    );
    std::fs::write(&config, text).unwrap();
    let out = dir.path().join("out");
    let run = explore(&config, &out, &[]);
    assert_exit(&run, 0);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["tradeoff"], "recall");
    let low = summary["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "lowrecall")
        .unwrap();
    assert_eq!(low["meets_constraints"], false, "{low}");
    assert_eq!(low["missed"][0], "recall_min 0.8750 < 0.9", "{low}");
    for (dim, name) in summary["best"].as_object().unwrap() {
        assert_ne!(name, "lowrecall", "best {dim}");
    }
    for (dim, names) in summary["ties"].as_object().unwrap() {
        assert!(
            names.as_array().unwrap().iter().all(|n| n != "lowrecall"),
            "tie {dim}"
        );
    }
    let front = summary["pareto_front"].as_array().unwrap();
    assert!(!front.is_empty());
    assert!(front.iter().all(|n| n != "lowrecall"), "{front:?}");
    // The terminal says why it is left out.
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains(
            "lowrecall is neither best nor on the front: it misses recall_min 0.8750 < 0.9"
        ),
        "{stdout}"
    );
    // The plot weighs recall, draws the floor with its label, the variant as a cross in its
    // own colour, and a legend.
    let svg = std::fs::read_to_string(out.join("tradeoff.svg")).unwrap();
    for text in [
        "cancer: latency against recall",
        "recall floor 90.0 %",
        "misses a constraint",
        "Pareto front",
        "reference",
        "lowrecall",
    ] {
        assert!(svg.contains(&format!("\n{text}\n</text>")), "{text}");
    }
    assert!(svg.contains("stroke=\"#BC4C00\""), "no cross drawn");
}

/// Variants are evaluated together, each sample read once for all: each variant's scores equal
/// `modelgate eval` of its file alone, to the last bit.
#[test]
fn variants_evaluated_together_score_as_each_alone() {
    let dir = tempfile::tempdir().unwrap();
    let config = project(dir.path(), "");
    let out = dir.path().join("out");
    let run = explore(&config, &out, &[]);
    assert_exit(&run, 0);
    assert!(
        support::stderr(&run).contains("evaluated 3 variants in"),
        "{}",
        support::stderr(&run)
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    for (variant, file) in [
        ("cancer_fp32", "cancer_fp32.onnx"),
        ("fp16", "cancer_fp16.onnx"),
        ("int8", "cancer_int8.onnx"),
    ] {
        let json = dir.path().join(format!("{variant}.json"));
        let model = dir.path().join("models").join(file);
        let alone = support::modelgate(&[
            "eval",
            model.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--model-name",
            "cancer",
            "--json",
            json.to_str().unwrap(),
        ]);
        assert_exit(&alone, 0);
        let metrics: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let metrics = &metrics["eval"]["metrics"];
        let row = summary["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["file"].as_str().unwrap().ends_with(file))
            .unwrap_or_else(|| panic!("no row for {file}: {summary}"));
        assert_eq!(row["accuracy"], metrics["accuracy"], "{variant}");
        assert_eq!(row["auroc"], metrics["auroc"], "{variant}");
        assert_eq!(row["recall"], metrics["positive"]["recall"], "{variant}");
    }
}
