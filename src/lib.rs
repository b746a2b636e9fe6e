//! modelgate: gate pull requests that change ONNX models.
//!
//! The pipeline runs one way over plain data: load -> bench / eval -> stats -> compare ->
//! report -> publish. [`run`] is the whole program; `main.rs` only maps its outcome to an exit
//! code: 0 pass, 1 gate failed, 2 usage or runtime error.

// The layers, from the commands down to the ground floor; each imports only the layers below it.
pub mod commands; // the commands: wire the stages together, print, write files
pub mod cli; //      clap's flags, lowered into settings (the only module that imports clap)
pub mod pipeline; // gate, explore, merge: from a config to results and comparisons
pub mod publish; //  the PR comment and GitHub Actions' annotations and outputs
pub mod report; //   comment, summary, HTML and terminal tables from a comparison
pub mod compare; //  criteria, tests and verdicts against the references; advice
pub mod files; //    modelgate.toml, results and baselines, model identity
pub mod measure; //  timing: A/B session pairs, bench, load test, memory probe
pub mod validate; // a model on its labeled data: predictions, metrics
pub mod data; //     datasets, preprocessing, postprocessing, shards
pub mod engine; //   ONNX Runtime: the library, sessions, models, tensors
pub mod machine; //  the machine: GPU, CPU energy, fingerprint
pub mod base; //     text, limits, events, formats, git, plots' drawing
pub mod stats; //    the statistics: pure functions over slices

use std::ffi::OsString;

use clap::Parser;

use base::text;
use commands::{app, baseline, check, configdoc};
use files::results;
use measure::load;
use pipeline::{explore, merge};

pub use commands::app::Outcome;

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
            None if args.markdown => baseline::history_markdown::run(args),
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
