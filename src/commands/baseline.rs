//! Baselines: the results a model is held to, approved by a person and kept with their history.
//!
//! A baseline is a results file with a `provenance` section added, so one JSON Schema
//! (`schemas/results.schema.json`) covers both. `modelgate baseline approve` ([`approve`]) makes
//! one, after checking that the results belong to the configured model and come from comparable
//! hardware, and appends a line to the model's history, which `modelgate history` ([`history`])
//! shows. This file holds the checks and the numbers the two commands share; they print nothing.

pub mod approve;
pub mod history;
pub mod history_markdown;
pub mod history_page;

use std::fmt::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::files::config::ModelConfig;
use crate::files::results::{ResultsFile, SCHEMA_VERSION};
use crate::measure::bench::BenchResult;
use crate::report::terminal::fmt_ms;

/// The numbers an approval shows and the history keeps: latency of the primary batch run,
/// accuracy and the guarded recall (fractions), and the model's sha256.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyNumbers {
    pub model_sha256: String,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub accuracy: Option<f64>,
    /// Recall of the positive class, else macro recall.
    pub recall: Option<f64>,
    /// `recall (malignant)` or `macro recall`.
    pub recall_name: String,
}

/// Reads the key numbers of a results file.
pub fn key_numbers(results: &ResultsFile) -> KeyNumbers {
    let run = results.bench.as_ref().and_then(BenchResult::primary);
    let metrics = results.eval.as_ref().map(|e| &e.metrics);
    let positive = metrics.and_then(|m| m.positive.as_ref());
    KeyNumbers {
        model_sha256: results.model.sha256.clone(),
        p50_ms: run.map(|r| r.summary.p50_ms),
        p95_ms: run.map(|r| r.summary.p95_ms),
        p99_ms: run.map(|r| r.summary.p99_ms),
        accuracy: metrics.map(|m| m.accuracy),
        recall: positive
            .map(|p| p.recall)
            .or(metrics.map(|m| m.macro_recall)),
        recall_name: match positive {
            Some(p) => format!("recall ({})", p.name),
            None => "macro recall".into(),
        },
    }
}

/// The first 12 hex digits of a sha256, as git shows short commits.
pub fn short_sha(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// A path as a person typed it: `baselines/x.json`, not `./baselines/x.json`.
pub fn display_path(path: &Path) -> String {
    path.strip_prefix(".").unwrap_or(path).display().to_string()
}

/// The history file beside a baseline: `baselines/<name>.history.jsonl`.
pub fn history_path(baseline: &Path) -> PathBuf {
    let stem = baseline
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    baseline.with_file_name(format!("{stem}.history.jsonl"))
}

/// The folder a config's relative paths start from.
pub fn config_root(config: &Path) -> PathBuf {
    config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A model of the config by name, or an error listing the names there are.
pub fn find_model<'a>(
    config: &'a crate::files::config::GateConfig,
    name: &str,
    path: &Path,
) -> Result<&'a ModelConfig> {
    match config.models.iter().find(|m| m.name == name) {
        Some(model) => Ok(model),
        None => {
            let names: Vec<&str> = config.models.iter().map(|m| m.name.as_str()).collect();
            bail!(
                "no model `{name}` in {}; its models are: {}",
                path.display(),
                names.join(", ")
            )
        }
    }
}

/// Checks that a results file describes the configured model's candidate file as it is on disk
/// (`candidate_sha256`) and carries what a baseline needs. `name` may be the model's name or the
/// candidate file's stem, which is what `modelgate bench` writes when no name is given.
pub fn check_results_for_model(
    results: &ResultsFile,
    source: &Path,
    model: &ModelConfig,
    candidate_sha256: &str,
) -> Result<()> {
    let source = source.display();
    let candidate = model.candidate.display();
    if results.model.sha256 != candidate_sha256 {
        bail!(
            "results file {source} is for model sha {}…, but {candidate} is {}…; re-measure it",
            short_sha(&results.model.sha256),
            short_sha(candidate_sha256)
        );
    }
    let stem = model
        .candidate
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if results.model.name != model.name && results.model.name != stem {
        bail!(
            "results file {source} is for model `{}`, not `{}`; give the results of `{}` ({candidate})",
            results.model.name,
            model.name,
            model.name
        );
    }
    if results
        .bench
        .as_ref()
        .and_then(BenchResult::primary)
        .is_none()
    {
        bail!("results file {source} has no bench results; add them with `modelgate bench {candidate} --json {source}`");
    }
    if model.dataset.is_some() && results.eval.is_none() {
        bail!(
            "results file {source} has no eval results, but model `{}` has a dataset; add them with \
             `modelgate eval {candidate} --config CONFIG --model-name {} --json {source}`",
            model.name,
            model.name
        );
    }
    Ok(())
}

/// The current baseline: absent, readable, or malformed with the reason.
#[derive(Debug)]
pub enum Current {
    Missing,
    Valid(Box<ResultsFile>),
    Malformed(String),
}

/// Reads the current baseline. A file that cannot be read, or one with a schema version this
/// modelgate does not write, is an error: such a file is never replaced, even with `--force`,
/// because it may be a good baseline from another modelgate.
pub fn read_current(path: &Path) -> Result<Current> {
    let shown = display_path(path);
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Current::Missing),
        Err(e) => bail!("cannot read the current baseline {shown} ({e}); check its permissions"),
    };
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(e) => return Ok(Current::Malformed(format!("it is not JSON: {e}"))),
    };
    match value.get("schema_version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(SCHEMA_VERSION) => {}
        Some(v) => bail!(
            "the current baseline {shown} has schema_version {v}, but this modelgate writes version \
             {SCHEMA_VERSION}; approve with the modelgate that wrote it, or move the file away first \
             (it is not replaced, even with --force)"
        ),
        None => return Ok(Current::Malformed("it has no schema_version".into())),
    }
    match serde_json::from_value::<ResultsFile>(value) {
        Ok(results) => Ok(Current::Valid(Box::new(results))),
        Err(e) => Ok(Current::Malformed(format!(
            "it does not match schema version {SCHEMA_VERSION}: {e}"
        ))),
    }
}

/// Relative change in percent, signed: `+3.1 %`.
pub fn pct_change(old: Option<f64>, new: Option<f64>) -> String {
    match (old, new) {
        (Some(old), Some(new)) if old > 0.0 => format!(
            "{:+.1} %",
            not_negative_zero((new / old - 1.0) * 100.0, 0.05)
        ),
        _ => String::new(),
    }
}

/// Change of a fraction in percentage points, signed: `-0.58 pts`.
pub fn pts_change(old: Option<f64>, new: Option<f64>) -> String {
    match (old, new) {
        (Some(old), Some(new)) => {
            format!("{:+.2} pts", not_negative_zero((new - old) * 100.0, 0.005))
        }
        _ => String::new(),
    }
}

/// Zero for a change that rounds to nothing, so float noise never shows as `-0.00`.
fn not_negative_zero(change: f64, half_step: f64) -> f64 {
    if change.abs() < half_step {
        0.0
    } else {
        change
    }
}

/// Milliseconds, or `-`.
pub fn ms_or_dash(ms: Option<f64>) -> String {
    ms.map(fmt_ms).unwrap_or_else(|| "-".into())
}

/// A fraction as a percentage, or `-`.
pub fn pct_or_dash(fraction: Option<f64>) -> String {
    fraction
        .map(|f| format!("{:.2} %", f * 100.0))
        .unwrap_or_else(|| "-".into())
}

/// Left-aligned columns, two spaces apart, each line indented by two spaces.
pub fn columns(rows: &[Vec<String>]) -> String {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
    }
    out
}

/// What an approval changes: current and new key numbers side by side.
pub fn change_table(current: Option<&KeyNumbers>, new: &KeyNumbers) -> String {
    let old = |f: fn(&KeyNumbers) -> Option<f64>| current.and_then(f);
    let latency = |label: &str, f: fn(&KeyNumbers) -> Option<f64>| {
        vec![
            label.to_string(),
            ms_or_dash(old(f)),
            ms_or_dash(f(new)),
            pct_change(old(f), f(new)),
        ]
    };
    let share = |label: &str, f: fn(&KeyNumbers) -> Option<f64>| {
        vec![
            label.to_string(),
            pct_or_dash(old(f)),
            pct_or_dash(f(new)),
            pts_change(old(f), f(new)),
        ]
    };
    let rows = vec![
        vec!["".into(), "current".into(), "new".into(), "change".into()],
        vec![
            "model sha256".into(),
            current
                .map(|c| short_sha(&c.model_sha256).to_string())
                .unwrap_or_else(|| "-".into()),
            short_sha(&new.model_sha256).to_string(),
            match current {
                Some(c) if c.model_sha256 == new.model_sha256 => "same model".into(),
                Some(_) => "new model".into(),
                None => String::new(),
            },
        ],
        latency("p50", |k| k.p50_ms),
        latency("p95", |k| k.p95_ms),
        latency("p99", |k| k.p99_ms),
        share("accuracy", |k| k.accuracy),
        share(&new.recall_name, |k| k.recall),
    ];
    columns(&rows)
}

#[cfg(test)]
mod tests;
