//! Whole settings checked against [`crate::base::limits`]: a bench's, a load test's, a session's and
//! an evaluation's, from flags or from the config alike (the [`Origin`] only names the value the
//! way the user wrote it). The limits themselves live below every module that allocates, this
//! file above the settings types.

use anyhow::{bail, Result};

use crate::base::limits::*;
use crate::data::preprocess::Preprocess;
use crate::engine::model::ShapeRequest;
use crate::engine::runtime::SessionSettings;
use crate::measure::bench::BenchSettings;
use crate::measure::load::LoadSettings;

/// Checks a bench's settings and shape choices, from flags or from the config.
pub fn check_bench(settings: &BenchSettings, shapes: &ShapeRequest, origin: Origin) -> Result<()> {
    if settings.warmup > MAX_TIMED_RUNS {
        bail!(
            "{}: more than the {MAX_TIMED_RUNS} warmup runs modelgate makes; use fewer",
            origin.label(WARMUP, settings.warmup)
        );
    }
    duration_within(
        WARMUP_S,
        settings.warmup_s,
        Zero::Allowed,
        MAX_WARMUP_S,
        origin,
    )?;
    if settings.iterations == 0 {
        bail!(
            "{}: at least one timed run is needed; use {} 1000 or more",
            origin.label(ITERATIONS, 0),
            origin.name(ITERATIONS)
        );
    }
    if settings.iterations > MAX_TIMED_RUNS {
        bail!(
            "{}: more than the {MAX_TIMED_RUNS} timed runs modelgate keeps samples for; use fewer, or {} to bound the run",
            origin.label(ITERATIONS, settings.iterations),
            origin.name(MIN_TIME_S)
        );
    }
    check_duration(MIN_TIME_S, settings.min_time_s, Zero::Allowed, origin)?;
    for batch in &settings.batches {
        check_batch(BENCH_BATCH, *batch, origin)?;
    }
    for (name, size) in &shapes.dims {
        if !(1..=MAX_DIM).contains(size) {
            bail!(
                "{}: a dim must be 1 to {MAX_DIM}",
                origin.label_entry(DIM, name, size)
            );
        }
    }
    for (name, shape) in &shapes.shapes {
        if let Some(bad) = shape.iter().find(|d| !(1..=MAX_DIM).contains(*d)) {
            let dims: Vec<String> = shape.iter().map(i64::to_string).collect();
            bail!(
                "{}: dim {bad} is not 1 to {MAX_DIM}",
                origin.label_entry(SHAPE, name, dims.join("x"))
            );
        }
    }
    check_session(&settings.session, origin)
}

/// Checks a load test's settings: positive finite rates, a duration within a day, a sane
/// number of sessions, and at most [`MAX_LOAD_REQUESTS`] requests expected in all.
pub fn check_load(settings: &LoadSettings) -> Result<()> {
    for rate in &settings.rates_qps {
        if !rate.is_finite() || *rate <= 0.0 {
            bail!("--qps {rate}: give request rates above 0, e.g. --qps 100,200,400");
        }
    }
    if settings.rates_qps.is_empty() {
        bail!("--qps: give at least one request rate, e.g. --qps 100,200,400");
    }
    check_duration(
        LOAD_DURATION,
        settings.duration_s,
        Zero::Refused,
        Origin::Flags,
    )?;
    let c = settings.concurrency;
    if c == 0 || c > MAX_LOAD_CONCURRENCY {
        bail!("--concurrency {c}: give 1 to {MAX_LOAD_CONCURRENCY} sessions");
    }
    let expected: f64 = settings
        .rates_qps
        .iter()
        .map(|r| r * settings.duration_s)
        .sum();
    if expected > MAX_LOAD_REQUESTS as f64 {
        bail!(
            "--qps x --duration: about {expected:.0} requests, more than the {MAX_LOAD_REQUESTS} one run makes; lower the rates or the --duration"
        );
    }
    if settings.keep_records && expected > MAX_LOAD_RECORDS as f64 {
        bail!(
            "--records: about {expected:.0} requests, more than the {MAX_LOAD_RECORDS} whose times a file keeps; lower the rates or the --duration, or drop --records"
        );
    }
    if let Some(slo) = settings.slo_p99_ms {
        if !slo.is_finite() || slo <= 0.0 {
            bail!("--slo-p99-ms {slo}: give milliseconds above 0, e.g. --slo-p99-ms 50");
        }
    }
    check_peak(settings.peak_qps, settings.safety)?;
    check_session(&settings.session, Origin::Flags)
}

/// Checks a capacity plan's `--peak-qps` (when given) and `--safety`.
pub fn check_peak(peak_qps: Option<f64>, safety: f64) -> Result<()> {
    if let Some(peak) = peak_qps {
        if !(peak.is_finite() && peak > 0.0 && peak <= MAX_PEAK_QPS) {
            let shown = if peak.abs() >= 1e9 {
                format!("{peak:e}")
            } else {
                peak.to_string()
            };
            bail!("--peak-qps {shown}: give a rate above 0 and at most {MAX_PEAK_QPS:e} requests per second, e.g. --peak-qps 1000");
        }
    }
    if !safety.is_finite() || !(1.0..=100.0).contains(&safety) {
        bail!("--safety {safety}: give a factor from 1 to 100, e.g. --safety 1.5");
    }
    Ok(())
}

/// Checks a session's thread counts: at least 1, at most [`THREADS_PER_CORE`] per core.
pub fn check_session(settings: &SessionSettings, origin: Origin) -> Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let max = THREADS_PER_CORE * cores;
    for (field, value) in [
        (INTRA_THREADS, settings.intra_threads),
        (INTER_THREADS, settings.inter_threads),
    ] {
        match value {
            Some(0) => bail!(
                "{}: give at least 1, or leave it out for ONNX Runtime's default",
                origin.label(field, 0)
            ),
            Some(n) if n > max => bail!(
                "{}: more than {THREADS_PER_CORE} threads per core ({max} on this machine's {cores} cores); use {max} or fewer, or leave it out for ONNX Runtime's default",
                origin.label(field, n)
            ),
            _ => {}
        }
    }
    Ok(())
}

/// Checks eval's batch size and image preprocessing: each resize or crop side at most
/// [`MAX_IMAGE_SIDE`], at most [`MAX_IMAGE_PIXELS`] pixels, and a batch of the resulting
/// tensors (as float32) within [`MAX_INPUT_BYTES`].
pub fn check_eval(batch: usize, preprocess: Option<&Preprocess>, origin: Origin) -> Result<()> {
    check_batch(EVAL_BATCH, i64::try_from(batch).unwrap_or(i64::MAX), origin)?;
    let Some(pre) = preprocess else {
        return Ok(());
    };
    let resize = pre.resize.map(|r| r.limit_size());
    for (field, size) in [(RESIZE, resize), (CROP, pre.center_crop)] {
        if let Some(size) = size {
            check_image_size(field, size, origin)?;
        }
    }
    if let Some([w, h]) = pre.output_size() {
        let bytes = [
            w as u64,
            h as u64,
            pre.color.channels() as u64,
            4,
            batch as u64,
        ]
        .into_iter()
        .try_fold(1u64, u64::checked_mul);
        if bytes.is_none_or(|b| b > MAX_INPUT_BYTES) {
            bail!(
                "{}: a batch of {batch} {w}x{h} images is more than the {} GiB of input modelgate makes per run; use a smaller {} or size",
                origin.label(EVAL_BATCH, batch),
                MAX_INPUT_BYTES >> 30,
                origin.name(EVAL_BATCH)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_settings_limits() {
        let shapes = ShapeRequest::default();
        let ok = BenchSettings::default();
        assert!(check_bench(&ok, &shapes, Origin::Flags).is_ok());
        let over = |f: fn(&mut BenchSettings)| {
            let mut s = BenchSettings::default();
            f(&mut s);
            check_bench(&s, &shapes, Origin::Flags)
                .unwrap_err()
                .to_string()
        };
        assert!(over(|s| s.iterations = 10_000_000_000).starts_with("--iterations 10000000000:"));
        assert!(over(|s| s.iterations = 0).starts_with("--iterations 0:"));
        assert!(over(|s| s.batches = vec![100_000_000_000]).starts_with("--batch 100000000000:"));
        assert!(over(|s| s.batches = vec![0]).starts_with("--batch 0:"));
        assert!(over(|s| s.session.intra_threads = Some(100_000))
            .starts_with("--intra-threads 100000:"));
        assert!(over(|s| s.session.inter_threads = Some(0)).starts_with("--inter-threads 0:"));
        let mut dims = ShapeRequest::default();
        dims.dims.insert("N".into(), -3);
        let err = check_bench(&ok, &dims, Origin::Config("m: "))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("m: bench.dims.N = -3:"), "{err}");
        dims.dims.insert("N".into(), i64::MAX);
        let err = check_bench(&ok, &dims, Origin::Flags)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("--dim N=9223372036854775807:"), "{err}");
    }

    #[test]
    fn eval_batches() {
        let err = check_eval(100_000_000_000, None, Origin::Flags).unwrap_err();
        assert!(
            err.to_string().starts_with("--batch 100000000000:"),
            "{err}"
        );
        let pre: Preprocess =
            serde_json::from_str(r#"{"color": "rgb", "resize": [4096, 4096]}"#).unwrap();
        assert!(check_eval(1, Some(&pre), Origin::Flags).is_ok());
        assert!(check_eval(64, Some(&pre), Origin::Flags).is_err());
    }
}
