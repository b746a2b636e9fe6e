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

use crate::bench;
use crate::inputs;
use crate::limits;
use crate::model::{ResolvedInput, ShapeRequest};
use crate::runtime::{LoadedModel, Runtime, SessionSettings};

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

/// Mean queueing delay (seconds) of M/M/c, Erlang C: arrivals at `lambda` per second, `c`
/// servers of `mu` per second each. None at or past capacity.
pub fn mmc_wait_s(lambda: f64, mu: f64, c: usize) -> Option<f64> {
    let c_f = c as f64;
    let rho = lambda / (c_f * mu);
    if !(0.0..1.0).contains(&rho) || c == 0 {
        return None;
    }
    let a = lambda / mu;
    // Sum of a^k/k! for k < c, and a^c/c!, built term by term.
    let mut term = 1.0;
    let mut sum = 0.0;
    for k in 0..c {
        sum += term;
        term *= a / (k as f64 + 1.0);
    }
    let tail = term / (1.0 - rho);
    let erlang_c = tail / (sum + tail);
    Some(erlang_c / (c_f * mu - lambda))
}

/// Mean queueing delay (seconds) of M/M/1: rho / (mu - lambda).
pub fn mm1_wait_s(lambda: f64, mu: f64) -> Option<f64> {
    mmc_wait_s(lambda, mu, 1)
}

/// Mean queueing delay (seconds) of M/D/1, Pollaczek-Khinchine with constant service:
/// rho / (2 mu (1 - rho)).
pub fn md1_wait_s(lambda: f64, mu: f64) -> Option<f64> {
    let rho = lambda / mu;
    (0.0..1.0)
        .contains(&rho)
        .then(|| rho / (2.0 * mu * (1.0 - rho)))
}

/// Mean queueing delay (seconds) of M/D/c, approximated as half of M/M/c's (Allen-Cunneen
/// with constant service); exact for c = 1.
pub fn mdc_wait_s(lambda: f64, mu: f64, c: usize) -> Option<f64> {
    if c == 1 {
        return md1_wait_s(lambda, mu);
    }
    mmc_wait_s(lambda, mu, c).map(|w| w / 2.0)
}

/// The queueing model's name for `concurrency` sessions.
pub fn queue_model(concurrency: usize) -> String {
    if concurrency == 1 {
        "M/D/1 (Pollaczek-Khinchine, constant service); M/M/1 as the upper reference".to_string()
    } else {
        format!(
            "M/D/{concurrency} approximated as half of M/M/{concurrency}'s Erlang C wait (Allen-Cunneen, constant service); M/M/{concurrency} as the upper reference"
        )
    }
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
/// and runs every rate. Returns the file less the model's identity. `progress` gets a line
/// before each rate.
pub fn run(
    runtime: &Runtime,
    path: &Path,
    settings: &LoadSettings,
    shapes: &ShapeRequest,
    progress: &mut dyn FnMut(&str),
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
        progress(&format!(
            "{} qps: {} requests over {} s",
            fmt_rate(rate),
            arrivals.len(),
            settings.duration_s
        ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_schema_matches_the_types() {
        let committed = include_str!("../schemas/load.schema.json");
        assert!(
            committed == json_schema(),
            "schemas/load.schema.json is stale: run `cargo run -- schema load > schemas/load.schema.json`"
        );
    }

    #[test]
    fn poisson_gaps_have_the_exponential_mean_and_variance() {
        let rate = 200.0;
        let mut rng = StdRng::seed_from_u64(7);
        let arrivals = poisson_arrivals(rate, 500.0, &mut rng).unwrap();
        let gaps: Vec<f64> = arrivals
            .windows(2)
            .map(|w| (w[1] - w[0]) as f64 / 1e9)
            .collect();
        let n = gaps.len() as f64;
        let mean = gaps.iter().sum::<f64>() / n;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / (n - 1.0);
        // About 100 000 gaps. The sample mean of exponential gaps has a standard error of
        // (1/rate)/sqrt(n), 0.32 % here; the sample variance's relative standard error is
        // sqrt((kurtosis - 1)/n) = sqrt(8/n), 0.9 % (an exponential's kurtosis is 9). A 2 % and
        // a 5 % tolerance are over five standard errors each: a correct generator fails neither
        // by chance, and one off by a few percent (a wrong rate, uniform gaps) fails both.
        assert!(
            (n - rate * 500.0).abs() < 5.0 * (rate * 500.0f64).sqrt(),
            "{n} arrivals"
        );
        assert!((mean * rate - 1.0).abs() < 0.02, "mean gap {mean}");
        assert!((var * rate * rate - 1.0).abs() < 0.05, "gap variance {var}");
        assert!(arrivals.windows(2).all(|w| w[0] <= w[1]));
        // Seeded: the same seed gives the same arrivals.
        let again = poisson_arrivals(rate, 500.0, &mut StdRng::seed_from_u64(7)).unwrap();
        assert_eq!(arrivals, again);
    }

    #[test]
    fn queueing_formulas_match_hand_computed_values() {
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-12;
        // M/M/1, lambda 80/s, mu 100/s: rho 0.8, Wq = 0.8 / (100 - 80) = 40 ms.
        assert!(close(mm1_wait_s(80.0, 100.0), 0.040));
        // M/D/1: half of it, 0.8 / (2 x 100 x 0.2) = 20 ms.
        assert!(close(md1_wait_s(80.0, 100.0), 0.020));
        // M/M/2, lambda 150/s, mu 100/s: a = 1.5, rho = 0.75; a^2/2! / (1 - rho) = 4.5;
        // Erlang C = 4.5 / (1 + 1.5 + 4.5) = 9/14; Wq = (9/14) / (200 - 150) = 12.857 ms.
        assert!(close(mmc_wait_s(150.0, 100.0, 2), 9.0 / 14.0 / 50.0));
        assert!(close(mdc_wait_s(150.0, 100.0, 2), 9.0 / 14.0 / 100.0));
        // M/M/1 through Erlang C agrees with rho / (mu - lambda) at another point: 10/s, 50/s.
        assert!(close(mmc_wait_s(10.0, 50.0, 1), 0.2 / 40.0));
        // At or past capacity there is no steady state.
        assert_eq!(mm1_wait_s(100.0, 100.0), None);
        assert_eq!(md1_wait_s(120.0, 100.0), None);
        assert_eq!(mmc_wait_s(200.0, 100.0, 2), None);
    }

    #[test]
    fn latency_counts_from_the_scheduled_arrival() {
        // Ten requests all due at once on one worker whose service takes 5 ms: the k-th waits
        // for the k before it, so its latency is about (k + 1) x 5 ms, though each ran 5 ms.
        let arrivals = vec![0u64; 10];
        let service = Duration::from_millis(5);
        let worker = || {
            std::thread::sleep(service);
            Ok(())
        };
        let m = run_open_loop(&arrivals, vec![worker], true).unwrap();
        let r = rate_result(10.0, 0.0, 1, m).unwrap();
        let records = r.records.clone().unwrap();
        for (k, rec) in records.iter().enumerate() {
            let latency = rec.end_ms - rec.scheduled_ms;
            assert!(latency >= 5.0 * (k + 1) as f64, "request {k}: {latency} ms");
        }
        assert!(r.mean_service_ms >= 5.0 && r.mean_service_ms < 20.0);
        // Mean latency of 5, 10, ..., 50 ms is 27.5 ms, far above the 5 ms service time.
        assert!(r.latency.mean_ms >= 27.5, "{}", r.latency.mean_ms);
        assert!(r.latency.max_ms >= 50.0 && r.latency.p50_ms >= 25.0);
        assert!(r.mean_queue_ms >= 22.5, "{}", r.mean_queue_ms);
        assert_eq!(r.requests, 10);
    }

    #[test]
    fn two_workers_share_the_queue_in_arrival_order() {
        let arrivals: Vec<u64> = (0..8).map(|i| i * 1_000_000).collect();
        let service = Duration::from_millis(4);
        let workers: Vec<_> = (0..2)
            .map(|_| {
                move || {
                    std::thread::sleep(service);
                    Ok(())
                }
            })
            .collect();
        let m = run_open_loop(&arrivals, workers, true).unwrap();
        let records = m.records.clone().unwrap();
        assert_eq!(records.len(), 8);
        for (i, rec) in records.iter().enumerate() {
            assert!(
                rec.start_ms >= rec.scheduled_ms,
                "request {i} started early"
            );
            assert_eq!(rec.scheduled_ms, i as f64);
        }
    }

    #[test]
    fn a_failing_request_stops_the_run_with_its_error() {
        let arrivals = vec![0u64; 100];
        let worker = || Err(anyhow!("the session failed"));
        let err = run_open_loop(&arrivals, vec![worker], false).err().unwrap();
        assert!(err.to_string().contains("session failed"));
    }

    fn rate(offered: f64, service_rate: f64, p99: f64) -> RateResult {
        RateResult {
            offered_qps: offered,
            requests: 1,
            wall_time_s: 1.0,
            achieved_qps: offered,
            latency: LatencyPercentiles {
                mean_ms: 1.0,
                p50_ms: 1.0,
                p95_ms: 1.0,
                p99_ms: p99,
                max_ms: p99,
            },
            mean_service_ms: 1000.0 / service_rate,
            mean_queue_ms: 0.0,
            service_rate_qps: service_rate,
            utilization: offered / service_rate,
            mean_in_system: 0.0,
            predicted_queue: Prediction {
                deterministic_ms: None,
                exponential_ms: None,
            },
            records: None,
        }
    }

    #[test]
    fn capacity_plan_and_slo_follow_the_formula() {
        let rates = [
            rate(100.0, 500.0, 3.0),
            rate(300.0, 450.0, 9.0),
            rate(400.0, 450.0, 40.0),
        ];
        // 300/450 = 67 % is the highest within 70 %: 1000 x 1.5 / (450 x 0.7) = 4.76 -> 5.
        let plan = capacity_plan(&rates, 1000.0, 1.5, None).unwrap();
        assert_eq!(plan.measured_at_qps, 300.0);
        assert_eq!(plan.instances, 5);
        assert_eq!(plan.rule, CapacityRule::Utilization);
        assert!(plan.formula.contains("= 5"), "{}", plan.formula);
        // With an SLO: each instance takes the lower of 450 x 0.7 = 315 qps and the highest rate
        // whose p99 met it (every lower rate meeting it too).
        for (slo, rule, per_instance, instances) in [
            (5.0, CapacityRule::Slo, 100.0, 15),
            (10.0, CapacityRule::Slo, 300.0, 5),
            (50.0, CapacityRule::Utilization, 315.0, 5),
            (1.0, CapacityRule::SloUnmet, 315.0, 5),
        ] {
            let plan = capacity_plan(&rates, 1000.0, 1.5, Some(slo)).unwrap();
            assert_eq!(plan.rule, rule, "slo {slo}");
            assert!(
                (plan.per_instance_qps - per_instance).abs() < 1e-9,
                "slo {slo}"
            );
            assert_eq!(plan.instances, instances, "slo {slo}: {}", plan.formula);
            assert!(
                plan.formula.contains(&format!("= {instances}")),
                "{}",
                plan.formula
            );
        }
        // A p99 far above the service time at a quiet rate is noted: service times vary.
        let noisy = [rate(100.0, 500.0, 30.0)];
        let notes = notes_for(&noisy);
        assert!(
            notes[0].starts_with(
                "100 qps: at 20 % utilization p99 is already 15x the mean service time"
            ),
            "{notes:?}"
        );
        assert_eq!(slo_result(&rates, 10.0).first_rate_over_qps, Some(400.0));
        assert_eq!(slo_result(&rates, 50.0).first_rate_over_qps, None);
        let notes = notes_for(&rates);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].starts_with("400 qps: utilization 89 %"),
            "{notes:?}"
        );
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("30s").unwrap(), 30.0);
        assert_eq!(parse_duration("500ms").unwrap(), 0.5);
        assert_eq!(parse_duration("2m").unwrap(), 120.0);
        assert_eq!(parse_duration("1.5").unwrap(), 1.5);
        assert!(parse_duration("3 weeks").is_err());
        assert!(parse_duration("s").is_err());
    }
}
