//! What the test set's size allows, said before anything is measured: a floor on a Wilson lower
//! bound that no result can meet with this many samples, and a drop limit smaller than one
//! sample's worth (so a single changed prediction fails), each with the number of samples (or
//! positives) that would make the criterion mean what it says.

use crate::files::config::Criteria;
use crate::stats;

/// The labels of a test set, counted: per class, and per subgroup (slice) value.
#[derive(Debug, Clone, Default)]
pub struct LabelCounts {
    pub classes: Vec<String>,
    /// Samples of each class, in `classes` order.
    pub per_class: Vec<u64>,
    /// The guarded (positive) class, if any.
    pub positive: Option<usize>,
    /// `column=value` of each subgroup, with its samples and its positives.
    pub slices: Vec<(String, u64, u64)>,
}

impl LabelCounts {
    fn total(&self) -> u64 {
        self.per_class.iter().sum()
    }

    fn positives(&self) -> Option<(&str, u64)> {
        let i = self.positive?;
        Some((self.classes.get(i)?.as_str(), *self.per_class.get(i)?))
    }
}

/// What the test set's size means for one criterion.
#[derive(Debug, Clone, PartialEq)]
pub struct Advice {
    /// True when the criterion cannot pass at this size, whatever the model does.
    pub unmeetable: bool,
    pub line: String,
}

/// One line per criterion the test set's size makes impossible or all-or-nothing.
pub fn advice(criteria: &Criteria, counts: &LabelCounts) -> Vec<Advice> {
    let mut lines = Vec::new();
    let total = counts.total();
    if total == 0 {
        return lines;
    }
    if let Some((name, positives)) = counts.positives() {
        if let Some(floor) = criteria.min_recall {
            lines.extend(floor_line(
                "min_recall",
                floor,
                positives,
                &format!("positives (`{name}`)"),
            ));
        }
        lines.extend(drop_line(
            "max_recall_drop_pts",
            criteria.max_recall_drop_pts,
            positives,
            &format!("positives (`{name}`)"),
        ));
        for (slice, _, slice_positives) in &counts.slices {
            // Only subgroups big enough to be judged are judged (see `min_slice_size`).
            if *slice_positives < criteria.min_slice_size as u64 {
                continue;
            }
            if let Some(floor) = criteria.slice_min_recall {
                lines.extend(floor_line(
                    &format!("slice_min_recall ({slice})"),
                    floor,
                    *slice_positives,
                    "positives",
                ));
            }
            if let Some(limit) = criteria.slice_max_recall_drop_pts {
                lines.extend(drop_line(
                    &format!("slice_max_recall_drop_pts ({slice})"),
                    limit,
                    *slice_positives,
                    "positives",
                ));
            }
        }
    }
    if let Some(floor) = criteria.min_class_recall {
        for (name, n) in counts.classes.iter().zip(&counts.per_class) {
            lines.extend(floor_line(
                &format!("min_class_recall (`{name}`)"),
                floor,
                *n,
                "samples",
            ));
        }
    }
    lines.extend(drop_line(
        "max_accuracy_drop_pts",
        criteria.max_accuracy_drop_pts,
        total,
        "samples",
    ));
    lines
}

/// A floor on a Wilson 95 % lower bound that `n` trials cannot reach even all right.
fn floor_line(key: &str, floor: f64, n: u64, what: &str) -> Option<Advice> {
    let needed = stats::wilson_min_trials(floor, 0.95)?;
    if n >= needed {
        return None;
    }
    let best = stats::wilson_interval(n, n, 0.95).map_or(0.0, |w| w.lower);
    Some(Advice {
        unmeetable: true,
        line: format!(
            "{key} = {floor} cannot be met with {n} {what}: even {n} of {n} right has a Wilson \
             95 % lower bound of {:.2} %; it needs at least {needed} {what}, or a floor of at \
             most {:.3}",
            best * 100.0,
            (best * 1000.0).floor() / 1000.0
        ),
    })
}

/// A drop limit below one of `n` samples: any one changed prediction fails.
fn drop_line(key: &str, limit_pts: f64, n: u64, what: &str) -> Option<Advice> {
    if n == 0 {
        return None;
    }
    let one = 100.0 / n as f64;
    if limit_pts >= one {
        return None;
    }
    // The samples at which one of them is worth no more than the limit.
    let needed = (100.0 / limit_pts.max(1e-9)).ceil();
    let needed = if needed.is_finite() && needed < 1e12 {
        format!("{needed:.0}")
    } else {
        "more".into()
    };
    Some(Advice {
        unmeetable: false,
        line: format!(
            "{key} = {limit_pts} is under one of {n} {what} ({one:.2} points), so losing any one \
             fails; a limit that small needs at least {needed} {what} to mean more, or set it to \
             {one:.2} to allow one"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(per_class: &[u64]) -> LabelCounts {
        LabelCounts {
            classes: vec!["negative".into(), "positive".into()],
            per_class: per_class.to_vec(),
            positive: Some(1),
            slices: Vec::new(),
        }
    }

    fn criteria() -> Criteria {
        Criteria {
            max_accuracy_drop_pts: 1.0,
            max_recall_drop_pts: 5.0,
            ..Criteria::default()
        }
    }

    #[test]
    fn a_recall_floor_out_of_reach_says_how_many_positives_it_needs() {
        // Wilson 95 % at 20/20: lower bound 0.8389 (statsmodels 0.15:
        // proportion_confint(20, 20, method="wilson")); 0.85 first holds at 22/22 (0.8512).
        let c = Criteria {
            min_recall: Some(0.85),
            ..criteria()
        };
        let lines = advice(&c, &counts(&[200, 20]));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].unmeetable);
        let line = &lines[0].line;
        assert!(
            line.starts_with("min_recall = 0.85 cannot be met with 20 positives (`positive`)"),
            "{line}"
        );
        assert!(line.contains("83.89 %"), "{line}");
        assert!(line.contains("at least 22 positives"), "{line}");
        assert!(advice(&c, &counts(&[200, 22])).is_empty());
    }

    #[test]
    fn a_drop_limit_under_one_sample_says_so() {
        let c = Criteria {
            max_recall_drop_pts: 0.5,
            ..criteria()
        };
        // 109 positives: one is 0.92 points, over the 0.5 limit; 200 positives would do.
        let lines = advice(&c, &counts(&[251, 109]));
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0].line;
        assert!(!lines[0].unmeetable, "no loss at all still passes");
        assert!(
            line.contains("under one of 109 positives (`positive`) (0.92 points)"),
            "{line}"
        );
        assert!(line.contains("at least 200 positives"), "{line}");
        // 360 samples: one is 0.28 points, under the 1-point accuracy limit: nothing to say.
        assert!(line.starts_with("max_recall_drop_pts"), "{line}");
    }

    #[test]
    fn only_judged_slices_are_checked() {
        let c = Criteria {
            min_slice_size: 20,
            slice_min_recall: Some(0.90),
            slice_max_recall_drop_pts: Some(5.0),
            ..criteria()
        };
        let mut counts = counts(&[251, 109]);
        counts.slices = vec![
            ("site=a".into(), 150, 46),
            ("site=c".into(), 70, 26),
            ("site=d".into(), 10, 3),
        ];
        let lines = advice(&c, &counts);
        // site a: 46/46 gives 0.923 > 0.90, one positive 2.17 points < 5; site c: 26/26 gives
        // 0.871 < 0.90 and one positive is 3.85 points < 5; site d is too small to be judged.
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0]
                .line
                .starts_with("slice_min_recall (site=c) = 0.9 cannot be met with 26"),
            "{lines:?}"
        );
    }

    #[test]
    fn a_set_with_no_samples_or_no_positive_class_is_quiet_about_recall() {
        assert!(advice(&criteria(), &LabelCounts::default()).is_empty());
        let mut c = counts(&[100, 100]);
        c.positive = None;
        let crit = Criteria {
            min_recall: Some(0.99),
            ..criteria()
        };
        assert!(advice(&crit, &c).is_empty());
    }
}
