//! How many session pairs the A/B times, and how many runs each: a pilot, then Kalibera and
//! Jones's rule for the runs per session, then the budget spread over the remaining looks.
//!
//! Each session pair costs `open_s` to open and warm up and `pair_s` per run of both models.
//! The variance of the mean log ratio over `k` pairs of `n` runs is
//! `(between² + within_per_run / n) / k`; for a fixed time, it is smallest at
//! `n = sqrt(open_s * within_per_run / (pair_s * between²))` (Kalibera & Jones, "Rigorous
//! benchmarking in reasonable time", ISMM 2013, eq. for the repetitions per level). A runner
//! whose sessions all run alike gets long sessions; one whose sessions differ gets many short
//! ones, because only more sessions average that spread away.

use crate::measure::ab::BLOCK_RUNS;
use crate::stats::MIN_SESSIONS;

/// Runs beyond a tail quantile that each session must hold before the tail is judged: with
/// fewer, a session's p99 is one or two runs, whatever the OS did at that moment.
pub const MIN_TAIL_RUNS: f64 = 5.0;

/// Session pairs in the first look: the fewest that give an interval.
pub const PILOT_SESSIONS: usize = MIN_SESSIONS;

/// Fewest runs of each model in one session: two blocks of [`BLOCK_RUNS`], so the order
/// alternates (AB, BA) and the within-session spread can be told from two halves. Models slow
/// enough for shorter blocks keep this many runs, rounded up to whole blocks, so a session's
/// quantiles rest on as many runs whatever the block.
pub const MIN_SESSION_RUNS: usize = 2 * BLOCK_RUNS;

/// Most runs of each model in one session: beyond this a session only re-measures itself.
pub const MAX_SESSION_RUNS: usize = 4000;

/// Share of the budget the pilot may take.
const PILOT_SHARE: f64 = 1.0 / 3.0;

/// Session pairs the rest of the budget must still afford after the pilot: sessions long enough
/// to leave fewer would buy precision within sessions at the price of degrees of freedom
/// across them, which the interval pays for in its t quantile.
pub const MIN_MORE_SESSIONS: usize = 12;

/// The fewest runs of a session in blocks of `block` runs: [`MIN_SESSION_RUNS`] rounded up to
/// whole blocks.
fn fewest_runs(block: usize) -> usize {
    let block = block.max(1);
    MIN_SESSION_RUNS.div_ceil(block) * block
}

/// `runs` rounded up to whole blocks of `block` runs and kept within [`fewest_runs`] ..
/// [`MAX_SESSION_RUNS`].
fn whole_blocks(runs: f64, block: usize) -> usize {
    let block = block.max(1);
    let runs = if runs.is_finite() {
        runs.max(0.0)
    } else {
        MAX_SESSION_RUNS as f64
    };
    let runs = (runs.min(MAX_SESSION_RUNS as f64).ceil() as usize).div_ceil(block) * block;
    runs.clamp(fewest_runs(block), MAX_SESSION_RUNS)
}

/// Runs of each model per session, in blocks of `block`, so that every session holds
/// [`MIN_TAIL_RUNS`] runs beyond the highest judged quantile `q_max` (500 for p99).
pub fn tail_runs(q_max: f64, block: usize) -> usize {
    if q_max <= 0.5 || q_max >= 1.0 {
        return fewest_runs(block);
    }
    whole_blocks(MIN_TAIL_RUNS / (1.0 - q_max), block)
}

/// Runs per session in the pilot, in blocks of `block`: as many as let [`PILOT_SESSIONS`] pairs
/// fit in a third of `budget_s`, but no more than the tails need (`q_max`), and never fewer than
/// [`MIN_SESSION_RUNS`].
pub fn pilot_runs(budget_s: f64, open_s: f64, pair_s: f64, q_max: f64, block: usize) -> usize {
    let per_session = budget_s * PILOT_SHARE / PILOT_SESSIONS as f64 - open_s;
    let fits = per_session / pair_s.max(1e-9);
    whole_blocks(fits.min(tail_runs(q_max, block) as f64), block)
}

/// How the A/B's runs go: seconds to open a session pair, seconds per run of both models, and
/// runs per block.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub open_s: f64,
    pub pair_s: f64,
    pub block: usize,
}

/// Runs per session after the pilot, by Kalibera and Jones's rule from the pilot's spread:
/// `within_sd` is the within-session sd of one pair's log ratio at `pilot_runs` runs,
/// `between_sd` the sessions' own. No longer than lets the remaining `left_s` afford
/// [`MIN_MORE_SESSIONS`] pairs; raised to what the tails need (`q_max`) when that still holds;
/// within [`MIN_SESSION_RUNS`] .. [`MAX_SESSION_RUNS`], in whole blocks.
pub fn session_runs(
    pilot_runs: usize,
    within_sd: f64,
    between_sd: f64,
    pace: Pace,
    q_max: f64,
    left_s: f64,
) -> usize {
    let Pace {
        open_s,
        pair_s,
        block,
    } = pace;
    let block = block.max(1);
    let per_run_variance = within_sd.powi(2) * pilot_runs as f64;
    let optimum = if between_sd > 0.0 && pair_s > 0.0 {
        (open_s.max(0.0) * per_run_variance / (pair_s * between_sd.powi(2))).sqrt()
    } else {
        f64::INFINITY
    };
    let cap = (left_s / MIN_MORE_SESSIONS as f64 - open_s.max(0.0)) / pair_s.max(1e-9);
    let cap = if cap.is_finite() { cap.max(0.0) } else { 0.0 };
    // The cap rounds down to whole blocks, the optimum up; neither goes below the fewest runs.
    let cap_blocks = ((cap as usize) / block * block).max(fewest_runs(block));
    let runs = whole_blocks(optimum, block).min(cap_blocks);
    let tails = tail_runs(q_max, block);
    if runs < tails && tails <= cap_blocks {
        tails
    } else {
        runs
    }
}

/// Session pairs to add before look `look` of `looks`: the pairs `left_s` affords at
/// `session_s` each, spread evenly over the looks still to come, so the budget is used before
/// the run gives up.
pub fn sessions_to_add(look: u32, looks: u32, left_s: f64, session_s: f64) -> usize {
    let affordable = (left_s / session_s.max(1e-9)).floor();
    if !affordable.is_finite() || affordable < 1.0 {
        return 0;
    }
    let looks_left = f64::from(looks.saturating_sub(look) + 1);
    (affordable / looks_left).ceil() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pace(open_s: f64, pair_s: f64, block: usize) -> Pace {
        Pace {
            open_s,
            pair_s,
            block,
        }
    }

    #[test]
    fn kalibera_and_jones_give_short_sessions_when_sessions_differ_and_long_ones_when_not() {
        // open 0.2 s, 2 ms a pair, within sd 1 % at 500 runs (5e-2 per run), between 1 %:
        // n = sqrt(0.2 * 0.05 / (0.002 * 1e-4)) = 223.6, up to whole blocks: 225.
        assert_eq!(
            session_runs(500, 0.01, 0.01, pace(0.2, 0.002, 25), 0.5, 30.0),
            225
        );
        // Sessions all alike: as long as 12 more pairs allow (30 s / 12 - 0.2 s = 1,150 runs).
        assert_eq!(
            session_runs(500, 0.01, 0.0, pace(0.2, 0.002, 25), 0.5, 30.0),
            1150
        );
        assert_eq!(
            session_runs(500, 0.01, 0.0, pace(0.0, 1e-6, 25), 0.5, 30.0),
            MAX_SESSION_RUNS
        );
        // A large session effect: the shortest sessions.
        assert_eq!(
            session_runs(500, 0.001, 0.05, pace(0.2, 0.002, 25), 0.5, 30.0),
            MIN_SESSION_RUNS
        );
        // p99 judged: 500 runs per session when 12 such sessions still fit...
        assert_eq!(
            session_runs(500, 0.001, 0.05, pace(0.2, 0.002, 25), 0.99, 30.0),
            500
        );
        // ...and the optimum when they do not (12 x (0.2 + 500 x 0.002) = 14.4 s > 10 s).
        assert_eq!(
            session_runs(500, 0.001, 0.05, pace(0.2, 0.002, 25), 0.99, 10.0),
            MIN_SESSION_RUNS
        );
        // A 40 ms model with 20 s left: never under two blocks, however little is left.
        assert_eq!(
            session_runs(50, 0.01, 0.01, pace(0.3, 0.08, 25), 0.99, 20.0),
            MIN_SESSION_RUNS
        );
    }

    #[test]
    fn the_pilot_fits_a_third_of_the_budget_and_no_more_than_the_tails_need() {
        // A 1 ms model: 2.5 s a session would allow 1,150 runs; p99 needs 500.
        assert_eq!(pilot_runs(30.0, 0.2, 0.002, 0.99, 25), 500);
        assert_eq!(pilot_runs(30.0, 0.2, 0.002, 0.95, 25), 100);
        // A 40 ms model: 2.5 s a session is 28 runs; never fewer than two blocks.
        assert_eq!(pilot_runs(30.0, 0.2, 0.08, 0.99, 25), MIN_SESSION_RUNS);
        // 120 s: 10 s a session, 122.5 runs, up to 125.
        assert_eq!(pilot_runs(120.0, 0.2, 0.08, 0.99, 25), 125);
        assert_eq!(tail_runs(0.99, 25), 500);
        assert_eq!(tail_runs(0.5, 25), MIN_SESSION_RUNS);
    }

    #[test]
    fn blocks_shorter_than_25_runs_keep_sessions_of_50_runs_or_more_in_whole_blocks() {
        // Blocks of one run at 80 ms a pair: 120 s gives 10 s a pilot session, 122.5 runs, up
        // to 123 (not 125, the next 25).
        assert_eq!(pilot_runs(120.0, 0.2, 0.08, 0.99, 1), 123);
        // Blocks of 3: the fewest runs is 51, two blocks' 50 rounded up to whole blocks.
        assert_eq!(pilot_runs(30.0, 0.2, 0.08, 0.99, 3), 51);
        assert_eq!(tail_runs(0.99, 3), 501);
        assert_eq!(tail_runs(0.5, 1), MIN_SESSION_RUNS);
        // Kalibera and Jones's optimum rounds up to whole blocks of the block given: 223.6 ->
        // 224 in blocks of one run, 225 in blocks of 25.
        assert_eq!(
            session_runs(500, 0.01, 0.01, pace(0.2, 0.002, 1), 0.5, 30.0),
            224
        );
        // The cap rounds down: 20 s / 12 - 0.3 s = 1.367 s = 17.1 runs at 80 ms, so the fewest.
        assert_eq!(
            session_runs(50, 0.01, 0.0, pace(0.3, 0.08, 2), 0.5, 20.0),
            MIN_SESSION_RUNS
        );
        // 120 s left, sessions alike: (10 s - 0.3 s) / 0.08 s = 121.25 runs, down to 121.
        assert_eq!(
            session_runs(50, 0.01, 0.0, pace(0.3, 0.08, 1), 0.5, 120.0),
            121
        );
    }

    #[test]
    fn the_budget_left_is_spread_over_the_looks_to_come() {
        assert_eq!(sessions_to_add(2, 4, 30.0, 1.0), 10);
        assert_eq!(sessions_to_add(4, 4, 30.0, 1.0), 30);
        assert_eq!(sessions_to_add(3, 4, 0.5, 1.0), 0);
        assert_eq!(sessions_to_add(2, 4, f64::NAN, 1.0), 0);
    }
}
