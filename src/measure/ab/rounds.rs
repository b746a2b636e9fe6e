//! Explore's schedule: every variant timed interleaved in rounds of fresh sessions.

use super::*;

/// Session rounds `modelgate explore` times by default: enough for an interval across them
/// (Student t on 7 degrees of freedom is 2.36 at 95 %).
pub const EXPLORE_ROUNDS: usize = 8;

/// How [`time_rounds`] times: the progress label, the rounds, the runs per arm in each, and the
/// seconds of timing per arm to reach (more rounds are added until then).
pub struct Rounds {
    pub label: &'static str,
    pub rounds: usize,
    pub runs: u64,
    pub min_time_s: f64,
}

/// Times every arm in `rounds` rounds of fresh sessions, interleaved within each round, for the
/// reason [`AbPair`] gives: two sessions of one model settle at their own speed, so one set of
/// long-lived sessions would measure those sessions, not the models. The first round warms up
/// in full, later ones briefly; each times `runs` runs per arm, and rounds are added while the
/// timing is under `min_time_s` per arm. One bench result per arm: the first round's cold start
/// and memory, every round's runs, and the runs of each round in `sessions`.
/// `announce` is sent as a note once the first round is open (every model read and warmed up),
/// before any run is timed.
pub fn time_rounds(
    runtime: &Runtime,
    arms: &[Arm],
    shapes: &ShapeRequest,
    plan: Rounds,
    announce: &str,
    progress: Progress,
) -> Result<Vec<BenchResult>> {
    let Rounds {
        label,
        rounds,
        runs,
        min_time_s,
    } = plan;
    let mut announce = Some(announce);
    let mut first: Option<Vec<BenchResult>> = None;
    let mut ns: Vec<Vec<u64>> = vec![Vec::new(); arms.len()];
    let mut sessions = Vec::new();
    let mut timed = 0.0;
    // Runs per block, chosen by the first round and kept by the later ones.
    let mut block: Option<usize> = None;
    let wanted = min_time_s * arms.len() as f64;
    while sessions.len() < rounds
        || (timed < wanted && (ns[0].len() as u64) < crate::base::limits::MAX_TIMED_RUNS)
    {
        let list: Vec<Arm> = arms
            .iter()
            .map(|arm| {
                let mut arm = arm.clone();
                if first.is_some() {
                    arm.settings.warmup = arm.settings.warmup.min(SESSION_WARMUP_RUNS);
                    arm.settings.warmup_s = arm.settings.warmup_s.min(SESSION_WARMUP_S);
                }
                arm
            })
            .collect();
        let mut round = Interleaved::open(runtime, list, shapes, label, block, |_| Ok(()))?;
        let len = *block.insert(round.block_runs()) as u64;
        let per_round = runs.div_ceil(len) * len;
        let total = per_round * rounds as u64;
        if let Some(line) = announce.take() {
            crate::base::events::note(progress, line);
        }
        let before = ns[0].len() as u64;
        let all = total.max(before + per_round);
        let mut counted = crate::base::events::rescaled(progress, |done, _| (before + done, all));
        round.extend(runs, None, &mut counted)?;
        for (arm, kept) in ns.iter_mut().enumerate() {
            kept.extend(round.samples_ns(arm));
        }
        sessions.push(round.runs());
        timed += round.timed_s();
        if first.is_none() {
            first = Some(round.into_results()?);
        }
    }
    let mut results = first.context("no session round was timed; this is a bug in modelgate")?;
    let wall = timed / arms.len().max(1) as f64;
    for (result, kept) in results.iter_mut().zip(&ns) {
        merge_sessions(result, kept, (&sessions, block.unwrap_or(BLOCK_RUNS)), wall)?;
    }
    Ok(results)
}
