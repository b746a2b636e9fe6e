//! The limits on every size that leads to an allocation or a long wait, and how a value over
//! one is named.
//!
//! Flags and `modelgate.toml` end in the same settings structs; both are checked by the same
//! functions (here for durations and image sizes, in `config::checks` for whole settings), which take an [`Origin`] only to name the value the way the user wrote it
//! (`--min-time-s 1e20` or `models `a`: bench.min_time_s = 1e20`). So the rules cannot drift
//! apart, and every refusal is one line naming the limit and what to change. Products of sizes
//! use checked arithmetic: an overflow is over the limit, never a wrap or a panic.

use std::fmt::Display;

use anyhow::{bail, Result};

/// Bytes of input data made for one run, all inputs together (2 GiB).
pub const MAX_INPUT_BYTES: u64 = 2 << 30;
/// Timed runs whose samples one bench keeps (8 bytes each: 80 MB at most). The timed loop also
/// stops here when `min_time` has not passed yet.
pub const MAX_TIMED_RUNS: u64 = 10_000_000;
/// Nodes an A/B's operator profiles keep per model (about 200 bytes each in the results), so
/// the report can match them by name; a larger graph's diff lists op types only.
pub const MAX_PROFILE_NODES: usize = 5_000;
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
    pub fn label_entry(&self, field: Field, name: &str, value: impl Display) -> String {
        match self {
            Origin::Flags => format!("{} {name}={value}", field.flag),
            Origin::Config(prefix) => format!("{prefix}{}.{name} = {value}", field.key),
        }
    }

    /// The flag or key alone.
    pub fn name(&self, field: Field) -> &'static str {
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

/// Highest `--peak-qps` a capacity plan takes: a billion requests a second.
pub const MAX_PEAK_QPS: f64 = 1e9;

/// Checks a duration in seconds: finite, not negative, at most [`MAX_DURATION_S`], and above 0
/// unless 0 means "none" for it.
pub fn check_duration(field: Field, seconds: f64, zero: Zero, origin: Origin) -> Result<()> {
    duration_within(field, seconds, zero, MAX_DURATION_S, origin)
}

pub(crate) fn duration_within(
    field: Field,
    seconds: f64,
    zero: Zero,
    max: f64,
    origin: Origin,
) -> Result<()> {
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

pub(crate) fn check_batch(field: Field, batch: i64, origin: Origin) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn image_sizes() {
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
    }
}
