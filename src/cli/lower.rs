//! Lowering: the parsed flags (and, where a command reads one, the gate config) turned into the
//! validated settings the stages take. Every error names the flag and the fix.

use super::*;

impl EpArg {
    pub fn provider(self) -> Provider {
        match self {
            EpArg::Cpu => Provider::Cpu,
            EpArg::Cuda => Provider::Cuda,
            EpArg::Tensorrt => Provider::Tensorrt,
        }
    }
}

impl SessionArgs {
    pub fn settings(&self) -> Result<SessionSettings> {
        self.settings_over(None)
    }

    /// The session settings of `base` (a gate config model's) with the given flags laid over
    /// them; the defaults without one.
    pub fn settings_over(&self, base: Option<&SessionSettings>) -> Result<SessionSettings> {
        let base = base.cloned().unwrap_or(SessionSettings {
            provider: Provider::Cpu,
            opt_level: OptLevel::All,
            intra_threads: None,
            inter_threads: None,
            spinning: true,
            shared_pool: false,
            gpu: Default::default(),
        });
        let settings = SessionSettings {
            provider: self.ep.map_or(base.provider, EpArg::provider),
            opt_level: self.opt_level.map_or(base.opt_level, |level| match level {
                OptLevelArg::Disable => OptLevel::Disable,
                OptLevelArg::Basic => OptLevel::Basic,
                OptLevelArg::Extended => OptLevel::Extended,
                OptLevelArg::All => OptLevel::All,
            }),
            intra_threads: self.intra_threads.or(base.intra_threads),
            inter_threads: self.inter_threads.or(base.inter_threads),
            gpu: crate::engine::runtime::GpuOptions {
                allow_cpu_fallback: self.allow_cpu_fallback || base.gpu.allow_cpu_fallback,
                trt_fp16: self.trt_fp16 || base.gpu.trt_fp16,
                cuda_graph: self.cuda_graph || base.gpu.cuda_graph,
                trt_cache_dir: self
                    .trt_cache_dir
                    .clone()
                    .or(base.gpu.trt_cache_dir.clone()),
            },
            ..base
        };
        checks::check_session(&settings, Origin::Flags)?;
        Ok(settings)
    }
}

impl BenchArgs {
    /// Validated bench settings and shape choices.
    pub fn settings(&self) -> Result<(BenchSettings, ShapeRequest)> {
        let settings = BenchSettings {
            warmup: self.warmup,
            warmup_s: 0.0,
            iterations: self.iterations,
            min_time_s: self.min_time,
            batches: self.batch.clone(),
            session: self.session.settings()?,
            seed: self.seed,
        };
        let shapes = self.feed.shape_request()?;
        checks::check_bench(&settings, &shapes, Origin::Flags)?;
        Ok((settings, shapes))
    }

    /// The `--check-outputs` tolerance, when asked for.
    pub fn output_check(&self) -> Result<Option<Tolerance>> {
        if !self.check_outputs {
            return Ok(None);
        }
        for (flag, value) in [("--rtol", self.rtol), ("--atol", self.atol)] {
            if !value.is_finite() || value < 0.0 {
                bail!("{flag} {value}: give a tolerance of 0 or more, e.g. {flag} 1e-3");
            }
        }
        Ok(Some(Tolerance {
            rtol: self.rtol,
            atol: self.atol,
        }))
    }
}

/// Parses `--input NAME=PATH` and `--inputs DIR`.
pub fn input_files(inputs: &[String], dir: Option<&Path>) -> Result<InputFiles> {
    let mut files = InputFiles {
        dir: dir.map(Path::to_path_buf),
        ..Default::default()
    };
    for text in inputs {
        let Some((name, path)) = text
            .split_once('=')
            .filter(|(n, p)| !n.is_empty() && !p.is_empty())
        else {
            bail!("--input {text}: expected NAME=PATH, e.g. --input input_ids=ids.npy");
        };
        if files
            .files
            .insert(name.to_string(), PathBuf::from(path))
            .is_some()
        {
            bail!("--input {name}: given twice; give each input once");
        }
    }
    Ok(files)
}

/// The settings one gate-config model gives `eval`, as JSON sections that flags are laid over.
pub(super) struct ConfigModel {
    /// How errors name it: "modelgate.toml, models `digits`".
    label: String,
    dataset: PathBuf,
    options: serde_json::Value,
    batch: usize,
    preprocess: Option<serde_json::Value>,
    postprocess: serde_json::Value,
    session: SessionSettings,
}

impl EvalArgs {
    /// Validated eval and session settings: the gate config's model (`--config`, with
    /// `--model-name` when it has several) with the flags laid over it, or the flags alone.
    /// Every flag is read on both paths, so none is ever silently ignored.
    pub fn settings(&self) -> Result<(EvalSettings, SessionSettings)> {
        if let Some(value) = &self.filter {
            bail!("--filter {value}: renamed to --interpolation (nearest, bilinear, bicubic, lanczos, box, hamming)");
        }
        let from_config = self.config_model()?;
        let options = overlay(
            from_config.as_ref().map(|c| c.options.clone()),
            [
                ("format", self.format.as_ref().map(|v| json!(v))),
                ("label_column", self.label_column.as_ref().map(|v| json!(v))),
                (
                    "allow_outside_paths",
                    self.allow_outside_paths.then_some(json!(true)),
                ),
            ],
        );
        let options: DatasetOptions = from_flags("--format/--label-column", options)?;
        let batch = self
            .batch
            .or(from_config.as_ref().map(|c| c.batch))
            .unwrap_or(64);
        checks::check_eval(batch, None, Origin::Flags)?;
        let dataset = match (&self.dataset, &from_config) {
            (Some(path), _) => path.clone(),
            (None, Some(c)) => c.dataset.clone(),
            (None, None) => bail!(
                "--dataset is missing: give the labeled data, or --config with the model's [models.dataset]"
            ),
        };
        let preprocess = self.preprocess(from_config.as_ref())?;
        if let Some(threshold) = self.threshold {
            // JSON has no NaN or infinity: serde_json writes them as null, which would be
            // reported as a wrong type for --activation.
            if !(0.0..=1.0).contains(&threshold) {
                bail!(
                    "--threshold {threshold}: give a number between 0 and 1, e.g. --threshold 0.5"
                );
            }
        }
        let post = overlay(
            Some(
                from_config
                    .as_ref()
                    .map(|c| c.postprocess.clone())
                    .unwrap_or_else(|| json!({ "activation": "softmax" })),
            ),
            [
                ("activation", self.activation.as_ref().map(|v| json!(v))),
                ("threshold", self.threshold.map(|v| json!(v))),
                (
                    "class_names",
                    (!self.class_names.is_empty()).then(|| json!(self.class_names)),
                ),
                (
                    "positive_class",
                    self.positive_class
                        .as_ref()
                        .map(|class| match class.parse::<usize>() {
                            Ok(i) => json!(i),
                            Err(_) => json!(class),
                        }),
                ),
            ],
        );
        checks::check_eval(batch, preprocess.as_ref(), Origin::Flags)?;
        let postprocess: Postprocess = from_flags(
            "--activation/--threshold/--class-names/--positive-class",
            post,
        )?;
        postprocess.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
        let session = self
            .session
            .settings_over(from_config.as_ref().map(|c| &c.session))?;
        let settings = EvalSettings {
            dataset,
            options,
            preprocess,
            postprocess,
            batch,
            shard: None,
        };
        Ok((settings, session))
    }

    /// The `[models.preprocess]` of the config (if any) with the image flags laid over it;
    /// none when neither gives one. An error names the flag when a flag gave the value, and
    /// the config's key when the config did.
    fn preprocess(&self, config: Option<&ConfigModel>) -> Result<Option<Preprocess>> {
        let size = |flag: &str, text: &Option<String>| -> Result<Option<serde_json::Value>> {
            text.as_deref()
                .map(|text| parse_size_or_side(flag, text))
                .transpose()
        };
        let text = |v: &Option<String>| v.as_ref().map(|v| json!(v));
        let list = |v: &Vec<f32>| (!v.is_empty()).then(|| json!(v));
        let flags: [(&str, &str, Option<serde_json::Value>); 10] = [
            ("preset", "--preset", text(&self.preset)),
            ("color", "--color", text(&self.color)),
            ("resize", "--resize", size("--resize", &self.resize)?),
            (
                "interpolation",
                "--interpolation",
                text(&self.interpolation),
            ),
            (
                "center_crop",
                "--center-crop",
                size("--center-crop", &self.center_crop)?,
            ),
            ("scale", "--scale", self.scale.map(|v| json!(v))),
            ("mean", "--mean", list(&self.mean)),
            ("std", "--std", list(&self.std)),
            ("layout", "--layout", text(&self.layout)),
            ("dtype", "--dtype", text(&self.dtype)),
        ];
        let from_config = config.and_then(|c| c.preprocess.clone());
        let any_flag = flags.iter().any(|(_, _, v)| v.is_some());
        if from_config.is_none() && !any_flag {
            return Ok(None);
        }
        let mut base = from_config;
        if base.is_none() && self.preset.is_none() && self.color.is_none() {
            // Without a preset or a config, images are RGB unless --color says otherwise.
            base = Some(json!({ "color": "rgb" }));
        }
        let shown = |value: &serde_json::Value| match value {
            serde_json::Value::String(s) => s.clone(),
            // --mean and --std are f32: show them as given, not widened to f64.
            serde_json::Value::Array(items) => items
                .iter()
                .map(|v| v.as_f64().map_or(v.to_string(), |f| (f as f32).to_string()))
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        let layered = overlay(base, flags.clone().map(|(key, _, value)| (key, value)));
        let pre: Preprocess = match serde_json::from_value(layered) {
            Ok(pre) => pre,
            Err(e) => {
                // The config was checked when it was read, so a flag's value is at fault: name
                // the first one that does not parse on its own.
                for (key, flag, value) in &flags {
                    let Some(value) = value else { continue };
                    let alone = match *key {
                        "color" | "preset" => json!({ *key: value }),
                        _ => json!({ "color": "rgb", *key: value }),
                    };
                    if let Err(e) = serde_json::from_value::<Preprocess>(alone) {
                        bail!("{flag} {}: {e}", shown(value));
                    }
                }
                bail!(
                    "--preset/--color/--resize/--interpolation/--center-crop/--layout/--dtype: {e}"
                );
            }
        };
        if let Err(e) = pre.validate() {
            let crate::data::preprocess::PreprocessError::Config { key, message } = &e else {
                bail!("{e}");
            };
            match (
                flags.iter().find(|(k, _, v)| k == key && v.is_some()),
                config,
            ) {
                (Some((_, flag, Some(value))), _) => bail!("{flag} {}: {message}", shown(value)),
                (_, Some(config)) => bail!("{}: {e}", config.label),
                _ => bail!("{e}"),
            }
        }
        Ok(Some(pre))
    }

    /// An eval error worded for where the settings came from: image samples without
    /// preprocessing name the flags when there is no `--config`.
    pub fn reword(&self, error: anyhow::Error) -> anyhow::Error {
        let missing = matches!(
            error.downcast_ref::<crate::data::preprocess::PreprocessError>(),
            Some(crate::data::preprocess::PreprocessError::Missing)
        );
        match (&self.config, &self.model_name) {
            (None, _) if missing => anyhow::anyhow!(
                "the dataset's samples are images, which need preprocessing: give --preset torchvision-imagenet, or --color with --resize and --center-crop (or --config with the model's [models.preprocess])"
            ),
            (Some(config), name) if missing => anyhow::anyhow!(
                "{}{}: the dataset's samples are images, but the model has no [models.preprocess]; add one, or give --preset or --color with --resize and --center-crop",
                config.display(),
                name.as_ref().map(|n| format!(", models `{n}`")).unwrap_or_default()
            ),
            _ => error,
        }
    }

    /// The model of `--config` eval takes its settings from: the one `--model-name` names, or
    /// the config's only model.
    fn config_model(&self) -> Result<Option<ConfigModel>> {
        let config = match (&self.config, &self.model_name) {
            (Some(config), _) => config,
            (None, Some(name)) => {
                bail!("--model-name {name}: give the gate config too, e.g. --config modelgate.toml")
            }
            (None, None) => return Ok(None),
        };
        let gate = GateConfig::load(config)?;
        let root = config.parent().unwrap_or(Path::new("."));
        let names: Vec<&str> = gate.models.iter().map(|m| m.name.as_str()).collect();
        let model = match &self.model_name {
            Some(name) => gate
                .models
                .iter()
                .find(|m| &m.name == name)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--model-name {name}: no such model in {}; its models are: {}",
                        config.display(),
                        names.join(", ")
                    )
                })?,
            None => match gate.models.as_slice() {
                [only] => only,
                _ => bail!(
                    "--config {}: it has {} models; pick one with --model-name ({})",
                    config.display(),
                    names.len(),
                    names.join(", ")
                ),
            },
        };
        let name = &model.name;
        let Some(dataset) = &model.dataset else {
            bail!("--model-name {name}: the model has no [models.dataset] in {}; add one or pass --dataset", config.display());
        };
        let Some(postprocess) = &model.postprocess else {
            bail!(
                "--model-name {name}: the model has no [models.postprocess] in {}; add one",
                config.display()
            );
        };
        Ok(Some(ConfigModel {
            label: format!("{}, models `{name}`", config.display()),
            dataset: root.join(&dataset.path),
            options: to_json(&dataset.options)?,
            batch: dataset.batch,
            preprocess: model.preprocess.as_ref().map(to_json).transpose()?,
            postprocess: to_json(postprocess)?,
            session: model.bench.settings().session,
        }))
    }
}

/// A config section as JSON, to lay flag values over.
pub(super) fn to_json<T: serde::Serialize>(section: &T) -> Result<serde_json::Value> {
    Ok(serde_json::to_value(section)?)
}

/// `base` (a JSON object, or an empty one) with each given flag value set on its key.
pub(super) fn overlay<const N: usize>(
    base: Option<serde_json::Value>,
    flags: [(&str, Option<serde_json::Value>); N],
) -> serde_json::Value {
    let mut value = base.unwrap_or_else(|| json!({}));
    for (key, flag) in flags {
        if let Some(flag) = flag {
            value[key] = flag;
        }
    }
    value
}

/// `--resize`/`--crop`: `N` (one side) or `WIDTHxHEIGHT`, as the config's number or pair.
pub(super) fn parse_size_or_side(flag: &str, text: &str) -> Result<serde_json::Value> {
    if let Ok(side) = text.trim().parse::<u32>() {
        if side > 0 {
            return Ok(json!(side));
        }
    }
    parse_size(flag, text).map(|size| json!(size)).map_err(|_| {
        anyhow::anyhow!("{flag} {text}: expected N or WIDTHxHEIGHT with sizes above 0, e.g. {flag} 256 or {flag} 224x224")
    })
}

/// Builds a config section from flag values with serde, so flags and modelgate.toml accept the
/// same words and give the same errors.
pub(super) fn from_flags<T: serde::de::DeserializeOwned>(
    flags: &str,
    value: serde_json::Value,
) -> Result<T> {
    serde_json::from_value(value).map_err(|e| anyhow::anyhow!("{flags}: {e}"))
}

pub(super) fn parse_size(flag: &str, text: &str) -> Result<[u32; 2]> {
    let parsed = text
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some([w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?]))
        .filter(|[w, h]| *w > 0 && *h > 0);
    parsed
        .ok_or_else(|| anyhow::anyhow!("{flag} {text}: expected WIDTHxHEIGHT, e.g. {flag} 224x224"))
}

/// Parses `--shape NAME=DIMS` and `--dim SYMBOL=N`.
pub fn shape_request(shapes: &[String], dims: &[String]) -> Result<ShapeRequest> {
    let mut request = ShapeRequest::default();
    for text in shapes {
        let parsed = text
            .split_once('=')
            .and_then(|(name, dims)| Some((name, parse_shape(dims)?)));
        let Some((name, shape)) = parsed else {
            bail!("--shape {text}: expected NAME=DIMS with sizes of at least 1, e.g. --shape input=1x3x224x224");
        };
        request.shapes.insert(name.to_string(), shape);
    }
    for text in dims {
        let parsed = text
            .split_once('=')
            .and_then(|(name, n)| Some((name, n.trim().parse::<i64>().ok().filter(|n| *n > 0)?)));
        let Some((name, size)) = parsed else {
            bail!("--dim {text}: expected SYMBOL=N with N at least 1, e.g. --dim batch=8");
        };
        request.dims.insert(name.to_string(), size);
    }
    Ok(request)
}
