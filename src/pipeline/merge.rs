//! `modelgate merge`: the results of `gate --shard` runs, one file per model again.
//!
//! Merging is exact, never an average: every shard's per-sample records are taken once, the
//! metrics are recomputed from all of them, and the latency is the one shard's that timed the
//! model (its runner's A/B; timings from different runners are never pooled). Everything is
//! checked before anything is written: every shard of every model present once, every record in
//! the shard its id hashes to and in no other, the records adding up to exactly the samples the
//! shards were cut from, and the shards agreeing on the model, the data and the settings.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::base::text::{clean, VALUE_MAX_CHARS};
use crate::data::shard::{self, ShardInfo};
use crate::files::results::{self, ResultsFile};
use crate::validate::eval::{self, EvalResult, SampleRecord};

/// Most results files read from one folder: far above one per model of any config.
const MAX_FILES_PER_DIR: usize = 4096;

/// One shard's files of one model.
struct ShardFiles {
    dir: PathBuf,
    info: ShardInfo,
    index: u32,
    candidate: ResultsFile,
    base: Option<ResultsFile>,
}

/// Merges the shard folders `dirs` into `out`; returns the files written.
pub fn run(dirs: &[PathBuf], out: &Path) -> Result<Vec<PathBuf>> {
    let mut models: BTreeMap<String, Vec<ShardFiles>> = BTreeMap::new();
    for dir in dirs {
        if same_folder(dir, out) {
            bail!(
                "--out {} is one of the shard folders; write the merged files to a folder of their own",
                out.display()
            );
        }
        for files in read_dir(dir)? {
            models
                .entry(files.candidate.model.name.clone())
                .or_default()
                .push(files);
        }
    }
    let mut merged = Vec::new();
    for (name, shards) in models {
        merged.push((
            name.clone(),
            merge_model(&name, shards).with_context(|| format!("model `{}`", clean(&name, 80)))?,
        ));
    }
    results::check_output_folder("--out", out)?;
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create --out {}", out.display()))?;
    let mut written = Vec::new();
    for (name, (candidate, base)) in merged {
        let path = out.join(format!("{name}.json"));
        results::write_json_atomic(&path, &candidate)?;
        if let Some(base) = base {
            results::write_json_atomic(&out.join(format!("{name}.base.json")), &base)?;
        }
        written.push(path);
    }
    Ok(written)
}

fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The shard results files in `dir`: `NAME.json` and its `NAME.base.json`.
fn read_dir(dir: &Path) -> Result<Vec<ShardFiles>> {
    let entries = std::fs::read_dir(dir).with_context(|| {
        format!(
            "cannot read shard folder {}; give the folders `gate --shard` wrote with --results-dir",
            dir.display()
        )
    })?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read shard folder {}", dir.display()))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if let Some(stem) = file_name.strip_suffix(".json") {
            if !stem.ends_with(".base") && entry.path().is_file() {
                names.push(stem.to_string());
            }
        }
        if names.len() > MAX_FILES_PER_DIR {
            bail!(
                "shard folder {} holds over {MAX_FILES_PER_DIR} results files; give the folders `gate --shard` wrote",
                dir.display()
            );
        }
    }
    if names.is_empty() {
        bail!(
            "shard folder {} holds no results files (NAME.json); give the folders `gate --shard` wrote with --results-dir",
            dir.display()
        );
    }
    names.sort();
    let mut files = Vec::new();
    for stem in names {
        let path = dir.join(format!("{stem}.json"));
        let candidate = results::load(&path)?;
        if candidate.model.name != stem {
            bail!(
                "{} holds the results of model `{}`, not `{}`; merge the files as `gate --shard` named them",
                path.display(),
                clean(&candidate.model.name, VALUE_MAX_CHARS),
                clean(&stem, VALUE_MAX_CHARS)
            );
        }
        let (Some(info), Some(index)) = (
            candidate.shard.clone(),
            candidate.shard.as_ref().and_then(|s| s.index),
        ) else {
            bail!(
                "{} is not one shard's results (it has no shard index); merge reads what `gate --shard K/N` wrote",
                path.display()
            );
        };
        let count_ok = (1..=shard::MAX_SHARDS).contains(&info.count);
        if !count_ok
            || index > info.count
            || info.latency_shard == 0
            || info.latency_shard > info.count
        {
            bail!(
                "{} names shard {index}/{} with latency shard {}, which `gate --shard` never writes (K/N needs 1 <= K <= N <= {}); measure that shard again",
                path.display(),
                info.count,
                info.latency_shard,
                shard::MAX_SHARDS
            );
        }
        let base_path = dir.join(format!("{stem}.base.json"));
        let base = if base_path.exists() {
            Some(results::load(&base_path)?)
        } else {
            None
        };
        files.push(ShardFiles {
            dir: dir.to_path_buf(),
            info,
            index,
            candidate,
            base,
        });
    }
    Ok(files)
}

/// One model's shards merged: the candidate's results and the latency shard's base results.
fn merge_model(
    name: &str,
    mut shards: Vec<ShardFiles>,
) -> Result<(ResultsFile, Option<ResultsFile>)> {
    shards.sort_by_key(|s| s.index);
    let first = &shards[0];
    let count = first.info.count;
    // Every shard present once.
    for pair in shards.windows(2) {
        if pair[0].index == pair[1].index {
            bail!(
                "shard {}/{count} appears twice, in {} and {}; give each shard's folder once",
                pair[0].index,
                pair[0].dir.display(),
                pair[1].dir.display()
            );
        }
    }
    let present: Vec<u32> = shards.iter().map(|s| s.index).collect();
    let missing: Vec<String> = (1..=count)
        .filter(|k| !present.contains(k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "shard {} missing ({} of {count} given); merge the folders of all {count} shards",
            missing.join(", "),
            shards.len()
        );
    }
    if let Some(extra) = shards.iter().find(|s| s.index > count) {
        bail!(
            "{} holds shard {}/{} but the others are of {count} shards; merge one run's shards",
            extra.dir.display(),
            extra.index,
            extra.info.count
        );
    }
    // The same cut of the same data, of the same model, the same way.
    for shard in &shards[1..] {
        let what = agree(first, shard);
        if let Some(what) = what {
            bail!(
                "shard {}/{count} ({}) and shard {}/{count} ({}) differ in {what}; merge shards of one run",
                first.index,
                first.dir.display(),
                shard.index,
                shard.dir.display()
            );
        }
    }
    // Latency from the one shard that timed the model.
    let latency_shard = first.info.latency_shard;
    for shard in &shards {
        let timed = shard.candidate.bench.is_some() || shard.base.is_some();
        if timed != (shard.index == latency_shard) {
            bail!(
                "shard {}/{count} ({}) {} timings, but shard {latency_shard} is the one that times the model; merge what `gate --shard` wrote",
                shard.index,
                shard.dir.display(),
                if timed { "holds" } else { "lacks" }
            );
        }
    }
    let timing = shards
        .iter()
        .position(|s| s.index == latency_shard)
        .context("the latency shard is missing")?;
    let eval = merge_evals(&shards)?;
    let mut shards = shards;
    let timing = shards.swap_remove(timing);
    let mut candidate = timing.candidate;
    candidate.eval = eval;
    candidate.shard = Some(ShardInfo {
        index: None,
        samples: candidate.eval.as_ref().map_or(0, |e| e.samples.len()),
        ..timing.info.clone()
    });
    let base = timing.base.map(|mut base| {
        base.shard = candidate.shard.clone();
        base
    });
    if candidate.model.name != name {
        bail!("the latency shard's results are of another model");
    }
    Ok((candidate, base))
}

/// What two shards of one model disagree on, if anything.
fn agree(a: &ShardFiles, b: &ShardFiles) -> Option<&'static str> {
    let (x, y) = (&a.candidate, &b.candidate);
    let (i, j) = (&a.info, &b.info);
    if i.count != j.count {
        return Some("their number of shards");
    }
    if i.latency_shard != j.latency_shard {
        return Some("latency_shard");
    }
    if i.dataset_samples != j.dataset_samples || i.dataset_ids_sha256 != j.dataset_ids_sha256 {
        return Some("the labeled data they were cut from");
    }
    if x.model.sha256 != y.model.sha256 {
        return Some("the model file (SHA-256)");
    }
    if x.onnxruntime.version != y.onnxruntime.version {
        return Some("the ONNX Runtime version");
    }
    if x.environment.execution_provider != y.environment.execution_provider {
        return Some("the execution provider");
    }
    match (&x.eval, &y.eval) {
        (None, None) => None,
        (Some(e), Some(f)) => {
            if e.dataset.classes != f.dataset.classes || e.dataset.path != f.dataset.path {
                Some("the dataset")
            } else if e.preprocess != f.preprocess {
                Some("preprocessing")
            } else if e.postprocess != f.postprocess || e.positive_class != f.positive_class {
                Some("postprocessing")
            } else if e.batch_size != f.batch_size {
                Some("the evaluation batch size")
            } else {
                None
            }
        }
        _ => Some("whether they were evaluated"),
    }
}

/// The evaluations of every shard as one: each record once, in the shard its id belongs to, all
/// of the dataset's samples; metrics recomputed from the records; stage times pooled by sample.
fn merge_evals(shards: &[ShardFiles]) -> Result<Option<EvalResult>> {
    let Some(first) = shards[0].candidate.eval.as_ref() else {
        return Ok(None);
    };
    let info = &shards[0].info;
    let count = info.count;
    let mut owner: HashMap<&str, u32> = HashMap::new();
    let mut records: Vec<SampleRecord> = Vec::new();
    let mut times = [Duration::ZERO; 3];
    let mut wall_time_s = 0.0;
    for shard in shards {
        let eval = shard
            .candidate
            .eval
            .as_ref()
            .context("a shard has no evaluation")?;
        for record in &eval.samples {
            let belongs = shard::shard_of(&record.id, count);
            if belongs != shard.index {
                bail!(
                    "sample {:?} is in shard {}/{count}'s results ({}) but belongs to shard {belongs}/{count}; merge what `gate --shard` wrote",
                    clean(&record.id, VALUE_MAX_CHARS),
                    shard.index,
                    shard.dir.display()
                );
            }
            if owner.insert(record.id.as_str(), shard.index).is_some() {
                bail!(
                    "sample {:?} appears twice in shard {}/{count}'s results ({}); a dataset lists each sample once, so remove the duplicate from the dataset or measure that shard again",
                    clean(&record.id, VALUE_MAX_CHARS),
                    shard.index,
                    shard.dir.display()
                );
            }
            records.push(record.clone());
        }
        if eval.samples.len() != shard.info.samples {
            bail!(
                "shard {}/{count} ({}) holds {} sample records, but its slice has {}; the file is incomplete, so measure that shard again",
                shard.index,
                shard.dir.display(),
                eval.samples.len(),
                shard.info.samples
            );
        }
        let n = eval.samples.len() as f64;
        let stages = [
            eval.stages.preprocess_ms_per_sample,
            eval.stages.inference_ms_per_sample,
            eval.stages.postprocess_ms_per_sample,
        ];
        for (total, ms) in times.iter_mut().zip(stages) {
            *total += Duration::try_from_secs_f64((ms * n / 1000.0).max(0.0)).unwrap_or_default();
        }
        wall_time_s += eval.wall_time_s.max(0.0);
    }
    if records.len() < info.dataset_samples {
        bail!(
            "the shards hold {} of the {} samples they were cut from; {} are missing, so measure the shards again",
            records.len(),
            info.dataset_samples,
            info.dataset_samples - records.len()
        );
    }
    if records.len() != info.dataset_samples
        || shard::ids_digest(records.iter().map(|r| r.id.as_str())) != info.dataset_ids_sha256
    {
        bail!(
            "the shards' {} sample ids are not those of the {} samples they were cut from; merge shards of one run",
            records.len(),
            info.dataset_samples
        );
    }
    records.sort_by(|a, b| a.id.cmp(&b.id));
    let run = eval::EvalRun {
        dataset_path: first.dataset.path.clone(),
        classes: first.dataset.classes.clone(),
        preprocess: first.preprocess.clone(),
        postprocess: first.postprocess.clone(),
        positive_class: first.positive_class,
        batch_size: first.batch_size,
    };
    EvalResult::assemble(run, records, times, wall_time_s).map(Some)
}
