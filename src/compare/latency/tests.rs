//! The adaptive A/B's error rates, simulated with the noise of a shared CI runner.
//!
//! A criterion whose true ratio sits exactly on its limit may come out inconclusive, but as a
//! pass (interval wholly at or below the limit) or a fail (wholly above) no more often than the
//! significance allows, however many of the planned looks the sequence takes.
//!
//! Honest intervals need [`stats::MIN_BLOCKS`] whole A/B blocks, so the simulated A/Bs run to
//! 4,000 runs per model and the two simulations are too slow for every debug `cargo test`; they
//! are ignored there and run with `--ignored` (seeded, so each run gives the same counts).

use std::convert::Infallible;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal};

use super::*;

/// Runs per model at the first look, the fewest that give [`stats::MIN_BLOCKS`] whole A/B
/// blocks: the looks then come at 500, 1,000, 2,000 and 4,000 runs.
const FIRST_RUNS: usize = 500;
/// Fewer replicates than the gate's 2,000 keep the simulation fast; the interval's own Monte
/// Carlo noise then adds a little to the error rates, which only makes the test stricter.
const TEST_RESAMPLES: usize = 200;

/// One A/B of `runs` runs per model with a CI runner's noise: every run lognormal around its
/// block's level (sigma 0.05); each A/B block of 25 runs drifting for both models alike
/// (sigma 0.03); and one block in 20 of each model hit by a burst that slows all its runs by
/// 30 %. The candidate is the same process `ratio` times slower, so at every quantile the true
/// candidate/baseline ratio is exactly `ratio`.
fn ab(runs: usize, ratio: f64, rng: &mut StdRng) -> (Vec<f64>, Vec<f64>) {
    let run_noise = LogNormal::new(0.0, 0.05).unwrap();
    let drift = LogNormal::new(0.0, 0.03).unwrap();
    let (mut base, mut candidate) = (Vec::new(), Vec::new());
    for _ in 0..runs.div_ceil(BLOCK_RUNS) {
        let level = drift.sample(rng);
        for (side, scale) in [(&mut base, 1.0), (&mut candidate, ratio)] {
            let burst = if rng.random_bool(0.05) { 1.3 } else { 1.0 };
            side.extend((0..BLOCK_RUNS).map(|_| scale * level * burst * run_noise.sample(rng)));
        }
    }
    base.truncate(runs);
    candidate.truncate(runs);
    (base, candidate)
}

/// How often, out of `trials` simulated A/Bs at true ratio `ratio`, each latency criterion
/// (p50, p95, p99) ended as each status, and how often any of them failed.
struct Tally {
    pass: [usize; 3],
    fail: [usize; 3],
    any_fail: usize,
    trials: usize,
}

fn simulate(ratio: f64, trials: usize, seed: u64) -> Tally {
    let mut rng = StdRng::seed_from_u64(seed);
    let criteria = Criteria::default();
    let mut tally = Tally {
        pass: [0; 3],
        fail: [0; 3],
        any_fail: 0,
        trials,
    };
    let most = FIRST_RUNS << (PLANNED_LOOKS - 1);
    for trial in 0..trials {
        let (base, candidate) = ab(most, ratio, &mut rng);
        let prefix = |n: usize| {
            Ok::<_, Infallible>((n <= most).then(|| (base[..n].to_vec(), candidate[..n].to_vec())))
        };
        let last = looks_with(FIRST_RUNS, &criteria, trial as u64, prefix, TEST_RESAMPLES)
            .unwrap()
            .unwrap();
        for (i, c) in last.criteria.iter().enumerate() {
            tally.pass[i] += usize::from(c.status == Status::Pass);
            tally.fail[i] += usize::from(c.status == Status::Fail);
        }
        tally.any_fail += usize::from(last.criteria.iter().any(|c| c.status == Status::Fail));
    }
    eprintln!(
        "ratio {ratio}: pass {:?} fail {:?} any fail {} of {trials}",
        tally.pass, tally.fail, tally.any_fail
    );
    tally
}

fn rate(count: usize, trials: usize) -> f64 {
    count as f64 / trials as f64
}

#[test]
#[ignore = "minutes in a debug build; .ci/run runs it optimised: cargo test --release --lib -- --ignored"]
fn at_the_limit_repeated_looks_neither_pass_nor_fail_more_than_the_significance_allows() {
    let t = simulate(1.05, 200, 1);
    for i in 0..3 {
        assert!(
            rate(t.pass[i], t.trials) <= 0.05,
            "false pass: {:?}",
            t.pass
        );
        assert!(
            rate(t.fail[i], t.trials) <= 0.05,
            "false fail: {:?}",
            t.fail
        );
    }
}

#[test]
#[ignore = "minutes in a debug build; .ci/run runs it optimised: cargo test --release --lib -- --ignored"]
fn identical_models_rarely_fail_and_a_15_percent_slowdown_almost_always_does() {
    let same = simulate(1.0, 100, 2);
    assert!(rate(same.any_fail, same.trials) <= 0.01, "{:?}", same.fail);
    let slower = simulate(1.15, 100, 3);
    assert!(
        rate(slower.any_fail, slower.trials) >= 0.95,
        "{:?}",
        slower.fail
    );
}

#[test]
fn blocks_shorten_with_few_runs_to_stay_many_and_divide_the_ab_block() {
    let cases = [
        (10, 1),
        (99, 1),
        (100, 5),
        (499, 5),
        (500, 25),
        (10_000, 25),
    ];
    for (runs, len) in cases {
        assert_eq!(block_runs(runs), len, "{runs} runs");
    }
}

#[test]
fn the_intervals_confidence_is_the_significance_spread_over_the_looks() {
    assert!((interval_confidence(0.05, 1) - 0.95).abs() < 1e-12);
    assert!((interval_confidence(0.05, PLANNED_LOOKS) - 0.9875).abs() < 1e-12);
    assert!((interval_confidence(0.01, 0) - 0.99).abs() < 1e-12);
}

/// Reference values from numpy:
/// `np.percentile([3, 1, 2, 10, 4], np.linspace(0, 100, 101))[[0, 1, 25, 33, 50, 99, 100]]`.
#[test]
fn ecdf_is_the_101_percentiles_numpy_gives() {
    let q = ecdf(&[3.0, 1.0, 2.0, 10.0, 4.0]);
    assert_eq!(q.len(), ECDF_POINTS);
    let want = [
        (0, 1.0),
        (1, 1.04),
        (25, 2.0),
        (33, 2.32),
        (50, 3.0),
        (99, 9.76),
        (100, 10.0),
    ];
    for (i, v) in want {
        assert!((q[i] - v).abs() < 1e-9, "quantile {i}: {} != {v}", q[i]);
    }
    assert!(ecdf(&[]).is_empty());
    assert!(ecdf(&[f64::NAN]).is_empty());
}
