//! Fitting a report into one GitHub comment, with the sticky marker at its end.
//!
//! GitHub refuses a comment body over its length limit with a 422, which would lose
//! the whole report. Large model diffs can produce long tables, so the body is cut on
//! a line boundary, a note points readers to the job summary (which holds the full
//! report), and the hidden marker stays last so the next run still finds the comment.

/// Longest comment body GitHub accepts. Source: the REST API's 422 answer to a longer
/// body on POST/PATCH `/repos/{owner}/{repo}/issues/.../comments`:
/// "Body is too long (maximum is 65536 characters)".
pub const COMMENT_BODY_MAX_CHARS: usize = 65_536;

/// Length as GitHub might count it, erring long: UTF-16 code units (never fewer than
/// Unicode characters), plus one per `\n` in case it is stored as `\r\n`.
pub(crate) fn github_len(s: &str) -> usize {
    s.encode_utf16().count() + s.bytes().filter(|&b| b == b'\n').count()
}

/// The body to post: `body`, then `marker` on the last line, cut to stay under
/// [`COMMENT_BODY_MAX_CHARS`] with a note pointing to `full_report` (a URL or words
/// such as "the job summary of this workflow run").
pub(crate) fn fit_comment_body(body: &str, marker: &str, full_report: &str) -> String {
    let body = body.trim_end();
    let body = body.strip_suffix(marker).unwrap_or(body).trim_end();
    let whole = format!("{body}\n\n{marker}");
    if github_len(&whole) <= COMMENT_BODY_MAX_CHARS {
        return whole;
    }
    let tail = format!(
        "\n\n> [!WARNING]\n> This report was cut to fit GitHub's {COMMENT_BODY_MAX_CHARS}-character \
         comment limit. The full report is in {full_report}.\n\n{marker}"
    );
    // Room for the tail and a code fence we may have to close ("\n```").
    let fence_close = "\n```";
    let budget = COMMENT_BODY_MAX_CHARS
        .saturating_sub(github_len(&tail))
        .saturating_sub(github_len(fence_close));
    let mut kept = take_lines(body, budget);
    // A cut inside a fenced block would swallow the note into the code block.
    if kept
        .lines()
        .filter(|l| l.trim_start().starts_with("```"))
        .count()
        % 2
        == 1
    {
        kept.push_str(fence_close);
    }
    kept.push_str(&tail);
    kept
}

/// The longest prefix of whole lines of `text` within `budget`; a line longer than the whole
/// budget, which could never fit, is cut at a character boundary instead of dropped.
fn take_lines(text: &str, budget: usize) -> String {
    let mut kept = String::new();
    let mut used = 0;
    for line in text.split_inclusive('\n') {
        let len = github_len(line);
        if used + len > budget {
            if kept.is_empty() || len > budget {
                for c in line.chars() {
                    let c_len = c.len_utf16() + usize::from(c == '\n');
                    if used + c_len > budget {
                        break;
                    }
                    used += c_len;
                    kept.push(c);
                }
            }
            break;
        }
        used += len;
        kept.push_str(line);
    }
    kept.truncate(kept.trim_end().len());
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKER: &str = "<!-- modelgate:report -->";

    #[test]
    fn short_body_gets_marker_at_end() {
        let got = fit_comment_body("# Report\nall good\n", MARKER, "the job summary");
        assert_eq!(got, format!("# Report\nall good\n\n{MARKER}"));
    }

    #[test]
    fn marker_already_at_end_is_not_doubled() {
        let got = fit_comment_body(&format!("hello\n\n{MARKER}\n"), MARKER, "x");
        assert_eq!(got.matches(MARKER).count(), 1);
        assert!(got.ends_with(MARKER));
    }

    #[test]
    fn long_body_is_cut_on_a_line_boundary() {
        let line = "| model.onnx | 12.3 ms | 12.9 ms | +4.9 % |\n";
        let body = line.repeat(4_000);
        let got = fit_comment_body(&body, MARKER, "the job summary of this workflow run");
        assert!(github_len(&got) <= COMMENT_BODY_MAX_CHARS);
        assert!(got.ends_with(MARKER));
        assert!(got.contains("job summary of this workflow run"));
        let before_note = got.split("\n\n> [!WARNING]").next().unwrap();
        assert!(before_note.lines().all(|l| format!("{l}\n") == line));
    }

    #[test]
    fn over_long_line_after_a_heading_is_cut_not_dropped() {
        let line = "x".repeat(70_000);
        let got = fit_comment_body(&format!("# Report\n{line}\n"), MARKER, "the job summary");
        assert!(
            github_len(&got) <= COMMENT_BODY_MAX_CHARS,
            "{}",
            github_len(&got)
        );
        assert!(got.starts_with("# Report\nxxx"));
        let kept = got.matches('x').count();
        assert!(kept > 60_000, "only {kept} of the line kept");
        assert!(got.ends_with(MARKER));
        assert!(got.contains("comment limit"));
    }

    #[test]
    fn wide_characters_count_conservatively() {
        // Each emoji is one Unicode character but two UTF-16 code units.
        let body = "\u{1F600}".repeat(40_000);
        let got = fit_comment_body(&body, MARKER, "the job summary");
        assert!(github_len(&got) <= COMMENT_BODY_MAX_CHARS);
        assert!(got.chars().count() <= COMMENT_BODY_MAX_CHARS);
        assert!(got.starts_with('\u{1F600}'));
        assert!(got.ends_with(MARKER));
    }

    #[test]
    fn open_code_fence_is_closed_before_the_note() {
        let body = format!("```text\n{}", "x\n".repeat(40_000));
        let got = fit_comment_body(&body, MARKER, "the job summary");
        assert!(github_len(&got) <= COMMENT_BODY_MAX_CHARS);
        let fences = got.lines().filter(|l| l.starts_with("```")).count();
        assert_eq!(fences, 2);
    }
}
