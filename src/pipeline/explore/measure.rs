//! Measuring the variants: each one's bench settings, timing them interleaved in rounds of fresh
//! sessions, GPU energy where there is one, and one shared evaluation of all of them.

use super::*;

pub(super) fn variant_context(variant: &VariantConfig) -> String {
    format!("variant `{}`", crate::base::text::clean(&variant.name, 80))
}

pub(super) fn gate_options(plan: &Plan) -> crate::pipeline::gate::GateOptions {
    crate::pipeline::gate::GateOptions {
        root: plan.root.clone(),
        ..Default::default()
    }
}

/// A variant's model file and bench settings: the gate's, with the variant's overrides on top.
pub(super) fn arm(plan: &Plan, variant: &VariantConfig) -> Result<(PathBuf, bench::BenchSettings)> {
    let model = &plan.model;
    let path = plan
        .root
        .join(variant.file.as_ref().unwrap_or(&model.candidate));
    crate::engine::model::check_model_file(&path)?;
    let mut settings = crate::pipeline::gate::bench_settings(model, &gate_options(plan));
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
    crate::files::config::checks::check_session(
        &settings.session,
        crate::base::limits::Origin::Config(&variant.name),
    )?;
    Ok((path, settings))
}

/// Every variant timed in interleaved blocks: `iterations` runs each, more while the runs
/// have taken less than `min_time_s` per variant (both the model's: variants override only
/// session settings and batch).
pub(super) fn time_interleaved(
    runtime: &Runtime,
    arms: &[(PathBuf, bench::BenchSettings)],
    shapes: &crate::engine::model::ShapeRequest,
    progress: bench::Progress,
) -> Result<Vec<BenchResult>> {
    let Some((_, settings)) = arms.first() else {
        bail!("no variants to time; this is a bug in modelgate");
    };
    let list: Vec<crate::measure::ab::Arm> = arms
        .iter()
        .map(|(path, s)| crate::measure::ab::Arm {
            path,
            settings: s.clone(),
            batch: s.batches.first().copied(),
        })
        .collect();
    // Rounds long enough that p95 has the runs beyond it a tail needs in each, as many as the
    // runs allow up to EXPLORE_ROUNDS (fewer than four fall back to the block bootstrap).
    let p95_runs = (crate::compare::MIN_TAIL_RUNS / 0.05).ceil() as u64;
    let per_round = (settings.iterations / crate::measure::ab::EXPLORE_ROUNDS as u64).max(p95_runs);
    let rounds = (settings.iterations / per_round)
        .clamp(1, crate::measure::ab::EXPLORE_ROUNDS as u64) as usize;
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
    crate::measure::ab::time_rounds(
        runtime,
        &list,
        shapes,
        crate::measure::ab::Rounds {
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
/// milliseconds cannot give (see [`crate::measure::ab`]): where a counter is readable (an NVIDIA GPU's,
/// or RAPL's on the CPU), the variant is benched once more alone and its energy per run kept.
pub(super) fn add_energy(
    runtime: &Runtime,
    path: &Path,
    settings: &bench::BenchSettings,
    shapes: &crate::engine::model::ShapeRequest,
    bench: &mut BenchResult,
    progress: bench::Progress,
) -> Result<()> {
    if crate::measure::meter::Meter::for_provider(settings.session.provider).is_none() {
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
pub(super) fn evaluate_variants(
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
    crate::base::events::note(progress, &line);
    let forms: Vec<(&Path, &crate::engine::runtime::SessionSettings)> = arms
        .iter()
        .map(|(path, settings)| (path.as_path(), &settings.session))
        .collect();
    let started = std::time::Instant::now();
    let evals = crate::pipeline::gate::evaluate_many(
        &plan.model,
        runtime,
        &forms,
        &gate_options(plan),
        progress,
    )?
    .unwrap_or_default();
    if evals.len() != arms.len() {
        bail!("the evaluation lost a variant; this is a bug in modelgate");
    }
    let line = format!(
        "evaluated {} variants in {:.1} s",
        arms.len(),
        started.elapsed().as_secs_f64()
    );
    crate::base::events::note(progress, &line);
    Ok(evals.into_iter().map(Some).collect())
}

/// The rest of a variant's measurements: its peak memory alone and its digest, with its
/// evaluation.
pub(super) fn measure(
    variant: &VariantConfig,
    runtime: &Runtime,
    (path, settings): (PathBuf, bench::BenchSettings),
    shapes: &crate::engine::model::ShapeRequest,
    bench: BenchResult,
    eval: Option<EvalResult>,
) -> Result<Measured> {
    let probe = crate::measure::memprobe::ProbeSpec {
        model: path.clone(),
        session: settings.session.clone(),
        shapes: shapes.clone(),
        batch: settings.batches.first().copied(),
    };
    let peak_bytes =
        crate::measure::memprobe::measure_alone(Path::new(&runtime.library.path), &probe)
            .unwrap_or(bench.memory.peak_rss_bytes);
    let sha256 = crate::machine::system::sha256_file(&path)
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
