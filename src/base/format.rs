//! Numbers as the reports print them.
//!
//! Every value reaches the templates as a finished string, so one place decides precision,
//! signs and units: latencies to the microsecond, accuracy in percent with two decimals,
//! changes signed, p-values to three decimals with a floor. A missing or non-finite number
//! prints as an em dash rather than `NaN`.

use crate::stats::Interval;

/// What a missing value prints as.
pub const NONE: &str = "—";

/// A measured value with its unit: `1.234 ms`, `95.32 %`, and a fraction (0..1) as a
/// percentage, `95.31 %`.
pub fn value(v: Option<f64>, unit: &str) -> String {
    let Some(v) = finite(v) else {
        return NONE.into();
    };
    match unit {
        "ms" => duration(v),
        "%" => format!("{v:.2} %"),
        "fraction" => percent(v),
        "" => format!("{v:.3}"),
        "MiB" | "samples/s" => format!("{v:.1} {unit}"),
        _ => format!("{v:.3} {unit}"),
    }
}

/// A duration given in milliseconds, in the unit that fits it (ns, µs, ms or s) with four
/// significant digits at most, as hyperfine prints them: `2.900 µs`, `118.0 µs`, `2.704 ms`.
pub fn duration(ms: f64) -> String {
    if !ms.is_finite() {
        return NONE.into();
    }
    let (v, unit) = match ms.abs() {
        a if a >= 1000.0 => (ms / 1000.0, "s"),
        a if a >= 1.0 => (ms, "ms"),
        a if a >= 0.001 => (ms * 1000.0, "µs"),
        _ => (ms * 1e6, "ns"),
    };
    let decimals = match v.abs() {
        a if a >= 100.0 => 1,
        a if a >= 10.0 => 2,
        _ => 3,
    };
    format!("{v:.decimals$} {unit}")
}

/// A fraction in 0..1 as a percentage: `95.32 %`.
pub fn percent(fraction: f64) -> String {
    value(Some(fraction * 100.0), "%")
}

/// A change: in points for values already in percent (`-0.58 pts`), else relative (`+3.1 %`).
pub fn change(v: Option<f64>, unit: &str) -> String {
    let Some(v) = finite(v) else {
        return NONE.into();
    };
    if unit == "%" {
        format!("{} pts", signed(v, 2))
    } else {
        format!("{} %", signed(v, 1))
    }
}

/// How a criterion's or a test's interval reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalKind {
    /// A candidate/baseline ratio, shown as the relative change it means: `+1.2 % .. +4.8 %`.
    Ratio,
    /// A difference in percentage points: `-1.20 .. +0.40 pts`.
    Points,
    /// An interval on a fraction (0..1), as percentages: `91.20 % .. 98.10 %`.
    Fraction,
    /// Anything else: `0.912 .. 0.981`.
    Plain,
}

/// An interval in its own unit: `+1.2 % .. +4.8 %`, `-1.20 .. +0.40 pts`, `91.20 % .. 98.10 %`.
/// Every interval carries its own confidence, `(98.75 %)`, so a column of intervals taken at
/// different levels (a sequential look's, a Wilson bound's) never reads as one level.
pub fn interval(ci: Option<&Interval>, kind: IntervalKind) -> String {
    let Some(ci) = ci.filter(|ci| ci.lower.is_finite() && ci.upper.is_finite()) else {
        return NONE.into();
    };
    format!("{} ({})", bounds(ci, kind), confidence(ci.confidence))
}

/// A confidence level as a percentage with the digits it has: `95 %`, `98.75 %`.
pub fn confidence(level: f64) -> String {
    let text = format!("{:.3}", level * 100.0);
    format!("{} %", text.trim_end_matches('0').trim_end_matches('.'))
}

fn bounds(ci: &Interval, kind: IntervalKind) -> String {
    match kind {
        IntervalKind::Points => format!("{} .. {} pts", signed(ci.lower, 2), signed(ci.upper, 2)),
        IntervalKind::Ratio => format!(
            "{} % .. {} %",
            signed((ci.lower - 1.0) * 100.0, 1),
            signed((ci.upper - 1.0) * 100.0, 1)
        ),
        IntervalKind::Fraction => format!("{} .. {}", percent(ci.lower), percent(ci.upper)),
        IntervalKind::Plain => format!("{:.3} .. {:.3}", ci.lower, ci.upper),
    }
}

/// A p-value: `0.003`, or `< 0.001` below the precision shown.
pub fn p_value(p: Option<f64>) -> String {
    match finite(p) {
        Some(p) if p < 0.001 => "< 0.001".into(),
        Some(p) => format!("{p:.3}"),
        None => NONE.into(),
    }
}

/// A test statistic: three decimals, or one for large counts like Mann-Whitney's U.
pub fn statistic(v: f64) -> String {
    match finite(Some(v)) {
        Some(v) if v.abs() >= 1000.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.3}"),
        None => NONE.into(),
    }
}

/// A signed number; one that rounds to zero prints unsigned, so `-0.00` never shows.
pub fn signed(v: f64, decimals: usize) -> String {
    let text = format!("{v:+.decimals$}");
    if text[1..].chars().all(|c| c == '0' || c == '.') {
        text[1..].to_string()
    } else {
        text
    }
}

/// `1 model`, `3 models`.
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_values_changes_intervals_and_p_values() {
        assert_eq!(value(Some(1.2344), "ms"), "1.234 ms");
        assert_eq!(value(Some(95.3249), "%"), "95.32 %");
        assert_eq!(value(Some(0.9375), "fraction"), "93.75 %");
        assert_eq!(value(Some(812.04), "MiB"), "812.0 MiB");
        assert_eq!(value(Some(f64::NAN), "ms"), NONE);
        assert_eq!(value(None, "ms"), NONE);
        assert_eq!(percent(0.98), "98.00 %");
        assert_eq!(change(Some(3.12), "ms"), "+3.1 %");
        assert_eq!(change(Some(-0.584), "%"), "-0.58 pts");
        assert_eq!(change(Some(-0.001), "%"), "0.00 pts");
        assert_eq!(change(Some(f64::INFINITY), "ms"), NONE);
        let ci = Interval {
            lower: 1.0104,
            upper: 1.0496,
            confidence: 0.95,
        };
        assert_eq!(
            interval(Some(&ci), IntervalKind::Ratio),
            "+1.0 % .. +5.0 % (95 %)"
        );
        assert_eq!(
            interval(Some(&ci), IntervalKind::Plain),
            "1.010 .. 1.050 (95 %)"
        );
        // A sequential look's level keeps its digits: each interval says its own.
        let look = Interval {
            confidence: 0.9875,
            ..ci
        };
        assert_eq!(
            interval(Some(&look), IntervalKind::Ratio),
            "+1.0 % .. +5.0 % (98.75 %)"
        );
        let wilson = Interval {
            lower: 0.8139,
            upper: 0.976,
            confidence: 0.95,
        };
        assert_eq!(
            interval(Some(&wilson), IntervalKind::Fraction),
            "81.39 % .. 97.60 % (95 %)"
        );
        let pts = Interval {
            lower: -1.2,
            upper: 0.4,
            confidence: 0.95,
        };
        assert_eq!(
            interval(Some(&pts), IntervalKind::Points),
            "-1.20 .. +0.40 pts (95 %)"
        );
        assert_eq!(interval(None, IntervalKind::Plain), NONE);
        assert_eq!(p_value(Some(0.0031)), "0.003");
        assert_eq!(p_value(Some(0.00004)), "< 0.001");
        assert_eq!(p_value(Some(1.0)), "1.000");
        assert_eq!(p_value(None), NONE);
        assert_eq!(statistic(19520.0), "19520.0");
        assert_eq!(statistic(2.3104), "2.310");
        assert_eq!(signed(-0.0, 1), "0.0");
        assert_eq!(signed(2.6, 0), "+3");
    }
}
