//! `modelgate gate`: bench, eval and compare every model in the config, and one verdict.
//!
//! For each model: read its committed baseline (a malformed one is an error, a missing one fails
//! unless `--allow-new`), measure the candidate (side by side with the base model when one is
//! available, else alone), evaluate it on the labeled data, and compare. When a latency result
//! is inconclusive and the model's time budget allows, more A/B runs are taken. The comparison
//! itself, and the verdict, come from the compare module.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::ab::{AbPair, Schedule};
use crate::bench::{self, BenchResult, BenchSettings};
use crate::compare::{
    self, session_plan, AccuracyComparison, Comparison, LastLook, LatencyInput, LatencySource,
    ModelComparison, QualityReference, Reference, ReferenceInputs, Status, PLANNED_LOOKS,
};
use crate::config::{Criteria, GateConfig, ModelConfig};
use crate::eval::{self, EvalResult, EvalSettings};
use crate::events::Event;
use crate::gitref;
use crate::memprobe::{self, ProbeSpec};
use crate::model::ShapeRequest;
use crate::results::{self, ResultsFile};
use crate::runtime::{Provider, Runtime, SessionSettings};

/// How the gate runs, beyond the config.
#[derive(Debug, Clone, Default)]
pub struct GateOptions {
    /// Folder the config's relative paths start from.
    pub root: PathBuf,
    /// What a model without an approved baseline gets (`--allow-new`: new).
    pub missing_baseline: compare::MissingBaseline,
    /// Judge results files already measured (`<name>.json`, and `<name>.base.json` from an A/B)
    /// instead of running the models.
    pub from_results: Option<PathBuf>,
    /// Write each model's measured results files here.
    pub results_dir: Option<PathBuf>,
    /// Provider for every model, overriding the config (the action's `provider` input).
    pub provider: Option<Provider>,
    /// Base ref for every model without a `base_model`, overriding the config's `base_ref`
    /// (`--base-ref`; the action passes the pull request's base commit).
    pub base_ref: Option<String>,
    /// Commit to read every model's candidate file from (`--candidate-ref`): the pull request's
    /// models judged by this checkout's config, dataset and baselines.
    pub candidate_ref: Option<String>,
    /// Measure only this slice of each model's labeled data (`--shard K/N`), timing the model
    /// only on its latency shard, and write the results without judging them.
    pub shard: Option<crate::shard::Shard>,
}

/// Measured results of one model: the candidate, and the base model when timed side by side.
pub struct Measured {
    pub candidate: ResultsFile,
    pub base: Option<ResultsFile>,
}

/// The config with only the models `names` (in the config's order); all of them when `names` is
/// empty. An unknown name is an error listing the config's models.
pub fn select_models(mut config: GateConfig, names: &[String]) -> Result<GateConfig> {
    if names.is_empty() {
        return Ok(config);
    }
    for name in names {
        if !config.models.iter().any(|m| &m.name == name) {
            let known: Vec<&str> = config.models.iter().map(|m| m.name.as_str()).collect();
            bail!(
                "--model {name}: the config has no such model; its models are: {}",
                known.join(", ")
            );
        }
    }
    config.models.retain(|m| names.contains(&m.name));
    Ok(config)
}

/// Runs the gate over every model. `runtime` is None only with `from_results`.
pub fn run(
    config: &GateConfig,
    runtime: Option<&Runtime>,
    options: &GateOptions,
    progress: bench::Progress,
) -> Comparison {
    let mut models = Vec::new();
    let significance = config
        .models
        .first()
        .map(|m| config.criteria_for(m).significance)
        .unwrap_or_else(|| Criteria::default().significance);
    for model in &config.models {
        let criteria = config.criteria_for(model);
        let comparison = gate_model(model, &criteria, runtime, options, progress)
            .and_then(|judged| judged.context("a shard's results are not judged"))
            .unwrap_or_else(|e| {
                // The comparison is the model's own: its name is not repeated in its error.
                let error = format!("{e:#}");
                let own = format!("model `{}`: ", model.name);
                let error = error
                    .strip_prefix(&own)
                    .map_or(error.clone(), str::to_string);
                ModelComparison::failed(&model.name, &model.candidate.display().to_string(), error)
            });
        models.push(comparison);
    }
    compare::finalize(
        models,
        significance,
        options.missing_baseline,
        results::now_rfc3339(),
    )
}

/// Measures one shard of every model (`gate --shard`) and writes the results files into
/// `--results-dir`; nothing is judged. The first model that cannot be measured stops the run.
pub fn run_shard(
    config: &GateConfig,
    runtime: &Runtime,
    options: &GateOptions,
    progress: bench::Progress,
) -> Result<Vec<PathBuf>> {
    let (Some(shard), Some(dir)) = (options.shard, &options.results_dir) else {
        bail!("--shard needs --results-dir, the folder its results files are written to");
    };
    let mut written = Vec::new();
    for model in &config.models {
        let criteria = config.criteria_for(model);
        if model.bench.latency_shard > shard.count {
            bail!(
                "model `{}`: [models.bench] latency_shard = {} is past the {} shards of --shard {shard}; lower it or run more shards",
                model.name,
                model.bench.latency_shard,
                shard.count
            );
        }
        gate_model(model, &criteria, Some(runtime), options, progress)
            .with_context(|| format!("model `{}`, shard {shard}", model.name))?;
        written.push(dir.join(format!("{}.json", model.name)));
    }
    Ok(written)
}

/// Gates one model; with `--shard`, measures and writes its shard's results and returns None.
fn gate_model(
    model: &ModelConfig,
    criteria: &Criteria,
    runtime: Option<&Runtime>,
    options: &GateOptions,
    progress: bench::Progress,
) -> Result<Option<ModelComparison>> {
    let baseline_path = model.baseline_path(&options.root);
    let baseline = if baseline_path.exists() {
        Some(
            results::load_whole(&baseline_path)
                .with_context(|| format!("model `{}`", model.name))?,
        )
    } else {
        None
    };
    // The base comes from the trusted checkout (config path or git), never from a results file.
    let base = base_model_file(model, options)?;
    let at_ref = match options.candidate_ref.as_deref() {
        Some(reference) => Some(candidate_at_ref(model, &options.root, reference)?),
        None => None,
    };
    let run_model = at_ref.as_ref().map_or(model, |c| &c.model);
    // What the test set's size allows, said before minutes go into measuring.
    let size_advice = sample_size_advice(run_model, criteria, &options.root);
    for advice in size_advice.iter().filter(|a| a.unmeetable) {
        let line = format!("warning: model `{}`: {}", model.name, advice.line);
        crate::events::note(progress, &line);
    }
    let mut measured = match (&options.from_results, runtime) {
        (Some(dir), _) => {
            let measured = load_measured(dir, &model.name)?;
            check_candidate_sha(run_model, options, &measured.candidate)?;
            measured
        }
        (None, Some(runtime)) => measure(
            run_model,
            criteria,
            runtime,
            options,
            base.as_ref(),
            progress,
        )?,
        (None, None) => bail!("no ONNX Runtime loaded to measure model `{}`", model.name),
    };
    if let Some(at_ref) = &at_ref {
        measured.candidate.model.path = at_ref.label.clone();
    }
    if let Some(baseline) = &baseline {
        crate::identity::check_same_model(
            &baseline.model,
            &baseline_path,
            &measured.candidate.model,
            crate::identity::Names::Match,
        )?;
    }
    if let Some(shard) = options.shard {
        let info = shard_info(run_model, options, shard, &measured.candidate)?;
        measured.candidate.shard = Some(info.clone());
        if let Some(base) = &mut measured.base {
            base.shard = Some(info);
        }
    }
    if let Some(dir) = &options.results_dir {
        write_measured(dir, &model.name, &measured)?;
    }
    if options.shard.is_some() {
        return Ok(None);
    }
    let mut judged = judge(
        model,
        criteria,
        &measured,
        base.as_ref().map(|b| b.sha256.as_str()),
        baseline.as_ref(),
        &baseline_path,
    );
    if let Some(base) = &base {
        judged
            .notes
            .insert(0, format!("base model: {}", base.label));
        judged.base_commit = base.commit.clone();
    }
    if let Some(accuracy) = &mut judged.accuracy {
        add_thumbnails(model, options, accuracy);
    }
    if let Some(at_ref) = &at_ref {
        judged
            .notes
            .insert(0, format!("candidate model: {}", at_ref.label));
        judged.candidate_commit = Some(at_ref.commit.clone());
    }
    judged.notes.extend(size_advice.into_iter().map(|a| a.line));
    if let Some(dir) = &options.from_results {
        judged.notes.insert(
            0,
            format!(
                "unverified: the candidate's figures were measured by another run and read from {}; this run checked only which model they are of",
                dir.display()
            ),
        );
        if let Some(shard) = &measured.candidate.shard {
            judged.notes.insert(
                1,
                format!(
                    "evaluated in {} shards on separate runners and merged ({} samples); latency timed on shard {}'s runner alone",
                    shard.count, shard.samples, shard.latency_shard
                ),
            );
        }
    }
    Ok(Some(judged))
}

/// Changed samples shown as thumbnails in the HTML report, at most (the first listed: what the
/// candidate broke first)...
pub const THUMBNAILS: usize = 24;
/// ...and bytes of thumbnails per model, at most.
const THUMBNAIL_BYTES: usize = 512 * 1024;

/// Gives the first changed samples of an image dataset their thumbnails. The sample ids only
/// pick among the files the dataset lists, never a path of their own; an image that cannot be
/// read or shrunk goes without one (the evaluation has already judged it).
fn add_thumbnails(model: &ModelConfig, options: &GateOptions, accuracy: &mut AccuracyComparison) {
    let (Some(dataset), Some(post)) = (&model.dataset, &model.postprocess) else {
        return;
    };
    if accuracy.changed.is_empty() {
        return;
    }
    let Ok(data) = crate::dataset::load_dataset(
        &options.root.join(&dataset.path),
        &dataset.options,
        post.class_names.as_deref(),
    ) else {
        return;
    };
    let images: HashMap<&str, &Path> = data
        .samples
        .iter()
        .filter_map(|s| match &s.input {
            crate::dataset::SampleInput::Image(path) => Some((s.id.as_str(), path.as_path())),
            crate::dataset::SampleInput::Features(_) => None,
        })
        .collect();
    let mut bytes = 0;
    for sample in accuracy.changed.iter_mut().take(THUMBNAILS) {
        let Some(path) = images.get(sample.id.as_str()) else {
            continue;
        };
        let side = crate::preprocess::thumbnail::THUMBNAIL_SIDE;
        if let Ok(uri) = crate::preprocess::thumbnail::thumbnail_data_uri(path, side) {
            bytes += uri.len();
            if bytes > THUMBNAIL_BYTES {
                break;
            }
            sample.thumbnail = Some(uri);
        }
    }
}

/// What a shard's results hold: its slice of the model's labeled data, out of the whole set
/// (counted and digested from the dataset itself, so `merge` can check the shards add up).
fn shard_info(
    model: &ModelConfig,
    options: &GateOptions,
    shard: crate::shard::Shard,
    candidate: &ResultsFile,
) -> Result<crate::shard::ShardInfo> {
    let (dataset_samples, dataset_ids_sha256) = match (&model.dataset, &model.postprocess) {
        (Some(dataset), Some(post)) => {
            let data = crate::dataset::load_dataset(
                &options.root.join(&dataset.path),
                &dataset.options,
                post.class_names.as_deref(),
            )?;
            (
                data.samples.len(),
                crate::shard::ids_digest(data.samples.iter().map(|s| s.id.as_str())),
            )
        }
        _ => (0, crate::shard::ids_digest([])),
    };
    Ok(crate::shard::ShardInfo {
        index: Some(shard.index),
        count: shard.count,
        latency_shard: model.bench.latency_shard,
        samples: candidate.eval.as_ref().map_or(0, |e| e.samples.len()),
        dataset_samples,
        dataset_ids_sha256,
    })
}

/// The criteria this model's test set is too small for (see [`compare::sample_size`]), from
/// its labels alone; nothing when there is no dataset or its labels cannot be read (the
/// evaluation reports that).
fn sample_size_advice(
    model: &ModelConfig,
    criteria: &Criteria,
    root: &Path,
) -> Vec<compare::sample_size::Advice> {
    let (Some(dataset), Some(post)) = (&model.dataset, &model.postprocess) else {
        return Vec::new();
    };
    let Ok(data) = crate::dataset::load_dataset(
        &root.join(&dataset.path),
        &dataset.options,
        post.class_names.as_deref(),
    ) else {
        return Vec::new();
    };
    let classes = post.class_names.clone().unwrap_or(data.classes);
    let mut per_class = vec![0u64; classes.len()];
    for sample in &data.samples {
        if let Some(n) = per_class.get_mut(sample.label) {
            *n += 1;
        }
    }
    let positive = post.positive_index(&classes).ok().flatten();
    let mut slices: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    for (sample, values) in data.samples.iter().zip(&data.slices) {
        for (column, value) in values {
            let entry = slices.entry(format!("{column}={value}")).or_default();
            entry.0 += 1;
            entry.1 += u64::from(Some(sample.label) == positive);
        }
    }
    let counts = compare::sample_size::LabelCounts {
        classes,
        per_class,
        positive,
        slices: slices.into_iter().map(|(k, (n, p))| (k, n, p)).collect(),
    };
    compare::sample_size::advice(criteria, &counts)
}

/// A model's candidate file as committed at `--candidate-ref`, read from git into a temporary
/// file: the model config to measure it with (its candidate path pointing there), and a label.
pub struct CandidateAtRef {
    pub model: ModelConfig,
    pub label: String,
    /// The commit the file was read from.
    pub commit: String,
    _temp: tempfile::TempDir,
}

/// Reads `model`'s candidate file as committed at `reference` (relative to `root`, the config's
/// folder) into a temporary file. The commit's files are only read: nothing is checked out.
pub fn candidate_at_ref(
    model: &ModelConfig,
    root: &Path,
    reference: &str,
) -> Result<CandidateAtRef> {
    let context = || format!("model `{}`: --candidate-ref", model.name);
    let commit = resolve_candidate_ref(root, reference)
        .with_context(|| format!("model `{}`", model.name))?;
    let file = file_at(root, commit, &model.candidate, "candidate").with_context(context)?;
    let mut at_ref = model.clone();
    at_ref.candidate = file.path;
    Ok(CandidateAtRef {
        commit: file.commit.commit.clone(),
        model: at_ref,
        label: format!(
            "{} at {}",
            model.candidate.display(),
            gitref::short(&file.commit.commit)
        ),
        _temp: file.temp,
    })
}

/// The commit `--candidate-ref` names: a pull request's head, so not "merge-base".
pub fn resolve_candidate_ref(root: &Path, reference: &str) -> Result<gitref::BaseCommit> {
    if reference == gitref::MERGE_BASE {
        bail!("--candidate-ref {reference:?}: give the pull request's head commit");
    }
    gitref::resolve(root, reference).context("--candidate-ref")
}

/// A model file as committed at a commit, written to a temporary file (`ROLE.onnx`).
struct FileAt {
    path: PathBuf,
    commit: gitref::BaseCommit,
    sha256: String,
    temp: tempfile::TempDir,
}

fn file_at(root: &Path, commit: gitref::BaseCommit, path: &Path, role: &str) -> Result<FileAt> {
    let bytes = gitref::read_at(root, &commit.commit, path)?;
    let temp = tempfile::tempdir()
        .with_context(|| format!("cannot create a temporary folder for the {role} model"))?;
    let file = temp.path().join(format!("{role}.onnx"));
    std::fs::write(&file, &bytes).with_context(|| format!("cannot write the {role} model"))?;
    Ok(FileAt {
        path: file,
        commit,
        sha256: crate::system::sha256_hex(&bytes),
        temp,
    })
}

/// Results read with `--from-results` must be of the configured candidate file (at
/// `--candidate-ref` when given), not of whatever model the run that wrote them chose.
fn check_candidate_sha(
    model: &ModelConfig,
    options: &GateOptions,
    measured: &ResultsFile,
) -> Result<()> {
    let path = options.root.join(&model.candidate);
    if !path.exists() && options.candidate_ref.is_none() {
        // Judging results without the model file (a results-only artifact): nothing to check.
        return Ok(());
    }
    let sha = crate::system::sha256_file(&path)
        .with_context(|| format!("cannot read model file {}", path.display()))?;
    if measured.model.sha256 != sha {
        bail!(
            "--from-results: {}.json is of a model with SHA-256 {:?}, not the candidate {} (SHA-256 {sha}); measure the candidate",
            model.name,
            crate::text::clean(&measured.model.sha256, 80),
            model.candidate.display()
        );
    }
    Ok(())
}

/// Judges measured results. Each criterion's reference is chosen by [`Reference::choose`]:
/// quality against the approved `baseline`, latency against the base model timed beside the
/// candidate when its results are of `trusted_base_sha256`, else the baseline on matching
/// hardware and settings.
pub fn judge(
    model: &ModelConfig,
    criteria: &Criteria,
    measured: &Measured,
    trusted_base_sha256: Option<&str>,
    baseline: Option<&ResultsFile>,
    baseline_path: &Path,
) -> ModelComparison {
    let candidate = &measured.candidate;
    let reference = Reference::choose(&ReferenceInputs {
        candidate,
        base: measured.base.as_ref(),
        trusted_base_sha256,
        baseline,
        has_dataset: model.dataset.is_some() || candidate.eval.is_some(),
    });
    let mut tests = Vec::new();
    let mut notes = reference.notes.clone();
    let cand_run = candidate.bench.as_ref().and_then(BenchResult::primary);
    let source = reference.latency.source.clone();
    let seed = latency_seed(&candidate.model.sha256);
    let cand_sessions = cand_run.map_or(&[][..], |r| r.sessions.as_slice());
    let base_sessions = measured
        .base
        .as_ref()
        .and_then(|b| b.bench.as_ref())
        .and_then(BenchResult::primary)
        .map_or(&[][..], |r| r.sessions.as_slice());
    let input = LatencyInput {
        baseline_ms: reference.latency.samples_ms,
        candidate_ms: cand_run.map(|r| r.samples_ms.as_slice()).unwrap_or(&[]),
        source: source.clone(),
        seed,
        // A same-runner A/B is timed by the adaptive loop: the verdict is its last look.
        looks: if source == LatencySource::SameRunnerAb {
            compare::PLANNED_LOOKS
        } else {
            1
        },
        // Session pairs only where both sides record the same ones: anything else is pooled.
        sessions: if base_sessions == cand_sessions {
            cand_sessions
        } else {
            &[]
        },
        look: cand_run.and_then(|r| r.look),
    };
    let (mut criteria_list, latency) = if cand_run.is_some() {
        compare::compare_latency(&input, criteria, &mut tests)
    } else {
        (vec![], None)
    };
    if let LatencySource::Rejected { reason } = &source {
        criteria_list.push(compare::required(
            "latency reference",
            false,
            reason.clone(),
        ));
    }

    let mut accuracy = None;
    let mut error = None;
    if model.dataset.is_some() && candidate.eval.is_none() {
        criteria_list.push(compare::required(
            "evaluation",
            false,
            "the results have no evaluation although the config gives a dataset; measure with the dataset".into(),
        ));
    }
    match (&reference.quality, &candidate.eval) {
        (QualityReference::Baseline(base_eval), Some(cand_eval)) => {
            match compare::compare_accuracy(base_eval, cand_eval, criteria, &mut tests) {
                Ok((comparison, list)) => {
                    accuracy = Some(comparison);
                    criteria_list.extend(list);
                }
                Err(e) => error = Some(format!("{e:#}")),
            }
        }
        (QualityReference::BaselineWithoutEval, _) => criteria_list.push(compare::required(
            "approved baseline",
            false,
            "the approved baseline has no evaluation, so accuracy and recall cannot be judged; \
             re-approve it with `modelgate baseline approve`"
                .into(),
        )),
        _ => {}
    }
    criteria_list.extend(compare::own_criteria(candidate, criteria));
    if let Some(bench) = &candidate.bench {
        notes.extend(bench.notes.iter().cloned());
    }
    ModelComparison {
        name: model.name.clone(),
        verdict: compare::Verdict::Pass,
        significance: criteria.significance,
        inconclusive: model.inconclusive,
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
        base_commit: None,
        candidate_commit: candidate.environment.git_commit.clone(),
        runner: Some(compare::Runner::from_fingerprint(&candidate.environment)),
        profile: candidate
            .bench
            .as_ref()
            .and_then(|b| b.profile.clone())
            .map(|mut p| {
                p.nodes.truncate(crate::runtime::profile::PROFILE_TOP);
                p
            }),
        operators: measured
            .base
            .as_ref()
            .and_then(|b| b.bench.as_ref()?.profile.as_ref())
            .zip(candidate.bench.as_ref().and_then(|b| b.profile.as_ref()))
            .and_then(|(base, cand)| compare::operators::diff(base, cand)),
    }
}

/// The model's bench settings as the gate runs them: the provider override, and the TensorRT
/// cache folder relative to the config's folder.
pub(crate) fn bench_settings(model: &ModelConfig, options: &GateOptions) -> BenchSettings {
    let mut settings = model.bench.settings();
    settings.session.provider = options.provider.unwrap_or(model.bench.ep);
    let cache = &mut settings.session.gpu.trt_cache_dir;
    *cache = cache.take().map(|dir| options.root.join(dir));
    settings
}

/// Measures the candidate: beside the base model in an A/B when there is a base and the model
/// changed, else alone.
fn measure(
    model: &ModelConfig,
    criteria: &Criteria,
    runtime: &Runtime,
    options: &GateOptions,
    base: Option<&BaseFile>,
    progress: bench::Progress,
) -> Result<Measured> {
    let candidate_path = options.root.join(&model.candidate);
    crate::model::check_model_file(&candidate_path)?;
    let candidate_sha = crate::system::sha256_file(&candidate_path)
        .with_context(|| format!("cannot read model file {}", candidate_path.display()))?;
    if model.bench.check_outputs {
        check_outputs(model, runtime, options, &candidate_path)?;
    }
    if let Some(shard) = options
        .shard
        .filter(|s| s.index != model.bench.latency_shard)
    {
        return evaluate_only(model, runtime, options, &candidate_path, shard, progress);
    }
    let changed = base.filter(|b| b.sha256 != candidate_sha);
    let against = changed.map_or(String::new(), |b| format!(" against {} (A/B)", b.label));
    let then = if model.dataset.is_some() {
        ", then evaluating"
    } else {
        ""
    };
    let line = format!("model `{}`: timing{against}{then}", model.name);
    crate::events::note(progress, &line);
    let Some(base) = changed else {
        let candidate = measure_candidate(model, runtime, options, progress)?;
        return Ok(Measured {
            candidate,
            base: None,
        });
    };
    let settings = bench_settings(model, options);
    // The time budget covers opening and warming up both models too.
    let started = Instant::now();
    let mut ab = AbPair::open(
        runtime,
        base.path(),
        &candidate_path,
        &settings,
        &shape_request(model, &options.root),
        model.bench.batch,
        Schedule {
            processes: model
                .bench
                .ab_processes
                .then(|| PathBuf::from(&runtime.library.path)),
        },
    )?;
    let last = adaptive_ab(
        &mut ab,
        started,
        model,
        criteria,
        latency_seed(&candidate_sha),
        progress,
    )?;
    let (base_spec, spec) = ab.specs().clone();
    let (mut base_bench, mut cand_bench) = ab.into_results()?;
    if let Some(run) = cand_bench.runs.first_mut() {
        run.look = last.as_ref().map(|l| l.look);
    }
    // Why the latency moved: both models' operators, profiled after the timed runs.
    let moved = last.as_ref().is_some_and(|l| {
        l.criteria
            .iter()
            .any(|c| matches!(c.status, Status::Fail | Status::Inconclusive))
    });
    if model.bench.profile || moved {
        crate::events::report(progress, "profiling operators", 0, 1);
        let (base_profile, cand_profile) = bench::profile_pair(
            runtime,
            (base.path(), &base_bench),
            (&candidate_path, &cand_bench),
            &shape_request(model, &options.root),
        )?;
        base_bench.profile = Some(base_profile);
        cand_bench.profile = Some(cand_profile);
    }
    let mut candidate = finish_results(
        model,
        runtime,
        options,
        &candidate_path,
        &settings,
        spec,
        cand_bench,
    )?;
    candidate.eval = evaluate(
        model,
        runtime,
        &candidate_path,
        &settings.session,
        options,
        progress,
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
    // The base's quality is never judged (accuracy and recall are judged against the approved
    // baseline), so it is timed, not evaluated.
    base_results.model.path = base.label.clone();
    Ok(Measured {
        candidate,
        base: Some(base_results),
    })
}

/// A shard other than the latency shard: the candidate evaluated on the shard's slice, not
/// timed (its runner's latency would be another runner's than the A/B's).
fn evaluate_only(
    model: &ModelConfig,
    runtime: &Runtime,
    options: &GateOptions,
    path: &Path,
    shard: crate::shard::Shard,
    progress: bench::Progress,
) -> Result<Measured> {
    let line = format!(
        "model `{}`: shard {shard}: evaluating its slice (shard {} times the model)",
        model.name, model.bench.latency_shard
    );
    crate::events::note(progress, &line);
    let settings = bench_settings(model, options);
    let (loaded, _) = runtime.open(path, &settings.session)?;
    let spec = loaded.spec.clone();
    drop(loaded);
    let provider = settings.session.provider.name();
    let mut candidate =
        results::new_results(&runtime.library, path, Some(&model.name), provider, spec)?;
    candidate.eval = evaluate(model, runtime, path, &settings.session, options, progress)?;
    Ok(Measured {
        candidate,
        base: None,
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
    crate::model::check_model_file(&candidate_path)?;
    let settings = bench_settings(model, options);
    let (bench, spec) = bench::run(
        runtime,
        &candidate_path,
        &settings,
        &shape_request(model, &options.root),
        progress,
    )?;
    let mut results = finish_results(
        model,
        runtime,
        options,
        &candidate_path,
        &settings,
        spec,
        bench,
    )?;
    results.eval = evaluate(
        model,
        runtime,
        &candidate_path,
        &settings.session,
        options,
        progress,
    )?;
    Ok(results)
}

/// `check_outputs = true`: the candidate must give the expected outputs of `inputs` (ONNX's
/// backend-test tolerance) before it is timed; one that does not cannot be judged.
fn check_outputs(
    model: &ModelConfig,
    runtime: &Runtime,
    options: &GateOptions,
    path: &Path,
) -> Result<()> {
    let checks = bench::check_outputs(
        runtime,
        path,
        &bench_settings(model, options),
        &shape_request(model, &options.root),
        crate::inputs::Tolerance::default(),
    )?;
    if let Some(failed) = checks.iter().find(|c| !c.passed) {
        bail!("check_outputs: {}", failed.line);
    }
    Ok(())
}

/// The config's shapes and input files, and for an image model with a dataset the size its
/// images are preprocessed to, which fixes a dynamic height and width the config leaves open.
pub(crate) fn shape_request(model: &ModelConfig, root: &Path) -> ShapeRequest {
    let mut request = model.bench.shape_request();
    request.inputs = model.bench.input_files(root);
    if let (Some(_), Some(pre)) = (&model.dataset, &model.preprocess) {
        if pre.layout == crate::preprocess::Layout::Nchw {
            if let Some([width, height]) = pre.output_size() {
                request.image_size = Some([i64::from(height), i64::from(width)]);
            }
        }
    }
    request
}

/// A results file for one measured model file: its record and fingerprint and the bench result
/// (the caller adds the evaluation, for the models it judges).
fn finish_results(
    model: &ModelConfig,
    runtime: &Runtime,
    options: &GateOptions,
    path: &Path,
    settings: &BenchSettings,
    spec: crate::model::ModelSpec,
    mut bench: BenchResult,
) -> Result<ResultsFile> {
    let provider = settings.session.provider.name();
    let mut results =
        results::new_results(&runtime.library, path, Some(&model.name), provider, spec)?;
    let probe = ProbeSpec {
        model: path.to_path_buf(),
        session: settings.session.clone(),
        shapes: shape_request(model, &options.root),
        batch: model.bench.batch,
    };
    match memprobe::measure_alone(Path::new(&runtime.library.path), &probe) {
        Ok(peak) => bench.memory.peak_rss_bytes = peak,
        Err(e) => bench.notes.push(format!(
            "peak memory is this whole process's, not the model's alone ({e:#})"
        )),
    }
    results.bench = Some(bench);
    Ok(results)
}

/// The seed of a model's latency bootstraps: from the candidate's SHA-256, so the adaptive loop
/// and the verdict draw the same resamples.
pub fn latency_seed(sha256: &str) -> u64 {
    u64::from_str_radix(sha256.get(..12).unwrap_or("0"), 16).unwrap_or(0)
}

/// Times the A/B's session pairs for the planned looks (see [`compare::adaptive_looks`]): a
/// pilot of [`session_plan::PILOT_SESSIONS`] pairs, then, at each later look while a latency
/// criterion is inconclusive, more pairs of the length Kalibera and Jones's rule gives from the
/// pilot's spread, the budget left spread over the looks to come. The model's time budget runs
/// from `started` (opening, warmup, timing and analysis together). Every look's intervals are
/// corrected for all the planned looks, so looking again cannot buy a pass or a fail.
fn adaptive_ab(
    ab: &mut AbPair,
    started: Instant,
    model: &ModelConfig,
    criteria: &Criteria,
    seed: u64,
    progress: bench::Progress,
) -> Result<Option<LastLook>> {
    let budget = Duration::from_secs_f64(model.bench.max_time_s.max(0.0));
    let deadline = started + budget;
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .as_secs_f64()
    };
    // The highest tail judged decides how long a session must be for it: p99 is always judged.
    let q_max = 0.99;
    // How many runs the A/B will take is known only at its end (it stops when the criteria
    // settle or the budget runs out): progress shows the runs so far against those the budget
    // would hold at the pace so far, and the last line the runs actually timed.
    let budget_s = budget.as_secs_f64();
    let mut paced = |event: Event<'_>| match event {
        Event::Progress {
            label,
            done,
            target,
        } => {
            let elapsed = started.elapsed().as_secs_f64();
            let at_pace = if elapsed > 0.0 && budget_s > elapsed {
                (done as f64 * budget_s / elapsed) as u64
            } else {
                done
            };
            crate::events::report(progress, label, done, target.max(at_pace));
        }
        note => progress(note),
    };
    let paced: bench::Progress = &mut paced;
    // One block first, to learn how long a run takes.
    ab.extend(1, None, paced)?;
    let pilot = session_plan::pilot_runs(
        model.bench.max_time_s - started.elapsed().as_secs_f64(),
        ab.open_s(),
        ab.seconds_per_pair(),
        q_max,
    );
    // Runs per session after the pilot: planned once, from the pilot's spread, and kept for
    // the later looks, so the sessions stay alike as the budget runs down.
    let mut planned: Option<usize> = None;
    let last = compare::adaptive_looks(criteria, seed, |look, previous| {
        let (runs, sessions, until) = match previous {
            // The pilot is sized to a third of the budget, and timed whole even when the budget
            // is already spent (warmup can take it all): it is the least that gives an interval.
            None => (pilot, session_plan::PILOT_SESSIONS, None),
            Some(previous) => {
                let spread = previous.criteria.first().and_then(|c| c.method.as_ref());
                let within = spread.and_then(|m| m.within_session_sd_pct).unwrap_or(0.0) / 100.0;
                let between = spread.and_then(|m| m.between_session_sd_pct).unwrap_or(0.0) / 100.0;
                let runs = *planned.get_or_insert_with(|| {
                    session_plan::session_runs(
                        pilot,
                        within,
                        between,
                        ab.open_s(),
                        ab.seconds_per_pair(),
                        q_max,
                        left(),
                    )
                });
                let session_s = ab.open_s() + runs as f64 * ab.seconds_per_pair();
                let add = session_plan::sessions_to_add(look, PLANNED_LOOKS, left(), session_s);
                if add == 0 {
                    return Ok(None);
                }
                (runs, ab.session_count() + add, Some(deadline))
            }
        };
        time_sessions(ab, sessions, runs, until, paced)?;
        // min_time_s: keep timing pairs until it has passed.
        while started.elapsed().as_secs_f64() < model.bench.min_time_s && left() > 0.0 {
            let more = ab.session_count() + 1;
            time_sessions(ab, more, runs, Some(deadline), paced)?;
        }
        Ok::<_, anyhow::Error>(Some(ab.samples()))
    })?;
    let runs = ab.runs() as u64;
    crate::events::report(progress, "A/B", runs, runs);
    Ok(last)
}

/// Times session pairs of `runs` runs each until there are `sessions` of them, finishing the one
/// open first; with a `deadline`, stops at it and opens no pair that cannot finish by it.
fn time_sessions(
    ab: &mut AbPair,
    sessions: usize,
    runs: usize,
    deadline: Option<Instant>,
    progress: bench::Progress,
) -> Result<()> {
    loop {
        let have = ab.session_runs();
        if have < runs {
            ab.extend((runs - have) as u64, deadline, progress)?;
        }
        if ab.session_count() >= sessions {
            return Ok(());
        }
        if let Some(deadline) = deadline {
            let session_s = ab.open_s() + runs as f64 * ab.seconds_per_pair();
            let left = deadline
                .saturating_duration_since(Instant::now())
                .as_secs_f64();
            if left < session_s {
                return Ok(());
            }
        }
        ab.next_session()?;
    }
}

/// How the model is evaluated: its dataset (its slice with `--shard`), preprocessing and
/// postprocessing; None without a dataset.
fn eval_settings(model: &ModelConfig, options: &GateOptions) -> Result<Option<EvalSettings>> {
    let Some(dataset) = &model.dataset else {
        return Ok(None);
    };
    let Some(postprocess) = model.postprocess.clone() else {
        bail!("model `{}` has a dataset but no [models.postprocess]; add one (activation = \"softmax\" or \"sigmoid\")", model.name);
    };
    Ok(Some(EvalSettings {
        dataset: options.root.join(&dataset.path),
        options: dataset.options.clone(),
        preprocess: model.preprocess.clone(),
        postprocess,
        batch: dataset.batch,
        shard: options.shard,
    }))
}

/// The model's evaluation on its dataset (its slice with `--shard`); None without a dataset.
pub(crate) fn evaluate(
    model: &ModelConfig,
    runtime: &Runtime,
    path: &Path,
    session: &SessionSettings,
    options: &GateOptions,
    progress: bench::Progress,
) -> Result<Option<EvalResult>> {
    let Some(settings) = eval_settings(model, options)? else {
        return Ok(None);
    };
    let (mut loaded, _) = runtime.open(path, session)?;
    Ok(Some(eval::run(&mut loaded, &settings, progress)?))
}

/// Several forms of the model (explore's variants: each file with its session settings)
/// evaluated together on its dataset, each sample read and preprocessed once for all of them;
/// None without a dataset.
pub(crate) fn evaluate_many(
    model: &ModelConfig,
    runtime: &Runtime,
    forms: &[(&Path, &SessionSettings)],
    options: &GateOptions,
    progress: bench::Progress,
) -> Result<Option<Vec<EvalResult>>> {
    let Some(settings) = eval_settings(model, options)? else {
        return Ok(None);
    };
    let mut loaded = Vec::with_capacity(forms.len());
    for (path, session) in forms {
        loaded.push(runtime.open(path, session)?.0);
    }
    Ok(Some(eval::run_many(&mut loaded, &settings, progress)?))
}

/// The base model's file: a path from the config, or the candidate's path at the base commit;
/// with its SHA-256, which is what any base results must match.
pub struct BaseFile {
    path: PathBuf,
    label: String,
    sha256: String,
    /// The commit it was read from, when it came from git.
    commit: Option<String>,
    _temp: Option<tempfile::TempDir>,
}

impl BaseFile {
    fn path(&self) -> &Path {
        &self.path
    }
}

fn base_model_file(model: &ModelConfig, options: &GateOptions) -> Result<Option<BaseFile>> {
    let root = &options.root;
    if let Some(path) = &model.base_model {
        let full = root.join(path);
        crate::model::check_model_file(&full)
            .with_context(|| format!("model `{}`: base_model", model.name))?;
        let sha256 = crate::system::sha256_file(&full)
            .with_context(|| format!("cannot read base_model {}", full.display()))?;
        return Ok(Some(BaseFile {
            path: full,
            label: path.display().to_string(),
            sha256,
            commit: None,
            _temp: None,
        }));
    }
    let Some(reference) = options.base_ref.as_deref().or(model.base_ref.as_deref()) else {
        return Ok(None);
    };
    let context = || format!("model `{}`: base_ref", model.name);
    let base = gitref::resolve(root, reference).with_context(context)?;
    let file = file_at(root, base, &model.candidate, "base").with_context(context)?;
    Ok(Some(BaseFile {
        label: format!(
            "{} at {} ({})",
            model.candidate.display(),
            gitref::short(&file.commit.commit),
            file.commit.label
        ),
        commit: Some(file.commit.commit.clone()),
        path: file.path,
        sha256: file.sha256,
        _temp: Some(file.temp),
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
    let candidate = results::load_whole(&candidate_path)?;
    let base_path = dir.join(format!("{name}.base.json"));
    let base = if base_path.exists() {
        Some(results::load_whole(&base_path)?)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn model(extra: &str) -> ModelConfig {
        let text = format!("[[models]]\nname = \"m\"\ncandidate = \"m.onnx\"\n{extra}");
        GateConfig::parse(&text).unwrap().models.remove(0)
    }

    #[test]
    fn gpu_settings_come_from_the_config_with_the_cache_beside_it() {
        let m = model(
            "[models.bench]\nep = \"tensorrt\"\ntrt_fp16 = true\nallow_cpu_fallback = true\ntrt_cache_dir = \"cache/trt\"\n",
        );
        let options = GateOptions {
            root: PathBuf::from("project"),
            ..Default::default()
        };
        let settings = bench_settings(&m, &options);
        let gpu = &settings.session.gpu;
        assert_eq!(settings.session.provider, Provider::Tensorrt);
        assert!(gpu.trt_fp16 && gpu.allow_cpu_fallback && !gpu.cuda_graph);
        assert_eq!(
            gpu.trt_cache_dir.as_deref(),
            Some(Path::new("project/cache/trt"))
        );
        // Unset, the default root is chosen where the session opens.
        let plain = bench_settings(&model(""), &options);
        assert_eq!(plain.session.gpu, crate::runtime::GpuOptions::default());
    }

    #[test]
    fn an_image_dataset_fixes_the_benchmarked_image_size() {
        let pre =
            "[models.preprocess]\ncolor = \"rgb\"\nresize = [256, 200]\ncenter_crop = [224, 180]\n";
        let with_data = model(&format!("[models.dataset]\npath = \"data.csv\"\n{pre}"));
        assert_eq!(
            shape_request(&with_data, Path::new(".")).image_size,
            Some([180, 224])
        );
        // Without a dataset nothing is preprocessed, so nothing fixes the size.
        assert_eq!(shape_request(&model(pre), Path::new(".")).image_size, None);
    }
}
