//! Snapshot tests of the rendered reports, and the guarantees the comment makes about text
//! from the pull request.
//!
//! A template change shows up as a reviewed diff of the `.snap` files in `snapshots/`. Accept
//! a deliberate change with `INSTA_UPDATE=always cargo test --lib report`, read the new files,
//! and check that `CI=true cargo test` passes.

use super::compare::{ChangedSample, Comparison};
use super::fixtures;
use super::{render, Kind, COMMENT_MARKER};

fn comment(c: &Comparison) -> String {
    render(c, Kind::Comment, None).expect("the built-in comment template renders")
}

fn html(c: &Comparison) -> String {
    render(c, Kind::Html, None).expect("the built-in HTML template renders")
}

#[test]
fn pass_comment() {
    insta::assert_snapshot!(comment(&fixtures::pass()));
}

#[test]
fn pass_html() {
    insta::assert_snapshot!(html(&fixtures::pass()));
}

#[test]
fn fail_comment() {
    insta::assert_snapshot!(comment(&fixtures::fail()));
}

#[test]
fn fail_summary() {
    insta::assert_snapshot!(render(&fixtures::fail(), Kind::Summary, None).unwrap());
}

#[test]
fn fail_html() {
    insta::assert_snapshot!(html(&fixtures::fail()));
}

#[test]
fn new_model_comment() {
    insta::assert_snapshot!(comment(&fixtures::new_model()));
}

#[test]
fn new_model_html() {
    insta::assert_snapshot!(html(&fixtures::new_model()));
}

#[test]
fn not_comparable_comment() {
    insta::assert_snapshot!(comment(&fixtures::not_comparable()));
}

#[test]
fn not_comparable_html() {
    insta::assert_snapshot!(html(&fixtures::not_comparable()));
}

#[test]
fn error_comment() {
    insta::assert_snapshot!(comment(&fixtures::error()));
}

/// A comparison whose every pull-request string is hostile.
fn hostile() -> Comparison {
    let mut c = fixtures::fail();
    let m = &mut c.models[0];
    m.name = COMMENT_MARKER.into();
    m.candidate_path = "models/<!--x-->|@org/team.onnx".into();
    m.reasons
        .push(format!("recall ({COMMENT_MARKER}): dropped"));
    m.criteria[4].name = format!("recall ({COMMENT_MARKER})");
    let accuracy = m.accuracy.as_mut().unwrap();
    accuracy.recall_name = "@octocat".into();
    accuracy.changed.push(ChangedSample {
        id: "a|b\n| x | y |".into(),
        label: "[x](javascript:alert(1))".into(),
        baseline: "<script>alert(1)</script>".into(),
        candidate: "`code`".into(),
    });
    c
}

#[test]
fn model_named_like_the_marker_cannot_fake_it() {
    let comparison = hostile();
    let got = comment(&comparison);
    assert!(!got.contains(COMMENT_MARKER), "{got}");
    assert!(!got.contains("<!--"), "{got}");
    assert!(!got.contains("@octocat") && !got.contains("@org"), "{got}");
    assert!(!got.contains("<script>"), "{got}");
    assert!(!got.contains("](javascript"), "{got}");
    let summary = render(&comparison, Kind::Summary, None).unwrap();
    assert!(!summary.contains("<!--"), "{summary}");
    let page = html(&comparison);
    assert!(
        !page.contains(COMMENT_MARKER) && !page.contains("<script>"),
        "{page}"
    );
}

#[test]
fn escaped_sample_ids_keep_the_table_shape() {
    let got = comment(&hostile());
    let row = got
        .lines()
        .find(|l| l.contains("a\\|b"))
        .expect("the hostile sample's row");
    // Three cells: four unescaped pipes, and the line break inside the id became a space.
    let unescaped = row
        .match_indices('|')
        .filter(|(i, _)| !row[..*i].ends_with('\\'))
        .count();
    assert_eq!(unescaped, 4, "{row}");
}

/// A template file with the given suffix, which picks nothing: the report kind does.
fn template_file(suffix: &str, text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

#[test]
fn custom_template_override_is_used() {
    let file = template_file(
        ".md.j2",
        "{{ headline }}\n{% for m in models %}* {{ m.heading }}\n{% endfor %}",
    );
    let got = render(&fixtures::fail(), Kind::Comment, Some(file.path())).unwrap();
    assert_eq!(got, "❌ modelgate: fail\n* ❌ cancer\\-logreg: fail\n");
}

#[test]
fn html_override_is_auto_escaped() {
    let file = template_file(
        ".txt",
        "<p>{% for m in models %}{{ m.candidate }}{% endfor %}</p>",
    );
    let got = render(&hostile(), Kind::Html, Some(file.path())).unwrap();
    assert!(
        got.contains("&lt;!--x--&gt;") && !got.contains("<!--"),
        "{got}"
    );
}

#[test]
fn broken_override_is_an_error_naming_the_file_and_line() {
    let file = template_file(
        ".md.j2",
        "## {{ headline }}\n\n{% for m in models %}\n{{ m.heading }}\n",
    );
    let err = render(&fixtures::pass(), Kind::Comment, Some(file.path()))
        .unwrap_err()
        .to_string();
    assert!(err.contains(&file.path().display().to_string()), "{err}");
    assert!(
        err.contains("line ") && err.contains("syntax error"),
        "{err}"
    );
}

#[test]
fn misspelt_field_in_override_is_an_error() {
    let file = template_file(".md.j2", "{{ headlin }}\n");
    let err = render(&fixtures::pass(), Kind::Comment, Some(file.path()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 1") && err.contains("undefined"), "{err}");
}

#[test]
fn missing_override_names_the_file() {
    let err = render(
        &fixtures::pass(),
        Kind::Comment,
        Some("no/such/template.md.j2".as_ref()),
    )
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("no/such/template.md.j2"),
        "{err:#}"
    );
}

#[test]
fn builtin_templates_do_not_hold_the_marker() {
    for kind in [Kind::Comment, Kind::Summary, Kind::Html] {
        assert!(!kind.builtin().contains(COMMENT_MARKER), "{kind:?}");
    }
}

#[test]
fn only_inconclusive_rows_say_more_runs_would_settle_them() {
    for kind in [Kind::Comment, Kind::Summary, Kind::Html] {
        let got = render(&fixtures::fail(), kind, None).unwrap();
        let rows: Vec<&str> = got.lines().filter(|l| l.contains("settle it")).collect();
        assert_eq!(rows.len(), 1, "{kind:?}: {rows:?}");
        assert!(rows[0].contains("inconclusive"), "{kind:?}: {}", rows[0]);
        assert!(rows[0].contains("p99 latency"), "{kind:?}: {}", rows[0]);
    }
}

#[test]
fn html_carries_the_latency_distribution_plot_only_when_there_is_one() {
    let page = html(&fixtures::fail());
    assert_eq!(page.matches("<svg").count(), 1, "one plot");
    assert!(page.contains("Latency distribution"));
    assert!(!html(&fixtures::pass()).contains("<svg"));
    assert!(!comment(&fixtures::fail()).contains("<svg"));
}

#[test]
fn a_candidate_profile_shows_its_slowest_operators_in_every_report() {
    use crate::runtime::profile::{NodeTime, OpProfile, OpTypeTime};
    let node = |name: &str, op: &str, total: f64| NodeTime {
        name: name.into(),
        op_type: op.into(),
        provider: "CPUExecutionProvider".into(),
        count: 20,
        total_us: total,
        mean_us: total / 20.0,
        share_pct: total / 200.0 * 100.0,
    };
    let mut comparison = fixtures::pass();
    comparison.models[0].profile = Some(OpProfile {
        runs: 20,
        run_total_us: 250.0,
        node_total_us: 200.0,
        node_share_of_run_pct: Some(80.0),
        node_count: 2,
        nodes: vec![node("conv|1", "Conv", 150.0), node("fc", "Gemm", 50.0)],
        op_types: vec![
            OpTypeTime {
                op_type: "Conv".into(),
                nodes: 1,
                count: 20,
                total_us: 150.0,
                mean_us: 7.5,
                share_pct: 75.0,
            },
            OpTypeTime {
                op_type: "Gemm".into(),
                nodes: 1,
                count: 20,
                total_us: 50.0,
                mean_us: 2.5,
                share_pct: 25.0,
            },
        ],
    });
    // Escaped for markdown, as all text from the comparison is.
    let caption = "20 profiled runs, 2 nodes, 80 % of the runs' time in kernels; by op type\\: Conv 75\\.0 %, Gemm 25\\.0 %";
    for kind in [Kind::Comment, Kind::Summary] {
        let got = render(&comparison, kind, None).unwrap();
        assert!(got.contains("Slowest operators (candidate)"), "{got}");
        assert!(got.contains(caption), "{got}");
        // The pipe in the node name is escaped, so the row keeps five cells.
        assert!(
            got.contains("| Conv | conv\\|1 | 20 | 7.500 µs | 75.0 % |"),
            "{got}"
        );
        assert!(
            got.contains("| Gemm | fc | 20 | 2.500 µs | 25.0 % |"),
            "{got}"
        );
    }
    let got = html(&comparison);
    assert!(got.contains("<td>conv|1</td>"), "{got}");
    // Without a profile, no section.
    assert!(!comment(&fixtures::pass()).contains("Slowest operators"));
}

#[test]
fn a_pass_with_an_unsettled_latency_says_so_in_the_headline() {
    let header = template_file(".md.j2", "{{ headline }}");
    let settled = render(&fixtures::pass(), Kind::Comment, Some(header.path())).unwrap();
    assert!(!settled.contains("not settled"), "{settled}");
    let mut unsettled = fixtures::pass();
    let latency = unsettled.models[0]
        .criteria
        .iter_mut()
        .find(|c| matches!(c.rule, crate::compare::Rule::RatioAtMost { .. }))
        .expect("the pass fixture has a latency criterion");
    latency.status = crate::compare::Status::Inconclusive;
    let got = render(&unsettled, Kind::Comment, Some(header.path())).unwrap();
    assert!(
        got.contains("pass") && got.contains("latency not settled"),
        "{got}"
    );
}
