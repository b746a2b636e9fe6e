//! The Hodges-Lehmann estimate of how much slower the candidate is.
//!
//! The gate reports a latency change in milliseconds. The difference of
//! means is dragged around by a few slow outliers, and the difference of
//! medians ignores most of the data; the Hodges-Lehmann shift, the median of
//! all pairwise differences `b_j - a_i`, is the estimate that goes with the
//! Mann-Whitney test and is robust to both. A benchmark can have 100k samples
//! per side, i.e. 10^10 pairs, so the median is found without listing them.

/// Median of all pairwise differences `b_j - a_i` (candidate minus baseline),
/// in the unit of the samples. Positive means the candidate is slower.
///
/// Exact for every sample size, in O(n + m) memory: the k-th smallest
/// difference is found by bisecting on its value, counting the differences
/// at or below a trial value with one O(n + m) two-pointer pass over the
/// sorted samples, until at most 4 (n + m) differences remain in the bracket
/// to list and select from. Real latency data needs a few dozen passes;
/// halving an f64 range can never take more than about 2,100. For an even number of
/// pairs the two middle differences are averaged, as `numpy.median` does.
///
/// `None` when either sample is empty, a value is not finite, or a
/// difference overflows.
pub fn hodges_lehmann_shift(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.is_empty() || b.is_empty() || a.iter().chain(b).any(|x| !x.is_finite()) {
        return None;
    }
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_unstable_by(f64::total_cmp);
    b.sort_unstable_by(f64::total_cmp);
    let pairs = a.len() as u64 * b.len() as u64;
    let upper_middle = kth_difference(&a, &b, pairs / 2 + 1)?;
    let shift = if pairs % 2 == 1 {
        upper_middle
    } else {
        (kth_difference(&a, &b, pairs / 2)? + upper_middle) / 2.0
    };
    Some(shift).filter(|s| s.is_finite())
}

/// Number of pairs with `b_j - a_i <= value`, for ascending `a` and `b`.
///
/// For a fixed j the qualifying i form a suffix of `a`, and the suffix can
/// only shrink as `b_j` grows, because rounded subtraction is monotone in
/// both arguments; so one pointer sweeps `a` once.
fn count_at_most(a: &[f64], b: &[f64], value: f64) -> u64 {
    let mut first = 0;
    let mut count = 0;
    for &bj in b {
        while first < a.len() && bj - a[first] > value {
            first += 1;
        }
        count += (a.len() - first) as u64;
    }
    count
}

/// The k-th smallest (1-based) of all differences `b_j - a_i`, for ascending
/// `a` and `b` and `1 <= k <= a.len() * b.len()`.
fn kth_difference(a: &[f64], b: &[f64], k: u64) -> Option<f64> {
    let mut lo = b[0] - a[a.len() - 1];
    let mut hi = b[b.len() - 1] - a[0];
    if !lo.is_finite() || !hi.is_finite() {
        return None;
    }
    let mut count_lo = count_at_most(a, b, lo);
    if count_lo >= k {
        return Some(lo);
    }
    let mut count_hi = a.len() as u64 * b.len() as u64;
    // Listing the bracket costs about as much as one counting pass once it
    // holds a few times n + m differences.
    let list_limit = 4 * (a.len() + b.len()) as u64;
    // Invariant: count_lo < k <= count_hi, so the answer lies in (lo, hi].
    loop {
        if count_hi - count_lo <= list_limit {
            let mut inside = differences_between(a, b, lo, hi);
            let index = (k - count_lo - 1) as usize;
            let (_, kth, _) = inside.select_nth_unstable_by(index, f64::total_cmp);
            return Some(*kth);
        }
        let mid = lo / 2.0 + hi / 2.0;
        if mid <= lo || mid >= hi {
            // No float lies strictly between: every difference in (lo, hi] is hi.
            return Some(hi);
        }
        let count_mid = count_at_most(a, b, mid);
        if count_mid >= k {
            (hi, count_hi) = (mid, count_mid);
        } else {
            (lo, count_lo) = (mid, count_mid);
        }
    }
}

/// All differences `b_j - a_i` in `(lo, hi]`, for ascending `a` and `b`.
fn differences_between(a: &[f64], b: &[f64], lo: f64, hi: f64) -> Vec<f64> {
    let (mut first_le_hi, mut first_le_lo) = (0, 0);
    let mut out = Vec::new();
    for &bj in b {
        while first_le_hi < a.len() && bj - a[first_le_hi] > hi {
            first_le_hi += 1;
        }
        while first_le_lo < a.len() && bj - a[first_le_lo] > lo {
            first_le_lo += 1;
        }
        out.extend(a[first_le_hi..first_le_lo].iter().map(|&ai| bj - ai));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= 1e-12 * expected.abs().max(1.0)
    }

    #[test]
    fn matches_numpy_median_of_pairwise_differences() {
        // python -c "import numpy as np; print(np.median(np.subtract.outer(np.array(B, float), np.array(A, float))))"
        let ties_a: Vec<f64> = (0..3000)
            .map(|i| 10.0 + ((i * 37) % 101) as f64 / 10.0)
            .collect();
        let ties_b: Vec<f64> = (0..2500)
            .map(|j| 10.3 + ((j * 53) % 103) as f64 / 10.0)
            .collect();
        // A = [10 + (i*0.6180339887 % 1)*5 for i in range(3000)], B = [10.5 + (j*0.4142135623 % 1)*7 for j in range(2001)]
        let smooth_a: Vec<f64> = (0..3000)
            .map(|i| 10.0 + (i as f64 * 0.6180339887 % 1.0) * 5.0)
            .collect();
        let smooth_b: Vec<f64> = (0..2001)
            .map(|j| 10.5 + (j as f64 * 0.4142135623 % 1.0) * 7.0)
            .collect();
        let cases: &[(&str, &[f64], &[f64], f64)] = &[
            (
                "small",
                &[10.2, 11.5, 9.8, 12.0, 10.9],
                &[11.1, 12.4, 13.0, 11.9, 12.2, 12.8],
                1.2999999999999998,
            ),
            (
                "ties",
                &[1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0],
                &[2.0, 3.0, 3.0, 4.0, 4.0, 5.0, 5.0, 6.0],
                1.0,
            ),
            ("n=1 each", &[1.0], &[2.5], 1.5),
            ("n=1 vs 3", &[5.0], &[1.0, 2.0, 3.0], -3.0),
            (
                "odd pair count",
                &[1.0, 2.0, 3.0],
                &[10.0, 20.0, 40.0],
                18.0,
            ),
            ("all equal", &[3.0; 3], &[3.0; 3], 0.0),
            (
                "same sample",
                &[1.0, 2.0, 3.0, 4.0],
                &[1.0, 2.0, 3.0, 4.0],
                0.0,
            ),
            (
                "3000 x 2500 with ties",
                &ties_a,
                &ties_b,
                0.40000000000000036,
            ),
            (
                "3000 x 2001 continuous",
                &smooth_a,
                &smooth_b,
                1.4959539714998016,
            ),
        ];
        for &(name, a, b, expected) in cases {
            let got = hodges_lehmann_shift(a, b).unwrap();
            assert!(close(got, expected), "{name}: {got} vs {expected}");
        }
    }

    #[test]
    fn agrees_with_listing_every_pair() {
        // Random samples, including heavy ties (values drawn from 3 levels)
        // and unequal sizes, against the direct O(n m) definition.
        let mut rng = StdRng::seed_from_u64(7);
        for round in 0..40 {
            let (n, m) = (rng.random_range(1..60), rng.random_range(1..60));
            let levels = if round % 2 == 0 { 3 } else { 1_000_000 };
            let mut draw = |len| -> Vec<f64> {
                (0..len)
                    .map(|_| rng.random_range(0..levels) as f64 * 0.25)
                    .collect()
            };
            let (a, b) = (draw(n), draw(m));
            let mut diffs: Vec<f64> = b
                .iter()
                .flat_map(|bj| a.iter().map(move |ai| bj - ai))
                .collect();
            diffs.sort_by(f64::total_cmp);
            let mid = diffs.len() / 2;
            let expected = if diffs.len() % 2 == 1 {
                diffs[mid]
            } else {
                (diffs[mid - 1] + diffs[mid]) / 2.0
            };
            assert_eq!(
                hodges_lehmann_shift(&a, &b),
                Some(expected),
                "round {round}"
            );
        }
    }

    #[test]
    fn large_samples_stay_fast() {
        // 10^10 pairs; a pair-listing implementation would not finish. The
        // shift is exactly 2 because b is a shifted by 2 (all values are
        // small integers, so every subtraction is exact).
        let a: Vec<f64> = (0..100_000u64)
            .map(|i| ((i * 7919) % 1000) as f64)
            .collect();
        let b: Vec<f64> = a.iter().map(|x| x + 2.0).collect();
        let start = std::time::Instant::now();
        assert_eq!(hodges_lehmann_shift(&a, &b), Some(2.0));
        assert!(start.elapsed().as_secs_f64() < 5.0);
    }

    #[test]
    fn rejects_degenerate_input() {
        let cases: &[(&str, &[f64], &[f64])] = &[
            ("empty a", &[], &[1.0]),
            ("empty b", &[1.0], &[]),
            ("NaN", &[1.0, f64::NAN], &[1.0]),
            ("infinite", &[1.0], &[f64::INFINITY]),
            ("overflowing difference", &[-f64::MAX], &[f64::MAX]),
        ];
        for &(name, a, b) in cases {
            assert_eq!(hodges_lehmann_shift(a, b), None, "{name}");
        }
    }
}
