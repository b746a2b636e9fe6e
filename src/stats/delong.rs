//! DeLong's test for two correlated ROC AUCs: the same samples scored by two models.
//!
//! A change can keep every thresholded prediction and still rank cases worse, which AUROC sees
//! and accuracy does not. Both models score the same samples, so their AUCs are correlated and
//! must be compared with a paired test: DeLong, DeLong and Clarke-Pearson (1988, Biometrics
//! 44:837) estimate the covariance of the two AUCs from each sample's placement values; the fast
//! algorithm of Sun and Xu (2014, IEEE Signal Processing Letters 21:1389) gets those from
//! midranks in O(N log N) instead of O(m n). The reference values in the tests come from
//! `tests/ref/delong.py`, the O(m n) formulas in numpy, with AUCs checked against scikit-learn.

use super::dist::{normal_quantile, normal_sf};
use super::interval::Interval;

/// DeLong's paired comparison of two AUCs; `a` is the baseline, `b` the candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DelongResult {
    pub auc_a: f64,
    pub auc_b: f64,
    /// Estimated variance of each AUC, and their covariance.
    pub var_a: f64,
    pub var_b: f64,
    pub covariance: f64,
    /// `(auc_b - auc_a) / sd(auc_b - auc_a)`.
    pub z: f64,
    /// Two-sided p-value from the standard normal.
    pub p_value: f64,
}

impl DelongResult {
    /// The normal interval of `auc_b - auc_a` at `confidence`: the difference plus or minus
    /// the standard normal quantile times its standard deviation. `None` when `confidence` is
    /// outside (0, 1).
    pub fn difference_interval(&self, confidence: f64) -> Option<Interval> {
        let z = normal_quantile(1.0 - (1.0 - confidence) / 2.0)?;
        let sd = (self.var_a + self.var_b - 2.0 * self.covariance)
            .max(0.0)
            .sqrt();
        let diff = self.auc_b - self.auc_a;
        Some(Interval {
            lower: diff - z * sd,
            upper: diff + z * sd,
            confidence,
        })
    }
}

/// DeLong's test of `auc(b) - auc(a)` for scores of the same samples, `positives` marking the
/// samples of the class scored. `None` when the lengths differ, a score is not finite, there
/// are fewer than two positives or two negatives (the covariance needs two of each), or the
/// difference has no variance (identical rankings: there is nothing to test).
pub fn delong_paired(a: &[f64], b: &[f64], positives: &[bool]) -> Option<DelongResult> {
    if a.len() != positives.len() || b.len() != positives.len() {
        return None;
    }
    if a.iter().chain(b).any(|s| !s.is_finite()) {
        return None;
    }
    let m = positives.iter().filter(|p| **p).count();
    let n = positives.len() - m;
    if m < 2 || n < 2 {
        return None;
    }
    let (auc_a, v10_a, v01_a) = placements(a, positives, m, n);
    let (auc_b, v10_b, v01_b) = placements(b, positives, m, n);
    let s10 = covariance2(&v10_a, &v10_b);
    let s01 = covariance2(&v01_a, &v01_b);
    let var_a = s10[0] / m as f64 + s01[0] / n as f64;
    let var_b = s10[1] / m as f64 + s01[1] / n as f64;
    let covariance = s10[2] / m as f64 + s01[2] / n as f64;
    let var_diff = var_a + var_b - 2.0 * covariance;
    if var_diff.is_nan() || var_diff <= 1e-300 {
        return None;
    }
    let z = (auc_b - auc_a) / var_diff.sqrt();
    Some(DelongResult {
        auc_a,
        auc_b,
        var_a,
        var_b,
        covariance,
        z,
        p_value: (2.0 * normal_sf(z.abs())?).min(1.0),
    })
}

/// AUC and the placement values of one model (Sun and Xu's algorithm): `V10` per positive, the
/// fraction of negatives it outscores; `V01` per negative, the fraction of positives that
/// outscore it; ties count one half.
fn placements(scores: &[f64], positives: &[bool], m: usize, n: usize) -> (f64, Vec<f64>, Vec<f64>) {
    let pos: Vec<f64> = scores
        .iter()
        .zip(positives)
        .filter(|(_, p)| **p)
        .map(|(s, _)| *s)
        .collect();
    let neg: Vec<f64> = scores
        .iter()
        .zip(positives)
        .filter(|(_, p)| !**p)
        .map(|(s, _)| *s)
        .collect();
    let all: Vec<f64> = pos.iter().chain(&neg).copied().collect();
    let (tx, ty, tz) = (midranks(&pos), midranks(&neg), midranks(&all));
    let (mf, nf) = (m as f64, n as f64);
    let v10: Vec<f64> = (0..m).map(|i| (tz[i] - tx[i]) / nf).collect();
    let v01: Vec<f64> = (0..n).map(|j| 1.0 - (tz[m + j] - ty[j]) / mf).collect();
    let auc = (tz[..m].iter().sum::<f64>() - mf * (mf + 1.0) / 2.0) / (mf * nf);
    (auc, v10, v01)
}

/// 1-based ranks, tied values sharing the mean rank of their group.
fn midranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let mean = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = mean;
        }
        start = end;
    }
    ranks
}

/// Sample variances (ddof 1) of `x` and `y` and their covariance: `[var x, var y, cov]`.
fn covariance2(x: &[f64], y: &[f64]) -> [f64; 3] {
    let k = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / k, y.iter().sum::<f64>() / k);
    let mut out = [0.0; 3];
    for (a, b) in x.iter().zip(y) {
        out[0] += (a - mx) * (a - mx);
        out[1] += (b - my) * (b - my);
        out[2] += (a - mx) * (b - my);
    }
    out.map(|v| v / (k - 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_formulas_in_numpy_and_scikit_learn_aucs() {
        let y = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1].map(|v| v == 1);
        let a = [
            0.9, 0.8, 0.7, 0.4, 0.6, 0.3, 0.2, 0.5, 0.1, 0.6, 0.35, 0.55, 0.45, 0.65,
        ];
        let b = [
            0.7, 0.9, 0.4, 0.3, 0.5, 0.4, 0.1, 0.6, 0.2, 0.5, 0.3, 0.35, 0.45, 0.6,
        ];
        // python tests/ref/delong.py   (numpy 2.4, scipy 1.17, scikit-learn 1.9) ->
        let want = [
            0.9081632653061223,
            0.7142857142857143,
            0.006177981396640289,
            0.020894071914480075,
            0.008017492711370264,
            -1.8454431384788015,
            0.06497310279379157,
        ];
        let r = delong_paired(&a, &b, &y).unwrap();
        let got = [
            r.auc_a,
            r.auc_b,
            r.var_a,
            r.var_b,
            r.covariance,
            r.z,
            r.p_value,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() < 1e-9 * w.abs().max(1.0),
                "{got:?} vs {want:?}"
            );
        }
        // Swapping the models flips the sign and keeps the p-value.
        let r2 = delong_paired(&b, &a, &y).unwrap();
        assert!((r2.z + r.z).abs() < 1e-12 && (r2.p_value - r.p_value).abs() < 1e-12);
    }

    #[test]
    fn degenerate_input_has_no_test() {
        let y = [true, true, false, false];
        let s = [0.9, 0.8, 0.2, 0.1];
        assert_eq!(delong_paired(&s, &s, &y), None, "identical rankings");
        assert_eq!(delong_paired(&s, &s, &[true, false, false, false]), None);
        assert_eq!(delong_paired(&s, &s[..3], &y), None);
        assert_eq!(delong_paired(&[f64::NAN, 0.8, 0.2, 0.1], &s, &y), None);
    }
}
