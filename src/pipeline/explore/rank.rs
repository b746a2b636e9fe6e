//! Ranking the variants: the constraints each misses, the composite score, the best per
//! dimension among those meeting every constraint (or a tie), and the Pareto front.

use super::*;

pub(super) fn missed(row: &VariantRow, c: &Constraints) -> Vec<String> {
    let mut out = Vec::new();
    let mut above = |name: &str, value: Option<f64>, limit: Option<f64>| {
        if let (Some(v), Some(l)) = (value, limit) {
            if v > l {
                out.push(format!("{name} {v:.4} > {l}"));
            }
        }
    };
    above("latency_p95_ms", Some(row.latency_p95_ms), c.latency_p95_ms);
    above("memory_max_mb", Some(row.peak_memory_mb), c.memory_max_mb);
    above(
        "energy_budget_mj",
        row.energy_mj_per_inference,
        c.energy_budget_mj,
    );
    let mut below = |name: &str, value: Option<f64>, limit: Option<f64>| {
        if let Some(l) = limit {
            match value {
                Some(v) if v >= l => {}
                Some(v) => out.push(format!("{name} {v:.4} < {l}")),
                None => out.push(format!("{name}: not measured (needs a dataset)")),
            }
        }
    };
    below("accuracy_min", row.accuracy, c.accuracy_min);
    below("recall_min", row.recall, c.recall_min);
    below(
        "throughput_min",
        Some(row.throughput_samples_per_s),
        c.throughput_min,
    );
    out
}

/// A dimension of the composite score. Declared in alphabetical order, so a map keyed by it
/// is written in the same order as one keyed by its name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Accuracy,
    Energy,
    Latency,
    Memory,
}

impl Dimension {
    /// The name in `[explore.weights]` and the summary.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Accuracy => "accuracy",
            Dimension::Energy => "energy",
            Dimension::Latency => "latency",
            Dimension::Memory => "memory",
        }
    }

    /// The dimension's score for `row`, higher is better: accuracy as itself, latency (p95 ms),
    /// memory (peak MiB) and energy (mJ) as `1 / (1 + x)`; None when it was not measured.
    pub(super) fn score(self, row: &VariantRow) -> Option<f64> {
        let inv = |x: f64| 1.0 / (1.0 + x.max(0.0));
        match self {
            Dimension::Accuracy => row.accuracy,
            Dimension::Energy => row.energy_mj_per_inference.map(inv),
            Dimension::Latency => Some(inv(row.latency_p95_ms)),
            Dimension::Memory => Some(inv(row.peak_memory_mb)),
        }
    }
}

/// The weights the composite uses: a dimension some variant lacks (energy off a GPU, accuracy
/// without a dataset) is dropped and the rest renormalised to sum to 1.
pub(super) fn weights_used(
    w: &Weights,
    rows: &[VariantRow],
    notes: &mut Vec<String>,
) -> BTreeMap<Dimension, f64> {
    let mut used = BTreeMap::new();
    for (dimension, weight) in [
        (Dimension::Accuracy, w.accuracy),
        (Dimension::Latency, w.latency),
        (Dimension::Memory, w.memory),
        (Dimension::Energy, w.energy),
    ] {
        if rows.iter().all(|r| dimension.score(r).is_some()) {
            used.insert(dimension, weight);
        } else if weight > 0.0 {
            let name = dimension.name();
            notes.push(format!(
                "the composite leaves out {name} (weight {weight}), which is not measured for every variant; the other weights are scaled to sum to 1"
            ));
        }
    }
    let total: f64 = used.values().sum();
    if total > 0.0 {
        for v in used.values_mut() {
            *v /= total;
        }
    }
    used
}

/// `sum of weight x score` over the dimensions used (see [`Dimension::score`]).
pub fn composite(row: &VariantRow, weights: &BTreeMap<Dimension, f64>) -> f64 {
    weights
        .iter()
        .map(|(dimension, w)| w * dimension.score(row).unwrap_or(0.0))
        .sum()
}

/// The best variant per dimension among those meeting the constraints (on a tie of values the
/// earlier, the reference first), and the dimensions whose best is not told apart from the
/// reference, with the variants meeting the constraints that tie there. `rows[0]` is the
/// reference.
pub(super) fn best(
    rows: &[VariantRow],
    significance: f64,
    tolerance_pct: [f64; 2],
) -> (BTreeMap<String, String>, BTreeMap<String, Vec<String>>) {
    let ok: Vec<(usize, &VariantRow)> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.meets_constraints)
        .collect();
    let mut best = BTreeMap::new();
    let mut ties = BTreeMap::new();
    let mut pick =
        |dim: &str, key: &dyn Fn(&VariantRow) -> Option<f64>, higher: bool, test: Option<usize>| {
            let mut chosen: Option<(usize, &VariantRow, f64)> = None;
            for &(i, r) in &ok {
                if let Some(v) = key(r) {
                    let better = chosen.is_none_or(|(_, _, c)| if higher { v > c } else { v < c });
                    if better {
                        chosen = Some((i, r, v));
                    }
                }
            }
            let Some((at, r, _)) = chosen else {
                return;
            };
            // With a test against the reference: the variants it cannot tell from the reference.
            let tied_with_reference = |i: usize, row: &VariantRow| {
                test.is_some_and(|k| {
                    i == 0 || !row.differences()[k].counts(significance, tolerance_pct)
                })
            };
            if tied_with_reference(at, r) {
                // The variants that could be best: not told apart from the reference, and at
                // least as good as it where it qualifies (one worse is no candidate).
                let reference = ok
                    .iter()
                    .find(|(i, _)| *i == 0)
                    .and_then(|(_, row)| key(row));
                let could_be_best =
                    |v: f64| reference.is_none_or(|x| if higher { v >= x } else { v <= x });
                let mut tied: Vec<(usize, &VariantRow)> = ok
                    .iter()
                    .copied()
                    .filter(|&(i, row)| {
                        key(row).is_some_and(could_be_best) && tied_with_reference(i, row)
                    })
                    .collect();
                if tied.len() > 1 {
                    tied.sort_by(|a, b| {
                        let (x, y) = (key(a.1).unwrap_or(0.0), key(b.1).unwrap_or(0.0));
                        let order = if higher {
                            y.total_cmp(&x)
                        } else {
                            x.total_cmp(&y)
                        };
                        order.then(a.0.cmp(&b.0))
                    });
                    ties.insert(
                        dim.to_string(),
                        tied.iter().map(|(_, row)| row.name.clone()).collect(),
                    );
                    return;
                }
            }
            best.insert(dim.to_string(), r.name.clone());
        };
    pick("latency_p95", &|r| Some(r.latency_p95_ms), false, Some(P95));
    pick(
        "throughput",
        &|r| Some(r.throughput_samples_per_s),
        true,
        // Runs per second of the same timed runs: told apart by p50's test.
        Some(P50),
    );
    pick("memory", &|r| Some(r.peak_memory_mb), false, None);
    pick("energy", &|r| r.energy_mj_per_inference, false, None);
    pick("accuracy", &|r| r.accuracy, true, Some(ACCURACY));
    pick("recall", &|r| r.recall, true, Some(RECALL));
    pick("composite", &|r| Some(r.composite_score), true, None);
    (best, ties)
}

/// Indices of the points no other point dominates: lower-or-equal latency and higher-or-equal
/// accuracy, better in one. Without accuracy (no dataset) only latency counts.
pub fn pareto(points: &[(f64, Option<f64>)]) -> Vec<usize> {
    let acc = |i: usize| points[i].1.unwrap_or(0.0);
    (0..points.len())
        .filter(|&i| {
            !(0..points.len()).any(|j| {
                j != i
                    && points[j].0 <= points[i].0
                    && acc(j) >= acc(i)
                    && (points[j].0 < points[i].0 || acc(j) > acc(i))
            })
        })
        .collect()
}
