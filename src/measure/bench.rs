//! `modelgate bench`: latency of one model on ONNX Runtime, measured so the numbers can be trusted.
//!
//! Inputs are made once, outside the timed region, and bound to the session; warmup runs are
//! discarded; then each run is timed alone on the monotonic clock until both the iteration count
//! and the minimum time are met. Raw samples are kept, because the comparison's tests need them.
//! This module measures and returns plain data; it prints nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::base::limits;
use crate::engine::inputs::{self, Given, OutputCheck, Tolerance};
use crate::engine::model::{ModelSpec, Resolution, ResolvedInput, ShapeRequest, TensorData};
use crate::engine::runtime::profile::{self, OpProfile};
use crate::engine::runtime::{Feed, LoadedModel, Runtime, SessionSettings};
use crate::machine::gpu::{self, GpuTelemetry};
use crate::machine::system::{self, GpuInfo};
use crate::measure::meter::Meter;
use crate::stats::{self, Summary};

/// Milliseconds, as every latency in modelgate is stored.
pub type Millis = f64;

/// What to measure and how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BenchSettings {
    /// Discarded runs before timing, at least...
    pub warmup: u64,
    /// ...and at least this many seconds of them.
    #[serde(default)]
    pub warmup_s: f64,
    pub iterations: u64,
    pub min_time_s: f64,
    /// Batch sizes swept; empty means the model's own (or defaulted) first dim.
    pub batches: Vec<i64>,
    pub session: SessionSettings,
    /// Seed of the random input data.
    pub seed: u64,
}

impl Default for BenchSettings {
    fn default() -> Self {
        BenchSettings {
            warmup: 50,
            warmup_s: 0.0,
            iterations: 1000,
            min_time_s: 0.0,
            batches: vec![],
            session: SessionSettings::default(),
            seed: 0,
        }
    }
}

/// Session creation and the first run, which users of a cold service pay for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ColdStart {
    pub session_create_ms: Millis,
    pub first_run_ms: Millis,
}

/// Memory facts for one bench.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MemoryUse {
    pub model_file_bytes: u64,
    /// Resident memory gained by opening the session.
    pub load_growth_bytes: u64,
    /// Peak resident memory of a process holding only this model: the bench's own, or in the
    /// gate a separate probe process that opens and runs just this model.
    pub peak_rss_bytes: u64,
}

/// Whether the tail percentiles rest on enough runs (MLPerf LoadGen's early-stopping counts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TailTrust {
    pub p95: bool,
    pub p99: bool,
}

/// Latency at one batch size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BatchRun {
    pub batch: i64,
    pub inputs: Vec<ResolvedInput>,
    pub summary: Summary,
    /// Samples per second: batch size over mean latency.
    pub throughput_samples_per_s: f64,
    pub trusted: TailTrust,
    pub wall_time_s: f64,
    /// Every timed run, in order, in milliseconds.
    pub samples_ms: Vec<Millis>,
    /// In an A/B: the runs of each session pair, in order (a fresh session of each model per
    /// pair; they add up to `samples_ms`). Empty when the runs came from one session.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<usize>,
    /// In an A/B: the runs per block in which the models alternated (25, fewer for models over
    /// 4 ms a run). Absent: 25.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_runs: Option<usize>,
    /// In an A/B: the adaptive look the timing stopped at (see `compare::adaptive_looks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look: Option<u32>,
    /// In an A/B: the looks whose shares of the significance the verdict answers for (see
    /// `compare::PLANNED_LOOKS`): `look` itself when the budget ended the timing there. Absent:
    /// all the planned looks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub looks: Option<u32>,
    /// On a GPU: the copies of the inputs to the device and of the outputs back, timed apart
    /// from the runs (which keep both on the device).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<crate::engine::runtime::Transfer>,
    /// On the CPU where RAPL's counters are readable: the CPU packages' energy over the timed
    /// runs divided by the runs, in mJ (the whole packages', other processes included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_energy_per_run_mj: Option<f64>,
    /// What the GPU did during the timed runs, when the session runs on one and NVML is present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuTelemetry>,
}

/// The bench section of a results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BenchResult {
    pub settings: BenchSettings,
    /// The provider the session actually runs on.
    pub provider: String,
    pub cold_start: ColdStart,
    pub memory: MemoryUse,
    pub gpu: Option<GpuInfo>,
    /// Symbolic dims nobody set, which were run at size 1.
    pub defaulted_dims: Vec<String>,
    pub runs: Vec<BatchRun>,
    /// Things the reader should know, such as a p99 from too few runs.
    pub notes: Vec<String>,
    /// On a GPU: where the model's nodes ran, from ONNX Runtime's profile of the first run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<crate::engine::runtime::Placement>,
    /// Where a run's time goes, node by node (`bench --profile`): from ONNX Runtime's profiler
    /// on a separate session, after the timed runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<OpProfile>,
}

impl BenchResult {
    /// The first bench setting that differs from `other`'s in a way that changes latency:
    /// session options, batch size or input shapes. Run counts and warmup do not.
    pub fn settings_difference(&self, other: &BenchResult) -> Option<String> {
        let (a, b) = (&self.settings.session, &other.settings.session);
        let threads = |n: Option<usize>| n.map_or_else(|| "default".to_string(), |n| n.to_string());
        let shapes = |r: &BenchResult| {
            r.primary()
                .map(|run| {
                    run.inputs
                        .iter()
                        .map(|i| format!("{:?}", i.shape))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default()
        };
        let batch = |r: &BenchResult| r.primary().map_or(0, |run| run.batch).to_string();
        let pairs = [
            (
                "provider",
                a.provider.name().to_string(),
                b.provider.name().to_string(),
            ),
            (
                "opt level",
                format!("{:?}", a.opt_level),
                format!("{:?}", b.opt_level),
            ),
            (
                "intra-op threads",
                threads(a.intra_threads),
                threads(b.intra_threads),
            ),
            (
                "inter-op threads",
                threads(a.inter_threads),
                threads(b.inter_threads),
            ),
            ("batch", batch(self), batch(other)),
            ("input shapes", shapes(self), shapes(other)),
        ];
        pairs
            .into_iter()
            .find(|(_, x, y)| x != y)
            .map(|(what, x, y)| format!("different bench settings: {what} {x} vs {y}"))
    }

    /// The run at batch 1, or the first one; what comparisons use by default.
    pub fn primary(&self) -> Option<&BatchRun> {
        self.runs
            .iter()
            .find(|r| r.batch == 1)
            .or(self.runs.first())
    }
}

/// Where the timed loop reports its progress, now and then (never per run).
pub use crate::base::events::Progress;

/// Benchmarks `path` and returns the result with the model's interface.
pub fn run(
    runtime: &Runtime,
    path: &Path,
    settings: &BenchSettings,
    shapes: &ShapeRequest,
    progress: Progress,
) -> Result<(BenchResult, ModelSpec)> {
    if settings.iterations == 0 {
        bail!("--iterations 0: at least one timed run is needed; use --iterations 1000 or more");
    }
    let (mut model, created, memory) = open_measured(runtime, path, settings)?;
    let spec = model.spec.clone();
    if !settings.batches.is_empty() && !spec.batch_is_dynamic() {
        bail!(
            "--batch: the model's first dim is fixed, so its batch size cannot change; \
             drop --batch or export the model with a dynamic first dim"
        );
    }
    let given = inputs::load(&shapes.inputs, &spec)?;
    if !given.inputs.is_empty() && !settings.batches.is_empty() {
        bail!("--batch: the inputs' values come from files, which fix their shapes; drop --batch");
    }
    let shapes = &given.shapes(shapes)?;
    let batches: Vec<Option<i64>> = if settings.batches.is_empty() {
        vec![None]
    } else {
        settings.batches.iter().copied().map(Some).collect()
    };

    let mut rng = StdRng::seed_from_u64(settings.seed);
    let mut runs = Vec::new();
    let mut defaulted_dims = Vec::new();
    let mut first_run_ms = None;
    let meter = Meter::for_provider(settings.session.provider);
    for batch in batches {
        let resolution = spec.resolve(shapes, batch)?;
        defaulted_dims = resolution.defaulted.clone();
        let first_ms = prepare(&mut model, &resolution.inputs, &given, &mut rng)?;
        warm_up(
            &mut model,
            settings.warmup.saturating_sub(1),
            settings.warmup_s,
        )?;
        first_run_ms.get_or_insert(first_ms);
        let batch_size = batch_size(batch, &resolution);
        let label = format!("batch {batch_size}");
        // The GPU's telemetry, or on the CPU the package energy counters, where readable.
        let window = meter.as_ref().and_then(Meter::start);
        let started = Instant::now();
        let samples_ns = time_loop(
            &mut model,
            settings.iterations,
            // Settings are checked at the edge; a value that slipped past means "no minimum".
            Duration::try_from_secs_f64(settings.min_time_s).unwrap_or(Duration::ZERO),
            &label,
            progress,
        )?;
        let wall_time_s = started.elapsed().as_secs_f64();
        // Stopped before the summary's statistics, so the window holds only the timed runs.
        let reading = window
            .map(|w| w.stop(samples_ns.len() as u64))
            .unwrap_or_default();
        let mut run = batch_run(batch_size, resolution.inputs, &samples_ns, wall_time_s)?;
        run.gpu = reading.gpu;
        run.cpu_energy_per_run_mj = reading.cpu_energy_per_run_mj;
        run.transfer = model.measure_transfers(TRANSFER_COPIES)?;
        runs.push(run);
    }
    let mut notes = notes_for(&runs, &defaulted_dims);
    notes.extend(model.output_notes().iter().cloned());
    notes.extend(model.gpu_notes().iter().cloned());
    let result = BenchResult {
        settings: settings.clone(),
        provider: settings.session.provider.name().to_string(),
        cold_start: ColdStart {
            session_create_ms: ms(created),
            first_run_ms: first_run_ms.unwrap_or(0.0),
        },
        memory: MemoryUse {
            peak_rss_bytes: system::rss().peak_bytes,
            ..memory
        },
        gpu: system::gpu_info(),
        defaulted_dims,
        runs,
        notes,
        placement: model.placement().cloned(),
        profile: None,
    };
    Ok((result, spec))
}

/// The operator profile of `bench --profile`: a separate session with ONNX Runtime's profiler
/// on, the primary run's inputs bound (the same values when it was the first batch), one cold
/// run left out and then `runs` profiled runs, none of them timed by modelgate.
pub fn profile(
    runtime: &Runtime,
    path: &Path,
    bench: &BenchResult,
    shapes: &ShapeRequest,
    runs: u64,
) -> Result<OpProfile> {
    if runs == 0 {
        bail!("--profile-runs 0: at least one profiled run is needed; use --profile-runs 100");
    }
    let dir = tempfile::tempdir().context("cannot create a folder for the profile")?;
    let mut model = open_for_profile(runtime, path, bench, shapes, &dir.path().join("profile"))?;
    for _ in 0..=runs {
        model.run_bound()?;
    }
    read_profile(&mut model, profile::TOP_NODES)
}

/// A profiled session of the model at `path`, with the inputs of `bench`'s primary run bound.
fn open_for_profile(
    runtime: &Runtime,
    path: &Path,
    bench: &BenchResult,
    shapes: &ShapeRequest,
    prefix: &Path,
) -> Result<LoadedModel> {
    let Some(primary) = bench.primary() else {
        bail!("no timed run to profile");
    };
    let mut model = runtime.open_profiled(path, &bench.settings.session, prefix)?;
    let given = inputs::load(&shapes.inputs, &model.spec)?;
    let mut rng = StdRng::seed_from_u64(bench.settings.seed);
    bind_inputs(&mut model, &primary.inputs, &given, &mut rng)?;
    Ok(model)
}

/// Ends `model`'s profiler and reads its profile, the first (cold) run left out.
fn read_profile(model: &mut LoadedModel, keep: usize) -> Result<OpProfile> {
    let text = model.end_profile()?;
    profile::parse(&text, 1, keep).context(
        "ONNX Runtime's profile held no node times; run without profiling, or report the model's op types",
    )
}

/// Seconds of profiled runs per model in [`profile_pair`], at most...
const PAIR_PROFILE_S: f64 = 1.0;
/// ...and the profiled runs per model, at least and at most.
const PAIR_PROFILE_RUNS: (u64, u64) = (5, 100);

/// The operator profiles of an A/B's two models, for the report's operator diff: a profiled
/// session of each, after the timed runs, run in alternating blocks as the timed runs were,
/// about [`PAIR_PROFILE_S`] each. Every node is kept (up to [`limits::MAX_PROFILE_NODES`]),
/// so nodes can be matched by name.
pub fn profile_pair(
    runtime: &Runtime,
    (base_path, base): (&Path, &BenchResult),
    (candidate_path, candidate): (&Path, &BenchResult),
    shapes: &ShapeRequest,
) -> Result<(OpProfile, OpProfile)> {
    let dir = tempfile::tempdir().context("cannot create a folder for the profiles")?;
    let mut models = [
        open_for_profile(runtime, base_path, base, shapes, &dir.path().join("base"))?,
        open_for_profile(
            runtime,
            candidate_path,
            candidate,
            shapes,
            &dir.path().join("candidate"),
        )?,
    ];
    let mean_s = [base, candidate]
        .iter()
        .filter_map(|b| b.primary())
        .map(|r| r.summary.mean_ms / 1000.0)
        .fold(0.0, f64::max);
    let (least, most) = PAIR_PROFILE_RUNS;
    let runs = if mean_s > 0.0 {
        ((PAIR_PROFILE_S / mean_s) as u64).clamp(least, most)
    } else {
        most
    };
    // The cold first run of each, left out of the profile.
    for model in &mut models {
        model.run_bound()?;
    }
    let block = (runs / 4).max(1);
    let mut done = 0;
    while done < runs {
        let n = block.min(runs - done);
        for model in &mut models {
            for _ in 0..n {
                model.run_bound()?;
            }
        }
        done += n;
    }
    let [mut base_model, mut candidate_model] = models;
    Ok((
        read_profile(&mut base_model, limits::MAX_PROFILE_NODES)?,
        read_profile(&mut candidate_model, limits::MAX_PROFILE_NODES)?,
    ))
}

/// Copies of the inputs and outputs timed on a GPU, after the timed runs.
pub const TRANSFER_COPIES: usize = 20;

/// Opens a session, measuring its creation time and the resident memory it added. The peak is
/// filled in when the bench ends.
pub fn open_measured(
    runtime: &Runtime,
    path: &Path,
    settings: &BenchSettings,
) -> Result<(LoadedModel, Duration, MemoryUse)> {
    let before = system::rss();
    let (model, created) = runtime.open(path, &settings.session)?;
    let after = system::rss();
    let memory = MemoryUse {
        model_file_bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        load_growth_bytes: after.current_bytes.saturating_sub(before.current_bytes),
        peak_rss_bytes: 0,
    };
    Ok((model, created, memory))
}

/// Binds the given inputs (random values for the rest) and times the first run (part of the
/// cold start), which also counts as the first warmup run. Returns its milliseconds.
pub fn prepare(
    model: &mut LoadedModel,
    inputs: &[ResolvedInput],
    given: &Given,
    rng: &mut StdRng,
) -> Result<Millis> {
    bind_inputs(model, inputs, given, rng)?;
    let first = Instant::now();
    model.run_bound()?;
    Ok(ms(first.elapsed()))
}

/// Untimed runs until at least `runs` more have been made and `seconds` have passed. Returns
/// the runs made.
pub fn warm_up(model: &mut LoadedModel, runs: u64, seconds: f64) -> Result<u64> {
    let started = Instant::now();
    let min_time =
        Duration::try_from_secs_f64(seconds.clamp(0.0, limits::MAX_WARMUP_S)).unwrap_or_default();
    let mut done = 0;
    while done < runs || started.elapsed() < min_time {
        model.run_bound()?;
        done += 1;
    }
    Ok(done)
}

/// The batch size actually run: the one asked for, else the first input's first dim.
pub fn batch_size(batch: Option<i64>, resolution: &Resolution) -> i64 {
    batch
        .or_else(|| {
            resolution
                .inputs
                .first()
                .and_then(|i| i.shape.first().copied())
        })
        .unwrap_or(1)
}

/// Binds `inputs` to the session: the given values where there are some, random ones elsewhere.
pub fn bind_inputs(
    model: &mut LoadedModel,
    inputs: &[ResolvedInput],
    given: &Given,
    rng: &mut StdRng,
) -> Result<()> {
    model.bind(feeds(inputs, given, rng)?)
}

fn feeds(inputs: &[ResolvedInput], given: &Given, rng: &mut StdRng) -> Result<Vec<Feed>> {
    inputs
        .iter()
        .map(|input| {
            let data = match given.feed(&input.name, &input.elem) {
                Some(data) => data,
                None => TensorData::random(input, rng)?,
            };
            Ok(Feed {
                name: input.name.clone(),
                shape: input.shape.clone(),
                data,
            })
        })
        .collect()
}

/// Runs the model once on the given inputs and compares every output with its expected file
/// (`output_<n>.pb` of `--inputs`). An output without one is an error.
pub fn check_outputs(
    runtime: &Runtime,
    path: &Path,
    settings: &BenchSettings,
    shapes: &ShapeRequest,
    tolerance: Tolerance,
) -> Result<Vec<OutputCheck>> {
    let (mut model, _) = runtime.open(path, &settings.session)?;
    let given = inputs::load(&shapes.inputs, &model.spec)?;
    let Some(dir) = &shapes.inputs.dir else {
        bail!("--check-outputs needs --inputs DIR, a test-data folder with output_0.pb, ...");
    };
    if let Some(missing) = model
        .spec
        .outputs
        .iter()
        .find(|o| !given.expected.contains_key(&o.name))
    {
        bail!(
            "--check-outputs: {} has no expected values for output `{}`; add output_<n>.pb for it or drop --check-outputs",
            dir.display(),
            missing.name
        );
    }
    let resolution = model.spec.resolve(&given.shapes(shapes)?, None)?;
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let returned = model.run_outputs(feeds(&resolution.inputs, &given, &mut rng)?)?;
    Ok(returned
        .iter()
        .filter_map(|(name, got)| {
            let expected = given.expected.get(name)?;
            Some(inputs::check_output(name, expected, got, tolerance))
        })
        .collect())
}

fn ms(duration: Duration) -> Millis {
    duration.as_secs_f64() * 1000.0
}

/// How often, in runs, the loop reports progress; a power of two so the check is a mask.
const PROGRESS_EVERY: u64 = 256;

/// The timed loop: two clock reads per run and a push into a preallocated vector, nothing else.
/// It ends at [`limits::MAX_TIMED_RUNS`] runs even when `min_time` has not passed, so the
/// samples never outgrow what was checked.
pub fn time_loop(
    model: &mut LoadedModel,
    iterations: u64,
    min_time: Duration,
    label: &str,
    progress: Progress,
) -> Result<Vec<u64>> {
    let iterations = iterations.min(limits::MAX_TIMED_RUNS);
    let mut samples: Vec<u64> = Vec::with_capacity(iterations as usize);
    let start = Instant::now();
    let mut done: u64 = 0;
    loop {
        let t0 = Instant::now();
        model.run_bound()?;
        let t1 = Instant::now();
        samples.push((t1 - t0).as_nanos() as u64);
        done += 1;
        if done & (PROGRESS_EVERY - 1) == 0 {
            crate::base::events::report(progress, label, done, iterations);
        }
        if done >= iterations && (t1 - start >= min_time || done >= limits::MAX_TIMED_RUNS) {
            break;
        }
    }
    crate::base::events::report(progress, label, done, iterations);
    Ok(samples)
}

/// Summarises one batch size's samples.
pub fn batch_run(
    batch: i64,
    inputs: Vec<ResolvedInput>,
    samples_ns: &[u64],
    wall_time_s: f64,
) -> Result<BatchRun> {
    let samples_ms: Vec<Millis> = samples_ns.iter().map(|ns| *ns as f64 / 1e6).collect();
    let Some(summary) = stats::summarize(&samples_ms) else {
        bail!("no usable latency samples were recorded");
    };
    let throughput_samples_per_s = batch as f64 * 1000.0 / summary.mean_ms;
    let trusted = TailTrust {
        p95: stats::percentile_trusted(samples_ms.len(), 0.95),
        p99: stats::percentile_trusted(samples_ms.len(), 0.99),
    };
    Ok(BatchRun {
        batch,
        inputs,
        summary,
        throughput_samples_per_s,
        trusted,
        wall_time_s,
        samples_ms,
        sessions: Vec::new(),
        block_runs: None,
        look: None,
        looks: None,
        transfer: None,
        cpu_energy_per_run_mj: None,
        gpu: None,
    })
}

/// What a reader should know about these runs: defaulted dims, tails resting on too few runs.
pub fn notes_for(runs: &[BatchRun], defaulted_dims: &[String]) -> Vec<String> {
    let mut notes = Vec::new();
    if !defaulted_dims.is_empty() {
        notes.push(format!(
            "symbolic dims set to 1: {} (choose with --dim SYMBOL=N on bench, or dims = {{ SYMBOL = N }} under [models.bench] in the gate config)",
            defaulted_dims.join(", ")
        ));
    }
    for run in runs {
        notes.extend(
            run.gpu
                .as_ref()
                .and_then(|g| gpu::throttle_note(run.batch, g)),
        );
        for (q, trusted) in [(0.95, run.trusted.p95), (0.99, run.trusted.p99)] {
            if !trusted {
                notes.push(format!(
                    "batch {}: p{} rests on {} runs; {} are needed to trust it at 99 % confidence (MLPerf LoadGen)",
                    run.batch,
                    (q * 100.0) as u32,
                    run.samples_ms.len(),
                    stats::min_samples_for_percentile(q, 0.99).unwrap_or(0)
                ));
            }
        }
    }
    notes
}
