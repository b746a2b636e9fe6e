//! A small stand-in for the GitHub Actions runner that executes jobs of our workflow files step
//! by step, so the end-to-end tests exercise the workflows' own shell, conditions and
//! permissions, not a paraphrase of them.
//!
//! Per job it does what the runner does: a fresh workspace and RUNNER_TEMP, `if:` conditions
//! with `success()` implied, `env:` from the workflow, the job and the step, per-step
//! GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH and GITHUB_STEP_SUMMARY files, `continue-on-error`,
//! workflow commands read from the combined stdout and stderr (`commands`), and the job's
//! `outputs:`. The `uses:` steps are emulated: `actions/checkout` clones the test's bare
//! "origin" repository with real git, the artifact actions copy folders in and out of a store
//! shared by the jobs of one workflow run, and `uses: ./` runs the repository's own action.yml
//! (`composite`). Installing software is the one thing replaced: the binary under test and the
//! located ONNX Runtime stand in for the action's install steps.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

use super::commands::{CommandProcessor, WorkflowCommand};
use super::expr::{self, Status};

/// What is the same for every job of one workflow run: the event, the repository, GitHub.
#[derive(Debug, Clone)]
pub struct Setting {
    /// The bare repository `actions/checkout` clones (GitHub's copy of the repository).
    pub origin: PathBuf,
    /// Folder holding the action.yml that `uses: ./` runs.
    pub action_dir: PathBuf,
    /// Where this workflow run's artifacts are kept.
    pub store: PathBuf,
    /// Parent of each job's workspace and temp folder.
    pub work: PathBuf,
    pub api_url: String,
    pub event_name: String,
    pub event: Value,
    /// `github.*` strings: repository, actor, token, sha, ref, run_id...
    pub github: BTreeMap<String, String>,
    pub vars: BTreeMap<String, String>,
    /// workflow_dispatch inputs.
    pub inputs: BTreeMap<String, String>,
    /// The modelgate binary the install step stands for.
    pub modelgate: PathBuf,
    /// The ONNX Runtime library the ort step stands for.
    pub ort_lib: PathBuf,
}

/// One step as it ran (or was skipped).
#[derive(Debug, Clone, Default)]
pub struct StepRecord {
    pub id: String,
    pub name: String,
    /// success, failure or skipped, before continue-on-error.
    pub outcome: String,
    /// After continue-on-error.
    pub conclusion: String,
    pub outputs: BTreeMap<String, String>,
    /// stdout and stderr, interleaved as written.
    pub log: String,
    /// Workflow commands the runner executed from this step's output.
    pub commands: Vec<WorkflowCommand>,
    /// A composite action's own steps.
    pub children: Vec<StepRecord>,
    /// Stood in for by the test (an install step).
    pub replaced: bool,
}

/// A job as it ran.
#[derive(Debug, Clone, Default)]
pub struct JobRun {
    pub name: String,
    /// success, failure or skipped.
    pub result: String,
    pub outputs: BTreeMap<String, String>,
    pub steps: Vec<StepRecord>,
    /// The `environment:` the job deploys to; GitHub holds the job until it is approved.
    pub environment: Option<String>,
    /// The job's `permissions:` as written (the workflow's when the job has none).
    pub permissions: BTreeMap<String, String>,
    pub runs_on: String,
    pub workspace: PathBuf,
    /// Everything appended to GITHUB_STEP_SUMMARY.
    pub summary: String,
    /// This instance's `matrix` values (empty outside a matrix).
    pub matrix: Map<String, Value>,
    /// A matrix job's instances, in the order they ran; the job's result is failure if any
    /// instance failed or was cancelled.
    pub instances: Vec<JobRun>,
}

impl JobRun {
    /// A top-level step by id.
    pub fn step(&self, id: &str) -> &StepRecord {
        self.steps
            .iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("job {} has no step {id}: {}", self.name, self.describe()))
    }

    /// Every step, a composite action's own steps after the step that ran them.
    pub fn all_steps(&self) -> Vec<&StepRecord> {
        fn walk<'a>(steps: &'a [StepRecord], out: &mut Vec<&'a StepRecord>) {
            for step in steps {
                out.push(step);
                walk(&step.children, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.steps, &mut out);
        out
    }

    /// Every workflow command the runner executed in this job.
    pub fn commands(&self) -> Vec<&WorkflowCommand> {
        self.all_steps()
            .into_iter()
            .flat_map(|s| s.commands.iter())
            .collect()
    }

    /// The executed commands named `name` (error, warning, notice...).
    pub fn annotations(&self, name: &str) -> Vec<&WorkflowCommand> {
        self.commands()
            .into_iter()
            .filter(|c| c.name == name)
            .collect()
    }

    /// Each step's outcome and log, for assertion messages.
    pub fn describe(&self) -> String {
        let mut out = format!("job {} {}\n", self.name, self.result);
        for step in self.all_steps() {
            out.push_str(&format!(
                "--- step {} ({}): {}\n{}\n",
                step.id, step.name, step.outcome, step.log
            ));
        }
        out
    }
}

/// One run of a workflow file: its jobs run in the order the test asks.
pub struct WorkflowRun {
    pub doc: Yaml,
    pub setting: Setting,
    pub jobs: BTreeMap<String, JobRun>,
}

impl WorkflowRun {
    pub fn new(workflow: &Path, setting: Setting) -> WorkflowRun {
        std::fs::create_dir_all(&setting.store).unwrap();
        std::fs::create_dir_all(&setting.work).unwrap();
        WorkflowRun {
            doc: load(workflow),
            setting,
            jobs: BTreeMap::new(),
        }
    }

    /// The job's `permissions:` (or the workflow's) as a map; `{}` is an empty map.
    pub fn permissions(&self, job: &str) -> BTreeMap<String, String> {
        let spec = &self.doc["jobs"][job]["permissions"];
        let spec = if spec.is_badvalue() {
            &self.doc["permissions"]
        } else {
            spec
        };
        spec.as_hash()
            .map(|map| map.iter().map(|(k, v)| (text(k), text(v))).collect())
            .unwrap_or_default()
    }

    /// Runs `job` (its `needs` must have run) and returns how it went. A job with
    /// `strategy.matrix` runs once per combination (see [`expand_matrix`]), one after another;
    /// with `fail-fast` (the default) the instances after a failed one are cancelled.
    pub fn run_job(&mut self, job: &str) -> JobRun {
        let spec = self.doc["jobs"][job].clone();
        assert!(!spec.is_badvalue(), "the workflow has no job {job}");
        let matrix = &spec["strategy"]["matrix"];
        if matrix.is_badvalue() {
            return self.run_instance(job, &spec, Map::new(), json!({}));
        }
        let combinations = expand_matrix(matrix);
        let fail_fast = spec["strategy"]["fail-fast"].as_bool().unwrap_or(true);
        let total = combinations.len();
        let mut instances = Vec::new();
        let mut failed = false;
        for (index, combination) in combinations.into_iter().enumerate() {
            let values: Vec<String> = combination.values().map(expr::to_text).collect();
            let name = format!("{job} ({})", values.join(", "));
            if failed && fail_fast {
                instances.push(JobRun {
                    name,
                    result: "cancelled".into(),
                    matrix: combination,
                    ..Default::default()
                });
                continue;
            }
            let strategy = json!({
                "fail-fast": fail_fast,
                "job-index": index,
                "job-total": total,
                "max-parallel": total,
            });
            let mut run = self.run_instance(job, &spec, combination, strategy);
            run.name = name;
            failed |= run.result == "failure";
            instances.push(run);
        }
        let skipped = instances.iter().all(|i| i.result == "skipped");
        let bad = instances
            .iter()
            .any(|i| i.result == "failure" || i.result == "cancelled");
        let run = JobRun {
            name: job.to_string(),
            result: if bad {
                "failure"
            } else if skipped {
                "skipped"
            } else {
                "success"
            }
            .into(),
            // GitHub gives a matrix job the outputs its instances set, the last one winning.
            outputs: instances
                .iter()
                .flat_map(|i| i.outputs.clone())
                .filter(|(_, v)| !v.is_empty())
                .collect(),
            permissions: self.permissions(job),
            instances,
            ..Default::default()
        };
        self.jobs.insert(job.to_string(), run.clone());
        run
    }

    /// One run of `job`'s steps with these `matrix` and `strategy` contexts.
    fn run_instance(
        &mut self,
        job: &str,
        spec: &Yaml,
        matrix: Map<String, Value>,
        strategy: Value,
    ) -> JobRun {
        let mut needs = Map::new();
        let mut needs_failed = false;
        for need in yaml_list(&spec["needs"]) {
            let done = self
                .jobs
                .get(&need)
                .unwrap_or_else(|| panic!("job {job} needs {need}, which has not run"));
            needs_failed |= done.result != "success";
            needs.insert(
                need.clone(),
                json!({ "result": done.result, "outputs": done.outputs }),
            );
        }
        let folder = tempfile::Builder::new()
            .prefix(&format!("{job}-"))
            .tempdir_in(&self.setting.work)
            .unwrap()
            .keep();
        let workspace = folder.join("workspace");
        let temp = folder.join("temp");
        std::fs::create_dir_all(&workspace).unwrap();
        std::fs::create_dir_all(&temp).unwrap();
        let mut state = JobState {
            setting: self.setting.clone(),
            job: job.to_string(),
            workspace: workspace.clone(),
            temp,
            needs: Value::Object(needs),
            env_files: BTreeMap::new(),
            path_prepend: Vec::new(),
            summary: String::new(),
            commands: CommandProcessor::default(),
            counter: 0,
            matrix: Value::Object(matrix.clone()),
            strategy,
        };
        let mut run = JobRun {
            name: job.to_string(),
            matrix,
            permissions: self.permissions(job),
            environment: spec["environment"]
                .as_str()
                .map(str::to_string)
                .or_else(|| spec["environment"]["name"].as_str().map(str::to_string)),
            workspace,
            ..Default::default()
        };
        let context = state.context(&Map::new(), &Map::new(), &Value::Object(Map::new()));
        let status = Status {
            failed: needs_failed,
            cancelled: false,
        };
        run.runs_on = expr::interpolate(&text(&spec["runs-on"]), &context);
        let wanted = spec["if"]
            .as_str()
            .map_or(!needs_failed, |c| expr::condition(c, &context, status));
        if !wanted {
            run.result = "skipped".into();
            self.jobs.insert(job.to_string(), run.clone());
            return run;
        }
        // Workflow env, then job env, each evaluated with what is known so far.
        let mut env = Map::new();
        for scope in [&self.doc["env"], &spec["env"]] {
            let ctx = state.context(&Map::new(), &Map::new(), &Value::Object(env.clone()));
            for (key, value) in evaluate_map(scope, &ctx) {
                env.insert(key, Value::String(value));
            }
        }
        let mut steps = Map::new();
        let mut failed = false;
        for (index, step) in spec["steps"].as_vec().unwrap().iter().enumerate() {
            let record = state.step(step, index, &mut steps, &env, &Map::new(), failed, None);
            failed |= record.conclusion == "failure";
            run.steps.push(record);
        }
        run.result = if failed { "failure" } else { "success" }.into();
        let ctx = state.context(&steps, &Map::new(), &Value::Object(env));
        run.outputs = evaluate_map(&spec["outputs"], &ctx);
        run.summary = state.summary;
        self.jobs.insert(job.to_string(), run.clone());
        run
    }
}

/// Outputs to give a composite step by id instead of running it (the install steps).
type StandIn = dyn Fn(&str) -> Option<BTreeMap<String, String>>;

/// The runner's state while one job runs.
struct JobState {
    setting: Setting,
    job: String,
    workspace: PathBuf,
    temp: PathBuf,
    needs: Value,
    /// Set by earlier steps through GITHUB_ENV.
    env_files: BTreeMap<String, String>,
    /// Added by earlier steps through GITHUB_PATH, latest first.
    path_prepend: Vec<String>,
    summary: String,
    commands: CommandProcessor,
    counter: usize,
    /// The `matrix` and `strategy` contexts of this job instance.
    matrix: Value,
    strategy: Value,
}

impl JobState {
    /// The expression context. `inputs` is the action's inside a composite, else the
    /// workflow_dispatch inputs.
    fn context(
        &self,
        steps: &Map<String, Value>,
        action_inputs: &Map<String, Value>,
        env: &Value,
    ) -> Value {
        let mut github: Map<String, Value> = self
            .setting
            .github
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        github.insert("event".into(), self.setting.event.clone());
        github.insert("event_name".into(), self.setting.event_name.clone().into());
        github.insert(
            "workspace".into(),
            self.workspace.display().to_string().into(),
        );
        github.insert("job".into(), self.job.clone().into());
        github.insert("api_url".into(), self.setting.api_url.clone().into());
        let inputs: Map<String, Value> = if action_inputs.is_empty() {
            self.setting
                .inputs
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect()
        } else {
            github.insert(
                "action_path".into(),
                self.setting.action_dir.display().to_string().into(),
            );
            action_inputs.clone()
        };
        let token = self
            .setting
            .github
            .get("token")
            .cloned()
            .unwrap_or_default();
        json!({
            "github": github,
            "env": env,
            "vars": self.setting.vars,
            "inputs": inputs,
            "steps": steps,
            "needs": self.needs,
            "runner": { "temp": self.temp.display().to_string(), "os": "Linux", "arch": "X64" },
            "secrets": { "GITHUB_TOKEN": token },
            "job": { "status": "success" },
            "matrix": self.matrix,
            "strategy": self.strategy,
        })
    }

    /// Runs (or skips) one step and records it in `steps` under its id.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        step: &Yaml,
        index: usize,
        steps: &mut Map<String, Value>,
        env: &Map<String, Value>,
        action_inputs: &Map<String, Value>,
        failed: bool,
        replace: Option<&StandIn>,
    ) -> StepRecord {
        let id = step["id"]
            .as_str()
            .map_or_else(|| format!("__step{index}"), str::to_string);
        let name = step["name"]
            .as_str()
            .or(step["uses"].as_str())
            .or(step["run"].as_str())
            .unwrap_or("")
            .to_string();
        let mut record = StepRecord {
            id: id.clone(),
            name,
            ..Default::default()
        };
        let ctx = self.context(steps, action_inputs, &Value::Object(env.clone()));
        let status = Status {
            failed,
            cancelled: false,
        };
        let wanted = step["if"]
            .as_str()
            .map(str::to_string)
            .or_else(|| step["if"].as_bool().map(|b| b.to_string()))
            .map_or(!failed, |c| expr::condition(&c, &ctx, status));
        if !wanted {
            record.outcome = "skipped".into();
            record.conclusion = "skipped".into();
        } else {
            // The step's env: what the caller had, then the step's own, evaluated.
            let mut step_env = env.clone();
            for (key, value) in evaluate_map(&step["env"], &ctx) {
                step_env.insert(key, Value::String(value));
            }
            let ctx = self.context(steps, action_inputs, &Value::Object(step_env.clone()));
            let with = evaluate_map(&step["with"], &ctx);
            let stand_in = replace.and_then(|r| r(&id));
            if let Some(outputs) = stand_in {
                record.replaced = true;
                record.outcome = "success".into();
                record.outputs = outputs;
            } else if let Some(script) = step["run"].as_str() {
                let script = expr::interpolate(script, &ctx);
                let shell = step["shell"].as_str().map(str::to_string);
                let dir = step["working-directory"]
                    .as_str()
                    .map_or(self.workspace.clone(), |d| {
                        self.workspace.join(expr::interpolate(d, &ctx))
                    });
                self.run_script(&mut record, &script, shell.as_deref(), &step_env, &dir);
            } else if let Some(uses) = step["uses"].as_str() {
                self.uses(&mut record, uses, &with, &step_env);
            } else {
                panic!("step {id} neither runs nor uses anything");
            }
            let continue_on_error = step["continue-on-error"].as_bool().unwrap_or(false);
            record.conclusion = if record.outcome == "failure" && continue_on_error {
                "success".into()
            } else {
                record.outcome.clone()
            };
        }
        steps.insert(
            id,
            json!({
                "outputs": record.outputs,
                "outcome": record.outcome,
                "conclusion": record.conclusion,
            }),
        );
        record
    }

    fn uses(
        &mut self,
        record: &mut StepRecord,
        uses: &str,
        with: &BTreeMap<String, String>,
        env: &Map<String, Value>,
    ) {
        let action = uses.split('@').next().unwrap();
        let result = match action {
            "actions/checkout" => self.checkout(with),
            "actions/upload-artifact" => self.upload(with),
            "actions/download-artifact" => self.download(with),
            "./" => {
                self.composite(record, with, env);
                return;
            }
            other => panic!("the test runner cannot run the action {other}"),
        };
        match result {
            Ok(log) => {
                record.outcome = "success".into();
                record.log = log;
            }
            Err(message) => {
                record.outcome = "failure".into();
                record.log = message.clone();
                record.commands.push(WorkflowCommand {
                    name: "error".into(),
                    properties: BTreeMap::new(),
                    message: message.clone(),
                    line: format!("##[error]{message}"),
                });
            }
        }
    }

    /// actions/checkout: a clone of origin at `ref` (a branch) or the event's commit, full
    /// history, `origin` pointing at the bare repository so later fetches work.
    fn checkout(&self, with: &BTreeMap<String, String>) -> Result<String, String> {
        let workspace = &self.workspace;
        std::fs::remove_dir_all(workspace).unwrap();
        std::fs::create_dir_all(workspace).unwrap();
        let mut log = git(
            workspace,
            &[
                "clone",
                "--quiet",
                "--no-checkout",
                self.setting.origin.to_str().unwrap(),
                ".",
            ],
        )?;
        let wanted = with
            .get("ref")
            .filter(|r| !r.is_empty())
            .cloned()
            .or_else(|| self.setting.github.get("sha").cloned())
            .ok_or("no ref to check out")?;
        let branch = git(
            workspace,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("refs/remotes/origin/{wanted}"),
            ],
        );
        log += &if branch.is_ok() {
            git(
                workspace,
                &[
                    "checkout",
                    "--quiet",
                    "-B",
                    &wanted,
                    &format!("origin/{wanted}"),
                ],
            )?
        } else {
            git(workspace, &["checkout", "--quiet", "--detach", &wanted])?
        };
        Ok(log)
    }

    fn upload(&self, with: &BTreeMap<String, String>) -> Result<String, String> {
        let name = with
            .get("name")
            .cloned()
            .unwrap_or_else(|| "artifact".into());
        let path = PathBuf::from(&with["path"]);
        let target = self.setting.store.join(&name);
        if target.exists() {
            return Err(format!(
                "Failed to CreateArtifact: (409) Conflict: an artifact with this name already exists on the workflow run: {name}"
            ));
        }
        let files = if path.is_dir() {
            std::fs::read_dir(&path).map(|d| d.count()).unwrap_or(0)
        } else {
            usize::from(path.is_file())
        };
        if files == 0 {
            let message = format!(
                "No files were found with the provided path: {}. No artifacts will be uploaded.",
                path.display()
            );
            return match with.get("if-no-files-found").map(String::as_str) {
                Some("error") => Err(message),
                _ => Ok(message),
            };
        }
        std::fs::create_dir_all(&target).unwrap();
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, target.join(path.file_name().unwrap())).unwrap();
        }
        Ok(format!("Artifact {name} has been successfully uploaded"))
    }

    /// actions/download-artifact: by `name` into `path` itself; otherwise every artifact whose
    /// name matches `pattern` (all of them without one), each into `path/<name>/`, or all into
    /// `path` with `merge-multiple: true`. A pattern that matches nothing downloads nothing.
    fn download(&self, with: &BTreeMap<String, String>) -> Result<String, String> {
        let target = with
            .get("path")
            .filter(|p| !p.is_empty())
            .map_or(self.workspace.clone(), PathBuf::from);
        if let Some(name) = with.get("name").filter(|n| !n.is_empty()) {
            let source = self.setting.store.join(name);
            if !source.is_dir() {
                return Err(format!(
                    "Unable to download artifact(s): Artifact not found for name: {name}"
                ));
            }
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&source, &target);
            return Ok(format!("Artifact download completed: {}", target.display()));
        }
        let pattern = with.get("pattern").map_or("*", String::as_str);
        let merge = with.get("merge-multiple").is_some_and(|m| m == "true");
        let mut names: Vec<String> = std::fs::read_dir(&self.setting.store)
            .map(|dir| {
                dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|n| glob_match(pattern, n))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        std::fs::create_dir_all(&target).unwrap();
        for name in &names {
            let into = if merge {
                target.clone()
            } else {
                target.join(name)
            };
            std::fs::create_dir_all(&into).unwrap();
            copy_dir(&self.setting.store.join(name), &into);
        }
        Ok(format!(
            "Filtering artifacts by pattern '{pattern}': {} artifact(s) downloaded to {}: {}",
            names.len(),
            target.display(),
            names.join(", ")
        ))
    }

    /// Runs `script` the way the runner runs a `run:` step and fills in `record`.
    fn run_script(
        &mut self,
        record: &mut StepRecord,
        script: &str,
        shell: Option<&str>,
        env: &Map<String, Value>,
        dir: &Path,
    ) {
        self.counter += 1;
        let files = self
            .temp
            .join("_runner_file_commands")
            .join(self.counter.to_string());
        std::fs::create_dir_all(&files).unwrap();
        let file = |name: &str| {
            let path = files.join(name);
            std::fs::write(&path, "").unwrap();
            path
        };
        let (output, env_file, path_file, summary) =
            (file("output"), file("env"), file("path"), file("summary"));
        let script_path = self.temp.join(format!("step{}.sh", self.counter));
        std::fs::write(&script_path, script).unwrap();
        let mut command = Command::new("bash");
        match shell {
            // `shell: bash` is `bash --noprofile --norc -eo pipefail {0}`; no shell is `bash -e {0}`.
            Some("bash") => command.args(["--noprofile", "--norc", "-eo", "pipefail"]),
            None => command.arg("-e"),
            Some(other) => panic!("the test runner only runs bash steps, not {other}"),
        };
        command.arg(&script_path).current_dir(dir).env_clear();
        let mut path: Vec<String> = self.path_prepend.clone();
        path.push(std::env::var("PATH").unwrap_or_default());
        let home = self.setting.work.join("home");
        std::fs::create_dir_all(&home).unwrap();
        let event_path = self.temp.join("event.json");
        std::fs::write(&event_path, self.setting.event.to_string()).unwrap();
        let setting = &self.setting;
        let github = |key: &str| setting.github.get(key).cloned().unwrap_or_default();
        let base: Vec<(&str, String)> = vec![
            ("CI", "true".into()),
            ("GITHUB_ACTIONS", "true".into()),
            ("HOME", home.display().to_string()),
            ("PATH", path.join(":")),
            ("RUNNER_TEMP", self.temp.display().to_string()),
            ("RUNNER_OS", "Linux".into()),
            ("GITHUB_WORKSPACE", self.workspace.display().to_string()),
            ("GITHUB_EVENT_PATH", event_path.display().to_string()),
            ("GITHUB_EVENT_NAME", setting.event_name.clone()),
            ("GITHUB_API_URL", setting.api_url.clone()),
            ("GITHUB_SERVER_URL", github("server_url")),
            ("GITHUB_REPOSITORY", github("repository")),
            ("GITHUB_REPOSITORY_OWNER", github("repository_owner")),
            ("GITHUB_ACTOR", github("actor")),
            ("GITHUB_SHA", github("sha")),
            ("GITHUB_REF", github("ref")),
            ("GITHUB_RUN_ID", github("run_id")),
            ("GITHUB_JOB", self.job.clone()),
            ("GITHUB_OUTPUT", output.display().to_string()),
            ("GITHUB_ENV", env_file.display().to_string()),
            ("GITHUB_PATH", path_file.display().to_string()),
            ("GITHUB_STEP_SUMMARY", summary.display().to_string()),
        ];
        command.envs(base);
        command.envs(&self.env_files);
        for (key, value) in env {
            command.env(key, expr::to_text(value));
        }
        // One pipe for both streams, as one log, in the order the step wrote them.
        let (mut reader, writer) = std::io::pipe().unwrap();
        command.stdout(writer.try_clone().unwrap()).stderr(writer);
        let mut child = command.spawn().expect("run bash");
        drop(command);
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).unwrap();
        let status = child.wait().unwrap();
        record.log = String::from_utf8_lossy(&bytes).into_owned();
        record.outcome = if status.success() {
            "success"
        } else {
            "failure"
        }
        .into();
        for line in record.log.lines() {
            if let Some(command) = self.commands.process(line) {
                if command.name == "set-output" {
                    if let Some(name) = command.properties.get("name") {
                        record.outputs.insert(name.clone(), command.message.clone());
                    }
                }
                record.commands.push(command);
            }
        }
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        record
            .outputs
            .extend(super::action_runner::parse_outputs(&read(&output)));
        self.env_files
            .extend(super::action_runner::parse_outputs(&read(&env_file)));
        for line in read(&path_file).lines().filter(|l| !l.is_empty()) {
            self.path_prepend.insert(0, line.to_string());
        }
        self.summary.push_str(&read(&summary));
    }

    /// `uses: ./`: the repository's action.yml with `with` as its inputs. The install steps
    /// are stood in for; `actions/cache` inside is a cache miss; every other step runs.
    fn composite(
        &mut self,
        record: &mut StepRecord,
        with: &BTreeMap<String, String>,
        env: &Map<String, Value>,
    ) {
        let action = load(&self.setting.action_dir.join("action.yml"));
        let ctx = self.context(&Map::new(), &Map::new(), &Value::Object(env.clone()));
        let mut inputs = Map::new();
        for (name, spec) in action["inputs"].as_hash().unwrap() {
            let name = text(name);
            let value = match with.get(&name) {
                Some(value) => value.clone(),
                None => expr::interpolate(&text(&spec["default"]), &ctx),
            };
            inputs.insert(name, Value::String(value));
        }
        for name in with.keys() {
            assert!(inputs.contains_key(name), "action.yml has no input {name}");
        }
        // The action reads its inputs through `inputs`; a placeholder keeps an action without
        // inputs from falling back to the workflow's.
        inputs.insert("__action".into(), Value::Bool(true));
        let modelgate = self.setting.modelgate.clone();
        let ort_lib = self.setting.ort_lib.clone();
        let stand_in = move |id: &str| -> Option<BTreeMap<String, String>> {
            match id {
                "install" => Some(BTreeMap::from([(
                    "path".into(),
                    modelgate.display().to_string(),
                )])),
                "ort" => Some(BTreeMap::from([(
                    "path".into(),
                    ort_lib.display().to_string(),
                )])),
                _ => None,
            }
        };
        let mut steps = Map::new();
        let mut failed = false;
        for (index, step) in action["runs"]["steps"].as_vec().unwrap().iter().enumerate() {
            if step["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/cache"))
            {
                let id = step["id"].as_str().unwrap_or("").to_string();
                steps.insert(id.clone(), json!({ "outputs": { "cache-hit": "" }, "outcome": "success", "conclusion": "success" }));
                record.children.push(StepRecord {
                    id,
                    outcome: "success".into(),
                    conclusion: "success".into(),
                    replaced: true,
                    ..Default::default()
                });
                continue;
            }
            let child = self.step(
                step,
                index,
                &mut steps,
                env,
                &inputs,
                failed,
                Some(&stand_in),
            );
            if child.replaced && child.id == "install" {
                // install-modelgate.sh puts the binary's folder on PATH for later steps.
                let dir = self
                    .setting
                    .modelgate
                    .parent()
                    .unwrap()
                    .display()
                    .to_string();
                self.path_prepend.insert(0, dir);
            }
            failed |= child.conclusion == "failure";
            record.children.push(child);
        }
        let ctx = self.context(&steps, &inputs, &Value::Object(env.clone()));
        for (name, spec) in action["outputs"].as_hash().unwrap() {
            let value = expr::interpolate(&text(&spec["value"]), &ctx);
            record.outputs.insert(text(name), value);
        }
        record.outcome = if failed { "failure" } else { "success" }.into();
    }
}

/// The combinations of a `strategy.matrix`, as GitHub forms them: the product of the list
/// axes (the first axis varying slowest), less each combination that matches an `exclude`
/// entry, then each `include` entry added to every combination it does not contradict on an
/// axis value (or appended as a combination of its own when it fits none).
pub fn expand_matrix(matrix: &Yaml) -> Vec<Map<String, Value>> {
    let hash = matrix
        .as_hash()
        .unwrap_or_else(|| panic!("the test runner only expands a literal matrix: {matrix:?}"));
    let mut combinations = vec![Map::new()];
    let mut axes = Vec::new();
    for (key, values) in hash {
        let key = text(key);
        if key == "include" || key == "exclude" {
            continue;
        }
        let values = values
            .as_vec()
            .unwrap_or_else(|| panic!("matrix axis {key} is not a list"));
        axes.push(key.clone());
        let mut next = Vec::new();
        for combination in &combinations {
            for value in values {
                let mut with = combination.clone();
                with.insert(key.clone(), yaml_to_json(value));
                next.push(with);
            }
        }
        combinations = next;
    }
    if axes.is_empty() {
        combinations.clear();
    }
    let entries = |name: &str| -> Vec<Map<String, Value>> {
        hash.get(&Yaml::String(name.into()))
            .and_then(Yaml::as_vec)
            .map(|list| {
                list.iter()
                    .filter_map(|entry| yaml_to_json(entry).as_object().cloned())
                    .collect()
            })
            .unwrap_or_default()
    };
    for exclude in entries("exclude") {
        combinations.retain(|c| !exclude.iter().all(|(k, v)| c.get(k) == Some(v)));
    }
    let original = combinations.len();
    for include in entries("include") {
        let mut added = false;
        for combination in combinations.iter_mut().take(original) {
            let fits = include
                .iter()
                .all(|(k, v)| !axes.contains(k) || combination.get(k) == Some(v));
            if fits {
                combination.extend(include.clone());
                added = true;
            }
        }
        if !added {
            combinations.push(include);
        }
    }
    combinations
}

fn yaml_to_json(value: &Yaml) -> Value {
    match value {
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Integer(i) => json!(i),
        Yaml::Real(r) => r
            .parse::<f64>()
            .map_or(Value::String(r.clone()), |f| json!(f)),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
        Yaml::Hash(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (text(k), yaml_to_json(v)))
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// An artifact-name glob: `*` any run of characters, `?` one character.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some(('?', rest)) => !n.is_empty() && go(rest, &n[1..]),
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

fn load(path: &Path) -> Yaml {
    let text = std::fs::read_to_string(path).unwrap();
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

fn text(value: &Yaml) -> String {
    match value {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Integer(i) => i.to_string(),
        _ => String::new(),
    }
}

fn yaml_list(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::Array(items) => items.iter().map(text).collect(),
        Yaml::BadValue | Yaml::Null => Vec::new(),
        other => vec![text(other)],
    }
}

/// A YAML map of strings with each value's `${{ }}` evaluated.
fn evaluate_map(map: &Yaml, context: &Value) -> BTreeMap<String, String> {
    map.as_hash()
        .map(|map| {
            map.iter()
                .map(|(k, v)| (text(k), expr::interpolate(&text(v), context)))
                .collect()
        })
        .unwrap_or_default()
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Runs git in `dir`; Ok(output) or Err(output), for a step's log.
pub fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "advice.detachedHead=false"])
        .args(args)
        .output()
        .expect("run git");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(log)
    } else {
        Err(format!("git {args:?} failed: {log}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(text: &str) -> Vec<String> {
        let doc = YamlLoader::load_from_str(text).unwrap().remove(0);
        expand_matrix(&doc)
            .iter()
            .map(|c| Value::Object(c.clone()).to_string())
            .collect()
    }

    /// The examples of GitHub's "Using a matrix for your jobs", with the combinations GitHub
    /// documents for them.
    #[test]
    fn a_matrix_expands_as_github_documents() {
        assert_eq!(
            matrix("version: [10, 12]\nos: [ubuntu, windows]"),
            [
                r#"{"os":"ubuntu","version":10}"#,
                r#"{"os":"windows","version":10}"#,
                r#"{"os":"ubuntu","version":12}"#,
                r#"{"os":"windows","version":12}"#,
            ]
        );
        assert_eq!(
            matrix(
                "os: [macos, windows]\nversion: [12, 14, 16]\nenvironment: [staging, production]\n\
                 exclude:\n  - os: macos\n    version: 12\n    environment: production\n  \
                 - os: windows\n    version: 16"
            )
            .len(),
            12 - 1 - 2
        );
        // "Example: Expanding configurations".
        assert_eq!(
            matrix(
                "fruit: [apple, pear]\nanimal: [cat, dog]\ninclude:\n  - color: green\n  \
                 - color: pink\n    animal: cat\n  - fruit: apple\n    shape: circle\n  \
                 - fruit: banana\n  - fruit: banana\n    animal: cat"
            ),
            [
                r#"{"animal":"cat","color":"pink","fruit":"apple","shape":"circle"}"#,
                r#"{"animal":"dog","color":"green","fruit":"apple","shape":"circle"}"#,
                r#"{"animal":"cat","color":"pink","fruit":"pear"}"#,
                r#"{"animal":"dog","color":"green","fruit":"pear"}"#,
                r#"{"fruit":"banana"}"#,
                r#"{"animal":"cat","fruit":"banana"}"#,
            ]
        );
    }

    #[test]
    fn artifact_patterns_match_names() {
        assert!(glob_match("modelgate-shard-*", "modelgate-shard-scan-1"));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("modelgate-shard-*", "modelgate-report"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("*-1", "modelgate-shard-scan-1"));
        assert!(!glob_match("*-1", "modelgate-shard-scan-12"));
    }
}
