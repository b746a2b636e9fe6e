//! Plain-text rendering for the terminal: the tables a person reads after a command.
//!
//! Each function turns a stage's result into a string; printing is left to the caller. Markdown
//! and HTML reports are the report module's business, not this one's.

use std::fmt::Write;

use crate::compare::{Comparison, LatencySource, Status};
use crate::engine::runtime::profile::OpProfile;
use crate::files::results::ResultsFile;
use crate::measure::bench::BenchResult;
use crate::validate::eval::EvalResult;

/// Milliseconds in the unit that fits them (ns, µs, ms or s).
pub fn fmt_ms(ms: f64) -> String {
    crate::base::format::duration(ms)
}

/// Bytes as MiB.
pub fn fmt_mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

use crate::engine::runtime::profile::PROFILE_TOP;

/// The operator profile: the slowest nodes, then every op type.
pub fn profile_table(p: &OpProfile) -> String {
    let mut out = String::new();
    let of_run = p
        .node_share_of_run_pct
        .map(|s| format!(", {s:.0} % of the runs' time"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\n  operator profile ({} runs, {} nodes, {} of node time per run{of_run})",
        p.runs,
        p.node_count,
        fmt_ms(p.node_total_us / 1000.0 / p.runs.max(1) as f64)
    );
    let _ = writeln!(
        out,
        "  {:<18} {:<36} {:>6} {:>10} {:>7}",
        "op type", "node", "count", "mean", "share"
    );
    for n in p.nodes.iter().take(PROFILE_TOP) {
        let _ = writeln!(
            out,
            "  {:<18} {:<36} {:>6} {:>10} {:>6.1}%",
            n.op_type,
            crate::base::text::clean(&n.name, 36),
            n.count,
            fmt_ms(n.mean_us / 1000.0),
            n.share_pct
        );
    }
    let _ = writeln!(
        out,
        "\n  {:<18} {:>6} {:>8} {:>10} {:>7}",
        "by op type", "nodes", "calls", "total", "share"
    );
    for t in &p.op_types {
        let _ = writeln!(
            out,
            "  {:<18} {:>6} {:>8} {:>10} {:>6.1}%",
            t.op_type,
            t.nodes,
            t.count,
            fmt_ms(t.total_us / 1000.0),
            t.share_pct
        );
    }
    out
}

/// Bottleneck advice, one line each; nothing when there is none.
pub fn advice_lines(lines: &[String]) -> String {
    let mut out = String::new();
    if lines.is_empty() {
        return out;
    }
    let _ = writeln!(out, "\n  what to try:");
    for line in lines {
        let _ = writeln!(out, "  - {line}");
    }
    out
}

/// The bench table: one block per batch size, then cold start, memory and environment.
pub fn bench_table(results: &ResultsFile, bench: &BenchResult) -> String {
    let mut out = String::new();
    let env = &results.environment;
    let _ = writeln!(
        out,
        "{}  ({}, {} on {} x {}, ONNX Runtime {})",
        results.model.path,
        fmt_mib(results.model.size_bytes),
        bench.provider,
        env.cpu_cores,
        env.cpu_model,
        results.onnxruntime.version
    );
    let interface = &results.model.interface;
    for (kind, specs) in [
        ("input ", &interface.inputs),
        ("output", &interface.outputs),
    ] {
        for spec in specs {
            let _ = writeln!(
                out,
                "  {kind} {} {:?} [{}]",
                spec.name,
                spec.elem,
                crate::engine::model::format_dims(&spec.dims)
            );
        }
    }
    for run in &bench.runs {
        let s = &run.summary;
        let shapes: Vec<String> = run
            .inputs
            .iter()
            .map(|i| {
                format!(
                    "{} {}",
                    i.name,
                    i.shape
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join("x")
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "\n  batch {}  ({} timed runs in {:.1} s; {})",
            run.batch,
            s.n,
            run.wall_time_s,
            shapes.join(", ")
        );
        let _ = writeln!(
            out,
            "    mean  {:>12}  ± {:<10} (95 % CI {} .. {}, cv {:.1} %)",
            fmt_ms(s.mean_ms),
            s.std_dev_ms.map(fmt_ms).unwrap_or_else(|| "-".into()),
            s.mean_ci_ms
                .map(|c| fmt_ms(c.lower))
                .unwrap_or_else(|| "-".into()),
            s.mean_ci_ms
                .map(|c| fmt_ms(c.upper))
                .unwrap_or_else(|| "-".into()),
            s.cv.unwrap_or(0.0) * 100.0
        );
        let ci = |c: &Option<crate::stats::Interval>| match c {
            Some(c) => format!("(95 % CI {} .. {})", fmt_ms(c.lower), fmt_ms(c.upper)),
            None => "(too few runs for a CI)".to_string(),
        };
        let rows = [
            ("p50  ", s.p50_ms, Some(&s.p50_ci_ms)),
            ("p90  ", s.p90_ms, None),
            ("p95  ", s.p95_ms, Some(&s.p95_ci_ms)),
            ("p99  ", s.p99_ms, Some(&s.p99_ci_ms)),
            ("p99.9", s.p999_ms, None),
        ];
        for (label, value, interval) in rows {
            let interval = interval.map(|c| format!("  {}", ci(c))).unwrap_or_default();
            let _ = writeln!(out, "    {label} {:>12}{interval}", fmt_ms(value));
        }
        let _ = writeln!(
            out,
            "    min   {:>12}   max {}",
            fmt_ms(s.min_ms),
            fmt_ms(s.max_ms)
        );
        let o = &s.outliers;
        let _ = writeln!(
            out,
            "    throughput {:.1} samples/s; outliers (Tukey): {} low, {} high ({} severe)",
            run.throughput_samples_per_s,
            o.low_mild + o.low_severe,
            o.high_mild + o.high_severe,
            o.low_severe + o.high_severe
        );
        if let Some(copy) = &run.transfer {
            let _ = writeln!(
                out,
                "    copies (not in the runs above): host to device {} for {}, device to host {} for {}",
                fmt_ms(copy.h2d_ms),
                fmt_mib(copy.input_bytes),
                fmt_ms(copy.d2h_ms),
                fmt_mib(copy.output_bytes)
            );
        }
        if let Some(gpu) = &run.gpu {
            out.push_str(&gpu_lines(gpu, run.batch));
        }
        if let Some(mj) = run.cpu_energy_per_run_mj {
            let _ = writeln!(
                out,
                "    cpu energy {mj:.3} mJ per run (RAPL: the whole CPU packages, other processes included)"
            );
        }
    }
    if let Some(placement) = &bench.placement {
        let nodes: Vec<String> = placement
            .nodes_by_provider
            .iter()
            .map(|(provider, n)| format!("{n} on {provider}"))
            .collect();
        let _ = writeln!(out, "\n  nodes: {}", nodes.join(", "));
    }
    let _ = writeln!(
        out,
        "\n  cold start: session {} + first run {}",
        fmt_ms(bench.cold_start.session_create_ms),
        fmt_ms(bench.cold_start.first_run_ms)
    );
    let _ = writeln!(
        out,
        "  memory: model file {}, load +{}, peak RSS {}",
        fmt_mib(bench.memory.model_file_bytes),
        fmt_mib(bench.memory.load_growth_bytes),
        fmt_mib(bench.memory.peak_rss_bytes)
    );
    if let Some(gpu) = &bench.gpu {
        let power = gpu
            .power_watts
            .map(|w| format!(", {w:.0} W"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  gpu: {} (driver {}), {} used{}",
            gpu.name,
            gpu.driver,
            fmt_mib(gpu.memory_used_bytes),
            power
        );
    }
    for note in &bench.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    out
}

/// What the GPU did during one batch size's timed runs: energy per inference first, then power,
/// clocks and temperature, then a warning when it throttled.
fn gpu_lines(gpu: &crate::machine::gpu::GpuTelemetry, batch: i64) -> String {
    let mut out = String::new();
    let mj = |v: f64| format!("{v:.3} mJ");
    let energy = match (gpu.energy_per_run_mj, gpu.power_energy_per_run_mj) {
        (Some(e), cross) => {
            let per_sample = if batch > 1 {
                format!(", {} per sample", mj(e / batch as f64))
            } else {
                String::new()
            };
            let cross = cross
                .map(|c| format!(" (power x time: {})", mj(c)))
                .unwrap_or_default();
            format!("{} per run{per_sample}{cross}", mj(e))
        }
        (None, Some(c)) => format!("{} per run from power x time (no energy counter)", mj(c)),
        (None, None) => "not reported".into(),
    };
    let _ = writeln!(out, "    gpu energy {energy}");
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let _ = writeln!(
        out,
        "    gpu power {} W mean, {} W max; SM clock {} MHz median ({} .. {}); {} % busy; {} C max ({} readings)",
        opt(gpu.power_mean_w.map(|w| format!("{w:.0}"))),
        opt(gpu.power_max_w.map(|w| format!("{w:.0}"))),
        opt(gpu.sm_clock_median_mhz.map(|c| format!("{c:.0}"))),
        opt(gpu.sm_clock_min_mhz.map(|c| c.to_string())),
        opt(gpu.sm_clock_max_mhz.map(|c| c.to_string())),
        opt(gpu.gpu_utilization_mean_pct.map(|u| format!("{u:.0}"))),
        opt(gpu.temperature_max_c.map(|t| t.to_string())),
        gpu.samples
    );
    if !gpu.throttle_reasons.is_empty() {
        let _ = writeln!(
            out,
            "    warning: the GPU throttled ({}); this latency is not its steady speed",
            gpu.throttle_reasons.join(", ")
        );
    }
    out
}

/// The eval table: metrics, per-class numbers, confusion matrix, stage breakdown.
pub fn eval_table(model: &str, eval: &EvalResult) -> String {
    let mut out = String::new();
    let m = &eval.metrics;
    let _ = writeln!(
        out,
        "{model} on {} ({} samples, {} classes)",
        eval.dataset.path,
        m.n,
        eval.dataset.classes.len()
    );
    let _ = writeln!(
        out,
        "  accuracy {:.2} % (95 % Wilson CI {:.2} .. {:.2} %)",
        m.accuracy * 100.0,
        m.accuracy_ci95.lower * 100.0,
        m.accuracy_ci95.upper * 100.0
    );
    if let Some(p) = &m.positive {
        let ci = p.recall_ci95.map(|c| {
            format!(
                " (95 % Wilson CI {:.2} .. {:.2} %)",
                c.lower * 100.0,
                c.upper * 100.0
            )
        });
        let _ = writeln!(
            out,
            "  recall of {} {:.2} %{}",
            p.name,
            p.recall * 100.0,
            ci.unwrap_or_default()
        );
    }
    let auroc = m
        .auroc
        .map(|a| format!("{a:.4}"))
        .unwrap_or_else(|| "n/a".into());
    let _ = writeln!(
        out,
        "  macro precision {:.4}  recall {:.4}  F1 {:.4}  AUROC {auroc}",
        m.macro_precision, m.macro_recall, m.macro_f1
    );
    let _ = writeln!(
        out,
        "\n  {:<16} {:>9} {:>9} {:>9} {:>8}",
        "class", "precision", "recall", "F1", "support"
    );
    for c in &m.per_class {
        let _ = writeln!(
            out,
            "  {:<16} {:>9.4} {:>9.4} {:>9.4} {:>8}",
            c.name, c.precision, c.recall, c.f1, c.support
        );
    }
    let _ = writeln!(out, "\n  confusion matrix (rows true, columns predicted):");
    for (name, row) in eval.dataset.classes.iter().zip(&m.confusion) {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:>5}")).collect();
        let _ = writeln!(out, "  {name:<16}{}", cells.join(""));
    }
    let s = &eval.stages;
    let _ = writeln!(
        out,
        "\n  per sample: preprocessing {} ({:.0} %), inference {} ({:.0} %), postprocessing {} ({:.0} %)",
        fmt_ms(s.preprocess_ms_per_sample),
        s.preprocess_pct,
        fmt_ms(s.inference_ms_per_sample),
        s.inference_pct,
        fmt_ms(s.postprocess_ms_per_sample),
        s.postprocess_pct
    );
    let bottleneck = match (&s.primary_bottleneck, s.secondary_bottlenecks.is_empty()) {
        (Some(p), true) => format!("primary bottleneck: {p}"),
        (Some(p), false) => format!(
            "primary bottleneck: {p}; secondary: {}",
            s.secondary_bottlenecks.join(", ")
        ),
        (None, false) => format!(
            "no primary bottleneck; secondary: {}",
            s.secondary_bottlenecks.join(", ")
        ),
        (None, true) => "no bottleneck".into(),
    };
    let _ = writeln!(out, "  {bottleneck}");
    let _ = writeln!(
        out,
        "  throughput {:.1} samples/s over the whole pipeline ({:.2} s)",
        eval.throughput_samples_per_s, eval.wall_time_s
    );
    out
}

fn status_mark(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "FAIL",
        Status::Inconclusive => "inconclusive",
        Status::Skipped => "skipped",
        Status::Unresolved => "unresolved",
    }
}

/// The verdict table of a comparison.
pub fn comparison_table(comparison: &Comparison) -> String {
    let mut out = String::new();
    for model in &comparison.models {
        let _ = writeln!(out, "{}: {}", model.name, model.verdict.label());
        if let Some(error) = &model.error {
            let _ = writeln!(out, "  error: {error}");
        }
        let source = match &model.latency_source {
            LatencySource::SameRunnerAb => "same-runner A/B".to_string(),
            LatencySource::CommittedBaseline => "committed baseline (same hardware)".to_string(),
            LatencySource::NotComparable { reason } => {
                format!("committed baseline, advisory only: {reason}")
            }
            LatencySource::ModelUnchanged => "nothing: the model is unchanged".to_string(),
            LatencySource::Rejected { reason } => format!("rejected reference: {reason}"),
            LatencySource::None => "no baseline".to_string(),
        };
        if let Some(baseline) = model.baseline_sha256.as_deref() {
            let short = |sha: &str| sha.chars().take(12).collect::<String>();
            let _ = writeln!(
                out,
                "  baseline model SHA-256 {}, candidate {}",
                short(baseline),
                short(&model.candidate_sha256)
            );
        }
        let _ = writeln!(out, "  latency compared against: {source}");
        let latency = model.latency.as_ref();
        // The name column fits the longest name (a slice's name can be long), so the values
        // always start in one column.
        let name_width = model
            .criteria
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(0)
            .max(28);
        for c in &model.criteria {
            let value = |v: Option<f64>| crate::base::format::value(v, &c.unit);
            // A floor or a limit has no baseline value: the candidate's alone.
            let values = match c.baseline {
                Some(_) => format!("{} -> {}", value(c.baseline), value(c.candidate)),
                None => value(c.candidate),
            };
            let test = c.test.and_then(|i| model.tests.get(i));
            // The adjusted p-value where it explains a verdict, not under every pass.
            let p = match (c.status, test.and_then(|t| t.adjusted_p)) {
                (Status::Fail | Status::Inconclusive, Some(p)) if p < 0.001 => {
                    "  p(adj) < 0.001".to_string()
                }
                (Status::Fail | Status::Inconclusive, Some(p)) => format!("  p(adj) {p:.3}"),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "  {:<13} {:<name_width$} {values}{p}  {}",
                status_mark(c.status),
                c.name,
                c.detail
            );
            if let Some(why) = crate::report::explain::why(c, test, model.significance, latency) {
                let _ = writeln!(out, "  {:<13} why: {why}", "");
            }
        }
        if let Some(diff) = &model.operators {
            out.push_str(&operators_lines(diff));
        }
        for reason in &model.reasons {
            let _ = writeln!(out, "  reason: {reason}");
        }
        // Which files were judged (the candidate at a commit, the base it was timed against)
        // and whether the figures were measured elsewhere, so a log shows it.
        const SHOWN: [&str; 4] = [
            "candidate model: ",
            "base model: ",
            "unverified: ",
            "evaluated in ",
        ];
        for note in model
            .notes
            .iter()
            .filter(|n| SHOWN.iter().any(|p| n.starts_with(p)))
        {
            let _ = writeln!(
                out,
                "  {}",
                crate::base::text::clean(note, crate::base::text::TEXT_MAX_CHARS)
            );
        }
    }
    let _ = writeln!(out, "verdict: {}", comparison.verdict.label());
    out
}

/// The operator diff under a model's criteria: the headline, then a row per op type and the
/// nodes only one model has.
fn operators_lines(diff: &crate::compare::operators::OperatorDiff) -> String {
    use crate::report::escape::Text;
    let v = crate::report::operators::operators_view(diff, Text(crate::report::Format::Html));
    let mut out = String::new();
    let _ = writeln!(out, "  operators, base -> candidate: {}", v.headline);
    let _ = writeln!(out, "    {}", v.caption);
    let _ = writeln!(
        out,
        "    {:<18} {:>11} {:>11} {:>11} {:>11} {:>9}",
        "op type", "nodes", "base", "candidate", "change", "of run"
    );
    for r in &v.rows {
        let _ = writeln!(
            out,
            "    {:<18} {:>11} {:>11} {:>11} {:>11} {:>9}",
            crate::base::text::clean(&r.op_type, 18),
            r.nodes,
            r.baseline,
            r.candidate,
            r.change,
            r.of_run
        );
    }
    for n in &v.added {
        let _ = writeln!(out, "    only in the candidate: {n}");
    }
    for n in &v.removed {
        let _ = writeln!(out, "    only in the base model: {n}");
    }
    if let Some(more) = &v.more {
        let _ = writeln!(out, "    {more}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_milliseconds_by_magnitude() {
        // Each value in its own unit, so microseconds are never rounded away as "0.003 ms".
        assert_eq!(fmt_ms(0.0000456), "45.60 ns");
        assert_eq!(fmt_ms(0.0029), "2.900 µs");
        assert_eq!(fmt_ms(0.0123), "12.30 µs");
        assert_eq!(fmt_ms(0.412), "412.0 µs");
        assert_eq!(fmt_ms(4.56789), "4.568 ms");
        assert_eq!(fmt_ms(250.0), "250.0 ms");
        assert_eq!(fmt_ms(1500.0), "1.500 s");
        assert_eq!(fmt_ms(f64::NAN), "—");
        assert_eq!(fmt_mib(3 * 1024 * 1024 / 2), "1.5 MiB");
    }

    #[test]
    fn gpu_lines_show_energy_per_inference_and_the_throttle_warning() {
        let mut gpu = crate::machine::gpu::GpuTelemetry {
            samples: 50,
            window_s: 1.0,
            power_mean_w: Some(312.4),
            power_max_w: Some(401.0),
            sm_clock_min_mhz: Some(1755),
            sm_clock_median_mhz: Some(1980.0),
            sm_clock_max_mhz: Some(1980),
            memory_clock_median_mhz: Some(2619.0),
            gpu_utilization_mean_pct: Some(87.5),
            memory_utilization_mean_pct: Some(40.0),
            temperature_max_c: Some(71),
            throttle_reasons: vec!["software power cap".into()],
            energy_mj: Some(300_000),
            energy_per_run_mj: Some(300.0),
            power_energy_per_run_mj: Some(312.4),
            process_memory_bytes: None,
        };
        let text = gpu_lines(&gpu, 4);
        assert!(
            text.contains(
                "gpu energy 300.000 mJ per run, 75.000 mJ per sample (power x time: 312.400 mJ)"
            ),
            "{text}"
        );
        assert!(text.contains("gpu power 312 W mean, 401 W max; SM clock 1980 MHz median (1755 .. 1980); 88 % busy; 71 C max (50 readings)"), "{text}");
        assert!(
            text.contains("warning: the GPU throttled (software power cap)"),
            "{text}"
        );
        gpu.throttle_reasons.clear();
        gpu.energy_per_run_mj = None;
        let text = gpu_lines(&gpu, 1);
        assert!(
            text.contains("gpu energy 312.400 mJ per run from power x time (no energy counter)"),
            "{text}"
        );
        assert!(!text.contains("warning"), "{text}");
    }
}
