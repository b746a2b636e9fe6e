//! Which model runs when: blocks of [`BLOCK_RUNS`] runs, in ABBA order for two models (rotated
//! for more), and which one opens the first block, drawn.

/// Runs per A/B block: within a session pair the two models alternate ABBA in blocks of this
/// many runs, short enough that drift within a block is small, long enough that switching models
/// (and their caches) is a small share of the time. The comparison's bootstrap draws these same
/// blocks, so each drawn block pair is one base block and the candidate block timed beside it.
pub const BLOCK_RUNS: usize = 25;

/// [`BLOCK_RUNS`] as the run counters count.
pub(super) const BLOCK: u64 = BLOCK_RUNS as u64;

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
