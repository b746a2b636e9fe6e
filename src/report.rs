//! Reports: a comparison rendered as the pull-request comment, the job summary, or a standalone
//! HTML page.
//!
//! This is the only module that renders templates. The comparison arrives with its verdicts
//! decided; [`view`] turns it into finished strings and the minijinja templates in `templates/`
//! (embedded in the binary, replaceable with `--template PATH`) only lay them out. Markdown
//! reports escape every string from the pull request in the view; the HTML report leaves that
//! to minijinja's HTML auto-escaping.

mod accuracy;
pub mod escape;
pub(crate) mod explain;
mod latency;
pub(crate) mod operators;
mod plot;
/// The terminal's tables.
pub mod terminal;
pub mod view;

// The one line to point at `crate::compare` once it is part of the library.
use crate::compare;

use std::path::Path;

use anyhow::Context;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

use compare::Comparison;

pub use escape::escape_md;
pub use view::ReportView;

/// Hidden marker that finds the sticky comment again. The GitHub module appends it; templates
/// must not contain it, and escaping keeps pull-request text from spelling it.
pub const COMMENT_MARKER: &str = "<!-- modelgate:report -->";

/// Changed samples listed per model in the comment; the rest are counted ("and N more").
const COMMENT_CHANGED_CAP: usize = 50;

/// Changed samples listed per model in the job summary, which GitHub cuts at 1 MiB.
const SUMMARY_CHANGED_CAP: usize = 1000;

/// The markup a report is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// GitHub-flavoured markdown; pull-request text is escaped in the view.
    Markdown,
    /// HTML; pull-request text is escaped by the template engine.
    Html,
}

/// Which report to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The sticky pull-request comment: concise, details folded.
    Comment,
    /// The job summary: everything unfolded.
    Summary,
    /// A standalone HTML page with inline styles.
    Html,
}

impl Kind {
    /// The markup this report is written in.
    pub fn format(self) -> Format {
        match self {
            Kind::Comment | Kind::Summary => Format::Markdown,
            Kind::Html => Format::Html,
        }
    }

    /// The name of the built-in template, which also picks the auto-escaping.
    pub fn template_name(self) -> &'static str {
        match self {
            Kind::Comment => "comment.md.j2",
            Kind::Summary => "summary.md.j2",
            Kind::Html => "report.html.j2",
        }
    }

    fn builtin(self) -> &'static str {
        match self {
            Kind::Comment => include_str!("../templates/comment.md.j2"),
            Kind::Summary => include_str!("../templates/summary.md.j2"),
            Kind::Html => include_str!("../templates/report.html.j2"),
        }
    }

    fn changed_cap(self) -> usize {
        match self {
            Kind::Comment => COMMENT_CHANGED_CAP,
            Kind::Summary => SUMMARY_CHANGED_CAP,
            Kind::Html => usize::MAX,
        }
    }
}

/// Renders `comparison` as `kind`, with the template at `template_override` instead of the
/// built-in one when given. The override is rendered with the same view and escaping.
pub fn render(
    comparison: &Comparison,
    kind: Kind,
    template_override: Option<&Path>,
) -> anyhow::Result<String> {
    let view = ReportView::new(comparison, kind.format(), kind.changed_cap());
    let (source, origin) = match template_override {
        Some(path) => {
            let source = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "cannot read the report template {} given with --template",
                    path.display()
                )
            })?;
            (source, path.display().to_string())
        }
        None => (
            kind.builtin().to_string(),
            format!("built-in template {}", kind.template_name()),
        ),
    };
    let mut env = environment(kind);
    env.add_template_owned(kind.template_name(), source)
        .map_err(|e| template_error(&origin, &e))?;
    let template = env
        .get_template(kind.template_name())
        .map_err(|e| template_error(&origin, &e))?;
    template
        .render(&view)
        .map_err(|e| template_error(&origin, &e))
}

fn environment(kind: Kind) -> Environment<'static> {
    let mut env = Environment::new();
    // Block tags on their own line leave no blank line behind; markdown tables need that.
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    // A misspelt field in a custom template is an error, not a silently empty cell; `if` may
    // still test a field that is absent.
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    let escape = match kind.format() {
        Format::Html => AutoEscape::Html,
        Format::Markdown => AutoEscape::None,
    };
    env.set_auto_escape_callback(move |_| escape);
    env
}

/// One line naming the template and minijinja's line, e.g.
/// `report template my.md.j2, line 3: syntax error: unexpected end of input`.
fn template_error(origin: &str, e: &minijinja::Error) -> anyhow::Error {
    let line = e.line().map(|l| format!(", line {l}")).unwrap_or_default();
    let what = match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    };
    anyhow::anyhow!("report template {origin}{line}: {what}")
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
