//! The view: a comparison turned into finished strings for the templates.
//!
//! Templates only show what is here, with `if` and `for`; every number is formatted, every mark
//! chosen and every verdict taken from the comparison, never recomputed. For the markdown
//! reports each string that comes from the pull request (names, paths, class names, sample ids,
//! error text, and the compare texts that quote them) goes through `escape_md`; for the HTML
//! report strings stay raw and minijinja's auto-escaping handles them.

use serde::Serialize;

use super::accuracy::{accuracy_view, AccuracyView};
use super::compare::{
    Comparison, Criterion, EffectUnit, LatencySource, ModelComparison, Rule, Status, TestRecord,
    Verdict,
};
use super::escape::Text;
use super::latency::{latency_view, LatencyView};
use super::operators::{operators_view, OperatorsView};
use super::Format;
use crate::base::format::{self, plural, IntervalKind};

/// Most characters of a model's error text shown; the rest is in the logs.
const ERROR_CHARS: usize = 2000;

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportView {
    /// `pass`, `fail`, `error` or `new`; also the HTML class.
    pub verdict: String,
    /// E.g. `❌ modelgate: fail, 1 of 2 models failed`.
    pub headline: String,
    pub models: Vec<ModelView>,
    /// When it was compared and how p-values were corrected.
    pub footer: String,
}

/// One model's section.
#[derive(Debug, Clone, Serialize)]
pub struct ModelView {
    /// E.g. `✅ resnet50: pass`.
    pub heading: String,
    pub verdict: String,
    /// The candidate file and its hash.
    pub candidate: String,
    /// The baseline file and its hash, when there is one.
    pub baseline: Option<String>,
    /// No baseline yet and new models are allowed.
    pub is_new: bool,
    /// Why the model could not be judged.
    pub error: Option<String>,
    /// Why it failed, one line each.
    pub reasons: Vec<String>,
    /// Where the baseline latency came from and whether it is comparable.
    pub latency_source: String,
    pub criteria: Vec<CriterionView>,
    pub latency: Option<LatencyView>,
    pub accuracy: Option<AccuracyView>,
    pub tests: Vec<TestView>,
    pub notes: Vec<String>,
    /// The git commits compared, e.g. `base 1a2b3c4d5e6f, candidate 9f8e7d6c5b4a`; absent when
    /// neither is known.
    pub commits: Option<String>,
    /// The machine the candidate was measured on: CPU, cores, OS, ONNX Runtime.
    pub runner: Option<String>,
    /// The candidate's slowest operators, when its results hold a profile.
    pub profile: Option<ProfileView>,
    /// The base model's operators against the candidate's, when the A/B profiled both.
    pub operators: Option<OperatorsView>,
}

/// The candidate's operator profile: a caption and its slowest nodes.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileView {
    /// E.g. `20 profiled runs, 15 nodes; by op type: Conv 99.3 %, Gemm 0.2 %`.
    pub caption: String,
    pub rows: Vec<ProfileRow>,
}

/// One node of the profile table.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileRow {
    pub op_type: String,
    pub node: String,
    pub count: String,
    pub mean: String,
    pub share: String,
}

/// The profile's caption and top nodes, formatted and escaped.
fn profile_view(p: &crate::engine::runtime::profile::OpProfile, text: Text) -> ProfileView {
    let by_type: Vec<String> = p
        .op_types
        .iter()
        .take(5)
        .map(|t| format!("{} {:.1} %", t.op_type, t.share_pct))
        .collect();
    let of_run = p
        .node_share_of_run_pct
        .map(|s| format!(", {s:.0} % of the runs' time in kernels"))
        .unwrap_or_default();
    ProfileView {
        caption: text.of(&format!(
            "{} profiled runs, {}{of_run}; by op type: {}",
            p.runs,
            plural(p.node_count, "node"),
            by_type.join(", ")
        )),
        rows: p
            .nodes
            .iter()
            .take(crate::engine::runtime::profile::PROFILE_TOP)
            .map(|n| ProfileRow {
                op_type: text.of(&n.op_type),
                node: text.of(&crate::base::text::clean(&n.name, 60)),
                count: n.count.to_string(),
                mean: crate::base::format::duration(n.mean_us / 1000.0),
                share: format!("{:.1} %", n.share_pct),
            })
            .collect(),
    }
}

/// One row of a model's criteria table.
#[derive(Debug, Clone, Serialize)]
pub struct CriterionView {
    pub mark: String,
    /// `pass`, `fail`, `inconclusive` or `skipped`; also the HTML class.
    pub status: String,
    pub name: String,
    /// `1.234 ms → 1.270 ms`, or the candidate's value alone.
    pub values: String,
    pub change: String,
    pub ci: String,
    /// The Holm-adjusted p-value of the test behind it.
    pub p: String,
    pub detail: String,
    /// Why it failed or is inconclusive, in one plain sentence; absent for a pass or a skip.
    pub why: Option<String>,
}

/// One row of the table of every test.
#[derive(Debug, Clone, Serialize)]
pub struct TestView {
    pub name: String,
    pub statistic: String,
    pub p: String,
    pub adjusted_p: String,
    pub ci: String,
    pub effect: String,
    pub decision: String,
}

impl ReportView {
    /// Builds the view; `changed_cap` limits the changed samples listed per model.
    pub fn new(comparison: &Comparison, format: Format, changed_cap: usize) -> ReportView {
        let text = Text(format);
        let tests: usize = comparison.models.iter().map(|m| m.tests.len()).sum();
        ReportView {
            verdict: verdict_word(comparison.verdict).into(),
            headline: headline(comparison),
            models: comparison
                .models
                .iter()
                .map(|m| model_view(m, text, changed_cap))
                .collect(),
            footer: match tests {
                0 => format!(
                    "Compared at {}. No statistical tests were run.",
                    text.of(&comparison.created_at)
                ),
                n => format!(
                    "Compared at {}. Significance {} after Holm's correction across {}.",
                    text.of(&comparison.created_at),
                    comparison.significance,
                    plural(n, "test"),
                ),
            },
        }
    }
}

fn headline(comparison: &Comparison) -> String {
    let n = comparison.models.len();
    let count = |v: Verdict| comparison.models.iter().filter(|m| m.verdict == v).count();
    // A pass with a latency criterion still straddling its limit is not the same news as a
    // settled one: say it in the headline.
    let unsettled = comparison
        .models
        .iter()
        .filter(|m| {
            m.criteria.iter().any(|c| {
                c.status == Status::Inconclusive && matches!(c.rule, Rule::RatioAtMost { .. })
            })
        })
        .count();
    let tail = match (comparison.verdict, n) {
        (Verdict::Pass, 1) if unsettled > 0 => ", latency not settled".into(),
        (Verdict::Pass, _) if unsettled > 0 => format!(
            ", {} checked, latency not settled for {unsettled}",
            plural(n, "model")
        ),
        (Verdict::Pass, _) => format!(", {} checked", plural(n, "model")),
        (Verdict::New, 1) => ", no baseline yet".into(),
        (Verdict::Fail, 1) | (Verdict::Error, 1) => String::new(),
        (Verdict::Fail, _) => format!(", {} of {n} models failed", count(Verdict::Fail)),
        (Verdict::Error, _) => format!(
            ", {} of {n} models could not be judged",
            count(Verdict::Error)
        ),
        (Verdict::New, _) => format!(", {n} models without a baseline yet"),
    };
    format!(
        "{} modelgate: {}{tail}",
        verdict_mark(comparison.verdict),
        verdict_word(comparison.verdict)
    )
}

fn model_view(m: &ModelComparison, text: Text, changed_cap: usize) -> ModelView {
    let short = |sha: &str| sha.chars().take(12).collect::<String>();
    let file = |path: &str, sha: &str| match sha {
        "" => text.of(path),
        sha => format!("{} (sha256 {})", text.of(path), text.of(&short(sha))),
    };
    let is_new = m.verdict == Verdict::New;
    let error = m.error.as_deref().map(|e| {
        let cut: String = e.chars().take(ERROR_CHARS).collect();
        let more = if cut.len() < e.len() { " …" } else { "" };
        format!("{}{more}", text.of(&cut))
    });
    ModelView {
        heading: format!(
            "{} {}: {}",
            verdict_mark(m.verdict),
            text.of(&m.name),
            verdict_word(m.verdict)
        ),
        verdict: verdict_word(m.verdict).into(),
        candidate: file(&m.candidate_path, &m.candidate_sha256),
        baseline: m
            .baseline_path
            .as_deref()
            .map(|p| file(p, m.baseline_sha256.as_deref().unwrap_or(""))),
        is_new,
        // The error and the "new" wording are shown on their own; reasons would repeat them.
        reasons: if is_new || error.is_some() {
            vec![]
        } else {
            reasons(m, text)
        },
        error,
        latency_source: latency_source(&m.latency_source, text),
        criteria: m
            .criteria
            .iter()
            .map(|c| criterion_view(c, m, text))
            .collect(),
        latency: m.latency.as_ref().map(|l| latency_view(l, text.0)),
        accuracy: m
            .accuracy
            .as_ref()
            .map(|a| accuracy_view(a, &m.tests, text, changed_cap)),
        tests: m
            .tests
            .iter()
            .enumerate()
            .map(|(i, t)| test_view(t, interval_kind_of_test(m, i), text))
            .collect(),
        notes: m.notes.iter().map(|n| text.of(n)).collect(),
        commits: commits(m, text),
        profile: m.profile.as_ref().map(|p| profile_view(p, text)),
        operators: m.operators.as_ref().map(|d| operators_view(d, text)),
        runner: m.runner.as_ref().map(|r| {
            text.of(&format!(
                "{} ({}), {} {}, ONNX Runtime {} on {}",
                r.cpu,
                plural(r.cores, "core"),
                r.os,
                r.arch,
                r.onnxruntime_version,
                r.execution_provider
            ))
        }),
    }
}

/// Why the model failed: each failed criterion's plain sentence, then the reasons that are no
/// criterion's (a missing baseline, say), as compare wrote them.
fn reasons(m: &ModelComparison, text: Text) -> Vec<String> {
    let failed: Vec<&Criterion> = m
        .criteria
        .iter()
        .filter(|c| c.status == Status::Fail)
        .collect();
    let mut out: Vec<String> = failed
        .iter()
        .filter_map(|c| why(c, m))
        .map(|w| text.of(&w))
        .collect();
    out.extend(
        m.reasons
            .iter()
            .filter(|r| {
                !failed
                    .iter()
                    .any(|c| **r == format!("{}: {}", c.name, c.detail))
            })
            .map(|r| text.of(r)),
    );
    out
}

fn why(c: &Criterion, m: &ModelComparison) -> Option<String> {
    let test = c.test.and_then(|i| m.tests.get(i));
    super::explain::why(c, test, m.significance, m.latency.as_ref())
}

/// `base 1a2b3c4d5e6f, candidate 9f8e7d6c5b4a`, from what the comparison knows.
fn commits(m: &ModelComparison, text: Text) -> Option<String> {
    let short = |sha: &String| sha.chars().take(12).collect::<String>();
    let parts: Vec<String> = [("base", &m.base_commit), ("candidate", &m.candidate_commit)]
        .into_iter()
        .filter_map(|(side, sha)| sha.as_ref().map(|s| format!("{side} {}", short(s))))
        .collect();
    (!parts.is_empty()).then(|| text.of(&parts.join(", ")))
}

/// How a criterion's interval reads: in the unit of what it bounds.
fn interval_kind(c: &Criterion) -> IntervalKind {
    match (&c.rule, c.unit.as_str()) {
        (Rule::RatioAtMost { .. }, _) => IntervalKind::Ratio,
        (_, "%") => IntervalKind::Points,
        (_, "fraction") => IntervalKind::Fraction,
        _ => IntervalKind::Plain,
    }
}

/// A test's interval reads as that of the criterion it decides; points for a change in points.
fn interval_kind_of_test(m: &ModelComparison, i: usize) -> IntervalKind {
    let t = &m.tests[i];
    if t.effect.unit() == EffectUnit::Points {
        return IntervalKind::Points;
    }
    match m.criteria.iter().find(|c| c.test == Some(i)) {
        Some(c) => interval_kind(c),
        // The latency tests not tied to a criterion bound the same candidate/baseline ratio.
        None if t.effect.unit() == EffectUnit::Ms => IntervalKind::Ratio,
        None => IntervalKind::Plain,
    }
}

fn latency_source(source: &LatencySource, text: Text) -> String {
    match source {
        LatencySource::SameRunnerAb => {
            "same-runner A/B: baseline and candidate timed in alternating blocks on this runner"
                .into()
        }
        LatencySource::CommittedBaseline => {
            "committed baseline, measured on matching hardware".into()
        }
        LatencySource::NotComparable { reason } => format!(
            "committed baseline, not comparable ({}); its latency is advisory and not judged",
            text.of(reason)
        ),
        LatencySource::ModelUnchanged => {
            "none needed: the model is unchanged from the base (same SHA-256)".into()
        }
        LatencySource::Rejected { reason } => format!(
            "rejected: {}; the model fails until the base is measured here",
            text.of(reason)
        ),
        LatencySource::None => "none, so latency is not compared".into(),
    }
}

fn criterion_view(c: &Criterion, m: &ModelComparison, text: Text) -> CriterionView {
    let kind = interval_kind(c);
    let candidate = match (&c.rule, c.candidate) {
        (Rule::Required, Some(v)) if v >= 1.0 => "present".to_string(),
        (Rule::Required, Some(_)) => "missing".to_string(),
        _ => format::value(c.candidate, &c.unit),
    };
    let values = match c.baseline {
        Some(_) => format!("{} → {candidate}", format::value(c.baseline, &c.unit)),
        None => candidate,
    };
    CriterionView {
        mark: status_mark(c.status).into(),
        status: status_word(c.status).into(),
        name: text.of(&c.name),
        values,
        change: format::change(c.change, &c.unit),
        ci: format::interval(c.ci.as_ref(), kind),
        p: format::p_value(
            c.test
                .and_then(|i| m.tests.get(i))
                .and_then(|t| t.adjusted_p),
        ),
        detail: text.of(&c.detail),
        why: why(c, m).map(|w| text.of(&w)),
    }
}

fn test_view(t: &TestRecord, kind: IntervalKind, text: Text) -> TestView {
    let effect = match t.effect_size.filter(|e| e.is_finite()) {
        // A shift in milliseconds, in the unit that fits it: `+2.000 µs Hodges-Lehmann shift`.
        Some(e) if t.effect.unit() == EffectUnit::Ms => {
            let sign = if e > 0.0 { "+" } else { "" };
            format!("{sign}{} {}", format::duration(e), text.of(t.effect.name()))
        }
        Some(e) => format!("{} {}", format::signed(e, 3), text.of(t.effect.name())),
        None => format::NONE.into(),
    };
    TestView {
        name: text.of(&t.name),
        statistic: format::statistic(t.statistic),
        p: format::p_value(Some(t.p_value)),
        adjusted_p: format::p_value(t.adjusted_p),
        ci: format::interval(t.ci.as_ref(), kind),
        effect,
        decision: text.of(t.decision.as_str()),
    }
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Error => "error",
        Verdict::New => "new",
    }
}

fn verdict_mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✅",
        Verdict::Fail => "❌",
        Verdict::Error => "⛔",
        Verdict::New => "🆕",
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Inconclusive => "inconclusive",
        Status::Skipped => "skipped",
        Status::Unresolved => "not resolvable",
    }
}

fn status_mark(s: Status) -> &'static str {
    match s {
        Status::Pass => "✅",
        Status::Fail => "❌",
        Status::Inconclusive => "⚠️",
        Status::Skipped => "➖",
        Status::Unresolved => "➖",
    }
}
