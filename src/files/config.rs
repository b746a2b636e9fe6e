//! The gate config, `modelgate.toml`: which models to gate, how to run them, and what must hold.
//!
//! Read once at the edge and validated whole: unknown keys and bad values are errors that name
//! the key, so a typo in a criterion can never silently switch the criterion off.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::base::limits::{self, Origin, Zero};
use crate::data::dataset::DatasetOptions;
use crate::data::postprocess::Postprocess;
use crate::data::preprocess::Preprocess;
use crate::engine::model::ShapeRequest;
use crate::engine::runtime::{OptLevel, Provider, SessionSettings};
use crate::measure::bench::BenchSettings;

pub mod checks;
mod criteria;
pub mod explore;

pub use criteria::{Criteria, CriteriaOverrides};

/// The whole file.
#[derive(Debug, Clone, Deserialize, Serialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// Criteria every model starts from; a model's own `[models.criteria]` overrides key by key.
    #[serde(default)]
    pub criteria: CriteriaOverrides,
    /// The gated models, one `[[models]]` table each; at least one.
    #[serde(default)]
    pub models: Vec<ModelConfig>,
    /// `modelgate explore`'s constraints and composite weights.
    #[serde(default)]
    pub explore: explore::ExploreConfig,
}

/// One gated model.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Short name (letters, digits, `-`, `_`, `.`); it names the baseline file
    /// `baselines/<name>.json`.
    pub name: String,
    /// Path of the ONNX model file as it is in this pull request.
    pub candidate: PathBuf,
    /// Path of the committed baseline results file; default `baselines/<name>.json`.
    #[serde(default)]
    pub baseline: Option<PathBuf>,
    /// Path of the model before this change, timed on the same runner as the candidate for
    /// the latency criteria (an A/B); excludes `base_ref`.
    #[serde(default)]
    pub base_model: Option<PathBuf>,
    /// A git ref or commit whose copy of `candidate` is the A/B base, or `merge-base` for the
    /// merge base with the default branch; excludes `base_model`.
    #[serde(default)]
    pub base_ref: Option<String>,
    /// Labeled data for evaluation; none skips the accuracy part.
    #[serde(default)]
    pub dataset: Option<DatasetConfig>,
    #[serde(default)]
    pub preprocess: Option<Preprocess>,
    #[serde(default)]
    pub postprocess: Option<Postprocess>,
    #[serde(default)]
    pub bench: BenchConfig,
    #[serde(default)]
    pub criteria: CriteriaOverrides,
    /// What a latency criterion left inconclusive at the end of the time budget does to the
    /// verdict: `pass` (the default; the headline says "latency not settled") or `fail`.
    #[serde(default)]
    pub inconclusive: Inconclusive,
    /// Other forms of the model for `modelgate explore` (files, providers, opt levels, threads,
    /// batch sizes), compared with the model as configured here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<explore::VariantConfig>,
}

/// What an inconclusive latency criterion does to a model's verdict (`inconclusive = ...` in
/// `[[models]]`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Inconclusive {
    /// The model passes; the headline says its latency is not settled.
    #[default]
    Pass,
    /// The model fails, as a regression would.
    Fail,
}

/// `[models.dataset]`: a path and how to read it.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// Path of the labeled data: a folder of class subfolders, a CSV or JSON-lines manifest of
    /// image paths and labels, or a CSV of numeric features and a label.
    pub path: PathBuf,
    #[serde(flatten)]
    pub options: DatasetOptions,
    /// Samples per inference batch during evaluation (the model's first input dim must be
    /// dynamic for more than 1).
    #[serde(default = "default_eval_batch")]
    pub batch: usize,
}

pub(crate) fn default_eval_batch() -> usize {
    64
}

/// Longest model name: it names `baselines/<name>.history.jsonl`, `<name>.base.json` and
/// others, whose file names must fit the file system's 255 bytes.
pub const MAX_MODEL_NAME: usize = 100;

/// `[models.bench]`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BenchConfig {
    /// Number of discarded runs before timing, at least (see also `warmup_s`).
    pub warmup: u64,
    /// Seconds of discarded runs before timing, at least, so a fast model's caches, clocks and
    /// allocator settle too.
    pub warmup_s: f64,
    /// Number of timed runs per model, at least.
    pub iterations: u64,
    /// Seconds of timed runs per model, at least: timing goes on until both this and
    /// `iterations` are met; 0 for none.
    pub min_time_s: f64,
    /// Seconds the gate may spend timing one model in all, when it times more to settle an
    /// inconclusive result.
    pub max_time_s: f64,
    /// Batch size (the model's first dim, which must be dynamic) the latency criteria are
    /// measured at; unset keeps the model's own.
    pub batch: Option<i64>,
    /// Execution provider: `cpu`, `cuda` or `tensorrt`; one that cannot be registered is an
    /// error, never a fall back to CPU.
    pub ep: Provider,
    /// ONNX Runtime graph optimisation level: `disable`, `basic`, `extended` or `all`.
    pub opt_level: OptLevel,
    /// Threads inside one operator; unset leaves ONNX Runtime's default.
    pub intra_threads: Option<usize>,
    /// Threads across operators; unset leaves ONNX Runtime's default.
    pub inter_threads: Option<usize>,
    /// Shape of each named input with dynamic dims, as a list of sizes:
    /// `NAME = [1, 3, 224, 224]`.
    pub shapes: BTreeMap<String, Vec<i64>>,
    /// Size of each named symbolic dim, for every input that has it: `SYMBOL = 8`.
    pub dims: BTreeMap<String, i64>,
    /// An ONNX test-data folder (`input_0.pb`, ...) whose values feed the model instead of
    /// random ones; relative to the config's folder.
    pub inputs: Option<PathBuf>,
    /// Values for named inputs instead of random ones, `NAME = "path.npy"` (or an ONNX
    /// TensorProto `.pb`); relative to the config's folder.
    pub input: BTreeMap<String, PathBuf>,
    /// Before timing, compare the model's outputs with the `output_*.pb` files of `inputs`
    /// (relative tolerance 1e-3, absolute 1e-7); a difference fails the gate.
    pub check_outputs: bool,
    /// With `gate --shard K/N`: the shard whose runner times the model (the A/B); the other
    /// shards only evaluate their slice, so latency is never pooled across runners.
    pub latency_shard: u32,
    /// A/B against a base model: time every session pair after the first in a child process
    /// of its own, so what a process settles on (memory layout, allocator, thread pool) varies
    /// between pairs too. Off by default: measured on `resnet_small`, it did not make the p50
    /// interval cover the across-run ratio more often, and each pair's process start (about
    /// 0.2 s) leaves fewer runs per pair, so p99 was unresolved in most runs
    /// (docs/benchmarks.md, 13f).
    pub ab_processes: bool,
    /// A/B against a base model: after the timed runs, profile both models' operators and
    /// report what changed (op types, nodes added and removed), every run. By default this is
    /// done only when a latency criterion fails or is not settled.
    pub profile: bool,
    /// CUDA and TensorRT: accept a model whose nodes partly run on the CPU (listed in the
    /// results); by default such a run fails, since its latency would be partly the CPU's.
    /// Shape arithmetic that ONNX Runtime places on the CPU by design is always accepted.
    pub allow_cpu_fallback: bool,
    /// TensorRT: build the engine with fp16 kernels where layers allow it.
    pub trt_fp16: bool,
    /// CUDA and TensorRT: capture the model in a CUDA graph and replay it on each run.
    pub cuda_graph: bool,
    /// TensorRT: folder for engine and timing caches (one subfolder per model SHA-256,
    /// TensorRT version, GPU and precision), relative to the config's folder; default
    /// `MODELGATE_TRT_CACHE`, else `~/.cache/modelgate/tensorrt`. Keep it with `actions/cache`.
    pub trt_cache_dir: Option<PathBuf>,
}

impl BenchConfig {
    /// The input files, with paths made relative to `root`, the config's folder.
    pub fn input_files(&self, root: &Path) -> crate::engine::inputs::InputFiles {
        crate::engine::inputs::InputFiles {
            files: self
                .input
                .iter()
                .map(|(name, path)| (name.clone(), root.join(path)))
                .collect(),
            dir: self.inputs.as_ref().map(|dir| root.join(dir)),
        }
    }
}

impl BenchConfig {
    /// The bench settings this section asks for, on its own execution provider.
    pub fn settings(&self) -> BenchSettings {
        BenchSettings {
            warmup: self.warmup,
            warmup_s: self.warmup_s,
            iterations: self.iterations,
            min_time_s: self.min_time_s,
            batches: self.batch.map(|n| vec![n]).unwrap_or_default(),
            session: SessionSettings {
                provider: self.ep,
                opt_level: self.opt_level,
                intra_threads: self.intra_threads,
                inter_threads: self.inter_threads,
                spinning: true,
                shared_pool: false,
                gpu: crate::engine::runtime::GpuOptions {
                    allow_cpu_fallback: self.allow_cpu_fallback,
                    trt_fp16: self.trt_fp16,
                    cuda_graph: self.cuda_graph,
                    trt_cache_dir: self.trt_cache_dir.clone(),
                },
            },
            seed: 0,
        }
    }

    /// The `shapes` and `dims` tables as a shape request (input files are added by the gate,
    /// which knows the config's folder).
    pub fn shape_request(&self) -> ShapeRequest {
        ShapeRequest {
            shapes: self.shapes.clone(),
            dims: self.dims.clone(),
            ..Default::default()
        }
    }
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            warmup: 50,
            warmup_s: 1.0,
            iterations: 1000,
            min_time_s: 0.0,
            max_time_s: 30.0,
            batch: None,
            ep: Provider::Cpu,
            opt_level: OptLevel::All,
            intra_threads: None,
            inter_threads: None,
            shapes: BTreeMap::new(),
            dims: BTreeMap::new(),
            inputs: None,
            input: BTreeMap::new(),
            check_outputs: false,
            latency_shard: 1,
            ab_processes: false,
            profile: false,
            allow_cpu_fallback: false,
            trt_fp16: false,
            cuda_graph: false,
            trt_cache_dir: None,
        }
    }
}

impl ModelConfig {
    /// The baseline path, defaulting to `baselines/<name>.json` beside the config.
    pub fn baseline_path(&self, root: &Path) -> PathBuf {
        match &self.baseline {
            Some(path) => root.join(path),
            None => root.join("baselines").join(format!("{}.json", self.name)),
        }
    }
}

impl ModelConfig {
    /// A model known only by name and path, judged with the default settings.
    pub fn named(name: &str, candidate: &str) -> ModelConfig {
        ModelConfig {
            name: name.to_string(),
            candidate: PathBuf::from(candidate),
            baseline: None,
            base_model: None,
            base_ref: None,
            dataset: None,
            preprocess: None,
            postprocess: None,
            bench: BenchConfig::default(),
            criteria: CriteriaOverrides::default(),
            inconclusive: Inconclusive::Pass,
            variants: Vec::new(),
        }
    }
}

impl GateConfig {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<GateConfig> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read gate config {}; create it or pass --config PATH",
                path.display()
            )
        })?;
        Self::parse(&text).with_context(|| format!("gate config {}", path.display()))
    }

    /// Parses and validates config text.
    pub fn parse(text: &str) -> Result<GateConfig> {
        let config: GateConfig =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", one_line(&e.to_string())))?;
        config.validate()?;
        Ok(config)
    }

    /// Criteria for one model: built-in defaults, then the file's `[criteria]`, then the model's.
    pub fn criteria_for(&self, model: &ModelConfig) -> Criteria {
        model
            .criteria
            .over(&self.criteria.over(&Criteria::builtin()))
    }

    fn validate(&self) -> Result<()> {
        self.criteria.validate("")?;
        if self.models.is_empty() {
            bail!("no [[models]] entries; add one with name and candidate");
        }
        let mut seen = std::collections::BTreeSet::new();
        for model in &self.models {
            let shown = crate::base::text::clean(&model.name, 60);
            if model.name.len() > MAX_MODEL_NAME {
                bail!(
                    "models.name = \"{shown}\" is {} characters long; give at most {MAX_MODEL_NAME} (it names baselines/<name>.json and the files beside it)",
                    model.name.chars().count()
                );
            }
            if model.name.is_empty()
                || !model
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                bail!("models.name = {:?}: use letters, digits, '-', '_' or '.' (it names baselines/<name>.json)", shown);
            }
            let prefix = format!("models `{}`: ", model.name);
            if !seen.insert(&model.name) {
                bail!("{prefix}the name appears twice; each model needs its own name");
            }
            if model.base_model.is_some() && model.base_ref.is_some() {
                bail!("{prefix}base_model and base_ref are both set; keep one");
            }
            model.criteria.validate(&prefix)?;
            let origin = Origin::Config(&prefix);
            let bench = &model.bench;
            checks::check_bench(&bench.settings(), &bench.shape_request(), origin)?;
            limits::check_duration(limits::MAX_TIME_S, bench.max_time_s, Zero::Refused, origin)?;
            let eval_batch = model.dataset.as_ref().map_or(1, |d| d.batch);
            checks::check_eval(eval_batch, model.preprocess.as_ref(), origin)?;
            if !(1..=crate::data::shard::MAX_SHARDS).contains(&bench.latency_shard) {
                bail!(
                    "{prefix}bench.latency_shard = {} is not a shard; give 1 to {}",
                    bench.latency_shard,
                    crate::data::shard::MAX_SHARDS
                );
            }
            if bench.check_outputs && bench.inputs.is_none() {
                bail!("{prefix}bench.check_outputs = true needs bench.inputs, a test-data folder with output_0.pb, ...");
            }
            if let Some(pre) = &model.preprocess {
                pre.validate().map_err(|e| anyhow::anyhow!("{prefix}{e}"))?;
            }
            if let Some(post) = &model.postprocess {
                post.validate()
                    .map_err(|e| anyhow::anyhow!("{prefix}postprocess: {e}"))?;
            }
        }
        Ok(())
    }
}

fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|'))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
