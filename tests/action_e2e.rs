//! The composite action end to end: action.yml's own steps run with bash in a simulated Actions
//! environment (a pull_request event, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_ENV), the real
//! modelgate binary on real models, and GitHub played by a local server on 127.0.0.1.

use crate::support;

use std::path::{Path, PathBuf};

use support::action_runner::{ActionRun, StepResult};
use support::fake_github::FakeGithub;
use support::{model, root};

const TOKEN: &str = "ghs_WorkflowToken0123456789abcdef";
const OWNER: &str = "octo-org";
const NAME: &str = "models";
const PR: u64 = 7;
const MARKER: &str = "<!-- modelgate:report -->";

fn config(dir: &Path, candidate: &str) -> PathBuf {
    let body = format!(
        "[[models]]\nname = \"cancer\"\ncandidate = {:?}\nbase_model = {:?}\n\
         [models.dataset]\npath = {:?}\n\
         [models.postprocess]\nactivation = \"sigmoid\"\nclass_names = [\"benign\", \"malignant\"]\n\
         [models.bench]\niterations = 300\nwarmup = 5\nmax_time_s = 2\nintra_threads = 1\n",
        model(candidate),
        model("cancer_fp32.onnx"),
        root().join("models/data/breast_cancer/test.csv"),
    );
    let path = dir.join("modelgate.toml");
    std::fs::write(&path, body).unwrap();
    // The approved baseline, which accuracy and recall are judged against.
    std::fs::create_dir_all(dir.join("baselines")).unwrap();
    for file in ["cancer.json", "cancer.history.jsonl"] {
        std::fs::copy(
            root().join("baselines").join(file),
            dir.join("baselines").join(file),
        )
        .unwrap();
    }
    path
}

/// Runs the action once, as the runner would on a pull_request event.
fn run_action(fake: &FakeGithub, dir: &Path, config: &Path) -> ActionRun {
    run_action_with(fake, dir, config, &[])
}

/// Runs the action with inputs besides the config.
fn run_action_with(
    fake: &FakeGithub,
    dir: &Path,
    config: &Path,
    inputs: &[(&str, &str)],
) -> ActionRun {
    let event = serde_json::json!({
        "number": PR,
        "pull_request": { "number": PR, "head": { "repo": { "full_name": format!("{OWNER}/{NAME}") } } },
    });
    let event_path = dir.join("event.json");
    std::fs::write(&event_path, event.to_string()).unwrap();
    let action = root().join("action.yml");
    let temp = tempfile::tempdir_in(dir).unwrap().keep();
    let mut all = vec![("config", config.to_str().unwrap())];
    all.extend_from_slice(inputs);
    let mut run = ActionRun::new(&action, &all, event, &temp);
    for (key, value) in [
        ("repository", format!("{OWNER}/{NAME}")),
        ("event_name", "pull_request".to_string()),
        ("token", TOKEN.to_string()),
        ("action_path", root().display().to_string()),
    ] {
        run.github.insert(key.to_string(), value);
    }
    // The runner would evaluate input defaults with these; do it again now that they are set.
    let token = run.interpolate("${{ github.token }}");
    run.inputs.insert("github-token".into(), token);
    let env = [
        ("GITHUB_ACTIONS", "true".to_string()),
        ("GITHUB_API_URL", fake.api_root.clone()),
        ("GITHUB_REPOSITORY", format!("{OWNER}/{NAME}")),
        ("GITHUB_SERVER_URL", "https://github.example".to_string()),
        ("GITHUB_RUN_ID", "42".to_string()),
        ("GITHUB_EVENT_PATH", event_path.display().to_string()),
        (
            "GITHUB_STEP_SUMMARY",
            dir.join("summary.md").display().to_string(),
        ),
        ("GITHUB_ENV", dir.join("env").display().to_string()),
        ("ORT_DYLIB_PATH", support::ort_lib().display().to_string()),
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("HOME", std::env::var("HOME").unwrap_or_default()),
    ];
    run.env = env.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    // Installing modelgate means downloading a release or building it; use the binary under test.
    let mut install = StepResult {
        id: "install".into(),
        ..Default::default()
    };
    install
        .outputs
        .insert("path".into(), env!("CARGO_BIN_EXE_modelgate").into());
    run.steps.insert("install".into(), install);
    run.run_steps(&action, &["install"]);
    run
}

fn step<'a>(run: &'a ActionRun, id: &str) -> &'a StepResult {
    run.steps.get(id).unwrap_or_else(|| {
        panic!(
            "step {id} did not run: {:?}",
            run.steps.keys().collect::<Vec<_>>()
        )
    })
}

async fn fake() -> FakeGithub {
    let fake = FakeGithub::start().await;
    fake.add_workflow_token(TOKEN, false);
    fake.add_pull_request(OWNER, NAME, PR);
    fake
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passing_gate_posts_one_sticky_comment_summary_and_outputs() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "cancer_fp32.onnx");

    let first = tokio::task::block_in_place(|| run_action(&fake, dir.path(), &config));
    let gate = step(&first, "gate");
    assert_eq!(
        gate.outputs["verdict"], "pass",
        "{}{}",
        gate.stdout, gate.stderr
    );
    let comment = step(&first, "comment");
    assert_eq!(comment.exit_code, 0, "{}{}", comment.stdout, comment.stderr);
    let url = &comment.outputs["comment-url"];
    assert!(
        url.contains("issuecomment") || url.starts_with("http"),
        "{url}"
    );
    assert_eq!(comment.outputs["verdict"], "pass");
    let comments = fake.comments(OWNER, NAME, PR);
    assert_eq!(comments.len(), 1);
    assert!(comments[0].body.ends_with(MARKER), "marker last");
    assert!(comments[0].body.contains("cancer"));
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(summary.contains("cancer"), "{summary}");
    // The approval history, drawn after the report: one chart per metric the history keeps
    // (accuracy, recall, p50, p95), one point for its one approval.
    let history = summary
        .split("## Approved baselines over time")
        .nth(1)
        .unwrap_or_else(|| panic!("no history in the summary: {summary}"));
    assert!(history.contains("### cancer"), "{history}");
    assert_eq!(
        history.matches("```mermaid\nxychart-beta").count(),
        4,
        "{history}"
    );
    assert!(history.contains("x-axis [v1]"), "{history}");
    assert!(history.contains("| v1 | 2026"), "{history}");
    assert!(
        first.steps.values().all(|s| s.exit_code == 0),
        "every step succeeds on a pass"
    );
    for result in first.steps.values() {
        assert!(
            !result.stdout.contains(TOKEN) && !result.stderr.contains(TOKEN),
            "token leaked by {}",
            result.id
        );
    }

    let second = tokio::task::block_in_place(|| run_action(&fake, dir.path(), &config));
    assert_eq!(step(&second, "comment").exit_code, 0);
    assert_eq!(
        fake.comments(OWNER, NAME, PR).len(),
        1,
        "the second run updates, never duplicates"
    );
    assert_eq!(
        fake.count("PATCH", "/comments/1001"),
        1,
        "{:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_gate_annotates_comments_and_fails_the_action() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "cancer_lowrecall.onnx");
    let run = tokio::task::block_in_place(|| run_action(&fake, dir.path(), &config));
    assert_eq!(step(&run, "gate").outputs["verdict"], "fail");
    let annotate = step(&run, "annotate");
    assert!(
        annotate.stdout.contains("::error file=") && annotate.stdout.contains("title=modelgate"),
        "{}",
        annotate.stdout
    );
    assert_eq!(fake.comments(OWNER, NAME, PR).len(), 1);
    let last = run
        .steps
        .values()
        .find(|s| s.exit_code != 0)
        .expect("the verdict step fails");
    assert_eq!(last.exit_code, 1, "{}{}", last.stdout, last.stderr);
}

/// Dependabot's pull requests get a read-only token: the comment fails, which is a warning, and
/// the check still carries the annotations, the job summary and the verdict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_comment_is_a_warning_and_annotations_and_summary_stay() {
    let fake = FakeGithub::start().await;
    fake.add_workflow_token(TOKEN, true);
    fake.add_pull_request(OWNER, NAME, PR);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "cancer_lowrecall.onnx");
    let run = tokio::task::block_in_place(|| run_action(&fake, dir.path(), &config));
    let comment = step(&run, "comment");
    assert_eq!(comment.exit_code, 0, "{}{}", comment.stdout, comment.stderr);
    assert!(
        comment
            .stdout
            .contains("::warning title=modelgate comment::posting the comment"),
        "{}",
        comment.stdout
    );
    assert!(fake.comments(OWNER, NAME, PR).is_empty());
    assert!(step(&run, "annotate").stdout.contains("::error file="));
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(summary.contains("recall"), "{summary}");
    let failed: Vec<_> = run.steps.values().filter(|s| s.exit_code != 0).collect();
    assert_eq!(failed.len(), 1, "only the verdict fails the check");
    assert_eq!(failed[0].exit_code, 1);
}

/// `comment: never` still annotates the check and writes the job summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_comment_still_annotates_and_summarises() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "cancer_lowrecall.onnx");
    // A repository whose baseline has no history yet: nothing to draw, and no failed step.
    std::fs::remove_file(dir.path().join("baselines/cancer.history.jsonl")).unwrap();
    let run = tokio::task::block_in_place(|| {
        run_action_with(&fake, dir.path(), &config, &[("comment", "never")])
    });
    assert!(fake.comments(OWNER, NAME, PR).is_empty());
    assert!(step(&run, "annotate")
        .stdout
        .contains("title=modelgate%3A cancer"));
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(summary.contains("cancer"), "{summary}");
    let history = step(&run, "history");
    assert_eq!(history.exit_code, 0, "{}{}", history.stdout, history.stderr);
    assert!(
        history.stderr.contains("has a history"),
        "{}",
        history.stderr
    );
    assert!(
        !summary.contains("Approved baselines over time"),
        "{summary}"
    );
}

/// A run that stops before any report (here, a config that is not TOML) must not leave the
/// previous run's verdict standing in the sticky comment: the comment says there is no verdict,
/// and the action fails with the error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_before_any_report_replaces_the_previous_verdict_in_the_comment() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "cancer_fp32.onnx");
    let first = tokio::task::block_in_place(|| run_action(&fake, dir.path(), &config));
    assert_eq!(step(&first, "gate").outputs["verdict"], "pass");
    let comments = fake.comments(OWNER, NAME, PR);
    assert_eq!(comments.len(), 1);
    assert!(!comments[0].body.contains("no verdict"));

    std::fs::write(&config, "[[models]\nname = \"cancer\n").unwrap();
    let inputs = [("comment", "on-failure")];
    let run = tokio::task::block_in_place(|| run_action_with(&fake, dir.path(), &config, &inputs));
    assert_eq!(step(&run, "gate").outputs["verdict"], "error");
    assert_eq!(step(&run, "gate").outputs["report-path"], "");
    let comments = fake.comments(OWNER, NAME, PR);
    assert_eq!(comments.len(), 1, "updated, not duplicated");
    let body = &comments[0].body;
    assert!(body.contains("## modelgate: no verdict"), "{body}");
    assert!(
        body.contains(&format!(
            "https://github.example/{OWNER}/{NAME}/actions/runs/42"
        )),
        "{body}"
    );
    assert!(body.ends_with(MARKER), "{body}");
    let failed = run
        .steps
        .values()
        .find(|s| s.exit_code != 0)
        .expect("the verdict step fails");
    assert_eq!(failed.exit_code, 2, "{}{}", failed.stdout, failed.stderr);
}

/// The comment job of the fork-safe workflow (`post-report`) gets its folder from a job that
/// parsed the pull request's models, so nothing in it is posted as it is: a hostile `report.md`
/// is never posted (the comment is rendered from `comparison.json`), and a `comparison.json`
/// whose verdict disagrees with the checked `verdict` file gives "no verdict" and an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_job_posts_only_what_it_rendered_and_the_checked_verdict() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "cancer_lowrecall.onnx");
    let out = dir.path().join("artifact");
    let inputs = [("report-dir", out.to_str().unwrap()), ("comment", "never")];
    let measured =
        tokio::task::block_in_place(|| run_action_with(&fake, dir.path(), &config, &inputs));
    assert_eq!(step(&measured, "gate").outputs["verdict"], "fail");
    assert!(fake.comments(OWNER, NAME, PR).is_empty());
    // What a compromised measuring job could leave behind.
    let hostile = "## modelgate: pass\n\n@everyone ![x](https://evil.example/p.png) [click](https://evil.example)\n";
    std::fs::write(out.join("report.md"), hostile).unwrap();

    let post = [("post-report", out.to_str().unwrap())];
    let run = tokio::task::block_in_place(|| run_action_with(&fake, dir.path(), &config, &post));
    assert_eq!(step(&run, "comment").outputs["verdict"], "fail");
    let comments = fake.comments(OWNER, NAME, PR);
    assert_eq!(comments.len(), 1);
    let body = &comments[0].body;
    assert!(
        !body.contains("@everyone") && !body.contains("evil.example"),
        "{body}"
    );
    let rendered = support::modelgate(&[
        "report",
        "--comparison",
        out.join("comparison.json").to_str().unwrap(),
    ]);
    let rendered = String::from_utf8_lossy(&rendered.stdout);
    assert!(
        body.starts_with(rendered.trim_end()),
        "{body}\n---\n{rendered}"
    );
    assert!(body.to_lowercase().contains("fail"), "{body}");

    // A verdict file that says pass beside a comparison that says fail: neither is shown.
    std::fs::write(out.join("verdict"), "pass\n").unwrap();
    let run = tokio::task::block_in_place(|| run_action_with(&fake, dir.path(), &config, &post));
    let comment = step(&run, "comment");
    assert_eq!(comment.outputs["verdict"], "error", "{}", comment.stdout);
    assert_ne!(comment.exit_code, 0);
    assert!(
        comment
            .stderr
            .contains("says fail but the verdict expected is pass"),
        "{}{}",
        comment.stdout,
        comment.stderr
    );
    let comments = fake.comments(OWNER, NAME, PR);
    assert_eq!(comments.len(), 1, "updated, not duplicated");
    assert!(
        comments[0].body.contains("## modelgate: no verdict"),
        "{}",
        comments[0].body
    );
}
