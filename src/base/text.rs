//! Text from outside the program, made safe to print.
//!
//! Results files, datasets, model files and pull requests are written by whoever opened the pull
//! request, and modelgate quotes them: a CPU model, a sample id, a note, a node name in an ONNX
//! Runtime warning. On a GitHub Actions runner every line of a step's stdout and stderr whose
//! text starts with `::` is a workflow command (`::error::`, `::add-mask::`, `::stop-commands::`),
//! and a lone carriage return ends a line too. So such text is cut to a length, stripped of
//! control and direction characters ([`clean`]), and everything modelgate prints passes through
//! [`log_text`], which keeps any line from starting with `::` and breaks up the runner's older
//! command form, `##[name]message`, which it reads anywhere in a line. Markdown has its own escaping
//! (report::escape); annotations escape their message as the runner's toolkit does.

/// Longest untrusted value quoted in a message (a CPU model, a sample id, a path).
pub const VALUE_MAX_CHARS: usize = 200;

/// Longest untrusted text quoted whole (a note, an error from a results file).
pub const TEXT_MAX_CHARS: usize = 2_000;

/// Explicit direction marks and overrides, which make text read differently from its bytes.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// Characters that must not reach a log: controls (line breaks and carriage returns included),
/// direction overrides, and the Unicode line and paragraph separators.
fn is_unprintable(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}')
}

/// `text` on one line: each run of unprintable characters becomes one space, and text longer
/// than `max_chars` is cut with an ellipsis.
pub fn clean(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    let mut count = 0;
    let mut last_was_gap = false;
    for c in text.chars() {
        if count == max_chars {
            out.push('…');
            break;
        }
        if is_unprintable(c) {
            if !last_was_gap {
                out.push(' ');
                count += 1;
            }
            last_was_gap = true;
            continue;
        }
        out.push(c);
        count += 1;
        last_was_gap = false;
    }
    out
}

/// Longest line of an error message.
pub const ERROR_LINE_MAX_CHARS: usize = 1_000;

/// `line` kept readable however long the values quoted in it: each word (a run without spaces)
/// over [`VALUE_MAX_CHARS`] is cut with an ellipsis, and a line still over `max_chars` keeps its
/// start and its end (where an error says what to do) around an ellipsis.
pub fn shorten(line: &str, max_chars: usize) -> String {
    let words: Vec<String> = line
        .split(' ')
        .map(|w| {
            if w.chars().count() > VALUE_MAX_CHARS {
                let mut cut: String = w.chars().take(VALUE_MAX_CHARS).collect();
                cut.push('…');
                cut
            } else {
                w.to_string()
            }
        })
        .collect();
    let joined = words.join(" ");
    let count = joined.chars().count();
    if count <= max_chars {
        return joined;
    }
    let tail = max_chars * 2 / 5;
    let head = max_chars.saturating_sub(tail + 3);
    let start: String = joined.chars().take(head).collect();
    let end: String = joined.chars().skip(count - tail).collect();
    format!("{start} … {end}")
}

/// What modelgate prints, made safe for a CI log line by line: unprintable characters other
/// than line breaks and tabs dropped, a line that would start with `::` (after leading
/// whitespace, which the runner skips) prefixed with `> `, and `##[` written `## [`, so the
/// runner reads no command.
pub fn log_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let kept: String = line
            .chars()
            .map(|c| {
                if c == '\t' {
                    c
                } else if is_unprintable(c) {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        if kept.trim_start().starts_with("::") {
            out.push_str("> ");
        }
        out.push_str(&kept.replace("##[", "## ["));
    }
    out
}

/// `word` as one word of a POSIX shell command line, quoted as Python's `shlex.quote` quotes it:
/// as it is when it holds only letters, digits and `@%+=:,./-_`, else in single quotes (a
/// quote inside written `'"'"'`). For command lines modelgate prints for the user to run.
pub fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', "'\"'\"'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_as_python_shlex_quotes_them() {
        // python3 -c "import shlex; print(shlex.quote(S))" for each S below.
        let cases = [
            ("models/scan.onnx", "models/scan.onnx"),
            ("my models/scan v2.onnx", "'my models/scan v2.onnx'"),
            ("it's.onnx", "'it'\"'\"'s.onnx'"),
            ("", "''"),
            ("a;rm -rf ~", "'a;rm -rf ~'"),
            ("$(x)", "'$(x)'"),
            ("café.onnx", "'café.onnx'"),
        ];
        for (word, quoted) in cases {
            assert_eq!(shell_word(word), quoted, "{word:?}");
        }
    }

    #[test]
    fn a_long_value_in_an_error_is_cut_and_the_advice_at_the_end_kept() {
        let shape = "1x".repeat(100_000);
        let line = format!("--shape input={shape}: give sizes like 1x3x224x224");
        let short = shorten(&line, ERROR_LINE_MAX_CHARS);
        assert!(
            short.chars().count() <= ERROR_LINE_MAX_CHARS,
            "{}",
            short.len()
        );
        assert!(short.starts_with("--shape input=1x1x"), "{short}");
        assert!(short.ends_with("… give sizes like 1x3x224x224"), "{short}");
        // Many short words: the start and the end are kept around an ellipsis.
        let words = format!("columns {} are missing; add them", "ab, ".repeat(5_000));
        let short = shorten(&words, 1_000);
        assert_eq!(short.chars().count(), 1_000);
        assert!(short.starts_with("columns ab, ab,"), "{short}");
        assert!(short.contains(" … "), "{short}");
        assert!(short.ends_with("are missing; add them"), "{short}");
        // A short line is left alone.
        assert_eq!(shorten("a b  c", 1_000), "a b  c");
    }

    /// How the Actions runner reads a log: lines end at `\n`, `\r\n` or a lone `\r` (.NET's
    /// StreamReader.ReadLine), and a line is a command when its text, leading whitespace
    /// trimmed, starts with `::`.
    fn runner_commands(log: &str) -> Vec<String> {
        log.replace("\r\n", "\n")
            .split(['\n', '\r'])
            .map(str::trim_start)
            .filter(|l| l.starts_with("::"))
            .map(String::from)
            .collect()
    }

    #[test]
    fn clean_keeps_text_on_one_line_and_cuts_it() {
        assert_eq!(clean("Intel Xeon", 200), "Intel Xeon");
        assert_eq!(
            clean("X\n::error title=forged::pwned", 200),
            "X ::error title=forged::pwned"
        );
        assert_eq!(clean("a\r\n\r\nb\u{202E}c\u{2028}d", 200), "a b c d");
        assert_eq!(clean("abcdef", 3), "abc…");
        assert_eq!(clean("ééé", 2), "éé…");
        assert_eq!(clean("", 5), "");
    }

    #[test]
    fn no_line_of_a_log_starts_a_workflow_command() {
        // Each is a command as it stands, except the last two, which other readers may break.
        let hostile = [
            "::error title=forged::pwned",
            "  ::warning::x",
            "ok\n::add-mask::secret",
            "ok\r::stop-commands::t",
            "\t::notice::z",
            "ok\u{2028}::error::y",
            "ok\u{85}::error::next-line",
        ];
        for (i, text) in hostile.iter().enumerate() {
            assert_eq!(runner_commands(text).len(), usize::from(i < 5), "{text:?}");
            let safe = log_text(text);
            assert_eq!(
                runner_commands(&safe),
                Vec::<String>::new(),
                "{text:?} -> {safe:?}"
            );
            assert!(safe.contains("::"), "the text stays readable: {safe:?}");
        }
        // The older form, read anywhere in a line.
        let safe = log_text("sample s ##[warning]pwned is not in the baseline");
        assert!(!safe.contains("##["), "{safe}");
        assert!(safe.contains("## [warning]pwned"), "{safe}");
        // Ordinary output is unchanged.
        let table = "model  p95\n  cancer  1.2 ms\n";
        assert_eq!(log_text(table), table);
    }
}
