//! `modelgate baseline approve`: a person accepts a model's numbers as the ones to hold it to.
//!
//! The order matters and is the safety of the command: everything is read and checked first
//! (the config, the current baseline, the history, the results, the hardware, the approver),
//! then the change is shown and confirmed, then the baseline is written atomically (a reader
//! sees the old file or the new one, never half of one), and only then is the history line
//! appended. A failure before the write leaves both files as they were; a failed append after
//! it is reported with the line to add by hand, since a history line for a baseline that was
//! never written would be worse than a missing one.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use super::history::{self, HistoryEntry};
use super::{
    change_table, check_results_for_model, display_path, key_numbers, read_current, Current,
};
use crate::cli::{ApproveArgs, GlobalArgs};
use crate::commands::app;
use crate::engine::runtime::SessionSettings;
use crate::files::config::{GateConfig, ModelConfig};
use crate::files::results::{self, Provenance, ResultsFile};
use crate::machine::system;
use crate::pipeline::gate::{self, GateOptions};

/// Shown when nobody can answer the question.
const NOT_INTERACTIVE: &str = "stdin is not a terminal, so nobody can confirm the new baseline; pass --yes to approve non-interactively";

/// Runs the command.
pub fn run(global: &GlobalArgs, args: &ApproveArgs) -> Result<crate::commands::app::Outcome> {
    let config = GateConfig::load(&args.config)?;
    let root = super::config_root(&args.config);
    let model = super::find_model(&config, &args.model, &args.config)?;
    // With --candidate-ref the model file is read from git into a temporary file, and measured
    // there; the baseline still names the configured path.
    let at_ref = match &args.candidate_ref {
        Some(reference) => Some(gate::candidate_at_ref(model, &root, reference)?),
        None => None,
    };
    let measured_model = at_ref.as_ref().map_or(model, |c| &c.model);
    let candidate = root.join(&measured_model.candidate);
    crate::engine::model::check_model_file(&candidate)?;
    let sha = system::sha256_file(&candidate)
        .with_context(|| format!("cannot read model file {}", candidate.display()))?;
    if let Some(expected) = &args.expect_sha256 {
        let expected = expected.trim().to_ascii_lowercase();
        if expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!(
                "--expect-sha256 is not a SHA-256 (64 hex digits); copy it from the gate's report"
            );
        }
        if expected != sha {
            bail!(
                "model `{}`: the candidate's SHA-256 is {sha}, not the expected {expected}; the pull request changed after review, so review it again",
                model.name
            );
        }
    }
    let baseline_path = model.baseline_path(&root);
    let shown = display_path(&baseline_path);
    let current = match read_current(&baseline_path)? {
        Current::Missing => None,
        Current::Valid(results) => Some(*results),
        Current::Malformed(why) if args.force => {
            eprintln!("warning: replacing the malformed baseline {shown} ({why})");
            None
        }
        Current::Malformed(why) => bail!("the current baseline {shown} is malformed ({why}); fix it, or pass --force to replace it"),
    };
    let history_path = super::history_path(&baseline_path);
    let version = history::next_version(&history::read_if_exists(&history_path)?);
    let approved_by = approver(args.approver.as_deref(), &root)?;
    let interactive = std::io::stdin().is_terminal();

    let (mut baseline, source) = match &args.from_results {
        Some(file) => {
            let results = results::load_whole(file)?;
            check_results_for_model(&results, file, model, &sha)?;
            (results, file.display().to_string())
        }
        None => {
            // Refuse before measuring, which can take minutes, rather than after.
            if !args.yes && !interactive {
                bail!("{NOT_INTERACTIVE}");
            }
            (
                measure(global, args, measured_model, &root)?,
                "measured".to_string(),
            )
        }
    };
    if let Some(why) = hardware_difference(&baseline, current.as_ref(), args.from_results.is_none())
    {
        if !args.force {
            bail!(
                "{source} was measured on other hardware than {why}, so the gate could not compare latencies with it; \
                 measure on the gate's runner, or pass --force to approve it anyway"
            );
        }
        eprintln!("warning: approving results from other hardware than {why}");
    }

    // The baseline describes the configured model, wherever the results were measured.
    baseline.model.name = model.name.clone();
    baseline.model.path = model.candidate.display().to_string();
    let provenance = Provenance {
        approved_by,
        approved_at: results::now_rfc3339(),
        commit: crate::base::gitref::head_commit(&root),
        source,
        note: args.note.clone(),
    };
    baseline.provenance = Some(provenance.clone());

    println!("{}: {shown} (version {version})", model.name);
    print!(
        "{}",
        crate::base::text::log_text(&change_table(
            current.as_ref().map(key_numbers).as_ref(),
            &key_numbers(&baseline)
        ))
    );
    let commit = provenance
        .commit
        .as_deref()
        .map(|c| format!(" at commit {}", c.get(..12).unwrap_or(c)))
        .unwrap_or_default();
    println!(
        "  approved by {}{commit}, from {}",
        crate::base::text::clean(&provenance.approved_by, crate::base::text::VALUE_MAX_CHARS),
        crate::base::text::clean(&provenance.source, crate::base::text::VALUE_MAX_CHARS)
    );
    // A baseline its own config's floors and limits reject would make the first gate on the
    // unchanged model fail: refuse it (exit 1), naming each, unless --force.
    let failing = self_check(&baseline, &config.criteria_for(model));
    if !failing.is_empty() {
        for line in &failing {
            eprintln!("  {}", crate::base::text::log_text(line));
        }
        if !args.force {
            eprintln!(
                "not written: this baseline fails {} of its own config's floors or limits, so the gate \
                 would fail the unchanged model; lower them in the config, improve the model, or pass --force",
                failing.len()
            );
            return Ok(crate::commands::app::Outcome::Fail);
        }
        eprintln!("warning: approving a baseline that fails its own config (--force)");
    }
    if !args.yes {
        if !interactive {
            bail!("{NOT_INTERACTIVE}");
        }
        if !confirm(&format!("write {shown}? [y/N] "))? {
            println!("not written: {shown} is unchanged");
            return Ok(crate::commands::app::Outcome::Pass);
        }
    }

    if let Some(folder) = baseline_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).with_context(|| {
            format!(
                "cannot create folder {}; check that it is not a file and that you may write there",
                display_path(folder)
            )
        })?;
    }
    results::write_json_atomic(&baseline_path, &baseline)?;
    let entry = HistoryEntry::new(version, &baseline, &provenance);
    history::append(&history_path, &entry).map_err(|e| {
        let line = serde_json::to_string(&entry).unwrap_or_default();
        anyhow!(
            "{shown} was written, but appending to {} failed ({e:#}); fix that and add this line to it by hand: {line}",
            display_path(&history_path)
        )
    })?;
    println!(
        "{shown} written (version {version}); history appended to {}",
        display_path(&history_path)
    );
    Ok(crate::commands::app::Outcome::Pass)
}

/// The floors and absolute limits of `criteria` that `baseline`, judged alone as the gate judges
/// a candidate, fails: one line each, name and detail.
pub fn self_check(
    baseline: &ResultsFile,
    criteria: &crate::files::config::Criteria,
) -> Vec<String> {
    use crate::compare::{self, Status};
    compare::own_criteria(baseline, criteria)
        .into_iter()
        .filter(|c| c.status != Status::Skipped)
        .filter(|c| compare::decide(c, None, criteria.significance) == Status::Fail)
        .map(|c| format!("fails {}: {}", c.name, c.detail))
        .collect()
}

/// Measures the model's candidate now, alone, with the config's bench and eval settings.
fn measure(
    global: &GlobalArgs,
    args: &ApproveArgs,
    model: &ModelConfig,
    root: &Path,
) -> Result<ResultsFile> {
    let provider = args.ep.map(|e| e.provider()).unwrap_or(model.bench.ep);
    let runtime = app::load_runtime(
        global,
        &SessionSettings {
            provider,
            ..Default::default()
        },
    )?;
    let options = GateOptions {
        root: root.to_path_buf(),
        provider: Some(provider),
        ..Default::default()
    };
    let mut progress = app::progress_bar();
    gate::measure_candidate(model, &runtime, &options, &mut progress)
}

/// Why the new results' latencies could not be compared where the gate runs, naming what they
/// were compared with: the current baseline's hardware when there is one (the hardware the gate
/// has been held to), else this machine's. Results measured here match this machine.
fn hardware_difference(
    new: &ResultsFile,
    current: Option<&ResultsFile>,
    measured_here: bool,
) -> Option<String> {
    if let Some(current) = current {
        let why = current.environment.hardware_difference(&new.environment)?;
        return Some(format!("the current baseline ({why})"));
    }
    if measured_here {
        return None;
    }
    let env = &new.environment;
    let here = system::fingerprint(
        Path::new(&new.model.path),
        &new.model.sha256,
        &env.onnxruntime_version,
        &env.execution_provider,
    );
    let why = here.hardware_difference(env)?;
    Some(format!("this machine ({why})"))
}

/// The approver: `--approver`, else `GITHUB_ACTOR`, else `git config user.name`.
fn approver(flag: Option<&str>, root: &Path) -> Result<String> {
    if let Some(name) = flag {
        let name = name.trim();
        if name.is_empty() {
            bail!("--approver is empty; give the approver's name, e.g. --approver alice");
        }
        return Ok(name.to_string());
    }
    if let Some(actor) = std::env::var("GITHUB_ACTOR")
        .ok()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
    {
        return Ok(actor);
    }
    crate::base::gitref::config_value(root, "user.name").ok_or_else(|| {
        anyhow!(
            "no approver known: pass --approver NAME (or set GITHUB_ACTOR or git config user.name)"
        )
    })
}

/// Asks a yes/no question on the terminal; anything but y or yes is no.
fn confirm(question: &str) -> Result<bool> {
    eprint!("{question}");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer from stdin")?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
