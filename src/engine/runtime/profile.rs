//! The operator profile of `bench --profile`: where a run's time goes, node by node and op type
//! by op type, read from ONNX Runtime's own profiler (Chrome trace JSON).
//!
//! The profiled runs are made on a separate session after the timed runs, so the profiler never
//! slows a timed run. Each node's time is its `NAME_kernel_time` event (`dur`, microseconds);
//! each run's is its `model_run` event. Runs before `skip_runs` (the profiled session's own cold
//! first run) are left out, with the node events that started before they ended.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How many nodes a results file keeps, the slowest first.
pub const TOP_NODES: usize = 50;

/// How many operators the terminal and the markdown report list, and the results keep.
pub const PROFILE_TOP: usize = 10;

/// One node's time over the profiled runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeTime {
    pub name: String,
    pub op_type: String,
    /// The execution provider that ran it.
    pub provider: String,
    /// Times it ran (once per run for most nodes).
    pub count: u64,
    pub total_us: f64,
    pub mean_us: f64,
    /// Its share of the summed node time, in percent.
    pub share_pct: f64,
}

/// One op type's time over the profiled runs, all its nodes together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OpTypeTime {
    pub op_type: String,
    /// Nodes of this type in the graph that ran.
    pub nodes: usize,
    /// Kernel calls, all nodes and runs together.
    pub count: u64,
    pub total_us: f64,
    /// Microseconds per kernel call.
    pub mean_us: f64,
    /// Its share of the summed node time, in percent.
    pub share_pct: f64,
}

/// The operator profile of a bench (`bench --profile`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OpProfile {
    /// Runs profiled (their `model_run` events).
    pub runs: u64,
    /// Summed time of the profiled runs, in microseconds.
    pub run_total_us: f64,
    /// Summed time of every node's kernel, in microseconds.
    pub node_total_us: f64,
    /// The nodes' time as a share of the runs' time, in percent; the rest is the executor's
    /// own work between kernels. Absent when the profile has no `model_run` events.
    pub node_share_of_run_pct: Option<f64>,
    /// Nodes that ran, in all.
    pub node_count: usize,
    /// The slowest nodes by total time (at most [`TOP_NODES`]); ties by name.
    pub nodes: Vec<NodeTime>,
    /// Every op type, the slowest first; ties by name.
    pub op_types: Vec<OpTypeTime>,
}

/// A Chrome trace event, as far as the profile needs one.
#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    cat: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    ts: f64,
    #[serde(default)]
    dur: f64,
    #[serde(default)]
    args: serde_json::Map<String, serde_json::Value>,
}

fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole * 100.0
    } else {
        0.0
    }
}

/// Reads ONNX Runtime's profile, leaving out the first `skip_runs` runs, and keeps the `keep`
/// slowest nodes. None when the text is not such a profile or no node ran after the skipped runs.
pub fn parse(text: &str, skip_runs: usize, keep: usize) -> Option<OpProfile> {
    let events: Vec<Event> = serde_json::from_str(text).ok()?;
    let mut runs: Vec<&Event> = events
        .iter()
        .filter(|e| e.cat == "Session" && e.name == "model_run")
        .collect();
    runs.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    // Node events that start before the last skipped run ends belong to the skipped runs.
    let after = match skip_runs.checked_sub(1).and_then(|i| runs.get(i)) {
        Some(last) => last.ts + last.dur,
        None if skip_runs > 0 => return None,
        None => f64::NEG_INFINITY,
    };
    let runs = &runs[skip_runs.min(runs.len())..];

    // name -> (op type, provider, count, total)
    let mut by_node: BTreeMap<&str, (String, String, u64, f64)> = BTreeMap::new();
    for event in &events {
        if event.cat != "Node" || event.ts < after {
            continue;
        }
        let Some(node) = event.name.strip_suffix("_kernel_time") else {
            continue;
        };
        let text_of = |key: &str| {
            event
                .args
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or("unknown")
                .to_string()
        };
        let entry = by_node
            .entry(node)
            .or_insert_with(|| (text_of("op_name"), text_of("provider"), 0, 0.0));
        entry.2 += 1;
        entry.3 += event.dur;
    }
    if by_node.is_empty() {
        return None;
    }
    let node_total_us: f64 = by_node.values().map(|n| n.3).sum();
    let run_total_us: f64 = runs.iter().map(|r| r.dur).sum();

    let mut types: BTreeMap<&str, (usize, u64, f64)> = BTreeMap::new();
    for (op, _, count, total) in by_node.values() {
        let entry = types.entry(op.as_str()).or_default();
        entry.0 += 1;
        entry.1 += count;
        entry.2 += total;
    }
    let mut op_types: Vec<OpTypeTime> = types
        .into_iter()
        .map(|(op, (nodes, count, total))| OpTypeTime {
            op_type: op.to_string(),
            nodes,
            count,
            total_us: total,
            mean_us: total / count as f64,
            share_pct: share(total, node_total_us),
        })
        .collect();
    // Stable sorts on name-ordered input: ties keep name order.
    op_types.sort_by(|a, b| b.total_us.total_cmp(&a.total_us));

    let mut nodes: Vec<NodeTime> = by_node
        .iter()
        .map(|(name, (op, provider, count, total))| NodeTime {
            name: crate::base::text::clean(name, 200),
            op_type: op.clone(),
            provider: provider.clone(),
            count: *count,
            total_us: *total,
            mean_us: total / *count as f64,
            share_pct: share(*total, node_total_us),
        })
        .collect();
    nodes.sort_by(|a, b| b.total_us.total_cmp(&a.total_us));
    let node_count = nodes.len();
    nodes.truncate(keep);

    Some(OpProfile {
        runs: runs.len() as u64,
        run_total_us,
        node_total_us,
        node_share_of_run_pct: (run_total_us > 0.0).then(|| share(node_total_us, run_total_us)),
        node_count,
        nodes,
        op_types,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three runs of a four-node graph as ONNX Runtime writes them (abridged: no thread stats,
    /// one fence event): the first run is the cold one that `bench --profile` skips.
    const PROFILE: &str = r#"[
      {"cat":"Session","pid":1,"tid":1,"dur":500,"ts":1,"ph":"X","name":"session_initialization","args":{}},
      {"cat":"Node","pid":1,"tid":1,"dur":900,"ts":1010,"ph":"X","name":"conv1_kernel_time","args":{"op_name":"Conv","provider":"CPUExecutionProvider"}},
      {"cat":"Node","pid":1,"tid":1,"dur":50,"ts":1920,"ph":"X","name":"fc_kernel_time","args":{"op_name":"Gemm","provider":"CPUExecutionProvider"}},
      {"cat":"Session","pid":1,"tid":1,"dur":1000,"ts":1000,"ph":"X","name":"model_run","args":{}},

      {"cat":"Node","pid":1,"tid":1,"dur":0,"ts":3001,"ph":"X","name":"conv1_fence_before","args":{"op_name":"Conv"}},
      {"cat":"Node","pid":1,"tid":1,"dur":60,"ts":3002,"ph":"X","name":"conv1_kernel_time","args":{"op_name":"Conv","provider":"CPUExecutionProvider"}},
      {"cat":"Node","pid":1,"tid":1,"dur":20,"ts":3070,"ph":"X","name":"conv2_kernel_time","args":{"op_name":"Conv","provider":"CPUExecutionProvider"}},
      {"cat":"Node","pid":1,"tid":1,"dur":10,"ts":3095,"ph":"X","name":"reshape_kernel_time","args":{"op_name":"Reshape","provider":"CPUExecutionProvider"}},
      {"cat":"Node","pid":1,"tid":1,"dur":10,"ts":3110,"ph":"X","name":"fc_kernel_time","args":{"op_name":"Gemm","provider":"CPUExecutionProvider"}},
      {"cat":"Session","pid":1,"tid":1,"dur":125,"ts":3000,"ph":"X","name":"model_run","args":{}},

      {"cat":"Node","pid":1,"tid":1,"dur":40,"ts":5002,"ph":"X","name":"conv1_kernel_time","args":{"op_name":"Conv","provider":"CPUExecutionProvider"}},
      {"cat":"Node","pid":1,"tid":1,"dur":20,"ts":5050,"ph":"X","name":"conv2_kernel_time","args":{"op_name":"Conv","provider":"CPUExecutionProvider"}},
      {"cat":"Node","pid":1,"tid":1,"dur":10,"ts":5075,"ph":"X","name":"reshape_kernel_time","args":{"op_name":"Reshape","provider":"CPUExecutionProvider"}},
      {"cat":"Node","pid":1,"tid":1,"dur":30,"ts":5090,"ph":"X","name":"fc_kernel_time","args":{"op_name":"Gemm","provider":"CPUExecutionProvider"}},
      {"cat":"Session","pid":1,"tid":1,"dur":375,"ts":5000,"ph":"X","name":"model_run","args":{}}
    ]"#;

    #[test]
    fn totals_means_and_shares_are_those_computed_by_hand() {
        let p = parse(PROFILE, 1, TOP_NODES).unwrap();
        // Runs 2 and 3: conv1 60+40, conv2 20+20, reshape 10+10, fc 10+30 = 200 us of nodes,
        // 125 + 375 = 500 us of runs.
        assert_eq!(p.runs, 2);
        assert_eq!(p.node_total_us, 200.0);
        assert_eq!(p.run_total_us, 500.0);
        assert_eq!(p.node_share_of_run_pct, Some(40.0));
        assert_eq!(p.node_count, 4);
        let conv1 = &p.nodes[0];
        assert_eq!(
            (conv1.name.as_str(), conv1.op_type.as_str(), conv1.count),
            ("conv1", "Conv", 2)
        );
        assert_eq!(
            (conv1.total_us, conv1.mean_us, conv1.share_pct),
            (100.0, 50.0, 50.0)
        );
        assert_eq!(conv1.provider, "CPUExecutionProvider");
        let conv = &p.op_types[0];
        assert_eq!(conv.op_type, "Conv");
        assert_eq!((conv.nodes, conv.count), (2, 4));
        assert_eq!(
            (conv.total_us, conv.mean_us, conv.share_pct),
            (140.0, 35.0, 70.0)
        );
        let shares: f64 = p.op_types.iter().map(|t| t.share_pct).sum();
        assert!((shares - 100.0).abs() < 1e-9);
    }

    #[test]
    fn the_order_is_slowest_first_with_ties_by_name() {
        let p = parse(PROFILE, 1, TOP_NODES).unwrap();
        let names: Vec<&str> = p.nodes.iter().map(|n| n.name.as_str()).collect();
        // conv2 and fc tie at 40 us: by name.
        assert_eq!(names, ["conv1", "conv2", "fc", "reshape"]);
        let ops: Vec<(&str, f64)> = p
            .op_types
            .iter()
            .map(|t| (t.op_type.as_str(), t.total_us))
            .collect();
        assert_eq!(ops, [("Conv", 140.0), ("Gemm", 40.0), ("Reshape", 20.0)]);
    }

    #[test]
    fn keep_cuts_the_nodes_but_not_the_totals_or_op_types() {
        let p = parse(PROFILE, 1, 2).unwrap();
        assert_eq!(p.nodes.len(), 2);
        assert_eq!(p.node_count, 4);
        assert_eq!(p.node_total_us, 200.0);
        assert_eq!(p.op_types.len(), 3);
    }

    #[test]
    fn without_skipping_the_cold_run_counts_too() {
        let p = parse(PROFILE, 0, TOP_NODES).unwrap();
        assert_eq!(p.runs, 3);
        assert_eq!(p.node_total_us, 1150.0);
        assert_eq!(p.nodes[0].count, 3);
        assert_eq!(p.nodes[0].total_us, 1000.0);
    }

    #[test]
    fn text_that_is_not_a_profile_or_has_no_node_after_the_skip_gives_none() {
        assert_eq!(parse("not json", 0, 10), None);
        assert_eq!(parse("[]", 0, 10), None);
        assert_eq!(parse(PROFILE, 3, 10), None);
        assert_eq!(parse(PROFILE, 4, 10), None);
    }
}
