//! `modelgate check`: may this release candidate replace the model in production?
//!
//! The gate asks "did this pull request make things worse?"; a release manager asks more: did the
//! candidate meet every success criterion in `modelgate.toml` against the production baseline,
//! including a required latency improvement, and were all the baseline's samples evaluated? The
//! latency, accuracy, recall-floor and absolute criteria are judged by the compare module, once,
//! exactly as the gate judges them; this module adds the release-only lines and turns the result
//! into a checklist. A release is all-or-nothing: an inconclusive line is a failure, and a
//! skipped one (latencies from other hardware) does not pass unless `--allow-skipped`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Serialize;

use crate::cli::CheckArgs;
use crate::commands::app::Outcome;
use crate::commands::baseline::{config_root, display_path, find_model};
use crate::compare::{self, LatencySource, Rule};
use crate::files::config::{Criteria, GateConfig, ModelConfig};
use crate::files::results::{self, ResultsFile};
use crate::pipeline::gate::{self, Measured};

mod lines;
mod render;

use lines::{improvement_line, line_of, plain, samples_line};
pub use render::render;

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
pub fn check(
    model: &ModelConfig,
    criteria: &Criteria,
    candidate: &ResultsFile,
    baseline: &ResultsFile,
    baseline_path: &Path,
) -> (LatencySource, Vec<CheckLine>) {
    let measured = Measured {
        candidate: candidate.clone(),
        base: None,
    };
    let mut judged = gate::judge(
        model,
        criteria,
        &measured,
        None,
        Some(baseline),
        baseline_path,
    );
    // An accuracy comparison that could not be made (samples missing) must not stop the other
    // criteria from being decided; it becomes the reason on the accuracy lines instead.
    let accuracy_error = judged.error.take();
    let comparison = compare::finalize(
        vec![judged],
        criteria.significance,
        compare::MissingBaseline::Fails,
        results::now_rfc3339(),
    );
    let Some(judged) = comparison.models.first() else {
        return (LatencySource::None, vec![]);
    };
    let mut lines = Vec::new();
    if let Some(pct) = criteria.min_latency_improvement_pct {
        lines.push(improvement_line(
            judged,
            compare::p50_criterion(&judged.criteria),
            pct,
            criteria.significance,
        ));
    }
    lines.extend(
        judged
            .criteria
            .iter()
            .filter(|c| matches!(c.rule, Rule::RatioAtMost { .. }))
            .map(line_of),
    );
    if candidate.bench.is_none() {
        let why =
            "the candidate has no bench results; add them with `modelgate bench MODEL --json FILE`";
        lines.push(plain("latency", Mark::Fail, why.into()));
    }
    let (base_eval, cand_eval) = (baseline.eval.as_ref(), candidate.eval.as_ref());
    match (&accuracy_error, base_eval, cand_eval) {
        (Some(error), _, _) => {
            for name in ["accuracy", "recall"] {
                lines.push(plain(name, Mark::Skip, format!("not compared: {error}")));
            }
        }
        (None, Some(_), None) => lines.push(plain(
            "accuracy and recall",
            Mark::Fail,
            "the candidate has no eval results; add them with `modelgate eval --json`".into(),
        )),
        (None, None, _) => lines.push(plain(
            "accuracy and recall",
            Mark::Skip,
            "the baseline has no eval results to compare with".into(),
        )),
        (None, Some(_), Some(_)) => {}
    }
    lines.extend(
        judged
            .criteria
            .iter()
            .filter(|c| matches!(c.rule, Rule::DropAtMost { .. } | Rule::Identical))
            .filter(|c| !c.reported_only)
            .map(line_of),
    );
    // Every floor: min_recall's, then the subgroup and per-class ones when configured.
    let floors: Vec<&compare::Criterion> = judged
        .criteria
        .iter()
        .filter(|c| c.is_recall_floor() && !c.reported_only)
        .collect();
    match (criteria.min_recall, floors.first()) {
        (_, Some(_)) => lines.extend(floors.into_iter().map(line_of)),
        (Some(floor), None) => lines.push(plain(
            "minimum recall",
            Mark::Fail,
            format!("the candidate has no eval results to hold to the floor of {floor}"),
        )),
        (None, None) => {}
    }
    lines.push(samples_line(base_eval, cand_eval));
    lines.extend(
        judged
            .criteria
            .iter()
            .filter(|c| matches!(c.rule, Rule::AtMost { .. } | Rule::AtLeast { .. }))
            .map(line_of),
    );
    (judged.latency_source.clone(), lines)
}

/// Whether a checklist lets the release through.
pub fn passed(lines: &[CheckLine], allow_skipped: bool) -> bool {
    lines
        .iter()
        .all(|l| l.mark == Mark::Pass || (allow_skipped && l.mark == Mark::Skip))
}

/// `modelgate check`.
pub fn run(args: &CheckArgs) -> Result<Outcome> {
    let config_path = args
        .config
        .clone()
        .or_else(|| args.model.as_ref().map(|_| PathBuf::from("modelgate.toml")));
    let config = config_path.as_deref().map(GateConfig::load).transpose()?;
    results::check_outputs(&[("--json", args.json.as_deref())], None)?;
    let candidate = results::load_whole(&args.candidate)?;
    let (model, baseline_path) = match (&args.model, &args.baseline, &config, &config_path) {
        (Some(name), _, Some(config), Some(path)) => {
            let model = find_model(config, name, path)?.clone();
            let baseline = model.baseline_path(&config_root(path));
            if !baseline.exists() {
                bail!("model `{name}` has no baseline at {}; approve one with `modelgate baseline approve --model {name}`", display_path(&baseline));
            }
            (model, baseline)
        }
        (None, Some(baseline), _, _) => (
            ModelConfig::named(&candidate.model.name, &candidate.model.path),
            baseline.clone(),
        ),
        _ => bail!("give the production baseline with --baseline FILE or --model NAME"),
    };
    let baseline = results::load_whole(&baseline_path)?;
    crate::files::identity::check_same_model(
        &baseline.model,
        &baseline_path,
        &candidate.model,
        crate::files::identity::Names::Free,
    )?;
    let (model, criteria) = match &config {
        // With --baseline, the config's model of the same name, else the config's defaults.
        Some(config) => {
            // Results written by `modelgate bench` carry the file's stem as their name.
            let stem = |m: &ModelConfig| {
                m.candidate
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
            };
            let found = [&model.name, &baseline.model.name, &candidate.model.name]
                .into_iter()
                .find_map(|name| {
                    config.models.iter().find(|m| &m.name == name).or_else(|| {
                        config
                            .models
                            .iter()
                            .find(|m| stem(m).as_ref() == Some(name))
                    })
                });
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
    print!("{}", crate::base::text::log_text(&render(&report)));
    if let Some(path) = &args.json {
        results::write_json_atomic(path, &report)?;
        println!("checklist written to {}", path.display());
    }
    Ok(if report.passed {
        Outcome::Pass
    } else {
        Outcome::Fail
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_lines_pass_only_when_allowed() {
        let lines = vec![
            plain("a", Mark::Pass, String::new()),
            plain("b", Mark::Skip, String::new()),
        ];
        assert!(!passed(&lines, false));
        assert!(passed(&lines, true));
        let failing = vec![
            plain("a", Mark::Fail, String::new()),
            plain("b", Mark::Skip, String::new()),
        ];
        assert!(!passed(&failing, true));
        assert!(passed(&[], false));
    }

    fn fixture() -> ResultsFile {
        results::parse(include_str!("baseline/testdata/cancer.json")).unwrap()
    }

    fn marks(lines: &[CheckLine]) -> Vec<(&str, Mark)> {
        lines.iter().map(|l| (l.name.as_str(), l.mark)).collect()
    }

    #[test]
    fn a_candidate_without_bench_or_eval_results_fails_instead_of_passing_quietly() {
        let model = ModelConfig::named("cancer", "models/cancer_fp32.onnx");
        let criteria = Criteria {
            min_recall: Some(0.8),
            ..Criteria::default()
        };
        let baseline = fixture();
        let mut candidate = fixture();
        candidate.bench = None;
        candidate.eval = None;
        let (_, lines) = check(
            &model,
            &criteria,
            &candidate,
            &baseline,
            Path::new("b.json"),
        );
        let expected = [
            ("latency", Mark::Fail),
            ("accuracy and recall", Mark::Fail),
            ("minimum recall", Mark::Fail),
            ("no new errors or failed samples", Mark::Fail),
        ];
        assert_eq!(marks(&lines), expected);
    }

    #[test]
    fn a_baseline_against_itself_passes_and_a_required_improvement_does_not() {
        let model = ModelConfig::named("cancer", "models/cancer_fp32.onnx");
        // The fixture holds 20 runs: far too few for a tight tail, so the tolerances are wide.
        let mut criteria = Criteria {
            min_recall: Some(0.8),
            max_p50_regression_pct: 100.0,
            max_p95_regression_pct: 10_000.0,
            max_p99_regression_pct: 10_000.0,
            ..Criteria::default()
        };
        let baseline = fixture();
        let (_, lines) = check(&model, &criteria, &baseline, &baseline, Path::new("b.json"));
        assert!(passed(&lines, false), "{lines:#?}");
        assert_eq!(lines.len(), 7, "{lines:#?}");
        criteria.min_latency_improvement_pct = Some(5.0);
        let (_, lines) = check(&model, &criteria, &baseline, &baseline, Path::new("b.json"));
        assert_eq!(lines[0].name, "p50 latency 5 % faster");
        assert_eq!(lines[0].mark, Mark::Fail);
        assert!(
            lines[1..].iter().all(|l| l.mark == Mark::Pass),
            "{lines:#?}"
        );
    }

    #[test]
    fn every_class_recall_floor_gets_its_own_line() {
        let model = ModelConfig::named("cancer", "models/cancer_fp32.onnx");
        let criteria = Criteria {
            max_p50_regression_pct: 100.0,
            max_p95_regression_pct: 10_000.0,
            max_p99_regression_pct: 10_000.0,
            min_class_recall: Some(0.5),
            ..Criteria::default()
        };
        let baseline = fixture();
        let (_, lines) = check(&model, &criteria, &baseline, &baseline, Path::new("b.json"));
        let floors: Vec<&str> = lines
            .iter()
            .filter(|l| l.name.starts_with("minimum"))
            .map(|l| l.name.as_str())
            .collect();
        assert_eq!(
            floors,
            [
                "minimum recall of class benign",
                "minimum recall of class malignant"
            ]
        );
        assert!(passed(&lines, false), "{lines:#?}");

        // A subgroup too small to judge is left out of the checklist instead of blocking it as
        // skipped.
        let mut small = fixture();
        let mut sliced = small.eval.take().unwrap();
        for (i, s) in sliced.samples.iter_mut().enumerate() {
            let site = if i < 10 { "small" } else { "big" };
            s.slices.insert("site".into(), site.into());
        }
        small.eval = Some(sliced);
        let criteria = Criteria {
            slice_max_recall_drop_pts: Some(1.0),
            slice_min_recall: Some(0.5),
            ..criteria
        };
        let (_, lines) = check(&model, &criteria, &small, &small, Path::new("b.json"));
        let names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
        assert!(
            names.iter().any(|n| n.ends_with("in site=big")),
            "{names:?}"
        );
        assert!(
            !names.iter().any(|n| n.ends_with("in site=small")),
            "{names:?}"
        );
        assert!(passed(&lines, false), "{lines:#?}");
    }
}
