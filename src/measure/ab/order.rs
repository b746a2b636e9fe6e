//! Which model runs when: blocks of runs, in ABBA order for two models (rotated for more), and
//! which one opens the first block, drawn.

/// Most runs per A/B block: within a session pair the models alternate ABBA in blocks of this
/// many runs, short enough that drift within a block is small, long enough that switching models
/// (and their caches) is a small share of the time. The comparison's bootstrap draws these same
/// blocks, so each drawn block pair is one base block and the candidate block timed beside it.
pub const BLOCK_RUNS: usize = 25;

/// Longest a block of one model may run, in seconds: a slower model gets fewer runs a block
/// (see [`block_runs_for`]). A CI runner's speed moves in stretches of about a second (measured
/// on a 2-core runner: a 40 ms model's consecutive runs correlate at 0.78, docs/benchmarks.md
/// 13l), so blocks of a second would read the stretch each model happened to run in rather than
/// the models; blocks this short put both models in every stretch. Models of up to 4 ms a run
/// keep blocks of [`BLOCK_RUNS`] with room to spare, so a 1 ms model slowed by a busy neighbour
/// during its warmup keeps them too.
pub const BLOCK_TIME_S: f64 = 0.1;

/// Runs per block for models whose fastest takes `run_s` seconds a run: [`BLOCK_RUNS`], or as
/// many as fit in [`BLOCK_TIME_S`] when fewer do, and never under one. A model of up to 4 ms a
/// run keeps blocks of [`BLOCK_RUNS`].
pub fn block_runs_for(run_s: f64) -> usize {
    if !(run_s.is_finite() && run_s > 0.0) {
        return BLOCK_RUNS;
    }
    let fits = (BLOCK_TIME_S / run_s).floor();
    if fits >= BLOCK_RUNS as f64 {
        BLOCK_RUNS
    } else {
        (fits as usize).max(1)
    }
}

/// The order of block `block`: `order` rotated by one every two blocks (with three or more
/// models; two alternate ABBA), and reversed in odd blocks.
pub(super) fn block_order(order: &[usize], block: u64) -> Vec<usize> {
    let mut order = order.to_vec();
    if order.len() > 2 {
        let turn = (block / 2) % order.len() as u64;
        order.rotate_left(turn as usize);
    }
    if !block.is_multiple_of(2) {
        order.reverse();
    }
    order
}

/// Which arm opens the first block, drawn from the clock's nanoseconds: uniform enough for
/// an order nobody can count on.
pub(super) fn draw(arms: usize) -> usize {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as usize % arms.max(1))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_hold_at_most_a_tenth_of_a_second_of_the_fastest_model() {
        // A 1 ms model (resnet_small), twice as slow beside a busy neighbour, and anything
        // faster: 25 runs, as always.
        assert_eq!(block_runs_for(0.001), BLOCK_RUNS);
        assert_eq!(block_runs_for(0.002), BLOCK_RUNS);
        assert_eq!(block_runs_for(2e-6), BLOCK_RUNS);
        assert_eq!(block_runs_for(0.004), BLOCK_RUNS);
        // Slower: as many as fit in 100 ms.
        assert_eq!(block_runs_for(0.0041), 24);
        assert_eq!(block_runs_for(0.01), 10);
        assert_eq!(block_runs_for(0.04), 2);
        assert_eq!(block_runs_for(0.1), 1);
        // Slower than a block: one run.
        assert_eq!(block_runs_for(0.5), 1);
        // Nothing measured: the usual blocks.
        assert_eq!(block_runs_for(0.0), BLOCK_RUNS);
        assert_eq!(block_runs_for(f64::NAN), BLOCK_RUNS);
    }
}
