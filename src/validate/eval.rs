//! `modelgate eval`: accuracy and recall through the real pre- and postprocessing.
//!
//! A latency gate alone would pass a model that got faster by getting wrong. This stage feeds a
//! labeled dataset through the same decode-resize-normalize steps a service runs, in batches,
//! applies the configured activation and threshold, and keeps every sample's label, prediction
//! and scores, because the paired tests of the comparison need them. It also times each stage,
//! so the report can say where the time goes.

use std::collections::BTreeMap;

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::data::dataset::{self, DatasetOptions};
use crate::data::postprocess::{Postprocess, Postprocessor};
use crate::data::preprocess::{self, Preprocess};
use crate::engine::model::{ElemType, TensorData};
use crate::engine::runtime::{Feed, LoadedModel};
use crate::validate::metrics::{self, Metrics, SliceMetrics};

/// Which dataset was used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DatasetInfo {
    pub path: String,
    pub n_samples: usize,
    pub classes: Vec<String>,
}

/// One sample's outcome; `scores` are per-class probabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SampleRecord {
    pub id: String,
    pub label: usize,
    pub pred: usize,
    pub scores: Vec<f32>,
    /// Its subgroup values, slice column -> value; absent when no slices are configured.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub slices: BTreeMap<String, String>,
}

/// Time per sample in each stage, and which stage limits throughput.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StageBreakdown {
    pub preprocess_ms_per_sample: f64,
    pub inference_ms_per_sample: f64,
    pub postprocess_ms_per_sample: f64,
    pub preprocess_pct: f64,
    pub inference_pct: f64,
    pub postprocess_pct: f64,
    /// A stage over 50 % of the time.
    pub primary_bottleneck: Option<String>,
    /// Stages between 20 % and 50 %.
    pub secondary_bottlenecks: Vec<String>,
}

/// The eval section of a results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EvalResult {
    pub dataset: DatasetInfo,
    pub preprocess: Option<Preprocess>,
    pub postprocess: Postprocess,
    /// Index of the class whose recall is guarded, when there is one.
    pub positive_class: Option<usize>,
    pub batch_size: usize,
    pub metrics: Metrics,
    pub stages: StageBreakdown,
    /// Samples per second over the whole pipeline.
    pub throughput_samples_per_s: f64,
    pub wall_time_s: f64,
    pub samples: Vec<SampleRecord>,
    /// Metrics of every subgroup named by the dataset's `slices`; absent when none are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slices: Vec<SliceMetrics>,
}

/// What an evaluation ran with: everything in its result but what it measured.
pub struct EvalRun {
    pub dataset_path: String,
    pub classes: Vec<String>,
    pub preprocess: Option<Preprocess>,
    pub postprocess: Postprocess,
    pub positive_class: Option<usize>,
    pub batch_size: usize,
}

impl EvalResult {
    /// The result of evaluating `samples` as `run` says: its metrics and subgroup metrics
    /// summarized from the samples, the time spent in each stage (preprocessing, inference,
    /// postprocessing; all samples together) and the wall time. The one place a result is put
    /// together, for one run and for merged shards alike.
    pub fn assemble(
        run: EvalRun,
        samples: Vec<SampleRecord>,
        stage_times: [Duration; 3],
        wall_time_s: f64,
    ) -> Result<EvalResult> {
        let (metrics, slices) = summarize(&samples, &run.classes, run.positive_class)?;
        let n = samples.len() as f64;
        Ok(EvalResult {
            dataset: DatasetInfo {
                path: run.dataset_path,
                n_samples: samples.len(),
                classes: run.classes,
            },
            preprocess: run.preprocess,
            postprocess: run.postprocess,
            positive_class: run.positive_class,
            batch_size: run.batch_size,
            metrics,
            stages: stage_breakdown(stage_times, n),
            throughput_samples_per_s: if wall_time_s > 0.0 {
                n / wall_time_s
            } else {
                0.0
            },
            wall_time_s,
            samples,
            slices,
        })
    }
}

/// What to evaluate on and how.
#[derive(Debug, Clone)]
pub struct EvalSettings {
    pub dataset: std::path::PathBuf,
    pub options: DatasetOptions,
    pub preprocess: Option<Preprocess>,
    pub postprocess: Postprocess,
    pub batch: usize,
    /// Evaluate only this slice of the samples (`gate --shard`).
    pub shard: Option<crate::data::shard::Shard>,
}

/// Where the evaluation reports samples done (phase `eval`) and its warnings.
pub use crate::base::events::Progress;

/// Evaluates an open model on a dataset.
pub fn run(
    model: &mut LoadedModel,
    settings: &EvalSettings,
    progress: Progress,
) -> Result<EvalResult> {
    let mut results = run_many(std::slice::from_mut(model), &[], settings, progress)?;
    results
        .pop()
        .context("the evaluation returned no result; this is a bug in modelgate")
}

/// One model's side of a shared evaluation: its input, batch, records and stage times.
struct Pass {
    input: crate::engine::model::TensorSpec,
    fixed_batch: Option<usize>,
    records: Vec<SampleRecord>,
    /// Converting the batch to the input's type (preprocessing too), inference, postprocessing.
    convert: Duration,
    infer: Duration,
    post: Duration,
}

/// Evaluates several open models (variants of one model) on one dataset, decoding and
/// preprocessing each sample once for all of them: each batch is read once and fed to every
/// model in turn. Models that would run at different batch sizes (a fixed batch dim) are
/// evaluated one after another instead. Results in the models' order. `names` (one per model,
/// or none) name the model an error came from.
pub fn run_many(
    models: &mut [LoadedModel],
    names: &[String],
    settings: &EvalSettings,
    progress: Progress,
) -> Result<Vec<EvalResult>> {
    let mut data = dataset::load_dataset(
        &settings.dataset,
        &settings.options,
        settings.postprocess.class_names.as_deref(),
    )?;
    if let Some(shard) = settings.shard {
        keep_shard(&mut data, shard);
        if data.samples.is_empty() {
            bail!(
                "shard {shard} of dataset {} holds no samples; use fewer shards than samples",
                settings.dataset.display()
            );
        }
    }
    if let Some(warning) =
        dataset::label_order_warning(&data, settings.postprocess.class_names.as_deref())
    {
        crate::base::events::note(progress, &warning);
    }
    if data.samples.is_empty() {
        bail!(
            "dataset {} has no samples; point --dataset at labeled data",
            settings.dataset.display()
        );
    }
    let post = Postprocessor::new(&settings.postprocess, &data.classes)?;
    let mut passes = Vec::with_capacity(models.len());
    for model in models.iter() {
        let input = model
            .spec
            .inputs
            .first()
            .context("the model has no inputs")?
            .clone();
        if model.spec.inputs.len() > 1 {
            bail!(
                "the model has {} inputs; modelgate eval feeds models with one input",
                model.spec.inputs.len()
            );
        }
        // A model whose batch dim is fixed runs at that batch; the last batch is padded with
        // copies of its last sample, whose outputs are dropped.
        let fixed_batch = match input.dims.first() {
            Some(crate::engine::model::Dim::Fixed(b)) if *b >= 1 && input.dims.len() > 1 => {
                Some(*b as usize)
            }
            _ => None,
        };
        passes.push(Pass {
            input,
            fixed_batch,
            records: Vec::with_capacity(data.samples.len()),
            convert: Duration::ZERO,
            infer: Duration::ZERO,
            post: Duration::ZERO,
        });
    }
    let batches: Vec<usize> = passes
        .iter()
        .map(|p| p.fixed_batch.unwrap_or(settings.batch.max(1)))
        .collect();
    if batches.windows(2).any(|w| w[0] != w[1]) {
        // Batches differ: no batch can be shared, so each model reads the data itself.
        let mut results = Vec::with_capacity(models.len());
        for (i, model) in models.iter_mut().enumerate() {
            results.extend(run_many(
                std::slice::from_mut(model),
                names.get(i..=i).unwrap_or_default(),
                settings,
                &mut *progress,
            )?);
        }
        return Ok(results);
    }
    let batch = batches[0];
    for pass in &passes {
        if let Some(b) = pass.fixed_batch.filter(|b| *b != settings.batch) {
            let line = format!(
                "note: input `{}` has a fixed batch of {b}; evaluating {b} sample(s) per run instead of batch {}",
                crate::base::text::clean(&pass.input.name, crate::base::text::VALUE_MAX_CHARS),
                settings.batch
            );
            crate::base::events::note(progress, &line);
        }
    }
    let started = Instant::now();
    let mut pre_time = Duration::ZERO;
    let total = data.samples.len() as u64;
    // Decoding the next batch overlaps inference on this one, as a serving pipeline's data
    // loader does: a second thread preprocesses one batch ahead.
    std::thread::scope(|scope| -> Result<()> {
        let (sender, batches) = std::sync::mpsc::sync_channel(1);
        let samples = &data.samples;
        let preprocess = settings.preprocess.as_ref();
        scope.spawn(move || {
            for chunk in samples.chunks(batch) {
                let t0 = Instant::now();
                let refs: Vec<&dataset::Sample> = chunk.iter().collect();
                let values = preprocess::preprocess_samples(&refs, preprocess);
                let failed = values.is_err();
                // A closed channel means inference stopped on an error: stop too.
                if sender.send((values, t0.elapsed())).is_err() || failed {
                    break;
                }
            }
        });
        for (chunk, (values, took)) in data.samples.chunks(batch).zip(batches) {
            pre_time += took;
            let mut values = Some(values?);
            let last = passes.len() - 1;
            for (i, (model, pass)) in models.iter_mut().zip(&mut passes).enumerate() {
                // The last model takes the batch's values; the others a copy.
                let values = if i == last {
                    values.take()
                } else {
                    values.clone()
                }
                .unwrap_or_default();
                run_chunk(model, pass, chunk, values, settings, &post, &data.slices).with_context(
                    || match names.get(i) {
                        Some(name) => format!("evaluating {name}"),
                        None => "evaluating the model".to_string(),
                    },
                )?;
            }
            crate::base::events::report(progress, "eval", passes[0].records.len() as u64, total);
        }
        Ok(())
    })?;
    if passes.iter().any(|p| p.records.len() != data.samples.len()) {
        bail!("preprocessing stopped before the last sample; this is a bug in modelgate");
    }
    let wall = started.elapsed();
    let shared = passes.len() > 1;
    passes
        .into_iter()
        .map(|pass| {
            // Shared by several models, the pass's wall time is theirs together; each model's
            // is then the pipelined time it would have alone: the slower of the loader and its
            // own inference and postprocessing (they overlap).
            let wall_time_s = if shared {
                (pre_time + pass.convert)
                    .max(pass.infer + pass.post)
                    .as_secs_f64()
            } else {
                wall.as_secs_f64()
            };
            EvalResult::assemble(
                EvalRun {
                    dataset_path: settings.dataset.display().to_string(),
                    classes: data.classes.clone(),
                    preprocess: settings.preprocess.clone(),
                    postprocess: settings.postprocess.clone(),
                    positive_class: post.positive(),
                    batch_size: batch,
                },
                pass.records,
                [pre_time + pass.convert, pass.infer, pass.post],
                wall_time_s,
            )
        })
        .collect()
}

/// Runs one model on one batch of preprocessed `values`, records its predictions and adds the
/// time of each stage to its pass.
fn run_chunk(
    model: &mut LoadedModel,
    pass: &mut Pass,
    chunk: &[dataset::Sample],
    mut values: Vec<f32>,
    settings: &EvalSettings,
    post: &Postprocessor,
    slices: &[std::collections::BTreeMap<String, String>],
) -> Result<()> {
    let t0 = Instant::now();
    let input = &pass.input;
    let per_sample = values.len() / chunk.len();
    let mut shape = input_shape(input, settings.preprocess.as_ref(), chunk, per_sample)?;
    let padded = pass.fixed_batch.unwrap_or(chunk.len()).max(chunk.len());
    if padded > chunk.len() {
        let last = values[values.len() - per_sample..].to_vec();
        for _ in chunk.len()..padded {
            values.extend_from_slice(&last);
        }
        shape[0] = padded as i64;
    }
    let data_typed = match input.elem {
        ElemType::Float32 => TensorData::F32(values),
        ElemType::Float16 => TensorData::F16(preprocess::to_f16(&values)),
        ElemType::Uint8 => TensorData::U8(preprocess::to_u8(&values)),
        ref other => bail!(
            "input `{}` is {other:?}; modelgate eval feeds float32, float16 or uint8 inputs",
            input.name
        ),
    };
    let t1 = Instant::now();
    let output = model
        .run_batch(vec![Feed {
            name: input.name.clone(),
            shape,
            data: data_typed,
        }])
        .with_context(|| format!("batch starting at sample {}", chunk[0].id))?;
    let t2 = Instant::now();
    let ids: Vec<&str> = chunk.iter().map(|s| s.id.as_str()).collect();
    let kept = output.values.len() / padded * chunk.len();
    let predictions = post.apply_batch(&output.values[..kept], &ids)?;
    for (sample, prediction) in chunk.iter().zip(predictions) {
        let slices = slices.get(pass.records.len()).cloned().unwrap_or_default();
        pass.records.push(SampleRecord {
            id: sample.id.clone(),
            label: sample.label,
            pred: prediction.pred,
            scores: prediction.scores,
            slices,
        });
    }
    pass.convert += t1 - t0;
    pass.infer += t2 - t1;
    pass.post += t2.elapsed();
    Ok(())
}

/// Keeps only the samples (and their subgroup values) of `shard`.
fn keep_shard(data: &mut dataset::Dataset, shard: crate::data::shard::Shard) {
    let keep: Vec<bool> = data.samples.iter().map(|s| shard.contains(&s.id)).collect();
    let mut flags = keep.iter();
    data.samples.retain(|_| *flags.next().unwrap_or(&false));
    if !data.slices.is_empty() {
        let mut flags = keep.iter();
        data.slices.retain(|_| *flags.next().unwrap_or(&false));
    }
}

/// The metrics and subgroup metrics of `records`, computed in the order of their ids, so the
/// same records give the same numbers to the last bit whatever order a file lists them in (one
/// run's, or shards merged).
pub fn summarize(
    records: &[SampleRecord],
    classes: &[String],
    positive: Option<usize>,
) -> Result<(Metrics, Vec<SliceMetrics>)> {
    let mut sorted: Vec<&SampleRecord> = records.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let labels: Vec<usize> = sorted.iter().map(|r| r.label).collect();
    let preds: Vec<usize> = sorted.iter().map(|r| r.pred).collect();
    let scores: Vec<Vec<f32>> = sorted.iter().map(|r| r.scores.clone()).collect();
    let metrics = metrics::classification_metrics(&labels, &preds, &scores, classes, positive)?;
    let slices = metrics::slice_metrics(
        &labels,
        &preds,
        &sorted.iter().map(|r| &r.slices).collect::<Vec<_>>(),
        classes.len(),
        positive,
    );
    Ok((metrics, slices))
}

/// The batch's tensor shape: from the preprocessing when it fixes the image size, else the model's
/// own input shape with the batch dim set (checked against the data), else `[batch, features]`.
fn input_shape(
    input: &crate::engine::model::TensorSpec,
    preprocess: Option<&Preprocess>,
    chunk: &[dataset::Sample],
    per_sample: usize,
) -> Result<Vec<i64>> {
    let n = chunk.len();
    let images = chunk
        .first()
        .is_some_and(|s| matches!(s.input, dataset::SampleInput::Image(_)));
    if images {
        if let Some(shape) = preprocess.and_then(|p| preprocess::batch_shape(p, n)) {
            return Ok(shape.iter().map(|d| *d as i64).collect());
        }
    }
    if input.dims.len() <= 2 && !images {
        return Ok(vec![n as i64, per_sample as i64]);
    }
    let mut shape = vec![n as i64];
    for dim in input.dims.iter().skip(1) {
        match dim {
            crate::engine::model::Dim::Fixed(d) => shape.push(*d),
            crate::engine::model::Dim::Symbolic(_) => bail!(
                "input `{}` has a dynamic size other than the batch; set the image size with resize = [W, H] \
                 in [models.preprocess] (eval: --resize WxH)",
                input.name
            ),
        }
    }
    let per_model: i64 = shape.iter().skip(1).product();
    if per_model as usize != per_sample {
        bail!(
            "input `{}` takes {} values per sample ({}), but preprocessing gives {per_sample}; \
             check resize, center_crop and color in [models.preprocess] (eval: --resize, --center-crop, --color) against the model",
            input.name,
            per_model,
            crate::engine::model::format_dims(&input.dims)
        );
    }
    Ok(shape)
}

/// Per-sample stage times and the bottleneck rule ML engineers use: a stage over 50 % of the time
/// is the primary bottleneck, one between 20 % and 50 % a secondary one.
pub fn stage_breakdown(times: [Duration; 3], samples: f64) -> StageBreakdown {
    let ms: Vec<f64> = times
        .iter()
        .map(|t| t.as_secs_f64() * 1000.0 / samples.max(1.0))
        .collect();
    let total: f64 = ms.iter().sum();
    let pct: Vec<f64> = ms
        .iter()
        .map(|m| if total > 0.0 { m / total * 100.0 } else { 0.0 })
        .collect();
    let names = ["preprocessing", "inference", "postprocessing"];
    let primary_bottleneck = names
        .iter()
        .zip(&pct)
        .find(|(_, p)| **p > 50.0)
        .map(|(n, _)| n.to_string());
    let secondary_bottlenecks = names
        .iter()
        .zip(&pct)
        .filter(|(_, p)| (20.0..=50.0).contains(*p))
        .map(|(n, _)| n.to_string())
        .collect();
    StageBreakdown {
        preprocess_ms_per_sample: ms[0],
        inference_ms_per_sample: ms[1],
        postprocess_ms_per_sample: ms[2],
        preprocess_pct: pct[0],
        inference_pct: pct[1],
        postprocess_pct: pct[2],
        primary_bottleneck,
        secondary_bottlenecks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bottleneck_rule_follows_the_50_and_20_percent_lines() {
        let ms = |a: u64, b: u64, c: u64| {
            [
                Duration::from_millis(a),
                Duration::from_millis(b),
                Duration::from_millis(c),
            ]
        };
        let cases = [
            (ms(60, 30, 10), Some("preprocessing"), vec!["inference"]),
            (ms(10, 80, 10), Some("inference"), vec![]),
            (
                ms(40, 40, 20),
                None,
                vec!["preprocessing", "inference", "postprocessing"],
            ),
            (ms(0, 0, 0), None, vec![]),
        ];
        for (times, primary, secondary) in cases {
            let b = stage_breakdown(times, 10.0);
            assert_eq!(b.primary_bottleneck.as_deref(), primary, "{times:?}");
            assert_eq!(b.secondary_bottlenecks, secondary, "{times:?}");
        }
        let b = stage_breakdown(ms(60, 30, 10), 10.0);
        assert!((b.preprocess_ms_per_sample - 6.0).abs() < 1e-9);
        assert!((b.preprocess_pct + b.inference_pct + b.postprocess_pct - 100.0).abs() < 1e-9);
    }
}
