//! `modelgate init`: a first gate config for a model, guessed from what the model and its data say.
//!
//! A new user should get from a model file to a working gate without reading the source. The
//! model's declared inputs and outputs (read by ONNX Runtime) and the dataset's classes decide
//! the preprocessing, the activation and the positive class; every guess is written into the
//! config with a `# REVIEW:` comment saying what it was guessed from, and the text is validated
//! by the config loader before it is written, so `init` never leaves a config the gate refuses.

use std::path::{Component, Path};

use anyhow::{bail, Context, Result};

use crate::cli::InitRequest;
use crate::data::dataset::{self, DatasetFormat, DatasetOptions};
use crate::data::postprocess::Activation;
use crate::data::preprocess::{DType, Layout};
use crate::engine::model::{format_dims, Dim, ElemType, ModelSpec, TensorSpec};
use crate::files::config::GateConfig;

mod guess;

pub use guess::*;

/// What the dataset holds, as far as the config needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetSummary {
    pub format: DatasetFormat,
    /// Classes in the loader's order (sorted; numerically when every label is a number).
    pub classes: Vec<String>,
    /// Samples per class, in class order.
    pub counts: Vec<usize>,
    /// Extra text columns of an image manifest, offered as subgroups.
    pub slice_columns: Vec<String>,
}

impl DatasetSummary {
    fn numeric_labels(&self) -> bool {
        self.classes.iter().all(|c| c.parse::<f64>().is_ok())
    }

    fn is_image(&self) -> bool {
        self.format != DatasetFormat::Tabular
    }
}

/// An image input as the model declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInput {
    pub channels: u32,
    /// `[width, height]`, or none when either is symbolic.
    pub size: Option<[u32; 2]>,
    pub layout: Layout,
    pub dtype: DType,
}

/// The config text and what to tell the user.
#[derive(Debug, Clone)]
pub struct InitPlan {
    pub name: String,
    pub text: String,
    /// Lines saying what was found and guessed.
    pub summary: Vec<String>,
}

/// Refuses an existing config unless `--force`; checked before anything is measured.
pub fn check_out(out: &Path, force: bool) -> Result<()> {
    if !force && out.exists() {
        bail!(
            "{} already exists; pass --force to overwrite it, or --out PATH to write elsewhere",
            out.display()
        );
    }
    Ok(())
}

/// Reads the dataset with the loader the gate uses, so what `init` sees is what the gate sees.
pub fn inspect_dataset(path: &Path) -> Result<DatasetSummary> {
    let data = dataset::load_dataset(path, &DatasetOptions::default(), None)
        .with_context(|| format!("--dataset {}", path.display()))?;
    let mut counts = vec![0usize; data.classes.len()];
    for sample in &data.samples {
        counts[sample.label] += 1;
    }
    let format = dataset::detect_format(path)?;
    let slice_columns = match format {
        DatasetFormat::ManifestCsv => text_columns(path)?,
        _ => Vec::new(),
    };
    Ok(DatasetSummary {
        format,
        classes: data.classes,
        counts,
        slice_columns,
    })
}

/// Columns of a manifest other than `path` and `label` whose values are text with few distinct
/// values: subgroups such as an acquisition site.
fn text_columns(path: &Path) -> Result<Vec<String>> {
    let mut reader = csv::Reader::from_path(path)
        .with_context(|| format!("--dataset {}: cannot read it", path.display()))?;
    let header: Vec<String> = reader
        .headers()
        .with_context(|| format!("--dataset {}: cannot read its header", path.display()))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut values: Vec<std::collections::BTreeSet<String>> =
        vec![Default::default(); header.len()];
    let mut numeric = vec![true; header.len()];
    for record in reader.records() {
        let record = record.with_context(|| format!("--dataset {}", path.display()))?;
        for (i, cell) in record.iter().enumerate().take(header.len()) {
            numeric[i] &= cell.trim().parse::<f64>().is_ok();
            if values[i].len() <= dataset::MAX_SLICE_VALUES {
                values[i].insert(cell.to_string());
            }
        }
    }
    Ok(header
        .iter()
        .enumerate()
        .filter(|(i, name)| {
            !["path", "label"].contains(&name.as_str())
                && !numeric[*i]
                && (2..=dataset::MAX_SLICE_VALUES).contains(&values[*i].len())
        })
        .map(|(_, name)| name.clone())
        .collect())
}

/// A drop, in points, that allows about two of `n` samples to change, at least 0.5, rounded up
/// to a tenth.
fn two_samples_pts(n: usize) -> f64 {
    let pts = 200.0 / n.max(1) as f64;
    ((pts * 10.0).ceil() / 10.0).max(0.5)
}

/// Quotes a string for TOML.
fn quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// The model's name: `--name`, else the file stem with other characters made `_`.
fn model_name(request: &InitRequest) -> Result<String> {
    if let Some(name) = &request.name {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            bail!("--name {name:?}: use letters, digits, '-', '_' or '.' (it names baselines/<name>.json)");
        }
        return Ok(name.clone());
    }
    let stem = request
        .model
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        bail!(
            "cannot make a name from {}; pass --name NAME",
            request.model.display()
        );
    }
    Ok(name)
}

/// `path` written relative to the folder `base`, with `/` between parts.
fn relative_to(path: &Path, base: &Path) -> Result<String> {
    let path = path
        .canonicalize()
        .with_context(|| format!("{} does not exist; check the path", path.display()))?;
    let base = base.canonicalize().with_context(|| {
        format!(
            "--out: folder {} does not exist; create it first",
            base.display()
        )
    })?;
    let ours: Vec<Component> = path.components().collect();
    let theirs: Vec<Component> = base.components().collect();
    let common = ours.iter().zip(&theirs).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); theirs.len() - common];
    for part in &ours[common..] {
        let Some(text) = part.as_os_str().to_str() else {
            bail!("{} is not valid UTF-8; rename it", path.display());
        };
        parts.push(text.to_string());
    }
    Ok(parts.join("/"))
}

/// The folder the config's relative paths start from.
fn config_folder(out: &Path) -> &Path {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The guarded class's recall as init measured it, evaluating the model with the settings it
/// had just guessed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecallSeen {
    pub recall: f64,
    /// Its Wilson 95 % lower bound: what the gate compares with `min_recall`.
    pub lower: f64,
    pub hits: u64,
    pub support: u64,
}

/// Points left between the current Wilson lower bound and the floor init writes, so the
/// unchanged model passes with room and a model that loses a sample or two still does.
const FLOOR_ROOM: f64 = 0.02;

/// The floor init writes below a Wilson lower bound of `lower`: [`FLOOR_ROOM`] under it,
/// rounded down to whole points; `None` when that leaves no floor worth writing (under 1 %).
pub fn floor_below(lower: f64) -> Option<f64> {
    let floor = ((lower - FLOOR_ROOM) * 100.0).floor() / 100.0;
    (floor.is_finite() && floor >= 0.01).then_some(floor)
}

/// About how many positives, at recall `recall`, give a Wilson 95 % lower bound of at least
/// `floor`; `None` when no number does (the recall is not above the floor) or past 10^7.
pub fn positives_for_floor(recall: f64, floor: f64) -> Option<u64> {
    if !(recall > floor && (0.0..1.0).contains(&floor)) {
        return None;
    }
    let meets = |n: u64| {
        let hits = ((recall * n as f64).round() as u64).min(n);
        crate::stats::wilson_interval(hits, n, 0.95).is_some_and(|w| w.lower >= floor)
    };
    let mut n = 1;
    while !meets(n) {
        n = n.checked_mul(2).filter(|n| *n <= 10_000_000)?;
    }
    // The bound grows with n but rounding makes it wobble: step back while it still holds.
    let (mut lo, mut hi) = (n / 2, n);
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if meets(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// Builds the config text for `spec` (and the dataset, if given) and checks that the gate's
/// loader accepts it. Without a measured recall no recall floor is set (see [`plan_with`]).
pub fn plan(
    request: &InitRequest,
    spec: &ModelSpec,
    data: Option<&DatasetSummary>,
) -> Result<InitPlan> {
    plan_with(request, spec, data, None)
}

/// [`plan`], with the guarded class's recall as measured on the dataset: the floor is then set
/// where the unchanged model meets it with room, and the comment says how it was chosen.
pub fn plan_with(
    request: &InitRequest,
    spec: &ModelSpec,
    data: Option<&DatasetSummary>,
    seen: Option<&RecallSeen>,
) -> Result<InitPlan> {
    let name = model_name(request)?;
    let folder = config_folder(&request.out);
    let candidate = relative_to(&request.model, folder)?;
    let mut summary = Vec::new();
    for input in &spec.inputs {
        summary.push(format!(
            "input  `{}` {} {}",
            input.name,
            elem_name(&input.elem),
            format_dims(&input.dims)
        ));
    }
    let width = output_width(spec);
    if let Some(output) = spec.outputs.first() {
        summary.push(format!(
            "output `{}` {} {}: {} value(s) per sample",
            output.name,
            elem_name(&output.elem),
            format_dims(&output.dims),
            width.map_or("an unknown number of".to_string(), |w| w.to_string())
        ));
    }
    let Some(input) = spec.inputs.first() else {
        bail!(
            "{} has no inputs; give a model that takes one",
            request.model.display()
        );
    };
    let image = image_input(input);
    let wants_image = data.map_or(image.is_some(), DatasetSummary::is_image);
    let preprocess = match (wants_image, &image) {
        (true, Some(image)) => Some(preprocess_lines(input, image, request.image_size)?),
        (true, None) => bail!(
            "--dataset holds images but the model's input `{}` {} is not an image (rank 4 with 1 or 3 channels); give a tabular CSV, or write [models.preprocess] by hand",
            input.name,
            format_dims(&input.dims)
        ),
        (false, _) => None,
    };

    let mut t = String::new();
    t.push_str("# modelgate's gate config, written by `modelgate init`.\n");
    t.push_str("# Lines marked REVIEW are guesses: check each one, then run `modelgate eval` to see the numbers.\n");
    t.push_str(
        "# `modelgate gate` benchmarks, evaluates and compares every [[models]] entry below.\n\n",
    );
    t.push_str("[[models]]\n");
    t.push_str(&format!("name = {}\n", quote(&name)));
    t.push_str("# The model file as it is in this checkout, relative to this file.\n");
    t.push_str(&format!("candidate = {}\n", quote(&candidate)));
    t.push_str("# Latency: a same-runner A/B against this file as it is at the pull request's base (the merge\n");
    t.push_str("# base of HEAD with the default branch). Quality is judged against the approved baseline in\n");
    t.push_str(&format!(
        "# baselines/{name}.json, made by `modelgate baseline approve`.\n"
    ));
    t.push_str("base_ref = \"merge-base\"\n");

    if let Some(data) = data {
        let path = request.dataset.as_deref().unwrap_or(Path::new(""));
        t.push_str("\n[models.dataset]\n");
        t.push_str(&format!("path = {}\n", quote(&relative_to(path, folder)?)));
        if !data.slice_columns.is_empty() {
            let columns: Vec<String> = data.slice_columns.iter().map(|c| quote(c)).collect();
            t.push_str("# Subgroups: uncomment to report (and judge) the metrics per value of these columns.\n");
            t.push_str(&format!("# slices = [{}]\n", columns.join(", ")));
        }
        let counts: Vec<String> = data
            .classes
            .iter()
            .zip(&data.counts)
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        summary.push(format!(
            "dataset {}: {} samples, {} classes ({})",
            path.display(),
            data.counts.iter().sum::<usize>(),
            data.classes.len(),
            counts.join(", ")
        ));
        if !data.slice_columns.is_empty() {
            summary.push(format!(
                "subgroup columns offered as slices (commented out): {}",
                data.slice_columns.join(", ")
            ));
        }
    }

    if let Some(lines) = &preprocess {
        t.push_str("\n[models.preprocess]\n");
        for line in lines {
            t.push_str(line);
            t.push('\n');
        }
    }

    let activation = activation_for(width);
    let mut positive = None;
    if let Some(data) = data {
        t.push_str("\n[models.postprocess]\n");
        let because = match width {
            Some(1) => "1 value per sample: a logit, sigmoid".to_string(),
            Some(w) => format!("{w} values per sample: logits, softmax"),
            None => "an unknown number of values per sample; softmax".to_string(),
        };
        t.push_str(&format!(
            "# REVIEW: guessed from the model's output width, {because}; \"none\" if it outputs probabilities.\n"
        ));
        let activation_name = match activation {
            Activation::Sigmoid => "sigmoid",
            Activation::Softmax => "softmax",
            Activation::None => "none",
        };
        t.push_str(&format!("activation = \"{activation_name}\"\n"));
        if let Some(w) = width {
            let fits = w == 1 && data.classes.len() == 2
                || usize::try_from(w).is_ok_and(|w| w == data.classes.len());
            if !fits {
                summary.push(format!(
                    "warning: the model gives {w} value(s) per sample but the dataset has {} classes; eval will refuse this until they agree",
                    data.classes.len()
                ));
            }
        }
        if !data.numeric_labels() {
            let names: Vec<String> = data.classes.iter().map(|c| quote(c)).collect();
            t.push_str(
                "# REVIEW: the dataset's labels, sorted; list them in the model's output order.\n",
            );
            t.push_str(&format!("class_names = [{}]\n", names.join(", ")));
        }
        positive = guess_positive(&data.classes, &data.counts);
        if let Some((index, why)) = positive {
            let class = &comment_text(&data.classes[index]);
            t.push_str(&format!(
                "# REVIEW: a guess: \"{class}\" was picked {why}. The gate guards this class's recall.\n"
            ));
            t.push_str(&format!(
                "positive_class = {}\n",
                quote(&data.classes[index])
            ));
            t.push_str("threshold = 0.5\n");
            summary.push(format!(
                "positive class: \"{class}\" (a guess, picked {why}; see positive_class)"
            ));
        }
    }

    t.push_str("\n[models.bench]\n");
    t.push_str(
        "# Timed runs, at least; when a latency result is inconclusive the gate takes more runs,\n",
    );
    t.push_str(
        "# up to max_time_s seconds per model. warmup_s seconds of runs are discarded first.\n",
    );
    t.push_str("iterations = 1000\n");
    t.push_str("warmup_s = 1.0\n");
    t.push_str("max_time_s = 30.0\n");
    t.push_str("# One thread inside each operator keeps latency steady on a shared CI runner.\n");
    t.push_str("intra_threads = 1\n");

    t.push_str("\n[models.criteria]\n");
    t.push_str("# Latency: fail when p95 is slower than the base by more than this many percent, beyond noise.\n");
    t.push_str("max_p95_regression_pct = 5.0\n");
    match data {
        Some(data) => {
            let total = data.counts.iter().sum::<usize>();
            let accuracy = two_samples_pts(total);
            t.push_str(&format!(
                "# Quality, paired per sample against the approved baseline. {total} samples: one is {:.2} points\n",
                100.0 / total.max(1) as f64
            ));
            t.push_str("# of accuracy, so this allows about two samples to change.\n");
            t.push_str(&format!("max_accuracy_drop_pts = {accuracy:.1}\n"));
            let (guarded, what) = match positive {
                Some((i, _)) => (
                    data.counts[i],
                    format!("the recall of \"{}\"", comment_text(&data.classes[i])),
                ),
                None => (
                    data.counts.iter().copied().min().unwrap_or(1),
                    "the macro recall (mean over classes)".to_string(),
                ),
            };
            t.push_str(&format!(
                "# Largest drop of {what}, in points: about two of its {guarded} samples.\n"
            ));
            t.push_str(&format!(
                "max_recall_drop_pts = {:.1}\n",
                two_samples_pts(guarded)
            ));
            if let Some((i, _)) = positive {
                floor_lines(&mut t, &mut summary, &data.classes[i], seen);
            }
        }
        None => {
            t.push_str("# Quality criteria need [models.dataset] and [models.postprocess]; run init with --dataset.\n");
            t.push_str("# max_accuracy_drop_pts = 0.5\n# max_recall_drop_pts = 0.5\n");
        }
    }

    GateConfig::parse(&t).with_context(|| {
        format!(
            "the config init wrote for {}{} would not load (a bug in init; nothing was written)",
            crate::base::text::clean(&request.model.display().to_string(), 200),
            request
                .dataset
                .as_deref()
                .map_or(String::new(), |d| format!(
                    " and --dataset {}",
                    crate::base::text::clean(&d.display().to_string(), 200)
                ))
        )
    })?;
    Ok(InitPlan {
        name,
        text: t,
        summary,
    })
}

/// The `min_recall` lines: a floor under the recall init measured, with how it was chosen, or,
/// when init could not evaluate, none (commented out) and what to do.
fn floor_lines(t: &mut String, summary: &mut Vec<String>, class: &str, seen: Option<&RecallSeen>) {
    let class = &comment_text(class);
    let pct = |v: f64| format!("{:.2} %", v * 100.0);
    let Some((seen, floor)) = seen.and_then(|m| floor_below(m.lower).map(|f| (m, f))) else {
        t.push_str(&format!(
            "# REVIEW: init did not evaluate the model, so it sets no floor on the recall of \"{class}\".\n\
             # Run `modelgate eval`, then uncomment this below the Wilson 95 % lower bound it shows\n\
             # (the gate compares that lower bound, not the recall, with the floor).\n"
        ));
        t.push_str("# min_recall = 0.80\n");
        summary.push("no recall floor set: the model was not evaluated (see min_recall)".into());
        return;
    };
    t.push_str(&format!(
        "# init evaluated the model on this dataset: recall of \"{class}\" {} ({} of {}), Wilson 95 %\n\
         # lower bound {}. The gate compares that lower bound with this floor, so the floor sits {:.0}\n\
         # points below it, where the unchanged model passes.\n",
        pct(seen.recall),
        seen.hits,
        seen.support,
        pct(seen.lower),
        FLOOR_ROOM * 100.0
    ));
    let higher = ((seen.recall - FLOOR_ROOM) * 100.0).floor() / 100.0;
    if higher > floor {
        if let Some(n) = positives_for_floor(seen.recall, higher) {
            t.push_str(&format!(
                "# A floor of {higher:.2} would need about {n} positives at this recall ({} now).\n",
                seen.support
            ));
        }
    }
    t.push_str(&format!("min_recall = {floor:.2}\n"));
    summary.push(format!(
        "recall floor {floor:.2}: recall of \"{class}\" measured {}, Wilson 95 % lower bound {}",
        pct(seen.recall),
        pct(seen.lower)
    ));
}

/// A label or input name as it may stand in a comment or a summary line: on one line, without
/// control characters, cut to a length (the TOML values themselves are quoted in full).
fn comment_text(text: &str) -> String {
    crate::base::text::clean(text, 80).replace('"', "'")
}

/// Writes the config through a temporary file in the same folder and a rename, so a config is
/// either whole or absent; without `force` an existing file is never replaced.
pub fn write_config(out: &Path, text: &str, force: bool) -> Result<()> {
    use std::io::Write;
    let folder = config_folder(out);
    let mut file = tempfile::NamedTempFile::new_in(folder).with_context(|| {
        format!(
            "cannot write {}: folder {} is not writable or does not exist",
            out.display(),
            folder.display()
        )
    })?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = file
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    let persisted = if force {
        file.persist(out).map(|_| ())
    } else {
        file.persist_noclobber(out).map(|_| ())
    };
    persisted.map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} already exists; pass --force to overwrite it",
                out.display()
            )
        } else {
            anyhow::anyhow!("cannot write {}: {}", out.display(), e.error)
        }
    })
}

#[cfg(test)]
mod tests;
