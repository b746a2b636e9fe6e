//! The commands that publish a comparison: report (comment, summary, HTML), comment (the sticky
//! PR comment) and annotate (GitHub Actions annotations).

use super::*;

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
                crate::base::text::clean(&args.comparison.display().to_string(), 200),
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
            print!("{}", crate::base::text::log_text(&text));
            Ok(())
        }
    }
}

/// The pull request number from the Actions event payload (`pull_request.number`, or `number`).
pub(super) fn pr_from_event() -> Result<u64> {
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
pub(super) fn publish_to_actions(args: &CommentArgs, url: &str) -> Result<()> {
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
        crate::publish::actions::write_outputs(Path::new(&path), &outputs)
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
        crate::publish::actions::append_step_summary(Path::new(&path), &summary)
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
                crate::publish::actions::error_annotation(
                    &title,
                    &criterion.detail,
                    Some(&model.candidate_path)
                )
            );
        }
        if let Some(error) = &model.error {
            println!(
                "{}",
                crate::publish::actions::error_annotation(
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
                    crate::publish::actions::error_annotation(
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
