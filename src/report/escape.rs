//! Escaping text from the pull request for the markdown reports.
//!
//! Model names, paths, class names, sample ids and error text all come from the pull request
//! under review, and the comment is posted by the workflow's token. Such text must show as
//! itself: it must not open tables, links, images, HTML, headings or lists, must not ping people
//! or teams with `@`, and must never spell the hidden marker that finds the sticky comment.
//! The HTML report relies on minijinja's HTML auto-escaping instead.

/// Characters that CommonMark or GitHub's extensions give a meaning to, escaped with a backslash
/// (CommonMark allows a backslash before any ASCII punctuation). `:` stops URL autolinks and
/// emoji shortcodes, `.` stops `www.` autolinks and ordered lists, `$` stops math, `|` stops
/// table cells; the rest are emphasis, code, links, headings, lists and breaks.
const BACKSLASHED: &[char] = &[
    '\\', '`', '*', '_', '{', '}', '[', ']', '(', ')', '#', '+', '-', '.', '!', '|', '~', ':', '$',
    '=',
];

/// Returns `text` escaped to show literally in GitHub-flavoured markdown, on one line.
///
/// `<`, `>` and `&` become entities, so no HTML (and no `<!--` comment, hence no fake marker)
/// can be written; `@` is followed by a zero-width space so it mentions nobody; line breaks and
/// tabs become spaces so the text cannot end a table row or start a block; other control
/// characters and bidirectional overrides are dropped.
pub fn escape_md(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut last_was_break = false;
    for c in text.chars() {
        let is_break = matches!(c, '\n' | '\r' | '\t');
        match c {
            _ if is_break => {
                if !last_was_break {
                    out.push(' ');
                }
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // A zero-width space: GitHub links `@name` only when a name character follows `@`.
            '@' => out.push_str("@&#8203;"),
            c if BACKSLASHED.contains(&c) => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() || crate::base::text::is_bidi_control(c) => {}
            c => out.push(c),
        }
        last_was_break = is_break;
    }
    out
}

/// Turns text from the comparison into text safe for the output format.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Text(pub super::Format);

impl Text {
    pub(crate) fn of(self, s: &str) -> String {
        match self.0 {
            super::Format::Markdown => escape_md(s),
            super::Format::Html => s.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::escape_md;
    use crate::report::COMMENT_MARKER;

    #[test]
    fn escapes_markdown_html_mentions_and_breaks() {
        let cases: &[(&str, &str)] = &[
            ("resnet50", "resnet50"),
            ("", ""),
            ("a|b", r"a\|b"),
            ("`rm -rf`", r"\`rm \-rf\`"),
            ("**bold** _it_", r"\*\*bold\*\* \_it\_"),
            ("# title", r"\# title"),
            ("- item", r"\- item"),
            ("1. item", r"1\. item"),
            (
                "<!-- modelgate:report -->",
                r"&lt;\!\-\- modelgate\:report \-\-&gt;",
            ),
            ("@org/team", "@&#8203;org/team"),
            ("mail a@b.io", r"mail a@&#8203;b\.io"),
            (
                "[x](javascript:alert(1))",
                r"\[x\]\(javascript\:alert\(1\)\)",
            ),
            (
                "![img](https://e.example/x.png)",
                r"\!\[img\]\(https\://e\.example/x\.png\)",
            ),
            ("https://e.example", r"https\://e\.example"),
            ("www.e.example", r"www\.e\.example"),
            (
                "<img src=x onerror=alert(1)>",
                r"&lt;img src\=x onerror\=alert\(1\)&gt;",
            ),
            ("&#60;!--", r"&amp;\#60;\!\-\-"),
            ("a\\|b", r"a\\\|b"),
            ("line 1\nline 2\r\nline 3\tend", "line 1 line 2 line 3 end"),
            ("$x^2$", r"\$x^2\$"),
            ("~~gone~~", r"\~\~gone\~\~"),
            (":smile:", r"\:smile\:"),
            ("a\u{202E}b\u{0007}c", "abc"),
            ("chat ü 猫", "chat ü 猫"),
        ];
        for (input, want) in cases {
            assert_eq!(escape_md(input), *want, "escaping {input:?}");
        }
    }

    #[test]
    fn escaped_text_never_holds_the_marker_or_raw_html() {
        let hostile = [
            COMMENT_MARKER,
            "x<!--y",
            "<<!---->>",
            "<\n!-- modelgate:report -->",
            "<script>alert(1)</script>",
        ];
        for input in hostile {
            let got = escape_md(input);
            assert!(!got.contains("<!--"), "{got}");
            assert!(!got.contains('<') && !got.contains('>'), "{got}");
            assert!(!got.contains('\n'), "{got}");
        }
    }
}
