//! Correcting p-values when one pull request is judged by many tests.
//!
//! A gate that checks latency at p50, p95 and p99 on several models, plus
//! accuracy, runs many tests at once; at a 5 % level each, one of twenty
//! would fail by chance alone. Holm's step-down method keeps the chance of
//! any false alarm at the stated level without assuming the tests are
//! independent, and never rejects less than Bonferroni does.

/// Holm-adjusted p-values, in the order given:
/// `statsmodels.stats.multitest.multipletests(p, method='holm')[1]`.
///
/// With the m p-values sorted ascending, the i-th smallest (1-based) gets
/// `max over j <= i of min(1, (m - j + 1) * p_(j))`, so adjusted values are
/// monotone in the raw ones and never exceed 1. Compare them against the
/// family-wise level directly. Ties get equal adjusted values.
///
/// `Some(vec![])` for no p-values; `None` when any value is NaN or outside
/// [0, 1].
pub fn holm(p_values: &[f64]) -> Option<Vec<f64>> {
    if p_values.iter().any(|p| !(0.0..=1.0).contains(p)) {
        return None;
    }
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p_values[i].total_cmp(&p_values[j]));
    let mut adjusted = vec![0.0; m];
    let mut running_max: f64 = 0.0;
    for (rank, &index) in order.iter().enumerate() {
        running_max = running_max.max(p_values[index] * (m - rank) as f64);
        adjusted[index] = running_max.min(1.0);
    }
    Some(adjusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_statsmodels_holm() {
        // python -c "from statsmodels.stats.multitest import multipletests; \
        //   print(multipletests(P, method='holm')[1])"
        let cases: &[(&[f64], &[f64])] = &[
            (&[0.01, 0.04, 0.03, 0.005], &[0.03, 0.06, 0.06, 0.02]),
            (&[0.5], &[0.5]),
            (&[0.01, 0.01, 0.01], &[0.03, 0.03, 0.03]),
            (&[0.04, 0.01, 0.2, 0.03, 0.9], &[0.12, 0.05, 0.4, 0.12, 0.9]),
            (&[1.0, 0.0], &[1.0, 0.0]),
            (
                &[0.3, 0.2, 0.25],
                &[0.6000000000000001, 0.6000000000000001, 0.6000000000000001],
            ),
            (&[1e-10, 0.02, 0.019], &[3e-10, 0.038, 0.038]),
            (&[], &[]),
        ];
        for &(raw, expected) in cases {
            let got = holm(raw).unwrap();
            assert_eq!(got.len(), expected.len());
            for (g, e) in got.iter().zip(expected) {
                assert!((g - e).abs() <= 1e-15, "{raw:?}: {got:?} vs {expected:?}");
            }
        }
    }

    #[test]
    fn rejects_values_that_are_not_probabilities() {
        for bad in [
            &[0.1, f64::NAN][..],
            &[1.5],
            &[-0.01, 0.2],
            &[f64::INFINITY],
        ] {
            assert_eq!(holm(bad), None, "{bad:?}");
        }
    }
}
