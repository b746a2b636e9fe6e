//! Hostile input end to end: a baseline of another model, ONNX Runtime's load errors, images
//! cut short, dataset paths that leave the dataset's folder, and output paths that cannot be
//! written. Every one is exit 2 with one `error:` line that says its cause once and the fix.

use crate::support;

use std::path::{Path, PathBuf};

use support::{assert_exit, assert_user_error, model, modelgate, root, stderr, stdout};

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn baseline(name: &str) -> PathBuf {
    root().join("baselines").join(name)
}

/// A copy of the committed `name` baseline in `dir`, edited.
fn edited(dir: &Path, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(baseline(name)).unwrap()).unwrap();
    edit(&mut value);
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path
}

#[test]
fn compare_and_check_refuse_a_baseline_of_another_model() {
    let (cancer, digits) = (baseline("cancer.json"), baseline("digits.json"));
    for command in ["compare", "check"] {
        let out = modelgate(&[command, "--baseline", s(&cancer), "--candidate", s(&digits)]);
        assert_user_error(&out, "`cancer`");
        let err = stderr(&out);
        assert!(err.contains("`digits`"), "{err}");
        assert!(
            err.contains("(features float32 [N, 30])")
                && err.contains("(image float32 [N, 1, 8, 8])"),
            "{err}"
        );
    }
}

#[test]
fn a_baseline_whose_inputs_differ_is_refused_and_a_new_sha_is_judged() {
    let dir = tempfile::tempdir().unwrap();
    let cancer = baseline("cancer.json");
    let renamed = edited(dir.path(), "cancer.json", |v| {
        v["model"]["interface"]["inputs"][0]["name"] = "x".into();
        v["model"]["interface"]["inputs"][0]["dims"][1]["fixed"] = 31.into();
    });
    for command in ["compare", "check"] {
        let out = modelgate(&[
            command,
            "--baseline",
            s(&renamed),
            "--candidate",
            s(&cancer),
        ]);
        assert_user_error(&out, "(x float32 [N, 31])");
        assert!(
            stderr(&out).contains("(features float32 [N, 30])"),
            "{}",
            stderr(&out)
        );
    }
    // Another SHA-256 is a new version of the same model: judged, and both shown.
    let sha = "0".repeat(64);
    let other = edited(dir.path(), "cancer.json", |v| {
        v["model"]["sha256"] = sha.clone().into()
    });
    let out = modelgate(&[
        "compare",
        "--baseline",
        s(&other),
        "--candidate",
        s(&cancer),
    ]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("baseline model SHA-256 000000000000, candidate "),
        "{}",
        stdout(&out)
    );
}

#[test]
fn gate_refuses_a_baseline_of_another_model_and_says_why_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("baselines")).unwrap();
    std::fs::copy(
        baseline("digits.json"),
        dir.path().join("baselines/cancer.json"),
    )
    .unwrap();
    let config = dir.path().join("modelgate.toml");
    std::fs::write(
        &config,
        format!(
            "[[models]]\nname = \"cancer\"\ncandidate = {:?}\n\
             [models.dataset]\npath = {:?}\n\
             [models.postprocess]\nactivation = \"sigmoid\"\nclass_names = [\"benign\", \"malignant\"]\n\
             [models.bench]\niterations = 20\nwarmup = 2\nmax_time_s = 1\n",
            model("cancer_fp32.onnx"),
            root().join("models/data/breast_cancer/test.csv"),
        ),
    )
    .unwrap();
    let out = modelgate(&["gate", "--config", s(&config)]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    // Progress comes first: the phase line and a line per tenth of the timing.
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.trim().is_empty() && !support::is_progress_line(l))
        .collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert_eq!(lines[0], "model `cancer`: timing, then evaluating");
    let lines = &lines[1..];
    assert!(
        lines[0].starts_with("error: model `cancer`: baseline ")
            && lines[0].contains("is of model `digits`"),
        "{err}"
    );
    assert!(lines[1].contains("could not judge every model"), "{err}");
}

#[test]
fn a_model_newer_than_onnx_runtime_names_the_version_and_the_fix() {
    for (file, expected) in [
        ("opset99.onnx", "opset 99 of ai.onnx"),
        ("ir99.onnx", "IR version 99"),
    ] {
        let out = modelgate(&["bench", s(&root().join("models/testdata").join(file))]);
        assert_user_error(&out, expected);
        let err = stderr(&out);
        assert!(
            err.contains("at most") && err.contains("--ort-lib"),
            "{err}"
        );
        for noise in [
            "onnxruntime::",
            ".cc:",
            ".h:",
            "ONNXRuntimeError",
            "complete .onnx",
        ] {
            assert!(!err.contains(noise), "{noise} in {err}");
        }
    }
}

#[test]
fn bad_values_and_paths_say_what_is_wrong_once() {
    let dir = tempfile::tempdir().unwrap();
    let cancer = model("cancer_fp32.onnx");
    let data = root().join("models/data/breast_cancer/test.csv");
    let eval = |extra: &[&str]| {
        let mut args = vec!["eval", s(&cancer), "--activation", "sigmoid"];
        args.extend_from_slice(extra);
        modelgate(&args)
    };
    // NaN is not a threshold; it must not be blamed on --activation.
    let out = eval(&["--dataset", s(&data), "--threshold", "nan"]);
    assert_user_error(&out, "--threshold NaN");
    assert!(!stderr(&out).contains("--activation"), "{}", stderr(&out));

    // A folder where a file is expected: the io error once.
    let out = eval(&["--dataset", s(dir.path()), "--format", "tabular"]);
    assert_user_error(&out, "Is a directory");
    assert_eq!(
        stderr(&out).matches("os error 21").count(),
        1,
        "{}",
        stderr(&out)
    );

    // A FIFO is not called a folder.
    let fifo = dir.path().join("model.onnx");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    assert_user_error(&modelgate(&["bench", s(&fifo)]), "is a named pipe (FIFO)");
}

#[test]
fn unwritable_output_paths_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path();
    let missing = dir.path().join("no/such/folder/out.json");
    let cancer = model("cancer_fp32.onnx");
    let data = root().join("models/data/breast_cancer/test.csv");
    let results = baseline("cancer.json");
    let config = root().join("modelgate.toml");
    let commands: Vec<Vec<&str>> = vec![
        vec!["bench", s(&cancer), "--iterations", "5", "--json"],
        vec![
            "eval",
            s(&cancer),
            "--dataset",
            s(&data),
            "--activation",
            "sigmoid",
            "--json",
        ],
        vec![
            "compare",
            "--baseline",
            s(&results),
            "--candidate",
            s(&results),
            "--json",
        ],
        vec![
            "check",
            "--baseline",
            s(&results),
            "--candidate",
            s(&results),
            "--json",
        ],
        vec!["gate", "--config", s(&config), "--json"],
        vec!["gate", "--config", s(&config), "--report"],
    ];
    for command in &commands {
        for (bad, expected) in [
            (folder, "is a folder"),
            (missing.as_path(), "does not exist"),
        ] {
            let mut args = command.clone();
            args.push(s(bad));
            let out = modelgate(&args);
            assert_user_error(&out, expected);
            assert!(stdout(&out).is_empty(), "{command:?} ran: {}", stdout(&out));
        }
    }
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out = modelgate(&["gate", "--config", s(&config), "--results-dir", s(&file)]);
    assert_user_error(&out, "--results-dir");
}

/// Manifest lines that give every one of the digits model's ten classes a sample (labels need
/// not be right: these tests are about reading the files), each its own file, since a manifest
/// lists an image once.
fn every_class() -> String {
    (0..10).map(|k| format!("class{k}.png,{k}\n")).collect()
}

/// A dataset folder with `ds/` holding a manifest of `lines` (after the header, followed by
/// [`every_class`]) and one real digit image `ds/in.png` (copied as `ds/class0.png` ...);
/// `outside.png` lies beside `ds/`.
fn digits_dataset(lines: &[String]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    std::fs::create_dir(&ds).unwrap();
    let image = root().join("models/data/digits/test/3/0045.png");
    std::fs::copy(&image, ds.join("in.png")).unwrap();
    for k in 0..10 {
        std::fs::copy(&image, ds.join(format!("class{k}.png"))).unwrap();
    }
    std::fs::copy(&image, dir.path().join("outside.png")).unwrap();
    let manifest = ds.join("test.csv");
    let body = format!("path,label\n{}\n{}", lines.join("\n"), every_class());
    std::fs::write(&manifest, body).unwrap();
    (dir, manifest)
}

fn eval_digits(manifest: &Path, extra: &[&str]) -> std::process::Output {
    let config = root().join("modelgate.toml");
    let mut args: Vec<String> = vec![
        "eval".into(),
        s(&model("digits_fp32.onnx")).to_string(),
        "--config".into(),
        s(&config).to_string(),
        "--model-name".into(),
        "digits".into(),
        "--dataset".into(),
        s(manifest).to_string(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    modelgate(&args)
}

#[test]
fn dataset_paths_stay_inside_the_datasets_folder() {
    let probe = tempfile::tempdir().unwrap();
    let outside = probe.path().join("outside.png");
    std::fs::copy(root().join("models/data/digits/test/3/0045.png"), &outside).unwrap();
    for written in [
        "../outside.png".to_string(),
        s(&outside).to_string(),
        "link.png".to_string(),
    ] {
        let (dir, manifest) = digits_dataset(&["in.png,3".to_string(), format!("{written},3")]);
        std::os::unix::fs::symlink(
            dir.path().join("outside.png"),
            dir.path().join("ds/link.png"),
        )
        .unwrap();
        let out = eval_digits(&manifest, &[]);
        assert_user_error(&out, "line 3, key \"path\"");
        assert!(
            stderr(&out).contains("outside the dataset's folder"),
            "{}",
            stderr(&out)
        );
        let out = eval_digits(&manifest, &["--allow-outside-paths"]);
        assert_exit(&out, 0);
    }
    // Written with "./", a path inside the folder is as good as without.
    let (_dir, manifest) = digits_dataset(&["./in.png,3".to_string()]);
    assert_exit(&eval_digits(&manifest, &[]), 0);
}

#[test]
fn truncated_images_are_errors_naming_the_file() {
    let (dir, manifest) = digits_dataset(&["in.png,3".to_string(), "cut.png,3".to_string()]);
    let bytes = std::fs::read(dir.path().join("ds/in.png")).unwrap();
    std::fs::write(dir.path().join("ds/cut.png"), &bytes[..bytes.len() * 2 / 5]).unwrap();
    let out = eval_digits(&manifest, &[]);
    // The PNG decoder notices this cut itself.
    assert_user_error(&out, "cut.png");

    // A JPEG cut at 40 %: libjpeg warns of a premature end, which is an error, as in Pillow.
    let gray = image::open(dir.path().join("ds/in.png"))
        .unwrap()
        .to_luma8();
    let big = image::imageops::resize(&gray, 512, 512, image::imageops::FilterType::Triangle);
    let jpeg = dir.path().join("ds/whole.jpg");
    big.save(&jpeg).unwrap();
    let bytes = std::fs::read(&jpeg).unwrap();
    std::fs::write(dir.path().join("ds/cut.jpg"), &bytes[..bytes.len() * 2 / 5]).unwrap();
    let body = format!("path,label\nwhole.jpg,3\ncut.jpg,3\n{}", every_class());
    std::fs::write(&manifest, body).unwrap();
    let out = eval_digits(&manifest, &[]);
    assert_user_error(&out, "cut.jpg");
    assert!(
        stderr(&out).contains("the file is truncated"),
        "{}",
        stderr(&out)
    );
    // A whole JPEG is fine (one of the digits' own size, so the batch shares one size).
    gray.save(dir.path().join("ds/small.jpg")).unwrap();
    std::fs::write(
        &manifest,
        format!("path,label\nsmall.jpg,3\n{}", every_class()),
    )
    .unwrap();
    assert_exit(&eval_digits(&manifest, &[]), 0);
}

#[test]
fn an_undecodable_image_says_its_cause_once() {
    let (dir, manifest) = digits_dataset(&["in.png,3".to_string(), "junk.png,3".to_string()]);
    let junk: Vec<u8> = (0u32..512)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path().join("ds/junk.png"), junk).unwrap();
    let out = eval_digits(&manifest, &[]);
    assert_user_error(&out, "junk.png");
    let err = stderr(&out);
    assert_eq!(err.matches("signature").count(), 1, "{err}");
}

/// A gate config with the digits model, its dataset and postprocessing, and `preprocess` as its
/// `[models.preprocess]` body (none when empty).
fn digits_config(dir: &Path, preprocess: &str) -> PathBuf {
    let section = if preprocess.is_empty() {
        String::new()
    } else {
        format!("[models.preprocess]\n{preprocess}\n")
    };
    let text = format!(
        "[[models]]\nname = \"digits\"\ncandidate = {:?}\n\n[models.dataset]\npath = {:?}\n\n{section}[models.postprocess]\nactivation = \"softmax\"\n",
        s(&model("digits_fp32.onnx")),
        s(&root().join("models/data/digits/test.csv")),
    );
    let path = dir.join("modelgate.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_crop_larger_than_the_resize_names_the_flag_or_the_config_key() {
    let digits = model("digits_fp32.onnx");
    let manifest = root().join("models/data/digits/test.csv");
    // Both from flags (the crop by its old name, an alias): the flag is named.
    let out = modelgate(&[
        "eval",
        s(&digits),
        "--dataset",
        s(&manifest),
        "--color",
        "gray",
        "--resize",
        "8",
        "--crop",
        "16",
    ]);
    assert_user_error(&out, "--center-crop 16: [16, 16] is larger than resize 8");
    assert!(
        !stderr(&out).contains("preprocess.center_crop"),
        "{}",
        stderr(&out)
    );
    // The crop from the config, the resize from a flag: the config's key is named.
    let dir = tempfile::tempdir().unwrap();
    let config = digits_config(dir.path(), "color = \"gray\"\ncenter_crop = 16");
    let out = modelgate(&["eval", s(&digits), "--config", s(&config), "--resize", "8"]);
    assert_user_error(
        &out,
        "models `digits`: preprocess.center_crop: [16, 16] is larger than resize 8",
    );
    assert!(!stderr(&out).contains("--center-crop"), "{}", stderr(&out));
    // Both in the config: refused when it is read, with the key.
    let config = digits_config(dir.path(), "color = \"gray\"\nresize = 8\ncenter_crop = 16");
    let out = modelgate(&["eval", s(&digits), "--config", s(&config)]);
    assert_user_error(
        &out,
        "models `digits`: preprocess.center_crop: [16, 16] is larger",
    );
}

#[test]
fn a_bad_preprocessing_value_names_the_flag_that_gave_it() {
    let digits = model("digits_fp32.onnx");
    let manifest = root().join("models/data/digits/test.csv");
    let eval = |extra: &[&str]| {
        let mut args = vec!["eval", s(&digits), "--dataset", s(&manifest)];
        args.extend_from_slice(extra);
        modelgate(&args)
    };
    let out = eval(&["--layout", "chw", "--color", "gray"]);
    assert_user_error(&out, "--layout chw: unknown variant `chw`");
    let out = eval(&["--color", "gray", "--mean", "0.1,0.2,0.3"]);
    assert_user_error(
        &out,
        "--mean 0.1,0.2,0.3: has 3 values but color = \"gray\"",
    );
    // The same mistake in the config names the key and the model.
    let dir = tempfile::tempdir().unwrap();
    let config = digits_config(dir.path(), "color = \"gray\"\nmean = [0.1, 0.2, 0.3]");
    let out = modelgate(&["eval", s(&digits), "--config", s(&config)]);
    assert_user_error(&out, "models `digits`: preprocess.mean: has 3 values");
    assert!(!stderr(&out).contains("--mean"), "{}", stderr(&out));
}

#[test]
fn images_without_preprocessing_name_the_flags_or_the_config_section() {
    let digits = model("digits_fp32.onnx");
    let manifest = root().join("models/data/digits/test.csv");
    let out = modelgate(&["eval", s(&digits), "--dataset", s(&manifest)]);
    assert_user_error(&out, "give --preset torchvision-imagenet, or --color");
    assert!(!stderr(&out).contains("add one"), "{}", stderr(&out));
    let dir = tempfile::tempdir().unwrap();
    let config = digits_config(dir.path(), "");
    let out = modelgate(&[
        "eval",
        s(&digits),
        "--config",
        s(&config),
        "--model-name",
        "digits",
    ]);
    assert_user_error(&out, "models `digits`: the dataset's samples are images, but the model has no [models.preprocess]; add one");
}
