//! Snapshot tests of the rendered reports, and the guarantees the comment makes about text
//! from the pull request.
//!
//! A template change shows up as a reviewed diff of the `.snap` files in `snapshots/`. Accept
//! a deliberate change with `INSTA_UPDATE=always cargo test --lib report`, read the new files,
//! and check that `CI=true cargo test` passes.

use super::compare::{ChangedSample, Comparison};
use super::fixtures;
use super::{escape_md, render, Kind, COMMENT_MARKER};

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
        baseline_label_score: Some(0.9),
        candidate_label_score: Some(0.1),
        slices: [("site|x".to_string(), "@everyone".to_string())].into(),
        thumbnail: None,
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
    // Six cells (sample, label, predictions, change, P(label), subgroup): seven unescaped pipes,
    // and the line break inside the id became a space.
    let unescaped = row
        .match_indices('|')
        .filter(|(i, _)| !row[..*i].ends_with('\\'))
        .count();
    assert_eq!(unescaped, 7, "{row}");
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
    use crate::engine::runtime::profile::{NodeTime, OpProfile, OpTypeTime};
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
fn the_operator_diff_names_the_change_in_every_report_and_escapes_node_names() {
    use crate::compare::operators::{NodeChange, OpTypeChange, OperatorDiff};
    let mut comparison = fixtures::fail();
    comparison.models[0].operators = Some(OperatorDiff {
        baseline_runs: 25,
        candidate_runs: 25,
        baseline_us_per_run: 1000.0,
        candidate_us_per_run: 1100.0,
        op_types: vec![
            OpTypeChange {
                op_type: "Conv".into(),
                baseline_nodes: 1,
                candidate_nodes: 2,
                baseline_us_per_run: 600.0,
                candidate_us_per_run: 680.0,
                change_us_per_run: 80.0,
                change_pct_of_run: 8.0,
            },
            OpTypeChange {
                op_type: "Gemm".into(),
                baseline_nodes: 1,
                candidate_nodes: 1,
                baseline_us_per_run: 300.0,
                candidate_us_per_run: 290.0,
                change_us_per_run: -10.0,
                change_pct_of_run: -1.0,
            },
        ],
        added: vec![NodeChange {
            name: "dead|conv @everyone".into(),
            op_type: "Conv".into(),
            us_per_run: 80.0,
            share_pct: 80.0 / 1100.0 * 100.0,
        }],
        added_count: 3,
        removed: vec![],
        removed_count: 0,
        renamed: 0,
        nodes_complete: true,
    });
    let headline = "Conv +80.00 µs a run (+8.0 % of the base run); Gemm -10.00 µs a run (-1.0 % of the base run); added: Conv dead|conv @everyone";
    for kind in [Kind::Comment, Kind::Summary] {
        let got = render(&comparison, kind, None).unwrap();
        assert!(got.contains(&escape_md(headline)), "{got}");
        assert!(
            got.contains("| Conv | 1 → 2 | 600.0 µs | 680.0 µs | +80.00 µs | +8.0 % |"),
            "{got}"
        );
        assert!(
            got.contains("| Gemm | 1 → 1 | 300.0 µs | 290.0 µs | -10.00 µs | -1.0 % |"),
            "{got}"
        );
        assert!(
            got.contains(
                "25 profiled runs of each, after the timed runs: 1.000 ms → 1.100 ms a run in kernels (+10.0 %)"
            ),
            "{got}"
        );
        // The node's pipe and mention are escaped: no new cell, no ping.
        assert!(!got.contains("dead|conv"), "{got}");
        assert!(!got.contains(" @everyone"), "{got}");
        assert!(got.contains("and 2 more added."), "{got}");
    }
    let got = html(&comparison);
    assert!(
        got.contains(
            "<li>Conv dead|conv @everyone: 80.00 µs a run, 7.3 % of the candidate&#x27;s</li>"
        ),
        "{got}"
    );
    // Without a diff, no section.
    assert!(!comment(&fixtures::fail()).contains("Operators, base"));
}

#[test]
fn thumbnails_show_in_the_html_report_only_and_only_as_png_data_uris() {
    let png = "data:image/png;base64,iVBORw0KGgo=";
    let mut comparison = fixtures::fail();
    let changed = &mut comparison.models[0].accuracy.as_mut().unwrap().changed;
    changed[0].thumbnail = Some(png.into());
    changed[1].thumbnail = Some("javascript:alert(1)".into());
    changed[2].thumbnail = Some("data:image/png;base64,\"><script>x</script>".into());
    let got = html(&comparison);
    assert_eq!(got.matches("<img class=\"thumb\"").count(), 1, "{got}");
    assert!(
        got.contains("data:image&#x2f;png;base64,iVBORw0KGgo="),
        "{got}"
    );
    assert!(
        !got.contains("javascript:") && !got.contains("<script>x"),
        "{got}"
    );
    assert!(!comment(&comparison).contains("data:image"));
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
