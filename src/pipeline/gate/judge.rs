//! Judging a measured model: its criteria against the approved baseline and the base's timing,
//! the test set's size advice, the shard bookkeeping, and the thumbnails of flipped samples.

use super::*;

/// Changed samples shown as thumbnails in the HTML report, at most (the first listed: what the
/// candidate broke first)...
pub const THUMBNAILS: usize = 24;
/// ...and bytes of thumbnails per model, at most.
pub(super) const THUMBNAIL_BYTES: usize = 512 * 1024;

/// Gives the first changed samples of an image dataset their thumbnails. The sample ids only
/// pick among the files the dataset lists, never a path of their own; an image that cannot be
/// read or shrunk goes without one (the evaluation has already judged it).
pub(super) fn add_thumbnails(
    model: &ModelConfig,
    options: &GateOptions,
    accuracy: &mut AccuracyComparison,
) {
    let (Some(dataset), Some(post)) = (&model.dataset, &model.postprocess) else {
        return;
    };
    if accuracy.changed.is_empty() {
        return;
    }
    let Ok(data) = crate::data::dataset::load_dataset(
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
            crate::data::dataset::SampleInput::Image(path) => Some((s.id.as_str(), path.as_path())),
            crate::data::dataset::SampleInput::Features(_) => None,
        })
        .collect();
    let mut bytes = 0;
    for sample in accuracy.changed.iter_mut().take(THUMBNAILS) {
        let Some(path) = images.get(sample.id.as_str()) else {
            continue;
        };
        let side = crate::data::preprocess::thumbnail::THUMBNAIL_SIDE;
        if let Ok(uri) = crate::data::preprocess::thumbnail::thumbnail_data_uri(path, side) {
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
pub(super) fn shard_info(
    model: &ModelConfig,
    options: &GateOptions,
    shard: crate::data::shard::Shard,
    candidate: &ResultsFile,
) -> Result<crate::data::shard::ShardInfo> {
    let (dataset_samples, dataset_ids_sha256) = match (&model.dataset, &model.postprocess) {
        (Some(dataset), Some(post)) => {
            let data = crate::data::dataset::load_dataset(
                &options.root.join(&dataset.path),
                &dataset.options,
                post.class_names.as_deref(),
            )?;
            (
                data.samples.len(),
                crate::data::shard::ids_digest(data.samples.iter().map(|s| s.id.as_str())),
            )
        }
        _ => (0, crate::data::shard::ids_digest([])),
    };
    Ok(crate::data::shard::ShardInfo {
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
pub(super) fn sample_size_advice(
    model: &ModelConfig,
    criteria: &Criteria,
    root: &Path,
) -> Vec<compare::sample_size::Advice> {
    let (Some(dataset), Some(post)) = (&model.dataset, &model.postprocess) else {
        return Vec::new();
    };
    let Ok(data) = crate::data::dataset::load_dataset(
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
        // A same-runner A/B is timed by the adaptive loop: the verdict is its last look, at the
        // share of the significance that look had (the first look never ends a run at a last
        // look's share: an early end is judged again as the second).
        looks: if source == LatencySource::SameRunnerAb {
            cand_run
                .and_then(|r| r.looks)
                .map_or(compare::PLANNED_LOOKS, |k| {
                    k.clamp(2, compare::PLANNED_LOOKS)
                })
        } else {
            1
        },
        // Session pairs only where both sides record the same ones: anything else is pooled.
        sessions: if base_sessions == cand_sessions {
            cand_sessions
        } else {
            &[]
        },
        block_runs: cand_run.and_then(|r| r.block_runs).unwrap_or(0),
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
                p.nodes
                    .truncate(crate::engine::runtime::profile::PROFILE_TOP);
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
