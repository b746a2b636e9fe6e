//! The verdicts: every p-value of the run corrected together (Holm), each criterion decided from
//! its test and interval, then each model's verdict and the run's.

use super::*;

/// Applies Holm's correction across every test of every model, decides each criterion at its
/// model's own significance level, and derives the verdicts. `missing` says what a model
/// without a baseline gets; `significance` is the level the file reports.
pub fn finalize(
    mut models: Vec<ModelComparison>,
    significance: f64,
    missing: MissingBaseline,
    created_at: String,
) -> Comparison {
    let raw: Vec<f64> = models
        .iter()
        .flat_map(|m| m.tests.iter().map(|t| t.p_value))
        .collect();
    // Our tests only produce p-values in [0, 1]; should one ever not be, count nothing as
    // significant rather than trust an uncorrected value.
    let adjusted = stats::holm(&raw).unwrap_or_else(|| vec![1.0; raw.len()]);
    let mut next = adjusted.into_iter();
    for model in &mut models {
        for test in &mut model.tests {
            test.adjusted_p = next.next();
            test.decision = match test.adjusted_p {
                Some(p) if p < model.significance => Decision::Significant,
                Some(_) => Decision::NotSignificant,
                None => Decision::NotComputed,
            };
        }
        decide_model(model, missing);
    }
    let verdict = overall(&models);
    Comparison {
        schema_version: COMPARISON_SCHEMA_VERSION,
        created_at,
        verdict,
        significance,
        models,
    }
}

pub(super) fn overall(models: &[ModelComparison]) -> Verdict {
    let any = |v: Verdict| models.iter().any(|m| m.verdict == v);
    if any(Verdict::Error) {
        Verdict::Error
    } else if any(Verdict::Fail) {
        Verdict::Fail
    } else if !models.is_empty() && models.iter().all(|m| m.verdict == Verdict::New) {
        Verdict::New
    } else {
        Verdict::Pass
    }
}

/// What the verdict of a model without an approved baseline is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MissingBaseline {
    /// A failure: nothing vouches for the model's predictions.
    #[default]
    Fails,
    /// "new" (`--allow-new`): the first pull request of a model passes.
    IsNew,
}

pub(super) fn decide_model(model: &mut ModelComparison, missing: MissingBaseline) {
    let significance = model.significance;
    if model.error.is_some() {
        model.verdict = Verdict::Error;
        return;
    }
    let tests = model.tests.clone();
    for criterion in &mut model.criteria {
        if matches!(criterion.status, Status::Skipped | Status::Unresolved) {
            continue;
        }
        let adjusted = criterion
            .test
            .and_then(|i| tests.get(i))
            .and_then(|t| t.adjusted_p);
        criterion.status = decide(criterion, adjusted, significance);
    }
    let blocks_unsettled = model.inconclusive == Inconclusive::Fail;
    let mut reasons: Vec<String> = model
        .criteria
        .iter()
        .filter(|c| {
            c.status == Status::Fail
                || (blocks_unsettled
                    && c.status == Status::Inconclusive
                    && matches!(c.rule, Rule::RatioAtMost { .. }))
        })
        .map(|c| match c.status {
            Status::Fail => format!("{}: {}", c.name, c.detail),
            _ => format!(
                "{}: not settled, and this model's `inconclusive = \"fail\"` blocks on it: {}",
                c.name, c.detail
            ),
        })
        .collect();
    // Quality is judged only against an approved baseline, so without one nothing vouches for
    // the model's predictions, whatever its latency did.
    let missing_baseline = model.baseline_path.is_none();
    model.verdict = if !reasons.is_empty() {
        Verdict::Fail
    } else if missing_baseline && missing == MissingBaseline::IsNew {
        reasons.push("no baseline yet: approve one with `modelgate baseline approve`".into());
        Verdict::New
    } else if missing_baseline {
        reasons.push(
            "no baseline to compare against: approve one (`modelgate baseline approve`, or the \
             approve workflow in docs/action.md), or accept new models with --allow-new (the \
             action's `allow-new: true` input)"
                .into(),
        );
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    model.reasons = reasons;
}

/// The decision rule of one criterion, given the Holm-adjusted p-value of its test.
pub fn decide(criterion: &Criterion, adjusted_p: Option<f64>, significance: f64) -> Status {
    let significant = adjusted_p.is_some_and(|p| p < significance);
    match &criterion.rule {
        Rule::RatioAtMost { tolerance_pct } => {
            let limit = 1.0 + tolerance_pct / 100.0;
            match criterion.ci {
                Some(ci) if ci.upper <= limit => Status::Pass,
                Some(ci) if ci.lower > limit && significant => Status::Fail,
                // Too few runs for an interval: measured but unsettled, as documented.
                Some(_) | None => Status::Inconclusive,
            }
        }
        Rule::DropAtMost { limit_pts } => match criterion.change {
            Some(change) if -change > *limit_pts + 1e-9 => Status::Fail,
            Some(_) => Status::Pass,
            None => Status::Skipped,
        },
        Rule::LowerBoundAtLeast { floor } => match criterion.ci {
            Some(ci) if ci.lower >= *floor => Status::Pass,
            Some(_) => Status::Fail,
            None => Status::Skipped,
        },
        Rule::AtMost { limit } => match criterion.candidate {
            Some(v) if v <= *limit => Status::Pass,
            Some(_) => Status::Fail,
            None => Status::Skipped,
        },
        Rule::AtLeast { floor } | Rule::RecallAtLeast { floor } => match criterion.candidate {
            Some(v) if v >= *floor => Status::Pass,
            Some(_) => Status::Fail,
            None => Status::Skipped,
        },
        Rule::Identical | Rule::Required => match criterion.candidate {
            Some(v) if v >= 1.0 => Status::Pass,
            Some(_) => Status::Fail,
            None => Status::Skipped,
        },
    }
}
