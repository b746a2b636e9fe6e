//! The sharded gate end to end: `.github/workflows/example-sharded.yml` (a matrix of shard jobs,
//! a merge job, a comment job) run by the stand-in runner (`support::workflow_runner`) with the
//! real modelgate binary and ONNX Runtime, real git and the local GitHub API server, as in
//! workflows_e2e.rs, whose project and pull-request helpers these tests share. What is asserted
//! is what a maintainer would see: one sticky comment, the same verdict and accuracy figures as
//! the one-job gate on the same pull request, and the action's own input errors.

use crate::support;

use serde_json::Value;
use support::fake_github::FakeGithub;
use support::model;
use support::workflow_runner::{JobRun, WorkflowRun};

use crate::workflows_e2e::{
    assert_job, comparison, fake, repository, run_gate, setting, sha256, Pr, Project, MARKER, NAME,
    OWNER, SHARDED, TOKEN,
};

/// The sharded workflow's jobs for one push to a pull request.
fn run_sharded(project: &Project, fake: &FakeGithub, pr: &Pr) -> WorkflowRun {
    pr.register(fake, project);
    let setting = setting(
        project,
        fake,
        "pull_request_target",
        pr.event(project, "synchronize"),
        &pr.author,
        TOKEN,
    );
    let workflow = project.work.join("base-sharded.yml");
    std::fs::write(&workflow, project.file_at("main", SHARDED)).unwrap();
    let mut run = WorkflowRun::new(&workflow, setting);
    run.run_job("measure");
    run.run_job("merge");
    run.run_job("comment");
    run
}

/// The figures of the paired accuracy comparison that a split of the data must not change.
fn accuracy_figures(comparison: &Value) -> Value {
    let accuracy = &comparison["models"][0]["accuracy"];
    let mut figures = serde_json::Map::new();
    for key in [
        "n",
        "candidate_accuracy",
        "candidate_recall",
        "candidate_confusion",
        "baseline_accuracy",
        "baseline_recall",
        "baseline_confusion",
        "agreement_rate",
        "candidate_only_correct",
        "baseline_only_correct",
    ] {
        figures.insert(key.into(), accuracy[key].clone());
    }
    let mut changed: Vec<String> = accuracy["changed"]
        .as_array()
        .map(|c| c.iter().map(|s| s["id"].to_string()).collect())
        .unwrap_or_default();
    changed.sort();
    figures.insert("changed".into(), changed.into());
    Value::Object(figures)
}

/// Each criterion's name, candidate figure and status, but those of timing and memory
/// (measured on a busy machine, they differ between any two runs).
fn quality_criteria(comparison: &Value) -> Vec<Value> {
    comparison["models"][0]["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            let name = c["name"].as_str().unwrap_or("").to_lowercase();
            c["unit"] != "ms"
                && !["latency", "memory", "throughput", "peak"]
                    .iter()
                    .any(|word| name.contains(word))
        })
        .map(|c| serde_json::json!([c["name"], c["candidate"], c["status"]]))
        .collect()
}

/// A pull request that lowers recall, gated by three shard jobs: they upload one artifact each
/// and comment nothing; the merge job judges the merged figures, which equal the one-job gate's;
/// one sticky comment carries the verdict, and a second run updates it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sharded_gate_judges_as_the_one_job_gate_and_comments_once() {
    let fake = fake().await;
    let project = Project::new();
    let lowrecall_sha = sha256(&model("cancer_lowrecall.onnx"));
    let pr = Pr::lower_recall_model(&project, 21);
    let sharded = tokio::task::block_in_place(|| run_sharded(&project, &fake, &pr));

    let measure = &sharded.jobs["measure"];
    assert_eq!(measure.instances.len(), 3, "{measure:?}");
    for (k, instance) in measure.instances.iter().enumerate() {
        assert_job(instance, "success");
        assert_eq!(instance.matrix["shard"], (k + 1) as i64);
        let artifact = sharded
            .setting
            .store
            .join(format!("modelgate-shard-cancer-{}", k + 1));
        assert!(
            artifact.join("cancer.json").is_file(),
            "{}",
            instance.describe()
        );
        // Only the latency shard (the first, by default) times the A/B against the base.
        assert_eq!(
            artifact.join("cancer.base.json").is_file(),
            k == 0,
            "shard {}: {}",
            k + 1,
            instance.describe()
        );
        assert!(
            instance
                .all_steps()
                .iter()
                .all(|s| s.id != "comment" || s.outcome == "skipped"),
            "a shard comments nothing: {}",
            instance.describe()
        );
    }
    assert_job(measure, "success");
    let merge = &sharded.jobs["merge"];
    assert_job(merge, "failure");
    assert_eq!(
        merge.step("gate").outputs["verdict"],
        "fail",
        "{}",
        merge.describe()
    );
    assert_job(&sharded.jobs["comment"], "success");
    let comments = fake.comments(OWNER, NAME, 21);
    assert_eq!(comments.len(), 1, "{}", sharded.jobs["comment"].describe());
    assert!(comments[0].body.ends_with(MARKER));
    assert!(
        comments[0].body.contains(&lowrecall_sha[..12]),
        "{}",
        comments[0].body
    );
    let merged = comparison(&sharded);
    // Every labeled sample was judged once, though no shard saw them all.
    let rows = std::fs::read_to_string(project.work.join("data/test.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count();
    assert_eq!(
        merged["models"][0]["accuracy"]["n"], rows as u64,
        "{merged}"
    );

    // The one-job gate on the same pull request: the same verdict and accuracy figures.
    let single = tokio::task::block_in_place(|| run_gate(&project, &fake, &pr, TOKEN));
    let single_measure = &single.jobs["measure"];
    assert_eq!(
        merge.step("gate").outputs["verdict"],
        single_measure.step("gate").outputs["verdict"],
        "{}",
        single_measure.describe()
    );
    let unsharded = comparison(&single);
    assert_eq!(merged["verdict"], unsharded["verdict"]);
    assert!(
        merged["models"][0]["accuracy"]["n"].as_u64().unwrap_or(0) > 0,
        "{merged}"
    );
    assert_eq!(accuracy_figures(&merged), accuracy_figures(&unsharded));
    assert_eq!(quality_criteria(&merged), quality_criteria(&unsharded));
    assert!(!quality_criteria(&merged).is_empty(), "{merged}");

    // Another run of the sharded workflow updates the one comment.
    let again = tokio::task::block_in_place(|| run_sharded(&project, &fake, &pr));
    assert_job(&again.jobs["comment"], "success");
    let comments = fake.comments(OWNER, NAME, 21);
    assert_eq!(comments.len(), 1, "updated, never duplicated");
    assert_eq!(fake.count("POST", "/issues/21/comments"), 1);
    assert_eq!(
        fake.count("PATCH", &format!("/comments/{}", comments[0].id)),
        2,
        "the one-job gate and the second sharded run each updated it: {:?}",
        fake.requests()
    );
}

/// Steps that run the action with these inputs, each allowed to fail, in a workflow of one job.
fn run_inputs(project: &Project, fake: &FakeGithub, cases: &[(&str, &str)]) -> JobRun {
    let mut steps = String::new();
    for (id, with) in cases {
        steps.push_str(&format!(
            "      - id: {id}\n        continue-on-error: true\n        uses: ./\n        with:\n{with}"
        ));
    }
    let workflow = project.dir.path().join("inputs.yml");
    std::fs::write(
        &workflow,
        format!(
            "on: pull_request_target\njobs:\n  inputs:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v6\n{steps}"
        ),
    )
    .unwrap();
    let pr = Pr {
        number: 22,
        head_sha: project.main_sha(),
        head_ref: "x".into(),
        head_repo: repository(),
        author: "alice".into(),
    };
    let setting = setting(
        project,
        fake,
        "pull_request_target",
        pr.event(project, "opened"),
        "alice",
        TOKEN,
    );
    WorkflowRun::new(&workflow, setting).run_job("inputs")
}

/// Bad `model`, `shard` and `merge` inputs stop the action in its first step with one error
/// annotation naming the input; no model runs and nothing is commented.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_shard_inputs_are_one_line_errors_naming_the_input() {
    let fake = fake().await;
    let project = Project::new();
    let with = |pairs: &[(&str, &str)]| -> String {
        pairs
            .iter()
            .map(|(k, v)| format!("          {k}: \"{v}\"\n"))
            .collect()
    };
    let results = [("results-dir", "out")];
    let cases = [
        (
            "zero",
            with(&[("shard", "0/3"), results[0]]),
            "shard is '0/3'",
        ),
        (
            "over",
            with(&[("shard", "4/3"), results[0]]),
            "shard is '4/3'",
        ),
        (
            "big",
            with(&[("shard", "1/257"), results[0]]),
            "shard is '1/257'",
        ),
        (
            "word",
            with(&[("shard", "half"), results[0]]),
            "shard is 'half'",
        ),
        (
            "nodir",
            with(&[("shard", "1/3")]),
            "shard needs results-dir",
        ),
        (
            "both",
            with(&[("shard", "1/3"), results[0], ("merge", ".")]),
            "shard and merge are both set",
        ),
        (
            "nomerge",
            with(&[("merge", "no-such-folder")]),
            "merge folder 'no-such-folder' does not exist",
        ),
        (
            "flat",
            with(&[("merge", "models")]),
            "merge folder 'models' holds no shard folders",
        ),
        (
            "name",
            with(&[("model", "cancer ../x")]),
            "model names '../x'",
        ),
    ];
    let job = tokio::task::block_in_place(|| {
        let list: Vec<(&str, &str)> = cases.iter().map(|(id, w, _)| (*id, w.as_str())).collect();
        run_inputs(&project, &fake, &list)
    });
    for (id, _, message) in &cases {
        let step = job.step(id);
        assert_eq!(step.outcome, "failure", "{}", job.describe());
        let check = &step.children[0];
        assert_eq!(check.outcome, "failure", "{}", job.describe());
        let errors: Vec<&str> = check
            .commands
            .iter()
            .filter(|c| c.name == "error")
            .map(|c| c.message.as_str())
            .collect();
        assert_eq!(errors.len(), 1, "step {id}: {errors:?}");
        assert!(errors[0].contains(message), "step {id}: {errors:?}");
        assert!(!errors[0].contains('\n'));
        assert!(
            step.children[1..]
                .iter()
                .all(|c| c.outcome == "skipped" || c.replaced),
            "nothing runs after the input check: {}",
            job.describe()
        );
    }
    assert!(fake.comments(OWNER, NAME, 22).is_empty());
    // A good shard and merge pass the check (whether modelgate then accepts them is the CLI's
    // business): the first step of each succeeds.
    let good = tokio::task::block_in_place(|| {
        run_inputs(
            &project,
            &fake,
            &[(
                "ok",
                &with(&[("shard", "3/3"), results[0], ("model", "cancer")]),
            )],
        )
    });
    assert_eq!(
        good.step("ok").children[0].outcome,
        "success",
        "{}",
        good.describe()
    );
}

/// A pull request whose model no shard can read: every shard fails, the merge stops with an
/// error, and the comment says there is no verdict rather than keep an earlier one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_shards_leave_a_no_verdict_comment_not_a_stale_one() {
    let fake = fake().await;
    let project = Project::new();
    let pr = Pr::pushed(&project, 23, "broken-model", |work| {
        std::fs::write(work.join("models/cancer.onnx"), b"not an onnx model").unwrap();
    });
    let sharded = tokio::task::block_in_place(|| run_sharded(&project, &fake, &pr));
    let measure = &sharded.jobs["measure"];
    assert_eq!(measure.instances.len(), 3, "{measure:?}");
    assert_job(measure, "failure");
    // The merge still runs, and fails: its shards are missing.
    assert_job(&sharded.jobs["merge"], "failure");
    let comment = &sharded.jobs["comment"];
    assert_job(comment, "failure");
    let comments = fake.comments(OWNER, NAME, 23);
    assert_eq!(comments.len(), 1, "{}", comment.describe());
    let body = &comments[0].body;
    assert!(body.ends_with(MARKER), "{body}");
    assert!(body.contains("modelgate: no verdict"), "{body}");
    assert!(body.contains("/actions/runs/"), "{body}");
    assert!(!body.contains("not an onnx model"), "{body}");
}
