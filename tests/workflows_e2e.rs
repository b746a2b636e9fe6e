//! The example workflows end to end: the jobs of `.github/workflows/example-gate.yml` and
//! `example-approve.yml` run step by step by a stand-in for the Actions runner
//! (`support::workflow_runner`), with the real modelgate binary and ONNX Runtime, real git on a
//! temporary "origin" repository with pull requests as `refs/pull/N/head`, and GitHub's REST API
//! played by the local server. What is asserted is what a maintainer would see on GitHub: each
//! job's result, the sticky comment, the annotations the runner would show, and the commits on
//! `main`.

use crate::support;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use support::expr::{self, Status};
use support::fake_github::{FakeGithub, PullRequest};
use support::workflow_runner::{git, JobRun, Setting, WorkflowRun};
use support::{model, root};

pub(crate) const TOKEN: &str = "ghs_WorkflowToken0123456789abcdef";
const READ_ONLY_TOKEN: &str = "ghs_DependabotReadOnly0123456789ab";
pub(crate) const OWNER: &str = "octo-org";
pub(crate) const NAME: &str = "models";
pub(crate) const MARKER: &str = "<!-- modelgate:report -->";
pub(crate) const GATE: &str = ".github/workflows/example-gate.yml";
/// The sharded gate: measure (a matrix of shards), merge and comment; tests in sharded_e2e.rs.
pub(crate) const SHARDED: &str = ".github/workflows/example-sharded.yml";
const APPROVE: &str = ".github/workflows/example-approve.yml";

pub(crate) fn repository() -> String {
    format!("{OWNER}/{NAME}")
}

/// The base branch's config: the cancer model judged on recall, with latency limits wide
/// enough that the timing of tiny models on a busy test machine decides nothing here.
const CONFIG: &str = r#"[criteria]
max_p50_regression_pct = 400.0
max_p95_regression_pct = 400.0
max_p99_regression_pct = 400.0
max_accuracy_drop_pts = 0.5
max_recall_drop_pts = 0.5

[[models]]
name = "cancer"
candidate = "models/cancer.onnx"
base_ref = "merge-base"

[models.dataset]
path = "data/test.csv"

[models.postprocess]
activation = "sigmoid"
threshold = 0.5
class_names = ["benign", "malignant"]
positive_class = "malignant"

[models.bench]
iterations = 300
warmup = 5
max_time_s = 2
intra_threads = 1

[models.criteria]
min_recall = 0.80
"#;

pub(crate) fn sha256(path: &Path) -> String {
    use std::process::Command;
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)[..64].to_string()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = git(dir, args).unwrap_or_else(|e| panic!("{e}"));
    out.trim().to_string()
}

/// A project on GitHub: a bare "origin" (what actions/checkout clones) and a working clone to
/// make commits and pull requests in.
pub(crate) struct Project {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) work: PathBuf,
    pub(crate) origin: PathBuf,
}

impl Project {
    pub(crate) fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        let copy = |from: PathBuf, to: &str| {
            let to = work.join(to);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(from, to).unwrap();
        };
        copy(model("cancer_fp32.onnx"), "models/cancer.onnx");
        copy(
            root().join("models/data/breast_cancer/test.csv"),
            "data/test.csv",
        );
        for file in ["cancer.json", "cancer.history.jsonl"] {
            copy(
                root().join("baselines").join(file),
                &format!("baselines/{file}"),
            );
        }
        for file in [GATE, APPROVE] {
            copy(root().join(file), file);
        }
        // The project's copy of the sharded example names its own model in the matrix.
        let sharded = std::fs::read_to_string(root().join(SHARDED)).unwrap();
        let matrix = "model: [scan]";
        assert!(sharded.contains(matrix), "{SHARDED} has {matrix}");
        std::fs::write(
            work.join(SHARDED),
            sharded.replace(matrix, "model: [cancer]"),
        )
        .unwrap();
        std::fs::write(work.join("modelgate.toml"), CONFIG).unwrap();
        std::fs::write(work.join("README.md"), "models\n").unwrap();
        let origin = dir.path().join("origin.git");
        ok(
            dir.path(),
            &["init", "--quiet", "--initial-branch=main", "work"],
        );
        for (key, value) in [
            ("user.name", "Maintainer"),
            ("user.email", "maintainer@example.com"),
            ("commit.gpgsign", "false"),
        ] {
            ok(&work, &["config", key, value]);
        }
        ok(&work, &["add", "-A"]);
        ok(
            &work,
            &[
                "commit",
                "--quiet",
                "-m",
                "models, data and approved baselines",
            ],
        );
        ok(
            dir.path(),
            &["clone", "--quiet", "--bare", "work", "origin.git"],
        );
        ok(
            &work,
            &["remote", "add", "origin", origin.to_str().unwrap()],
        );
        ok(&work, &["fetch", "--quiet", "origin"]);
        Project { dir, work, origin }
    }

    /// `main` as origin has it now.
    pub(crate) fn main_sha(&self) -> String {
        ok(&self.origin, &["rev-parse", "refs/heads/main"])
    }

    /// A commit on `branch` (from origin's main the first time) made by `edit`, pushed to
    /// origin as pull request `number`'s head; returns its SHA.
    pub(crate) fn push_pr(&self, number: u64, branch: &str, edit: impl FnOnce(&Path)) -> String {
        ok(&self.work, &["fetch", "--quiet", "origin"]);
        let exists = git(&self.work, &["rev-parse", "--verify", "--quiet", branch]).is_ok();
        if exists {
            ok(&self.work, &["checkout", "--quiet", branch]);
        } else {
            ok(
                &self.work,
                &["checkout", "--quiet", "-b", branch, "origin/main"],
            );
        }
        edit(&self.work);
        ok(&self.work, &["add", "-A"]);
        ok(
            &self.work,
            &["commit", "--quiet", "-m", &format!("change for #{number}")],
        );
        let refspec = format!("+HEAD:refs/pull/{number}/head");
        ok(&self.work, &["push", "--quiet", "origin", &refspec]);
        ok(&self.work, &["rev-parse", "HEAD"])
    }

    /// A maintainer's commit on `main` that rewrites file `path` with `edit`, pushed to origin.
    pub(crate) fn commit_on_main(&self, path: &str, edit: impl FnOnce(String) -> String) {
        ok(&self.work, &["fetch", "--quiet", "origin"]);
        ok(
            &self.work,
            &["checkout", "--quiet", "-B", "main", "origin/main"],
        );
        let file = self.work.join(path);
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, edit(text)).unwrap();
        ok(
            &self.work,
            &["commit", "--quiet", "-am", &format!("edit {path}")],
        );
        ok(&self.work, &["push", "--quiet", "origin", "main"]);
    }

    pub(crate) fn file_at(&self, rev: &str, path: &str) -> String {
        ok(&self.origin, &["show", &format!("{rev}:{path}")])
    }
}

/// A pull request as GitHub knows it.
pub(crate) struct Pr {
    pub(crate) number: u64,
    pub(crate) head_sha: String,
    pub(crate) head_ref: String,
    pub(crate) head_repo: String,
    pub(crate) author: String,
}

impl Pr {
    /// A pull request by alice from a branch of the repository itself, whose one commit makes
    /// `edit` to the project.
    pub(crate) fn pushed(
        project: &Project,
        number: u64,
        branch: &str,
        edit: impl FnOnce(&Path),
    ) -> Pr {
        Pr {
            number,
            head_sha: project.push_pr(number, branch, edit),
            head_ref: branch.into(),
            head_repo: repository(),
            author: "alice".into(),
        }
    }

    /// A pull request that swaps in the lower-recall model.
    pub(crate) fn lower_recall_model(project: &Project, number: u64) -> Pr {
        Pr::pushed(project, number, "recall-tradeoff", |work| {
            std::fs::copy(
                model("cancer_lowrecall.onnx"),
                work.join("models/cancer.onnx"),
            )
            .unwrap();
        })
    }

    pub(crate) fn register(&self, fake: &FakeGithub, project: &Project) {
        fake.set_pull_request(
            OWNER,
            NAME,
            PullRequest {
                number: self.number,
                state: "open".into(),
                head_sha: self.head_sha.clone(),
                head_ref: self.head_ref.clone(),
                head_repo: self.head_repo.clone(),
                base_ref: "main".into(),
                base_sha: project.main_sha(),
                author: self.author.clone(),
            },
        );
    }

    /// The `pull_request_target` payload.
    pub(crate) fn event(&self, project: &Project, action: &str) -> Value {
        json!({
            "action": action,
            "number": self.number,
            "pull_request": {
                "number": self.number,
                "state": "open",
                "head": { "sha": self.head_sha, "ref": self.head_ref, "repo": { "full_name": self.head_repo } },
                "base": { "sha": project.main_sha(), "ref": "main", "repo": { "full_name": repository() } },
                "user": { "login": self.author },
            },
            "repository": { "full_name": repository() },
            "sender": { "login": self.author },
        })
    }
}

/// One workflow run's setting: event, actor, token, and a fresh artifact store.
pub(crate) fn setting(
    project: &Project,
    fake: &FakeGithub,
    event_name: &str,
    event: Value,
    actor: &str,
    token: &str,
) -> Setting {
    let run = tempfile::tempdir_in(project.dir.path()).unwrap().keep();
    let inputs = event["inputs"]
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(k, v)| (k.clone(), expr::to_text(v)))
                .collect()
        })
        .unwrap_or_default();
    let github = [
        ("repository", repository()),
        ("repository_owner", OWNER.to_string()),
        ("actor", actor.to_string()),
        ("token", token.to_string()),
        ("sha", project.main_sha()),
        ("ref", "refs/heads/main".to_string()),
        ("run_id", "4242".to_string()),
        ("server_url", "https://github.example".to_string()),
    ];
    Setting {
        origin: project.origin.clone(),
        action_dir: root(),
        store: run.join("artifacts"),
        work: run.join("jobs"),
        api_url: fake.api_root.clone(),
        event_name: event_name.to_string(),
        event,
        github: github
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        vars: Default::default(),
        inputs,
        modelgate: PathBuf::from(env!("CARGO_BIN_EXE_modelgate")),
        ort_lib: support::ort_lib().to_path_buf(),
    }
}

pub(crate) async fn fake() -> FakeGithub {
    let fake = FakeGithub::start().await;
    fake.add_workflow_token(TOKEN, false);
    fake.add_workflow_token(READ_ONLY_TOKEN, true);
    fake
}

/// The gate workflow's two jobs for one push to a pull request.
pub(crate) fn run_gate(project: &Project, fake: &FakeGithub, pr: &Pr, token: &str) -> WorkflowRun {
    pr.register(fake, project);
    let event = pr.event(project, "synchronize");
    let setting = setting(
        project,
        fake,
        "pull_request_target",
        event,
        &pr.author,
        token,
    );
    // The base branch's copy of the workflow is what pull_request_target runs.
    let workflow = project.work.join("base-gate.yml");
    std::fs::write(&workflow, project.file_at("main", GATE)).unwrap();
    let mut run = WorkflowRun::new(&workflow, setting);
    run.run_job("measure");
    run.run_job("comment");
    run
}

pub(crate) fn comparison(run: &WorkflowRun) -> Value {
    let path = run.setting.store.join("modelgate-report/comparison.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}\n{}",
            path.display(),
            run.jobs["measure"].describe()
        )
    });
    serde_json::from_str(&text).unwrap()
}

pub(crate) fn criterion<'a>(comparison: &'a Value, name: &str) -> &'a Value {
    let model = &comparison["models"][0];
    model["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"].as_str().unwrap_or("").starts_with(name))
        .unwrap_or_else(|| panic!("no criterion {name} in {model}"))
}

pub(crate) fn assert_job(job: &JobRun, result: &str) {
    assert_eq!(job.result, result, "{}", job.describe());
}

/// A map from `[(k, v)]`, for comparing permissions.
fn map(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn expressions_follow_github() {
    let ctx = json!({
        "vars": {},
        "steps": { "gate": { "outputs": { "report-path": "/r.md" }, "outcome": "success" } },
        "github": { "event": { "pull_request": { "number": 7 } }, "event_name": "pull_request" },
    });
    let text = |e: &str| expr::to_text(&expr::evaluate(e, &ctx, Status::default()));
    assert_eq!(
        text("vars.MODELGATE_RUNNER || 'ubuntu-latest'"),
        "ubuntu-latest"
    );
    assert_eq!(text("steps.gate.outputs.report-path"), "/r.md");
    assert_eq!(text("github.event.pull_request.number"), "7");
    assert_eq!(text("github.event.pull_request.number == '7'"), "true");
    assert_eq!(text("github.event_name == 'PULL_REQUEST'"), "true");
    assert_eq!(text("!(steps.gate.outcome != 'success')"), "true");
    assert_eq!(text("steps.nope.outputs.x && 'y'"), "");
    let failed = Status {
        failed: true,
        cancelled: false,
    };
    assert!(!expr::condition(
        "steps.gate.outputs.report-path != ''",
        &ctx,
        failed
    ));
    assert!(expr::condition(
        "always() && steps.gate.outputs.report-path != ''",
        &ctx,
        failed
    ));
    assert!(expr::condition("${{ failure() }}", &ctx, failed));
}

#[test]
fn the_runner_reads_workflow_commands_as_github_does() {
    use support::commands::CommandProcessor;
    let mut runner = CommandProcessor::default();
    let error = runner
        .process("  ::error title=a%3Ab,file=x.rs::line one%0Aline two")
        .unwrap();
    assert_eq!(error.name, "error");
    assert_eq!(error.properties["title"], "a:b");
    assert_eq!(error.message, "line one\nline two");
    assert!(runner.process("::unknown::x").is_none());
    assert!(runner
        .process("text ##[warning]old form anywhere")
        .is_some());
    assert!(runner.process("::stop-commands::tok123").is_some());
    assert!(runner.process("::error::ignored while stopped").is_none());
    assert!(runner.process("::tok123::").is_some(), "resumes");
    assert!(runner.process("::ERROR::case-insensitive").is_some());
}

/// Scenario 1: a fork swaps in a lower-recall model and forges everything else the gate could
/// be told (its own baseline, lower thresholds, a results file saying pass). The base branch's
/// workflow judges the fork's model with the base branch's config and baseline, and fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_that_forges_a_pass_still_fails() {
    let fake = fake().await;
    let project = Project::new();
    let lowrecall_sha = sha256(&model("cancer_lowrecall.onnx"));
    let base_baseline: Value =
        serde_json::from_str(&project.file_at("main", "baselines/cancer.json")).unwrap();
    let head_sha = project.push_pr(11, "fork-main", |work| {
        std::fs::copy(
            model("cancer_lowrecall.onnx"),
            work.join("models/cancer.onnx"),
        )
        .unwrap();
        // Its own baseline: the low-recall model's hash with recall numbers to match.
        let mut baseline = base_baseline.clone();
        baseline["model"]["sha256"] = json!(lowrecall_sha);
        baseline["environment"]["model_sha256"] = json!(lowrecall_sha);
        lower_recall(&mut baseline);
        let text = serde_json::to_string_pretty(&baseline).unwrap();
        std::fs::write(work.join("baselines/cancer.json"), text).unwrap();
        let config = CONFIG
            .replace("min_recall = 0.80", "min_recall = 0.0")
            .replace("max_recall_drop_pts = 0.5", "max_recall_drop_pts = 100.0")
            .replace(
                "max_accuracy_drop_pts = 0.5",
                "max_accuracy_drop_pts = 100.0",
            );
        std::fs::write(work.join("modelgate.toml"), config).unwrap();
        std::fs::create_dir_all(work.join("results")).unwrap();
        std::fs::write(work.join("results/verdict"), "pass\n").unwrap();
        std::fs::write(
            work.join("results/cancer.json"),
            r#"{"verdict": "pass", "models": [{"name": "cancer", "verdict": "pass"}]}"#,
        )
        .unwrap();
    });
    let pr = Pr {
        number: 11,
        head_sha,
        head_ref: "main".into(),
        head_repo: "mallory/models".into(),
        author: "mallory".into(),
    };
    let run = tokio::task::block_in_place(|| run_gate(&project, &fake, &pr, TOKEN));

    let measure = &run.jobs["measure"];
    assert_job(measure, "failure");
    assert_eq!(
        measure.step("gate").outputs["verdict"],
        "fail",
        "{}",
        measure.describe()
    );
    let comparison = comparison(&run);
    assert_eq!(
        criterion(&comparison, "recall")["status"],
        "fail",
        "{comparison}"
    );
    let text = comparison.to_string();
    assert!(
        text.contains(&lowrecall_sha),
        "the PR's model was judged: {comparison}"
    );
    let base_model_sha = base_baseline["model"]["sha256"].as_str().unwrap();
    assert!(
        text.contains(base_model_sha),
        "judged against the base branch's baseline (of model {base_model_sha}): {comparison}"
    );
    assert!(
        measure
            .annotations("error")
            .iter()
            .any(|c| c.text().contains("recall")),
        "an error annotation names the failed criterion: {:?}",
        measure.commands()
    );

    let comment_job = &run.jobs["comment"];
    assert_job(comment_job, "success");
    let comments = fake.comments(OWNER, NAME, 11);
    assert_eq!(comments.len(), 1, "{}", comment_job.describe());
    assert!(comments[0].body.ends_with(MARKER));
    assert!(comments[0].body.contains("cancer"));
    assert!(
        comments[0].body.to_lowercase().contains("fail"),
        "{}",
        comments[0].body
    );
    assert!(
        comments[0].body.contains(&lowrecall_sha[..12]),
        "{}",
        comments[0].body
    );
    assert_eq!(
        run.permissions("comment"),
        map(&[("pull-requests", "write")])
    );
    assert_eq!(run.permissions("measure"), map(&[("contents", "read")]));
    for job in run.jobs.values() {
        for step in job.all_steps() {
            assert!(!step.log.contains(TOKEN), "token in the log of {}", step.id);
        }
    }
}

/// Sets every number named like recall to a tenth, wherever it is.
fn lower_recall(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if key.contains("recall") {
                    if let Some(n) = item.as_f64() {
                        *item = json!(n / 10.0);
                        continue;
                    }
                }
                lower_recall(item);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(lower_recall),
        _ => {}
    }
}

/// Scenario 3: a pull request from a branch of the repository passes, and a second push updates
/// the one sticky comment instead of adding another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_same_repo_pr_passes_and_its_comment_is_updated_not_duplicated() {
    let fake = fake().await;
    let project = Project::new();
    let mut pr = Pr::pushed(&project, 12, "docs", |work| {
        std::fs::write(work.join("README.md"), "models, documented\n").unwrap();
    });
    let first = tokio::task::block_in_place(|| run_gate(&project, &fake, &pr, TOKEN));
    assert_job(&first.jobs["measure"], "success");
    assert_eq!(
        first.jobs["measure"].step("gate").outputs["verdict"],
        "pass"
    );
    assert_job(&first.jobs["comment"], "success");
    let comments = fake.comments(OWNER, NAME, 12);
    assert_eq!(comments.len(), 1, "{}", first.jobs["comment"].describe());
    let first_body = comments[0].body.clone();
    assert!(first_body.contains(&pr.head_sha[..7]) || first_body.contains("cancer"));

    pr.head_sha = project.push_pr(12, "docs", |work| {
        std::fs::write(work.join("README.md"), "models, documented twice\n").unwrap();
    });
    let second = tokio::task::block_in_place(|| run_gate(&project, &fake, &pr, TOKEN));
    assert_job(&second.jobs["measure"], "success");
    assert_job(&second.jobs["comment"], "success");
    let comments = fake.comments(OWNER, NAME, 12);
    assert_eq!(comments.len(), 1, "updated, never duplicated");
    assert_eq!(fake.count("POST", "/issues/12/comments"), 1);
    assert_eq!(
        fake.count("PATCH", &format!("/comments/{}", comments[0].id)),
        1,
        "{:?}",
        fake.requests()
    );
    assert!(first.jobs["measure"].annotations("error").is_empty());
}

/// Scenario 4: Dependabot's pull requests get a read-only token even under
/// pull_request_target. The comment cannot be posted: a warning says so, the comment job does
/// not fail, and the measure job's verdict is what the check shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_token_warns_and_the_verdict_stands() {
    let fake = fake().await;
    let project = Project::new();
    let pr = Pr {
        author: "dependabot[bot]".into(),
        ..Pr::pushed(&project, 13, "dependabot/pip/onnx-1.99", |work| {
            std::fs::write(work.join("README.md"), "models, bumped\n").unwrap();
        })
    };
    let run = tokio::task::block_in_place(|| run_gate(&project, &fake, &pr, READ_ONLY_TOKEN));
    assert_job(&run.jobs["measure"], "success");
    assert_eq!(run.jobs["measure"].step("gate").outputs["verdict"], "pass");
    let comment = &run.jobs["comment"];
    assert_job(comment, "success");
    assert!(fake.comments(OWNER, NAME, 13).is_empty());
    let warnings = comment.annotations("warning");
    assert!(
        warnings
            .iter()
            .any(|w| w.message.contains("posting the comment on #13 failed")),
        "{}",
        comment.describe()
    );
    assert!(
        comment.annotations("error").is_empty(),
        "{:?}",
        comment.commands()
    );
}

/// Scenario 2: text a pull request controls (a results file here: modelgate prints no free
/// text from the ONNX file itself) carries workflow commands. Whatever modelgate prints of it,
/// the runner must execute none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_commands_in_untrusted_results_are_never_executed() {
    let fake = fake().await;
    let job = tokio::task::block_in_place(|| {
        judge_forged_results(&fake, "s\n::error title=forged::pwned-id")
    });
    assert_no_forged_command(&job);
}

/// The runner also reads the older `##[name]` form anywhere in a line (its fallback,
/// `ActionCommand.TryParse`), so a quoted value that starts a line with `> ` is not enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_older_command_form_mid_line_is_never_executed() {
    let fake = fake().await;
    let job = tokio::task::block_in_place(|| {
        judge_forged_results(
            &fake,
            "s\n::error title=forged::pwned-id ##[warning]pwned-v1",
        )
    });
    assert_no_forged_command(&job);
}

/// Runs `gate --from-results` (then `report` and `annotate`) as workflow steps on a results
/// file whose free text carries workflow commands; a second gate step reads one whose first
/// sample id is `sample_id`.
fn judge_forged_results(fake: &FakeGithub, sample_id: &str) -> JobRun {
    let project = Project::new();
    let results = project.dir.path().join("results");
    std::fs::create_dir_all(&results).unwrap();
    let mut forged: Value =
        serde_json::from_str(&project.file_at("main", "baselines/cancer.json")).unwrap();
    forged["environment"]["cpu_model"] = json!("EPYC\n::error title=forged::pwned-cpu");
    forged["model"]["path"] = json!("models/cancer.onnx\n::add-mask::pwned-path");
    forged["eval"]["dataset"]["path"] =
        json!("data/test.csv\n  ::set-output name=verdict::pwned-dataset");
    // Notes are quoted in the report; the runner also reads the older `##[name]` form
    // anywhere in a line, not only at its start.
    forged["bench"]["notes"] = json!([
        "ok\r::warning title=forged::pwned-note",
        "  ::add-mask::pwned-mask\n::stop-commands::pwned",
        "quoted ##[error]pwned-mid-line",
    ]);
    std::fs::write(results.join("cancer.json"), forged.to_string()).unwrap();
    // A sample id the baseline does not know is quoted in the model's error.
    let ids = project.dir.path().join("results-ids");
    std::fs::create_dir_all(&ids).unwrap();
    forged["eval"]["samples"][0]["id"] = json!(sample_id);
    std::fs::write(ids.join("cancer.json"), forged.to_string()).unwrap();
    let workflow = project.dir.path().join("judge.yml");
    std::fs::write(
        &workflow,
        r#"on: pull_request_target
jobs:
  judge:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
      - id: gate
        env:
          RESULTS: ${{ vars.RESULTS }}
          MODELGATE: ${{ vars.MODELGATE }}
        run: |
          status=0
          "$MODELGATE" gate --config modelgate.toml --from-results "$RESULTS" \
            --json "$RUNNER_TEMP/comparison.json" --report "$RUNNER_TEMP/report.md" || status=$?
          echo "exit=$status" >>"$GITHUB_OUTPUT"
          "$MODELGATE" report --comparison "$RUNNER_TEMP/comparison.json" --format summary
      - id: ids
        env:
          RESULTS: ${{ vars.RESULTS_IDS }}
          MODELGATE: ${{ vars.MODELGATE }}
        run: |
          status=0
          "$MODELGATE" gate --config modelgate.toml --from-results "$RESULTS" || status=$?
          echo "exit=$status" >>"$GITHUB_OUTPUT"
      - if: always()
        env:
          MODELGATE: ${{ vars.MODELGATE }}
        run: '"$MODELGATE" annotate --comparison "$RUNNER_TEMP/comparison.json"'
"#,
    )
    .unwrap();
    let pr = Pr {
        number: 14,
        head_sha: project.main_sha(),
        head_ref: "x".into(),
        head_repo: "mallory/models".into(),
        author: "mallory".into(),
    };
    let mut setting = setting(
        &project,
        fake,
        "pull_request_target",
        pr.event(&project, "opened"),
        "mallory",
        TOKEN,
    );
    setting
        .vars
        .insert("RESULTS".into(), results.display().to_string());
    setting
        .vars
        .insert("RESULTS_IDS".into(), ids.display().to_string());
    setting
        .vars
        .insert("MODELGATE".into(), env!("CARGO_BIN_EXE_modelgate").into());
    let mut run = WorkflowRun::new(&workflow, setting);
    let job = run.run_job("judge");
    let gate = job.step("gate");
    assert!(gate.outputs.contains_key("exit"), "{}", job.describe());
    assert_eq!(job.step("ids").outputs["exit"], "2", "{}", job.describe());
    job
}

fn assert_no_forged_command(job: &JobRun) {
    // The report escapes markdown (`pwned\-note`); the text is there all the same.
    let everything: String = job
        .all_steps()
        .iter()
        .map(|s| s.log.replace('\\', ""))
        .collect();
    assert!(
        everything.contains("pwned-note") && everything.contains("pwned-id"),
        "the planted text reaches modelgate's output, so this test can fail: {}",
        job.describe()
    );
    for command in job.commands() {
        let text = command.text().to_lowercase();
        assert!(
            !text.contains("pwned") && !text.contains("forged"),
            "the runner would execute {command:?}\n{}",
            job.describe()
        );
    }
    let gate = job.step("gate");
    assert_ne!(
        gate.outputs.get("verdict").map(String::as_str),
        Some("pwned-dataset")
    );
}

/// Scenario 5: a maintainer approves the pull request's model as the new baseline with the
/// approval workflow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approving_a_baseline_takes_another_person_and_the_right_model() {
    let fake = fake().await;
    let project = Project::new();
    let lowrecall_sha = sha256(&model("cancer_lowrecall.onnx"));
    let pr = Pr::lower_recall_model(&project, 15);
    pr.register(&fake, &project);
    let approve = |actor: &str, sha: &str| -> WorkflowRun {
        let event = json!({
            "inputs": { "pr": pr.number.to_string(), "model": "cancer", "sha256": sha },
            "ref": "refs/heads/main",
            "repository": { "full_name": repository() },
            "sender": { "login": actor },
        });
        let setting = setting(&project, &fake, "workflow_dispatch", event, actor, TOKEN);
        let workflow = project.work.join("base-approve.yml");
        std::fs::write(&workflow, project.file_at("main", APPROVE)).unwrap();
        let mut run = WorkflowRun::new(&workflow, setting);
        let measure = run.run_job("measure");
        if measure.result == "success" {
            run.run_job("commit");
        }
        run
    };
    let before = project.main_sha();

    // (a) The pull request's author cannot approve its baseline.
    let own = tokio::task::block_in_place(|| approve("Alice", &lowrecall_sha));
    let measure = &own.jobs["measure"];
    assert_job(measure, "failure");
    assert_eq!(measure.step("pr").outcome, "failure");
    assert!(
        measure
            .annotations("error")
            .iter()
            .any(|e| e.message.contains("cannot approve its baseline")),
        "{}",
        measure.describe()
    );
    assert!(!own.setting.store.join("modelgate-baseline").exists());

    // (c) Another maintainer, but the SHA-256 of another model: refused, nothing pushed.
    let fp32_sha = sha256(&model("cancer_fp32.onnx"));
    let wrong = tokio::task::block_in_place(|| approve("bob", &fp32_sha));
    assert_job(&wrong.jobs["measure"], "failure");
    assert!(!wrong.setting.store.join("modelgate-baseline").exists());
    assert!(!wrong.jobs.contains_key("commit"));
    assert_eq!(project.main_sha(), before);

    // (d) The right person and model, but the model fails the config's own recall floor, so
    // the unchanged model's next gate would fail: refused, naming the floor, nothing pushed.
    let floored = tokio::task::block_in_place(|| approve("bob", &lowrecall_sha));
    assert_job(&floored.jobs["measure"], "failure");
    let said = floored.jobs["measure"].describe();
    assert!(said.contains("fails minimum recall (malignant)"), "{said}");
    assert!(!floored.jobs.contains_key("commit"));
    assert_eq!(project.main_sha(), before);
    // The maintainers lower the floor on main first, as the refusal says.
    project.commit_on_main("modelgate.toml", |text| {
        text.replace("min_recall = 0.80", "min_recall = 0.70")
    });
    let before = project.main_sha();

    // (b) Another maintainer with the model's SHA-256: the commit job lands the baseline.
    let history_before = project.file_at("main", "baselines/cancer.history.jsonl");
    let good = tokio::task::block_in_place(|| approve("bob", &lowrecall_sha));
    assert_job(&good.jobs["measure"], "success");
    assert_eq!(good.jobs["measure"].outputs["base"], "main");
    let commit = &good.jobs["commit"];
    assert_eq!(commit.environment.as_deref(), Some("modelgate-baselines"));
    assert_eq!(good.permissions("commit"), map(&[("contents", "write")]));
    assert_job(commit, "success");
    let after = project.main_sha();
    assert_ne!(after, before);
    assert_eq!(
        ok(&project.origin, &["rev-parse", &format!("{after}^")]),
        before
    );
    let changed = ok(&project.origin, &["diff", "--name-only", &before, &after]);
    assert_eq!(
        changed.lines().collect::<Vec<_>>(),
        ["baselines/cancer.history.jsonl", "baselines/cancer.json"]
    );
    let history_after = project.file_at("main", "baselines/cancer.history.jsonl");
    assert!(history_after.starts_with(&history_before));
    assert_eq!(
        history_after.lines().count(),
        history_before.lines().count() + 1
    );
    let baseline: Value =
        serde_json::from_str(&project.file_at("main", "baselines/cancer.json")).unwrap();
    assert_eq!(baseline["model"]["sha256"], lowrecall_sha.as_str());

    // The gate now judges the pull request against the approved baseline: quality passes.
    let rerun = tokio::task::block_in_place(|| run_gate(&project, &fake, &pr, TOKEN));
    let comparison = comparison(&rerun);
    assert_eq!(
        criterion(&comparison, "accuracy")["status"],
        "pass",
        "{comparison}"
    );
    assert_eq!(
        criterion(&comparison, "recall")["status"],
        "pass",
        "{comparison}"
    );
}
