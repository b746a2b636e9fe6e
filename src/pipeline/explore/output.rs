//! The summary's outputs beside the JSON: CSV, markdown and the terminal's table.

use super::*;

pub(super) fn write(out: &Path, summary: &Summary) -> Result<()> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create --out {}", out.display()))?;
    crate::files::results::write_atomic(&out.join("dashboard.csv"), csv(summary).as_bytes())?;
    crate::files::results::write_json_atomic(&out.join("summary.json"), summary)?;
    if let Some(svg) = plot::tradeoff_svg(summary) {
        crate::files::results::write_atomic(&out.join("tradeoff.svg"), svg.as_bytes())?;
    }
    if let Some(png) = plot::tradeoff_png(summary) {
        crate::files::results::write_atomic(&out.join("tradeoff.png"), &png)?;
    }
    crate::files::results::write_atomic(&out.join("report.md"), markdown(summary).as_bytes())?;
    Ok(())
}

/// The CSV columns, in order; the names are `VariantRow`'s fields.
pub const CSV_COLUMNS: [&str; 54] = [
    "name",
    "file",
    "sha256",
    "provider",
    "opt_level",
    "intra_threads",
    "batch",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "sample_p50_ms",
    "sample_p95_ms",
    "sample_p99_ms",
    "throughput_samples_per_s",
    "model_size_mb",
    "peak_memory_mb",
    "memory_per_inference_mb",
    "memory_pressure_mb_per_sps",
    "energy_mj_per_inference",
    "accuracy",
    "recall",
    "f1",
    "auroc",
    "accuracy_change_pts",
    "accuracy_change_ci_low",
    "accuracy_change_ci_high",
    "accuracy_p_adj",
    "recall_change_pts",
    "recall_change_ci_low",
    "recall_change_ci_high",
    "recall_p_adj",
    "f1_change_pts",
    "f1_change_ci_low",
    "f1_change_ci_high",
    "f1_p_adj",
    "auroc_change_pts",
    "auroc_change_ci_low",
    "auroc_change_ci_high",
    "auroc_p_adj",
    "latency_p50_ratio",
    "latency_p50_ci_low",
    "latency_p50_ci_high",
    "latency_p50_p_adj",
    "latency_p95_ratio",
    "latency_p95_ci_low",
    "latency_p95_ci_high",
    "latency_p95_p_adj",
    "versus_reference",
    "composite_score",
    "meets_constraints",
    "missed",
    "pareto",
    "instances_for_peak",
];

/// `dashboard.csv`: one row per variant, the columns of [`CSV_COLUMNS`]; blank where a value is
/// not measured. Values come from the same JSON the summary holds.
pub fn csv(summary: &Summary) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push('\n');
    for row in &summary.variants {
        let value = serde_json::to_value(row).unwrap_or_default();
        let cells: Vec<String> = CSV_COLUMNS
            .iter()
            .map(|column| {
                let cell = match *column {
                    "pareto" => summary.pareto_front.contains(&row.name).to_string(),
                    "instances_for_peak" => row
                        .capacity
                        .as_ref()
                        .map_or(String::new(), |c| c.instances.to_string()),
                    "missed" => row.missed.join("; "),
                    _ => match &value[*column] {
                        serde_json::Value::Null => String::new(),
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                };
                csv_cell(&cell)
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// Quotes a cell holding a comma, quote or line break (RFC 4180), and defuses a leading `=`,
/// `+`, `-` or `@` that a spreadsheet would run as a formula, unless it is a number.
pub(super) fn csv_cell(text: &str) -> String {
    let text = crate::base::text::clean(text, 400);
    let formula = text.starts_with(['=', '+', '-', '@']) && text.parse::<f64>().is_err();
    let text = if formula { format!("'{text}") } else { text };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The report: the table, the bests, the notes, and the plot linked.
pub(super) fn markdown(summary: &Summary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "# Variants of `{}`\n", summary.model);
    let _ = writeln!(
        out,
        "Reference: `{}`. Changes are against it, per sample, with {} % intervals in brackets; p-values are Holm-adjusted across every test of this table (significance {}). The variants were timed together, in interleaved blocks. A latency ratio counts as distinguishable only beyond the model's tolerance ({} % at p50, {} % at p95), as the gate judges latency.\n",
        summary.reference,
        (1.0 - summary.significance) * 100.0,
        summary.significance,
        summary.latency_tolerance_pct[0],
        summary.latency_tolerance_pct[1]
    );
    let _ = writeln!(
        out,
        "| variant | p95 / batch | throughput | peak memory | energy / inference | accuracy | recall | vs reference | score | constraints |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---|---:|---|");
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.2} %", v * 100.0));
    for r in &summary.variants {
        let p = |p: f64| {
            if p < 0.001 {
                "< 0.001".to_string()
            } else {
                format!("{p:.3}")
            }
        };
        let mut parts = Vec::new();
        for d in r.differences() {
            if let (Some(value), Some(q)) = (d.value, d.p_adj) {
                let value = if d.ratio.is_some() {
                    format!("x{value:.2}")
                } else {
                    format!("{value:+.2} pts")
                };
                let ci = match (d.low, d.high) {
                    (Some(lo), Some(hi)) => format!(" [{lo:.2}, {hi:.2}]"),
                    _ => String::new(),
                };
                parts.push(format!("{} {value}{ci}, p(adj) {}", d.name, p(q)));
            }
        }
        let change = if parts.is_empty() {
            r.versus_reference.clone()
        } else {
            format!("{}: {}", r.versus_reference, parts.join("; "))
        };
        let _ = writeln!(
            out,
            "| {}{} | {} | {:.1} samples/s | {:.1} MiB | {} | {} | {} | {} | {:.3} | {} |",
            crate::report::escape::escape_md(&r.name),
            if summary.pareto_front.contains(&r.name) {
                " (Pareto)"
            } else {
                ""
            },
            crate::base::format::duration(r.latency_p95_ms),
            r.throughput_samples_per_s,
            r.peak_memory_mb,
            r.energy_mj_per_inference
                .map_or("-".to_string(), |e| format!("{e:.2} mJ")),
            pct(r.accuracy),
            pct(r.recall),
            change,
            r.composite_score,
            if r.meets_constraints {
                "met".to_string()
            } else {
                format!(
                    "missed: {}",
                    crate::report::escape::escape_md(&r.missed.join("; "))
                )
            }
        );
    }
    let _ = writeln!(out);
    for (dim, name) in &summary.best {
        let _ = writeln!(
            out,
            "- best {dim}: `{}`",
            crate::report::escape::escape_md(name)
        );
    }
    for (dim, names) in &summary.ties {
        let names: Vec<String> = names
            .iter()
            .map(|n| format!("`{}`", crate::report::escape::escape_md(n)))
            .collect();
        let _ = writeln!(
            out,
            "- {dim}: a tie between {}, not told apart from the reference",
            names.join(", ")
        );
    }
    for r in summary.variants.iter().filter(|r| !r.meets_constraints) {
        let _ = writeln!(
            out,
            "- `{}` is neither best nor on the front: it misses {}",
            crate::report::escape::escape_md(&r.name),
            crate::report::escape::escape_md(&r.missed.join("; "))
        );
    }
    for note in &summary.notes {
        let _ = writeln!(out, "- note: {}", crate::report::escape::escape_md(note));
    }
    let _ = writeln!(
        out,
        "\n![latency against {}](tradeoff.svg)",
        summary.tradeoff.name()
    );
    let _ = writeln!(out, "\nThe same plot as PNG: [tradeoff.png](tradeoff.png)");
    out
}

/// The table for the terminal: a line per variant, then the bests.
pub fn terminal(summary: &Summary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:>10} {:>12} {:>10} {:>9} {:>9}  {:<20} {:>6}  constraints",
        "variant", "p95", "samples/s", "peak MiB", "accuracy", "recall", "vs reference", "score"
    );
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.2} %", v * 100.0));
    for r in &summary.variants {
        let _ = writeln!(
            out,
            "{:<16} {:>10} {:>12.1} {:>10.1} {:>9} {:>9}  {:<20} {:>6.3}  {}",
            crate::base::text::clean(&r.name, 16),
            crate::base::format::duration(r.latency_p95_ms),
            r.throughput_samples_per_s,
            r.peak_memory_mb,
            pct(r.accuracy),
            pct(r.recall),
            r.versus_reference,
            r.composite_score,
            if r.meets_constraints {
                "met".to_string()
            } else {
                format!(
                    "missed: {}",
                    crate::base::text::clean(&r.missed.join("; "), 200)
                )
            }
        );
    }
    let name = |n: &String| crate::base::text::clean(n, 60);
    for (dim, n) in &summary.best {
        let _ = writeln!(out, "best {dim}: {}", name(n));
    }
    for (dim, names) in &summary.ties {
        let names: Vec<String> = names.iter().map(name).collect();
        let _ = writeln!(
            out,
            "{dim}: a tie between {}, not told apart from the reference",
            names.join(", ")
        );
    }
    for r in summary.variants.iter().filter(|r| !r.meets_constraints) {
        let _ = writeln!(
            out,
            "{} is neither best nor on the front: it misses {}",
            name(&r.name),
            crate::base::text::clean(&r.missed.join("; "), 200)
        );
    }
    for r in &summary.variants {
        if let Some(c) = &r.capacity {
            let _ = writeln!(
                out,
                "capacity {}: {} instances ({:.0} MiB); {}",
                crate::base::text::clean(&r.name, 40),
                c.instances,
                c.memory_mb_total,
                c.formula
            );
        }
    }
    let front: Vec<String> = summary.pareto_front.iter().map(name).collect();
    let _ = writeln!(
        out,
        "Pareto front (p95 latency, {}): {}",
        match summary.tradeoff {
            Tradeoff::Throughput => "alone",
            other => other.name(),
        },
        front.join(", ")
    );
    for note in &summary.notes {
        let _ = writeln!(out, "note: {}", crate::base::text::clean(note, 300));
    }
    out
}
