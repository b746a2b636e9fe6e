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

use crate::base::gitref;
use crate::compare::{
    self, session_plan, AccuracyComparison, Comparison, LastLook, LatencyInput, LatencySource,
    ModelComparison, QualityReference, Reference, ReferenceInputs, Status, PLANNED_LOOKS,
};
use crate::engine::model::ShapeRequest;
use crate::engine::runtime::{Provider, Runtime, SessionSettings};
use crate::files::config::{Criteria, GateConfig, ModelConfig};
use crate::files::results::{self, ResultsFile};
use crate::measure::ab::{AbPair, Schedule};
use crate::measure::bench::{self, BenchResult, BenchSettings};
use crate::measure::memprobe::{self, ProbeSpec};
use crate::validate::eval::{self, EvalResult, EvalSettings};

mod at_ref;
mod judge;
mod measure;

pub use at_ref::*;
pub use judge::*;
pub use measure::*;

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
    pub shard: Option<crate::data::shard::Shard>,
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
        crate::base::events::note(progress, &line);
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
        crate::files::identity::check_same_model(
            &baseline.model,
            &baseline_path,
            &measured.candidate.model,
            crate::files::identity::Names::Match,
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
        assert_eq!(
            plain.session.gpu,
            crate::engine::runtime::GpuOptions::default()
        );
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
