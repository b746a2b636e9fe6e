//! A small stand-in for the GitHub Actions runner: runs the `run:` steps of our composite
//! action.yml with bash, the way the runner does for a composite action, so the action's own
//! shell is what the end-to-end test exercises. Its `uses:` steps (the cache) are skipped.
//!
//! It evaluates the `${{ }}` expressions the action uses (`inputs.*`, `steps.*.outputs.*`,
//! `github.*`, `runner.temp`) with the shared evaluator in `expr`, gives each step its own
//! GITHUB_OUTPUT file and parses it (both `key=value` and the `key<<DELIM` heredoc form).
//! `workflow_runner` runs whole workflow jobs; this one stays for the action alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

use super::expr;

/// What a step left behind.
#[derive(Debug, Default, Clone)]
pub struct StepResult {
    pub id: String,
    pub exit_code: i32,
    pub outputs: BTreeMap<String, String>,
    pub stdout: String,
    pub stderr: String,
}

/// One run of the action.
pub struct ActionRun {
    pub inputs: BTreeMap<String, String>,
    /// `github.*` values (repository, event_name, ...), plus `event` from the event file.
    pub github: BTreeMap<String, String>,
    pub event: serde_json::Value,
    pub env: BTreeMap<String, String>,
    pub temp: PathBuf,
    pub steps: BTreeMap<String, StepResult>,
}

impl ActionRun {
    /// Reads action.yml's input defaults, then applies `inputs`.
    pub fn new(
        action: &Path,
        inputs: &[(&str, &str)],
        event: serde_json::Value,
        temp: &Path,
    ) -> ActionRun {
        let doc = load(action);
        let mut run = ActionRun {
            inputs: BTreeMap::new(),
            github: BTreeMap::new(),
            event,
            env: BTreeMap::new(),
            temp: temp.to_path_buf(),
            steps: BTreeMap::new(),
        };
        if let Some(map) = doc["inputs"].as_hash() {
            for (name, spec) in map {
                let default = spec["default"].as_str().unwrap_or("").to_string();
                run.inputs
                    .insert(name.as_str().unwrap().to_string(), default);
            }
        }
        // Input defaults may themselves be expressions (github.token, the event's PR number).
        let defaults: Vec<(String, String)> = run.inputs.clone().into_iter().collect();
        for (name, default) in defaults {
            let value = run.interpolate(&default);
            run.inputs.insert(name, value);
        }
        for (name, value) in inputs {
            run.inputs.insert(name.to_string(), value.to_string());
        }
        run
    }

    /// Runs every step of the action in order, except those named in `skip` (whose outputs the
    /// caller may have set in `steps`). Stops at the first step that fails, as the runner does.
    pub fn run_steps(&mut self, action: &Path, skip: &[&str]) {
        let doc = load(action);
        for (index, step) in doc["runs"]["steps"].as_vec().unwrap().iter().enumerate() {
            let id = step["id"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("step{index}"));
            let name = step["name"].as_str().unwrap_or("");
            if skip.contains(&id.as_str()) || skip.contains(&name) {
                continue;
            }
            // A `uses:` step is another action (actions/cache): played as a cache miss, which
            // leaves nothing behind.
            if !step["uses"].is_badvalue() {
                continue;
            }
            if let Some(condition) = step["if"].as_str() {
                if !self.truthy(condition) {
                    continue;
                }
            }
            // A `uses:` step (actions/cache) is another action the runner would download: the
            // simulation has none, and the steps after it must work without what it provides.
            if !step["uses"].is_badvalue() {
                continue;
            }
            let script = step["run"]
                .as_str()
                .expect("composite steps here are run: steps");
            let result = self.run_script(&id, script, &step["env"]);
            let failed = result.exit_code != 0;
            self.steps.insert(id, result);
            if failed {
                break;
            }
        }
    }

    fn run_script(&self, id: &str, script: &str, env: &Yaml) -> StepResult {
        let output_file = self.temp.join(format!("output-{id}"));
        std::fs::write(&output_file, "").unwrap();
        let mut command = Command::new("bash");
        command.arg("-e").arg("-c").arg(script);
        command.envs(&self.env);
        command.env("GITHUB_OUTPUT", &output_file);
        command.env("RUNNER_TEMP", &self.temp);
        if let Some(map) = env.as_hash() {
            for (key, value) in map {
                let text = match value {
                    Yaml::String(s) => s.clone(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Integer(i) => i.to_string(),
                    _ => String::new(),
                };
                command.env(key.as_str().unwrap(), self.interpolate(&text));
            }
        }
        let out = command.output().expect("run bash");
        StepResult {
            id: id.to_string(),
            exit_code: out.status.code().unwrap_or(-1),
            outputs: parse_outputs(&std::fs::read_to_string(&output_file).unwrap_or_default()),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Replaces each `${{ expr }}` in `text`.
    pub fn interpolate(&self, text: &str) -> String {
        expr::interpolate(text, &self.context())
    }

    fn truthy(&self, condition: &str) -> bool {
        expr::condition(condition, &self.context(), expr::Status::default())
    }

    /// The expression context: `inputs`, `steps`, `runner.temp` and `github` with the event.
    fn context(&self) -> serde_json::Value {
        let mut github = serde_json::Map::new();
        for (key, value) in &self.github {
            github.insert(key.clone(), value.clone().into());
        }
        github.insert("event".into(), self.event.clone());
        let steps: serde_json::Map<String, serde_json::Value> = self
            .steps
            .iter()
            .map(|(id, s)| (id.clone(), serde_json::json!({ "outputs": s.outputs })))
            .collect();
        serde_json::json!({
            "inputs": self.inputs,
            "steps": steps,
            "github": github,
            "runner": { "temp": self.temp.display().to_string() },
        })
    }
}

fn load(action: &Path) -> Yaml {
    let text = std::fs::read_to_string(action).unwrap();
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

/// GITHUB_OUTPUT's two forms: `key=value` and `key<<DELIM` ... `DELIM`.
pub fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut outputs = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((key, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for next in lines.by_ref() {
                if next == delimiter {
                    break;
                }
                value.push(next);
            }
            outputs.insert(key.to_string(), value.join("\n"));
        } else if let Some((key, value)) = line.split_once('=') {
            outputs.insert(key.to_string(), value.to_string());
        }
    }
    outputs
}
