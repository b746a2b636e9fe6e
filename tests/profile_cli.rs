//! `modelgate bench --profile`: ONNX Runtime's operator profile, on the real runtime.

use crate::support;

use support::{assert_user_error, model, modelgate, stdout};

fn bench(extra: &[&str]) -> (String, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    bench_into(&dir.path().join("resnet.json"), extra)
}

/// Benches resnet_small into `json`; returns the terminal output and the results.
fn bench_into(json: &std::path::Path, extra: &[&str]) -> (String, serde_json::Value) {
    let mut args: Vec<String> = vec![
        "bench".into(),
        model("resnet_small.onnx").to_str().unwrap().to_string(),
        "--iterations".into(),
        "40".into(),
        "--warmup".into(),
        "3".into(),
        "--json".into(),
        json.to_str().unwrap().to_string(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = modelgate(&args);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let text = std::fs::read_to_string(json).unwrap();
    (stdout(&out), serde_json::from_str(&text).unwrap())
}

#[test]
fn profile_lists_conv_with_shares_summing_to_100_and_one_call_per_run() {
    let (out, results) = bench(&["--profile", "--profile-runs", "20"]);
    let bench = &results["bench"];
    let profile = &bench["profile"];
    assert_eq!(profile["runs"], 20, "{profile}");

    // resnet_small is convolutions: Conv is the slowest op type, and among the top nodes.
    let op_types = profile["op_types"].as_array().unwrap();
    assert_eq!(op_types[0]["op_type"], "Conv", "{profile}");
    let nodes = profile["nodes"].as_array().unwrap();
    assert!(nodes.iter().take(10).any(|n| n["op_type"] == "Conv"));

    // Shares are of the summed node time, recomputed here from the totals.
    let node_total = profile["node_total_us"].as_f64().unwrap();
    let op_sum: f64 = op_types
        .iter()
        .map(|t| t["total_us"].as_f64().unwrap())
        .sum();
    assert!(
        (op_sum - node_total).abs() < 1e-6 * node_total,
        "{op_sum} vs {node_total}"
    );
    let shares: f64 = op_types
        .iter()
        .map(|t| t["share_pct"].as_f64().unwrap())
        .sum();
    assert!(
        (shares - 100.0).abs() < 0.01,
        "op type shares sum to {shares}"
    );
    for n in nodes {
        let total = n["total_us"].as_f64().unwrap();
        let share = n["share_pct"].as_f64().unwrap();
        assert!((share - total / node_total * 100.0).abs() < 1e-9, "{n}");
        // Every node of this graph runs once per run; the cold run is left out.
        assert_eq!(n["count"], 20, "{n}");
        assert_eq!(n["provider"], "CPUExecutionProvider", "{n}");
    }
    let calls: u64 = op_types.iter().map(|t| t["count"].as_u64().unwrap()).sum();
    assert_eq!(calls, 20 * profile["node_count"].as_u64().unwrap());
    // Slowest first.
    let totals: Vec<f64> = nodes
        .iter()
        .map(|n| n["total_us"].as_f64().unwrap())
        .collect();
    assert!(totals.windows(2).all(|w| w[0] >= w[1]), "{totals:?}");
    // The kernels are most of a run, never more than all of it.
    let of_run = profile["node_share_of_run_pct"].as_f64().unwrap();
    assert!(of_run > 0.0 && of_run <= 100.0, "{of_run}");

    // Profiling never adds to the timed runs.
    assert_eq!(bench["runs"][0]["samples_ms"].as_array().unwrap().len(), 40);

    assert!(out.contains("operator profile (20 runs"), "{out}");
    assert!(out.contains("by op type"), "{out}");
    assert!(out.contains("what to try:"), "{out}");
    assert!(
        out.contains("convolutions and matrix products take"),
        "{out}"
    );
}

#[test]
fn without_profile_there_is_no_profile_and_the_same_timed_runs() {
    let (out, results) = bench(&[]);
    assert!(results["bench"].get("profile").is_none(), "{results}");
    assert_eq!(
        results["bench"]["runs"][0]["samples_ms"]
            .as_array()
            .unwrap()
            .len(),
        40
    );
    assert!(!out.contains("operator profile"), "{out}");
}

#[test]
fn zero_profile_runs_is_one_clear_line_and_exit_2() {
    let tiny = model("tiny.onnx");
    let out = modelgate(&[
        "bench",
        tiny.to_str().unwrap(),
        "--profile",
        "--profile-runs",
        "0",
    ]);
    assert_user_error(&out, "--profile-runs 0");
}

#[test]
fn the_report_of_a_comparison_shows_the_candidates_slowest_operators() {
    let dir = tempfile::tempdir().unwrap();
    let (base, cand, cmp) = (
        dir.path().join("base.json"),
        dir.path().join("cand.json"),
        dir.path().join("comparison.json"),
    );
    bench_into(&base, &[]);
    let (_, results) = bench_into(&cand, &["--profile", "--profile-runs", "5"]);
    let top = results["bench"]["profile"]["nodes"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let out = modelgate(&[
        "compare",
        "--baseline",
        &s(&base),
        "--candidate",
        &s(&cand),
        "--json",
        &s(&cmp),
    ]);
    // A latency verdict between two short benches may go either way; only the report matters.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        support::stderr(&out)
    );
    let comparison: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cmp).unwrap()).unwrap();
    let profile = &comparison["models"][0]["profile"];
    assert!(
        profile["nodes"].as_array().unwrap().len() <= 10,
        "{profile}"
    );
    let out = modelgate(&["report", "--comparison", &s(&cmp)]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let report = stdout(&out);
    assert!(report.contains("Slowest operators (candidate)"), "{report}");
    assert!(report.contains("5 profiled runs"), "{report}");
    let escaped = top.replace('_', "\\_");
    assert!(
        report.contains(&format!("| Conv | {top} |"))
            || report.contains(&format!("| Conv | {escaped} |")),
        "{report}"
    );

    // The HTML page draws the latency distribution in a process that drew nothing before: its
    // text is measured with the embedded font, without which no chart is drawn at all.
    let out = modelgate(&["report", "--comparison", &s(&cmp), "--format", "html"]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let html = stdout(&out);
    assert!(html.contains("<h4>Latency distribution</h4>"), "{html}");
    assert!(
        html.contains("<svg") && html.contains("latency per run ("),
        "{html}"
    );
}

#[test]
fn eval_prints_advice_for_each_limiting_stage_with_its_measured_share() {
    let root = support::root();
    let out = modelgate(&[
        "eval",
        root.join("models/digits_fp32.onnx").to_str().unwrap(),
        "--config",
        root.join("modelgate.toml").to_str().unwrap(),
        "--model-name",
        "digits",
    ]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let text = stdout(&out);
    // `per sample: preprocessing 264.2 µs (97 %), inference ... (2 %), postprocessing ... (1 %)`
    let per_sample = text
        .lines()
        .find(|l| l.trim_start().starts_with("per sample:"))
        .expect("the stage line");
    let pct = |stage: &str| -> String {
        let rest = &per_sample[per_sample.find(stage).unwrap()..];
        let open = rest.find('(').unwrap();
        rest[open + 1..rest.find(" %)").unwrap()].to_string()
    };
    let named = text
        .lines()
        .find(|l| l.contains("bottleneck"))
        .expect("the bottleneck line");
    let limiting: Vec<&str> = ["preprocessing", "inference", "postprocessing"]
        .into_iter()
        .filter(|s| named.contains(s))
        .collect();
    assert!(!limiting.is_empty(), "{text}");
    for stage in limiting {
        let expected = format!("  - {stage} takes {} % of each sample's time", pct(stage));
        assert!(text.contains(&expected), "{expected} in {text}");
    }
    assert!(text.contains("what to try:"), "{text}");
}
