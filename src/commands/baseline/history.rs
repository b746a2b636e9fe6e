//! A model's approval history, `baselines/<name>.history.jsonl`, and `modelgate history`.
//!
//! One JSON line per approval, appended after the baseline itself is written. JSON lines keep
//! each approval a one-line diff in review and make appending cheap; the baseline file holds
//! only the latest results, so this log is where a reviewer sees how the numbers drifted
//! across versions (three approvals of +3 % each are a 9 % regression nobody saw at once).

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{
    columns, display_path, key_numbers, ms_or_dash, pct_change, pct_or_dash, pts_change, short_sha,
};
use crate::cli::HistoryArgs;
use crate::files::config::GateConfig;
use crate::files::results::{Provenance, ResultsFile};

/// One approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// 1 for the first approval, then one more each time.
    pub version: u64,
    pub model_sha256: String,
    /// RFC 3339.
    pub approved_at: String,
    pub approved_by: String,
    pub commit: Option<String>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Fraction of samples right.
    pub accuracy: Option<f64>,
    /// Recall of the positive class, else macro recall, as a fraction.
    pub recall: Option<f64>,
    /// Accuracy's Wilson 95 % interval, [lower, upper]; absent in entries that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_ci95: Option<[f64; 2]>,
    /// The positive class's recall's Wilson 95 % interval (none for macro recall).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall_ci95: Option<[f64; 2]>,
    /// The model file's size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_bytes: Option<u64>,
    /// Peak resident memory while benchmarking, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
}

impl HistoryEntry {
    /// The entry for an approved baseline.
    pub fn new(version: u64, baseline: &ResultsFile, provenance: &Provenance) -> HistoryEntry {
        let k = key_numbers(baseline);
        let metrics = baseline.eval.as_ref().map(|e| &e.metrics);
        let bounds = |i: &crate::stats::Interval| [i.lower, i.upper];
        let memory = baseline.bench.as_ref().map(|b| &b.memory);
        HistoryEntry {
            version,
            model_sha256: k.model_sha256,
            approved_at: provenance.approved_at.clone(),
            approved_by: provenance.approved_by.clone(),
            commit: provenance.commit.clone(),
            p50_ms: k.p50_ms,
            p95_ms: k.p95_ms,
            p99_ms: k.p99_ms,
            accuracy: k.accuracy,
            recall: k.recall,
            accuracy_ci95: metrics.map(|m| bounds(&m.accuracy_ci95)),
            recall_ci95: metrics
                .and_then(|m| m.positive.as_ref()?.recall_ci95.as_ref())
                .map(bounds),
            model_bytes: memory.map(|m| m.model_file_bytes).filter(|b| *b > 0),
            peak_rss_bytes: memory.map(|m| m.peak_rss_bytes).filter(|b| *b > 0),
        }
    }
}

/// Parses history text; `shown` names the file in errors.
pub fn parse(text: &str, shown: &str) -> Result<Vec<HistoryEntry>> {
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry = serde_json::from_str(line).map_err(|e| {
            anyhow::anyhow!(
                "{shown} line {} is not a history entry ({e}); fix or remove that line",
                i + 1
            )
        })?;
        entries.push(entry);
    }
    Ok(entries)
}

/// Reads a history file; a missing file is an empty history.
pub fn read_if_exists(path: &Path) -> Result<Vec<HistoryEntry>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, &display_path(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![]),
        Err(e) => bail!(
            "cannot read history {} ({e}); check its permissions",
            display_path(path)
        ),
    }
}

/// The version the next approval gets: one more than the last, so removing a line by hand
/// never makes two approvals share a number.
pub fn next_version(entries: &[HistoryEntry]) -> u64 {
    entries.iter().map(|e| e.version).max().unwrap_or(0) + 1
}

/// Appends one entry as a line, flushed to disk.
pub fn append(path: &Path, entry: &HistoryEntry) -> Result<()> {
    let mut line = serde_json::to_string(entry).context("cannot serialise the history entry")?;
    line.push('\n');
    // A last line edited by hand without its newline would otherwise be glued to this one.
    let unterminated = std::fs::read(path)
        .map(|b| b.last().is_some_and(|c| *c != b'\n'))
        .unwrap_or(false);
    if unterminated {
        line.insert(0, '\n');
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(line.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// The history as a table, oldest first, each number with its change from the version before.
pub fn table(name: &str, entries: &[HistoryEntry]) -> String {
    let chain: Vec<String> = entries.iter().map(|e| format!("v{}", e.version)).collect();
    let mut out = format!("{name}: {}\n", chain.join(" -> "));
    let mut rows = vec![[
        "version", "date", "approver", "model", "commit", "p50", "p95", "p99", "accuracy", "recall",
    ]
    .map(String::from)
    .to_vec()];
    let mut previous: Option<&HistoryEntry> = None;
    for e in entries {
        let before = |f: fn(&HistoryEntry) -> Option<f64>| previous.and_then(f);
        let with = |value: String, change: String| {
            if change.is_empty() {
                value
            } else {
                format!("{value} ({change})")
            }
        };
        let ms = |f: fn(&HistoryEntry) -> Option<f64>| {
            with(ms_or_dash(f(e)), pct_change(before(f), f(e)))
        };
        let share = |f: fn(&HistoryEntry) -> Option<f64>| {
            with(pct_or_dash(f(e)), pts_change(before(f), f(e)))
        };
        rows.push(vec![
            format!("v{}", e.version),
            e.approved_at
                .get(..10)
                .unwrap_or(&e.approved_at)
                .to_string(),
            e.approved_by.clone(),
            short_sha(&e.model_sha256).to_string(),
            e.commit
                .as_deref()
                .map(|c| c.get(..8).unwrap_or(c))
                .unwrap_or("-")
                .to_string(),
            ms(|e| e.p50_ms),
            ms(|e| e.p95_ms),
            ms(|e| e.p99_ms),
            share(|e| e.accuracy),
            share(|e| e.recall),
        ]);
        previous = Some(e);
    }
    out.push_str(&columns(&rows));
    out
}

/// `modelgate history`.
pub fn run(args: &HistoryArgs) -> Result<()> {
    let config = GateConfig::load(&args.config)?;
    let Some(name) = &args.name else {
        bail!("history: name the model (`modelgate history NAME`), or show every model's with --html PATH or --markdown");
    };
    let model = super::find_model(&config, name, &args.config)?;
    let path = super::history_path(&model.baseline_path(&super::config_root(&args.config)));
    let shown = display_path(&path);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "no history for model `{}`: {shown} does not exist; approve a baseline with `modelgate baseline approve --model {}`",
            model.name,
            model.name
        ),
        Err(e) => bail!("cannot read history {shown} ({e}); check its permissions"),
    };
    let entries = parse(&text, &shown)?;
    if entries.is_empty() {
        bail!("history {shown} has no entries; approve a baseline with `modelgate baseline approve --model {}`", model.name);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&entries).context("cannot serialise the history")?
        );
    } else {
        print!(
            "{}",
            crate::base::text::log_text(&table(&model.name, &entries))
        );
    }
    Ok(())
}
