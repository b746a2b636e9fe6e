//! Metrics per subgroup: for every value of every slice column, the sample count, accuracy and
//! the guarded recall, each proportion with its Wilson 95 % interval.
//!
//! Overall numbers can hide a subgroup that got worse (one hospital site, one scanner), so eval
//! reports each subgroup on its own. Only proportions get intervals: macro recall is a mean of
//! proportions over different denominators, not a binomial proportion, so it has none.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{wilson_interval, Interval};

/// The metrics of one subgroup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SliceMetrics {
    /// The slice column, e.g. `site`.
    pub column: String,
    /// The subgroup's value in it, e.g. `north`.
    pub value: String,
    /// Samples in the subgroup.
    pub n: usize,
    /// Fraction predicted correctly.
    pub accuracy: f64,
    /// Wilson 95 % interval on the accuracy.
    pub accuracy_ci95: Option<Interval>,
    /// Samples of the positive class in the subgroup, when a positive class is guarded.
    pub positive_support: Option<usize>,
    /// Recall of the positive class; `None` without a positive class or positive samples.
    pub positive_recall: Option<f64>,
    /// Wilson 95 % interval on that recall.
    pub positive_recall_ci95: Option<Interval>,
    /// Unweighted mean recall over the classes present in the subgroup (a class absent from a
    /// subgroup has no recall there, so it is left out rather than counted as 0).
    pub macro_recall: f64,
}

/// Metrics of every subgroup: `slices[i]` holds sample `i`'s values. Subgroups come sorted by
/// column, then by value. Labels and predictions at or beyond `classes` are ignored (metrics
/// validate them before this is called).
pub fn slice_metrics(
    labels: &[usize],
    preds: &[usize],
    slices: &[&BTreeMap<String, String>],
    classes: usize,
    positive: Option<usize>,
) -> Vec<SliceMetrics> {
    let columns: BTreeSet<&String> = slices.iter().flat_map(|m| m.keys()).collect();
    let mut out = Vec::new();
    for column in columns {
        let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, values) in slices.iter().enumerate() {
            if let Some(v) = values.get(column) {
                groups.entry(v.as_str()).or_default().push(i);
            }
        }
        for (value, members) in groups {
            let pairs: Vec<(usize, usize)> = members
                .iter()
                .filter_map(|&i| Some((*labels.get(i)?, *preds.get(i)?)))
                .filter(|(l, p)| *l < classes && *p < classes)
                .collect();
            out.push(one(column, value, &pairs, classes, positive));
        }
    }
    out
}

fn one(
    column: &str,
    value: &str,
    pairs: &[(usize, usize)],
    classes: usize,
    positive: Option<usize>,
) -> SliceMetrics {
    let n = pairs.len();
    let correct = pairs.iter().filter(|(l, p)| l == p).count();
    let recall_of = |c: usize| {
        let support = pairs.iter().filter(|(l, _)| *l == c).count();
        let hits = pairs.iter().filter(|(l, p)| *l == c && *p == c).count();
        (hits, support)
    };
    let present: Vec<(usize, usize)> = (0..classes)
        .map(recall_of)
        .filter(|(_, support)| *support > 0)
        .collect();
    let macro_recall = if present.is_empty() {
        0.0
    } else {
        present
            .iter()
            .map(|(h, s)| *h as f64 / *s as f64)
            .sum::<f64>()
            / present.len() as f64
    };
    let positive = positive.map(recall_of);
    SliceMetrics {
        column: column.to_string(),
        value: value.to_string(),
        n,
        accuracy: if n == 0 {
            0.0
        } else {
            correct as f64 / n as f64
        },
        accuracy_ci95: wilson_interval(correct, n),
        positive_support: positive.map(|(_, s)| s),
        positive_recall: positive
            .filter(|(_, s)| *s > 0)
            .map(|(h, s)| h as f64 / s as f64),
        positive_recall_ci95: positive.and_then(|(h, s)| wilson_interval(h, s)),
        macro_recall,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(site: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("site".to_string(), site.to_string())])
    }

    #[test]
    fn each_subgroup_gets_wilson_intervals_that_match_statsmodels() {
        // Site "a": 20 samples, 17 correct; 12 positives, 9 found. Site "b": 5 samples, all right.
        let mut labels = vec![];
        let mut preds = vec![];
        let mut sites = vec![];
        for i in 0..12 {
            labels.push(1);
            preds.push(usize::from(i < 9));
            sites.push(map("a"));
        }
        for _ in 0..8 {
            labels.push(0);
            preds.push(0);
            sites.push(map("a"));
        }
        for _ in 0..5 {
            labels.push(0);
            preds.push(0);
            sites.push(map("b"));
        }
        let refs: Vec<&BTreeMap<String, String>> = sites.iter().collect();
        let out = slice_metrics(&labels, &preds, &refs, 2, Some(1));
        assert_eq!(out.len(), 2);
        let a = &out[0];
        assert_eq!(
            (a.value.as_str(), a.n, a.positive_support),
            ("a", 20, Some(12))
        );
        assert!((a.accuracy - 17.0 / 20.0).abs() < 1e-12);
        assert!((a.positive_recall.unwrap() - 0.75).abs() < 1e-12);
        assert!((a.macro_recall - (0.75 + 1.0) / 2.0).abs() < 1e-12);
        // python -c "from statsmodels.stats.proportion import proportion_confint as p
        // print(p(17,20,method='wilson'), p(9,12,method='wilson'))"
        // -> (0.639581135259, 0.947631254104) (0.467694665066, 0.911058331606)   (statsmodels 0.15)
        let acc = a.accuracy_ci95.unwrap();
        assert!((acc.lower - 0.639581135259).abs() < 1e-8, "{acc:?}");
        assert!((acc.upper - 0.947631254104).abs() < 1e-8, "{acc:?}");
        let rec = a.positive_recall_ci95.unwrap();
        assert!((rec.lower - 0.467694665066).abs() < 1e-8, "{rec:?}");
        assert!((rec.upper - 0.911058331606).abs() < 1e-8, "{rec:?}");
        let b = &out[1];
        assert_eq!(
            (b.n, b.positive_support, b.positive_recall),
            (5, Some(0), None)
        );
        assert!(b.positive_recall_ci95.is_none());
        assert!(slice_metrics(&labels, &preds, &[], 2, Some(1)).is_empty());
    }
}
