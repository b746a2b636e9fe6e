//! `modelgate bench` on the real ONNX Runtime with the project's own models.

use crate::support;

use support::{assert_user_error, model, modelgate, stdout};

fn read_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn bench_writes_a_versioned_results_file_with_raw_samples() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("tiny.json");
    let out = modelgate(&[
        "bench",
        model("tiny.onnx").to_str().unwrap(),
        "--iterations",
        "300",
        "--warmup",
        "5",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert!(stdout(&out).contains("p99"), "{}", stdout(&out));
    let results = read_json(&json);
    assert_eq!(results["schema_version"], 1);
    assert_eq!(results["onnxruntime"]["version"], "1.31.1");
    let run = &results["bench"]["runs"][0];
    let samples = run["samples_ms"].as_array().unwrap();
    assert_eq!(samples.len(), 300);
    let p50 = run["summary"]["p50_ms"].as_f64().unwrap();
    let min = run["summary"]["min_ms"].as_f64().unwrap();
    assert!(p50 > 0.0 && min <= p50, "p50 {p50} min {min}");
    let sha = modelgate_sha(&model("tiny.onnx"));
    assert_eq!(results["model"]["sha256"], sha);
    assert_eq!(results["environment"]["model_sha256"], sha);
    assert!(
        results["bench"]["cold_start"]["session_create_ms"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(
        results["bench"]["memory"]["peak_rss_bytes"]
            .as_u64()
            .unwrap()
            > 0
    );
    // 300 runs are too few for a trusted p99 (662) but enough for p95 (130).
    assert_eq!(run["trusted"]["p99"], false);
    assert_eq!(run["trusted"]["p95"], true);
    // A CPU session starts no GPU sampler, even on a machine with a GPU.
    assert!(run.get("gpu").is_none(), "{}", run["gpu"]);
    assert!(!stdout(&out).contains("gpu energy"), "{}", stdout(&out));
}

fn modelgate_sha(path: &std::path::Path) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn min_time_keeps_timing_past_the_iteration_count() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let out = modelgate(&[
        "bench",
        model("tiny.onnx").to_str().unwrap(),
        "--iterations",
        "10",
        "--min-time",
        "0.3",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let run = &read_json(&json)["bench"]["runs"][0];
    assert!(run["wall_time_s"].as_f64().unwrap() >= 0.3);
    assert!(run["samples_ms"].as_array().unwrap().len() > 10);
}

#[test]
fn batch_sweep_reports_each_batch_size() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let out = modelgate(&[
        "bench",
        model("digits_fp32.onnx").to_str().unwrap(),
        "--batch",
        "1,4",
        "--iterations",
        "50",
        "--warmup",
        "2",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let runs = read_json(&json)["bench"]["runs"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1]["batch"], 4);
    assert_eq!(
        runs[1]["inputs"][0]["shape"],
        serde_json::json!([4, 1, 8, 8])
    );
    assert!(runs[1]["throughput_samples_per_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn every_supported_input_type_runs() {
    for dtype in ["float16", "int64", "int32", "uint8", "int8", "bool"] {
        let path = model(&format!("testdata/dtype_{dtype}.onnx"));
        let out = modelgate(&[
            "bench",
            path.to_str().unwrap(),
            "--iterations",
            "20",
            "--warmup",
            "1",
        ]);
        assert!(out.status.success(), "{dtype}: {}", support::stderr(&out));
    }
}

#[test]
fn symbolic_dims_default_to_one_and_can_be_set() {
    let path = model("testdata/symbolic_dims.onnx");
    let out = modelgate(&["bench", path.to_str().unwrap(), "--iterations", "20"]);
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("symbolic dims set to 1: batch, seq"),
        "{}",
        stdout(&out)
    );
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let out = modelgate(&[
        "bench",
        path.to_str().unwrap(),
        "--iterations",
        "20",
        "--dim",
        "seq=5",
        "--shape",
        "x=2x5x4",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert_eq!(
        read_json(&json)["bench"]["runs"][0]["inputs"][0]["shape"],
        serde_json::json!([2, 5, 4])
    );
}

#[test]
fn bad_input_is_one_clear_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let not_onnx = dir.path().join("notes.onnx");
    std::fs::write(&not_onnx, "this is not a model").unwrap();
    let truncated = dir.path().join("truncated.onnx");
    let bytes = std::fs::read(model("resnet_small.onnx")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let string_input = model("testdata/string_input.onnx");
    let tiny = model("tiny.onnx");
    let tiny = tiny.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["bench", "missing.onnx"],
            "model file missing.onnx does not exist",
        ),
        (
            vec!["bench", not_onnx.to_str().unwrap()],
            "is not a model ONNX Runtime can load",
        ),
        (
            vec!["bench", truncated.to_str().unwrap()],
            "is not a model ONNX Runtime can load",
        ),
        (
            vec!["bench", string_input.to_str().unwrap()],
            "input `text` has element type string",
        ),
        (
            vec!["bench", tiny, "--shape", "image=1x16"],
            "no input named `image`",
        ),
        (vec!["bench", tiny, "--iterations", "0"], "--iterations 0"),
        (vec!["bench", tiny, "--ep", "cuda"], "--ep cuda"),
        (vec!["bench", tiny, "--batch", "1,8"], "--batch"),
    ];
    for (args, expected) in cases {
        let out = modelgate(&args);
        assert_user_error(&out, expected);
    }
}

#[test]
fn onnx_runtime_log_lines_show_only_with_verbose() {
    let tiny = model("tiny.onnx");
    let quiet = modelgate(&["bench", tiny.to_str().unwrap(), "--iterations", "10"]);
    assert!(quiet.status.success());
    assert!(
        !support::stderr(&quiet).contains("[onnxruntime"),
        "{}",
        support::stderr(&quiet)
    );
    let verbose = modelgate(&[
        "bench",
        tiny.to_str().unwrap(),
        "--iterations",
        "10",
        "--verbose",
    ]);
    assert!(verbose.status.success());
    assert!(
        support::stderr(&verbose).contains("[onnxruntime"),
        "{}",
        support::stderr(&verbose)
    );
}
