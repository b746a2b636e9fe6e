//! `modelgate gate`: bench, eval and compare every model in the config, and one verdict.
//!
//! For each model: read its committed baseline (a malformed one is an error, a missing one fails
//! unless `--allow-new`), measure the candidate (side by side with the base model when one is
//! available, else alone), evaluate it on the labeled data, and compare. When a latency result
//! is inconclusive and the model's time budget allows, more A/B runs are taken. The comparison
//! itself, and the verdict, come from the compare module.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::ab::AbPair;
use crate::bench::{self, BenchResult, BenchSettings};
use crate::compare::{self, Comparison, LatencyInput, LatencySource, ModelComparison, Status};
use crate::config::{Criteria, GateConfig, ModelConfig};
use crate::eval::{self, EvalResult, EvalSettings};
use crate::model::ShapeRequest;
use crate::results::{self, ResultsFile};
use crate::runtime::{Provider, Runtime, SessionSettings};

/// How the gate runs, beyond the config.
#[derive(Debug, Clone, Default)]
pub struct GateOptions {
    /// Folder the config's relative paths start from.
    pub root: PathBuf,
    pub allow_new: bool,
    /// Judge results files already measured (`<name>.json`, and `<name>.base.json` from an A/B)
    /// instead of running the models.
    pub from_results: Option<PathBuf>,
    /// Write each model's measured results files here.
    pub results_dir: Option<PathBuf>,
    /// Provider for every model, overriding the config (the action's `provider` input).
    pub provider: Option<Provider>,
}

/// Measured results of one model: the candidate, and the base model when timed side by side.
pub struct Measured {
    pub candidate: ResultsFile,
    pub base: Option<ResultsFile>,
}

/// Runs the gate over every model. `runtime` is None only with `from_results`.
pub fn run(
    config: &GateConfig,
    runtime: Option<&Runtime>,
    options: &GateOptions,
    progress: bench::Progress,
) -> Comparison {
    let mut models = Vec::new();
    let mut significance = crate::config::Criteria::default().significance;
    for model in &config.models {
        let criteria = config.criteria_for(model);
        significance = criteria.significance;
        let comparison =
            gate_model(model, &criteria, runtime, options, progress).unwrap_or_else(|e| {
                ModelComparison::failed(
                    &model.name,
                    &model.candidate.display().to_string(),
                    format!("{e:#}"),
                )
            });
        models.push(comparison);
    }
    compare::finalize(
        models,
        significance,
        options.allow_new,
        results::now_rfc3339(),
    )
}

fn gate_model(
    model: &ModelConfig,
    criteria: &Criteria,
    runtime: Option<&Runtime>,
    options: &GateOptions,
    progress: bench::Progress,
) -> Result<ModelComparison> {
    let baseline_path = model.baseline_path(&options.root);
    let baseline = if baseline_path.exists() {
        Some(results::load(&baseline_path).with_context(|| format!("model `{}`", model.name))?)
    } else {
        None
    };
    let measured = match (&options.from_results, runtime) {
        (Some(dir), _) => load_measured(dir, &model.name)?,
        (None, Some(runtime)) => measure(model, criteria, runtime, options, progress)?,
        (None, None) => bail!("no ONNX Runtime loaded to measure model `{}`", model.name),
    };
    if let Some(dir) = &options.results_dir {
        write_measured(dir, &model.name, &measured)?;
    }
    Ok(judge(
        model,
        criteria,
        &measured,
        baseline.as_ref(),
        &baseline_path,
    ))
}

/// Compares measured results with the base (A/B) or the committed baseline.
pub fn judge(
    model: &ModelConfig,
    criteria: &Criteria,
    measured: &Measured,
    baseline: Option<&ResultsFile>,
    baseline_path: &Path,
) -> ModelComparison {
    let candidate = &measured.candidate;
    let mut tests = Vec::new();
    let mut notes = Vec::new();
    let cand_run = candidate.bench.as_ref().and_then(BenchResult::primary);
    let (source, base_samples): (LatencySource, &[f64]) = match (&measured.base, baseline) {
        (Some(base), _) => (
            LatencySource::SameRunnerAb,
            base.bench
                .as_ref()
                .and_then(BenchResult::primary)
                .map(|r| r.samples_ms.as_slice())
                .unwrap_or(&[]),
        ),
        (None, Some(baseline)) => match baseline
            .environment
            .hardware_difference(&candidate.environment)
        {
            None => (
                LatencySource::CommittedBaseline,
                baseline
                    .bench
                    .as_ref()
                    .and_then(BenchResult::primary)
                    .map(|r| r.samples_ms.as_slice())
                    .unwrap_or(&[]),
            ),
            Some(reason) => (
                LatencySource::NotComparable {
                    reason: format!("different hardware ({reason})"),
                },
                &[],
            ),
        },
        (None, None) => (LatencySource::None, &[]),
    };
    let cand_samples = cand_run.map(|r| r.samples_ms.as_slice()).unwrap_or(&[]);
    let seed =
        u64::from_str_radix(candidate.model.sha256.get(..12).unwrap_or("0"), 16).unwrap_or(0);
    let input = LatencyInput {
        baseline_ms: base_samples,
        candidate_ms: cand_samples,
        source: source.clone(),
        seed,
        // A same-runner A/B is timed by the adaptive loop: the verdict is its last look.
        looks: if source == LatencySource::SameRunnerAb {
            compare::PLANNED_LOOKS
        } else {
            1
        },
    };
    let (mut criteria_list, latency) = if cand_run.is_some() {
        compare::compare_latency(&input, criteria, &mut tests)
    } else {
        (vec![], None)
    };

    let base_eval: Option<&EvalResult> = measured
        .base
        .as_ref()
        .and_then(|b| b.eval.as_ref())
        .or_else(|| baseline.and_then(|b| b.eval.as_ref()));
    let mut accuracy = None;
    let mut error = None;
    if let Some(cand_eval) = &candidate.eval {
        match base_eval {
            Some(base_eval) => {
                match compare::compare_accuracy(base_eval, cand_eval, criteria, &mut tests) {
                    Ok((comparison, list)) => {
                        accuracy = Some(comparison);
                        criteria_list.extend(list);
                    }
                    Err(e) => error = Some(format!("{e:#}")),
                }
            }
            None => {
                notes.push("no baseline evaluation: accuracy and recall are not compared".into())
            }
        }
        criteria_list.extend(compare::recall_floor(cand_eval, criteria));
    }
    let peak_mb = candidate
        .bench
        .as_ref()
        .map(|b| b.memory.peak_rss_bytes as f64 / (1024.0 * 1024.0));
    criteria_list.extend(compare::absolute_criteria(
        criteria,
        cand_run.map(|r| r.summary.p95_ms),
        peak_mb,
        cand_run.map(|r| r.throughput_samples_per_s),
    ));
    if let Some(bench) = &candidate.bench {
        notes.extend(bench.notes.iter().cloned());
    }
    ModelComparison {
        name: model.name.clone(),
        verdict: compare::Verdict::Pass,
        reasons: vec![],
        candidate_path: model.candidate.display().to_string(),
        candidate_sha256: candidate.model.sha256.clone(),
        baseline_path: baseline.map(|_| baseline_path.display().to_string()),
        baseline_sha256: baseline.map(|b| b.model.sha256.clone()),
        latency_source: source,
        latency,
        accuracy,
        criteria: criteria_list,
        tests,
        notes,
        error,
    }
}

fn bench_settings(model: &ModelConfig, options: &GateOptions) -> BenchSettings {
    let b = &model.bench;
    BenchSettings {
        warmup: b.warmup,
        iterations: b.iterations,
        min_time_s: b.min_time_s,
        batches: b.batch.map(|n| vec![n]).unwrap_or_default(),
        session: SessionSettings {
            provider: options.provider.unwrap_or(b.ep),
            opt_level: b.opt_level,
            intra_threads: b.intra_threads,
            inter_threads: b.inter_threads,
        },
        seed: 0,
    }
}

fn measure(
    model: &ModelConfig,
    criteria: &Criteria,
    runtime: &Runtime,
    options: &GateOptions,
    progress: bench::Progress,
) -> Result<Measured> {
    let Some(base) = base_model_file(model, &options.root)? else {
        let candidate = measure_candidate(model, runtime, options, progress)?;
        return Ok(Measured {
            candidate,
            base: None,
        });
    };
    let candidate_path = options.root.join(&model.candidate);
    crate::app::check_model_file(&candidate_path)?;
    let settings = bench_settings(model, options);
    let mut ab = AbPair::open(
        runtime,
        base.path(),
        &candidate_path,
        &settings,
        &shape_request(model),
        model.bench.batch,
    )?;
    adaptive_ab(&mut ab, model, criteria, progress)?;
    let (spec, base_spec) = (ab.candidate_spec().clone(), ab.base_spec().clone());
    let (base_bench, cand_bench) = ab.into_results()?;
    let candidate = finish_results(
        model,
        runtime,
        options,
        &candidate_path,
        &settings,
        spec,
        cand_bench,
    )?;
    let mut base_results = finish_results(
        model,
        runtime,
        options,
        base.path(),
        &settings,
        base_spec,
        base_bench,
    )?;
    base_results.model.path = base.label.clone();
    Ok(Measured {
        candidate,
        base: Some(base_results),
    })
}

/// Measures the model's candidate alone (no A/B) with the config's bench settings and evaluates
/// it on its dataset: the results `modelgate baseline approve` records when it measures.
pub fn measure_candidate(
    model: &ModelConfig,
    runtime: &Runtime,
    options: &GateOptions,
    progress: bench::Progress,
) -> Result<ResultsFile> {
    let candidate_path = options.root.join(&model.candidate);
    crate::app::check_model_file(&candidate_path)?;
    let settings = bench_settings(model, options);
    let (bench, spec) = bench::run(
        runtime,
        &candidate_path,
        &settings,
        &shape_request(model),
        progress,
    )?;
    finish_results(
        model,
        runtime,
        options,
        &candidate_path,
        &settings,
        spec,
        bench,
    )
}

fn shape_request(model: &ModelConfig) -> ShapeRequest {
    ShapeRequest {
        shapes: model.bench.shapes.clone(),
        dims: model.bench.dims.clone(),
    }
}

/// A results file for one measured model file: its record and fingerprint, the bench result,
/// and its evaluation on the model's dataset.
fn finish_results(
    model: &ModelConfig,
    runtime: &Runtime,
    options: &GateOptions,
    path: &Path,
    settings: &BenchSettings,
    spec: crate::model::ModelSpec,
    bench: BenchResult,
) -> Result<ResultsFile> {
    let provider = settings.session.provider.name();
    let mut results =
        results::new_results(&runtime.library, path, Some(&model.name), provider, spec)?;
    results.bench = Some(bench);
    results.eval = evaluate(model, runtime, path, &settings.session, options)?;
    Ok(results)
}

/// Most runs per model the adaptive loop takes, which bounds the bootstrap's cost too.
const MAX_ADAPTIVE_RUNS: u64 = 200_000;

/// Times A/B blocks until no latency criterion is inconclusive or the model's time budget
/// (timing and analysis together) is spent.
fn adaptive_ab(
    ab: &mut AbPair,
    model: &ModelConfig,
    criteria: &Criteria,
    progress: bench::Progress,
) -> Result<()> {
    let started = Instant::now();
    ab.extend(model.bench.iterations, progress)?;
    while started.elapsed().as_secs_f64() < model.bench.min_time_s {
        ab.extend(model.bench.iterations, progress)?;
    }
    loop {
        let (base, cand) = ab.samples_ms();
        let input = LatencyInput {
            baseline_ms: &base,
            candidate_ms: &cand,
            source: LatencySource::SameRunnerAb,
            seed: 1,
            looks: compare::PLANNED_LOOKS,
        };
        let mut tests = Vec::new();
        let checked = Instant::now();
        let (list, _) = compare::compare_latency(&input, criteria, &mut tests);
        let analysis_s = checked.elapsed().as_secs_f64();
        // Holm across the latency tests, as the verdict will apply it (the verdict's family also
        // holds the accuracy tests, so it can only be stricter): stopping on raw p-values would
        // leave criteria that the verdict then finds inconclusive with budget unspent.
        let raw: Vec<f64> = tests.iter().map(|t| t.p_value).collect();
        let adjusted = crate::stats::holm(&raw).unwrap_or_else(|| vec![1.0; raw.len()]);
        let inconclusive = list.iter().any(|c| {
            let p = c.test.and_then(|i| adjusted.get(i)).copied();
            compare::decide(c, p, criteria.significance) == Status::Inconclusive
        });
        // Doubling the runs roughly doubles the next analysis: keep room for it.
        let left = model.bench.max_time_s - started.elapsed().as_secs_f64() - 2.0 * analysis_s;
        let n = cand.len() as u64;
        if !inconclusive || left <= 0.0 || n >= MAX_ADAPTIVE_RUNS {
            return Ok(());
        }
        let affordable = (left / ab.seconds_per_pair().max(1e-9)) as u64;
        let more = n.min(affordable).min(MAX_ADAPTIVE_RUNS - n);
        if more < 50 {
            return Ok(());
        }
        ab.extend(more, progress)?;
    }
}

fn evaluate(
    model: &ModelConfig,
    runtime: &Runtime,
    path: &Path,
    session: &SessionSettings,
    options: &GateOptions,
) -> Result<Option<EvalResult>> {
    let Some(dataset) = &model.dataset else {
        return Ok(None);
    };
    let Some(postprocess) = model.postprocess.clone() else {
        bail!("model `{}` has a dataset but no [models.postprocess]; add one (activation = \"softmax\" or \"sigmoid\")", model.name);
    };
    let settings = EvalSettings {
        dataset: options.root.join(&dataset.path),
        options: dataset.options.clone(),
        preprocess: model.preprocess.clone(),
        postprocess,
        batch: dataset.batch,
    };
    let (mut loaded, _) = runtime.open(path, session)?;
    Ok(Some(eval::run(&mut loaded, &settings, &mut |_, _| {})?))
}

/// The base model's file: a path from the config, or the candidate's path at a git ref.
struct BaseFile {
    path: PathBuf,
    label: String,
    _temp: Option<tempfile::TempDir>,
}

impl BaseFile {
    fn path(&self) -> &Path {
        &self.path
    }
}

fn base_model_file(model: &ModelConfig, root: &Path) -> Result<Option<BaseFile>> {
    if let Some(path) = &model.base_model {
        let full = root.join(path);
        crate::app::check_model_file(&full)
            .with_context(|| format!("model `{}`: base_model", model.name))?;
        return Ok(Some(BaseFile {
            path: full,
            label: path.display().to_string(),
            _temp: None,
        }));
    }
    let Some(reference) = &model.base_ref else {
        return Ok(None);
    };
    let spec = format!("{}:{}", reference, model.candidate.display());
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["show", &spec])
        .output();
    let bytes = match output {
        Ok(out) if out.status.success() => out.stdout,
        Ok(out) => bail!(
            "model `{}`: base_ref {reference}: git cannot show {} there ({}); fetch the ref (actions/checkout with fetch-depth: 0) or set base_model",
            model.name,
            model.candidate.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => bail!("model `{}`: base_ref needs git ({e}); install git or set base_model", model.name),
    };
    let dir = tempfile::tempdir().context("cannot create a temporary folder for the base model")?;
    let path = dir.path().join("base.onnx");
    std::fs::write(&path, bytes).context("cannot write the base model")?;
    Ok(Some(BaseFile {
        path,
        label: spec,
        _temp: Some(dir),
    }))
}

fn load_measured(dir: &Path, name: &str) -> Result<Measured> {
    let candidate_path = dir.join(format!("{name}.json"));
    if !candidate_path.exists() {
        bail!(
            "--from-results: {} does not exist; the measuring job writes it with --results-dir",
            candidate_path.display()
        );
    }
    let candidate = results::load(&candidate_path)?;
    let base_path = dir.join(format!("{name}.base.json"));
    let base = if base_path.exists() {
        Some(results::load(&base_path)?)
    } else {
        None
    };
    Ok(Measured { candidate, base })
}

fn write_measured(dir: &Path, name: &str, measured: &Measured) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create --results-dir {}", dir.display()))?;
    results::write_json_atomic(&dir.join(format!("{name}.json")), &measured.candidate)?;
    if let Some(base) = &measured.base {
        results::write_json_atomic(&dir.join(format!("{name}.base.json")), base)?;
    }
    Ok(())
}
