//! modelgate: gate pull requests that change ONNX models.
//!
//! The pipeline runs one way over plain data: load -> bench / eval -> stats -> compare ->
//! report -> publish. [`run`] is the whole program; `main.rs` only maps its outcome to an exit
//! code: 0 pass, 1 gate failed, 2 usage or runtime error.

// The layers, from the commands down to the ground floor.

// Commands and their arguments:
//   cli         clap's flags, lowered into settings (the only module that imports clap)
//   app         the commands: wire the stages together, print, write files
//   baseline    baseline approve and history (its page too)
//   check       a release's success criteria against an approved baseline
//   init        a first gate config from a model and its data
//   configdoc   docs/config.md from the config's schema and the flags
// The pipelines the commands run:
//   gate        every model of the config: measure, judge
//   explore     variants side by side: measure, pair, rank
//   merge       shards' results into one
//   shard       which samples a shard evaluates
// Reports and publishing:
//   report      comment, summary, HTML from a comparison (templates)
//   terminal    the terminal's tables
//   plot        the plots' shared drawing (plotters)
//   fonts       the font the plots embed
//   actions     GitHub Actions: annotations, outputs
//   github      the sticky PR comment (octocrab)
// Judging:
//   compare     criteria, tests and verdicts against the references
//   advice      what would make a model faster or a verdict settle
//   stats       the statistics: pure functions over slices
// Measuring and evaluating:
//   ab          base and candidate timed side by side, in session pairs
//   bench       one model timed alone: warmup, timed runs, percentiles
//   load        open-loop load test and capacity plan
//   memprobe    peak memory, measured in a child process
//   eval        a model on its labeled data: predictions per sample
//   metrics     accuracy, recall, AUROC and the rest from the predictions
//   gpu         NVML telemetry and GPU facts
//   rapl        CPU energy (RAPL)
//   system      the machine's fingerprint, file digests
// Data in and out of the model:
//   dataset     labeled data: manifests, folders, tables
//   preprocess  images and tables to tensors, as torchvision and Pillow do
//   postprocess outputs to predictions
//   inputs      inputs given as files (bench --input)
//   tensorfile  .npy and raw tensor files
// ONNX Runtime:
//   runtime     sessions, runs, profiles (the only module that imports ort)
//   model       a model's inputs and outputs, shapes
//   ortlib      finding or fetching the ONNX Runtime library
// Files, settings and the ground floor:
//   config      modelgate.toml: types, defaults, checks
//   results     the results file (and baselines): versioned, atomic writes
//   identity    which model a file is (digest, interface)
//   gitref      every git call: base commits, files at a commit
//   events      what stages report while they work (progress, notes)
//   format      numbers, units and intervals as text
//   limits      every size and count limit on untrusted input
//   text        cleaning untrusted text for terminals, logs and markdown

pub mod cli;
pub mod app;
pub mod baseline;
pub mod check;
pub mod init;
pub mod configdoc;

pub mod gate;
pub mod explore;
pub mod merge;
pub mod shard;

pub mod report;
pub mod terminal;
pub mod plot;
pub mod fonts;
pub mod actions;
pub mod github;

pub mod compare;
pub mod advice;
pub mod stats;

pub mod ab;
pub mod bench;
pub mod load;
pub mod memprobe;
pub mod eval;
pub mod metrics;
pub mod gpu;
pub mod rapl;
pub mod system;

pub mod dataset;
pub mod preprocess;
pub mod postprocess;
pub mod inputs;
pub mod tensorfile;

pub mod runtime;
pub mod model;
pub mod ortlib;

pub mod config;
pub mod results;
pub mod identity;
pub mod gitref;
pub mod events;
pub mod format;
pub mod limits;
pub mod text;

use std::ffi::OsString;

use clap::Parser;

pub use app::Outcome;

/// Exit code for usage and runtime errors.
pub const EXIT_ERROR: u8 = 2;

/// Parses the arguments and runs the command. Errors are printed as one line on stderr.
pub async fn run(args: impl IntoIterator<Item = OsString>) -> u8 {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // A usage error quotes the value given, which may be megabytes long.
            let rendered = e.render().to_string();
            for line in rendered.trim_end().lines() {
                eprintln!(
                    "{}",
                    text::log_text(&text::shorten(line, text::ERROR_LINE_MAX_CHARS))
                );
            }
            return EXIT_ERROR;
        }
        Err(e) => {
            let _ = e.print();
            return 0;
        }
    };
    match dispatch(cli).await {
        Ok(Outcome::Pass) => 0,
        Ok(Outcome::Fail) => 1,
        Err(e) => {
            let line = text::shorten(&one_line(&format!("{e:#}")), text::ERROR_LINE_MAX_CHARS);
            eprintln!("error: {}", text::log_text(&line));
            EXIT_ERROR
        }
    }
}

/// Keeps an error on one line even when a cause spans several.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Pass and new exit 0, fail exits 1, and a model that could not be judged exits 2.
fn verdict_outcome(verdict: compare::Verdict) -> anyhow::Result<Outcome> {
    match verdict {
        compare::Verdict::Pass | compare::Verdict::New => Ok(Outcome::Pass),
        compare::Verdict::Fail => Ok(Outcome::Fail),
        compare::Verdict::Error => Err(anyhow::anyhow!(
            "the gate could not judge every model; each one's reason is above"
        )),
    }
}

async fn dispatch(cli: cli::Cli) -> anyhow::Result<Outcome> {
    let global = &cli.global;
    match &cli.command {
        cli::Command::Bench(args) => app::bench(&args.runtime.over(global), args),
        cli::Command::Load(args) => app::load(&args.runtime.over(global), args),
        cli::Command::Eval(args) => {
            app::eval(&args.runtime.over(global), args).map(|_| Outcome::Pass)
        }
        cli::Command::Compare(args) => app::compare(args).and_then(verdict_outcome),
        cli::Command::Gate(args) => {
            app::gate(&args.runtime.over(global), args).and_then(verdict_outcome)
        }
        cli::Command::Merge(args) => merge::run(&args.dirs, &args.out).map(|written| {
            for path in written {
                println!("wrote {}", path.display());
            }
            Outcome::Pass
        }),
        cli::Command::Explore(args) => app::explore(&args.runtime.over(global), args),
        cli::Command::Init(args) => {
            app::init(&args.runtime.over(global), args).map(|_| Outcome::Pass)
        }
        cli::Command::Report(args) => app::report(args).map(|_| Outcome::Pass),
        cli::Command::Comment(args) => app::comment(args).await.map(|_| Outcome::Pass),
        cli::Command::Annotate(args) => app::annotate(args).map(|_| Outcome::Pass),
        cli::Command::Env(args) => app::env(&args.runtime.over(global)).map(|_| Outcome::Pass),
        cli::Command::Baseline(cli::BaselineCommand::Approve(args)) => {
            baseline::approve::run(&args.runtime.over(global), args)
        }
        cli::Command::History(args) => match &args.html {
            Some(out) => baseline::history_page::run(args, out),
            None => baseline::history::run(args),
        }
        .map(|_| Outcome::Pass),
        cli::Command::Check(args) => check::run(args),
        cli::Command::MemoryProbe(args) => {
            app::memory_probe(&args.runtime.over(global), args).map(|_| Outcome::Pass)
        }
        cli::Command::AbPair(args) => {
            app::ab_pair(&args.runtime.over(global), args).map(|_| Outcome::Pass)
        }
        cli::Command::Schema { file, markdown } => {
            let schema = match (file, markdown) {
                (cli::SchemaFile::Config, true) => configdoc::markdown(&cli::flags())?,
                (_, true) => anyhow::bail!("--markdown: only the config has a markdown reference; run modelgate schema config --markdown"),
                (cli::SchemaFile::Results, false) => results::json_schema(),
                (cli::SchemaFile::Comparison, false) => compare::json_schema(),
                (cli::SchemaFile::Config, false) => configdoc::json_schema(),
                (cli::SchemaFile::Explore, false) => explore::json_schema(),
                (cli::SchemaFile::Load, false) => load::json_schema(),
            };
            print!("{schema}");
            Ok(Outcome::Pass)
        }
    }
}
