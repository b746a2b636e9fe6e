//! The commands: each one wires the stages together, prints, and writes files.
//!
//! Stages return plain data and never print; this module is where results meet the terminal,
//! the progress bar and the results file. It holds no measuring or judging logic of its own.
//! The commands are grouped in app/: measure (bench, load, env, eval, the gate's child
//! processes), judge (compare, gate), start (explore, init) and publish (report, comment,
//! annotate); this file holds what they share (loading ONNX Runtime, progress, writing a
//! comparison).

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use std::path::PathBuf;

use crate::base::events::Event;
use crate::base::text;
use crate::cli::{
    AnnotateArgs, BenchArgs, CommentArgs, CompareArgs, EvalArgs, GateArgs, GlobalArgs, InitArgs,
    ReportArgs, ReportFormat,
};
use crate::compare::{self, Comparison, Verdict};
use crate::engine::model::check_model_file;
use crate::engine::ortlib::{self, LibraryRequest};
use crate::engine::runtime::{LibraryLog, Runtime, SessionSettings};
use crate::files::config::{GateConfig, ModelConfig};
use crate::files::results;
use crate::machine::system;
use crate::measure::bench;
use crate::pipeline::gate::{self, GateOptions, Measured};
use crate::report::terminal;
use crate::validate::eval;

/// How a command ended; the exit code follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Pass,
    /// Exit 1: a gate or check failed.
    Fail,
}

mod judge;
mod measure;
mod publish;
mod start;

pub use judge::*;
pub use measure::*;
pub use publish::*;
pub use start::*;

/// Loads ONNX Runtime as the global flags and environment say.
pub fn load_runtime(global: &GlobalArgs, session: &SessionSettings) -> Result<Runtime> {
    let request = LibraryRequest {
        explicit: global.ort_lib.clone(),
        want_gpu: session.provider != crate::engine::runtime::Provider::Cpu,
    };
    let choice = ortlib::locate(&request, &mut |line| eprintln!("{}", text::log_text(line)))?;
    let log: Option<LibraryLog> = global
        .verbose
        .then(|| Arc::new(|line: &str| eprintln!("{line}")) as LibraryLog);
    Runtime::load(&choice, log)
}

/// Whether to draw progress bars: only for a person at a terminal, never in CI or when piped.
pub fn show_progress() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

/// Progress for a log (CI, a pipe): one plain line per tenth of each phase, which GitHub's log
/// shows live, instead of a bar that would be a wall of control codes.
#[derive(Default)]
pub struct LogProgress {
    label: String,
    done: u64,
    tenths: u64,
}

impl LogProgress {
    /// Notes `done` of `target` `unit` of phase `label`, printing a line when a tenth is crossed.
    pub fn update(&mut self, label: &str, done: u64, target: u64, unit: &str) {
        // A new phase, or the same phase started again (the next model's "batch 1").
        if label != self.label || done < self.done {
            self.label = label.to_string();
            self.tenths = 0;
        }
        let tenths = (done.saturating_mul(10) / target.max(1)).min(10);
        // A phase whose end is known only when it comes (the A/B) may reach 100 % more than
        // once: each time with more runs, the line is printed again, so the last one counts
        // every run.
        let more_at_end = tenths == 10 && done > self.done;
        self.done = done;
        if tenths > self.tenths || more_at_end {
            self.tenths = tenths;
            eprintln!(
                "{}",
                text::log_text(&format!(
                    "{label}: {}% ({done}/{target} {unit})",
                    tenths * 10
                ))
            );
        }
    }
}

/// The callback for a stage's events: progress as an indicatif bar at a terminal, or a logged
/// line per tenth; each note as a line of its own (above the bar), cleaned for the log.
pub fn progress_bar() -> impl FnMut(Event<'_>) {
    let bar = show_progress().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {prefix}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    });
    let mut log = LogProgress::default();
    move |event: Event<'_>| match (event, &bar) {
        (
            Event::Progress {
                label,
                done,
                target,
            },
            Some(bar),
        ) => {
            bar.set_message(label.to_string());
            bar.set_prefix(progress_unit(label));
            bar.set_length(target.max(done));
            bar.set_position(done);
            if done >= target {
                bar.finish_and_clear();
            }
        }
        (
            Event::Progress {
                label,
                done,
                target,
            },
            None,
        ) => log.update(label, done, target, progress_unit(label)),
        (Event::Note(line), bar) => {
            let line = text::log_text(&text::clean(line, text::TEXT_MAX_CHARS));
            match bar {
                Some(bar) => bar.suspend(|| eprintln!("{line}")),
                None => eprintln!("{line}"),
            }
        }
    }
}

/// What a phase counts: the evaluation counts samples, timing phases count runs.
fn progress_unit(label: &str) -> &'static str {
    if label == "eval" {
        "samples"
    } else {
        "runs"
    }
}

/// The folder a config's relative paths start from: the config's own.
fn config_root(config: &Path) -> PathBuf {
    config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Reads a comparison file, checking its schema version.
fn load_comparison(path: &Path) -> Result<Comparison> {
    let text = results::read_capped(path, results::RESULTS_MAX_BYTES, "comparison")?;
    let value: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "comparison {} is not JSON; write it with gate --json",
            path.display()
        )
    })?;
    let version = value.get("schema_version").and_then(|v| v.as_u64());
    if version != Some(u64::from(compare::COMPARISON_SCHEMA_VERSION)) {
        bail!(
            "comparison {} has schema_version {:?}, but this modelgate reads version {}; write it with this modelgate",
            path.display(),
            version,
            compare::COMPARISON_SCHEMA_VERSION
        );
    }
    serde_json::from_value(value)
        .with_context(|| format!("comparison {} does not match its schema", path.display()))
}

/// Prints the verdict table and writes the comparison JSON and report.
fn finish_comparison(
    comparison: &Comparison,
    json: Option<&Path>,
    report: Option<&Path>,
    template: Option<&Path>,
) -> Result<Verdict> {
    print!(
        "{}",
        text::log_text(&terminal::comparison_table(comparison))
    );
    // A log reader looks at stderr first: each model that could not be judged says why there,
    // before the summary line the caller prints.
    for model in &comparison.models {
        if let Some(error) = &model.error {
            eprintln!(
                "{}",
                text::log_text(&format!(
                    "error: model `{}`: {}",
                    text::clean(&model.name, text::VALUE_MAX_CHARS),
                    text::clean(error, text::TEXT_MAX_CHARS)
                ))
            );
        }
    }
    if let Some(path) = json {
        results::write_json_atomic(path, comparison)?;
        println!("comparison written to {}", path.display());
    }
    if let Some(path) = report {
        let text = crate::report::render(comparison, crate::report::Kind::Comment, template)?;
        results::write_atomic(path, text.as_bytes())?;
        println!("report written to {}", path.display());
    }
    Ok(comparison.verdict)
}

/// `modelgate comment`.
pub async fn comment(args: &CommentArgs) -> Result<()> {
    let repo = crate::publish::github::parse_repo(&args.repo)?;
    let pr = match args.pr {
        Some(pr) => pr,
        None => pr_from_event()?,
    };
    let body = results::read_capped(&args.body_file, 16 * 1024 * 1024, "--body-file")?;
    let token = std::env::var("GITHUB_TOKEN").unwrap_or_default();
    let api = std::env::var("GITHUB_API_URL")
        .ok()
        .filter(|s| !s.is_empty());
    let api = api
        .as_deref()
        .unwrap_or(crate::publish::github::DEFAULT_API_ROOT);
    let mut client = crate::publish::github::GithubClient::new(api, &token)?;
    if let Some(author) = &args.author {
        client = client.with_comment_author(author);
    }
    if let (Ok(server), Ok(repository), Ok(run)) = (
        std::env::var("GITHUB_SERVER_URL"),
        std::env::var("GITHUB_REPOSITORY"),
        std::env::var("GITHUB_RUN_ID"),
    ) {
        client = client.with_full_report_url(&format!("{server}/{repository}/actions/runs/{run}"));
    }
    let outcome = client
        .upsert_sticky_comment(&repo, pr, &body, crate::report::COMMENT_MARKER)
        .await?;
    let action = match outcome.action {
        crate::publish::github::CommentAction::Created => "created",
        crate::publish::github::CommentAction::Updated => "updated",
    };
    println!("comment {action}: {}", outcome.url);
    if std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true") {
        publish_to_actions(args, &outcome.url)?;
    }
    Ok(())
}
