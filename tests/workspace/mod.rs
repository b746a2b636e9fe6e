//! A throwaway project for the baseline and check tests: the cancer models, their labeled data,
//! a `modelgate.toml` and an empty `baselines/` in a temporary folder, so no test ever touches
//! the repository's own files, and helpers to measure results files into it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{self, model, modelgate, stderr};

/// Small runs keep the tests quick; the models take microseconds per run.
const BENCH: &str =
    "[models.bench]\niterations = 300\nwarmup = 5\nmax_time_s = 2\nintra_threads = 1\n";

/// The model's postprocessing, as in the repository's own config.
const CANCER: &str = "[models.dataset]\npath = \"models/data/breast_cancer/test.csv\"\n\n[models.postprocess]\n\
activation = \"sigmoid\"\nthreshold = 0.5\nclass_names = [\"benign\", \"malignant\"]\npositive_class = \"malignant\"\n";

pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    /// A project with model `cancer` (candidate `models/<candidate>`), the top-level `[criteria]`
    /// lines given, and the model's own `[models.criteria]` lines given.
    pub fn new(candidate: &str, criteria: &str, model_criteria: &str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("models/data/breast_cancer");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(dir.path().join("baselines")).unwrap();
        for file in ["cancer_fp32.onnx", "cancer_lowrecall.onnx"] {
            std::fs::copy(model(file), dir.path().join("models").join(file)).unwrap();
        }
        std::fs::copy(model("data/breast_cancer/test.csv"), data.join("test.csv")).unwrap();
        let config = format!(
            "[criteria]\n{criteria}\n\n[[models]]\nname = \"cancer\"\ncandidate = \"models/{candidate}\"\n\n{CANCER}\n{BENCH}\n\
             [models.criteria]\n{model_criteria}\n"
        );
        std::fs::write(dir.path().join("modelgate.toml"), config).unwrap();
        Workspace { dir }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn config(&self) -> String {
        self.path("modelgate.toml").display().to_string()
    }

    pub fn baseline(&self) -> PathBuf {
        self.path("baselines/cancer.json")
    }

    pub fn history(&self) -> PathBuf {
        self.path("baselines/cancer.history.jsonl")
    }

    /// `modelgate bench` and `modelgate eval` of `models/<file>` into one results file `out`.
    pub fn measure(&self, file: &str, out: &str) -> PathBuf {
        let model = self.path(&format!("models/{file}"));
        let json = self.path(out);
        let (model_arg, json_arg, config) = (
            model.to_str().unwrap(),
            json.to_str().unwrap(),
            self.config(),
        );
        let bench = [
            "bench",
            model_arg,
            "--iterations",
            "300",
            "--warmup",
            "5",
            "--intra-threads",
            "1",
            "--json",
            json_arg,
        ];
        let out = modelgate(&bench);
        assert!(out.status.success(), "bench: {}", stderr(&out));
        let out = modelgate(&[
            "eval",
            model_arg,
            "--config",
            &config,
            "--model-name",
            "cancer",
            "--json",
            json_arg,
        ]);
        assert!(out.status.success(), "eval: {}", stderr(&out));
        json
    }

    /// `modelgate baseline approve --model cancer --config ...` with more arguments.
    pub fn approve(&self, args: &[&str]) -> Output {
        let config = self.config();
        let mut all = vec![
            "baseline", "approve", "--model", "cancer", "--config", &config,
        ];
        all.extend_from_slice(args);
        modelgate(&all)
    }

    /// Approves a results file as `alice`, asserting success.
    pub fn approve_ok(&self, results: &Path) {
        let out = self.approve(&[
            "--from-results",
            results.to_str().unwrap(),
            "--yes",
            "--approver",
            "alice",
        ]);
        assert!(out.status.success(), "approve: {}", stderr(&out));
    }
}

/// Reads a JSON file.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Edits a JSON file in place.
pub fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut value = read_json(path);
    edit(&mut value);
    std::fs::write(path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
}

/// Asserts a command failed as a user error naming `expected` (see `support::assert_user_error`).
pub fn assert_refused(out: &Output, expected: &str) {
    support::assert_user_error(out, expected);
}
