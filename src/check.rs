//! `modelgate check`: may this release candidate replace the model in production?
//!
//! The gate asks "did this pull request make things worse?"; a release manager asks more: did the
//! candidate meet every success criterion in `modelgate.toml` against the production baseline,
//! including a required latency improvement, and were all the baseline's samples evaluated? The
//! latency, accuracy, recall-floor and absolute criteria are judged by the compare module, once,
//! exactly as the gate judges them; this module adds the release-only lines and turns the result
//! into a checklist. A release is all-or-nothing: an inconclusive line is a failure, and a
//! skipped one (latencies from other hardware) does not pass unless `--allow-skipped`.

use std::collections::HashSet;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Serialize;

use crate::baseline::{config_root, display_path, find_model, short_sha};
use crate::cli::CheckArgs;
use crate::compare::{self, Criterion, LatencySource, ModelComparison, Rule, Status};
use crate::config::{Criteria, GateConfig, ModelConfig};
use crate::eval::EvalResult;
use crate::gate::{self, Measured};
use crate::results::{self, ResultsFile};
use crate::terminal::fmt_ms;
use crate::Outcome;

/// Version of the checklist file's layout.
pub const CHECK_SCHEMA_VERSION: u32 = 1;

/// The mark of one checklist line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    Pass,
    Fail,
    /// Not judged, with the reason in `detail`; not a pass unless `--allow-skipped`.
    Skip,
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckLine {
    pub name: String,
    pub mark: Mark,
    pub unit: String,
    pub baseline: Option<f64>,
    pub candidate: Option<f64>,
    pub detail: String,
}

/// The checklist file `--json` writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    pub schema_version: u32,
    pub created_at: String,
    pub model: String,
    pub candidate_path: String,
    pub candidate_sha256: String,
    pub baseline_path: String,
    pub baseline_sha256: String,
    pub latency_source: LatencySource,
    pub allow_skipped: bool,
    /// Every line passed (or was skipped, with `allow_skipped`).
    pub passed: bool,
    pub lines: Vec<CheckLine>,
}

/// Judges a candidate against a baseline on the criteria and returns the checklist.
pub fn check(model: &ModelConfig, criteria: &Criteria, candidate: &ResultsFile, baseline: &ResultsFile, baseline_path: &Path) -> (LatencySource, Vec<CheckLine>) {
    let measured = Measured { candidate: candidate.clone(), base: None };
    let mut judged = gate::judge(model, criteria, &measured, Some(baseline), baseline_path);
    // An accuracy comparison that could not be made (samples missing) must not stop the other
    // criteria from being decided; it becomes the reason on the accuracy lines instead.
    let accuracy_error = judged.error.take();
    let comparison = compare::finalize(vec![judged], criteria.significance, false, results::now_rfc3339());
    let Some(judged) = comparison.models.first() else {
        return (LatencySource::None, vec![]);
    };
    let named = |name: &str| judged.criteria.iter().find(|c| c.name == name);
    let mut lines = Vec::new();
    if let Some(pct) = criteria.min_latency_improvement_pct {
        lines.push(improvement_line(judged, named("p50 latency"), pct, criteria.significance));
    }
    lines.extend(judged.criteria.iter().filter(|c| matches!(c.rule, Rule::RatioAtMost { .. })).map(line_of));
    let (base_eval, cand_eval) = (baseline.eval.as_ref(), candidate.eval.as_ref());
    match (&accuracy_error, base_eval, cand_eval) {
        (Some(error), _, _) => {
            for name in ["accuracy", "recall"] {
                lines.push(plain(name, Mark::Skip, format!("not compared: {error}")));
            }
        }
        (None, Some(_), None) => lines.push(plain("accuracy and recall", Mark::Fail, "the candidate has no eval results; add them with `modelgate eval --json`".into())),
        (None, None, _) => lines.push(plain("accuracy and recall", Mark::Skip, "the baseline has no eval results to compare with".into())),
        (None, Some(_), Some(_)) => {}
    }
    lines.extend(judged.criteria.iter().filter(|c| matches!(c.rule, Rule::DropAtMost { .. } | Rule::Identical)).map(line_of));
    match (criteria.min_recall, judged.criteria.iter().find(|c| c.name.starts_with("minimum"))) {
        (_, Some(floor)) => lines.push(line_of(floor)),
        (Some(floor), None) => lines.push(plain("minimum recall", Mark::Fail, format!("the candidate has no eval results to hold to the floor of {floor}"))),
        (None, None) => {}
    }
    lines.push(samples_line(base_eval, cand_eval));
    lines.extend(judged.criteria.iter().filter(|c| matches!(c.rule, Rule::AtMost { .. } | Rule::AtLeast { .. }) && !c.name.starts_with("minimum")).map(line_of));
    (judged.latency_source.clone(), lines)
}

/// Whether a checklist lets the release through.
pub fn passed(lines: &[CheckLine], allow_skipped: bool) -> bool {
    lines.iter().all(|l| l.mark == Mark::Pass || (allow_skipped && l.mark == Mark::Skip))
}

fn plain(name: &str, mark: Mark, detail: String) -> CheckLine {
    CheckLine { name: name.into(), mark, unit: String::new(), baseline: None, candidate: None, detail }
}

/// A compare criterion as a checklist line; inconclusive is not good enough for a release.
fn line_of(c: &Criterion) -> CheckLine {
    let (mark, detail) = match c.status {
        Status::Pass => (Mark::Pass, c.detail.clone()),
        Status::Fail => (Mark::Fail, c.detail.clone()),
        Status::Inconclusive => (Mark::Fail, format!("inconclusive: {}; measure more runs", c.detail)),
        Status::Skipped => (Mark::Skip, c.detail.clone()),
    };
    CheckLine { name: c.name.clone(), mark, unit: c.unit.clone(), baseline: c.baseline, candidate: c.candidate, detail }
}

/// p50 must be at least `pct` % faster: the whole 95 % interval of the candidate/baseline ratio at
/// or below `1 - pct/100`, decided by compare's own ratio rule with a negative tolerance.
fn improvement_line(judged: &ModelComparison, p50: Option<&Criterion>, pct: f64, significance: f64) -> CheckLine {
    let name = format!("p50 latency {pct} % faster");
    let Some(p50) = p50 else {
        return plain(&name, Mark::Fail, "the candidate has no bench results".into());
    };
    let Some(ci) = p50.ci.filter(|_| p50.status != Status::Skipped) else {
        return CheckLine { name, ..line_of(p50) };
    };
    let required = Criterion { rule: Rule::RatioAtMost { tolerance_pct: -pct }, ..p50.clone() };
    let adjusted = p50.test.and_then(|i| judged.tests.get(i)).and_then(|t| t.adjusted_p);
    let mark = if compare::decide(&required, adjusted, significance) == Status::Pass { Mark::Pass } else { Mark::Fail };
    let ratio = p50.change.map(|c| format!("ratio {:.3} ", 1.0 + c / 100.0)).unwrap_or_default();
    let detail = format!("{ratio}(95 % CI {:.3} .. {:.3}); the upper bound must be at most {:.3}", ci.lower, ci.upper, 1.0 - pct / 100.0);
    CheckLine { name, mark, unit: p50.unit.clone(), baseline: p50.baseline, candidate: p50.candidate, detail }
}

/// Every baseline sample must have been evaluated for the candidate too: a sample that failed to
/// load or run would otherwise leave the accuracy of the rest looking fine.
fn samples_line(baseline: Option<&EvalResult>, candidate: Option<&EvalResult>) -> CheckLine {
    let name = "no new errors or failed samples";
    let (base, cand) = match (baseline, candidate) {
        (Some(b), Some(c)) => (b, c),
        (None, _) => return plain(name, Mark::Skip, "the baseline has no eval results to compare with".into()),
        (Some(b), None) => return plain(name, Mark::Fail, format!("the candidate has no eval results; the baseline has {} samples", b.samples.len())),
    };
    let ids: HashSet<&str> = cand.samples.iter().map(|s| s.id.as_str()).collect();
    let missing: Vec<&str> = base.samples.iter().map(|s| s.id.as_str()).filter(|id| !ids.contains(id)).collect();
    let (n_base, n_cand) = (base.samples.len() as f64, cand.samples.len() as f64);
    let (mark, detail) = if missing.is_empty() && n_base == n_cand {
        (Mark::Pass, format!("all {n_base} baseline samples evaluated"))
    } else if missing.is_empty() {
        (Mark::Fail, format!("{n_cand} samples evaluated, but the baseline has {n_base}"))
    } else {
        let first: Vec<&str> = missing.iter().take(3).copied().collect();
        (Mark::Fail, format!("{} of {n_base} baseline samples missing from the candidate (first: {})", missing.len(), first.join(", ")))
    };
    CheckLine { name: name.into(), mark, unit: "samples".into(), baseline: Some(n_base), candidate: Some(n_cand), detail }
}

fn value(v: Option<f64>, unit: &str) -> String {
    match (v, unit) {
        (None, _) => "-".into(),
        (Some(v), "ms") => fmt_ms(v),
        (Some(v), "%") => format!("{v:.2} %"),
        (Some(v), "fraction") => format!("{v:.3}"),
        (Some(v), "samples") => format!("{v:.0}"),
        (Some(v), unit) => format!("{v:.1} {unit}"),
    }
}

/// The checklist as text.
pub fn render(report: &CheckReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "release check of {}: {} (model {}) against {} (model {})",
        report.model,
        report.candidate_path,
        short_sha(&report.candidate_sha256),
        report.baseline_path,
        short_sha(&report.baseline_sha256)
    );
    if let LatencySource::NotComparable { reason } = &report.latency_source {
        let _ = writeln!(out, "  latency not comparable: {reason}");
    }
    for line in &report.lines {
        let mark = match line.mark {
            Mark::Pass => "[pass]",
            Mark::Fail => "[FAIL]",
            Mark::Skip => "[skip]",
        };
        let numbers = match (line.baseline, line.candidate) {
            (None, None) => String::new(),
            (b, c) => format!("{} -> {}  ", value(b, &line.unit), value(c, &line.unit)),
        };
        let _ = writeln!(out, "  {mark} {:<32} {numbers}{}", line.name, line.detail);
    }
    let count = |m: Mark| report.lines.iter().filter(|l| l.mark == m).count();
    let (pass, fail, skip) = (count(Mark::Pass), count(Mark::Fail), count(Mark::Skip));
    let verdict = if report.passed { "pass" } else { "FAIL" };
    let _ = write!(out, "result: {verdict} ({pass} passed, {fail} failed, {skip} skipped)");
    if skip > 0 && !report.allow_skipped {
        let _ = write!(out, "; skipped lines do not pass a release unless --allow-skipped");
    }
    out.push('\n');
    out
}

/// `modelgate check`.
pub fn run(args: &CheckArgs) -> Result<Outcome> {
    let config_path = args.config.clone().or_else(|| args.model.as_ref().map(|_| PathBuf::from("modelgate.toml")));
    let config = config_path.as_deref().map(GateConfig::load).transpose()?;
    let candidate = results::load(&args.candidate)?;
    let (model, baseline_path) = match (&args.model, &args.baseline, &config, &config_path) {
        (Some(name), _, Some(config), Some(path)) => {
            let model = find_model(config, name, path)?.clone();
            let baseline = model.baseline_path(&config_root(path));
            if !baseline.exists() {
                bail!("model `{name}` has no baseline at {}; approve one with `modelgate baseline approve --model {name}`", display_path(&baseline));
            }
            (model, baseline)
        }
        (None, Some(baseline), _, _) => (ModelConfig::named(&candidate.model.name, &candidate.model.path), baseline.clone()),
        _ => bail!("give the production baseline with --baseline FILE or --model NAME"),
    };
    let baseline = results::load(&baseline_path)?;
    let (model, criteria) = match &config {
        // With --baseline, the config's model of the same name, else the config's defaults.
        Some(config) => {
            let found = [&model.name, &baseline.model.name, &candidate.model.name]
                .into_iter()
                .find_map(|name| config.models.iter().find(|m| &m.name == name));
            let model = found.cloned().unwrap_or(model);
            let criteria = config.criteria_for(&model);
            (model, criteria)
        }
        None => (model, Criteria::default()),
    };
    let (latency_source, lines) = check(&model, &criteria, &candidate, &baseline, &baseline_path);
    let report = CheckReport {
        schema_version: CHECK_SCHEMA_VERSION,
        created_at: results::now_rfc3339(),
        model: model.name.clone(),
        candidate_path: args.candidate.display().to_string(),
        candidate_sha256: candidate.model.sha256.clone(),
        baseline_path: display_path(&baseline_path),
        baseline_sha256: baseline.model.sha256.clone(),
        latency_source,
        allow_skipped: args.allow_skipped,
        passed: passed(&lines, args.allow_skipped),
        lines,
    };
    print!("{}", render(&report));
    if let Some(path) = &args.json {
        results::write_json_atomic(path, &report)?;
        println!("checklist written to {}", path.display());
    }
    Ok(if report.passed { Outcome::Pass } else { Outcome::Fail })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_lines_pass_only_when_allowed() {
        let lines = vec![plain("a", Mark::Pass, String::new()), plain("b", Mark::Skip, String::new())];
        assert!(!passed(&lines, false));
        assert!(passed(&lines, true));
        let failing = vec![plain("a", Mark::Fail, String::new()), plain("b", Mark::Skip, String::new())];
        assert!(!passed(&failing, true));
        assert!(passed(&[], false));
    }

    #[test]
    fn values_are_shown_in_their_unit() {
        assert_eq!(value(Some(2.5), "ms"), "2.500 ms");
        assert_eq!(value(Some(95.321), "%"), "95.32 %");
        assert_eq!(value(Some(0.91234), "fraction"), "0.912");
        assert_eq!(value(Some(171.0), "samples"), "171");
        assert_eq!(value(None, "ms"), "-");
    }
}
