//! A session pair timed in a child process of its own (`ab_processes = true`), as JMH forks:
//! what the child is asked to time, what it sends back, and starting it.

use super::*;

/// One session pair for a child process to time: the two models, their settings, inputs and
/// batch, and how many runs of each.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairSpec {
    pub base: PathBuf,
    pub candidate: PathBuf,
    pub settings: BenchSettings,
    pub shapes: ShapeRequest,
    pub batch: Option<i64>,
    pub runs: u64,
    /// Runs per block, as the gate's first pair chose them.
    #[serde(default)]
    pub block_runs: Option<usize>,
    /// Seconds the child may spend timing, at most; it stops at a block boundary.
    pub seconds: Option<f64>,
}

/// What a child process timed: each model's runs in nanoseconds, and the seconds spent timing.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PairRuns {
    pub base_ns: Vec<u64>,
    pub candidate_ns: Vec<u64>,
    pub timed_s: f64,
}

/// The child's side: opens a session of each model in this fresh process, warms both up
/// briefly and times them side by side, as [`Interleaved`] does in the gate's own process.
pub fn time_pair(runtime: &Runtime, spec: &PairSpec) -> Result<PairRuns> {
    let arm = |path| Arm {
        path,
        settings: spec.settings.clone(),
        batch: spec.batch,
    };
    let arms = vec![arm(&spec.base), arm(&spec.candidate)];
    let mut pair = Interleaved::open(runtime, arms, &spec.shapes, "A/B", spec.block_runs, |_| {
        Ok(())
    })?;
    let deadline = spec
        .seconds
        .map(|s| Instant::now() + Duration::from_secs_f64(s.clamp(0.0, 1e6)));
    pair.extend(spec.runs, deadline, &mut |_| {})?;
    Ok(PairRuns {
        base_ns: pair.samples_ns(0).to_vec(),
        candidate_ns: pair.samples_ns(1).to_vec(),
        timed_s: pair.timed_s(),
    })
}

/// The parent's side: runs `modelgate ab-pair` on `spec` with the ONNX Runtime `library`, and
/// returns what it timed.
pub(super) fn time_pair_in_child(library: &Path, spec: &PairSpec) -> Result<PairRuns> {
    let what = "the process timing a session pair";
    let runs: PairRuns = crate::measure::memprobe::run_child(library, "ab-pair", spec, what)?;
    if runs.base_ns.len() != runs.candidate_ns.len() {
        bail!("{what} timed the two models unequally; this is a bug in modelgate");
    }
    Ok(runs)
}
