//! `modelgate eval` on the real ONNX Runtime: the project's models and labeled data, checked
//! against the numbers models/make_models.py measured with Python's onnxruntime
//! (models/metrics.json), and every kind of bad input.

use crate::support;

use std::path::Path;

use support::{assert_user_error, model, modelgate, root, stderr, stdout};

fn metrics() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("models/metrics.json")).unwrap())
        .unwrap()
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn eval_digits(model_file: &str, json: &Path) -> serde_json::Value {
    let manifest = root().join("models/data/digits/test.csv");
    let out = modelgate(&[
        "eval",
        path_str(&model(model_file)),
        "--dataset",
        path_str(&manifest),
        "--color",
        "gray",
        "--json",
        path_str(json),
    ]);
    assert!(out.status.success(), "{model_file}: {}", stderr(&out));
    read_json(json)
}

#[test]
fn digits_accuracy_matches_python_onnxruntime_for_every_variant() {
    let dir = tempfile::tempdir().unwrap();
    let reference = metrics();
    for variant in ["fp32", "fp16", "lowrecall"] {
        let results = eval_digits(
            &format!("digits_{variant}.onnx"),
            &dir.path().join(format!("{variant}.json")),
        );
        let eval = &results["eval"];
        let expected = reference["digits"]["variants"][variant]["accuracy"]
            .as_f64()
            .unwrap();
        let got = eval["metrics"]["accuracy"].as_f64().unwrap();
        assert!(
            (got - expected).abs() < 1e-4,
            "{variant}: accuracy {got} vs Python {expected}"
        );
        assert_eq!(eval["samples"].as_array().unwrap().len(), 540);
        assert!(eval["stages"]["inference_pct"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn cancer_recall_goes_through_sigmoid_and_named_classes() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("cancer.json");
    let data = root().join("models/data/breast_cancer/test.csv");
    let reference = metrics();
    for (variant, file) in [
        ("fp32", "cancer_fp32.onnx"),
        ("lowrecall", "cancer_lowrecall.onnx"),
    ] {
        let out = modelgate(&[
            "eval",
            path_str(&model(file)),
            "--dataset",
            path_str(&data),
            "--activation",
            "sigmoid",
            "--class-names",
            "benign,malignant",
            "--positive-class",
            "malignant",
            "--json",
            path_str(&json),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stdout(&out).contains("recall of malignant"),
            "{}",
            stdout(&out)
        );
        let positive = &read_json(&json)["eval"]["metrics"]["positive"];
        let expected = reference["cancer"]["variants"][variant]["malignant_recall"]
            .as_f64()
            .unwrap();
        assert!(
            (positive["recall"].as_f64().unwrap() - expected).abs() < 1e-4,
            "{variant}: {positive}"
        );
        assert_eq!(positive["name"], "malignant");
    }
}

#[test]
fn eval_adds_its_section_to_the_bench_results_of_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("digits.json");
    let out = modelgate(&[
        "bench",
        path_str(&model("digits_fp32.onnx")),
        "--iterations",
        "50",
        "--json",
        path_str(&json),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let results = eval_digits("digits_fp32.onnx", &json);
    assert!(
        results["bench"]["runs"][0]["samples_ms"]
            .as_array()
            .unwrap()
            .len()
            == 50,
        "bench kept"
    );
    assert!(
        results["eval"]["metrics"]["accuracy"].as_f64().is_some(),
        "eval added"
    );
}

#[test]
fn bad_input_is_one_clear_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let digits = model("digits_fp32.onnx");
    let cancer = model("cancer_fp32.onnx");
    let manifest = root().join("models/data/digits/test.csv");

    // A corrupt image inside an otherwise good class-per-folder set.
    let images = dir.path().join("images");
    std::fs::create_dir_all(images.join("0")).unwrap();
    std::fs::copy(
        root().join("models/data/digits/test/0/0010.png"),
        images.join("0/good.png"),
    )
    .unwrap();
    std::fs::create_dir_all(images.join("1")).unwrap();
    std::fs::write(images.join("1/broken.png"), b"\x89PNG not really").unwrap();
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "path,label\n").unwrap();
    let tabular = root().join("models/data/breast_cancer/test.csv");
    // Values this large overflow the standardisation and the dot product to inf - inf = NaN.
    let header = std::fs::read_to_string(&tabular)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let huge_row = vec!["3e38"; 30].join(",");
    let nan = dir.path().join("nan.csv");
    std::fs::write(&nan, format!("{header}\n{huge_row},1\n")).unwrap();

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "eval",
                path_str(&digits),
                "--dataset",
                path_str(&images),
                "--color",
                "gray",
            ],
            "broken.png",
        ),
        (
            vec![
                "eval",
                path_str(&digits),
                "--dataset",
                path_str(&manifest),
                "--color",
                "gray",
                "--class-names",
                "a,b",
            ],
            "nor a class index",
        ),
        (
            vec![
                "eval",
                path_str(&digits),
                "--dataset",
                path_str(&empty),
                "--color",
                "gray",
            ],
            "empty",
        ),
        (
            vec![
                "eval",
                path_str(&digits),
                "--dataset",
                path_str(&manifest),
                "--color",
                "gray",
                "--class-names",
                "0,1,2,3,4,5,6,7,8,9,10,11",
            ],
            "12",
        ),
        (
            vec![
                "eval",
                path_str(&cancer),
                "--dataset",
                path_str(&nan),
                "--activation",
                "sigmoid",
                "--class-names",
                "0,1",
            ],
            "nan.csv",
        ),
        (
            vec![
                "eval",
                path_str(&cancer),
                "--dataset",
                path_str(&tabular),
                "--label-column",
                "diagnosis",
            ],
            "diagnosis",
        ),
        (
            vec!["eval", path_str(&digits), "--dataset", "missing/dir"],
            "missing/dir",
        ),
        (
            vec![
                "eval",
                path_str(&digits),
                "--dataset",
                path_str(&manifest),
                "--color",
                "purple",
            ],
            "purple",
        ),
    ];
    for (args, expected) in cases {
        let out = modelgate(&args);
        assert_user_error(&out, expected);
    }
}

/// Evaluates the cancer model through the gate config's settings plus `extra` flags.
fn eval_cancer_config(json: &Path, extra: &[&str]) -> std::process::Output {
    let (config, cancer) = (root().join("modelgate.toml"), model("cancer_fp32.onnx"));
    let mut args = vec![
        "eval",
        path_str(&cancer),
        "--config",
        path_str(&config),
        "--model-name",
        "cancer",
        "--json",
        path_str(json),
    ];
    args.extend_from_slice(extra);
    modelgate(&args)
}

#[test]
fn flags_given_with_a_config_override_it() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, strict) = (
        dir.path().join("plain.json"),
        dir.path().join("strict.json"),
    );
    let out = eval_cancer_config(&plain, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = eval_cancer_config(&strict, &["--threshold", "0.99", "--batch", "7"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (plain, strict) = (read_json(&plain), read_json(&strict));
    // The config's sigmoid, class names and positive class are kept; the threshold is the flag's.
    assert_eq!(plain["eval"]["postprocess"]["threshold"], 0.5);
    assert_eq!(strict["eval"]["postprocess"]["threshold"], 0.99);
    assert_eq!(strict["eval"]["postprocess"]["activation"], "sigmoid");
    assert_eq!(strict["eval"]["batch_size"], 7);
    assert_eq!(strict["eval"]["dataset"]["classes"][1], "malignant");
    let recall =
        |r: &serde_json::Value| r["eval"]["metrics"]["positive"]["recall"].as_f64().unwrap();
    assert!(
        recall(&strict) < recall(&plain),
        "a 0.99 threshold must lower recall: {} vs {}",
        recall(&strict),
        recall(&plain)
    );

    // The digits config says softmax; --activation sigmoid must reach the results.
    let digits = dir.path().join("digits.json");
    let out = modelgate(&[
        "eval",
        path_str(&model("digits_fp32.onnx")),
        "--config",
        path_str(&root().join("modelgate.toml")),
        "--model-name",
        "digits",
        "--activation",
        "sigmoid",
        "--json",
        path_str(&digits),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        read_json(&digits)["eval"]["postprocess"]["activation"],
        "sigmoid"
    );
}

#[test]
fn a_config_with_several_models_needs_model_name_and_model_name_needs_a_config() {
    let config = root().join("modelgate.toml");
    let digits = model("digits_fp32.onnx");
    let out = modelgate(&["eval", path_str(&digits), "--config", path_str(&config)]);
    assert_user_error(&out, "pick one with --model-name");
    assert!(stderr(&out).contains("cancer, digits"), "{}", stderr(&out));
    let out = modelgate(&["eval", path_str(&digits), "--model-name", "digits"]);
    assert_user_error(&out, "--model-name digits: give the gate config too");
    let out = modelgate(&[
        "eval",
        path_str(&digits),
        "--config",
        path_str(&config),
        "--model-name",
        "digits",
        "--filter",
        "triangle",
    ]);
    assert_user_error(&out, "renamed to --interpolation");
}

#[test]
fn text_labels_without_class_names_warn_with_the_order_used() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("test.csv");
    let mut body = String::from("path,label\n");
    for (digit, word) in [(0, "zero"), (1, "one")] {
        let folder = root().join(format!("models/data/digits/test/{digit}"));
        let mut files: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for (i, file) in files.iter().take(5).enumerate() {
            let name = format!("{word}{i}.png");
            std::fs::copy(file, dir.path().join(&name)).unwrap();
            body.push_str(&format!("{name},{word}\n"));
        }
    }
    std::fs::write(&manifest, body).unwrap();
    let out = modelgate(&[
        "eval",
        path_str(&model("digits_fp32.onnx")),
        "--dataset",
        path_str(&manifest),
        "--color",
        "gray",
    ]);
    let err = stderr(&out);
    assert!(
        err.contains("warning: labels are text and no class names are given")
            && err.contains("(0=one, 1=zero)"),
        "{err}"
    );
    let out = modelgate(&[
        "eval",
        path_str(&model("digits_fp32.onnx")),
        "--dataset",
        path_str(&manifest),
        "--color",
        "gray",
        "--class-names",
        "zero,one,2,3,4,5,6,7,8,9",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("warning: labels"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_model_with_a_fixed_batch_runs_at_it_and_pads_the_last_batch() {
    let dir = tempfile::tempdir().unwrap();
    let dynamic = eval_digits("digits_fp32.onnx", &dir.path().join("dynamic.json"));
    let manifest = root().join("models/data/digits/test.csv");
    let json = dir.path().join("fixed.json");
    let out = modelgate(&[
        "eval",
        path_str(&root().join("models/testdata/digits_batch7.onnx")),
        "--dataset",
        path_str(&manifest),
        "--color",
        "gray",
        "--json",
        path_str(&json),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("has a fixed batch of 7; evaluating 7 sample(s) per run"),
        "{}",
        stderr(&out)
    );
    let fixed = read_json(&json);
    assert_eq!(fixed["eval"]["batch_size"], 7);
    // 540 samples: the last batch holds one sample and six copies whose outputs are dropped.
    let samples = |r: &serde_json::Value| r["eval"]["samples"].as_array().unwrap().clone();
    assert_eq!(samples(&fixed).len(), 540);
    for (a, b) in samples(&dynamic).iter().zip(samples(&fixed).iter()) {
        assert_eq!(a["id"], b["id"]);
        assert_eq!(a["pred"], b["pred"], "{}", a["id"]);
    }
}

/// The image demo end to end (libjpeg-turbo, torchvision's transform, the network): the same
/// correct count, recall and per-site recall as models/make_image_demo.py measured with Pillow,
/// numpy and Python's onnxruntime (models/metrics.json).
#[test]
fn scan_demo_matches_python_through_jpeg_decoding_and_torchvision_transform() {
    let dir = tempfile::tempdir().unwrap();
    let reference = metrics();
    let config = root().join("modelgate.toml");
    for variant in ["fp32", "lowrecall", "sitedrop"] {
        let json = dir.path().join(format!("{variant}.json"));
        let out = modelgate(&[
            "eval",
            path_str(&model(&format!("scan_{variant}.onnx"))),
            "--config",
            path_str(&config),
            "--model-name",
            "scan",
            "--json",
            path_str(&json),
        ]);
        assert!(out.status.success(), "{variant}: {}", stderr(&out));
        let eval = &read_json(&json)["eval"];
        let want = &reference["scan"]["variants"][variant];
        let samples = eval["samples"].as_array().unwrap();
        let correct = samples.iter().filter(|s| s["label"] == s["pred"]).count();
        assert_eq!(
            correct as u64,
            want["correct"].as_u64().unwrap(),
            "{variant}"
        );
        let recall = eval["metrics"]["positive"]["recall"].as_f64().unwrap();
        let want_recall = want["positive_recall"].as_f64().unwrap();
        assert!(
            (recall - want_recall).abs() < 1e-6,
            "{variant}: {recall} vs {want_recall}"
        );
        for site in ["a", "b", "c"] {
            let row = eval["slices"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["column"] == "site" && r["value"] == site)
                .unwrap_or_else(|| panic!("no site {site}"));
            let got = row["positive_recall"].as_f64().unwrap();
            let want = want[format!("recall_site_{site}")].as_f64().unwrap();
            assert!(
                (got - want).abs() < 1e-6,
                "{variant} site {site}: {got} vs {want}"
            );
        }
    }
}

/// A dataset or image checked out without `lfs: true` is a pointer file: the error says so and
/// names the fix, rather than calling the CSV malformed or the image undecodable.
#[test]
fn git_lfs_pointers_for_a_dataset_or_an_image_name_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n";
    let csv = dir.path().join("labels.csv");
    std::fs::write(&csv, pointer).unwrap();
    let digits = model("digits_fp32.onnx");
    let run = modelgate(&[
        "eval",
        path_str(&digits),
        "--dataset",
        path_str(&csv),
        "--color",
        "gray",
    ]);
    assert_user_error(
        &run,
        "is a Git LFS pointer, not the data; fetch it with `git lfs pull`",
    );
    // A manifest whose image is a pointer.
    std::fs::write(dir.path().join("a.png"), pointer).unwrap();
    std::fs::write(&csv, "path,label\na.png,0\nb.png,1\n").unwrap();
    std::fs::copy(
        root().join("models/data/digits/test/1/0021.png"),
        dir.path().join("b.png"),
    )
    .unwrap();
    let run = modelgate(&[
        "eval",
        path_str(&digits),
        "--dataset",
        path_str(&csv),
        "--color",
        "gray",
    ]);
    assert_user_error(
        &run,
        "it is a Git LFS pointer, not the image; fetch the files with `git lfs pull`",
    );
}
