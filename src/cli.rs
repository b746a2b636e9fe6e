//! The command line: every flag, in one place, and its conversion into validated settings.
//!
//! This is the only module that imports clap. Raw arguments are turned into the settings the
//! stages take once, here, and every error names the flag and the fix.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::bench::BenchSettings;
use crate::model::{parse_shape, ShapeRequest};
use crate::runtime::{OptLevel, Provider, SessionSettings};

/// Gate pull requests that change ONNX models: benchmark, validate, compare, report.
///
/// Exit codes: 0 pass, 1 gate failed, 2 usage or runtime error.
#[derive(Debug, Parser)]
#[command(name = "modelgate", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// ONNX Runtime shared library to load (else ORT_DYLIB_PATH, python3's onnxruntime, or a fetched copy).
    #[arg(long, global = true, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,
    /// Show ONNX Runtime's own log lines.
    #[arg(long, short, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Benchmark a model's latency on ONNX Runtime.
    Bench(BenchArgs),
    /// Show the ONNX Runtime library modelgate loads (fetching it if needed) and this machine.
    Env,
    /// Print the JSON Schema of the results file.
    Schema,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EpArg {
    Cpu,
    Cuda,
    Tensorrt,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OptLevelArg {
    Disable,
    Basic,
    Extended,
    All,
}

/// Session flags shared by the commands that open a model.
#[derive(Debug, Clone, Args)]
pub struct SessionArgs {
    /// Execution provider; one that cannot be registered is an error, never a fall back to CPU.
    #[arg(long, value_enum, default_value = "cpu")]
    pub ep: EpArg,
    /// Graph optimisation level.
    #[arg(long, value_enum, default_value = "all")]
    pub opt_level: OptLevelArg,
    /// Threads inside one operator (ONNX Runtime's default when unset).
    #[arg(long, value_name = "N")]
    pub intra_threads: Option<usize>,
    /// Threads across operators (ONNX Runtime's default when unset).
    #[arg(long, value_name = "N")]
    pub inter_threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The model to benchmark.
    pub model: PathBuf,
    /// Discarded runs before timing.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub warmup: u64,
    /// Timed runs, at least.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub iterations: u64,
    /// Keep timing until this many seconds have passed, too.
    #[arg(long, default_value_t = 0.0, value_name = "SECONDS")]
    pub min_time: f64,
    /// Batch sizes to sweep, e.g. 1,8,32 (the model's first dim must be dynamic).
    #[arg(long, value_delimiter = ',', value_name = "SIZES")]
    pub batch: Vec<i64>,
    /// Shape of one input, e.g. --shape input=1x3x224x224.
    #[arg(long, value_name = "NAME=DIMS")]
    pub shape: Vec<String>,
    /// Size of a symbolic dim, e.g. --dim seq=128.
    #[arg(long, value_name = "SYMBOL=N")]
    pub dim: Vec<String>,
    #[command(flatten)]
    pub session: SessionArgs,
    /// Seed of the random input data.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write the results file here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
}

impl SessionArgs {
    pub fn settings(&self) -> Result<SessionSettings> {
        for (flag, value) in [
            ("--intra-threads", self.intra_threads),
            ("--inter-threads", self.inter_threads),
        ] {
            if value == Some(0) {
                bail!("{flag} 0: give at least 1, or leave it out for ONNX Runtime's default");
            }
        }
        Ok(SessionSettings {
            provider: match self.ep {
                EpArg::Cpu => Provider::Cpu,
                EpArg::Cuda => Provider::Cuda,
                EpArg::Tensorrt => Provider::Tensorrt,
            },
            opt_level: match self.opt_level {
                OptLevelArg::Disable => OptLevel::Disable,
                OptLevelArg::Basic => OptLevel::Basic,
                OptLevelArg::Extended => OptLevel::Extended,
                OptLevelArg::All => OptLevel::All,
            },
            intra_threads: self.intra_threads,
            inter_threads: self.inter_threads,
        })
    }
}

impl BenchArgs {
    /// Validated bench settings and shape choices.
    pub fn settings(&self) -> Result<(BenchSettings, ShapeRequest)> {
        if self.iterations == 0 {
            bail!(
                "--iterations 0: at least one timed run is needed; use --iterations 1000 or more"
            );
        }
        if !self.min_time.is_finite() || self.min_time < 0.0 {
            bail!(
                "--min-time {}: give a number of seconds, 0 or more",
                self.min_time
            );
        }
        if let Some(bad) = self.batch.iter().find(|b| **b < 1) {
            bail!("--batch {bad}: batch sizes must be at least 1");
        }
        let settings = BenchSettings {
            warmup: self.warmup,
            iterations: self.iterations,
            min_time_s: self.min_time,
            batches: self.batch.clone(),
            session: self.session.settings()?,
            seed: self.seed,
        };
        Ok((settings, shape_request(&self.shape, &self.dim)?))
    }
}

/// Parses `--shape NAME=DIMS` and `--dim SYMBOL=N`.
pub fn shape_request(shapes: &[String], dims: &[String]) -> Result<ShapeRequest> {
    let mut request = ShapeRequest::default();
    for text in shapes {
        let parsed = text
            .split_once('=')
            .and_then(|(name, dims)| Some((name, parse_shape(dims)?)));
        let Some((name, shape)) = parsed else {
            bail!("--shape {text}: expected NAME=DIMS with sizes of at least 1, e.g. --shape input=1x3x224x224");
        };
        request.shapes.insert(name.to_string(), shape);
    }
    for text in dims {
        let parsed = text
            .split_once('=')
            .and_then(|(name, n)| Some((name, n.trim().parse::<i64>().ok().filter(|n| *n > 0)?)));
        let Some((name, size)) = parsed else {
            bail!("--dim {text}: expected SYMBOL=N with N at least 1, e.g. --dim batch=8");
        };
        request.dims.insert(name.to_string(), size);
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn shape_and_dim_flags_parse_or_name_the_flag() {
        let ok = shape_request(&["input=1x3x8x8".into()], &["seq=16".into()]).unwrap();
        assert_eq!(ok.shapes["input"], vec![1, 3, 8, 8]);
        assert_eq!(ok.dims["seq"], 16);
        let err = shape_request(&["input".into()], &[])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("--shape input:"), "{err}");
        let err = shape_request(&[], &["seq=0".into()])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("--dim seq=0:"), "{err}");
    }

    #[test]
    fn zero_iterations_is_refused() {
        let cli =
            Cli::try_parse_from(["modelgate", "bench", "m.onnx", "--iterations", "0"]).unwrap();
        let Command::Bench(args) = cli.command else {
            panic!("parsed as another command")
        };
        let err = args.settings().unwrap_err().to_string();
        assert!(err.contains("--iterations 0"), "{err}");
    }
}
