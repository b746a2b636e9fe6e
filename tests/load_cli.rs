//! `modelgate load` on the real ONNX Runtime with the project's own models: Little's law on its
//! own output, latency counted from the scheduled arrival, the capacity plan's arithmetic, and
//! bad input refused in one line.

use crate::support;

use support::{assert_user_error, model, modelgate, stdout};

fn read_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Runs `modelgate load MODEL ARGS --records --json` and returns the file.
fn load(name: &str, args: &[&str]) -> (std::process::Output, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("load.json");
    let path = model(name);
    let mut all = vec!["load", path.to_str().unwrap()];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--records", "--json", json.to_str().unwrap()]);
    let out = modelgate(&all);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let file = read_json(&json);
    (out, file)
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The time-average number of requests in the system over the run (from 0 to the end of the
/// arrivals' span or the last completion, whichever is later), by a sweep over the records'
/// arrival (+1) and completion (-1) events: the left side of Little's law, measured without the
/// command's throughput or mean latency.
fn time_average_in_system(records: &[serde_json::Value], duration_ms: f64) -> f64 {
    let mut events: Vec<(f64, i64)> = Vec::new();
    for r in records {
        events.push((f(&r["scheduled_ms"]), 1));
        events.push((f(&r["end_ms"]), -1));
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut area, mut n, mut last) = (0.0, 0i64, 0.0);
    for (t, step) in &events {
        area += n as f64 * (t - last);
        n += step;
        last = *t;
    }
    assert_eq!(n, 0, "every request completed");
    area / last.max(duration_ms)
}

/// Checks one rate's numbers against its own records: count, Little's law (within 10 %), and
/// the histogram's median against the records' (within HdrHistogram's 0.1 % plus a microsecond).
fn check_rate_against_records(file: &serde_json::Value, rate: &serde_json::Value) {
    let records = rate["records"].as_array().unwrap();
    assert_eq!(records.len() as u64, rate["requests"].as_u64().unwrap());
    let duration_ms = f(&file["settings"]["duration_s"]) * 1000.0;
    let measured = time_average_in_system(records, duration_ms);
    let reported = f(&rate["mean_in_system"]);
    assert!(
        (measured - reported).abs() <= 0.10 * measured,
        "Little's law: time-average in system {measured} vs achieved x mean latency {reported}"
    );
    let mut latencies: Vec<f64> = records
        .iter()
        .map(|r| f(&r["end_ms"]) - f(&r["scheduled_ms"]))
        .collect();
    latencies.sort_by(f64::total_cmp);
    let median = latencies[(latencies.len() - 1) / 2];
    let p50 = f(&rate["latency"]["p50_ms"]);
    assert!(
        (p50 - median).abs() <= median * 0.002 + 0.001 + spacing(&latencies, median),
        "p50 {p50} vs records' median {median}"
    );
    for r in records {
        assert!(
            f(&r["start_ms"]) >= f(&r["scheduled_ms"]),
            "started before arrival: {r}"
        );
        assert!(f(&r["end_ms"]) >= f(&r["start_ms"]));
    }
}

/// Half the gap between the median and its neighbours: the rank convention's slack.
fn spacing(sorted: &[f64], median: f64) -> f64 {
    let i = (sorted.len() - 1) / 2;
    let lo = sorted.get(i.saturating_sub(1)).copied().unwrap_or(median);
    let hi = sorted.get(i + 1).copied().unwrap_or(median);
    (hi - lo).abs()
}

#[test]
fn tiny_model_obeys_littles_law_on_its_own_records() {
    let (out, file) = load(
        "tiny.onnx",
        &["--qps", "300,3000", "--duration", "0.7s", "--seed", "3"],
    );
    assert_eq!(file["schema_version"], 1);
    let rates = file["rates"].as_array().unwrap();
    assert_eq!(rates.len(), 2);
    for rate in rates {
        check_rate_against_records(&file, rate);
        // Poisson arrivals: about rate x duration requests (5 standard deviations of slack).
        let expected = f(&rate["offered_qps"]) * 0.7;
        let n = rate["requests"].as_u64().unwrap() as f64;
        assert!(
            (n - expected).abs() < 5.0 * expected.sqrt(),
            "{n} vs {expected}"
        );
    }
    let table = stdout(&out);
    assert!(table.contains("M/D/1"), "{table}");
    assert!(table.contains("L=X*W"), "{table}");
}

#[test]
fn past_capacity_latency_counts_the_queue_from_the_scheduled_arrival() {
    // resnet_small runs a few ms a request here, so 1500 qps is several times its capacity:
    // requests queue for the whole run, and their latency (from the scheduled arrival) is far
    // above the time each one ran.
    let (out, file) = load(
        "resnet_small.onnx",
        &["--qps", "1500", "--duration", "0.3s", "--slo-p99-ms", "50"],
    );
    let rate = &file["rates"][0];
    check_rate_against_records(&file, rate);
    let service = f(&rate["mean_service_ms"]);
    let p50 = f(&rate["latency"]["p50_ms"]);
    assert!(f(&rate["utilization"]) > 1.0, "{rate}");
    assert!(p50 > 10.0 * service, "p50 {p50} ms vs service {service} ms");
    // Nothing was skipped: every arrival was served, at no more than the service rate.
    assert!(
        f(&rate["achieved_qps"]) < 0.8 * f(&rate["offered_qps"]),
        "{rate}"
    );
    // Latency = queueing + service, on average.
    let mean = f(&rate["latency"]["mean_ms"]);
    let queue = f(&rate["mean_queue_ms"]);
    assert!((mean - (queue + service)).abs() < 1e-6 * mean.max(1.0) + 1e-3);
    assert_eq!(f(&file["slo"]["first_rate_over_qps"]), 1500.0);
    let table = stdout(&out);
    assert!(table.contains("first crossed at 1500 qps"), "{table}");
    assert!(table.contains("past capacity"), "{table}");
}

#[test]
fn past_capacity_the_median_latency_grows_with_the_run() {
    // Past capacity the queue only grows: request k waits for the k before it, so the median
    // latency of a run four times as long is about four times as large. A latency timed from
    // the start of the run (coordinated omission) would stay near the service time instead.
    // 5000 qps: well past capacity on a fast runner too (resnet_small takes 0.6 ms a request
    // on a quick 2-core machine, where 1500 qps sat near capacity and the queue barely grew).
    let p50 = |duration: &str| {
        let (_, file) = load(
            "resnet_small.onnx",
            &["--qps", "5000", "--duration", duration, "--seed", "5"],
        );
        let rate = &file["rates"][0];
        (f(&rate["latency"]["p50_ms"]), f(&rate["mean_service_ms"]))
    };
    // Four times as long (about four times the median's queue), so a run whose service time
    // moved with the machine's other work still shows the growth.
    let (short, service) = p50("0.1s");
    let (long, long_service) = p50("0.4s");
    assert!(
        short > 5.0 * service,
        "p50 {short} ms vs service {service} ms"
    );
    // In units of each run's own service time: the two runs are measured apart, and on a
    // shared machine one can run at half the speed of the other.
    let (short_runs, long_runs) = (short / service, long / long_service);
    assert!(
        long_runs > 1.4 * short_runs,
        "p50 {long} ms ({long_runs:.1} service times) over 0.4 s vs {short} ms ({short_runs:.1}) over 0.1 s"
    );
}

#[test]
fn capacity_plan_follows_its_printed_formula() {
    let (out, file) = load(
        "tiny.onnx",
        &[
            "--qps",
            "200",
            "--duration",
            "0.5s",
            "--concurrency",
            "2",
            "--peak-qps",
            "50000",
            "--safety",
            "2",
        ],
    );
    let rate = &file["rates"][0];
    // Service rate = sessions / mean service time.
    let service_rate = 2.0 * 1000.0 / f(&rate["mean_service_ms"]);
    assert!((service_rate - f(&rate["service_rate_qps"])).abs() < 1e-6 * service_rate);
    let plan = &file["capacity"];
    let instances = (50000.0 * 2.0 / (0.7 * service_rate)).ceil().max(1.0) as u64;
    assert_eq!(plan["instances"].as_u64().unwrap(), instances, "{plan}");
    let table = stdout(&out);
    assert!(table.contains(plan["formula"].as_str().unwrap()), "{table}");
    assert!(table.contains("M/M/2"), "{table}");
}

#[test]
fn bad_load_flags_are_one_line_errors() {
    let tiny = model("tiny.onnx");
    let tiny = tiny.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--qps", "0"], "--qps 0"),
        (&["--qps", "-5"], "--qps -5"),
        (&["--qps", "10", "--duration", "0s"], "--duration 0"),
        (&["--qps", "10", "--duration", "25h"], "--duration 90000"),
        (&["--qps", "10", "--duration", "soon"], "--duration soon"),
        (&["--qps", "10", "--concurrency", "0"], "--concurrency 0"),
        (
            &["--qps", "10", "--concurrency", "100000"],
            "--concurrency 100000",
        ),
        (&["--qps", "1000000", "--duration", "11s"], "10000000"),
        (&["--qps", "10", "--peak-qps", "0"], "--peak-qps 0"),
        (
            &["--qps", "10", "--peak-qps", "5", "--safety", "0.5"],
            "--safety 0.5",
        ),
        (&["--qps", "10", "--slo-p99-ms", "-1"], "--slo-p99-ms -1"),
    ];
    for (args, expected) in cases {
        let mut all = vec!["load", tiny];
        all.extend_from_slice(args);
        assert_user_error(&modelgate(&all), expected);
    }
}

#[test]
fn with_an_slo_each_instance_takes_no_more_than_the_rate_whose_p99_met_it() {
    // Two SLOs: one the measured curve meets at some rate, and one it meets at none.
    for slo in ["2", "0.0001"] {
        let (out, file) = load(
            "tiny.onnx",
            &[
                "--qps",
                "100,400",
                "--duration",
                "0.4s",
                "--slo-p99-ms",
                slo,
                "--peak-qps",
                "10000",
            ],
        );
        let slo: f64 = slo.parse().unwrap();
        let rates = file["rates"].as_array().unwrap();
        let plan = &file["capacity"];
        // Recomputed from the JSON: the highest rate whose p99 met the SLO, every lower one too.
        let met: Vec<f64> = rates
            .iter()
            .take_while(|r| f(&r["latency"]["p99_ms"]) <= slo)
            .map(|r| f(&r["offered_qps"]))
            .collect();
        let by_utilization = f(&plan["service_rate_qps"]) * 0.7;
        let per_instance = f(&plan["per_instance_qps"]);
        match met.last() {
            Some(&rate) => {
                assert!(per_instance <= rate + 1e-9, "{plan}");
                assert!(
                    (per_instance - rate.min(by_utilization)).abs() < 1e-9,
                    "{plan}"
                );
                let rule = if rate < by_utilization {
                    "slo"
                } else {
                    "utilization"
                };
                assert_eq!(plan["rule"], rule, "{plan}");
            }
            None => {
                assert_eq!(plan["rule"], "slo-unmet", "{plan}");
                assert!(
                    plan["formula"]
                        .as_str()
                        .unwrap()
                        .starts_with("no measured rate met p99"),
                    "{plan}"
                );
            }
        }
        // The default safety factor, 1.5.
        let instances = (10000.0 * 1.5 / per_instance).ceil().max(1.0) as u64;
        assert_eq!(plan["instances"].as_u64().unwrap(), instances, "{plan}");
        let table = stdout(&out);
        assert!(table.contains(plan["formula"].as_str().unwrap()), "{table}");
    }
}

#[test]
fn the_load_curve_is_drawn_with_its_percentiles_objective_and_planned_rate() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("curve.svg");
    let png = dir.path().join("curve.png");
    for path in [&svg, &png] {
        let tiny = model("tiny.onnx");
        let out = modelgate(&[
            "load",
            tiny.to_str().unwrap(),
            "--qps",
            "50,100",
            "--duration",
            "0.3s",
            // An objective every rate meets on any machine, so the plan takes the highest
            // rate measured, 100 qps, and its line is drawn.
            "--slo-p99-ms",
            "1000",
            "--peak-qps",
            "1000",
            "--plot",
            path.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", support::stderr(&out));
        assert!(
            stdout(&out).contains("load curve drawn to"),
            "{}",
            stdout(&out)
        );
    }
    let text = std::fs::read_to_string(&svg).unwrap();
    for label in [
        "offered rate (requests/s)",
        "latency (ms, log scale)",
        "p50",
        "p95",
        "p99",
        "p99 objective 1000 ms",
    ] {
        assert!(text.contains(&format!("\n{label}\n</text>")), "{label}");
    }
    assert!(
        text.contains("planned per instance"),
        "the plan's rate is drawn"
    );
    // Two rates: two markers per percentile.
    assert_eq!(text.matches("<circle").count(), 6, "{text}");
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    // A path that is neither: refused before anything runs.
    let tiny = model("tiny.onnx");
    let out = modelgate(&[
        "load",
        tiny.to_str().unwrap(),
        "--qps",
        "50",
        "--plot",
        dir.path().join("curve.txt").to_str().unwrap(),
    ]);
    support::assert_user_error(&out, "curve.txt: give a path ending in .svg or .png");
}
