//! The commands: each one wires the stages together, prints, and writes files.
//!
//! Stages return plain data and never print; this module is where results meet the terminal,
//! the progress bar and the results file. It holds no measuring or judging logic of its own.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{bail, Context, Result};
use std::path::PathBuf;

use crate::bench;
use crate::cli::{
    AnnotateArgs, BenchArgs, CommentArgs, CompareArgs, EvalArgs, GateArgs, GlobalArgs, InitArgs,
    ReportArgs, ReportFormat,
};
use crate::compare::{self, Comparison, Verdict};
use crate::config::{GateConfig, ModelConfig};
use crate::eval;
use crate::events::Event;
use crate::gate::{self, GateOptions, Measured};
use crate::model::check_model_file;
use crate::ortlib::{self, LibraryRequest};
use crate::results;
use crate::runtime::{Runtime, SessionSettings};
use crate::system;
use crate::terminal;
use crate::text;
use crate::Outcome;

/// Loads ONNX Runtime as the global flags and environment say.
pub fn load_runtime(global: &GlobalArgs, session: &SessionSettings) -> Result<Runtime> {
    let request = LibraryRequest {
        explicit: global.ort_lib.clone(),
        want_gpu: session.provider != crate::runtime::Provider::Cpu,
    };
    let choice = ortlib::locate(&request, &mut |line| eprintln!("{}", text::log_text(line)))?;
    Runtime::load(&choice, global.verbose)
}

/// Whether to draw progress bars: only for a person at a terminal, never in CI or when piped.
pub fn show_progress() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

/// Progress for a log (CI, a pipe): one plain line per tenth of each phase, which GitHub's log
/// shows live, instead of a bar that would be a wall of control codes.
#[derive(Default)]
pub struct LogProgress {
    label: String,
    done: u64,
    tenths: u64,
}

impl LogProgress {
    /// Notes `done` of `target` `unit` of phase `label`, printing a line when a tenth is crossed.
    pub fn update(&mut self, label: &str, done: u64, target: u64, unit: &str) {
        // A new phase, or the same phase started again (the next model's "batch 1").
        if label != self.label || done < self.done {
            self.label = label.to_string();
            self.tenths = 0;
        }
        let tenths = (done.saturating_mul(10) / target.max(1)).min(10);
        // A phase whose end is known only when it comes (the A/B) may reach 100 % more than
        // once: each time with more runs, the line is printed again, so the last one counts
        // every run.
        let more_at_end = tenths == 10 && done > self.done;
        self.done = done;
        if tenths > self.tenths || more_at_end {
            self.tenths = tenths;
            eprintln!(
                "{}",
                text::log_text(&format!(
                    "{label}: {}% ({done}/{target} {unit})",
                    tenths * 10
                ))
            );
        }
    }
}

/// The callback for a stage's events: progress as an indicatif bar at a terminal, or a logged
/// line per tenth; each note as a line of its own (above the bar), cleaned for the log.
pub fn progress_bar() -> impl FnMut(Event<'_>) {
    let bar = show_progress().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {prefix}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    });
    let mut log = LogProgress::default();
    move |event: Event<'_>| match (event, &bar) {
        (
            Event::Progress {
                label,
                done,
                target,
            },
            Some(bar),
        ) => {
            bar.set_message(label.to_string());
            bar.set_prefix(progress_unit(label));
            bar.set_length(target.max(done));
            bar.set_position(done);
            if done >= target {
                bar.finish_and_clear();
            }
        }
        (
            Event::Progress {
                label,
                done,
                target,
            },
            None,
        ) => log.update(label, done, target, progress_unit(label)),
        (Event::Note(line), bar) => {
            let line = text::log_text(&text::clean(line, text::TEXT_MAX_CHARS));
            match bar {
                Some(bar) => bar.suspend(|| eprintln!("{line}")),
                None => eprintln!("{line}"),
            }
        }
    }
}

/// What a phase counts: the evaluation counts samples, timing phases count runs.
fn progress_unit(label: &str) -> &'static str {
    if label == "eval" {
        "samples"
    } else {
        "runs"
    }
}

/// `modelgate bench`.
pub fn bench(global: &GlobalArgs, args: &BenchArgs) -> Result<Outcome> {
    let (settings, shapes) = args.settings()?;
    if args.profile && args.profile_runs == 0 {
        bail!("--profile-runs 0: at least one profiled run is needed; use --profile-runs 100");
    }
    results::check_outputs(&[("--json", args.json.as_deref())], None)?;
    let output_check = args.output_check()?;
    check_model_file(&args.model)?;
    let runtime = load_runtime(global, &settings.session)?;
    if let Some(tolerance) = output_check {
        let checks = bench::check_outputs(&runtime, &args.model, &settings, &shapes, tolerance)?;
        for check in &checks {
            println!("  {}", text::log_text(&check.line));
        }
        // A model that gives wrong answers is not worth timing.
        if checks.iter().any(|c| !c.passed) {
            return Ok(Outcome::Fail);
        }
    }
    let mut progress = progress_bar();
    let (mut bench, spec) = bench::run(&runtime, &args.model, &settings, &shapes, &mut progress)?;
    if args.profile {
        bench.profile = Some(bench::profile(
            &runtime,
            &args.model,
            &bench,
            &shapes,
            args.profile_runs,
        )?);
    }
    let mut results =
        results::new_results(&runtime.library, &args.model, None, &bench.provider, spec)?;
    results.bench = Some(bench);
    if let Some(bench) = &results.bench {
        print!(
            "{}",
            text::log_text(&terminal::bench_table(&results, bench))
        );
        if let Some(profile) = &bench.profile {
            print!("{}", text::log_text(&terminal::profile_table(profile)));
            let advice = crate::advice::advice(
                None,
                Some(profile),
                settings.session.provider,
                settings.session.opt_level,
            );
            print!("{}", text::log_text(&terminal::advice_lines(&advice)));
        }
    }
    if let Some(path) = &args.json {
        results::write_json_atomic(path, &results)?;
        println!("  results written to {}", path.display());
    }
    Ok(Outcome::Pass)
}

/// `modelgate load`.
pub fn load(global: &GlobalArgs, args: &crate::cli::LoadArgs) -> Result<Outcome> {
    use crate::load;
    let (settings, shapes) = args.settings()?;
    if let Some(path) = &args.plot {
        let kind = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if !matches!(kind.as_deref(), Some("svg" | "png")) {
            bail!(
                "--plot {}: give a path ending in .svg or .png",
                text::clean(&path.display().to_string(), text::VALUE_MAX_CHARS)
            );
        }
    }
    results::check_outputs(
        &[
            ("--json", args.json.as_deref()),
            ("--plot", args.plot.as_deref()),
        ],
        None,
    )?;
    check_model_file(&args.model)?;
    let runtime = load_runtime(global, &settings.session)?;
    let (inputs, rates, notes) =
        load::run(&runtime, &args.model, &settings, &shapes, &mut |line| {
            eprintln!("{}", text::log_text(line))
        })?;
    let slo = settings.slo_p99_ms.map(|ms| load::slo_result(&rates, ms));
    let capacity = settings
        .peak_qps
        .and_then(|peak| load::capacity_plan(&rates, peak, settings.safety, settings.slo_p99_ms));
    let file = load::LoadFile {
        schema_version: load::LOAD_SCHEMA_VERSION,
        model: load::LoadModel {
            path: args.model.display().to_string(),
            sha256: system::sha256_file(&args.model)
                .with_context(|| format!("cannot read model file {}", args.model.display()))?,
        },
        onnxruntime_version: runtime.library.version.clone(),
        provider: settings.session.provider.name().to_string(),
        queue_model: load::queue_model(settings.concurrency),
        settings,
        inputs,
        rates,
        slo,
        capacity,
        notes,
    };
    print!("{}", text::log_text(&load::table(&file)));
    if let Some(path) = &args.json {
        results::write_json_atomic(path, &file)?;
        println!("  load file written to {}", path.display());
    }
    if let Some(path) = &args.plot {
        let drawn = if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("png"))
        {
            load::plot::curve_png(&file)
        } else {
            load::plot::curve_svg(&file).map(String::into_bytes)
        };
        let bytes = drawn
            .context("--plot: the load curve could not be drawn; this is a bug in modelgate")?;
        results::write_atomic(path, &bytes)?;
        println!("  load curve drawn to {}", path.display());
    }
    Ok(Outcome::Pass)
}

/// `modelgate env`.
pub fn env(global: &GlobalArgs) -> Result<()> {
    let runtime = load_runtime(global, &SessionSettings::default())?;
    let lib = &runtime.library;
    let fp = system::fingerprint(Path::new("."), "", &lib.version, "cpu");
    println!(
        "onnxruntime {} from {} ({:?})",
        lib.version, lib.path, lib.source
    );
    println!(
        "cpu {} x {}, memory {}",
        fp.cpu_cores,
        fp.cpu_model,
        terminal::fmt_mib(fp.memory_total_bytes)
    );
    println!("os {} (kernel {}, {})", fp.os, fp.kernel, fp.arch);
    match &fp.gpu {
        Some(gpu) => println!("gpu {} (driver {})", gpu.name, gpu.driver),
        None => println!("gpu none (NVML not found)"),
    }
    Ok(())
}

/// `modelgate eval`.
pub fn eval(global: &GlobalArgs, args: &EvalArgs) -> Result<()> {
    let (settings, session) = args.settings()?;
    results::check_outputs(&[("--json", args.json.as_deref())], None)?;
    check_model_file(&args.model)?;
    let runtime = load_runtime(global, &session)?;
    let (mut model, _) = runtime.open(&args.model, &session)?;
    let spec = model.spec.clone();
    let mut progress = progress_bar();
    let result = eval::run(&mut model, &settings, &mut progress).map_err(|e| args.reword(e))?;
    let sha = system::sha256_file(&args.model)
        .with_context(|| format!("cannot read {}", args.model.display()))?;
    let existing = args
        .json
        .as_deref()
        .and_then(|path| results::existing_for(path, &sha));
    let mut results = match existing {
        Some(results) => results,
        None => results::new_results(
            &runtime.library,
            &args.model,
            None,
            session.provider.name(),
            spec,
        )?,
    };
    print!(
        "{}",
        text::log_text(&terminal::eval_table(&results.model.path, &result))
    );
    let advice = crate::advice::advice(
        Some(&result.stages),
        results.bench.as_ref().and_then(|b| b.profile.as_ref()),
        session.provider,
        session.opt_level,
    );
    print!("{}", text::log_text(&terminal::advice_lines(&advice)));
    results.eval = Some(result);
    if let Some(path) = &args.json {
        results::write_json_atomic(path, &results)?;
        println!("  results written to {}", path.display());
    }
    Ok(())
}

/// `modelgate compare`.
pub fn compare(args: &CompareArgs) -> Result<Verdict> {
    let config = match &args.config {
        Some(path) => Some(GateConfig::load(path)?),
        None => None,
    };
    results::check_outputs(&[("--json", args.json.as_deref())], None)?;
    let candidate = results::load_whole(&args.candidate)?;
    let baseline = results::load_whole(&args.baseline)?;
    crate::identity::check_same_model(
        &baseline.model,
        &args.baseline,
        &candidate.model,
        crate::identity::Names::Free,
    )?;
    let model = config
        .as_ref()
        .and_then(|c| {
            c.models
                .iter()
                .find(|m| m.name == candidate.model.name)
                .cloned()
        })
        .unwrap_or_else(|| ModelConfig::named(&candidate.model.name, &candidate.model.path));
    let criteria = match &config {
        Some(c) => c.criteria_for(&model),
        None => Default::default(),
    };
    let measured = Measured {
        candidate,
        base: None,
    };
    // Both files are the user's explicit choice: the baseline is the reference for everything.
    let judged = gate::judge(
        &model,
        &criteria,
        &measured,
        None,
        Some(&baseline),
        &args.baseline,
    );
    let comparison = compare::finalize(
        vec![judged],
        criteria.significance,
        compare::MissingBaseline::Fails,
        results::now_rfc3339(),
    );
    finish_comparison(&comparison, args.json.as_deref(), None, None)
}

/// `modelgate memory-probe`, run by the gate in a child process.
pub fn memory_probe(global: &GlobalArgs, args: &crate::cli::ChildArgs) -> Result<()> {
    let spec: crate::memprobe::ProbeSpec =
        serde_json::from_str(&args.spec).context("memory-probe: --spec is not a probe")?;
    let runtime = load_runtime(global, &spec.session)?;
    let result = crate::memprobe::run_probe(&runtime, &spec)?;
    println!("{}", serde_json::to_string(&result)?);
    Ok(())
}

/// `modelgate ab-pair`, run by the gate in a child process for each A/B session pair.
pub fn ab_pair(global: &GlobalArgs, args: &crate::cli::ChildArgs) -> Result<()> {
    let spec: crate::ab::PairSpec =
        serde_json::from_str(&args.spec).context("ab-pair: --spec is not a session pair")?;
    let runtime = load_runtime(global, &spec.settings.session)?;
    let runs = crate::ab::time_pair(&runtime, &spec)?;
    println!("{}", serde_json::to_string(&runs)?);
    Ok(())
}

/// `modelgate gate`.
pub fn gate(global: &GlobalArgs, args: &GateArgs) -> Result<Verdict> {
    let config = gate::select_models(GateConfig::load(&args.config)?, &args.models)?;
    results::check_outputs(
        &[
            ("--json", args.json.as_deref()),
            ("--report", args.report.as_deref()),
        ],
        args.results_dir.as_deref(),
    )?;
    let root = config_root(&args.config);
    let options = GateOptions {
        root,
        missing_baseline: if args.allow_new {
            compare::MissingBaseline::IsNew
        } else {
            compare::MissingBaseline::Fails
        },
        from_results: args.from_results.clone(),
        results_dir: args.results_dir.clone(),
        provider: args.ep.map(|e| e.provider()),
        base_ref: args.base_ref.clone(),
        candidate_ref: args.candidate_ref.clone(),
        shard: args.shard,
    };
    // A commit that is not there is the caller's mistake, not each model's: say it once.
    if let Some(reference) = &options.candidate_ref {
        gate::resolve_candidate_ref(&options.root, reference)?;
    }
    let runtime = if options.from_results.is_some() {
        None
    } else {
        let provider = options
            .provider
            .unwrap_or_else(|| config.models[0].bench.ep);
        let session = crate::runtime::SessionSettings {
            provider,
            ..Default::default()
        };
        Some(load_runtime(global, &session)?)
    };
    let mut progress = progress_bar();
    if let (Some(shard), Some(runtime)) = (options.shard, &runtime) {
        for path in gate::run_shard(&config, runtime, &options, &mut progress)? {
            println!("shard {shard}: wrote {}", path.display());
        }
        println!("merge every shard's folder with `modelgate merge`, then judge with `modelgate gate --from-results`");
        return Ok(Verdict::Pass);
    }
    let comparison = gate::run(&config, runtime.as_ref(), &options, &mut progress);
    finish_comparison(
        &comparison,
        args.json.as_deref(),
        args.report.as_deref(),
        args.template.as_deref(),
    )
}

/// `modelgate explore`: exit 1 when no variant meets the constraints.
pub fn explore(global: &GlobalArgs, args: &crate::cli::ExploreArgs) -> Result<crate::Outcome> {
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
                            model.dataset = Some(crate::config::DatasetConfig {
                                path: path.clone(),
                                options: Default::default(),
                                batch: crate::config::default_eval_batch(),
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
    let mut plan = crate::explore::plan(&config, &name, &args.files, &root)?;
    if let Some(peak) = args.peak_qps {
        crate::config::checks::check_peak(Some(peak), args.safety)?;
        plan.peak = Some((peak, args.safety));
    }
    crate::results::check_output_folder("--out", &args.out)?;
    let runtime = match started {
        Some(runtime) => runtime,
        None => load_runtime(global, &plan.model.bench.settings().session)?,
    };
    let mut progress = progress_bar();
    let summary = crate::explore::run(&plan, &runtime, &args.out, &mut progress)?;
    print!("{}", text::log_text(&crate::explore::terminal(&summary)));
    println!(
        "wrote {} (dashboard.csv, summary.json, tradeoff.svg, tradeoff.png, report.md)",
        args.out.display()
    );
    if summary.variants.iter().any(|v| v.meets_constraints) {
        Ok(crate::Outcome::Pass)
    } else {
        eprintln!("error: no variant meets the constraints ([explore.constraints]); each one's misses are above");
        Ok(crate::Outcome::Fail)
    }
}

/// The config `modelgate init` would write for `model` and `dataset`, read back, the model's
/// name in it, and the runtime started to read the model: explore's settings when no config
/// model is named. Said on stderr, since nobody has reviewed its guesses (preprocessing,
/// activation, positive class).
fn guessed_config(
    global: &GlobalArgs,
    model: &Path,
    dataset: Option<&Path>,
) -> Result<(GateConfig, String, Runtime)> {
    check_model_file(model)?;
    let data = dataset.map(crate::init::inspect_dataset).transpose()?;
    let session = SessionSettings::default();
    let runtime = load_runtime(global, &session)?;
    let (opened, _) = runtime.open(model, &session)?;
    let spec = opened.spec.clone();
    drop(opened);
    let request = crate::init::InitRequest {
        model: model.to_path_buf(),
        dataset: dataset.map(Path::to_path_buf),
        name: None,
        out: PathBuf::from("modelgate.toml"),
        force: true,
        image_size: None,
    };
    let plan = crate::init::plan(&request, &spec, data.as_ref())?;
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
fn recall_seen(
    runtime: &Runtime,
    request: &crate::init::InitRequest,
    text: &str,
    session: &SessionSettings,
) -> Result<Option<crate::init::RecallSeen>> {
    let config = GateConfig::parse(text)?;
    let Some(model) = config.models.first() else {
        return Ok(None);
    };
    let options = crate::gate::GateOptions {
        root: config_root(&request.out),
        ..Default::default()
    };
    let mut progress = progress_bar();
    let Some(eval) = crate::gate::evaluate(
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
    Ok(positive.recall_ci95.map(|w| crate::init::RecallSeen {
        recall: positive.recall,
        lower: w.lower,
        hits: (positive.recall * positive.support as f64).round() as u64,
        support: positive.support as u64,
    }))
}

/// The folder a config's relative paths start from: the config's own.
fn config_root(config: &Path) -> PathBuf {
    config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `modelgate init`.
pub fn init(global: &GlobalArgs, args: &InitArgs) -> Result<()> {
    let request = args.request()?;
    crate::init::check_out(&request.out, request.force)?;
    check_model_file(&request.model)?;
    let data = request
        .dataset
        .as_deref()
        .map(crate::init::inspect_dataset)
        .transpose()?;
    let session = SessionSettings::default();
    let runtime = load_runtime(global, &session)?;
    let (model, _) = runtime.open(&request.model, &session)?;
    let spec = model.spec.clone();
    drop(model);
    let mut plan = crate::init::plan(&request, &spec, data.as_ref())?;
    // A floor needs the recall it floors: evaluate with the settings just guessed, and write
    // the floor under what the unchanged model reaches.
    if data.is_some() {
        match recall_seen(&runtime, &request, &plan.text, &session) {
            Ok(Some(seen)) => {
                plan = crate::init::plan_with(&request, &spec, data.as_ref(), Some(&seen))?;
            }
            Ok(None) => {}
            Err(e) => plan.summary.push(format!(
                "did not evaluate the model with the guessed settings ({}), so no recall floor is set",
                text::clean(&format!("{e:#}"), text::TEXT_MAX_CHARS)
            )),
        }
    }
    crate::init::write_config(&request.out, &plan.text, request.force)?;
    for line in &plan.summary {
        println!(
            "  {}",
            text::log_text(&text::clean(line, text::TEXT_MAX_CHARS))
        );
    }
    let out = request.out.display().to_string();
    let config = if request.out == Path::new("modelgate.toml") {
        String::new()
    } else {
        format!(" --config {out}")
    };
    let name = &plan.name;
    let model = request.model.display();
    println!("wrote {out}; check the lines marked REVIEW, then:");
    println!("  modelgate eval {model} --config {out} --model-name {name}   # check the numbers");
    println!("  modelgate baseline approve --model {name}{config} --yes   # approve the baseline");
    println!("  git add {model} {out} baselines/ && git commit -m \"modelgate: {name}\"   # the gate times a change against the committed model");
    println!("  modelgate gate{config}   # what a pull request runs");
    Ok(())
}

/// `modelgate report`.
pub fn report(args: &ReportArgs) -> Result<()> {
    let comparison = load_comparison(&args.comparison)?;
    if let Some(expected) = args.expect_verdict {
        use crate::cli::ExpectedVerdict as E;
        let agrees = matches!(
            (expected, comparison.verdict),
            (E::Pass, Verdict::Pass | Verdict::New)
                | (E::Fail, Verdict::Fail)
                | (E::Error, Verdict::Error)
        );
        if !agrees {
            bail!(
                "comparison {} says {} but the verdict expected is {}; the two files do not come from one gate run, so neither is shown",
                crate::text::clean(&args.comparison.display().to_string(), 200),
                comparison.verdict.label(),
                format!("{expected:?}").to_lowercase()
            );
        }
    }
    let kind = match args.format {
        ReportFormat::Markdown => crate::report::Kind::Comment,
        ReportFormat::Summary => crate::report::Kind::Summary,
        ReportFormat::Html => crate::report::Kind::Html,
    };
    let text = crate::report::render(&comparison, kind, args.template.as_deref())?;
    match &args.out {
        Some(path) => results::write_atomic(path, text.as_bytes()),
        None => {
            print!("{}", crate::text::log_text(&text));
            Ok(())
        }
    }
}

/// Reads a comparison file, checking its schema version.
fn load_comparison(path: &Path) -> Result<Comparison> {
    let text = results::read_capped(path, results::RESULTS_MAX_BYTES, "comparison")?;
    let value: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "comparison {} is not JSON; write it with gate --json",
            path.display()
        )
    })?;
    let version = value.get("schema_version").and_then(|v| v.as_u64());
    if version != Some(u64::from(compare::COMPARISON_SCHEMA_VERSION)) {
        bail!(
            "comparison {} has schema_version {:?}, but this modelgate reads version {}; write it with this modelgate",
            path.display(),
            version,
            compare::COMPARISON_SCHEMA_VERSION
        );
    }
    serde_json::from_value(value)
        .with_context(|| format!("comparison {} does not match its schema", path.display()))
}

/// Prints the verdict table and writes the comparison JSON and report.
fn finish_comparison(
    comparison: &Comparison,
    json: Option<&Path>,
    report: Option<&Path>,
    template: Option<&Path>,
) -> Result<Verdict> {
    print!(
        "{}",
        text::log_text(&terminal::comparison_table(comparison))
    );
    // A log reader looks at stderr first: each model that could not be judged says why there,
    // before the summary line the caller prints.
    for model in &comparison.models {
        if let Some(error) = &model.error {
            eprintln!(
                "{}",
                text::log_text(&format!(
                    "error: model `{}`: {}",
                    text::clean(&model.name, text::VALUE_MAX_CHARS),
                    text::clean(error, text::TEXT_MAX_CHARS)
                ))
            );
        }
    }
    if let Some(path) = json {
        results::write_json_atomic(path, comparison)?;
        println!("comparison written to {}", path.display());
    }
    if let Some(path) = report {
        let text = crate::report::render(comparison, crate::report::Kind::Comment, template)?;
        results::write_atomic(path, text.as_bytes())?;
        println!("report written to {}", path.display());
    }
    Ok(comparison.verdict)
}

/// `modelgate comment`.
pub async fn comment(args: &CommentArgs) -> Result<()> {
    let repo = crate::github::parse_repo(&args.repo)?;
    let pr = match args.pr {
        Some(pr) => pr,
        None => pr_from_event()?,
    };
    let body = results::read_capped(&args.body_file, 16 * 1024 * 1024, "--body-file")?;
    let token = std::env::var("GITHUB_TOKEN").unwrap_or_default();
    let api = std::env::var("GITHUB_API_URL")
        .ok()
        .filter(|s| !s.is_empty());
    let api = api.as_deref().unwrap_or(crate::github::DEFAULT_API_ROOT);
    let mut client = crate::github::GithubClient::new(api, &token)?;
    if let Some(author) = &args.author {
        client = client.with_comment_author(author);
    }
    if let (Ok(server), Ok(repository), Ok(run)) = (
        std::env::var("GITHUB_SERVER_URL"),
        std::env::var("GITHUB_REPOSITORY"),
        std::env::var("GITHUB_RUN_ID"),
    ) {
        client = client.with_full_report_url(&format!("{server}/{repository}/actions/runs/{run}"));
    }
    let outcome = client
        .upsert_sticky_comment(&repo, pr, &body, crate::report::COMMENT_MARKER)
        .await?;
    let action = match outcome.action {
        crate::github::CommentAction::Created => "created",
        crate::github::CommentAction::Updated => "updated",
    };
    println!("comment {action}: {}", outcome.url);
    if std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true") {
        publish_to_actions(args, &outcome.url)?;
    }
    Ok(())
}

/// The pull request number from the Actions event payload (`pull_request.number`, or `number`).
fn pr_from_event() -> Result<u64> {
    let Some(path) = std::env::var_os("GITHUB_EVENT_PATH") else {
        bail!("--pr is missing and GITHUB_EVENT_PATH is not set; pass --pr N");
    };
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read GITHUB_EVENT_PATH {}",
            Path::new(&path).display()
        )
    })?;
    let event: serde_json::Value =
        serde_json::from_str(&text).context("GITHUB_EVENT_PATH is not JSON")?;
    event
        .pointer("/pull_request/number")
        .or_else(|| event.get("number"))
        .and_then(|n| n.as_u64())
        .context("the event has no pull request number (not a pull_request event?); pass --pr N")
}

/// The step outputs of a posted comment: the report, the comment's URL, and with
/// `--comparison` its verdict (without one, a verdict the step set itself stands).
fn publish_to_actions(args: &CommentArgs, url: &str) -> Result<()> {
    let verdict = match &args.comparison {
        Some(path) => Some(load_comparison(path)?.verdict.label()),
        None => None,
    };
    if let Some(path) = std::env::var_os("GITHUB_OUTPUT") {
        let report = args.body_file.display().to_string();
        let mut outputs = vec![("report-path", report.as_str()), ("comment-url", url)];
        if let Some(verdict) = verdict {
            outputs.insert(0, ("verdict", verdict));
        }
        crate::actions::write_outputs(Path::new(&path), &outputs)
            .context("cannot write GITHUB_OUTPUT")?;
    }
    Ok(())
}

/// `modelgate annotate`: the job summary (when `GITHUB_STEP_SUMMARY` is set) and one error
/// annotation per failed criterion or model error, whether or not a comment is posted.
pub fn annotate(args: &AnnotateArgs) -> Result<()> {
    let comparison = load_comparison(&args.comparison)?;
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let summary = crate::report::render(&comparison, crate::report::Kind::Summary, None)?;
        crate::actions::append_step_summary(Path::new(&path), &summary)
            .context("cannot write GITHUB_STEP_SUMMARY")?;
    }
    for model in &comparison.models {
        for criterion in model
            .criteria
            .iter()
            .filter(|c| c.status == compare::Status::Fail)
        {
            let title = format!("modelgate: {} {}", model.name, criterion.name);
            println!(
                "{}",
                crate::actions::error_annotation(
                    &title,
                    &criterion.detail,
                    Some(&model.candidate_path)
                )
            );
        }
        if let Some(error) = &model.error {
            println!(
                "{}",
                crate::actions::error_annotation(
                    &format!("modelgate: {}", model.name),
                    error,
                    None
                )
            );
        }
        // A failure no criterion explains: no approved baseline.
        let explained = model.error.is_some()
            || model
                .criteria
                .iter()
                .any(|c| c.status == compare::Status::Fail);
        if model.verdict == Verdict::Fail && !explained {
            for reason in &model.reasons {
                println!(
                    "{}",
                    crate::actions::error_annotation(
                        &format!("modelgate: {}", model.name),
                        reason,
                        Some(&model.candidate_path)
                    )
                );
            }
        }
    }
    Ok(())
}
