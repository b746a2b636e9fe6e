//! The limits on every size that leads to an allocation or a long wait, and the one place that
//! checks them.
//!
//! Flags and `modelgate.toml` end in the same settings structs; both are checked here by the same
//! functions, which take an [`Origin`] only to name the value the way the user wrote it
//! (`--min-time-s 1e20` or `models `a`: bench.min_time_s = 1e20`). So the rules cannot drift
//! apart, and every refusal is one line naming the limit and what to change. Products of sizes
//! use checked arithmetic: an overflow is over the limit, never a wrap or a panic.

use std::fmt::Display;

use anyhow::{bail, Result};

use crate::bench::BenchSettings;
use crate::model::{ElemType, ResolvedInput, ShapeRequest};
use crate::preprocess::Preprocess;
use crate::runtime::SessionSettings;

/// Bytes of input data made for one run, all inputs together (2 GiB).
pub const MAX_INPUT_BYTES: u64 = 2 << 30;
/// Timed runs whose samples one bench keeps (8 bytes each: 80 MB at most). The timed loop also
/// stops here when `min_time` has not passed yet.
pub const MAX_TIMED_RUNS: u64 = 10_000_000;
/// Batch size, for bench and eval.
pub const MAX_BATCH: u64 = 65_536;
/// One dimension of an input shape.
pub const MAX_DIM: i64 = 1 << 31;
/// One side of a resize or crop target, and of a decoded image.
pub const MAX_IMAGE_SIDE: u32 = 16_384;
/// Pixels of a resize or crop target.
pub const MAX_IMAGE_PIXELS: u64 = 1 << 28;
/// Bytes the image decoder may allocate for one image (1 GiB).
pub const MAX_DECODED_IMAGE_BYTES: u64 = 1 << 30;
/// Any duration setting, in seconds (24 hours).
pub const MAX_DURATION_S: f64 = 86_400.0;
/// Seconds of warmup, which a gate pays for every model.
pub const MAX_WARMUP_S: f64 = 600.0;
/// Threads per core a session may ask for; far more only makes session creation crawl.
pub const THREADS_PER_CORE: usize = 4;
/// Requests in one `modelgate load` run, all rates together.
pub const MAX_LOAD_REQUESTS: u64 = 10_000_000;
/// Requests whose times `modelgate load --records` keeps in the file.
pub const MAX_LOAD_RECORDS: u64 = 1_000_000;
/// Sessions `modelgate load` serves requests with, each holding its own copy of the model.
pub const MAX_LOAD_CONCURRENCY: usize = 256;

/// Where a value came from, so an error names it as the user wrote it.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    /// Command-line flags.
    Flags,
    /// The gate config; the text that starts each error, such as "models `digits`: ".
    Config(&'a str),
}

/// A limited setting: its flag and its key in the gate config.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub flag: &'static str,
    pub key: &'static str,
}

pub const WARMUP: Field = Field {
    flag: "--warmup",
    key: "bench.warmup",
};
pub const WARMUP_S: Field = Field {
    flag: "bench.warmup_s",
    key: "bench.warmup_s",
};
pub const ITERATIONS: Field = Field {
    flag: "--iterations",
    key: "bench.iterations",
};
pub const MIN_TIME_S: Field = Field {
    flag: "--min-time-s",
    key: "bench.min_time_s",
};
pub const MAX_TIME_S: Field = Field {
    flag: "bench.max_time_s",
    key: "bench.max_time_s",
};
pub const BENCH_BATCH: Field = Field {
    flag: "--batch",
    key: "bench.batch",
};
pub const EVAL_BATCH: Field = Field {
    flag: "--batch",
    key: "dataset.batch",
};
pub const INTRA_THREADS: Field = Field {
    flag: "--intra-threads",
    key: "bench.intra_threads",
};
pub const INTER_THREADS: Field = Field {
    flag: "--inter-threads",
    key: "bench.inter_threads",
};
pub const DIM: Field = Field {
    flag: "--dim",
    key: "bench.dims",
};
pub const SHAPE: Field = Field {
    flag: "--shape",
    key: "bench.shapes",
};
pub const RESIZE: Field = Field {
    flag: "--resize",
    key: "preprocess.resize",
};
pub const CROP: Field = Field {
    flag: "--center-crop",
    key: "preprocess.center_crop",
};
pub const LOAD_DURATION: Field = Field {
    flag: "--duration",
    key: "load.duration",
};

impl Origin<'_> {
    /// `--iterations 0` or `models `a`: bench.iterations = 0`.
    pub fn label(&self, field: Field, value: impl Display) -> String {
        match self {
            Origin::Flags => format!("{} {value}", field.flag),
            Origin::Config(prefix) => format!("{prefix}{} = {value}", field.key),
        }
    }

    /// A keyed entry: `--dim N=5` or `models `a`: bench.dims.N = 5`.
    fn label_entry(&self, field: Field, name: &str, value: impl Display) -> String {
        match self {
            Origin::Flags => format!("{} {name}={value}", field.flag),
            Origin::Config(prefix) => format!("{prefix}{}.{name} = {value}", field.key),
        }
    }

    /// The flag or key alone.
    fn name(&self, field: Field) -> &'static str {
        match self {
            Origin::Flags => field.flag,
            Origin::Config(_) => field.key,
        }
    }
}

/// Whether 0 is a valid duration: it means "none" for some settings, nothing for others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zero {
    Allowed,
    Refused,
}

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
pub fn check_load(settings: &crate::load::LoadSettings) -> Result<()> {
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

/// Highest `--peak-qps` a capacity plan takes: a billion requests a second.
pub const MAX_PEAK_QPS: f64 = 1e9;

/// Checks a capacity plan's `--peak-qps` (when given) and `--safety`.
pub fn check_peak(peak_qps: Option<f64>, safety: f64) -> Result<()> {
    if let Some(peak) = peak_qps {
        if !(peak.is_finite() && peak > 0.0 && peak <= MAX_PEAK_QPS) {
            bail!("--peak-qps {peak}: give a rate above 0 and at most {MAX_PEAK_QPS:e} requests per second, e.g. --peak-qps 1000");
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

/// Checks a duration in seconds: finite, not negative, at most [`MAX_DURATION_S`], and above 0
/// unless 0 means "none" for it.
pub fn check_duration(field: Field, seconds: f64, zero: Zero, origin: Origin) -> Result<()> {
    duration_within(field, seconds, zero, MAX_DURATION_S, origin)
}

fn duration_within(field: Field, seconds: f64, zero: Zero, max: f64, origin: Origin) -> Result<()> {
    let low_ok = match zero {
        Zero::Allowed => seconds >= 0.0,
        Zero::Refused => seconds > 0.0,
    };
    if !seconds.is_finite() || !low_ok || seconds > max {
        let low = match zero {
            Zero::Allowed => "0",
            Zero::Refused => "more than 0",
        };
        bail!(
            "{}: give a number of seconds from {low} to {max}",
            origin.label(field, seconds)
        );
    }
    Ok(())
}

fn check_batch(field: Field, batch: i64, origin: Origin) -> Result<()> {
    if batch < 1 {
        bail!(
            "{}: batch sizes must be at least 1",
            origin.label(field, batch)
        );
    }
    if batch as u64 > MAX_BATCH {
        bail!(
            "{}: more than the largest batch modelgate runs, {MAX_BATCH}; use a smaller {}",
            origin.label(field, batch),
            origin.name(field)
        );
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

/// Checks a resize or crop target.
pub fn check_image_size(field: Field, [w, h]: [u32; 2], origin: Origin) -> Result<()> {
    let shown = match origin {
        Origin::Flags => format!("{w}x{h}"),
        Origin::Config(_) => format!("[{w}, {h}]"),
    };
    if w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE || w as u64 * h as u64 > MAX_IMAGE_PIXELS {
        bail!(
            "{}: more than modelgate's image limit of {MAX_IMAGE_SIDE} pixels a side and {MAX_IMAGE_PIXELS} pixels in all; give a smaller {}",
            origin.label(field, shown),
            origin.name(field)
        );
    }
    Ok(())
}

/// Bytes of one element, for the input types modelgate makes; `None` for the others.
fn elem_bytes(elem: &ElemType) -> Option<u64> {
    Some(match elem {
        ElemType::Float32 | ElemType::Int32 => 4,
        ElemType::Float16 => 2,
        ElemType::Int64 => 8,
        ElemType::Uint8 | ElemType::Int8 | ElemType::Bool => 1,
        ElemType::Unsupported(_) => return None,
    })
}

/// Checks that one run's inputs, all together, fit in [`MAX_INPUT_BYTES`]. `fixed_by_model`
/// tells, per input, whether the model fixes every dim (then no flag can shrink it).
pub fn check_input_bytes(inputs: &[ResolvedInput], fixed_by_model: &[bool]) -> Result<()> {
    let mut total: u64 = 0;
    for (input, fixed) in inputs.iter().zip(fixed_by_model) {
        let bytes = input
            .shape
            .iter()
            .map(|d| u64::try_from(*d).ok())
            .chain([elem_bytes(&input.elem)])
            .try_fold(1u64, |acc, d| acc.checked_mul(d?));
        let sum = bytes.and_then(|b| total.checked_add(b));
        match sum {
            Some(sum) if sum <= MAX_INPUT_BYTES => total = sum,
            _ => {
                let dims: Vec<String> = input.shape.iter().map(i64::to_string).collect();
                let size =
                    bytes.map_or("more than 2^64 bytes".to_string(), |b| format!("{b} bytes"));
                let fix = if *fixed {
                    "the model fixes this shape, so modelgate cannot feed it"
                } else {
                    "choose smaller sizes with --shape NAME=DIMS, --dim SYMBOL=N or --batch N (bench.shapes, bench.dims, bench.batch in the gate config)"
                };
                let together = if total > 0 {
                    "with the inputs before it, "
                } else {
                    ""
                };
                bail!(
                    "input `{}` is {} ({size}): {together}more than the {} GiB of input modelgate makes per run; {fix}",
                    input.name,
                    dims.join("x"),
                    MAX_INPUT_BYTES >> 30
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(shape: Vec<i64>) -> ResolvedInput {
        ResolvedInput {
            name: "x".into(),
            elem: ElemType::Float32,
            shape,
        }
    }

    #[test]
    fn input_bytes_overflow_is_over_the_limit() {
        assert!(check_input_bytes(&[input(vec![1, 3, 224, 224])], &[false]).is_ok());
        for shape in [
            vec![100_000, 100_000, 3],
            vec![i64::MAX, i64::MAX, 4],
            vec![(1 << 29) + 1, 1],
        ] {
            let err = check_input_bytes(&[input(shape)], &[true]).unwrap_err();
            assert!(err.to_string().contains("2 GiB"), "{err}");
        }
        // Two inputs each within the limit, together over it.
        let half = input(vec![(1 << 28) + 1, 1]);
        assert!(check_input_bytes(&[half.clone(), half], &[false, false]).is_err());
    }

    #[test]
    fn durations_name_flag_or_key() {
        let cases = [
            (f64::INFINITY, Zero::Allowed, false),
            (f64::NAN, Zero::Allowed, false),
            (-1.0, Zero::Allowed, false),
            (1e20, Zero::Allowed, false),
            (0.0, Zero::Allowed, true),
            (0.0, Zero::Refused, false),
            (30.0, Zero::Refused, true),
            (MAX_DURATION_S, Zero::Refused, true),
        ];
        for (seconds, zero, ok) in cases {
            let flag = check_duration(MIN_TIME_S, seconds, zero, Origin::Flags);
            assert_eq!(flag.is_ok(), ok, "{seconds} {zero:?}");
            let config = check_duration(MIN_TIME_S, seconds, zero, Origin::Config("m: "));
            if let Err(e) = config {
                assert!(
                    e.to_string()
                        .starts_with(&format!("m: bench.min_time_s = {seconds}")),
                    "{e}"
                );
                let flag = flag.unwrap_err().to_string();
                assert!(
                    flag.starts_with(&format!("--min-time-s {seconds}:")),
                    "{flag}"
                );
            }
        }
    }

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
    fn image_sizes_and_eval_batches() {
        assert!(check_image_size(RESIZE, [224, 224], Origin::Flags).is_ok());
        let err = check_image_size(RESIZE, [100_000, 100_000], Origin::Flags).unwrap_err();
        assert!(
            err.to_string().starts_with("--resize 100000x100000:"),
            "{err}"
        );
        let err = check_image_size(CROP, [16_385, 16], Origin::Config("m: ")).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("m: preprocess.center_crop = [16385, 16]:"));
        assert!(check_image_size(CROP, [16_384, 16_384], Origin::Flags).is_ok());
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
