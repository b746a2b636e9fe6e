//! Real input values (`--input`, `--inputs`, `[models.bench] inputs`) and `--check-outputs`, on
//! the fixtures `models/make_test_data.py` writes in ONNX's test-data layout.

use crate::support;

use std::path::{Path, PathBuf};

use support::{assert_exit, assert_user_error, modelgate, stderr, stdout};

fn fixture(name: &str) -> PathBuf {
    support::model("testdata").join(name)
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `modelgate bench` on a fixture's model, with a few quick runs and `extra` flags.
fn bench(name: &str, extra: &[&str]) -> std::process::Output {
    let model = fixture(name).join("model.onnx");
    let mut args = vec!["bench", text(&model), "--iterations", "5", "--warmup", "1"];
    args.extend_from_slice(extra);
    modelgate(&args)
}

fn check(name: &str) -> std::process::Output {
    let data = fixture(name).join("test_data_set_0");
    bench(name, &["--inputs", text(&data), "--check-outputs"])
}

#[test]
fn every_fixture_matches_its_expected_outputs() {
    for (name, output) in [
        ("gather_vocab", "embeddings"),
        ("sample_rate", "y"),
        ("wrong_rank_output", "y"),
    ] {
        let out = check(name);
        assert_exit(&out, 0);
        let line = format!("output `{output}` matches");
        assert!(stdout(&out).contains(&line), "{name}: {}", stdout(&out));
        assert!(stdout(&out).contains("p50"), "{name} was not timed");
    }
}

#[test]
fn a_wrong_expected_output_fails_with_the_largest_difference() {
    let out = check("gather_vocab_wrong");
    assert_exit(&out, 1);
    let lines: Vec<String> = stdout(&out)
        .lines()
        .filter(|l| l.contains("differs"))
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 1, "{}", stdout(&out));
    // make_test_data.py adds 0.5 to flat index 4 of the expected output.
    assert!(
        lines[0].contains("output `embeddings`")
            && lines[0].contains("largest absolute difference 0.5 at flat index 4")
            && lines[0].contains("rtol 1e-3"),
        "{}",
        lines[0]
    );
    assert!(!stdout(&out).contains("p50"), "a failed check is not timed");
}

#[test]
fn tolerance_flags_decide_the_check() {
    let data = fixture("gather_vocab_wrong").join("test_data_set_0");
    let out = bench(
        "gather_vocab_wrong",
        &["--inputs", text(&data), "--check-outputs", "--atol", "0.5"],
    );
    assert_exit(&out, 0);
}

#[test]
fn a_missing_expected_output_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let source = fixture("gather_vocab").join("test_data_set_0/input_0.pb");
    std::fs::copy(source, dir.path().join("input_0.pb")).unwrap();
    let out = bench(
        "gather_vocab",
        &["--inputs", text(dir.path()), "--check-outputs"],
    );
    assert_user_error(&out, "no expected values for output `embeddings`");
}

#[test]
fn random_indices_fail_cleanly_where_real_ones_run() {
    // Random int64 inputs are 0..10; the table has 4 rows.
    let out = bench("gather_vocab", &[]);
    assert_user_error(&out, "out of data bounds");
    assert_user_error(&out, "give them with --input NAME=FILE or --inputs DIR");
    let ids = fixture("gather_vocab").join("ids.npy");
    let out = bench("gather_vocab", &["--input", &format!("ids={}", text(&ids))]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("1x5"), "{}", stdout(&out));
}

#[test]
fn input_files_name_a_wrong_type_or_an_unknown_input() {
    let floats = fixture("sample_rate").join("test_data_set_0/input_0.pb");
    let out = bench(
        "gather_vocab",
        &["--input", &format!("ids={}", text(&floats))],
    );
    assert_user_error(
        &out,
        "holds float32 values but the model's input `ids` is int64",
    );
    let ids = fixture("gather_vocab").join("ids.npy");
    let out = bench(
        "gather_vocab",
        &["--input", &format!("tokens={}", text(&ids))],
    );
    assert_user_error(&out, "no input named `tokens`; its inputs are: ids");
    let out = bench("gather_vocab", &["--input", "ids"]);
    assert_user_error(&out, "expected NAME=PATH");
}

#[test]
fn an_npy_file_written_here_feeds_the_input() {
    // A .npy written by hand, as numpy's format describes: ids [[3, 2, 1]].
    let dir = tempfile::tempdir().unwrap();
    let header = "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 3), }";
    let mut bytes = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
    bytes.extend_from_slice(format!("{header:<117}\n").as_bytes());
    for id in [3i64, 2, 1] {
        bytes.extend_from_slice(&id.to_le_bytes());
    }
    let path = dir.path().join("ids.npy");
    std::fs::write(&path, bytes).unwrap();
    let out = bench(
        "gather_vocab",
        &["--input", &format!("ids={}", text(&path))],
    );
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("1x3"), "{}", stdout(&out));
}

/// Regression: a model whose declared output rank differs from what it returns ran in Python's
/// onnxruntime (with a warning) but failed in modelgate bench with "Invalid rank for output".
#[test]
fn an_output_returned_with_another_rank_than_declared_runs_in_bench_and_eval() {
    let out = bench("wrong_rank_output", &[]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("output `y` is declared 1xseqlen but the model returns 1x1x4"),
        "{}",
        stdout(&out)
    );
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("data.csv");
    std::fs::write(&csv, "a,b,c,d,label\n0,0,9,0,c2\n1,0,0,0,c0\n").unwrap();
    let model = fixture("wrong_rank_output").join("model.onnx");
    let out = modelgate(&[
        "eval",
        text(&model),
        "--dataset",
        text(&csv),
        "--batch",
        "1",
        "--class-names",
        "c0,c1,c2,c3",
    ]);
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("Invalid rank"), "{}", stderr(&out));
}

#[test]
fn the_gate_config_feeds_inputs_relative_to_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let data = root.join("vocab/test_data_set_0");
    std::fs::create_dir_all(&data).unwrap();
    for (from, to) in [
        ("model.onnx", "vocab/model.onnx"),
        (
            "test_data_set_0/input_0.pb",
            "vocab/test_data_set_0/input_0.pb",
        ),
        (
            "test_data_set_0/output_0.pb",
            "vocab/test_data_set_0/output_0.pb",
        ),
    ] {
        std::fs::copy(fixture("gather_vocab").join(from), root.join(to)).unwrap();
    }
    let config = root.join("modelgate.toml");
    let body = |bench: &str| {
        format!(
            "[[models]]\nname = \"vocab\"\ncandidate = \"vocab/model.onnx\"\n\
             [models.bench]\niterations = 20\nwarmup = 2\nwarmup_s = 0\nmax_time_s = 2\n{bench}"
        )
    };
    let json = root.join("comparison.json");
    std::fs::write(&config, body("")).unwrap();
    let (out, _) = support::gate(&config, &json, &["--allow-new"]);
    assert_ne!(out.status.code(), Some(0), "random ids cannot run");
    std::fs::write(
        &config,
        body("inputs = \"vocab/test_data_set_0\"\ncheck_outputs = true\n"),
    )
    .unwrap();
    let (out, _) = support::gate(&config, &json, &["--allow-new"]);
    assert_exit(&out, 0);
    std::fs::write(
        &config,
        body("input = { ids = \"vocab/test_data_set_0/input_0.pb\" }\n"),
    )
    .unwrap();
    let (out, _) = support::gate(&config, &json, &["--allow-new"]);
    assert_exit(&out, 0);
}
