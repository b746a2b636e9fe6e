//! The GitHub Actions runner's file and log interfaces: job summary, step outputs and
//! error annotations.
//!
//! These are plain file writes and strings, kept apart from the REST client so they work
//! (and are tested) without network or token. The formats and limits follow GitHub's
//! "Workflow commands for GitHub Actions" documentation.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

/// Most bytes a step's job summary may hold: the runner drops a larger
/// `$GITHUB_STEP_SUMMARY` whole ("upload aborted, supports content up to a size of
/// 1024k"; docs.github.com, "Workflow commands for GitHub Actions", "Adding a job summary").
pub const STEP_SUMMARY_MAX_BYTES: u64 = 1024 * 1024;

const SUMMARY_CUT_NOTE: &str = "\n\n> [!WARNING]\n> modelgate cut this summary to stay under \
GitHub's 1 MiB step-summary limit; the full report is in the run's artifacts or logs.\n";

/// What [`append_step_summary`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryWrite {
    /// All of the markdown.
    Full,
    /// A prefix of whole lines, with a note that the rest was cut.
    Truncated,
    /// Nothing: the file was already too close to the limit for even the note.
    Skipped,
}

/// Appends `markdown` to the step summary file at `path` (`$GITHUB_STEP_SUMMARY`),
/// keeping the file under [`STEP_SUMMARY_MAX_BYTES`] by cutting on a line boundary.
pub fn append_step_summary(path: &Path, markdown: &str) -> io::Result<SummaryWrite> {
    let existing = match std::fs::metadata(path) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e),
    };
    let room =
        usize::try_from(STEP_SUMMARY_MAX_BYTES.saturating_sub(existing)).unwrap_or(usize::MAX);
    let (text, written) = if markdown.len() <= room {
        (markdown.to_string(), SummaryWrite::Full)
    } else if room >= SUMMARY_CUT_NOTE.len() {
        let budget = room - SUMMARY_CUT_NOTE.len();
        let mut kept = 0;
        for line in markdown.split_inclusive('\n') {
            if kept + line.len() > budget {
                break;
            }
            kept += line.len();
        }
        (
            format!("{}{SUMMARY_CUT_NOTE}", &markdown[..kept]),
            SummaryWrite::Truncated,
        )
    } else {
        return Ok(SummaryWrite::Skipped);
    };
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(text.as_bytes())?;
    Ok(written)
}

/// Appends step outputs to the file at `path` (`$GITHUB_OUTPUT`): `name=value`, or for a
/// value with line breaks the `name<<DELIMITER` form with a random delimiter that does
/// not occur in the value.
pub fn write_outputs(path: &Path, outputs: &[(&str, &str)]) -> io::Result<()> {
    let mut text = String::new();
    for &(name, value) in outputs {
        // The runner reads `name=...` or `name<<...`, whichever comes first.
        if name.is_empty() || name.contains(['=', '\n', '\r']) || name.contains("<<") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid step output name {name:?}: use letters, digits, '-' and '_'"),
            ));
        }
        if value.contains(['\n', '\r']) {
            let delimiter = heredoc_delimiter(value);
            text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
        } else {
            text.push_str(&format!("{name}={value}\n"));
        }
    }
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(text.as_bytes())
}

fn heredoc_delimiter(value: &str) -> String {
    loop {
        let candidate = format!("ghadelimiter_{:016x}", rand::random::<u64>());
        if !value.contains(&candidate) {
            return candidate;
        }
    }
}

/// The `::error` workflow command that shows `message` as an annotation titled `title`,
/// on `file` when given. Print it on its own line to stdout.
pub fn error_annotation(title: &str, message: &str, file: Option<&str>) -> String {
    let mut props = Vec::new();
    // The text may quote a results file or dataset: one line, bounded, then escaped.
    use crate::base::text::{clean, TEXT_MAX_CHARS, VALUE_MAX_CHARS};
    if let Some(file) = file {
        props.push(format!(
            "file={}",
            escape_property(&clean(file, VALUE_MAX_CHARS))
        ));
    }
    props.push(format!(
        "title={}",
        escape_property(&clean(title, VALUE_MAX_CHARS))
    ));
    // Line breaks are kept (escaped below, as the toolkit does); each line is cleaned.
    let message: Vec<String> = message
        .split('\n')
        .take(50)
        .map(|line| clean(line, TEXT_MAX_CHARS))
        .collect();
    format!(
        "::error {}::{}",
        props.join(","),
        escape_data(&message.join("\n"))
    )
}

/// Escapes a workflow command's message, as the runner's `toolkit` does.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value: data escaping plus `:` and `,`.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_and_property_escaping() {
        let cases = [
            ("plain", "plain", "plain"),
            ("50% slower", "50%25 slower", "50%25 slower"),
            ("a\nb\r\nc", "a%0Ab%0D%0Ac", "a%0Ab%0D%0Ac"),
            (
                "p95: 12ms, p99: 15ms",
                "p95: 12ms, p99: 15ms",
                "p95%3A 12ms%2C p99%3A 15ms",
            ),
            ("%0A literal", "%250A literal", "%250A literal"),
            ("::error::", "::error::", "%3A%3Aerror%3A%3A"),
        ];
        for (input, data, property) in cases {
            assert_eq!(escape_data(input), data, "data {input:?}");
            assert_eq!(escape_property(input), property, "property {input:?}");
        }
    }

    #[test]
    fn annotation_with_and_without_file() {
        assert_eq!(
            error_annotation(
                "Gate failed",
                "latency +12%\nsee report",
                Some("models/a,b.onnx")
            ),
            "::error file=models/a%2Cb.onnx,title=Gate failed::latency +12%25%0Asee report"
        );
        assert_eq!(
            error_annotation("t: x", "m", None),
            "::error title=t%3A x::m"
        );
    }

    #[test]
    fn outputs_single_and_multi_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("output");
        std::fs::write(&path, "earlier=1\n").unwrap();
        write_outputs(&path, &[("verdict", "pass"), ("report", "line 1\nline 2")]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[..2], ["earlier=1", "verdict=pass"]);
        let delimiter = lines[2].strip_prefix("report<<").unwrap();
        assert!(delimiter.starts_with("ghadelimiter_"));
        assert_eq!(lines[3..], ["line 1", "line 2", delimiter]);
    }

    #[test]
    fn heredoc_delimiter_never_in_value() {
        for _ in 0..100 {
            let value = format!("x\n{}\n", heredoc_delimiter(""));
            assert!(!value.contains(&heredoc_delimiter(&value)));
        }
    }

    #[test]
    fn outputs_reject_bad_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("output");
        for name in ["", "a=b", "a<<b", "a\nb"] {
            assert!(write_outputs(&path, &[(name, "v")]).is_err(), "{name:?}");
        }
    }

    #[test]
    fn summary_appends_when_it_fits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.md");
        assert_eq!(
            append_step_summary(&path, "# A\n").unwrap(),
            SummaryWrite::Full
        );
        assert_eq!(
            append_step_summary(&path, "# B\n").unwrap(),
            SummaryWrite::Full
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "# A\n# B\n");
    }

    #[test]
    fn summary_stays_under_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.md");
        std::fs::write(&path, "x".repeat(200_000)).unwrap();
        let row = "| model.onnx | 12.3 ms | 12.9 ms |\n";
        let got = append_step_summary(&path, &row.repeat(40_000)).unwrap();
        assert_eq!(got, SummaryWrite::Truncated);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.len() as u64 <= STEP_SUMMARY_MAX_BYTES);
        assert!(text.ends_with(SUMMARY_CUT_NOTE));
        let appended = &text[200_000..text.len() - SUMMARY_CUT_NOTE.len()];
        assert!(appended.split_inclusive('\n').all(|l| l == row));
    }

    #[test]
    fn summary_skipped_when_full() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.md");
        std::fs::write(&path, "x".repeat(STEP_SUMMARY_MAX_BYTES as usize - 10)).unwrap();
        assert_eq!(
            append_step_summary(&path, "# more than ten bytes\n").unwrap(),
            SummaryWrite::Skipped
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            STEP_SUMMARY_MAX_BYTES - 10
        );
    }
}
