//! The commands: each one wires the stages together, prints, and writes files.
//!
//! Stages return plain data and never print; this module is where results meet the terminal,
//! the progress bar and the results file. It holds no measuring or judging logic of its own.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::bench;
use crate::cli::{BenchArgs, GlobalArgs};
use crate::ortlib::{self, LibraryRequest};
use crate::results::{self, ModelRecord, ResultsFile, SCHEMA_VERSION};
use crate::runtime::{Runtime, SessionSettings};
use crate::system;
use crate::terminal;

/// Loads ONNX Runtime as the global flags and environment say.
pub fn load_runtime(global: &GlobalArgs, session: &SessionSettings) -> Result<Runtime> {
    let request = LibraryRequest {
        explicit: global.ort_lib.clone(),
        want_gpu: session.provider != crate::runtime::Provider::Cpu,
    };
    let choice = ortlib::locate(&request, &mut |line| eprintln!("{line}"))?;
    Runtime::load(&choice, global.verbose)
}

/// Fails early, with the path, when a model file is missing or unreadable.
pub fn check_model_file(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => bail!(
            "model {} is a folder, not an .onnx file; give the path of the model file",
            path.display()
        ),
        Err(_) => bail!(
            "model file {} does not exist; check the path",
            path.display()
        ),
    }
}

/// Whether to draw progress bars: only for a person at a terminal, never in CI or when piped.
pub fn show_progress() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

/// A progress callback that draws an indicatif bar, or does nothing.
pub fn progress_bar() -> impl FnMut(&str, u64, u64) {
    let bar = show_progress().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} runs")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    });
    move |label: &str, done: u64, target: u64| {
        if let Some(bar) = &bar {
            bar.set_message(label.to_string());
            bar.set_length(target.max(done));
            bar.set_position(done);
            if done >= target {
                bar.finish_and_clear();
            }
        }
    }
}

/// The model record and fingerprint shared by bench and eval results.
pub fn new_results(
    runtime: &Runtime,
    path: &Path,
    name: Option<&str>,
    provider: &str,
    interface: crate::model::ModelSpec,
) -> Result<ResultsFile> {
    let sha256 = system::sha256_file(path)
        .with_context(|| format!("cannot read model file {}", path.display()))?;
    let size_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let name = name
        .map(str::to_string)
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "model".into());
    Ok(ResultsFile {
        schema_version: SCHEMA_VERSION,
        modelgate_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        environment: system::fingerprint(path, &sha256, &runtime.library.version, provider),
        model: ModelRecord {
            name,
            path: path.display().to_string(),
            sha256,
            size_bytes,
            interface,
        },
        onnxruntime: runtime.library.clone(),
        bench: None,
        eval: None,
    })
}

/// `modelgate bench`.
pub fn bench(global: &GlobalArgs, args: &BenchArgs) -> Result<()> {
    let (settings, shapes) = args.settings()?;
    check_model_file(&args.model)?;
    let runtime = load_runtime(global, &settings.session)?;
    let mut progress = progress_bar();
    let (bench, spec) = bench::run(&runtime, &args.model, &settings, &shapes, &mut progress)?;
    let mut results = new_results(&runtime, &args.model, None, &bench.provider, spec)?;
    results.bench = Some(bench);
    if let Some(bench) = &results.bench {
        print!("{}", terminal::bench_table(&results, bench));
    }
    if let Some(path) = &args.json {
        results::write_json_atomic(path, &results)?;
        println!("  results written to {}", path.display());
    }
    Ok(())
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
