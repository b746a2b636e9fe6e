//! The commands that start from a model: explore (its variants side by side) and init (a first
//! gate config).

use super::*;

/// `modelgate explore`: exit 1 when no variant meets the constraints.
pub fn explore(
    global: &GlobalArgs,
    args: &crate::cli::ExploreArgs,
) -> Result<crate::commands::app::Outcome> {
    // Opening a model to guess its settings starts ONNX Runtime, which a process starts once.
    let mut started = None;
    let (config, root, name) = match &args.model {
        Some(name) => {
            let mut config = GateConfig::load(&args.config)?;
            if let Some(dataset) = &args.dataset {
                // Checked before minutes of timing, not after.
                if !dataset.exists() {
                    anyhow::bail!(
                        "--dataset {} does not exist; check the path",
                        dataset.display()
                    );
                }
                // Relative to where modelgate runs, as the model files on the command line are.
                let path = std::path::absolute(dataset).unwrap_or_else(|_| dataset.clone());
                for model in config.models.iter_mut().filter(|m| &m.name == name) {
                    match &mut model.dataset {
                        Some(d) => d.path = path.clone(),
                        None => {
                            model.dataset = Some(crate::files::config::DatasetConfig {
                                path: path.clone(),
                                options: Default::default(),
                                batch: crate::files::config::default_eval_batch(),
                            })
                        }
                    }
                }
            }
            (config, config_root(&args.config), name.clone())
        }
        None => {
            let Some(first) = args.files.first() else {
                anyhow::bail!(
                    "give --model NAME (a model of --config with [[models.variants]]) or the model files to compare: modelgate explore A.onnx B.onnx [--dataset PATH]"
                );
            };
            let (config, name, runtime) = guessed_config(global, first, args.dataset.as_deref())?;
            started = Some(runtime);
            (config, PathBuf::from("."), name)
        }
    };
    let mut plan = crate::pipeline::explore::plan(&config, &name, &args.files, &root)?;
    if let Some(peak) = args.peak_qps {
        crate::files::config::checks::check_peak(Some(peak), args.safety)?;
        plan.peak = Some((peak, args.safety));
    }
    crate::files::results::check_output_folder("--out", &args.out)?;
    let runtime = match started {
        Some(runtime) => runtime,
        None => load_runtime(global, &plan.model.bench.settings().session)?,
    };
    let mut progress = progress_bar();
    let summary = crate::pipeline::explore::run(&plan, &runtime, &args.out, &mut progress)?;
    print!(
        "{}",
        text::log_text(&crate::pipeline::explore::terminal(&summary))
    );
    println!(
        "wrote {} (dashboard.csv, summary.json, tradeoff.svg, tradeoff.png, report.md)",
        args.out.display()
    );
    if summary.variants.iter().any(|v| v.meets_constraints) {
        Ok(crate::commands::app::Outcome::Pass)
    } else {
        eprintln!("error: no variant meets the constraints ([explore.constraints]); each one's misses are above");
        Ok(crate::commands::app::Outcome::Fail)
    }
}

/// The config `modelgate init` would write for `model` and `dataset`, read back, the model's
/// name in it, and the runtime started to read the model: explore's settings when no config
/// model is named. Said on stderr, since nobody has reviewed its guesses (preprocessing,
/// activation, positive class).
pub(super) fn guessed_config(
    global: &GlobalArgs,
    model: &Path,
    dataset: Option<&Path>,
) -> Result<(GateConfig, String, Runtime)> {
    check_model_file(model)?;
    let data = dataset
        .map(crate::commands::init::inspect_dataset)
        .transpose()?;
    let session = SessionSettings::default();
    let runtime = load_runtime(global, &session)?;
    let (opened, _) = runtime.open(model, &session)?;
    let spec = opened.spec.clone();
    drop(opened);
    let request = crate::cli::InitRequest {
        model: model.to_path_buf(),
        dataset: dataset.map(Path::to_path_buf),
        name: None,
        out: PathBuf::from("modelgate.toml"),
        force: true,
        image_size: None,
    };
    let plan = crate::commands::init::plan(&request, &spec, data.as_ref())?;
    let config = GateConfig::parse(&plan.text)
        .context("the guessed settings would not load (a bug in modelgate)")?;
    eprintln!(
        "{}",
        text::log_text(
            "settings guessed from the first model and the dataset, as `modelgate init` guesses them; \
             to review them, write them with `modelgate init` and run explore with --model"
        )
    );
    Ok((config, plan.name, runtime))
}

/// The guarded class's recall when the model is evaluated with the config `text` init guessed;
/// `None` when that config guards no class.
pub(super) fn recall_seen(
    runtime: &Runtime,
    request: &crate::cli::InitRequest,
    text: &str,
    session: &SessionSettings,
) -> Result<Option<crate::commands::init::RecallSeen>> {
    let config = GateConfig::parse(text)?;
    let Some(model) = config.models.first() else {
        return Ok(None);
    };
    let options = crate::pipeline::gate::GateOptions {
        root: config_root(&request.out),
        ..Default::default()
    };
    let mut progress = progress_bar();
    let Some(eval) = crate::pipeline::gate::evaluate(
        model,
        runtime,
        &request.model,
        session,
        &options,
        &mut progress,
    )?
    else {
        return Ok(None);
    };
    let Some(positive) = eval.metrics.positive.as_ref() else {
        return Ok(None);
    };
    Ok(positive
        .recall_ci95
        .map(|w| crate::commands::init::RecallSeen {
            recall: positive.recall,
            lower: w.lower,
            hits: (positive.recall * positive.support as f64).round() as u64,
            support: positive.support as u64,
        }))
}

/// `modelgate init`.
pub fn init(global: &GlobalArgs, args: &InitArgs) -> Result<()> {
    let request = args.request()?;
    crate::commands::init::check_out(&request.out, request.force)?;
    check_model_file(&request.model)?;
    let data = request
        .dataset
        .as_deref()
        .map(crate::commands::init::inspect_dataset)
        .transpose()?;
    let session = SessionSettings::default();
    let runtime = load_runtime(global, &session)?;
    let (model, _) = runtime.open(&request.model, &session)?;
    let spec = model.spec.clone();
    drop(model);
    let mut plan = crate::commands::init::plan(&request, &spec, data.as_ref())?;
    // A floor needs the recall it floors: evaluate with the settings just guessed, and write
    // the floor under what the unchanged model reaches.
    if data.is_some() {
        match recall_seen(&runtime, &request, &plan.text, &session) {
            Ok(Some(seen)) => {
                plan = crate::commands::init::plan_with(&request, &spec, data.as_ref(), Some(&seen))?;
            }
            Ok(None) => {}
            Err(e) => plan.summary.push(format!(
                "did not evaluate the model with the guessed settings ({}), so no recall floor is set",
                text::clean(&format!("{e:#}"), text::TEXT_MAX_CHARS)
            )),
        }
    }
    crate::commands::init::write_config(&request.out, &plan.text, request.force)?;
    for line in &plan.summary {
        println!(
            "  {}",
            text::log_text(&text::clean(line, text::TEXT_MAX_CHARS))
        );
    }
    // The next steps as command lines to paste: every path and name quoted for the shell.
    let word = |s: &str| text::shell_word(&text::clean(s, text::VALUE_MAX_CHARS));
    let out = word(&request.out.display().to_string());
    let config = if request.out == Path::new("modelgate.toml") {
        String::new()
    } else {
        format!(" --config {out}")
    };
    let name = word(&plan.name);
    let model = word(&request.model.display().to_string());
    let message = word(&format!("modelgate: {}", plan.name));
    let lines = [
        format!("wrote {out}; check the lines marked REVIEW, then:"),
        format!("  modelgate eval {model} --config {out} --model-name {name}   # check the numbers"),
        format!("  modelgate baseline approve --model {name}{config} --yes   # approve the baseline"),
        format!("  git add {model} {out} baselines/ && git commit -m {message}   # the gate times a change against the committed model"),
        format!("  modelgate gate{config}   # what a pull request runs"),
    ];
    for line in lines {
        println!("{}", text::log_text(&line));
    }
    Ok(())
}
