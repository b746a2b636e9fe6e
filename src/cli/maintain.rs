//! The flags of the maintainers' and release managers' commands: baseline approve, history,
//! check, explore and merge.

use super::*;

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Make baselines/<name>.json from a results file or a fresh measurement, and log it.
    Approve(ApproveArgs),
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    #[command(flatten)]
    pub runtime: GlobalArgs,
    /// The model's name in the gate config.
    #[arg(long, value_name = "NAME")]
    pub model: String,
    /// The gate config.
    #[arg(long, default_value = "modelgate.toml", value_name = "PATH")]
    pub config: PathBuf,
    /// Approve this results file (from bench and eval --json) instead of measuring now.
    #[arg(long, value_name = "FILE")]
    pub from_results: Option<PathBuf>,
    /// The model file is the candidate as committed at COMMIT (read from git, as data), not the
    /// checkout's.
    #[arg(long, value_name = "COMMIT")]
    pub candidate_ref: Option<String>,
    /// Refuse unless the model file's SHA-256 is this one (what the approver reviewed).
    #[arg(long, value_name = "HEX")]
    pub expect_sha256: Option<String>,
    /// Write without asking (needed when stdin is not a terminal).
    #[arg(long, short)]
    pub yes: bool,
    /// Approve results from other hardware than the current baseline's, or replace a malformed baseline.
    #[arg(long)]
    pub force: bool,
    /// Who approves (else GITHUB_ACTOR, else git config user.name).
    #[arg(long, value_name = "NAME")]
    pub approver: Option<String>,
    /// A note kept in the baseline's provenance.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// Execution provider to measure with (overrides the config).
    #[arg(long, value_enum, env = "MODELGATE_EP")]
    pub ep: Option<EpArg>,
}

#[derive(Debug, Args)]
pub struct ExploreArgs {
    #[command(flatten)]
    pub runtime: GlobalArgs,
    /// Model files to compare instead of the config's [[models.variants]] (the first is the
    /// reference), each run with the model's settings.
    #[arg(value_name = "MODEL")]
    pub files: Vec<PathBuf>,
    /// The gate config that --model names a model of.
    #[arg(long, default_value = "modelgate.toml", value_name = "PATH")]
    pub config: PathBuf,
    /// The config's model whose variants are explored (its dataset, pre- and postprocessing).
    /// Without it, the model files are explored with settings guessed as `modelgate init`
    /// guesses them from the first file and --dataset.
    #[arg(long = "model", value_name = "NAME")]
    pub model: Option<String>,
    /// Labeled data to evaluate every variant on, instead of the model's [models.dataset].
    #[arg(long, value_name = "PATH")]
    pub dataset: Option<PathBuf>,
    /// Folder for dashboard.csv, summary.json, tradeoff.svg, tradeoff.png and report.md.
    #[arg(long, default_value = "explore", value_name = "DIR")]
    pub out: PathBuf,
    /// Plan each variant's capacity for this peak rate (requests per second).
    #[arg(long, value_name = "QPS", allow_negative_numbers = true)]
    pub peak_qps: Option<f64>,
    /// Headroom over the peak for the capacity plan.
    #[arg(
        long,
        default_value_t = 1.5,
        value_name = "FACTOR",
        requires = "peak_qps",
        allow_negative_numbers = true
    )]
    pub safety: f64,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Folders each holding one shard's results files (its --results-dir).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Folder to write the merged results files to (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The model's name in the gate config; with --html or --markdown it may be left out for
    /// every model that has a history.
    pub name: Option<String>,
    /// The gate config.
    #[arg(long, default_value = "modelgate.toml", value_name = "PATH")]
    pub config: PathBuf,
    /// Print the history as JSON instead of a table.
    #[arg(long, conflicts_with_all = ["html", "markdown"])]
    pub json: bool,
    /// Write a static HTML page charting each approval's numbers (for GitHub Pages).
    #[arg(long, value_name = "PATH", conflicts_with = "markdown")]
    pub html: Option<PathBuf>,
    /// Print markdown with a Mermaid chart per metric and a table of the latest approvals, for
    /// the job summary (`>> "$GITHUB_STEP_SUMMARY"`); without NAME, every model with a history.
    #[arg(long)]
    pub markdown: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The release candidate's results file.
    #[arg(long, value_name = "FILE")]
    pub candidate: PathBuf,
    /// The production baseline file.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "model",
        conflicts_with = "model"
    )]
    pub baseline: Option<PathBuf>,
    /// Take the baseline and criteria of this model of the gate config.
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// The gate config (default modelgate.toml with --model; built-in criteria without either).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Count skipped lines (latency on other hardware) as passed.
    #[arg(long)]
    pub allow_skipped: bool,
    /// Write the checklist as JSON here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
}
