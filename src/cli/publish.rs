//! The flags of the commands that publish a comparison: report, comment and annotate.

use super::*;

#[derive(Debug, Args)]
pub struct AnnotateArgs {
    /// The comparison JSON (from gate --json).
    #[arg(long, value_name = "FILE")]
    pub comparison: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    /// The PR comment (markdown, details folded).
    Markdown,
    /// The job summary (markdown, everything unfolded).
    Summary,
    /// A standalone HTML page.
    Html,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The comparison JSON (from gate or compare --json).
    #[arg(long, value_name = "FILE")]
    pub comparison: PathBuf,
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: ReportFormat,
    /// A minijinja template to use instead of the built-in one.
    #[arg(long, value_name = "PATH")]
    pub template: Option<PathBuf>,
    /// Write the report here instead of standard output.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// The verdict the comparison must carry (as the gate's exit code said it: pass for pass or
    /// new, fail, or error); another is an error and nothing is written. For a job that renders
    /// a comparison another job wrote.
    #[arg(long, value_enum, value_name = "VERDICT")]
    pub expect_verdict: Option<ExpectedVerdict>,
}

/// A verdict as the gate's exit code tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExpectedVerdict {
    /// Exit 0: pass, or new.
    Pass,
    /// Exit 1.
    Fail,
    /// Exit 2.
    Error,
}

#[derive(Debug, Args)]
pub struct CommentArgs {
    /// The repository, OWNER/NAME.
    #[arg(long, env = "GITHUB_REPOSITORY")]
    pub repo: String,
    /// The pull request number (default: the pull request of GITHUB_EVENT_PATH's event).
    #[arg(long)]
    pub pr: Option<u64>,
    /// The comment body (markdown).
    #[arg(long, value_name = "PATH")]
    pub body_file: PathBuf,
    /// The comparison JSON, for the verdict output and error annotations in GitHub Actions.
    #[arg(long, value_name = "PATH")]
    pub comparison: Option<PathBuf>,
    /// Login that owns the sticky comment (default: the token's user, or github-actions[bot]).
    #[arg(long)]
    pub author: Option<String>,
}
