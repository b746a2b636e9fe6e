//! Plain-text rendering for the terminal: the tables a person reads after a command.
//!
//! Each function turns a stage's result into a string; printing is left to the caller. Markdown
//! and HTML reports are the report module's business, not this one's.

use std::fmt::Write;

use crate::bench::BenchResult;
use crate::results::ResultsFile;

/// Milliseconds with a sensible number of digits for their size.
pub fn fmt_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.1} ms")
    } else if ms >= 1.0 {
        format!("{ms:.3} ms")
    } else {
        format!("{:.2} µs", ms * 1000.0)
    }
}

/// Bytes as MiB.
pub fn fmt_mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
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
    for run in &bench.runs {
        let s = &run.summary;
        let _ = writeln!(
            out,
            "\n  batch {}  ({} timed runs in {:.1} s)",
            run.batch, s.n, run.wall_time_s
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
        let _ = writeln!(
            out,
            "    p50   {:>12}  {}",
            fmt_ms(s.p50_ms),
            ci(&s.p50_ci_ms)
        );
        let _ = writeln!(out, "    p90   {:>12}", fmt_ms(s.p90_ms));
        let _ = writeln!(
            out,
            "    p95   {:>12}  {}",
            fmt_ms(s.p95_ms),
            ci(&s.p95_ci_ms)
        );
        let _ = writeln!(
            out,
            "    p99   {:>12}  {}",
            fmt_ms(s.p99_ms),
            ci(&s.p99_ci_ms)
        );
        let _ = writeln!(out, "    p99.9 {:>12}", fmt_ms(s.p999_ms));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_milliseconds_by_magnitude() {
        assert_eq!(fmt_ms(0.0123), "12.30 µs");
        assert_eq!(fmt_ms(2.71828), "2.718 ms");
        assert_eq!(fmt_ms(250.0), "250.0 ms");
        assert_eq!(fmt_mib(3 * 1024 * 1024 / 2), "1.5 MiB");
    }
}
