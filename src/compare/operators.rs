//! Why the latency moved: the base model's operator profile against the candidate's.
//!
//! The gate profiles both models after the timed runs (never during them) when a latency
//! criterion fails or is unsettled, or when asked. This module lines the two profiles up: time
//! per run by op type, and the nodes one model has and the other has not (matched by name).
//! It explains; it never judges: a profile is a few runs, and its figures move by a few percent
//! between sessions as the timed runs do.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::engine::runtime::profile::OpProfile;

/// Op types listed, the largest change first.
pub const TOP_OP_TYPES: usize = 8;
/// Nodes listed as added, and as removed, the slowest first.
pub const TOP_NODES: usize = 5;

/// The two models' operator profiles side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OperatorDiff {
    /// Profiled runs of the base model and of the candidate.
    pub baseline_runs: u64,
    pub candidate_runs: u64,
    /// Time in kernels per run, in microseconds.
    pub baseline_us_per_run: f64,
    pub candidate_us_per_run: f64,
    /// Op types whose time per run changed most, the largest change (either way) first, at
    /// most [`TOP_OP_TYPES`].
    pub op_types: Vec<OpTypeChange>,
    /// Nodes only the candidate has, the slowest first (at most [`TOP_NODES`]), and how many.
    pub added: Vec<NodeChange>,
    pub added_count: usize,
    /// Nodes only the base model has, the slowest first, and how many.
    pub removed: Vec<NodeChange>,
    pub removed_count: usize,
    /// Nodes whose names differ between the models but that were paired by op type and time
    /// per run (names ONNX Runtime numbers itself shift when a node is added elsewhere); they
    /// are in neither list.
    pub renamed: usize,
    /// Whether the node lists are whole: false when a profile kept only its slowest nodes, so
    /// a node missing from one list may just have been cut; then nothing is listed as added or
    /// removed.
    pub nodes_complete: bool,
}

/// One op type's time per run in each model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OpTypeChange {
    pub op_type: String,
    /// Nodes of this type that ran, in the base model and in the candidate.
    pub baseline_nodes: usize,
    pub candidate_nodes: usize,
    pub baseline_us_per_run: f64,
    pub candidate_us_per_run: f64,
    /// The candidate's time per run minus the base model's.
    pub change_us_per_run: f64,
    /// The change as a share of the base model's time in kernels per run, in percent.
    pub change_pct_of_run: f64,
}

/// A node one model has and the other has not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeChange {
    pub name: String,
    pub op_type: String,
    pub us_per_run: f64,
    /// Its time as a share of its own model's time in kernels per run, in percent.
    pub share_pct: f64,
}

fn per_run(total_us: f64, runs: u64) -> f64 {
    total_us / runs.max(1) as f64
}

/// Lines up the base model's profile and the candidate's. None when either has no profiled run.
pub fn diff(baseline: &OpProfile, candidate: &OpProfile) -> Option<OperatorDiff> {
    if baseline.runs == 0 || candidate.runs == 0 {
        return None;
    }
    let base_run = per_run(baseline.node_total_us, baseline.runs);
    let cand_run = per_run(candidate.node_total_us, candidate.runs);

    // op type -> (base nodes, base us/run, candidate nodes, candidate us/run)
    let mut types: BTreeMap<&str, (usize, f64, usize, f64)> = BTreeMap::new();
    for t in &baseline.op_types {
        let entry = types.entry(&t.op_type).or_default();
        entry.0 = t.nodes;
        entry.1 = per_run(t.total_us, baseline.runs);
    }
    for t in &candidate.op_types {
        let entry = types.entry(&t.op_type).or_default();
        entry.2 = t.nodes;
        entry.3 = per_run(t.total_us, candidate.runs);
    }
    let mut op_types: Vec<OpTypeChange> = types
        .into_iter()
        .map(|(op, (bn, bus, cn, cus))| OpTypeChange {
            op_type: op.to_string(),
            baseline_nodes: bn,
            candidate_nodes: cn,
            baseline_us_per_run: bus,
            candidate_us_per_run: cus,
            change_us_per_run: cus - bus,
            change_pct_of_run: if base_run > 0.0 {
                (cus - bus) / base_run * 100.0
            } else {
                0.0
            },
        })
        .collect();
    // Stable sort on name-ordered input: ties keep name order.
    op_types.sort_by(|a, b| {
        b.change_us_per_run
            .abs()
            .total_cmp(&a.change_us_per_run.abs())
    });
    op_types.truncate(TOP_OP_TYPES);

    let nodes_complete = baseline.nodes.len() == baseline.node_count
        && candidate.nodes.len() == candidate.node_count;
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    let mut renamed = 0;
    if nodes_complete {
        added = only_in(candidate, baseline, cand_run);
        removed = only_in(baseline, candidate, base_run);
        renamed = pair_renamed(&mut added, &mut removed);
    }
    let (added_count, removed_count) = (added.len(), removed.len());
    added.truncate(TOP_NODES);
    removed.truncate(TOP_NODES);
    Some(OperatorDiff {
        baseline_runs: baseline.runs,
        candidate_runs: candidate.runs,
        baseline_us_per_run: base_run,
        candidate_us_per_run: cand_run,
        op_types,
        added,
        added_count,
        removed,
        removed_count,
        renamed,
        nodes_complete,
    })
}

/// Pairs nodes that changed only their name: ONNX Runtime names the nodes its graph
/// transformers insert with counters (`ReorderOutput_token_24`), which shift when a node is
/// added elsewhere. Each node only the base model has is paired with the node of the same op
/// type only the candidate has whose time per run is closest, and both leave the lists.
/// Returns the pairs made.
fn pair_renamed(added: &mut Vec<NodeChange>, removed: &mut Vec<NodeChange>) -> usize {
    let mut pairs = 0;
    removed.retain(|gone| {
        let closest = added
            .iter()
            .enumerate()
            .filter(|(_, new)| new.op_type == gone.op_type)
            .min_by(|(_, a), (_, b)| {
                (a.us_per_run - gone.us_per_run)
                    .abs()
                    .total_cmp(&(b.us_per_run - gone.us_per_run).abs())
            })
            .map(|(i, _)| i);
        match closest {
            Some(i) => {
                added.remove(i);
                pairs += 1;
                false
            }
            None => true,
        }
    });
    pairs
}

/// The nodes of `profile` whose names `other` lacks, the slowest first (the profile's order).
fn only_in(profile: &OpProfile, other: &OpProfile, run_us: f64) -> Vec<NodeChange> {
    let names: BTreeSet<&str> = other.nodes.iter().map(|n| n.name.as_str()).collect();
    profile
        .nodes
        .iter()
        .filter(|n| !names.contains(n.name.as_str()))
        .map(|n| {
            let us = per_run(n.total_us, profile.runs);
            NodeChange {
                name: n.name.clone(),
                op_type: n.op_type.clone(),
                us_per_run: us,
                share_pct: if run_us > 0.0 {
                    us / run_us * 100.0
                } else {
                    0.0
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::runtime::profile::parse;

    /// One profiled run (after a skipped cold one, not written) of each model, as ONNX Runtime
    /// writes them: the candidate has an extra Conv node and a slower Gemm.
    fn profile(nodes: &[(&str, &str, f64)]) -> OpProfile {
        let mut events = vec![format!(
            r#"{{"cat":"Session","name":"model_run","ts":1000,"dur":{},"args":{{}}}}"#,
            nodes.iter().map(|n| n.2).sum::<f64>() + 10.0
        )];
        let mut ts = 1001.0;
        for (name, op, dur) in nodes {
            events.push(format!(
                r#"{{"cat":"Node","name":"{name}_kernel_time","ts":{ts},"dur":{dur},"args":{{"op_name":"{op}","provider":"CPUExecutionProvider"}}}}"#
            ));
            ts += dur;
        }
        parse(&format!("[{}]", events.join(",")), 0, 100).unwrap()
    }

    #[test]
    fn an_added_node_and_a_slower_op_type_are_named_with_their_share() {
        let base = profile(&[
            ("conv1", "Conv", 600.0),
            ("relu1", "Relu", 100.0),
            ("fc", "Gemm", 300.0),
        ]);
        let cand = profile(&[
            ("conv1", "Conv", 600.0),
            ("dead/conv", "Conv", 80.0),
            ("relu1", "Relu", 100.0),
            ("fc", "Gemm", 320.0),
        ]);
        let d = diff(&base, &cand).unwrap();
        // Base: 1000 us a run in kernels; candidate 1100.
        assert_eq!(
            (d.baseline_us_per_run, d.candidate_us_per_run),
            (1000.0, 1100.0)
        );
        let top = &d.op_types[0];
        assert_eq!(top.op_type, "Conv");
        assert_eq!((top.baseline_nodes, top.candidate_nodes), (1, 2));
        assert_eq!((top.change_us_per_run, top.change_pct_of_run), (80.0, 8.0));
        assert_eq!(d.op_types[1].op_type, "Gemm");
        assert_eq!(d.op_types[1].change_us_per_run, 20.0);
        // Relu did not change: last.
        assert_eq!(d.op_types[2].change_us_per_run, 0.0);
        assert_eq!(d.added_count, 1);
        assert_eq!(d.added[0].name, "dead/conv");
        assert!((d.added[0].share_pct - 80.0 / 1100.0 * 100.0).abs() < 1e-9);
        assert_eq!(d.removed_count, 0);
        assert!(d.nodes_complete);
    }

    #[test]
    fn a_removed_node_is_listed_and_a_faster_op_type_ranks_by_size() {
        let base = profile(&[("a", "MatMul", 500.0), ("b", "Add", 50.0)]);
        let cand = profile(&[("a", "MatMul", 200.0)]);
        let d = diff(&base, &cand).unwrap();
        assert_eq!(d.op_types[0].op_type, "MatMul");
        assert_eq!(d.op_types[0].change_us_per_run, -300.0);
        assert_eq!(d.op_types[1].op_type, "Add");
        assert_eq!(d.op_types[1].candidate_nodes, 0);
        assert_eq!(d.removed[0].name, "b");
        assert_eq!(d.added_count, 0);
    }

    #[test]
    fn nodes_renamed_by_a_counter_are_paired_not_listed() {
        let base = profile(&[
            ("conv1", "Conv", 600.0),
            ("ReorderOutput_token_3", "ReorderOutput", 20.0),
        ]);
        let cand = profile(&[
            ("conv1", "Conv", 600.0),
            ("dead", "Conv", 80.0),
            ("ReorderOutput_token_4", "ReorderOutput", 21.0),
            ("ReorderOutput_token_5", "ReorderOutput", 60.0),
        ]);
        let d = diff(&base, &cand).unwrap();
        assert_eq!(d.renamed, 1);
        assert!(d.removed.is_empty());
        // token_3 pairs with token_4 (21 us, the closest): token_5 is new.
        let added: Vec<&str> = d.added.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(added, ["dead", "ReorderOutput_token_5"]);
        assert_eq!(d.added_count, 2);
    }

    #[test]
    fn cut_node_lists_list_nothing_as_added_or_removed() {
        let base = profile(&[("a", "Conv", 500.0), ("b", "Conv", 50.0)]);
        let mut cand = profile(&[("a", "Conv", 500.0), ("c", "Conv", 60.0)]);
        cand.nodes.truncate(1);
        let d = diff(&base, &cand).unwrap();
        assert!(!d.nodes_complete);
        assert!(d.added.is_empty() && d.removed.is_empty());
        assert_eq!(d.op_types[0].change_us_per_run, 10.0);
    }
}
