//! The commands that measure one model: bench, load, env, eval, and the child processes the
//! gate starts (the memory probe and an A/B session pair).

use super::*;

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
            let advice = crate::compare::advice::advice(
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
    use crate::measure::load;
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
    let (inputs, rates, notes) = load::run(
        &runtime,
        &args.model,
        &settings,
        &shapes,
        &mut progress_bar(),
    )?;
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
    let advice = crate::compare::advice::advice(
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

/// `modelgate memory-probe`, run by the gate in a child process.
pub fn memory_probe(global: &GlobalArgs, args: &crate::cli::ChildArgs) -> Result<()> {
    let spec: crate::measure::memprobe::ProbeSpec =
        serde_json::from_str(&args.spec).context("memory-probe: --spec is not a probe")?;
    let runtime = load_runtime(global, &spec.session)?;
    let result = crate::measure::memprobe::run_probe(&runtime, &spec)?;
    println!("{}", serde_json::to_string(&result)?);
    Ok(())
}

/// `modelgate ab-pair`, run by the gate in a child process for each A/B session pair.
pub fn ab_pair(global: &GlobalArgs, args: &crate::cli::ChildArgs) -> Result<()> {
    let spec: crate::measure::ab::PairSpec =
        serde_json::from_str(&args.spec).context("ab-pair: --spec is not a session pair")?;
    let runtime = load_runtime(global, &spec.settings.session)?;
    let runs = crate::measure::ab::time_pair(&runtime, &spec)?;
    println!("{}", serde_json::to_string(&runs)?);
    Ok(())
}
