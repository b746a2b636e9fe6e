//! The terminal's table of a load test.

use super::*;

/// The table on stdout: one line a rate, then the model, the SLO and the plan.
pub fn table(file: &LoadFile) -> String {
    let mut out = String::new();
    let s = &file.settings;
    out.push_str(&format!(
        "load {} on {} ({} session{}, {} s a rate, seed {})\n",
        file.model.path,
        file.provider,
        s.concurrency,
        if s.concurrency == 1 { "" } else { "s" },
        s.duration_s,
        s.seed
    ));
    out.push_str(&format!(
        "  {:>9} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6} {:>8}\n",
        "offered",
        "achieved",
        "requests",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "serve ms",
        "queue ms",
        "M/D ms",
        "M/M ms",
        "util",
        "L=X*W"
    ));
    let opt = |v: Option<f64>| v.map_or_else(|| "inf".to_string(), |v| format!("{v:.3}"));
    for r in &file.rates {
        out.push_str(&format!(
            "  {:>9} {:>9.1} {:>8} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9} {:>9} {:>5.0}% {:>8.3}\n",
            fmt_rate(r.offered_qps),
            r.achieved_qps,
            r.requests,
            r.latency.p50_ms,
            r.latency.p95_ms,
            r.latency.p99_ms,
            r.latency.max_ms,
            r.mean_service_ms,
            r.mean_queue_ms,
            opt(r.predicted_queue.deterministic_ms),
            opt(r.predicted_queue.exponential_ms),
            r.utilization * 100.0,
            r.mean_in_system
        ));
    }
    out.push_str(
        "  latency runs from each request's scheduled arrival to its completion (queueing included)\n",
    );
    out.push_str(&format!("  queue model: {}\n", file.queue_model));
    out.push_str(
        "  L = X*W: Little's law, mean requests in system = achieved rate x mean latency\n",
    );
    if let Some(slo) = &file.slo {
        match slo.first_rate_over_qps {
            Some(rate) => out.push_str(&format!(
                "  SLO p99 <= {} ms: first crossed at {} qps\n",
                slo.p99_ms,
                fmt_rate(rate)
            )),
            None => out.push_str(&format!(
                "  SLO p99 <= {} ms: met at every rate\n",
                slo.p99_ms
            )),
        }
    }
    if let Some(plan) = &file.capacity {
        out.push_str(&format!(
            "  capacity: {} instance{} for peak {} qps, {:.1} qps each ({})\n  {}\n",
            plan.instances,
            if plan.instances == 1 { "" } else { "s" },
            fmt_rate(plan.peak_qps),
            plan.per_instance_qps,
            match plan.rule {
                CapacityRule::Utilization => "by utilization",
                CapacityRule::Slo => "by the p99 SLO",
                CapacityRule::SloUnmet => "the p99 SLO was met at no rate",
            },
            plan.formula
        ));
    }
    for note in &file.notes {
        out.push_str(&format!("  note: {note}\n"));
    }
    out
}
