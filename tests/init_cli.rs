//! `modelgate init` as a new user meets it: a repository with their own model and data, a config
//! written by `init`, committed unedited, a baseline approved, and the gate passing. Also
//! `gate --model`, which gates only the named models of a config.

use crate::support;

use std::path::Path;
use std::process::Output;

use support::{assert_exit, assert_user_error, git, root, stdout};

/// Runs modelgate in `dir`.
fn modelgate_in(dir: &Path, args: &[&str]) -> Output {
    support::modelgate_command(args)
        .current_dir(dir)
        .env_remove("GITHUB_ACTOR")
        .env_remove("CI")
        .output()
        .expect("run modelgate")
}

/// `modelgate init` on the project's model and its holdout manifest, as a new user runs it.
fn init_in(repo: &Path) -> Output {
    modelgate_in(
        repo,
        &[
            "init",
            "vision/chest_xray.onnx",
            "--dataset",
            "vision/data/holdout.csv",
        ],
    )
}

/// The scan demo (a 224x224 RGB classifier and its JPEG manifest with a `site` column), copied
/// under new names into a fresh git repository.
fn new_project() -> tempfile::TempDir {
    project_with("models/scan_fp32.onnx")
}

/// [`new_project`] with `model` (a path under the repository root) as the user's model.
fn project_with(model: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    let data = repo.join("vision/data");
    std::fs::create_dir_all(data.join("test")).unwrap();
    std::fs::copy(root().join(model), repo.join("vision/chest_xray.onnx")).unwrap();
    std::fs::copy(
        root().join("models/data/scan/test.csv"),
        data.join("holdout.csv"),
    )
    .unwrap();
    for entry in std::fs::read_dir(root().join("models/data/scan/test")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), data.join("test").join(entry.file_name())).unwrap();
    }
    git(repo, &["init", "-q"]);
    git(repo, &["config", "user.name", "New User"]);
    git(repo, &["config", "user.email", "new@example.com"]);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-qm", "our model and its test data"]);
    dir
}

#[test]
fn a_config_written_by_init_gates_without_edits() {
    let dir = new_project();
    let repo = dir.path();
    let out = init_in(repo);
    assert_exit(&out, 0);
    let said = stdout(&out);
    for expected in [
        "input  `image` float32 Nx3x224x224",
        "1 value(s) per sample",
        "360 samples, 2 classes (negative 251, positive 109)",
        "positive class: \"positive\" (a guess",
        "modelgate baseline approve --model chest_xray --yes",
        "modelgate gate",
    ] {
        assert!(said.contains(expected), "{expected} missing from: {said}");
    }
    let config = std::fs::read_to_string(repo.join("modelgate.toml")).unwrap();
    for expected in [
        "name = \"chest_xray\"",
        "candidate = \"vision/chest_xray.onnx\"",
        "path = \"vision/data/holdout.csv\"",
        "preset = \"torchvision-imagenet\"",
        "# REVIEW: guessed from the model's input",
        "activation = \"sigmoid\"",
        "class_names = [\"negative\", \"positive\"]",
        "positive_class = \"positive\"",
        "# slices = [\"site\"]",
        // Recall 92.66 % (101 of 109), Wilson lower bound 86.18 %: the floor sits 2 points
        // under it, rounded down. statsmodels 0.15: proportion_confint(101, 109, method='wilson').
        "init evaluated the model on this dataset: recall of \"positive\" 92.66 % (101 of 109)",
        "lower bound 86.18 %",
        "min_recall = 0.84",
    ] {
        assert!(
            config.contains(expected),
            "{expected} missing from: {config}"
        );
    }
    git(repo, &["add", "modelgate.toml"]);
    git(repo, &["commit", "-qm", "gate config from modelgate init"]);

    let out = modelgate_in(
        repo,
        &["baseline", "approve", "--model", "chest_xray", "--yes"],
    );
    assert_exit(&out, 0);
    assert!(repo.join("baselines/chest_xray.json").is_file());
    git(repo, &["add", "baselines"]);
    git(repo, &["commit", "-qm", "approve the chest_xray baseline"]);

    let out = modelgate_in(repo, &["gate"]);
    assert_exit(&out, 0);
    let said = stdout(&out);
    assert!(said.contains("chest_xray: pass"), "{said}");
    assert!(said.contains("verdict: pass"), "{said}");
    // The config was gated as init wrote it.
    assert_eq!(
        std::fs::read_to_string(repo.join("modelgate.toml")).unwrap(),
        config
    );
    assert_eq!(
        git(repo, &["status", "--porcelain", "--", "modelgate.toml"]),
        ""
    );
}

/// The model of the issue that found it: recall about 82 % on 109 positives, so its Wilson lower
/// bound (73.3 %) is under the 0.80 floor init used to write, and the unchanged model's first
/// gate failed. Now init floors what it measured, approve checks the baseline against the
/// config, and a floor raised by hand past the baseline makes approve refuse, naming it.
#[test]
fn init_floors_what_it_measured_and_approve_refuses_a_baseline_its_config_fails() {
    let dir = project_with("models/scan_lowrecall.onnx");
    let repo = dir.path();
    let out = init_in(repo);
    assert_exit(&out, 0);
    let config = std::fs::read_to_string(repo.join("modelgate.toml")).unwrap();
    // 89 of 109: proportion_confint(89, 109, method="wilson") -> (0.7335, 0.8780).
    for expected in ["(89 of 109)", "lower bound 73.35 %", "min_recall = 0.71"] {
        assert!(
            config.contains(expected),
            "{expected} missing from: {config}"
        );
    }
    git(repo, &["add", "modelgate.toml"]);
    git(repo, &["commit", "-qm", "gate config from modelgate init"]);
    let approve = || {
        modelgate_in(
            repo,
            &["baseline", "approve", "--model", "chest_xray", "--yes"],
        )
    };
    assert_exit(&approve(), 0);
    git(repo, &["add", "baselines"]);
    git(repo, &["commit", "-qm", "approve the chest_xray baseline"]);
    let out = modelgate_in(repo, &["gate"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("verdict: pass"), "{}", stdout(&out));

    let before = std::fs::read(repo.join("baselines/chest_xray.json")).unwrap();
    let raised = config.replace("min_recall = 0.71", "min_recall = 0.80");
    std::fs::write(repo.join("modelgate.toml"), raised).unwrap();
    let out = approve();
    assert_exit(&out, 1);
    let said = support::stderr(&out);
    assert!(said.contains("fails minimum recall (positive)"), "{said}");
    assert!(said.contains("not written"), "{said}");
    assert_eq!(
        std::fs::read(repo.join("baselines/chest_xray.json")).unwrap(),
        before,
        "a refused baseline must leave the approved one as it was"
    );
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("gate.toml");
    std::fs::write(&out_path, "# mine\n").unwrap();
    let model = root().join("models/digits_fp32.onnx");
    let dataset = root().join("models/data/digits/test.csv");
    let args = |force: bool| {
        let mut args = vec![
            "init".to_string(),
            model.display().to_string(),
            "--dataset".to_string(),
            dataset.display().to_string(),
            "--out".to_string(),
            out_path.display().to_string(),
        ];
        if force {
            args.push("--force".to_string());
        }
        args
    };
    let refused = support::modelgate(&args(false).iter().map(String::as_str).collect::<Vec<_>>());
    assert_user_error(&refused, "gate.toml already exists; pass --force");
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), "# mine\n");

    let forced = support::modelgate(&args(true).iter().map(String::as_str).collect::<Vec<_>>());
    assert_exit(&forced, 0);
    let config = std::fs::read_to_string(&out_path).unwrap();
    // The 8x8 gray digits: no preset, gray at the model's size, softmax over ten classes.
    assert!(config.contains("color = \"gray\""), "{config}");
    assert!(config.contains("resize = 8\ncenter_crop = 8"), "{config}");
    assert!(config.contains("activation = \"softmax\""), "{config}");
    assert!(!config.contains("positive_class"), "{config}");
    assert!(stdout(&forced).contains("--config"), "{}", stdout(&forced));
    // What it wrote evaluates to the digits model's known accuracy (models/README.md: 528/540, 97.78 %).
    let eval = support::modelgate(&[
        "eval",
        model.to_str().unwrap(),
        "--config",
        out_path.to_str().unwrap(),
    ]);
    assert_exit(&eval, 0);
    assert!(
        stdout(&eval).contains("accuracy 97.78 %"),
        "{}",
        stdout(&eval)
    );
}

#[test]
fn init_errors_are_one_line_naming_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("modelgate.toml");
    let out = out.to_str().unwrap();
    let not_onnx = dir.path().join("notes.onnx");
    std::fs::write(
        &not_onnx,
        "not a model, but long enough to not be a pointer ".repeat(40),
    )
    .unwrap();
    let digits = root().join("models/digits_fp32.onnx");
    let digits = digits.to_str().unwrap();
    let cases: [(Vec<&str>, &str); 4] = [
        (
            vec!["init", "no/such.onnx", "--out", out],
            "no/such.onnx does not exist",
        ),
        (
            vec!["init", not_onnx.to_str().unwrap(), "--out", out],
            "is not a model ONNX Runtime can load",
        ),
        (
            vec!["init", digits, "--dataset", "no/such.csv", "--out", out],
            "no/such.csv does not exist",
        ),
        (
            vec!["init", digits, "--name", "my model", "--out", out],
            "--name \"my model\"",
        ),
    ];
    for (args, expected) in cases {
        let result = support::modelgate(&args);
        assert_user_error(&result, expected);
        assert!(!Path::new(out).exists(), "{args:?} wrote a config");
    }
}

#[test]
fn gate_model_gates_only_the_named_models() {
    let dir = tempfile::tempdir().unwrap();
    let model = |name: &str| {
        format!(
            "[[models]]\nname = \"{name}\"\ncandidate = {:?}\n[models.bench]\niterations = 50\nwarmup_s = 0.1\n\n",
            root().join(format!("models/{name}_fp32.onnx")).display().to_string()
        )
    };
    let config = dir.path().join("modelgate.toml");
    std::fs::write(&config, format!("{}{}", model("cancer"), model("digits"))).unwrap();
    let json = dir.path().join("comparison.json");
    let (out, comparison) = support::gate(&config, &json, &["--allow-new", "--model", "digits"]);
    assert_exit(&out, 0);
    let names: Vec<&str> = comparison["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["digits"]);
    assert!(!stdout(&out).contains("cancer"), "{}", stdout(&out));

    let (out, _) = support::gate(&config, &json, &["--model", "digits", "--model", "nope"]);
    assert_user_error(
        &out,
        "--model nope: the config has no such model; its models are: cancer, digits",
    );
}

/// A label with a line break (a quoted CSV field) must not break the TOML comments init writes
/// about it: the config loads, the value keeps its line break, the comments stay on one line.
#[test]
fn a_label_with_a_line_break_stays_in_its_string_and_out_of_the_comments() {
    let dir = tempfile::tempdir().unwrap();
    let data = root().join("models/data/scan");
    std::fs::create_dir_all(dir.path().join("test")).unwrap();
    for entry in std::fs::read_dir(data.join("test")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(
            entry.path(),
            dir.path().join("test").join(entry.file_name()),
        )
        .unwrap();
    }
    let csv = std::fs::read_to_string(data.join("test.csv"))
        .unwrap()
        .replace(",positive,", ",\"posi\ntive\",");
    assert!(csv.contains("\"posi\ntive\""));
    std::fs::write(dir.path().join("labels.csv"), csv).unwrap();
    let out = dir.path().join("gate.toml");
    let run = support::modelgate(&[
        "init",
        root().join("models/scan_fp32.onnx").to_str().unwrap(),
        "--dataset",
        dir.path().join("labels.csv").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_exit(&run, 0);
    let config = std::fs::read_to_string(&out).unwrap();
    // The value keeps its line break (a TOML multi-line string); every comment stays on one line.
    let parsed: toml::Value = toml::from_str(&config).unwrap();
    assert_eq!(
        parsed["models"][0]["postprocess"]["positive_class"].as_str(),
        Some("posi\ntive"),
        "{config}"
    );
    assert!(config.contains("posi tive"), "{config}");
    let check = support::modelgate(&[
        "eval",
        root().join("models/scan_fp32.onnx").to_str().unwrap(),
        "--config",
        out.to_str().unwrap(),
    ]);
    assert_exit(&check, 0);
}

/// The command lines init prints are pasted into a shell as they stand: a model path with a space
/// and a quote in it, run by `sh`, must approve, commit and gate that model, not split into words
/// or open a quote.
#[test]
fn the_next_steps_init_prints_run_in_a_shell_whatever_the_model_path() {
    let dir = new_project();
    let repo = dir.path();
    std::fs::rename(
        repo.join("vision/chest_xray.onnx"),
        repo.join("vision/chest x'ray.onnx"),
    )
    .unwrap();
    git(repo, &["add", "-A"]);
    git(
        repo,
        &[
            "commit",
            "-qm",
            "a model file name with a space and a quote",
        ],
    );
    let out = modelgate_in(
        repo,
        &[
            "init",
            "vision/chest x'ray.onnx",
            "--dataset",
            "vision/data/holdout.csv",
        ],
    );
    assert_exit(&out, 0);
    let said = stdout(&out);
    // The lines after "wrote ...", each without its trailing comment: eval, approve, commit, gate.
    let steps: Vec<String> = said
        .lines()
        .skip_while(|l| !l.starts_with("wrote "))
        .skip(1)
        .map(|l| l.split("   #").next().unwrap().trim().to_string())
        .collect();
    assert_eq!(steps.len(), 4, "{said}");
    assert!(
        steps[0].contains("'vision/chest x'\"'\"'ray.onnx'"),
        "{}",
        steps[0]
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_modelgate")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for step in &steps {
        let ran = std::process::Command::new("sh")
            .arg("-c")
            .arg(step)
            .current_dir(repo)
            .env("PATH", &path)
            .env("ORT_DYLIB_PATH", support::ort_lib())
            .env_remove("GITHUB_ACTOR")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("MODELGATE_BASE_REF")
            .env_remove("CI")
            .output()
            .unwrap();
        assert!(
            ran.status.success(),
            "`{step}` failed: {}{}",
            stdout(&ran),
            String::from_utf8_lossy(&ran.stderr)
        );
    }
    assert_eq!(
        git(repo, &["log", "-1", "--format=%s"]).trim(),
        "modelgate: chest_x_ray"
    );
    assert_eq!(
        git(
            repo,
            &["status", "--porcelain", "--", "modelgate.toml", "baselines"]
        ),
        ""
    );
}
