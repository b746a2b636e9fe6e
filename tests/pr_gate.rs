//! The gate as a pull request meets it: a git repository holding the project's own config,
//! models, data and approved baselines on `main`, cloned, with one commit on top that changes a
//! model, and the README's gate command run in the clone with no extra flags.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{assert_exit, git, root, stdout};

/// Copies `relative` (a file or folder) from the repository into `dest`.
fn copy(relative: &str, dest: &Path) {
    let from = root().join(relative);
    let to = dest.join(relative);
    if from.is_dir() {
        for entry in std::fs::read_dir(&from).unwrap() {
            let name = entry.unwrap().file_name();
            copy(&format!("{relative}/{}", name.to_string_lossy()), dest);
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

/// `main` of a project set up as this repository is, and a clone of it to make the PR in.
struct Project {
    _dir: tempfile::TempDir,
    clone: PathBuf,
}

/// The shipped config with only the named models, and fewer timed runs, so each model's A/B
/// takes a second or two.
fn shipped_config(names: &[&str]) -> String {
    let shipped = std::fs::read_to_string(root().join("modelgate.toml")).unwrap();
    let mut blocks = shipped.split("\n[[models]]\n");
    let mut config = blocks.next().unwrap().to_string();
    for block in blocks {
        let name = block.lines().next().unwrap();
        if names.iter().any(|n| name == format!("name = \"{n}\"")) {
            config.push_str("\n[[models]]\n");
            config.push_str(block);
        }
    }
    let config = config
        .replace(
            "iterations = 2000",
            "iterations = 400\nwarmup_s = 0.2\nmax_time_s = 4",
        )
        .replace(
            "iterations = 1000",
            "iterations = 200\nwarmup_s = 0.2\nmax_time_s = 4",
        );
    for name in names {
        assert!(config.contains(&format!("name = \"{name}\"")), "{config}");
    }
    config
}

impl Project {
    /// The tabular and digits demos.
    fn new() -> Project {
        Project::with(
            &["cancer", "digits"],
            &[
                "cancer_fp32",
                "cancer_slow",
                "cancer_lowrecall",
                "digits_fp32",
                "digits_lowrecall",
            ],
        )
    }

    /// A repository of the shipped config's `names` and the model files `models`.
    fn with(names: &[&str], models: &[&str]) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("main");
        copy("baselines", &main);
        // Each model's labeled test data only (its manifest and the `test/` folder beside
        // it), not the training images: a test repository holds what the gate reads.
        let config = shipped_config(names);
        for line in config.lines() {
            if let Some(path) = line.strip_prefix("path = \"models/data/") {
                let manifest = format!("models/data/{}", path.trim_end_matches('"'));
                copy(&manifest, &main);
                let folder = Path::new(&manifest).with_file_name("test");
                if root().join(&folder).is_dir() {
                    copy(folder.to_str().unwrap(), &main);
                }
            }
        }
        for model in models {
            copy(&format!("models/{model}.onnx"), &main);
        }
        assert!(config.contains("base_ref = \"merge-base\""), "{config}");
        Project::commit_and_clone(dir, &config, "models and approved baselines")
    }

    /// `main` in `dir` (its files already copied in) with `config` as its modelgate.toml,
    /// committed as `message`, and a clone of it to make the PR in.
    fn commit_and_clone(dir: tempfile::TempDir, config: &str, message: &str) -> Project {
        let main = dir.path().join("main");
        std::fs::write(main.join("modelgate.toml"), config).unwrap();
        git(&main, &["init", "-q"]);
        git(&main, &["add", "-A"]);
        git(&main, &["commit", "-qm", message]);
        let clone = dir.path().join("clone");
        git(
            dir.path(),
            &[
                "clone",
                "-q",
                main.to_str().unwrap(),
                clone.to_str().unwrap(),
            ],
        );
        Project { _dir: dir, clone }
    }

    /// One commit on top of main: `from` copied over `to`, both in models/.
    fn swap(&self, from: &str, to: &str) {
        std::fs::copy(
            self.clone.join("models").join(from),
            self.clone.join("models").join(to),
        )
        .unwrap();
        git(
            &self.clone,
            &["commit", "-qam", &format!("use {from} as {to}")],
        );
    }

    fn gate(&self, extra: &[&str]) -> (Output, serde_json::Value) {
        support::gate(
            &self.clone.join("modelgate.toml"),
            &self.clone.join("comparison.json"),
            extra,
        )
    }
}

fn model<'a>(comparison: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    comparison["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no model {name}"))
}

fn status<'a>(model: &'a serde_json::Value, criterion: &str) -> &'a serde_json::Value {
    &model["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == criterion)
        .unwrap_or_else(|| panic!("no criterion {criterion} in {model}"))["status"]
}

#[test]
fn main_itself_passes_with_models_unchanged() {
    let project = Project::new();
    let (out, comparison) = project.gate(&[]);
    assert_exit(&out, 0);
    for name in ["cancer", "digits"] {
        let m = model(&comparison, name);
        assert_eq!(m["latency_source"]["kind"], "model_unchanged", "{name}");
        assert_eq!(status(m, "accuracy"), "pass", "{name}");
    }
}

#[test]
fn a_pr_that_swaps_in_a_lower_recall_model_fails() {
    let project = Project::new();
    project.swap("digits_lowrecall.onnx", "digits_fp32.onnx");
    let (out, comparison) = project.gate(&[]);
    assert_exit(&out, 1);
    let digits = model(&comparison, "digits");
    assert_eq!(digits["verdict"], "fail");
    assert_eq!(digits["latency_source"]["kind"], "same_runner_ab");
    assert_eq!(status(digits, "accuracy"), "fail");
    assert_eq!(status(digits, "macro recall"), "fail");
    assert_eq!(model(&comparison, "cancer")["verdict"], "pass");
    assert!(
        digits["notes"][0]
            .as_str()
            .unwrap()
            .contains("merge base of HEAD and origin/main"),
        "{}",
        digits["notes"]
    );
}

#[test]
fn a_pr_that_swaps_in_a_slower_model_fails_on_p50() {
    let project = Project::new();
    project.swap("cancer_slow.onnx", "cancer_fp32.onnx");
    let (out, comparison) = project.gate(&[]);
    assert_exit(&out, 1);
    let cancer = model(&comparison, "cancer");
    assert_eq!(cancer["latency_source"]["kind"], "same_runner_ab");
    assert_eq!(status(cancer, "p50 latency"), "fail");
    assert_eq!(status(cancer, "accuracy"), "pass", "same predictions");
    assert!(stdout(&out).contains("FAIL"), "{}", stdout(&out));
    // A failing latency has both models' operators profiled: the dead branch's nodes are the
    // candidate's alone, and the op types it adds took time they did not take before.
    let ops = &cancer["operators"];
    assert!(ops["added_count"].as_u64().unwrap() > 0, "{ops}");
    let top = &ops["op_types"][0];
    assert!(
        top["candidate_nodes"].as_u64() > top["baseline_nodes"].as_u64()
            && top["change_us_per_run"].as_f64().unwrap() > 0.0,
        "{ops}"
    );
    assert!(
        stdout(&out).contains("operators, base -> candidate:"),
        "{}",
        stdout(&out)
    );
    // An unchanged model is not profiled.
    assert!(model(&comparison, "digits").get("operators").is_none());
}

/// A project of one model without a dataset, whose pull request adds a dead conv branch
/// (`resnet_small_slow5`: identical outputs, about 5 % slower), with `profile = true`.
#[test]
fn a_pr_that_adds_a_conv_branch_names_the_added_conv_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    copy("models/resnet_small.onnx", &dir.path().join("main"));
    copy("models/resnet_small_slow5.onnx", &dir.path().join("main"));
    let project = Project::commit_and_clone(
        dir,
        "[[models]]\nname = \"resnet\"\ncandidate = \"models/resnet_small.onnx\"\n\
         base_ref = \"merge-base\"\n[models.bench]\niterations = 200\nwarmup_s = 0.2\n\
         max_time_s = 4\nprofile = true\n",
        "resnet",
    );
    project.swap("resnet_small_slow5.onnx", "resnet_small.onnx");
    let clone = &project.clone;
    let report = clone.join("comment.md");
    let (out, comparison) = support::gate(
        &clone.join("modelgate.toml"),
        &clone.join("comparison.json"),
        &["--allow-new", "--report", report.to_str().unwrap()],
    );
    let resnet = model(&comparison, "resnet");
    assert_eq!(
        resnet["latency_source"]["kind"], "same_runner_ab",
        "{out:?}"
    );
    let ops = &resnet["operators"];
    // The branch's Conv is among the nodes only the candidate has, with its share of the run.
    // (Not always the slowest: the branch also makes ONNX Runtime add a layout reorder, which
    // some runs time above the Conv.)
    let added_conv = ops["added"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["op_type"] == "Conv")
        .unwrap_or_else(|| panic!("no added Conv: {ops}"));
    assert!(added_conv["share_pct"].as_f64().unwrap() > 0.0, "{ops}");
    // ONNX Runtime's own layout nodes, renumbered when a node is added, are paired, not listed.
    assert!(
        ops["removed"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["op_type"] != "Conv"),
        "{ops}"
    );
    let conv = ops["op_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["op_type"] == "Conv")
        .unwrap_or_else(|| panic!("no Conv row: {ops}"));
    assert_eq!(
        conv["candidate_nodes"].as_u64().unwrap(),
        conv["baseline_nodes"].as_u64().unwrap() + 1,
        "{ops}"
    );
    let comment = std::fs::read_to_string(&report).unwrap();
    assert!(
        comment.contains("**Operators, base → candidate:**"),
        "{comment}"
    );
    let only = comment
        .split("Only in the candidate:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no added nodes listed: {comment}"));
    let listed = only.split("\n\n").next().unwrap_or_default();
    assert!(listed.contains("- Conv "), "{comment}");
}

#[test]
fn the_base_commit_can_be_given_and_bad_refs_are_refused() {
    let project = Project::new();
    let base = git(&project.clone, &["rev-parse", "HEAD"]);
    project.swap("cancer_slow.onnx", "cancer_fp32.onnx");
    // The action passes the pull request's base commit.
    let (out, comparison) = project.gate(&["--base-ref", &base]);
    assert_exit(&out, 1);
    assert_eq!(status(model(&comparison, "cancer"), "p50 latency"), "fail");

    // A ref git would read as an option never reaches git.
    let (out, comparison) = project.gate(&["--base-ref=--output=written-by-git"]);
    assert_exit(&out, 2);
    let error = model(&comparison, "cancer")["error"].as_str().unwrap();
    assert!(error.contains("is not a git ref"), "{error}");
    assert!(!project.clone.join("written-by-git").exists());
    let (out, comparison) = project.gate(&["--base-ref", "no-such-branch"]);
    assert_exit(&out, 2);
    let error = model(&comparison, "digits")["error"].as_str().unwrap();
    assert!(
        error.contains("base_ref: no-such-branch: git knows no such commit"),
        "{error}"
    );
}

#[test]
fn a_git_lfs_pointer_is_named_with_the_fix() {
    let project = Project::new();
    std::fs::write(
        project.clone.join("models/cancer_fp32.onnx"),
        "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 839\n",
    )
    .unwrap();
    git(&project.clone, &["commit", "-qam", "lfs"]);
    let (out, comparison) = project.gate(&[]);
    assert_exit(&out, 2);
    let error = model(&comparison, "cancer")["error"].as_str().unwrap();
    assert!(
        error.contains("Git LFS pointer") && error.contains("git lfs pull"),
        "{error}"
    );
}

/// A fork's pull request that swaps in a lower-recall model and, in the same commit, re-approves
/// the baseline to match it: its own tree passes, but the gate the workflow runs (main's
/// checkout, the pull request's commit fetched as git objects and read with --candidate-ref)
/// fails it, since the baselines and config are main's.
#[test]
fn a_fork_that_forges_its_baseline_still_fails_the_trusted_gate() {
    let project = Project::new();
    project.swap("digits_lowrecall.onnx", "digits_fp32.onnx");
    let approve = support::modelgate(&[
        "baseline",
        "approve",
        "--model",
        "digits",
        "--config",
        project.clone.join("modelgate.toml").to_str().unwrap(),
        "--yes",
        "--force",
        "--approver",
        "fork",
    ]);
    assert_exit(&approve, 0);
    git(
        &project.clone,
        &["commit", "-qam", "approve my own baseline"],
    );
    let (out, _) = project.gate(&[]);
    assert_exit(&out, 0);
    let head = git(&project.clone, &["rev-parse", "HEAD"]);

    // The workflow's checkout of main, and the pull request's commit fetched, not checked out.
    let trusted = project.clone.parent().unwrap().join("trusted");
    let main = project.clone.parent().unwrap().join("main");
    git(
        trusted.parent().unwrap(),
        &[
            "clone",
            "-q",
            main.to_str().unwrap(),
            trusted.to_str().unwrap(),
        ],
    );
    git(
        &trusted,
        &[
            "fetch",
            "-q",
            project.clone.to_str().unwrap(),
            "HEAD:refs/remotes/pull/1/head",
        ],
    );
    let fp32 = std::fs::read(trusted.join("models/digits_fp32.onnx")).unwrap();
    let (out, comparison) = support::gate(
        &trusted.join("modelgate.toml"),
        &trusted.join("comparison.json"),
        &[&format!("--candidate-ref={head}")],
    );
    assert_exit(&out, 1);
    let digits = model(&comparison, "digits");
    assert_eq!(digits["verdict"], "fail");
    assert_eq!(status(digits, "macro recall"), "fail");
    assert_eq!(status(digits, "accuracy"), "fail");
    let lowrecall = std::fs::read(root().join("models/digits_lowrecall.onnx")).unwrap();
    assert_eq!(
        digits["candidate_sha256"],
        modelgate::machine::system::sha256_hex(&lowrecall),
        "the pull request's model was judged"
    );
    assert_eq!(digits["candidate_path"], "models/digits_fp32.onnx");
    assert!(
        digits["notes"][0].as_str().unwrap().starts_with(&format!(
            "candidate model: models/digits_fp32.onnx at {}",
            &head[..12]
        )),
        "{}",
        digits["notes"]
    );
    assert_eq!(model(&comparison, "cancer")["verdict"], "pass");
    // Nothing of the pull request was written to the checkout.
    assert_eq!(
        std::fs::read(trusted.join("models/digits_fp32.onnx")).unwrap(),
        fp32
    );
    assert_eq!(
        git(&trusted, &["status", "--porcelain"]),
        "?? comparison.json"
    );

    // A commit that is not there, or a ref git would read as an option, is an error (exit 2).
    let (out, _) = support::gate(
        &trusted.join("modelgate.toml"),
        &trusted.join("comparison.json"),
        &["--candidate-ref=--output=x"],
    );
    assert_exit(&out, 2);
    assert!(!trusted.join("x").exists());
}

/// `baseline approve --candidate-ref` approves the reviewed model only: another SHA-256 than the
/// one given is refused and nothing is written.
#[test]
fn approving_a_commits_model_checks_the_reviewed_sha256() {
    let project = Project::new();
    let main = git(&project.clone, &["rev-parse", "HEAD"]);
    project.swap("cancer_slow.onnx", "cancer_fp32.onnx");
    let head = git(&project.clone, &["rev-parse", "HEAD"]);
    git(&project.clone, &["checkout", "-q", &main]);
    let config = project.clone.join("modelgate.toml");
    let before = std::fs::read(project.clone.join("baselines/cancer.json")).unwrap();
    let approve = |sha: &str| {
        support::modelgate(&[
            "baseline",
            "approve",
            "--model",
            "cancer",
            "--config",
            config.to_str().unwrap(),
            "--candidate-ref",
            &head,
            "--expect-sha256",
            sha,
            "--yes",
            "--approver",
            "maintainer",
        ])
    };
    let slow = modelgate::machine::system::sha256_hex(
        &std::fs::read(root().join("models/cancer_slow.onnx")).unwrap(),
    );
    let fp32 = modelgate::machine::system::sha256_hex(
        &std::fs::read(root().join("models/cancer_fp32.onnx")).unwrap(),
    );
    let out = approve(&fp32);
    assert_exit(&out, 2);
    assert!(
        support::stderr(&out).contains("not the expected"),
        "{}",
        support::stderr(&out)
    );
    assert_eq!(
        std::fs::read(project.clone.join("baselines/cancer.json")).unwrap(),
        before
    );
    let out = approve(&slow);
    assert_exit(&out, 0);
    let written: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.clone.join("baselines/cancer.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(written["model"]["sha256"], slow);
    assert_eq!(written["model"]["path"], "models/cancer_fp32.onnx");
}

/// Models kept in Git LFS: the trusted checkout has only pointers (as `actions/checkout` without
/// `lfs: true` leaves them), and modelgate reads the pull request's model and the base model
/// through `git lfs smudge`, which fetches the objects from the remote. Needs git-lfs; without
/// it the test says so and checks nothing.
#[test]
fn models_in_git_lfs_are_read_through_lfs_at_each_commit() {
    let has_lfs = Command::new("git")
        .args(["lfs", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_lfs {
        eprintln!("git-lfs is not installed; skipping the Git LFS test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let origin = dir.path().join("origin.git");
    let work = dir.path().join("work");
    let url = format!("file://{}", origin.display());
    git(
        dir.path(),
        &["init", "-q", "--bare", origin.to_str().unwrap()],
    );
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q"]);
    git(&work, &["lfs", "install", "--local"]);
    git(&work, &["lfs", "track", "*.onnx"]);
    copy("models/data/breast_cancer", &work);
    copy("baselines/cancer.json", &work);
    std::fs::create_dir_all(work.join("models")).unwrap();
    std::fs::copy(
        root().join("models/cancer_fp32.onnx"),
        work.join("models/cancer.onnx"),
    )
    .unwrap();
    std::fs::write(
        work.join("modelgate.toml"),
        "[[models]]\nname = \"cancer\"\ncandidate = \"models/cancer.onnx\"\nbase_ref = \"merge-base\"\n\
         [models.dataset]\npath = \"models/data/breast_cancer/test.csv\"\n\
         [models.postprocess]\nactivation = \"sigmoid\"\nclass_names = [\"benign\", \"malignant\"]\n\
         [models.bench]\niterations = 300\nwarmup = 5\nwarmup_s = 0.2\nmax_time_s = 4\n",
    )
    .unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-qm", "models in LFS"]);
    git(&work, &["remote", "add", "origin", &url]);
    git(&work, &["push", "-q", "origin", "main"]);
    // The pull request: a slower model, pushed as GitHub stores it.
    std::fs::copy(
        root().join("models/cancer_slow.onnx"),
        work.join("models/cancer.onnx"),
    )
    .unwrap();
    git(&work, &["commit", "-qam", "a slower model"]);
    git(&work, &["push", "-q", "origin", "HEAD:refs/pull/1/head"]);
    let head = git(&work, &["rev-parse", "HEAD"]);

    let trusted = dir.path().join("trusted");
    let out = Command::new("git")
        .env("GIT_LFS_SKIP_SMUDGE", "1")
        .args(["clone", "-q", "-b", "main", &url, trusted.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pointer = std::fs::read(trusted.join("models/cancer.onnx")).unwrap();
    assert!(pointer.starts_with(b"version https://git-lfs"), "a pointer");
    git(&trusted, &["fetch", "-q", "origin", "refs/pull/1/head"]);
    let (out, comparison) = support::gate(
        &trusted.join("modelgate.toml"),
        &trusted.join("comparison.json"),
        &[&format!("--candidate-ref={head}")],
    );
    assert_exit(&out, 1);
    let cancer = model(&comparison, "cancer");
    let slow = std::fs::read(root().join("models/cancer_slow.onnx")).unwrap();
    assert_eq!(
        cancer["candidate_sha256"],
        modelgate::machine::system::sha256_hex(&slow)
    );
    assert_eq!(
        cancer["latency_source"]["kind"], "same_runner_ab",
        "base read through LFS too"
    );
    assert_eq!(status(cancer, "p50 latency"), "fail");
}

/// Names of the criteria that failed.
fn failed(model: &serde_json::Value) -> Vec<String> {
    model["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

/// The image demo (JPEGs through libjpeg-turbo and torchvision's transform): a model that keeps
/// its overall recall but loses it on one acquisition site fails on that site's criteria alone;
/// one that loses recall everywhere fails on recall and the recall floor.
#[test]
fn an_image_model_that_loses_recall_on_one_site_fails_on_that_site_alone() {
    let project = Project::with(&["scan"], &["scan_fp32", "scan_sitedrop", "scan_lowrecall"]);
    project.swap("scan_sitedrop.onnx", "scan_fp32.onnx");
    let (out, comparison) = project.gate(&[]);
    assert_exit(&out, 1);
    let scan = model(&comparison, "scan");
    assert_eq!(scan["latency_source"]["kind"], "same_runner_ab");
    // Latency is left out: the site detector adds a little work, and the tests' parallel A/Bs
    // make the tails noisy.
    let fails: Vec<String> = failed(scan)
        .into_iter()
        .filter(|name| !name.contains("latency"))
        .collect();
    assert!(
        !fails.is_empty() && fails.iter().all(|name| name.ends_with("in site=c")),
        "only site c's quality criteria may fail: {fails:?}"
    );
    assert_eq!(status(scan, "recall (positive)"), "pass");
    assert_eq!(status(scan, "accuracy"), "pass");
    assert_eq!(status(scan, "recall (positive) in site=a"), "pass");

    project.swap("scan_lowrecall.onnx", "scan_fp32.onnx");
    let (out, comparison) = project.gate(&[]);
    assert_exit(&out, 1);
    let scan = model(&comparison, "scan");
    assert_eq!(status(scan, "recall (positive)"), "fail");
    assert_eq!(status(scan, "minimum recall (positive)"), "fail");

    // The scans it got wrong come first, each with its site and the probability both models
    // gave its label, the first ones with a thumbnail of the scan.
    let changed = scan["accuracy"]["changed"].as_array().unwrap();
    let broke = |c: &serde_json::Value| c["baseline"] == c["label"];
    assert!(broke(&changed[0]), "{}", changed[0]);
    let first_fixed = changed.iter().position(|c| !broke(c));
    if let Some(i) = first_fixed {
        assert!(
            changed[i..].iter().all(|c| !broke(c)),
            "right -> wrong first"
        );
    }
    assert!(changed[0]["slices"]["site"].is_string(), "{}", changed[0]);
    assert!(changed[0]["candidate_label_score"].as_f64().unwrap() < 0.5);
    let thumbs = changed
        .iter()
        .filter(|c| c["thumbnail"].is_string())
        .count();
    assert_eq!(thumbs, changed.len().min(24), "the first 24 have one");
    assert!(changed[0]["thumbnail"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));
    let json = project.clone.join("comparison.json");
    let html = project.clone.join("report.html");
    let out = support::modelgate(&[
        "report",
        "--comparison",
        json.to_str().unwrap(),
        "--format",
        "html",
        "--out",
        html.to_str().unwrap(),
    ]);
    assert_exit(&out, 0);
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(
        // minijinja writes the URI's slash as an entity, which a browser reads back.
        page.matches("<img class=\"thumb\" src=\"data:image&#x2f;png;base64,")
            .count(),
        thumbs
    );
    let first_row = page.find("right → wrong").unwrap();
    assert!(page.find("wrong → right").is_none_or(|i| i > first_row));
    // The comment lists them too, without pictures.
    let out = support::modelgate(&["report", "--comparison", json.to_str().unwrap()]);
    assert_exit(&out, 0);
    let comment = stdout(&out);
    assert!(comment.contains("| right → wrong |"), "{comment}");
    assert!(!comment.contains("data:image"), "{comment}");
}

/// Reads a JSON file a command wrote.
fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// An evaluation's per-sample records, sorted by id.
fn records(results: &serde_json::Value) -> Vec<serde_json::Value> {
    let mut samples = results["eval"]["samples"].as_array().unwrap().clone();
    samples.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    samples
}

/// A model's criteria other than latency's (which two timing runs never give to the digit),
/// as (name, status, detail).
fn quality_criteria(model: &serde_json::Value) -> Vec<(String, String, String)> {
    model["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["name"].as_str().unwrap().contains("latency"))
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
                c["detail"].to_string(),
            )
        })
        .collect()
}

/// The same pull request gated in one run and in three shards merged: the same per-sample
/// records, metrics, paired tests and verdict; the latency comes from shard 1's A/B alone. A
/// shard missing or given twice, a sample moved into another shard's file, and one shard's file
/// judged as if it were the whole model are errors that write nothing.
#[test]
fn three_shards_merged_give_the_unsharded_records_numbers_and_verdict() {
    let project = Project::with(&["scan"], &["scan_fp32", "scan_lowrecall"]);
    project.swap("scan_lowrecall.onnx", "scan_fp32.onnx");
    let work = project.clone.join("work");
    std::fs::create_dir(&work).unwrap();
    let whole = work.join("whole");
    let (out, unsharded) = project.gate(&["--results-dir", whole.to_str().unwrap()]);
    assert_exit(&out, 1);

    let config = project.clone.join("modelgate.toml");
    let shard_dir = |k: u32| work.join(format!("shard{k}"));
    for k in 1..=3 {
        let out = support::modelgate(&[
            "gate",
            "--config",
            config.to_str().unwrap(),
            "--shard",
            &format!("{k}/3"),
            "--results-dir",
            shard_dir(k).to_str().unwrap(),
        ]);
        assert_exit(&out, 0);
        let file = read_json(&shard_dir(k).join("scan.json"));
        assert_eq!(file["shard"]["index"], k);
        // Only the latency shard times the model (and writes the A/B's base results).
        assert_eq!(file["bench"].is_object(), k == 1, "shard {k}");
        assert_eq!(shard_dir(k).join("scan.base.json").exists(), k == 1);
    }
    let slice_sizes: Vec<usize> = (1..=3)
        .map(|k| records(&read_json(&shard_dir(k).join("scan.json"))).len())
        .collect();
    assert_eq!(slice_sizes.iter().sum::<usize>(), 360, "{slice_sizes:?}");
    assert!(slice_sizes.iter().all(|n| *n > 60), "{slice_sizes:?}");

    let merged = work.join("merged");
    let shard_args = |ks: &[u32]| -> Vec<String> {
        ks.iter()
            .map(|k| shard_dir(*k).display().to_string())
            .collect()
    };
    let merge = |ks: &[u32], out_dir: &Path| {
        let mut args = vec!["merge".to_string()];
        args.extend(shard_args(ks));
        args.extend(["--out".to_string(), out_dir.display().to_string()]);
        support::modelgate(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    assert_exit(&merge(&[1, 2, 3], &merged), 0);
    let whole_results = read_json(&whole.join("scan.json"));
    let merged_results = read_json(&merged.join("scan.json"));
    assert_eq!(records(&merged_results), records(&whole_results));
    assert_eq!(
        merged_results["eval"]["metrics"],
        whole_results["eval"]["metrics"]
    );
    assert_eq!(
        merged_results["eval"]["slices"],
        whole_results["eval"]["slices"]
    );
    assert_eq!(merged_results["shard"]["count"], 3);
    assert!(merged_results["shard"].get("index").is_none());
    let shard1 = read_json(&shard_dir(1).join("scan.json"));
    assert_eq!(merged_results["bench"], shard1["bench"]);

    let (out, judged) = project.gate(&["--from-results", merged.to_str().unwrap()]);
    assert_exit(&out, 1);
    assert_eq!(judged["verdict"], unsharded["verdict"]);
    let (a, b) = (model(&judged, "scan"), model(&unsharded, "scan"));
    assert_eq!(quality_criteria(a), quality_criteria(b));
    assert_eq!(status(a, "recall (positive)"), "fail");
    let paired = |m: &serde_json::Value| -> Vec<serde_json::Value> {
        m["tests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| {
                let name = t["name"].as_str().unwrap();
                !["latency", "Mann-Whitney", "exceedance"]
                    .iter()
                    .any(|word| name.contains(word))
            })
            .map(|t| json_without(&json_without(t, "adjusted_p"), "decision"))
            .collect()
    };
    assert_eq!(paired(a), paired(b));
    assert!(
        a["notes"].to_string().contains("evaluated in 3 shards"),
        "{}",
        a["notes"]
    );

    // Errors, each writing nothing.
    let nowhere = work.join("not-written");
    let out = merge(&[1, 3], &nowhere);
    support::assert_user_error(&out, "shard 2/3 missing");
    let out = merge(&[1, 2, 2, 3], &nowhere);
    support::assert_user_error(&out, "shard 2/3 appears twice");
    let moved = work.join("moved");
    copy_tree(&shard_dir(3), &moved);
    let mut file = read_json(&moved.join("scan.json"));
    let stray = records(&read_json(&shard_dir(2).join("scan.json")))[0].clone();
    file["eval"]["samples"]
        .as_array_mut()
        .unwrap()
        .push(stray.clone());
    std::fs::write(moved.join("scan.json"), file.to_string()).unwrap();
    let mut args = shard_args(&[1, 2]);
    args.insert(0, "merge".into());
    args.extend([
        moved.display().to_string(),
        "--out".into(),
        nowhere.display().to_string(),
    ]);
    let out = support::modelgate(&args.iter().map(String::as_str).collect::<Vec<_>>());
    support::assert_user_error(&out, stray["id"].as_str().unwrap());
    assert!(
        !nowhere.exists(),
        "a failed merge wrote {}",
        nowhere.display()
    );

    let (out, judged) = project.gate(&["--from-results", shard_dir(2).to_str().unwrap()]);
    assert_exit(&out, 2);
    assert!(
        model(&judged, "scan")["error"]
            .to_string()
            .contains("holds shard 2/3 of model `scan` only"),
        "{}",
        model(&judged, "scan")
    );
}

/// `value` without the key `key` (an adjusted p-value, and the decision it makes, depend on the
/// whole family, which includes the latency tests).
fn json_without(value: &serde_json::Value, key: &str) -> serde_json::Value {
    let mut value = value.clone();
    if let Some(map) = value.as_object_mut() {
        map.remove(key);
    }
    value
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}
