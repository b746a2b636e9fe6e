//! `modelgate load`: an open-loop load test and the capacity plan that follows from it.
//!
//! At each offered rate the arrival times are drawn ahead of the run from a Poisson process
//! (exponential gaps, seeded). Each request goes to the first free of N sessions, in arrival
//! order, and is never skipped when the system falls behind. Its latency runs from its
//! *scheduled* arrival to its completion, so time spent queued behind a slow request counts:
//! the measurement is free of coordinated omission, as in wrk2 and HdrHistogram. Percentiles come
//! from HdrHistogram (3 significant digits); means are exact sums.
//!
//! The queueing delay measured is set beside a queueing model's prediction: M/D/1 for one
//! session (Pollaczek-Khinchine with constant service, since inference takes close to the same
//! time every run) and M/M/1 as the upper reference; for N sessions M/M/c (Erlang C) and M/D/c
//! approximated as half of it (Allen-Cunneen with constant service). This module measures and
//! returns plain data; it prints nothing but the table it is asked for.

pub mod plot;
mod queueing;
mod table;

pub use queueing::*;
pub use table::*;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Exp};
use serde::{Deserialize, Serialize};

use crate::base::limits;
use crate::engine::inputs;
use crate::engine::model::{ResolvedInput, ShapeRequest};
use crate::engine::runtime::{LoadedModel, Runtime, SessionSettings};
use crate::measure::bench;

/// Version of the load file's layout.
pub const LOAD_SCHEMA_VERSION: u32 = 1;

/// The utilization past which queueing delay grows fast; capacity is planned at it.
pub const TARGET_UTILIZATION: f64 = 0.7;

/// Untimed runs of every session before the first rate.
const WARMUP_RUNS: u64 = 20;

/// What to offer and how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadSettings {
    /// Offered rates, requests per second, ascending.
    pub rates_qps: Vec<f64>,
    /// Seconds of arrivals at each rate.
    pub duration_s: f64,
    /// Sessions serving requests side by side.
    pub concurrency: usize,
    /// Seed of the arrival times and of the random input data.
    pub seed: u64,
    /// The latency objective: p99 end-to-end latency, in milliseconds.
    pub slo_p99_ms: Option<f64>,
    /// The peak rate the capacity plan is for.
    pub peak_qps: Option<f64>,
    /// Headroom factor over the peak.
    pub safety: f64,
    /// Whether every request's times are kept in the file.
    pub keep_records: bool,
    pub session: SessionSettings,
}

/// End-to-end latency percentiles, milliseconds from scheduled arrival to completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LatencyPercentiles {
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// One request's times, in milliseconds from the start of its rate's run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RequestRecord {
    /// When it was due to arrive.
    pub scheduled_ms: f64,
    /// When a session started running it.
    pub start_ms: f64,
    /// When it completed.
    pub end_ms: f64,
}

/// The queueing model's prediction of the mean queueing delay at one rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Prediction {
    /// Constant service: M/D/1, or M/D/c as half of M/M/c's wait. None at or past capacity.
    pub deterministic_ms: Option<f64>,
    /// Exponential service (the upper reference): M/M/1 or M/M/c. None at or past capacity.
    pub exponential_ms: Option<f64>,
}

/// What one offered rate gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RateResult {
    pub offered_qps: f64,
    /// Requests made (all of them completed).
    pub requests: u64,
    /// Seconds from the start of the run to the end of the arrivals' span or the last
    /// completion, whichever is later.
    pub wall_time_s: f64,
    /// Completions per second of wall time.
    pub achieved_qps: f64,
    pub latency: LatencyPercentiles,
    /// Mean time a session spent running one request.
    pub mean_service_ms: f64,
    /// Mean time from scheduled arrival to the start of the run.
    pub mean_queue_ms: f64,
    /// Requests per second the sessions serve together: concurrency / mean service time.
    pub service_rate_qps: f64,
    /// Offered rate over service rate.
    pub utilization: f64,
    /// Little's law: achieved rate x mean latency.
    pub mean_in_system: f64,
    pub predicted_queue: Prediction,
    /// Every request, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<Vec<RequestRecord>>,
}

/// The first rate whose p99 is over the objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SloResult {
    pub p99_ms: f64,
    /// None when every rate met it.
    pub first_rate_over_qps: Option<f64>,
}

/// Instances needed for a peak rate with headroom, each run at the target utilization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CapacityPlan {
    pub peak_qps: f64,
    pub safety: f64,
    pub target_utilization: f64,
    /// One instance's service rate (its sessions together), requests per second.
    pub service_rate_qps: f64,
    /// The offered rate whose measured service time it comes from.
    pub measured_at_qps: f64,
    /// The rate each instance is planned to take: the lower of the service rate x the target
    /// utilization and, with an SLO, the highest measured rate whose p99 met it.
    pub per_instance_qps: f64,
    /// Which rate decided `per_instance_qps`.
    pub rule: CapacityRule,
    pub instances: u64,
    /// The arithmetic, written out.
    pub formula: String,
}

/// What decided a capacity plan's rate per instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CapacityRule {
    /// The service rate x the target utilization (no SLO, or the SLO allows more).
    Utilization,
    /// The highest measured rate whose p99 met the SLO.
    Slo,
    /// An SLO no measured rate met: the plan is by utilization and cannot promise the SLO.
    SloUnmet,
}

/// The model the load test ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadModel {
    pub path: String,
    pub sha256: String,
}

/// The load file (`modelgate load --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadFile {
    pub schema_version: u32,
    pub model: LoadModel,
    pub onnxruntime_version: String,
    /// The provider the sessions run on.
    pub provider: String,
    pub settings: LoadSettings,
    pub inputs: Vec<ResolvedInput>,
    /// The queueing model the predictions come from.
    pub queue_model: String,
    pub rates: Vec<RateResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<SloResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacityPlan>,
    /// Things the reader should know, such as a rate over the 70 % guidance.
    pub notes: Vec<String>,
}

/// The JSON Schema of the load file.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(LoadFile);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Parses a duration: `30s`, `500ms`, `2m`, `1h`, or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<f64> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => bail!("--duration {text}: expected a number with ms, s, m or h, e.g. --duration 30s"),
    };
    let value: f64 = number.trim().parse().map_err(|_| {
        anyhow!("--duration {text}: expected a number with ms, s, m or h, e.g. --duration 30s")
    })?;
    Ok(value * scale)
}

/// Arrival times in nanoseconds from the start, a Poisson process at `rate` per second over
/// `duration_s` seconds: exponential gaps of mean 1/rate.
pub fn poisson_arrivals(rate: f64, duration_s: f64, rng: &mut StdRng) -> Result<Vec<u64>> {
    let gap = Exp::new(rate).map_err(|e| anyhow!("--qps {rate}: {e}"))?;
    let expected = (rate * duration_s).ceil() as usize;
    let mut arrivals = Vec::with_capacity(expected.min(limits::MAX_LOAD_REQUESTS as usize));
    let mut t = 0.0;
    loop {
        t += gap.sample(rng);
        if t >= duration_s || arrivals.len() as u64 >= limits::MAX_LOAD_REQUESTS {
            break;
        }
        arrivals.push((t * 1e9) as u64);
    }
    Ok(arrivals)
}

/// What one open-loop run measured, before it is summarised.
pub struct Measured {
    pub latency_ns: Histogram<u64>,
    pub requests: u64,
    pub sum_latency_ns: u128,
    pub sum_service_ns: u128,
    pub sum_queue_ns: u128,
    /// Nanoseconds from the start to the last completion.
    pub wall_ns: u64,
    pub records: Option<Vec<RequestRecord>>,
}

fn histogram() -> Histogram<u64> {
    // One nanosecond to a day, three significant digits; the bounds are constants that hold.
    Histogram::new_with_bounds(1, 86_400_000_000_000, 3).expect("valid histogram bounds")
}

/// Sleeps until 2 ms before `due`, then spins, so a request starts on time (a sleeping thread
/// wakes late on a busy machine) without a core spinning for the whole gap.
fn wait_until(due: Instant) {
    loop {
        let now = Instant::now();
        if now >= due {
            return;
        }
        let left = due - now;
        if left > Duration::from_millis(3) {
            std::thread::sleep(left - Duration::from_millis(2));
        } else {
            std::hint::spin_loop();
        }
    }
}

/// Runs the open loop: request `i` is due at `arrivals_ns[i]` after the start; each worker
/// (one per session) takes the next request in arrival order as soon as it is free, waits for
/// its arrival if it is early, and serves it. No request is skipped. Latency runs from the
/// scheduled arrival to the completion.
pub fn run_open_loop<W>(
    arrivals_ns: &[u64],
    workers: Vec<W>,
    keep_records: bool,
) -> Result<Measured>
where
    W: FnMut() -> Result<()> + Send,
{
    struct Local {
        latency: Histogram<u64>,
        sum_latency: u128,
        sum_service: u128,
        sum_queue: u128,
        last_end: u64,
        records: Vec<(usize, RequestRecord)>,
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    // A little lead, so every worker is waiting before the first arrival.
    let start = Instant::now() + Duration::from_millis(2);
    let ns = |d: Duration| d.as_nanos() as u64;
    let locals: Vec<Local> = std::thread::scope(|scope| {
        let handles: Vec<_> = workers
            .into_iter()
            .map(|mut work| {
                let (next, failed, error) = (&next, &failed, &error);
                scope.spawn(move || {
                    let mut local = Local {
                        latency: histogram(),
                        sum_latency: 0,
                        sum_service: 0,
                        sum_queue: 0,
                        last_end: 0,
                        records: Vec::new(),
                    };
                    while !failed.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&at) = arrivals_ns.get(i) else { break };
                        let due = start + Duration::from_nanos(at);
                        wait_until(due);
                        let t0 = Instant::now();
                        if let Err(e) = work() {
                            failed.store(true, Ordering::Relaxed);
                            error.lock().map(|mut slot| *slot = Some(e)).ok();
                            break;
                        }
                        let t1 = Instant::now();
                        let latency = ns(t1 - due);
                        let queue = ns(t0 - due);
                        local.latency.saturating_record(latency.max(1));
                        local.sum_latency += latency as u128;
                        local.sum_queue += queue as u128;
                        local.sum_service += ns(t1 - t0) as u128;
                        local.last_end = local.last_end.max(ns(t1 - start));
                        if keep_records {
                            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
                            local.records.push((
                                i,
                                RequestRecord {
                                    scheduled_ms: at as f64 / 1e6,
                                    start_ms: ms(t0 - start),
                                    end_ms: ms(t1 - start),
                                },
                            ));
                        }
                    }
                    local
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    if let Some(e) = error.lock().ok().and_then(|mut slot| slot.take()) {
        return Err(e);
    }
    let mut measured = Measured {
        latency_ns: histogram(),
        requests: 0,
        sum_latency_ns: 0,
        sum_service_ns: 0,
        sum_queue_ns: 0,
        wall_ns: 0,
        records: keep_records.then(Vec::new),
    };
    let mut records = Vec::new();
    for local in locals {
        measured.requests += local.latency.len();
        measured
            .latency_ns
            .add(&local.latency)
            .map_err(|e| anyhow!("cannot merge latency histograms: {e}"))?;
        measured.sum_latency_ns += local.sum_latency;
        measured.sum_service_ns += local.sum_service;
        measured.sum_queue_ns += local.sum_queue;
        measured.wall_ns = measured.wall_ns.max(local.last_end);
        records.extend(local.records);
    }
    if keep_records {
        records.sort_by_key(|(i, _)| *i);
        measured.records = Some(records.into_iter().map(|(_, r)| r).collect());
    }
    Ok(measured)
}

/// Summarises one rate's run, whose arrivals spanned `duration_s`: its wall time is that or
/// the last completion, whichever is later.
pub fn rate_result(
    offered_qps: f64,
    duration_s: f64,
    concurrency: usize,
    measured: Measured,
) -> Result<RateResult> {
    let n = measured.requests;
    if n == 0 {
        bail!(
            "--qps {offered_qps}: no request arrived within --duration; offer a higher rate or a longer --duration"
        );
    }
    let h = &measured.latency_ns;
    let ms = |ns: u64| ns as f64 / 1e6;
    let mean = |sum: u128| sum as f64 / n as f64 / 1e6;
    let wall_time_s = (measured.wall_ns as f64 / 1e9).max(duration_s);
    let achieved_qps = n as f64 / wall_time_s.max(1e-9);
    let latency = LatencyPercentiles {
        mean_ms: mean(measured.sum_latency_ns),
        p50_ms: ms(h.value_at_quantile(0.50)),
        p95_ms: ms(h.value_at_quantile(0.95)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
    };
    let mean_service_ms = mean(measured.sum_service_ns);
    let mu = 1000.0 / mean_service_ms.max(1e-9);
    let service_rate_qps = mu * concurrency as f64;
    let to_ms = |s: Option<f64>| s.map(|s| s * 1000.0);
    Ok(RateResult {
        offered_qps,
        requests: n,
        wall_time_s,
        achieved_qps,
        mean_service_ms,
        mean_queue_ms: mean(measured.sum_queue_ns),
        service_rate_qps,
        utilization: offered_qps / service_rate_qps,
        mean_in_system: achieved_qps * latency.mean_ms / 1000.0,
        predicted_queue: Prediction {
            deterministic_ms: to_ms(mdc_wait_s(offered_qps, mu, concurrency)),
            exponential_ms: to_ms(mmc_wait_s(offered_qps, mu, concurrency)),
        },
        latency,
        records: measured.records,
    })
}

/// Instances serving `service_rate_qps` each, run at [`TARGET_UTILIZATION`], that carry
/// `peak_qps x safety`: `ceil(peak x safety / (service rate x target utilization))`, at least
/// one; and the rate one instance then takes.
pub fn instances_needed(peak_qps: f64, safety: f64, service_rate_qps: f64) -> (u64, f64) {
    let per_instance = service_rate_qps * TARGET_UTILIZATION;
    (
        ((peak_qps * safety / per_instance).ceil() as u64).max(1),
        per_instance,
    )
}

/// The capacity plan. Each instance takes the lower of two rates: its service rate x the target
/// utilization (the service rate measured at the highest rate within that utilization, where
/// the sessions ran under load but not saturated, else at the lowest rate), and, with an SLO,
/// the highest offered rate whose measured p99 met it (every lower rate meeting it too). Then
/// `ceil(peak x safety / per-instance rate)` instances. When no measured rate met the SLO the
/// plan says it cannot promise it.
pub fn capacity_plan(
    rates: &[RateResult],
    peak_qps: f64,
    safety: f64,
    slo_p99_ms: Option<f64>,
) -> Option<CapacityPlan> {
    let from = rates
        .iter()
        .rfind(|r| r.utilization <= TARGET_UTILIZATION)
        .or(rates.first())?;
    let (by_utilization, utilization_rate) =
        instances_needed(peak_qps, safety, from.service_rate_qps);
    let slo_rate = slo_p99_ms.and_then(|slo| {
        rates
            .iter()
            .take_while(|r| r.latency.p99_ms <= slo)
            .map(|r| r.offered_qps)
            .last()
    });
    let (rule, per_instance) = match (slo_p99_ms, slo_rate) {
        (Some(_), Some(rate)) if rate < utilization_rate => (CapacityRule::Slo, rate),
        (Some(_), None) => (CapacityRule::SloUnmet, utilization_rate),
        _ => (CapacityRule::Utilization, utilization_rate),
    };
    let instances = if rule == CapacityRule::Slo {
        ((peak_qps * safety / per_instance).ceil() as u64).max(1)
    } else {
        by_utilization
    };
    let arithmetic = format!(
        "ceil(peak {peak_qps} qps x safety {safety} / {per_instance:.1} qps per instance) = ceil({:.1} / {per_instance:.1}) = {instances}",
        peak_qps * safety
    );
    let utilization = format!(
        "service rate {:.1} qps (measured at {} qps) x {:.0} % utilization = {utilization_rate:.1} qps",
        from.service_rate_qps,
        fmt_rate(from.offered_qps),
        TARGET_UTILIZATION * 100.0
    );
    let formula = match (rule, slo_p99_ms) {
        (CapacityRule::Slo, Some(slo)) => format!(
            "per instance: {} qps, the highest rate measured whose p99 met {slo} ms, under the {utilization}; instances = {arithmetic}",
            fmt_rate(per_instance)
        ),
        (CapacityRule::SloUnmet, Some(slo)) => format!(
            "no measured rate met p99 <= {slo} ms, so no number of instances is known to meet it; by utilization alone: {utilization}; instances = {arithmetic}"
        ),
        _ => format!("per instance: {utilization}; instances = {arithmetic}"),
    };
    Some(CapacityPlan {
        peak_qps,
        safety,
        target_utilization: TARGET_UTILIZATION,
        service_rate_qps: from.service_rate_qps,
        measured_at_qps: from.offered_qps,
        per_instance_qps: per_instance,
        rule,
        instances,
        formula,
    })
}

/// The first rate (ascending) whose p99 is over the objective.
pub fn slo_result(rates: &[RateResult], p99_ms: f64) -> SloResult {
    SloResult {
        p99_ms,
        first_rate_over_qps: rates
            .iter()
            .find(|r| r.latency.p99_ms > p99_ms)
            .map(|r| r.offered_qps),
    }
}

/// Utilization at or under which queueing adds little: a p99 far above the service time there
/// comes from the service times themselves.
const QUIET_UTILIZATION: f64 = 0.3;

/// p99 over the mean service time, at a quiet rate, past which the service times vary too much
/// for the queue model's predictions (which take them as constant or exponential) to mean much.
const SPREAD_WARNING: f64 = 5.0;

/// Notes for the reader: rates past the 70 % guidance or past capacity, and service times that
/// vary too much for the queue model.
pub fn notes_for(rates: &[RateResult]) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(r) = rates
        .iter()
        .find(|r| r.utilization <= QUIET_UTILIZATION && r.mean_service_ms > 0.0)
    {
        let spread = r.latency.p99_ms / r.mean_service_ms;
        if spread > SPREAD_WARNING {
            notes.push(format!(
                "{} qps: at {:.0} % utilization p99 is already {spread:.0}x the mean service time, so service times vary (a busy machine, or requests unlike each other): the queue model's predictions and a plan from utilization alone are rough here; trust the measured p99 (give --slo-p99-ms to plan by it) and measure on a quieter machine",
                fmt_rate(r.offered_qps),
                r.utilization * 100.0
            ));
        }
    }
    for r in rates {
        if r.utilization >= 1.0 {
            notes.push(format!(
                "{} qps: utilization {:.0} % is past capacity; the queue grew for the whole run, and latency with it",
                fmt_rate(r.offered_qps),
                r.utilization * 100.0
            ));
        } else if r.utilization > TARGET_UTILIZATION {
            notes.push(format!(
                "{} qps: utilization {:.0} % is above the 70 % guidance; queueing delay grows fast past it",
                fmt_rate(r.offered_qps),
                r.utilization * 100.0
            ));
        }
    }
    notes
}

fn fmt_rate(qps: f64) -> String {
    if qps.fract() == 0.0 {
        format!("{qps:.0}")
    } else {
        format!("{qps}")
    }
}

/// Opens `settings.concurrency` sessions on `path`, binds the same inputs to each, warms them,
/// and runs every rate. Returns the file less the model's identity. `progress` gets a note
/// before each rate.
pub fn run(
    runtime: &Runtime,
    path: &Path,
    settings: &LoadSettings,
    shapes: &ShapeRequest,
    progress: crate::base::events::Progress,
) -> Result<(Vec<ResolvedInput>, Vec<RateResult>, Vec<String>)> {
    let mut sessions: Vec<LoadedModel> = Vec::with_capacity(settings.concurrency);
    let mut resolved = Vec::new();
    let mut notes = Vec::new();
    for _ in 0..settings.concurrency {
        let (mut model, _) = runtime.open(path, &settings.session)?;
        let given = inputs::load(&shapes.inputs, &model.spec)?;
        let resolution = model.spec.resolve(&given.shapes(shapes)?, None)?;
        // The same seed for every session: each one runs the same inputs.
        let mut rng = StdRng::seed_from_u64(settings.seed);
        bench::prepare(&mut model, &resolution.inputs, &given, &mut rng)?;
        bench::warm_up(&mut model, WARMUP_RUNS, 0.0)?;
        if resolved.is_empty() {
            if !resolution.defaulted.is_empty() {
                notes.push(format!(
                    "symbolic dims set to 1: {} (use --dim SYMBOL=N to choose)",
                    resolution.defaulted.join(", ")
                ));
            }
            resolved = resolution.inputs;
        }
        sessions.push(model);
    }
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let mut rates = Vec::new();
    for &rate in &settings.rates_qps {
        let arrivals = poisson_arrivals(rate, settings.duration_s, &mut rng)?;
        crate::base::events::note(
            progress,
            &format!(
                "{} qps: {} requests over {} s",
                fmt_rate(rate),
                arrivals.len(),
                settings.duration_s
            ),
        );
        let workers: Vec<_> = sessions.iter_mut().map(|m| move || m.run_bound()).collect();
        let measured = run_open_loop(&arrivals, workers, settings.keep_records)?;
        rates.push(rate_result(
            rate,
            settings.duration_s,
            settings.concurrency,
            measured,
        )?);
    }
    notes.extend(notes_for(&rates));
    if let Some(first) = sessions.first() {
        notes.extend(first.output_notes().iter().cloned());
    }
    Ok((resolved, rates, notes))
}

#[cfg(test)]
mod tests;
