//! Measuring a model as the gate runs it: the A/B against its base in session pairs over the
//! planned looks, the candidate alone, the memory probe, the operator profile, and the
//! evaluation on its dataset.

use super::*;

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
pub(super) fn measure(
    model: &ModelConfig,
    criteria: &Criteria,
    runtime: &Runtime,
    options: &GateOptions,
    base: Option<&BaseFile>,
    progress: bench::Progress,
) -> Result<Measured> {
    let candidate_path = options.root.join(&model.candidate);
    crate::engine::model::check_model_file(&candidate_path)?;
    let candidate_sha = crate::machine::system::sha256_file(&candidate_path)
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
    crate::base::events::note(progress, &line);
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
        run.looks = last.as_ref().map(|l| l.looks);
    }
    // Why the latency moved: both models' operators, profiled after the timed runs.
    let moved = last.as_ref().is_some_and(|l| {
        l.criteria
            .iter()
            .any(|c| matches!(c.status, Status::Fail | Status::Inconclusive))
    });
    if model.bench.profile || moved {
        crate::base::events::report(progress, "profiling operators", 0, 1);
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
pub(super) fn evaluate_only(
    model: &ModelConfig,
    runtime: &Runtime,
    options: &GateOptions,
    path: &Path,
    shard: crate::data::shard::Shard,
    progress: bench::Progress,
) -> Result<Measured> {
    let line = format!(
        "model `{}`: shard {shard}: evaluating its slice (shard {} times the model)",
        model.name, model.bench.latency_shard
    );
    crate::base::events::note(progress, &line);
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
    crate::engine::model::check_model_file(&candidate_path)?;
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
pub(super) fn check_outputs(
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
        crate::engine::inputs::Tolerance::default(),
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
        if pre.layout == crate::data::preprocess::Layout::Nchw {
            if let Some([width, height]) = pre.output_size() {
                request.image_size = Some([i64::from(height), i64::from(width)]);
            }
        }
    }
    request
}

/// A results file for one measured model file: its record and fingerprint and the bench result
/// (the caller adds the evaluation, for the models it judges).
pub(super) fn finish_results(
    model: &ModelConfig,
    runtime: &Runtime,
    options: &GateOptions,
    path: &Path,
    settings: &BenchSettings,
    spec: crate::engine::model::ModelSpec,
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
pub(super) fn adaptive_ab(
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
    let mut at_pace = crate::base::events::rescaled(&mut *progress, |done, target| {
        let elapsed = started.elapsed().as_secs_f64();
        let projected = if elapsed > 0.0 && budget_s > elapsed {
            (done as f64 * budget_s / elapsed) as u64
        } else {
            done
        };
        (done, target.max(projected))
    });
    let paced: bench::Progress = &mut at_pace;
    // One block first, to learn how long a run takes.
    ab.extend(1, None, paced)?;
    let pilot = session_plan::pilot_runs(
        model.bench.max_time_s - started.elapsed().as_secs_f64(),
        ab.open_s(),
        ab.seconds_per_pair(),
        q_max,
        ab.block_runs(),
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
                    let pace = session_plan::Pace {
                        open_s: ab.open_s(),
                        pair_s: ab.seconds_per_pair(),
                        block: ab.block_runs(),
                    };
                    session_plan::session_runs(pilot, within, between, pace, q_max, left())
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
    // The last line counts every run timed, at 100 %, through `progress` itself.
    drop(at_pace);
    crate::base::events::report(progress, "A/B", runs, runs);
    Ok(last)
}

/// Times session pairs of `runs` runs each until there are `sessions` of them, finishing the one
/// open first; with a `deadline`, stops at it and opens no pair that cannot finish by it.
pub(super) fn time_sessions(
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
pub(super) fn eval_settings(
    model: &ModelConfig,
    options: &GateOptions,
) -> Result<Option<EvalSettings>> {
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
    let mut names = Vec::with_capacity(forms.len());
    for (path, session) in forms {
        loaded.push(runtime.open(path, session)?.0);
        names.push(crate::base::text::clean(
            &path.display().to_string(),
            crate::base::text::VALUE_MAX_CHARS,
        ));
    }
    Ok(Some(eval::run_many(
        &mut loaded,
        &names,
        &settings,
        progress,
    )?))
}
