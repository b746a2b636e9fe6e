//! Bootstrap intervals that respect how latency noise arrives: in bursts.
//!
//! A runner's interference (another job, a page-cache flush, a throttled core) lasts for a while
//! and slows every run in that stretch. Runs are therefore not independent, and resampling them
//! one by one, as the plain bootstrap does, treats one slow stretch as many independent slow runs:
//! the interval comes out far too narrow and an A/A comparison "finds" a regression in its tail.
//! Resampling whole blocks of consecutive runs keeps each burst together, so it counts once. In
//! a same-runner A/B the base and candidate blocks were timed back to back, so block k of each is
//! resampled together (paired), which also cancels drift that hits both.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::bootstrap::{all_positive_finite, quantile_in_place};
use super::describe::percentile;
use super::interval::Interval;

/// Fewest blocks a sample may be cut into. A replicate can only recombine the blocks there are:
/// with few of them the replicates barely vary and the interval comes out too narrow (with two
/// blocks of 25 runs, identical distributions gave an interval that excluded 1 in about 30 % of
/// trials at 50 runs, 16 % at 100). Twenty blocks is the usual floor for the percentile bootstrap
/// to approach its nominal coverage; with fewer runs, use shorter blocks.
pub const MIN_BLOCKS: usize = 20;

/// How the two samples are cut into blocks of consecutive runs, and how the blocks are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocks {
    /// Block k of the baseline and block k of the candidate were timed together: draw them
    /// together. Holds the runs per block.
    Paired(usize),
    /// The two samples come from separate runs: draw each one's blocks on its own. Holds the
    /// runs per block.
    Independent(usize),
}

/// Percentile block-bootstrap interval for `quantile_q(b) / quantile_q(a)` (candidate over
/// baseline). Each sample is cut into consecutive blocks of the given length (a trailing partial
/// block is dropped); each replicate draws as many blocks as there are, with replacement, and
/// takes the ratio of the type-7 quantiles of the drawn runs. With `Independent(1)` this is the
/// ordinary percentile bootstrap. `None` when a sample has fewer than
/// [`MIN_BLOCKS`] blocks, holds a value that is not finite and positive, `Paired` is asked for samples of
/// different block counts, `resamples < 2`, or `q`/`confidence` is out of range.
pub fn block_bootstrap_ratio_ci(
    a: &[f64],
    b: &[f64],
    blocks: Blocks,
    q: f64,
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Option<Interval> {
    let (block_len, paired) = match blocks {
        Blocks::Paired(len) => (len, true),
        Blocks::Independent(len) => (len, false),
    };
    let valid = (0.0..=1.0).contains(&q) && confidence > 0.0 && confidence < 1.0 && resamples >= 2;
    if !valid || block_len == 0 || !all_positive_finite(a) || !all_positive_finite(b) {
        return None;
    }
    let (ka, kb) = (a.len() / block_len, b.len() / block_len);
    if ka < MIN_BLOCKS || kb < MIN_BLOCKS || (paired && ka != kb) {
        return None;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut buf_a, mut buf_b) = (
        Vec::with_capacity(ka * block_len),
        Vec::with_capacity(kb * block_len),
    );
    let mut ratios = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        buf_a.clear();
        buf_b.clear();
        for _ in 0..ka.max(kb) {
            let ia = rng.random_range(0..ka);
            let ib = if paired { ia } else { rng.random_range(0..kb) };
            if buf_a.len() < ka * block_len {
                buf_a.extend_from_slice(&a[ia * block_len..(ia + 1) * block_len]);
            }
            if buf_b.len() < kb * block_len {
                buf_b.extend_from_slice(&b[ib * block_len..(ib + 1) * block_len]);
            }
        }
        let ratio = quantile_in_place(&mut buf_b, q) / quantile_in_place(&mut buf_a, q);
        if !ratio.is_finite() {
            return None;
        }
        ratios.push(ratio);
    }
    ratios.sort_unstable_by(f64::total_cmp);
    let alpha = (1.0 - confidence) / 2.0;
    Some(Interval {
        lower: percentile(&ratios, alpha)?,
        upper: percentile(&ratios, 1.0 - alpha)?,
        confidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 500 runs each, [`MIN_BLOCKS`] blocks of 25; the candidate is 3 % slower and one block of
    /// 25 of its runs (50..75) hit a burst that made them 40 % slower.
    fn samples() -> (Vec<f64>, Vec<f64>) {
        let a: Vec<f64> = (0..500)
            .map(|i| 1.0 + 0.1 * (i as f64 * 1.7).sin().powi(2))
            .collect();
        let b: Vec<f64> = (0..500)
            .map(|i| {
                let base = (1.0 + 0.1 * (i as f64 * 2.3 + 0.5).sin().powi(2)) * 1.03;
                if (50..75).contains(&i) {
                    base * 1.4
                } else {
                    base
                }
            })
            .collect();
        (a, b)
    }

    #[test]
    fn agrees_with_an_independent_numpy_block_bootstrap() {
        // The same resampling written with numpy (100,000 replicates, numpy 2.4.6):
        //   i = np.arange(500); a = 1 + 0.1*np.sin(i*1.7)**2
        //   b = (1 + 0.1*np.sin(i*2.3+0.5)**2)*1.03; b[50:75] *= 1.4
        //   rng = np.random.default_rng(1)
        //   per replicate: ia = rng.integers(0, k, k); ib = ia if paired else rng.integers(0, k, k)
        //   r = np.quantile(B[ib].ravel(), q) / np.quantile(A[ia].ravel(), q)   (A, B: k x L blocks)
        //   interval = np.quantile(r, [0.025, 0.975])
        // gave, for (L, paired, q):
        //   (25, True, 0.5)   -> 1.028000, 1.044937
        //   (25, True, 0.99)  -> 1.029949, 1.441453
        //   (25, False, 0.99) -> 1.029943, 1.441462
        //   (1, False, 0.99)  -> 1.389798, 1.438870
        let (a, b) = samples();
        let cases = [
            (Blocks::Paired(25), 0.5, 1.028000, 1.044937),
            (Blocks::Paired(25), 0.99, 1.029949, 1.441453),
            (Blocks::Independent(25), 0.99, 1.029943, 1.441462),
            (Blocks::Independent(1), 0.99, 1.389798, 1.438870),
        ];
        for (blocks, q, lower, upper) in cases {
            let ci = block_bootstrap_ratio_ci(&a, &b, blocks, q, 5_000, 0.95, 7).unwrap();
            // Monte Carlo error of 5,000 replicates against 100,000.
            assert!(
                (ci.lower - lower).abs() < 0.01,
                "{blocks:?} {q}: lower {} vs {lower}",
                ci.lower
            );
            assert!(
                (ci.upper - upper).abs() < 0.015,
                "{blocks:?} {q}: upper {} vs {upper}",
                ci.upper
            );
        }
    }

    #[test]
    fn a_burst_widens_the_interval_instead_of_faking_a_tail_regression() {
        let (a, b) = samples();
        let iid =
            block_bootstrap_ratio_ci(&a, &b, Blocks::Independent(1), 0.99, 5000, 0.95, 1).unwrap();
        let blocked =
            block_bootstrap_ratio_ci(&a, &b, Blocks::Paired(25), 0.99, 5000, 0.95, 1).unwrap();
        assert!(
            iid.lower > 1.3,
            "one burst looks like a 30 % tail regression run by run: {iid:?}"
        );
        assert!(
            blocked.lower < 1.05,
            "in blocks it is one event: {blocked:?}"
        );
    }

    #[test]
    fn degenerate_inputs_give_none_and_seeds_repeat() {
        let (a, b) = samples();
        assert_eq!(
            block_bootstrap_ratio_ci(&a[..30], &b, Blocks::Paired(25), 0.5, 100, 0.95, 1),
            None
        );
        assert_eq!(
            block_bootstrap_ratio_ci(&a[..20], &b, Blocks::Independent(25), 0.5, 100, 0.95, 1),
            None
        );
        assert_eq!(
            block_bootstrap_ratio_ci(&a, &b, Blocks::Paired(0), 0.5, 100, 0.95, 1),
            None
        );
        // 19 blocks of 25 are too few, 20 are enough.
        assert_eq!(
            block_bootstrap_ratio_ci(&a[..499], &b[..499], Blocks::Paired(25), 0.5, 100, 0.95, 1),
            None
        );
        assert!(block_bootstrap_ratio_ci(
            &a[..499],
            &b[..499],
            Blocks::Paired(24),
            0.5,
            100,
            0.95,
            1
        )
        .is_some());
        assert_eq!(
            block_bootstrap_ratio_ci(
                &[1.0, f64::NAN],
                &b,
                Blocks::Independent(1),
                0.5,
                100,
                0.95,
                1
            ),
            None
        );
        let once = block_bootstrap_ratio_ci(&a, &b, Blocks::Paired(25), 0.9, 200, 0.95, 9);
        assert_eq!(
            once,
            block_bootstrap_ratio_ci(&a, &b, Blocks::Paired(25), 0.9, 200, 0.95, 9)
        );
    }
}
