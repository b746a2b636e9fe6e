//! `modelgate explore`: every variant of one model measured the way the gate measures, and the
//! trade-offs between them.
//!
//! A team choosing between an fp32, an fp16 and an int8 file, optimisation levels, thread counts
//! or providers wants one table: latency, throughput, memory, energy and quality of each, the
//! change against a reference with the paired test behind it (Holm across the whole family, so
//! "not distinguishable" is an answer), which variants meet the hard constraints, the best one by
//! each dimension and by a documented composite score, and the latency-accuracy Pareto front.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::bench::{self, BenchResult};
use crate::config::{GateConfig, ModelConfig};
use crate::eval::EvalResult;
use crate::runtime::{Provider, Runtime};

pub mod plot;

/// Version of `summary.json`'s layout.
pub const SCHEMA_VERSION: u32 = 2;

pub use crate::config::explore::{Constraints, ExploreConfig, VariantConfig, Weights};

/// One measured variant: a dashboard row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VariantRow {
    pub name: String,
    pub file: String,
    pub sha256: String,
    pub provider: String,
    pub opt_level: String,
    pub intra_threads: Option<usize>,
    pub batch: i64,
    pub latency_mean_ms: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub latency_p99_ms: f64,
    pub sample_p50_ms: f64,
    pub sample_p95_ms: f64,
    pub sample_p99_ms: f64,
    pub throughput_samples_per_s: f64,
    pub model_size_mb: f64,
    /// Peak resident memory of a process holding only this variant.
    pub peak_memory_mb: f64,
    /// Resident memory the session added, per sample of a batch.
    pub memory_per_inference_mb: f64,
    /// Peak MiB per sample/s of throughput.
    pub memory_pressure_mb_per_sps: f64,
    /// From the GPU's energy counter, or the CPU packages' RAPL counters (whole packages);
    /// absent where not measured (never estimated).
    pub energy_mj_per_inference: Option<f64>,
    pub accuracy: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    pub auroc: Option<f64>,
    /// Against the reference, in points, with Newcombe's interval for a paired difference
    /// (at 1 - significance) and the Holm-adjusted p-value of McNemar's exact test.
    pub accuracy_change_pts: Option<f64>,
    pub accuracy_change_ci_low: Option<f64>,
    pub accuracy_change_ci_high: Option<f64>,
    pub accuracy_p_adj: Option<f64>,
    pub recall_change_pts: Option<f64>,
    pub recall_change_ci_low: Option<f64>,
    pub recall_change_ci_high: Option<f64>,
    pub recall_p_adj: Option<f64>,
    /// Macro F1's change in points, with the paired bootstrap's interval and p-value (2,000
    /// resamples of the samples, seeded).
    pub f1_change_pts: Option<f64>,
    pub f1_change_ci_low: Option<f64>,
    pub f1_change_ci_high: Option<f64>,
    pub f1_p_adj: Option<f64>,
    /// AUROC's change in points, with DeLong's paired test and its normal interval; binary
    /// models only.
    pub auroc_change_pts: Option<f64>,
    pub auroc_change_ci_low: Option<f64>,
    pub auroc_change_ci_high: Option<f64>,
    pub auroc_p_adj: Option<f64>,
    /// Per-sample p50 latency over the reference's, with the gate's interval (at 1 -
    /// significance) across the rounds of fresh sessions the variants were timed in (Student's
    /// t over the rounds' log ratios) and its Holm-adjusted p-value.
    pub latency_p50_ratio: Option<f64>,
    pub latency_p50_ci_low: Option<f64>,
    pub latency_p50_ci_high: Option<f64>,
    pub latency_p50_p_adj: Option<f64>,
    /// Per-sample p95 latency over the reference's, with its interval across the rounds and
    /// its Holm-adjusted p-value.
    pub latency_p95_ratio: Option<f64>,
    pub latency_p95_ci_low: Option<f64>,
    pub latency_p95_ci_high: Option<f64>,
    pub latency_p95_p_adj: Option<f64>,
    /// "reference", "distinguishable" (some difference whose adjusted p is under the
    /// significance level and whose interval leaves out no change: 0 points, or for latency
    /// every ratio within the model's tolerance) or "not distinguishable".
    pub versus_reference: String,
    pub composite_score: f64,
    pub meets_constraints: bool,
    /// The constraints it misses, as `latency_p95_ms 12.3 > 10`.
    pub missed: Vec<String>,
    /// With `--peak-qps`: instances of this variant (one session each) for the peak.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
}

/// A variant's capacity plan: one instance serves `throughput` samples/s (its measured service
/// rate, closed loop); run at 70 % utilization, `ceil(peak x safety / (rate x 0.7))` instances
/// carry the peak, and M/D/1 predicts the queueing delay each then adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Capacity {
    pub peak_qps: f64,
    pub safety: f64,
    pub target_utilization: f64,
    pub service_rate_qps: f64,
    pub instances: u64,
    /// M/D/1 mean queueing delay at the target utilization, in ms.
    pub queueing_ms_at_target: Option<f64>,
    /// Peak memory of every instance together, in MiB.
    pub memory_mb_total: f64,
    pub formula: String,
}

/// The capacity plan of a variant that serves `rate` samples/s (see [`Capacity`]).
pub fn capacity(rate: f64, peak_memory_mb: f64, peak_qps: f64, safety: f64) -> Option<Capacity> {
    use crate::load::TARGET_UTILIZATION;
    if !(rate.is_finite() && rate > 0.0 && peak_qps > 0.0 && safety > 0.0) {
        return None;
    }
    let (instances, per_instance) = crate::load::instances_needed(peak_qps, safety, rate);
    Some(Capacity {
        peak_qps,
        safety,
        target_utilization: TARGET_UTILIZATION,
        service_rate_qps: rate,
        instances,
        queueing_ms_at_target: crate::load::md1_wait_s(per_instance, rate).map(|s| s * 1000.0),
        memory_mb_total: peak_memory_mb * instances as f64,
        formula: format!(
            "instances = ceil(peak {peak_qps} qps x safety {safety} / (service rate {rate:.1} samples/s x {:.0} % utilization)) = ceil({:.1} / {per_instance:.1}) = {instances}",
            TARGET_UTILIZATION * 100.0,
            peak_qps * safety
        ),
    })
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Summary {
    pub schema_version: u32,
    pub model: String,
    pub reference: String,
    pub significance: f64,
    /// The model's p50 and p95 latency tolerances in percent (`[criteria]`
    /// max_p50_regression_pct and max_p95_regression_pct): a latency ratio is told apart from
    /// the reference only beyond them, as the gate judges latency.
    pub latency_tolerance_pct: [f64; 2],
    pub constraints: Constraints,
    pub weights: Weights,
    /// The weights the composite actually used (renormalised without unmeasured dimensions).
    pub weights_used: BTreeMap<Dimension, f64>,
    /// Best variant among those meeting the constraints, per dimension and by composite. A
    /// dimension whose best is not told apart from the reference (p95 latency, throughput by the
    /// p50 test, accuracy, recall; the rule of `versus_reference`) has no best: it is in `ties`.
    pub best: BTreeMap<String, String>,
    /// Dimensions without a best: the variants meeting the constraints that are not told apart
    /// from the reference there and are at least as good as it (the reference among them when
    /// it meets them), best value first.
    #[serde(default)]
    pub ties: BTreeMap<String, Vec<String>>,
    /// What the Pareto front and the plot weigh against p95 latency: `recall` when a
    /// `recall_min` constraint is set, else `accuracy`, or `throughput` without a dataset.
    #[serde(default)]
    pub tradeoff: Tradeoff,
    /// Variants meeting the constraints that no other such variant beats on both p95 latency and
    /// the `tradeoff` quality (latency alone without a dataset): the Pareto front.
    pub pareto_front: Vec<String>,
    pub variants: Vec<VariantRow>,
    pub notes: Vec<String>,
}

/// The quality weighed against p95 latency on the Pareto front and the plot.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Tradeoff {
    /// Accuracy, when every variant has a dataset's numbers and no recall constraint is set.
    #[default]
    Accuracy,
    /// Recall of the positive class, when the constraints guard it (`recall_min`).
    Recall,
    /// Throughput on the plot, latency alone on the front: no dataset.
    Throughput,
}

impl Tradeoff {
    /// The quality the constraints guard, if every variant has it measured.
    fn of(constraints: &Constraints, rows: &[VariantRow]) -> Tradeoff {
        if constraints.recall_min.is_some() && rows.iter().all(|r| r.recall.is_some()) {
            Tradeoff::Recall
        } else if rows.iter().all(|r| r.accuracy.is_some()) {
            Tradeoff::Accuracy
        } else {
            Tradeoff::Throughput
        }
    }

    /// A variant's quality on this axis, as a fraction; None for throughput.
    pub fn quality(self, row: &VariantRow) -> Option<f64> {
        match self {
            Tradeoff::Accuracy => row.accuracy,
            Tradeoff::Recall => row.recall,
            Tradeoff::Throughput => None,
        }
    }

    /// Its name, as in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Tradeoff::Accuracy => "accuracy",
            Tradeoff::Recall => "recall",
            Tradeoff::Throughput => "throughput",
        }
    }
}

/// What to explore: the model's config and the variants (the reference first).
pub struct Plan {
    pub model: ModelConfig,
    pub variants: Vec<VariantConfig>,
    pub explore: ExploreConfig,
    pub root: PathBuf,
    /// The model's significance level (its criteria's), for "distinguishable".
    pub significance: f64,
    /// The model's p50 and p95 latency tolerances in percent (its criteria's), for
    /// "distinguishable".
    pub latency_tolerance_pct: [f64; 2],
    /// `--peak-qps` and `--safety`: plan each variant's capacity for that peak.
    pub peak: Option<(f64, f64)>,
}

/// The variants of `model`: the reference (the model as configured) and its `[[models.variants]]`,
/// or the files given on the command line (the first the reference).
pub fn plan(config: &GateConfig, name: &str, files: &[PathBuf], root: &Path) -> Result<Plan> {
    let model = &crate::gate::select_models(config.clone(), &[name.to_string()])?.models[0];
    let variants = if files.is_empty() {
        let mut v = vec![VariantConfig {
            name: "reference".into(),
            file: None,
            ep: None,
            opt_level: None,
            intra_threads: None,
            batch: None,
        }];
        v.extend(model.variants.iter().cloned());
        v
    } else {
        files
            .iter()
            .map(|f| VariantConfig {
                name: f
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| f.display().to_string()),
                // Files from the command line are relative to where modelgate runs.
                file: Some(std::path::absolute(f).unwrap_or_else(|_| f.clone())),
                ep: None,
                opt_level: None,
                intra_threads: None,
                batch: None,
            })
            .collect()
    };
    if variants.len() < 2 {
        bail!(
            "model `{name}` has no variants to explore; add [[models.variants]] tables (name, file, ep, opt_level, intra_threads, batch) or give the files: modelgate explore A.onnx B.onnx --model {name}"
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for v in &variants {
        if !seen.insert(v.name.clone()) {
            bail!(
                "variant name `{}` appears twice; give each variant its own name",
                crate::text::clean(&v.name, 80)
            );
        }
    }
    config.explore.weights.validate()?;
    config.explore.constraints.validate()?;
    Ok(Plan {
        model: model.clone(),
        variants,
        explore: config.explore.clone(),
        root: root.to_path_buf(),
        significance: config.criteria_for(model).significance,
        latency_tolerance_pct: {
            let c = config.criteria_for(model);
            [c.max_p50_regression_pct, c.max_p95_regression_pct]
        },
        peak: None,
    })
}

/// One variant's measurements, before the comparisons.
struct Measured {
    config: VariantConfig,
    path: PathBuf,
    sha256: String,
    bench: BenchResult,
    peak_bytes: u64,
    eval: Option<EvalResult>,
}

/// Measures every variant and writes `dashboard.csv`, `summary.json`, `tradeoff.svg`,
/// `tradeoff.png` and `report.md` into `out`. Returns the summary.
///
/// The variants are timed together, interleaved in blocks (see [`crate::ab::Interleaved`]), as
/// the gate times a base model and its candidate: timed one after another, a runner's drift
/// between them would read as a difference between the variants.
pub fn run(
    plan: &Plan,
    runtime: &Runtime,
    out: &Path,
    progress: bench::Progress,
) -> Result<Summary> {
    crate::results::check_output_folder("--out", out)?;
    let arms = plan
        .variants
        .iter()
        .map(|v| arm(plan, v).with_context(|| variant_context(v)))
        .collect::<Result<Vec<_>>>()?;
    let shapes = crate::gate::shape_request(&plan.model, &plan.root);
    let benches = time_interleaved(runtime, &arms, &shapes, progress)?;
    // Every variant evaluated together: each sample decoded and preprocessed once.
    let evals = evaluate_variants(plan, runtime, &arms, progress)?;
    let mut measured = Vec::new();
    for (((variant, arm), mut bench), eval) in
        plan.variants.iter().zip(arms).zip(benches).zip(evals)
    {
        let with = || variant_context(variant);
        add_energy(runtime, &arm.0, &arm.1, &shapes, &mut bench, progress).with_context(with)?;
        measured.push(measure(variant, runtime, arm, &shapes, bench, eval).with_context(with)?);
    }
    let summary = summarize(plan, &measured, plan.significance)?;
    write(out, &summary)?;
    Ok(summary)
}

fn variant_context(variant: &VariantConfig) -> String {
    format!("variant `{}`", crate::text::clean(&variant.name, 80))
}

fn gate_options(plan: &Plan) -> crate::gate::GateOptions {
    crate::gate::GateOptions {
        root: plan.root.clone(),
        ..Default::default()
    }
}

/// A variant's model file and bench settings: the gate's, with the variant's overrides on top.
fn arm(plan: &Plan, variant: &VariantConfig) -> Result<(PathBuf, bench::BenchSettings)> {
    let model = &plan.model;
    let path = plan
        .root
        .join(variant.file.as_ref().unwrap_or(&model.candidate));
    crate::model::check_model_file(&path)?;
    let mut settings = crate::gate::bench_settings(model, &gate_options(plan));
    if let Some(ep) = variant.ep {
        settings.session.provider = ep;
    }
    if let Some(level) = variant.opt_level {
        settings.session.opt_level = level;
    }
    if variant.intra_threads.is_some() {
        settings.session.intra_threads = variant.intra_threads;
    }
    if let Some(batch) = variant.batch {
        settings.batches = vec![batch];
    }
    crate::config::checks::check_session(
        &settings.session,
        crate::limits::Origin::Config(&variant.name),
    )?;
    Ok((path, settings))
}

/// Every variant timed in interleaved blocks: `iterations` runs each, more while the runs
/// have taken less than `min_time_s` per variant (both the model's: variants override only
/// session settings and batch).
fn time_interleaved(
    runtime: &Runtime,
    arms: &[(PathBuf, bench::BenchSettings)],
    shapes: &crate::model::ShapeRequest,
    progress: bench::Progress,
) -> Result<Vec<BenchResult>> {
    let Some((_, settings)) = arms.first() else {
        bail!("no variants to time; this is a bug in modelgate");
    };
    let list: Vec<crate::ab::Arm> = arms
        .iter()
        .map(|(path, s)| crate::ab::Arm {
            path,
            settings: s.clone(),
            batch: s.batches.first().copied(),
        })
        .collect();
    // Rounds long enough that p95 has the runs beyond it a tail needs in each, as many as the
    // runs allow up to EXPLORE_ROUNDS (fewer than four fall back to the block bootstrap).
    let p95_runs = (crate::compare::MIN_TAIL_RUNS / 0.05).ceil() as u64;
    let per_round = (settings.iterations / crate::ab::EXPLORE_ROUNDS as u64).max(p95_runs);
    let rounds =
        (settings.iterations / per_round).clamp(1, crate::ab::EXPLORE_ROUNDS as u64) as usize;
    let announce = format!(
        "timing {} variants interleaved, {} runs each, {}",
        arms.len(),
        settings.iterations,
        if rounds == 1 {
            "in one session each".to_string()
        } else {
            format!("in {rounds} rounds of fresh sessions")
        }
    );
    crate::ab::time_rounds(
        runtime,
        &list,
        shapes,
        crate::ab::Rounds {
            label: "interleaved",
            rounds,
            runs: per_round,
            min_time_s: settings.min_time_s,
        },
        &announce,
        progress,
    )
}

/// Energy needs a counter read around runs of this variant alone, which blocks of tens of
/// milliseconds cannot give (see [`crate::ab`]): where a counter is readable (an NVIDIA GPU's,
/// or RAPL's on the CPU), the variant is benched once more alone and its energy per run kept.
fn add_energy(
    runtime: &Runtime,
    path: &Path,
    settings: &bench::BenchSettings,
    shapes: &crate::model::ShapeRequest,
    bench: &mut BenchResult,
    progress: bench::Progress,
) -> Result<()> {
    let readable = match settings.session.provider {
        Provider::Cpu => crate::rapl::Rapl::open(Path::new(crate::rapl::POWERCAP))
            .and_then(|r| r.read())
            .is_some(),
        _ => crate::gpu::visible_device(0).is_some(),
    };
    if !readable {
        return Ok(());
    }
    let (alone, _) = bench::run(runtime, path, settings, shapes, progress)?;
    if let (Some(run), Some(solo)) = (bench.runs.first_mut(), alone.primary()) {
        run.gpu = solo.gpu.clone();
        run.cpu_energy_per_run_mj = solo.cpu_energy_per_run_mj;
    }
    bench.notes.push(
        "energy comes from a separate run of this variant alone, after the interleaved timing"
            .into(),
    );
    Ok(())
}

/// Every variant's evaluation, in the variants' order (all None without a dataset): together,
/// so each sample is read and preprocessed once for all of them.
fn evaluate_variants(
    plan: &Plan,
    runtime: &Runtime,
    arms: &[(PathBuf, bench::BenchSettings)],
    progress: bench::Progress,
) -> Result<Vec<Option<EvalResult>>> {
    if plan.model.dataset.is_none() {
        return Ok(arms.iter().map(|_| None).collect());
    }
    let line = format!(
        "evaluating {} variants together (each sample read and preprocessed once)",
        arms.len()
    );
    crate::events::note(progress, &line);
    let forms: Vec<(&Path, &crate::runtime::SessionSettings)> = arms
        .iter()
        .map(|(path, settings)| (path.as_path(), &settings.session))
        .collect();
    let started = std::time::Instant::now();
    let evals =
        crate::gate::evaluate_many(&plan.model, runtime, &forms, &gate_options(plan), progress)?
            .unwrap_or_default();
    if evals.len() != arms.len() {
        bail!("the evaluation lost a variant; this is a bug in modelgate");
    }
    let line = format!(
        "evaluated {} variants in {:.1} s",
        arms.len(),
        started.elapsed().as_secs_f64()
    );
    crate::events::note(progress, &line);
    Ok(evals.into_iter().map(Some).collect())
}

/// The rest of a variant's measurements: its peak memory alone and its digest, with its
/// evaluation.
fn measure(
    variant: &VariantConfig,
    runtime: &Runtime,
    (path, settings): (PathBuf, bench::BenchSettings),
    shapes: &crate::model::ShapeRequest,
    bench: BenchResult,
    eval: Option<EvalResult>,
) -> Result<Measured> {
    let probe = crate::memprobe::ProbeSpec {
        model: path.clone(),
        session: settings.session.clone(),
        shapes: shapes.clone(),
        batch: settings.batches.first().copied(),
    };
    let peak_bytes = crate::memprobe::measure_alone(Path::new(&runtime.library.path), &probe)
        .unwrap_or(bench.memory.peak_rss_bytes);
    let sha256 = crate::system::sha256_file(&path)
        .with_context(|| format!("cannot read model file {}", path.display()))?;
    Ok(Measured {
        config: variant.clone(),
        path,
        sha256,
        bench,
        peak_bytes,
        eval,
    })
}

const MIB: f64 = 1024.0 * 1024.0;

/// The dashboard from the measurements: rows, paired tests against the reference with Holm
/// across the family, constraints, composite, bests and the Pareto front.
fn summarize(plan: &Plan, measured: &[Measured], significance: f64) -> Result<Summary> {
    let reference = &measured[0];
    let mut rows = Vec::new();
    // Raw p-values, in order: per non-reference variant, accuracy, recall, F1, AUROC, p50 and
    // p95 latency.
    let mut raw: Vec<f64> = Vec::new();
    let mut slots: Vec<[Option<usize>; 6]> = Vec::new();
    let per_sample = |m: &Measured| -> Result<Vec<f64>> {
        let run = m
            .bench
            .primary()
            .context("the bench timed no batch; this is a bug in modelgate")?;
        let batch = run.batch.max(1) as f64;
        Ok(run.samples_ms.iter().map(|x| x / batch).collect())
    };
    let reference_ms = per_sample(reference)?;
    for m in measured {
        let run = m
            .bench
            .primary()
            .context("the bench timed no batch; this is a bug in modelgate")?;
        let batch = run.batch.max(1) as f64;
        let s = &run.summary;
        let metrics = m.eval.as_ref().map(|e| &e.metrics);
        let recall = metrics.map(|x| x.positive.as_ref().map_or(x.macro_recall, |p| p.recall));
        let mut slot = [None; 6];
        let mut quality = None;
        let mut latency: [Option<Versus>; 2] = [None, None];
        if !std::ptr::eq(m, reference) {
            if let (Some(base), Some(cand)) = (&reference.eval, &m.eval) {
                let paired = paired_tests(base, cand, 1.0 - significance)?;
                let changes = [
                    Some(&paired.accuracy),
                    Some(&paired.recall),
                    paired.f1.as_ref(),
                    paired.auroc.as_ref(),
                ];
                for (k, change) in changes.into_iter().enumerate() {
                    if let Some(change) = change {
                        slot[k] = Some(raw.len());
                        raw.push(change.p);
                    }
                }
                quality = Some(paired);
            }
            let seed = crate::gate::latency_seed(&m.sha256);
            let sessions = reference
                .bench
                .primary()
                .map_or(&[][..], |run| run.sessions.as_slice());
            latency = latency_versus(&reference_ms, &per_sample(m)?, sessions, significance, seed);
            for (k, versus) in latency.iter().enumerate() {
                if let Some(p) = versus.as_ref().and_then(|v| v.p) {
                    slot[4 + k] = Some(raw.len());
                    raw.push(p);
                }
            }
        }
        slots.push(slot);
        let peak_mb = m.peak_bytes as f64 / MIB;
        let energy = run
            .gpu
            .as_ref()
            .and_then(|g| g.energy_per_run_mj)
            .or(run.cpu_energy_per_run_mj)
            .map(|mj| mj / batch);
        rows.push(VariantRow {
            name: m.config.name.clone(),
            file: m.path.display().to_string(),
            sha256: m.sha256.clone(),
            provider: m.bench.provider.clone(),
            opt_level: format!("{:?}", m.bench.settings.session.opt_level).to_lowercase(),
            intra_threads: m.bench.settings.session.intra_threads,
            batch: run.batch,
            latency_mean_ms: s.mean_ms,
            latency_p50_ms: s.p50_ms,
            latency_p95_ms: s.p95_ms,
            latency_p99_ms: s.p99_ms,
            sample_p50_ms: s.p50_ms / batch,
            sample_p95_ms: s.p95_ms / batch,
            sample_p99_ms: s.p99_ms / batch,
            throughput_samples_per_s: run.throughput_samples_per_s,
            model_size_mb: m.bench.memory.model_file_bytes as f64 / MIB,
            peak_memory_mb: peak_mb,
            memory_per_inference_mb: m.bench.memory.load_growth_bytes as f64 / MIB / batch,
            memory_pressure_mb_per_sps: peak_mb / run.throughput_samples_per_s.max(1e-12),
            energy_mj_per_inference: energy,
            accuracy: metrics.map(|x| x.accuracy),
            recall,
            f1: metrics.map(|x| x.macro_f1),
            auroc: metrics.and_then(|x| x.auroc),
            accuracy_change_pts: quality.as_ref().map(|q| q.accuracy.change_pts),
            accuracy_change_ci_low: quality.as_ref().and_then(|q| q.accuracy.ci_low),
            accuracy_change_ci_high: quality.as_ref().and_then(|q| q.accuracy.ci_high),
            accuracy_p_adj: None,
            recall_change_pts: quality.as_ref().map(|q| q.recall.change_pts),
            recall_change_ci_low: quality.as_ref().and_then(|q| q.recall.ci_low),
            recall_change_ci_high: quality.as_ref().and_then(|q| q.recall.ci_high),
            recall_p_adj: None,
            f1_change_pts: quality
                .as_ref()
                .and_then(|q| q.f1.as_ref())
                .map(|c| c.change_pts),
            f1_change_ci_low: quality.as_ref().and_then(|q| q.f1.as_ref()?.ci_low),
            f1_change_ci_high: quality.as_ref().and_then(|q| q.f1.as_ref()?.ci_high),
            f1_p_adj: None,
            auroc_change_pts: quality
                .as_ref()
                .and_then(|q| q.auroc.as_ref())
                .map(|c| c.change_pts),
            auroc_change_ci_low: quality.as_ref().and_then(|q| q.auroc.as_ref()?.ci_low),
            auroc_change_ci_high: quality.as_ref().and_then(|q| q.auroc.as_ref()?.ci_high),
            auroc_p_adj: None,
            latency_p50_ratio: latency[0].as_ref().map(|v| v.ratio),
            latency_p50_ci_low: latency[0].as_ref().and_then(|v| v.ci.map(|c| c.lower)),
            latency_p50_ci_high: latency[0].as_ref().and_then(|v| v.ci.map(|c| c.upper)),
            latency_p50_p_adj: None,
            latency_p95_ratio: latency[1].as_ref().map(|v| v.ratio),
            latency_p95_ci_low: latency[1].as_ref().and_then(|v| v.ci.map(|c| c.lower)),
            latency_p95_ci_high: latency[1].as_ref().and_then(|v| v.ci.map(|c| c.upper)),
            latency_p95_p_adj: None,
            versus_reference: String::new(),
            composite_score: 0.0,
            meets_constraints: true,
            missed: vec![],
            capacity: plan
                .peak
                .and_then(|(q, safety)| capacity(run.throughput_samples_per_s, peak_mb, q, safety)),
        });
    }
    let adjusted = crate::stats::holm(&raw).context("a p-value is not a probability")?;
    for (i, (row, slot)) in rows.iter_mut().zip(&slots).enumerate() {
        let at = |k: usize| slot[k].map(|j| adjusted[j]);
        row.accuracy_p_adj = at(0);
        row.recall_p_adj = at(1);
        row.f1_p_adj = at(2);
        row.auroc_p_adj = at(3);
        row.latency_p50_p_adj = at(4);
        row.latency_p95_p_adj = at(5);
        row.versus_reference = if i == 0 {
            "reference".into()
        } else {
            versus(row, significance, plan.latency_tolerance_pct).into()
        };
    }
    let constraints = &plan.explore.constraints;
    for row in &mut rows {
        row.missed = missed(row, constraints);
        row.meets_constraints = row.missed.is_empty();
    }
    let mut notes = Vec::new();
    let weights_used = weights_used(&plan.explore.weights, &rows, &mut notes);
    for row in &mut rows {
        row.composite_score = composite(row, &weights_used);
    }
    let (best, ties) = best(&rows, significance, plan.latency_tolerance_pct);
    if rows.iter().all(|r| !r.meets_constraints) {
        notes.push("no variant meets the constraints".into());
    }
    if rows.iter().any(|r| r.energy_mj_per_inference.is_none()) {
        notes.push(
            "energy per inference is measured from an NVIDIA GPU's energy counter or, on the CPU, RAPL's package counters where readable (often root only); it is left blank elsewhere, never estimated"
                .into(),
        );
    }
    // The front only among the variants that meet the constraints: one that misses a floor is
    // no trade-off to weigh.
    let tradeoff = Tradeoff::of(constraints, &rows);
    let eligible: Vec<&VariantRow> = rows.iter().filter(|r| r.meets_constraints).collect();
    let points: Vec<(f64, Option<f64>)> = eligible
        .iter()
        .map(|r| (r.latency_p95_ms, tradeoff.quality(r)))
        .collect();
    let pareto_front = pareto(&points)
        .into_iter()
        .map(|i| eligible[i].name.clone())
        .collect();
    Ok(Summary {
        schema_version: SCHEMA_VERSION,
        model: plan.model.name.clone(),
        reference: rows[0].name.clone(),
        significance,
        latency_tolerance_pct: plan.latency_tolerance_pct,
        constraints: constraints.clone(),
        weights: plan.explore.weights.clone(),
        weights_used,
        best,
        ties,
        tradeoff,
        pareto_front,
        variants: rows,
        notes,
    })
}

/// A variant's row against the reference, as the gate decides: a quality change counts when
/// its test is significant after Holm and its interval leaves out 0 points; a latency ratio when
/// its test is significant and its interval lies wholly beyond the model's tolerance (above
/// `1 + tolerance`, where the gate would fail it, or below `1 / (1 + tolerance)`): two sessions
/// of one model can differ by a few percent, which is not a difference between variants.
/// "distinguishable" when one counts, else "not distinguishable".
fn versus(row: &VariantRow, significance: f64, tolerance_pct: [f64; 2]) -> &'static str {
    let found = row
        .differences()
        .iter()
        .any(|d| d.counts(significance, tolerance_pct));
    if found {
        "distinguishable"
    } else {
        "not distinguishable"
    }
}

/// One change of a row against the reference, with its interval and adjusted p-value.
struct Difference {
    name: &'static str,
    value: Option<f64>,
    low: Option<f64>,
    high: Option<f64>,
    p_adj: Option<f64>,
    /// For a latency ratio (no change is 1), which tolerance applies: 0 for p50, 1 for p95;
    /// None for a difference in points (no change is 0).
    ratio: Option<usize>,
}

impl Difference {
    /// Whether this change tells the variant apart from the reference: its adjusted p under
    /// the significance level, and its interval clear of no change (0 points; for a latency
    /// ratio, every ratio within the tolerance).
    fn counts(&self, significance: f64, tolerance_pct: [f64; 2]) -> bool {
        let (below, above) = match self.ratio {
            Some(k) => {
                let limit = 1.0 + tolerance_pct[k] / 100.0;
                (1.0 / limit, limit)
            }
            None => (0.0, 0.0),
        };
        self.p_adj.is_some_and(|p| p < significance)
            && self
                .low
                .zip(self.high)
                .is_some_and(|(lo, hi)| lo > above || hi < below)
    }
}

/// Where p50 and p95 latency, accuracy and recall sit in [`VariantRow::differences`].
const P50: usize = 0;
const P95: usize = 1;
const ACCURACY: usize = 2;
const RECALL: usize = 3;

impl VariantRow {
    /// p50 and p95 latency, accuracy, recall, F1 and AUROC against the reference, in that
    /// order.
    fn differences(&self) -> [Difference; 6] {
        let r = self;
        [
            Difference {
                name: "p50",
                value: r.latency_p50_ratio,
                low: r.latency_p50_ci_low,
                high: r.latency_p50_ci_high,
                p_adj: r.latency_p50_p_adj,
                ratio: Some(0),
            },
            Difference {
                name: "p95",
                value: r.latency_p95_ratio,
                low: r.latency_p95_ci_low,
                high: r.latency_p95_ci_high,
                p_adj: r.latency_p95_p_adj,
                ratio: Some(1),
            },
            Difference {
                name: "accuracy",
                value: r.accuracy_change_pts,
                low: r.accuracy_change_ci_low,
                high: r.accuracy_change_ci_high,
                p_adj: r.accuracy_p_adj,
                ratio: None,
            },
            Difference {
                name: "recall",
                value: r.recall_change_pts,
                low: r.recall_change_ci_low,
                high: r.recall_change_ci_high,
                p_adj: r.recall_p_adj,
                ratio: None,
            },
            Difference {
                name: "F1",
                value: r.f1_change_pts,
                low: r.f1_change_ci_low,
                high: r.f1_change_ci_high,
                p_adj: r.f1_p_adj,
                ratio: None,
            },
            Difference {
                name: "AUROC",
                value: r.auroc_change_pts,
                low: r.auroc_change_ci_low,
                high: r.auroc_change_ci_high,
                p_adj: r.auroc_p_adj,
                ratio: None,
            },
        ]
    }
}

/// A quality metric's change against the reference: points, its interval, McNemar's p-value.
struct Change {
    change_pts: f64,
    ci_low: Option<f64>,
    ci_high: Option<f64>,
    p: f64,
}

impl Change {
    /// From (reference correct, variant correct) pairs.
    fn of(pairs: &[(bool, bool)], confidence: f64) -> Change {
        let diff: i64 = pairs
            .iter()
            .map(|&(b, c)| i64::from(c) - i64::from(b))
            .sum();
        let only = |want: (bool, bool)| pairs.iter().filter(|p| **p == want).count() as u64;
        let ci = crate::stats::paired_difference_ci(pairs, confidence);
        Change {
            change_pts: diff as f64 / pairs.len().max(1) as f64 * 100.0,
            ci_low: ci.map(|c| c.lower * 100.0),
            ci_high: ci.map(|c| c.upper * 100.0),
            p: crate::stats::mcnemar_exact(only((true, false)), only((false, true)))
                .p_value
                .clamp(0.0, 1.0),
        }
    }
}

/// Accuracy, recall, macro F1 and AUROC of two evaluations of the same samples, paired by id.
struct Paired {
    accuracy: Change,
    recall: Change,
    f1: Option<Change>,
    /// Binary models only.
    auroc: Option<Change>,
}

/// Resamples of the paired bootstrap of macro F1, and its seed (fixed, so a run's table can be
/// made again from its evaluations).
const F1_RESAMPLES: usize = 2000;
const F1_SEED: u64 = 0x00f1_f1f1;

/// Macro F1 as eval computes it (per class `2 tp / (support + predicted)`, 0 where that is
/// 0/0, averaged over all `classes`) over the samples at `indices`, of `(label, pred)` pairs.
fn macro_f1(outcomes: &[(usize, usize)], indices: &[usize], classes: usize) -> f64 {
    let mut tp = vec![0usize; classes];
    let mut support = vec![0usize; classes];
    let mut predicted = vec![0usize; classes];
    for &i in indices {
        let (label, pred) = outcomes[i];
        if label < classes && pred < classes {
            support[label] += 1;
            predicted[pred] += 1;
            tp[label] += usize::from(label == pred);
        }
    }
    let f1 = (0..classes).map(|c| {
        let den = support[c] + predicted[c];
        if den == 0 {
            0.0
        } else {
            2.0 * tp[c] as f64 / den as f64
        }
    });
    f1.sum::<f64>() / classes.max(1) as f64
}

/// Macro F1's change, with the paired bootstrap's interval and p-value.
fn f1_change(
    base: &[(usize, usize)],
    cand: &[(usize, usize)],
    classes: usize,
    confidence: f64,
) -> Option<Change> {
    let d = crate::stats::paired_bootstrap_difference(
        base.len(),
        |at| Some((macro_f1(base, at, classes), macro_f1(cand, at, classes))),
        confidence,
        F1_RESAMPLES,
        F1_SEED,
    )?;
    Some(Change {
        change_pts: (d.b - d.a) * 100.0,
        ci_low: Some(d.ci.lower * 100.0),
        ci_high: Some(d.ci.upper * 100.0),
        p: d.p_value.clamp(0.0, 1.0),
    })
}

/// AUROC's change for a binary model (the positive class's scores), with DeLong's paired test
/// and its normal interval at `confidence`, as the gate's AUROC criterion computes it.
fn auroc_change(
    base: &[&crate::eval::SampleRecord],
    cand: &[&crate::eval::SampleRecord],
    positive: usize,
    confidence: f64,
) -> Option<Change> {
    let score = |r: &crate::eval::SampleRecord| r.scores.get(positive).map(|s| f64::from(*s));
    let a: Vec<f64> = base.iter().map(|r| score(r)).collect::<Option<_>>()?;
    let b: Vec<f64> = cand.iter().map(|r| score(r)).collect::<Option<_>>()?;
    let is_pos: Vec<bool> = base.iter().map(|r| r.label == positive).collect();
    let Some(d) = crate::stats::delong_paired(&a, &b, &is_pos) else {
        // No variance: the two rank every positive-negative pair alike, so the AUROCs are
        // equal and nothing can differ; otherwise (too few of a class) there is no change.
        let auc = |s: &[f64]| {
            let s: Vec<f32> = s.iter().map(|x| *x as f32).collect();
            crate::metrics::roc_auc(&s, &is_pos)
        };
        let (x, y) = (auc(&a)?, auc(&b)?);
        return (x == y).then_some(Change {
            change_pts: 0.0,
            ci_low: Some(0.0),
            ci_high: Some(0.0),
            p: 1.0,
        });
    };
    let ci = d.difference_interval(confidence)?;
    Some(Change {
        change_pts: (d.auc_b - d.auc_a) * 100.0,
        ci_low: Some(ci.lower * 100.0),
        ci_high: Some(ci.upper * 100.0),
        p: d.p_value.clamp(0.0, 1.0),
    })
}

fn paired_tests(base: &EvalResult, cand: &EvalResult, confidence: f64) -> Result<Paired> {
    let by_id: std::collections::HashMap<&str, &crate::eval::SampleRecord> =
        cand.samples.iter().map(|s| (s.id.as_str(), s)).collect();
    let positive = base.positive_class;
    let (mut all, mut positives) = (Vec::new(), Vec::new());
    let (mut base_records, mut cand_records) = (Vec::new(), Vec::new());
    for b in &base.samples {
        let Some(c) = by_id.get(b.id.as_str()) else {
            bail!(
                "sample {:?} is in the reference's evaluation but not this variant's",
                crate::text::clean(&b.id, 80)
            );
        };
        let pair = (b.pred == b.label, c.pred == c.label);
        all.push(pair);
        if positive.is_none_or(|p| b.label == p) {
            positives.push(pair);
        }
        base_records.push(b);
        cand_records.push(*c);
    }
    let classes = base.metrics.per_class.len();
    let outcomes = |records: &[&crate::eval::SampleRecord]| -> Vec<(usize, usize)> {
        records.iter().map(|r| (r.label, r.pred)).collect()
    };
    let f1 = f1_change(
        &outcomes(&base_records),
        &outcomes(&cand_records),
        classes,
        confidence,
    );
    let auroc = if classes == 2 {
        auroc_change(
            &base_records,
            &cand_records,
            positive.unwrap_or(1),
            confidence,
        )
    } else {
        None
    };
    Ok(Paired {
        accuracy: Change::of(&all, confidence),
        recall: Change::of(&positives, confidence),
        f1,
        auroc,
    })
}

/// A latency quantile's ratio against the reference, its interval and its test's p-value.
struct Versus {
    ratio: f64,
    ci: Option<crate::stats::Interval>,
    p: Option<f64>,
}

/// p50 and p95 of `variant_ms` against `reference_ms` (per-sample latencies timed in the same
/// interleaved blocks, in rounds of fresh sessions with the runs of each in `sessions`), with
/// the gate's own latency comparison at `1 - significance`: across four or more rounds, Student's
/// t over the rounds' log ratios, so a steady gap between two sessions of one model widens the
/// interval instead of reading as a difference; with fewer, the paired block bootstrap (seeded
/// with `seed`, as the gate seeds it from the candidate's digest) with Mann-Whitney U at p50 and
/// the exceedance test at p95.
fn latency_versus(
    reference_ms: &[f64],
    variant_ms: &[f64],
    sessions: &[usize],
    significance: f64,
    seed: u64,
) -> [Option<Versus>; 2] {
    let input = crate::compare::LatencyInput {
        baseline_ms: reference_ms,
        candidate_ms: variant_ms,
        source: crate::compare::LatencySource::SameRunnerAb,
        seed,
        looks: 1,
        sessions,
        look: None,
    };
    let criteria = crate::config::Criteria {
        significance,
        ..Default::default()
    };
    let mut tests = Vec::new();
    let (list, _) = crate::compare::compare_latency(&input, &criteria, &mut tests);
    let at = |k: usize| {
        let c = list.get(k)?;
        Some(Versus {
            ratio: c.change? / 100.0 + 1.0,
            ci: c.ci,
            p: c.test
                .and_then(|i| tests.get(i))
                .map(|t| t.p_value.clamp(0.0, 1.0)),
        })
    };
    [at(0), at(1)]
}

fn missed(row: &VariantRow, c: &Constraints) -> Vec<String> {
    let mut out = Vec::new();
    let mut above = |name: &str, value: Option<f64>, limit: Option<f64>| {
        if let (Some(v), Some(l)) = (value, limit) {
            if v > l {
                out.push(format!("{name} {v:.4} > {l}"));
            }
        }
    };
    above("latency_p95_ms", Some(row.latency_p95_ms), c.latency_p95_ms);
    above("memory_max_mb", Some(row.peak_memory_mb), c.memory_max_mb);
    above(
        "energy_budget_mj",
        row.energy_mj_per_inference,
        c.energy_budget_mj,
    );
    let mut below = |name: &str, value: Option<f64>, limit: Option<f64>| {
        if let Some(l) = limit {
            match value {
                Some(v) if v >= l => {}
                Some(v) => out.push(format!("{name} {v:.4} < {l}")),
                None => out.push(format!("{name}: not measured (needs a dataset)")),
            }
        }
    };
    below("accuracy_min", row.accuracy, c.accuracy_min);
    below("recall_min", row.recall, c.recall_min);
    below(
        "throughput_min",
        Some(row.throughput_samples_per_s),
        c.throughput_min,
    );
    out
}

/// A dimension of the composite score. Declared in alphabetical order, so a map keyed by it
/// is written in the same order as one keyed by its name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Accuracy,
    Energy,
    Latency,
    Memory,
}

impl Dimension {
    /// The name in `[explore.weights]` and the summary.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Accuracy => "accuracy",
            Dimension::Energy => "energy",
            Dimension::Latency => "latency",
            Dimension::Memory => "memory",
        }
    }

    /// The dimension's score for `row`, higher is better: accuracy as itself, latency (p95 ms),
    /// memory (peak MiB) and energy (mJ) as `1 / (1 + x)`; None when it was not measured.
    fn score(self, row: &VariantRow) -> Option<f64> {
        let inv = |x: f64| 1.0 / (1.0 + x.max(0.0));
        match self {
            Dimension::Accuracy => row.accuracy,
            Dimension::Energy => row.energy_mj_per_inference.map(inv),
            Dimension::Latency => Some(inv(row.latency_p95_ms)),
            Dimension::Memory => Some(inv(row.peak_memory_mb)),
        }
    }
}

/// The weights the composite uses: a dimension some variant lacks (energy off a GPU, accuracy
/// without a dataset) is dropped and the rest renormalised to sum to 1.
fn weights_used(
    w: &Weights,
    rows: &[VariantRow],
    notes: &mut Vec<String>,
) -> BTreeMap<Dimension, f64> {
    let mut used = BTreeMap::new();
    for (dimension, weight) in [
        (Dimension::Accuracy, w.accuracy),
        (Dimension::Latency, w.latency),
        (Dimension::Memory, w.memory),
        (Dimension::Energy, w.energy),
    ] {
        if rows.iter().all(|r| dimension.score(r).is_some()) {
            used.insert(dimension, weight);
        } else if weight > 0.0 {
            let name = dimension.name();
            notes.push(format!(
                "the composite leaves out {name} (weight {weight}), which is not measured for every variant; the other weights are scaled to sum to 1"
            ));
        }
    }
    let total: f64 = used.values().sum();
    if total > 0.0 {
        for v in used.values_mut() {
            *v /= total;
        }
    }
    used
}

/// `sum of weight x score` over the dimensions used (see [`Dimension::score`]).
pub fn composite(row: &VariantRow, weights: &BTreeMap<Dimension, f64>) -> f64 {
    weights
        .iter()
        .map(|(dimension, w)| w * dimension.score(row).unwrap_or(0.0))
        .sum()
}

/// The best variant per dimension among those meeting the constraints (on a tie of values the
/// earlier, the reference first), and the dimensions whose best is not told apart from the
/// reference, with the variants meeting the constraints that tie there. `rows[0]` is the
/// reference.
fn best(
    rows: &[VariantRow],
    significance: f64,
    tolerance_pct: [f64; 2],
) -> (BTreeMap<String, String>, BTreeMap<String, Vec<String>>) {
    let ok: Vec<(usize, &VariantRow)> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.meets_constraints)
        .collect();
    let mut best = BTreeMap::new();
    let mut ties = BTreeMap::new();
    let mut pick =
        |dim: &str, key: &dyn Fn(&VariantRow) -> Option<f64>, higher: bool, test: Option<usize>| {
            let mut chosen: Option<(usize, &VariantRow, f64)> = None;
            for &(i, r) in &ok {
                if let Some(v) = key(r) {
                    let better = chosen.is_none_or(|(_, _, c)| if higher { v > c } else { v < c });
                    if better {
                        chosen = Some((i, r, v));
                    }
                }
            }
            let Some((at, r, _)) = chosen else {
                return;
            };
            // With a test against the reference: the variants it cannot tell from the reference.
            let tied_with_reference = |i: usize, row: &VariantRow| {
                test.is_some_and(|k| {
                    i == 0 || !row.differences()[k].counts(significance, tolerance_pct)
                })
            };
            if tied_with_reference(at, r) {
                // The variants that could be best: not told apart from the reference, and at
                // least as good as it where it qualifies (one worse is no candidate).
                let reference = ok
                    .iter()
                    .find(|(i, _)| *i == 0)
                    .and_then(|(_, row)| key(row));
                let could_be_best =
                    |v: f64| reference.is_none_or(|x| if higher { v >= x } else { v <= x });
                let mut tied: Vec<(usize, &VariantRow)> = ok
                    .iter()
                    .copied()
                    .filter(|&(i, row)| {
                        key(row).is_some_and(could_be_best) && tied_with_reference(i, row)
                    })
                    .collect();
                if tied.len() > 1 {
                    tied.sort_by(|a, b| {
                        let (x, y) = (key(a.1).unwrap_or(0.0), key(b.1).unwrap_or(0.0));
                        let order = if higher {
                            y.total_cmp(&x)
                        } else {
                            x.total_cmp(&y)
                        };
                        order.then(a.0.cmp(&b.0))
                    });
                    ties.insert(
                        dim.to_string(),
                        tied.iter().map(|(_, row)| row.name.clone()).collect(),
                    );
                    return;
                }
            }
            best.insert(dim.to_string(), r.name.clone());
        };
    pick("latency_p95", &|r| Some(r.latency_p95_ms), false, Some(P95));
    pick(
        "throughput",
        &|r| Some(r.throughput_samples_per_s),
        true,
        // Runs per second of the same timed runs: told apart by p50's test.
        Some(P50),
    );
    pick("memory", &|r| Some(r.peak_memory_mb), false, None);
    pick("energy", &|r| r.energy_mj_per_inference, false, None);
    pick("accuracy", &|r| r.accuracy, true, Some(ACCURACY));
    pick("recall", &|r| r.recall, true, Some(RECALL));
    pick("composite", &|r| Some(r.composite_score), true, None);
    (best, ties)
}

/// Indices of the points no other point dominates: lower-or-equal latency and higher-or-equal
/// accuracy, better in one. Without accuracy (no dataset) only latency counts.
pub fn pareto(points: &[(f64, Option<f64>)]) -> Vec<usize> {
    let acc = |i: usize| points[i].1.unwrap_or(0.0);
    (0..points.len())
        .filter(|&i| {
            !(0..points.len()).any(|j| {
                j != i
                    && points[j].0 <= points[i].0
                    && acc(j) >= acc(i)
                    && (points[j].0 < points[i].0 || acc(j) > acc(i))
            })
        })
        .collect()
}

fn write(out: &Path, summary: &Summary) -> Result<()> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create --out {}", out.display()))?;
    crate::results::write_atomic(&out.join("dashboard.csv"), csv(summary).as_bytes())?;
    crate::results::write_json_atomic(&out.join("summary.json"), summary)?;
    if let Some(svg) = plot::tradeoff_svg(summary) {
        crate::results::write_atomic(&out.join("tradeoff.svg"), svg.as_bytes())?;
    }
    if let Some(png) = plot::tradeoff_png(summary) {
        crate::results::write_atomic(&out.join("tradeoff.png"), &png)?;
    }
    crate::results::write_atomic(&out.join("report.md"), markdown(summary).as_bytes())?;
    Ok(())
}

/// The CSV columns, in order; the names are `VariantRow`'s fields.
pub const CSV_COLUMNS: [&str; 54] = [
    "name",
    "file",
    "sha256",
    "provider",
    "opt_level",
    "intra_threads",
    "batch",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "sample_p50_ms",
    "sample_p95_ms",
    "sample_p99_ms",
    "throughput_samples_per_s",
    "model_size_mb",
    "peak_memory_mb",
    "memory_per_inference_mb",
    "memory_pressure_mb_per_sps",
    "energy_mj_per_inference",
    "accuracy",
    "recall",
    "f1",
    "auroc",
    "accuracy_change_pts",
    "accuracy_change_ci_low",
    "accuracy_change_ci_high",
    "accuracy_p_adj",
    "recall_change_pts",
    "recall_change_ci_low",
    "recall_change_ci_high",
    "recall_p_adj",
    "f1_change_pts",
    "f1_change_ci_low",
    "f1_change_ci_high",
    "f1_p_adj",
    "auroc_change_pts",
    "auroc_change_ci_low",
    "auroc_change_ci_high",
    "auroc_p_adj",
    "latency_p50_ratio",
    "latency_p50_ci_low",
    "latency_p50_ci_high",
    "latency_p50_p_adj",
    "latency_p95_ratio",
    "latency_p95_ci_low",
    "latency_p95_ci_high",
    "latency_p95_p_adj",
    "versus_reference",
    "composite_score",
    "meets_constraints",
    "missed",
    "pareto",
    "instances_for_peak",
];

/// `dashboard.csv`: one row per variant, the columns of [`CSV_COLUMNS`]; blank where a value is
/// not measured. Values come from the same JSON the summary holds.
pub fn csv(summary: &Summary) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push('\n');
    for row in &summary.variants {
        let value = serde_json::to_value(row).unwrap_or_default();
        let cells: Vec<String> = CSV_COLUMNS
            .iter()
            .map(|column| {
                let cell = match *column {
                    "pareto" => summary.pareto_front.contains(&row.name).to_string(),
                    "instances_for_peak" => row
                        .capacity
                        .as_ref()
                        .map_or(String::new(), |c| c.instances.to_string()),
                    "missed" => row.missed.join("; "),
                    _ => match &value[*column] {
                        serde_json::Value::Null => String::new(),
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                };
                csv_cell(&cell)
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// Quotes a cell holding a comma, quote or line break (RFC 4180), and defuses a leading `=`,
/// `+`, `-` or `@` that a spreadsheet would run as a formula, unless it is a number.
fn csv_cell(text: &str) -> String {
    let text = crate::text::clean(text, 400);
    let formula = text.starts_with(['=', '+', '-', '@']) && text.parse::<f64>().is_err();
    let text = if formula { format!("'{text}") } else { text };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The report: the table, the bests, the notes, and the plot linked.
fn markdown(summary: &Summary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "# Variants of `{}`\n", summary.model);
    let _ = writeln!(
        out,
        "Reference: `{}`. Changes are against it, per sample, with {} % intervals in brackets; p-values are Holm-adjusted across every test of this table (significance {}). The variants were timed together, in interleaved blocks. A latency ratio counts as distinguishable only beyond the model's tolerance ({} % at p50, {} % at p95), as the gate judges latency.\n",
        summary.reference,
        (1.0 - summary.significance) * 100.0,
        summary.significance,
        summary.latency_tolerance_pct[0],
        summary.latency_tolerance_pct[1]
    );
    let _ = writeln!(
        out,
        "| variant | p95 / batch | throughput | peak memory | energy / inference | accuracy | recall | vs reference | score | constraints |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---|---:|---|");
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.2} %", v * 100.0));
    for r in &summary.variants {
        let p = |p: f64| {
            if p < 0.001 {
                "< 0.001".to_string()
            } else {
                format!("{p:.3}")
            }
        };
        let mut parts = Vec::new();
        for d in r.differences() {
            if let (Some(value), Some(q)) = (d.value, d.p_adj) {
                let value = if d.ratio.is_some() {
                    format!("x{value:.2}")
                } else {
                    format!("{value:+.2} pts")
                };
                let ci = match (d.low, d.high) {
                    (Some(lo), Some(hi)) => format!(" [{lo:.2}, {hi:.2}]"),
                    _ => String::new(),
                };
                parts.push(format!("{} {value}{ci}, p(adj) {}", d.name, p(q)));
            }
        }
        let change = if parts.is_empty() {
            r.versus_reference.clone()
        } else {
            format!("{}: {}", r.versus_reference, parts.join("; "))
        };
        let _ = writeln!(
            out,
            "| {}{} | {} | {:.1} samples/s | {:.1} MiB | {} | {} | {} | {} | {:.3} | {} |",
            crate::report::escape::escape_md(&r.name),
            if summary.pareto_front.contains(&r.name) {
                " (Pareto)"
            } else {
                ""
            },
            crate::format::duration(r.latency_p95_ms),
            r.throughput_samples_per_s,
            r.peak_memory_mb,
            r.energy_mj_per_inference
                .map_or("-".to_string(), |e| format!("{e:.2} mJ")),
            pct(r.accuracy),
            pct(r.recall),
            change,
            r.composite_score,
            if r.meets_constraints {
                "met".to_string()
            } else {
                format!(
                    "missed: {}",
                    crate::report::escape::escape_md(&r.missed.join("; "))
                )
            }
        );
    }
    let _ = writeln!(out);
    for (dim, name) in &summary.best {
        let _ = writeln!(
            out,
            "- best {dim}: `{}`",
            crate::report::escape::escape_md(name)
        );
    }
    for (dim, names) in &summary.ties {
        let names: Vec<String> = names
            .iter()
            .map(|n| format!("`{}`", crate::report::escape::escape_md(n)))
            .collect();
        let _ = writeln!(
            out,
            "- {dim}: a tie between {}, not told apart from the reference",
            names.join(", ")
        );
    }
    for r in summary.variants.iter().filter(|r| !r.meets_constraints) {
        let _ = writeln!(
            out,
            "- `{}` is neither best nor on the front: it misses {}",
            crate::report::escape::escape_md(&r.name),
            crate::report::escape::escape_md(&r.missed.join("; "))
        );
    }
    for note in &summary.notes {
        let _ = writeln!(out, "- note: {}", crate::report::escape::escape_md(note));
    }
    let _ = writeln!(
        out,
        "\n![latency against {}](tradeoff.svg)",
        summary.tradeoff.name()
    );
    let _ = writeln!(out, "\nThe same plot as PNG: [tradeoff.png](tradeoff.png)");
    out
}

/// The table for the terminal: a line per variant, then the bests.
pub fn terminal(summary: &Summary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:>10} {:>12} {:>10} {:>9} {:>9}  {:<20} {:>6}  constraints",
        "variant", "p95", "samples/s", "peak MiB", "accuracy", "recall", "vs reference", "score"
    );
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.2} %", v * 100.0));
    for r in &summary.variants {
        let _ = writeln!(
            out,
            "{:<16} {:>10} {:>12.1} {:>10.1} {:>9} {:>9}  {:<20} {:>6.3}  {}",
            crate::text::clean(&r.name, 16),
            crate::format::duration(r.latency_p95_ms),
            r.throughput_samples_per_s,
            r.peak_memory_mb,
            pct(r.accuracy),
            pct(r.recall),
            r.versus_reference,
            r.composite_score,
            if r.meets_constraints {
                "met".to_string()
            } else {
                format!("missed: {}", crate::text::clean(&r.missed.join("; "), 200))
            }
        );
    }
    let name = |n: &String| crate::text::clean(n, 60);
    for (dim, n) in &summary.best {
        let _ = writeln!(out, "best {dim}: {}", name(n));
    }
    for (dim, names) in &summary.ties {
        let names: Vec<String> = names.iter().map(name).collect();
        let _ = writeln!(
            out,
            "{dim}: a tie between {}, not told apart from the reference",
            names.join(", ")
        );
    }
    for r in summary.variants.iter().filter(|r| !r.meets_constraints) {
        let _ = writeln!(
            out,
            "{} is neither best nor on the front: it misses {}",
            name(&r.name),
            crate::text::clean(&r.missed.join("; "), 200)
        );
    }
    for r in &summary.variants {
        if let Some(c) = &r.capacity {
            let _ = writeln!(
                out,
                "capacity {}: {} instances ({:.0} MiB); {}",
                crate::text::clean(&r.name, 40),
                c.instances,
                c.memory_mb_total,
                c.formula
            );
        }
    }
    let front: Vec<String> = summary.pareto_front.iter().map(name).collect();
    let _ = writeln!(
        out,
        "Pareto front (p95 latency, {}): {}",
        match summary.tradeoff {
            Tradeoff::Throughput => "alone",
            other => other.name(),
        },
        front.join(", ")
    );
    for note in &summary.notes {
        let _ = writeln!(out, "note: {}", crate::text::clean(note, 300));
    }
    out
}

/// The JSON Schema of `summary.json`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Summary);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests;
