//! The command line: every flag, in one place, and its conversion into validated settings.
//!
//! This is the only module that imports clap. Raw arguments are turned into the settings the
//! stages take once, here, and every error names the flag and the fix.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use serde_json::json;

use crate::base::limits::Origin;
use crate::data::dataset::DatasetOptions;
use crate::data::postprocess::Postprocess;
use crate::data::preprocess::Preprocess;
use crate::engine::inputs::{InputFiles, Tolerance};
use crate::engine::model::{parse_shape, ShapeRequest};
use crate::engine::runtime::{OptLevel, Provider, SessionSettings};
use crate::files::config::checks;
use crate::files::config::GateConfig;
use crate::measure::bench::BenchSettings;
use crate::validate::eval::EvalSettings;

mod lower;
mod maintain;
mod publish;

pub use lower::*;
pub use maintain::*;
pub use publish::*;

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

/// How to load ONNX Runtime: given before the command (`modelgate --ort-lib PATH gate`) or
/// after it, on the commands that load it (bench, eval, gate, init, baseline approve, env), and
/// not offered on those that never do (report, schema, ...).
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// ONNX Runtime shared library to load (else ORT_DYLIB_PATH, python3's onnxruntime, or a fetched copy).
    #[arg(long, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,
    /// Show ONNX Runtime's own log lines.
    #[arg(long, short)]
    pub verbose: bool,
}

impl GlobalArgs {
    /// These, given after the command, over `before`, given before it.
    pub fn over(&self, before: &GlobalArgs) -> GlobalArgs {
        GlobalArgs {
            ort_lib: self.ort_lib.clone().or_else(|| before.ort_lib.clone()),
            verbose: self.verbose || before.verbose,
        }
    }
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    #[command(flatten)]
    pub runtime: GlobalArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Benchmark a model's latency on ONNX Runtime.
    Bench(BenchArgs),
    /// Open-loop load test: Poisson arrivals at each rate, latency from scheduled arrival, and a
    /// capacity plan.
    Load(Box<LoadArgs>),
    /// Evaluate a model on labeled data through real pre- and postprocessing.
    Eval(Box<EvalArgs>),
    /// Compare two results files (baseline and candidate) and give a verdict.
    Compare(CompareArgs),
    /// Bench, eval and compare every model in the gate config against its baseline.
    Gate(GateArgs),
    /// Merge the results files of `gate --shard` runs into one per model, for `gate --from-results`.
    Merge(MergeArgs),
    /// Measure every variant of one model (files, providers, opt levels, threads, batch sizes)
    /// as the gate does, and write the trade-offs: dashboard.csv, summary.json, tradeoff.svg and
    /// tradeoff.png.
    Explore(ExploreArgs),
    /// Write a first gate config for a model, guessed from its inputs, outputs and dataset.
    Init(InitArgs),
    /// Render a comparison as the PR comment, the job summary, or a standalone HTML page.
    Report(ReportArgs),
    /// Post (or update) the sticky pull-request comment.
    Comment(CommentArgs),
    /// In GitHub Actions: one error annotation per failed criterion, and the job summary.
    Annotate(AnnotateArgs),
    /// Show the ONNX Runtime library modelgate loads (fetching it if needed) and this machine.
    Env(EnvArgs),
    /// Print the JSON Schema of the results file (or of the comparison, config, explore or load file).
    Schema {
        /// Which file: results (also baselines), comparison, config (modelgate.toml), explore
        /// (summary.json) or load (load --json).
        #[arg(value_enum, default_value = "results")]
        file: SchemaFile,
        /// With config: the reference of every key as markdown (docs/config.md).
        #[arg(long)]
        markdown: bool,
    },
    /// Manage the committed baselines.
    #[command(subcommand)]
    Baseline(BaselineCommand),
    /// Show a model's baseline approvals and how its numbers moved.
    History(HistoryArgs),
    /// Check a release candidate's results against the production baseline (exit 1 unless all pass).
    Check(CheckArgs),
    /// Internal: one model's peak memory on its own, for the gate (prints JSON).
    #[command(hide = true)]
    MemoryProbe(ChildArgs),
    /// Internal: one A/B session pair timed in this process, for the gate (prints JSON).
    #[command(hide = true)]
    AbPair(ChildArgs),
}

/// The arguments of an internal subcommand the gate runs in a child process.
#[derive(Debug, Args)]
pub struct ChildArgs {
    #[command(flatten)]
    pub runtime: GlobalArgs,
    /// What to measure, as JSON.
    #[arg(long)]
    pub spec: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SchemaFile {
    Results,
    Comparison,
    Config,
    /// `modelgate explore`'s summary.json.
    Explore,
    /// The `modelgate load --json` file.
    Load,
}

/// One command-line flag, as the command line defines it (see `cli::flags`).
#[derive(Debug, Clone)]
pub struct Flag {
    /// The command path, such as `eval` or `baseline approve`.
    pub command: String,
    /// The long name without dashes.
    pub long: String,
    /// Other long names it accepts.
    pub aliases: Vec<String>,
}

/// Every long flag of every command, for the configuration reference's flag column.
pub fn flags() -> Vec<Flag> {
    use clap::CommandFactory;
    fn walk(command: &clap::Command, path: &str, out: &mut Vec<Flag>) {
        for arg in command.get_arguments() {
            if arg.is_hide_set() {
                continue;
            }
            if let Some(long) = arg.get_long() {
                out.push(Flag {
                    command: path.to_string(),
                    long: long.to_string(),
                    aliases: arg
                        .get_all_aliases()
                        .unwrap_or_default()
                        .into_iter()
                        .map(str::to_string)
                        .collect(),
                });
            }
        }
        for sub in command.get_subcommands() {
            let name = if path.is_empty() {
                sub.get_name().to_string()
            } else {
                format!("{path} {}", sub.get_name())
            };
            walk(sub, &name, out);
        }
    }
    let mut out = Vec::new();
    walk(&Cli::command(), "", &mut out);
    out
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
    /// Execution provider (default cpu); one that cannot be registered is an error, never a
    /// fall back to CPU.
    #[arg(long, value_enum)]
    pub ep: Option<EpArg>,
    /// Graph optimisation level (default all).
    #[arg(long, value_enum)]
    pub opt_level: Option<OptLevelArg>,
    /// Threads inside one operator (ONNX Runtime's default when unset).
    #[arg(long, value_name = "N")]
    pub intra_threads: Option<usize>,
    /// Threads across operators (ONNX Runtime's default when unset).
    #[arg(long, value_name = "N")]
    pub inter_threads: Option<usize>,
    /// CUDA and TensorRT: accept nodes that run on the CPU (listed); otherwise such a run fails.
    #[arg(long)]
    pub allow_cpu_fallback: bool,
    /// TensorRT: build the engine with fp16 kernels where layers allow it.
    #[arg(long)]
    pub trt_fp16: bool,
    /// CUDA and TensorRT: capture the model in a CUDA graph and replay it.
    #[arg(long)]
    pub cuda_graph: bool,
    /// TensorRT: engine and timing cache folder (default MODELGATE_TRT_CACHE, else
    /// ~/.cache/modelgate/tensorrt).
    #[arg(long, value_name = "DIR")]
    pub trt_cache_dir: Option<PathBuf>,
}

/// The inputs a timed model is fed: shapes, symbolic dims, and real values (bench and load).
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Shape of one input, e.g. --shape input=1x3x224x224.
    #[arg(long, value_name = "NAME=DIMS")]
    pub shape: Vec<String>,
    /// Size of a symbolic dim, e.g. --dim seq=128.
    #[arg(long, value_name = "SYMBOL=N")]
    pub dim: Vec<String>,
    /// Real values for one input instead of random ones: a .npy or ONNX TensorProto .pb file,
    /// e.g. --input ids=ids.npy (repeatable).
    #[arg(long, value_name = "NAME=PATH")]
    pub input: Vec<String>,
    /// An ONNX test-data folder (input_0.pb, ..., output_0.pb, ...) whose values feed the model.
    #[arg(long, value_name = "DIR")]
    pub inputs: Option<PathBuf>,
}

impl InputArgs {
    /// The shape request these flags make, input files included.
    pub fn shape_request(&self) -> Result<ShapeRequest> {
        let mut shapes = shape_request(&self.shape, &self.dim)?;
        shapes.inputs = input_files(&self.input, self.inputs.as_deref())?;
        Ok(shapes)
    }
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub runtime: GlobalArgs,
    /// The model to benchmark.
    pub model: PathBuf,
    /// Discarded runs before timing.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub warmup: u64,
    /// Timed runs, at least.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub iterations: u64,
    /// Keep timing until this many seconds have passed, too.
    #[arg(
        long = "min-time-s",
        visible_alias = "min-time",
        default_value_t = 0.0,
        value_name = "SECONDS"
    )]
    pub min_time: f64,
    /// Batch sizes to sweep, e.g. 1,8,32 (the model's first dim must be dynamic).
    #[arg(long, value_delimiter = ',', value_name = "SIZES")]
    pub batch: Vec<i64>,
    #[command(flatten)]
    pub feed: InputArgs,
    /// Before timing, run once on --inputs and compare every output with its output_<n>.pb
    /// (exit 1 when one differs).
    #[arg(long, requires = "inputs")]
    pub check_outputs: bool,
    /// Relative tolerance of --check-outputs (ONNX's backend tests use 1e-3).
    #[arg(
        long,
        default_value_t = 1e-3,
        value_name = "R",
        requires = "check_outputs"
    )]
    pub rtol: f64,
    /// Absolute tolerance of --check-outputs (ONNX's backend tests use 1e-7).
    #[arg(
        long,
        default_value_t = 1e-7,
        value_name = "A",
        requires = "check_outputs"
    )]
    pub atol: f64,
    #[command(flatten)]
    pub session: SessionArgs,
    /// Seed of the random input data.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write the results file here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// After the timed runs, profile the model's operators on a separate session (ONNX
    /// Runtime's profiler) and show where a run's time goes.
    #[arg(long)]
    pub profile: bool,
    /// Runs profiled by --profile.
    #[arg(long, default_value_t = 100, value_name = "N", requires = "profile")]
    pub profile_runs: u64,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub runtime: GlobalArgs,
    /// The model to load-test.
    pub model: PathBuf,
    /// Offered request rates per second, e.g. 100,200,400 (run in ascending order).
    #[arg(
        long,
        value_delimiter = ',',
        required = true,
        value_name = "RATES",
        allow_negative_numbers = true
    )]
    pub qps: Vec<f64>,
    /// Arrivals at each rate for this long: 30s, 500ms, 2m, or seconds.
    #[arg(long, default_value = "30s", value_name = "TIME")]
    pub duration: String,
    /// Sessions serving requests side by side; each request goes to the first free one.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub concurrency: usize,
    /// Latency objective: report the first rate whose p99 is over this many milliseconds.
    #[arg(long, value_name = "MS", allow_negative_numbers = true)]
    pub slo_p99_ms: Option<f64>,
    /// Plan capacity for this peak rate (instances at 70 % utilization).
    #[arg(long, value_name = "QPS", allow_negative_numbers = true)]
    pub peak_qps: Option<f64>,
    /// Headroom factor over --peak-qps.
    #[arg(
        long,
        default_value_t = 1.5,
        value_name = "FACTOR",
        requires = "peak_qps"
    )]
    pub safety: f64,
    /// Keep every request's scheduled, start and end times in the --json file.
    #[arg(long, requires = "json")]
    pub records: bool,
    #[command(flatten)]
    pub feed: InputArgs,
    #[command(flatten)]
    pub session: SessionArgs,
    /// Seed of the arrival times and of the random input data.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write the load file (JSON, `modelgate schema load`) here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Draw p50, p95 and p99 against the offered rate, with the p99 objective and the planned
    /// rate per instance, to this .svg or .png file.
    #[arg(long, value_name = "PATH")]
    pub plot: Option<PathBuf>,
}

impl LoadArgs {
    /// Validated load settings and shape choices.
    pub fn settings(&self) -> Result<(crate::measure::load::LoadSettings, ShapeRequest)> {
        let mut rates = self.qps.clone();
        rates.sort_by(f64::total_cmp);
        rates.dedup();
        let settings = crate::measure::load::LoadSettings {
            rates_qps: rates,
            duration_s: crate::measure::load::parse_duration(&self.duration)?,
            concurrency: self.concurrency,
            seed: self.seed,
            slo_p99_ms: self.slo_p99_ms,
            peak_qps: self.peak_qps,
            safety: self.safety,
            keep_records: self.records,
            session: self.session.settings()?,
        };
        checks::check_load(&settings)?;
        let shapes = self.feed.shape_request()?;
        Ok((settings, shapes))
    }
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub runtime: GlobalArgs,
    /// The model to evaluate.
    pub model: PathBuf,
    /// Labeled data: a folder of class subfolders, a CSV/JSON-lines manifest, or a tabular CSV.
    #[arg(long, value_name = "PATH")]
    pub dataset: Option<PathBuf>,
    /// Take dataset, preprocessing, postprocessing and session settings from this model of
    /// --config; the flags below override them.
    #[arg(long, value_name = "NAME")]
    pub model_name: Option<String>,
    /// Gate config to read the model's settings from (--model-name picks one of several).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Dataset form (auto, image_folder, manifest_csv, manifest_jsonl, tabular); default auto.
    #[arg(long)]
    pub format: Option<String>,
    /// Column (or JSON key) holding the label; default label.
    #[arg(long, value_name = "NAME")]
    pub label_column: Option<String>,
    /// Accept manifest image paths that resolve outside the manifest's folder.
    #[arg(long)]
    pub allow_outside_paths: bool,
    /// Samples per inference batch; default 64.
    #[arg(long, value_name = "N")]
    pub batch: Option<usize>,
    /// A preprocessing preset, e.g. torchvision-imagenet (the flags below override its values).
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// Image colour: gray or rgb.
    #[arg(long)]
    pub color: Option<String>,
    /// Resize the shorter side to N keeping the aspect ratio (torchvision's Resize(N)), or to
    /// exactly WIDTHxHEIGHT.
    #[arg(long, value_name = "N|WxH")]
    pub resize: Option<String>,
    /// Resize interpolation, as Pillow names it: nearest, bilinear, bicubic, lanczos, box, hamming.
    #[arg(long, value_name = "NAME")]
    pub interpolation: Option<String>,
    /// Renamed to --interpolation.
    #[arg(long, hide = true)]
    pub filter: Option<String>,
    /// Centre crop to N (square) or WIDTHxHEIGHT after resizing.
    #[arg(long, visible_alias = "crop", value_name = "N|WxH")]
    pub center_crop: Option<String>,
    /// Pixel scale (default 1/255).
    #[arg(long)]
    pub scale: Option<f32>,
    /// Per-channel mean, e.g. 0.485,0.456,0.406.
    #[arg(long, value_delimiter = ',')]
    pub mean: Vec<f32>,
    /// Per-channel std, e.g. 0.229,0.224,0.225.
    #[arg(long, value_delimiter = ',')]
    pub std: Vec<f32>,
    /// Tensor layout: nchw or nhwc.
    #[arg(long)]
    pub layout: Option<String>,
    /// Input element type: float32, float16 or uint8.
    #[arg(long, visible_alias = "input-dtype")]
    pub dtype: Option<String>,
    /// Output activation: softmax, sigmoid or none; default softmax.
    #[arg(long)]
    pub activation: Option<String>,
    /// Decision threshold for binary outputs; default 0.5.
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Class names in output order, e.g. benign,malignant.
    #[arg(long, value_delimiter = ',')]
    pub class_names: Vec<String>,
    /// The class whose recall is guarded (name or index).
    #[arg(long)]
    pub positive_class: Option<String>,
    #[command(flatten)]
    pub session: SessionArgs,
    /// Write (or add to) the results file here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline results file.
    #[arg(long, value_name = "FILE")]
    pub baseline: PathBuf,
    /// The candidate results file.
    #[arg(long, value_name = "FILE")]
    pub candidate: PathBuf,
    /// Take criteria from this gate config (else the defaults).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Write the comparison JSON here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GateArgs {
    #[command(flatten)]
    pub runtime: GlobalArgs,
    /// The gate config.
    #[arg(long, default_value = "modelgate.toml", value_name = "PATH")]
    pub config: PathBuf,
    /// Gate only this model of the config (repeatable); default every model.
    #[arg(long = "model", value_name = "NAME")]
    pub models: Vec<String>,
    /// Write the comparison JSON here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Write the markdown report here.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// A minijinja template for --report instead of the built-in comment template.
    #[arg(long, value_name = "PATH")]
    pub template: Option<PathBuf>,
    /// A model without a baseline is "new" instead of a failure.
    #[arg(long)]
    pub allow_new: bool,
    /// Judge results already measured in DIR (from --results-dir) instead of running models.
    #[arg(long, value_name = "DIR")]
    pub from_results: Option<PathBuf>,
    /// Write each model's measured results files into DIR.
    #[arg(long, value_name = "DIR")]
    pub results_dir: Option<PathBuf>,
    /// Execution provider for every model (overrides the config).
    #[arg(long, value_enum, env = "MODELGATE_EP")]
    pub ep: Option<EpArg>,
    /// Git ref or commit of the pull request's base, for every model without base_model
    /// (overrides the config's base_ref; "merge-base" finds it from the default branch).
    #[arg(long, value_name = "REF", env = "MODELGATE_BASE_REF")]
    pub base_ref: Option<String>,
    /// Read every model's candidate file from this commit (the pull request's head), as data,
    /// and judge it with this checkout's config, dataset and baselines.
    #[arg(long, value_name = "COMMIT")]
    pub candidate_ref: Option<String>,
    /// Measure only the K-th of N slices of each model's labeled data (by a hash of the sample
    /// id), timing the model only on its latency shard, and write the results to --results-dir
    /// for `modelgate merge`; nothing is judged.
    #[arg(
        long,
        value_name = "K/N",
        requires = "results_dir",
        conflicts_with_all = ["json", "report", "template", "from_results"]
    )]
    pub shard: Option<crate::data::shard::Shard>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub runtime: GlobalArgs,
    /// The ONNX model to gate.
    pub model: PathBuf,
    /// Labeled data: an image manifest (CSV or JSON lines with path and label), a folder of
    /// class subfolders, or a tabular CSV.
    #[arg(long, value_name = "PATH")]
    pub dataset: Option<PathBuf>,
    /// The model's name in the config (default: the model file's stem).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Where to write the config.
    #[arg(long, default_value = "modelgate.toml", value_name = "PATH")]
    pub out: PathBuf,
    /// Overwrite an existing config.
    #[arg(long)]
    pub force: bool,
    /// The image size for a model whose input height and width are symbolic: N or WIDTHxHEIGHT.
    #[arg(long, value_name = "N|WxH")]
    pub image_size: Option<String>,
}

impl InitArgs {
    /// The request, with --image-size parsed.
    pub fn request(&self) -> Result<InitRequest> {
        let image_size = match &self.image_size {
            None => None,
            Some(text) => {
                let number = |v: &str| {
                    v.trim().parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        anyhow::anyhow!(
                            "--image-size {text}: give N or WIDTHxHEIGHT of at least 1, e.g. 224x224"
                        )
                    })
                };
                Some(match text.split_once(['x', 'X']) {
                    Some((w, h)) => [number(w)?, number(h)?],
                    None => [number(text)?; 2],
                })
            }
        };
        Ok(InitRequest {
            model: self.model.clone(),
            dataset: self.dataset.clone(),
            name: self.name.clone(),
            out: self.out.clone(),
            force: self.force,
            image_size,
        })
    }
}

/// What the user asked `init` for, validated by the command line.
#[derive(Debug, Clone)]
pub struct InitRequest {
    /// The model file.
    pub model: PathBuf,
    /// Labeled data, if any.
    pub dataset: Option<PathBuf>,
    /// The model's name in the config; default the file stem.
    pub name: Option<String>,
    /// Where the config goes.
    pub out: PathBuf,
    /// Replace an existing config.
    pub force: bool,
    /// `[width, height]` for an image input whose size is symbolic.
    pub image_size: Option<[u32; 2]>,
}

#[cfg(test)]
mod tests;
