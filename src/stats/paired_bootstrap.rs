//! A paired bootstrap for the difference of two ratios whose denominators differ between the
//! models, such as precision (true positives over *predicted* positives).
//!
//! McNemar's test fits recall and specificity, whose denominators (the actual positives or
//! negatives) are the same samples for both models. Precision's denominator is each model's own
//! predicted positives, so no pairing of outcomes applies; resampling whole samples keeps the
//! pairing instead (Efron and Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 13 and
//! 16). The interval is the percentile interval; the two-sided p-value is the bootstrap's
//! `min(1, 2 min(#{d* <= 0} + 1, #{d* >= 0} + 1) / (B + 1))`, the smallest level at which the
//! percentile interval would exclude 0. Resampling is seeded, so a report can be regenerated.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::describe::percentile;
use super::dist::in_open_unit;
use super::interval::Interval;

/// One sample's contribution to each model's ratio: whether it counts in the numerator and in
/// the denominator (a numerator sample must count in the denominator too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatioPair {
    pub a_num: bool,
    pub a_den: bool,
    pub b_num: bool,
    pub b_den: bool,
}

/// The observed difference `ratio_b - ratio_a`, its interval and p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatioDifference {
    pub ratio_a: f64,
    pub ratio_b: f64,
    pub ci: Interval,
    pub p_value: f64,
    /// Resamples in which a denominator was 0 were drawn again; this counts the kept ones.
    pub resamples: usize,
}

/// Ratio `b - a` over all samples with a percentile interval at `confidence` from `resamples`
/// resamples of the samples. `None` when either observed denominator is 0, `confidence` is
/// outside (0, 1), fewer than 100 resamples are asked for, or too many resamples (more than
/// half) have an empty denominator for the interval to mean anything.
pub fn paired_bootstrap_ratio_difference(
    pairs: &[RatioPair],
    confidence: f64,
    resamples: usize,
    seed: u64,
) -> Option<RatioDifference> {
    let d = paired_bootstrap_difference(
        pairs.len(),
        |drawn| ratios(drawn.iter().map(|&i| &pairs[i])),
        confidence,
        resamples,
        seed,
    )?;
    Some(RatioDifference {
        ratio_a: d.a,
        ratio_b: d.b,
        ci: d.ci,
        p_value: d.p_value,
        resamples: d.resamples,
    })
}

/// A statistic of two models on the same samples, its difference `b - a`, and the difference's
/// bootstrap interval and p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedDifference {
    pub a: f64,
    pub b: f64,
    pub ci: Interval,
    pub p_value: f64,
    /// Resamples kept (those where `statistic` was undefined were drawn again).
    pub resamples: usize,
}

/// The paired bootstrap of any statistic of two models scored on the same `n` samples:
/// `statistic(indices)` gives (model a's value, model b's value) over those samples (with
/// repeats), or None where undefined. Each resample draws `n` indices with replacement, so
/// every sample's two outcomes stay together. Percentile interval at `confidence` and the
/// p-value described in the module doc. `None` as for [`paired_bootstrap_ratio_difference`].
pub fn paired_bootstrap_difference(
    n: usize,
    statistic: impl Fn(&[usize]) -> Option<(f64, f64)>,
    confidence: f64,
    resamples: usize,
    seed: u64,
) -> Option<PairedDifference> {
    if !in_open_unit(confidence) || resamples < 100 || n == 0 {
        return None;
    }
    let all: Vec<usize> = (0..n).collect();
    let observed = statistic(&all)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut diffs = Vec::with_capacity(resamples);
    let mut drawn = vec![0; n];
    let mut draws = 0;
    while diffs.len() < resamples && draws < resamples * 2 {
        draws += 1;
        for slot in &mut drawn {
            *slot = rng.random_range(0..n);
        }
        if let Some((a, b)) = statistic(&drawn) {
            diffs.push(b - a);
        }
    }
    if diffs.len() < resamples {
        return None;
    }
    let below = diffs.iter().filter(|d| **d <= 0.0).count();
    let above = diffs.iter().filter(|d| **d >= 0.0).count();
    let p_value = (2.0 * (below.min(above) + 1) as f64 / (resamples + 1) as f64).min(1.0);
    diffs.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    Some(PairedDifference {
        a: observed.0,
        b: observed.1,
        ci: Interval {
            lower: percentile(&diffs, tail)?,
            upper: percentile(&diffs, 1.0 - tail)?,
            confidence,
        },
        p_value,
        resamples,
    })
}

fn ratios<'a>(pairs: impl Iterator<Item = &'a RatioPair>) -> Option<(f64, f64)> {
    let mut counts = [0u64; 4];
    for p in pairs {
        counts[0] += u64::from(p.a_num && p.a_den);
        counts[1] += u64::from(p.a_den);
        counts[2] += u64::from(p.b_num && p.b_den);
        counts[3] += u64::from(p.b_den);
    }
    if counts[1] == 0 || counts[3] == 0 {
        return None;
    }
    Some((
        counts[0] as f64 / counts[1] as f64,
        counts[2] as f64 / counts[3] as f64,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(a: (bool, bool), b: (bool, bool)) -> RatioPair {
        RatioPair {
            a_num: a.0,
            a_den: a.1,
            b_num: b.0,
            b_den: b.1,
        }
    }

    #[test]
    fn observed_ratios_are_exact_and_a_clear_drop_is_significant() {
        // Baseline: 40 predicted positives, 38 right (precision 0.95). Candidate: the same 40
        // plus 40 false alarms (precision 0.475).
        let mut pairs = vec![pair((true, true), (true, true)); 38];
        pairs.extend(vec![pair((false, true), (false, true)); 2]);
        pairs.extend(vec![pair((false, false), (false, true)); 40]);
        pairs.extend(vec![pair((false, false), (false, false)); 120]);
        let r = paired_bootstrap_ratio_difference(&pairs, 0.95, 2000, 7).unwrap();
        assert!((r.ratio_a - 0.95).abs() < 1e-12 && (r.ratio_b - 0.475).abs() < 1e-12);
        assert!(r.ci.upper < 0.0 && r.ci.lower < -0.3, "{r:?}");
        assert!(r.p_value < 0.01, "{r:?}");
        assert_eq!(
            paired_bootstrap_ratio_difference(&pairs, 0.95, 2000, 7),
            Some(r),
            "seeded"
        );
        // The same predictions: every resampled difference is 0, so p = 1.
        let same: Vec<RatioPair> = pairs
            .iter()
            .map(|p| pair((p.a_num, p.a_den), (p.a_num, p.a_den)))
            .collect();
        let r = paired_bootstrap_ratio_difference(&same, 0.95, 500, 7).unwrap();
        assert_eq!((r.ci.lower, r.ci.upper, r.p_value), (0.0, 0.0, 1.0));
    }

    #[test]
    fn degenerate_input_gives_none() {
        let none = vec![pair((false, false), (true, true)); 10];
        assert_eq!(paired_bootstrap_ratio_difference(&none, 0.95, 500, 1), None);
        assert_eq!(paired_bootstrap_ratio_difference(&[], 0.95, 500, 1), None);
        let ok = vec![pair((true, true), (true, true)); 10];
        assert_eq!(paired_bootstrap_ratio_difference(&ok, 1.5, 500, 1), None);
        assert_eq!(paired_bootstrap_ratio_difference(&ok, 0.95, 10, 1), None);
    }
}
