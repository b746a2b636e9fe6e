//! Peak memory of one model on its own, measured in a child process.
//!
//! A process's peak resident memory only grows: by the time the gate has timed the base and the
//! candidate side by side, and maybe other models before them, its own peak says nothing about
//! one model. So each model's memory is measured in a fresh `modelgate` process that loads ONNX
//! Runtime, opens only that model with the same settings, runs it a few times on the same input
//! shapes, and reports its peak.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::engine::model::ShapeRequest;
use crate::engine::runtime::{Runtime, SessionSettings};

/// Runs after opening the model: enough for ONNX Runtime's arenas to reach their working size.
const RUNS: u64 = 10;

/// What the child process measures, passed to it as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeSpec {
    pub model: PathBuf,
    pub session: SessionSettings,
    pub shapes: ShapeRequest,
    pub batch: Option<i64>,
}

/// What the child process prints.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub peak_rss_bytes: u64,
}

/// The child's side: opens and runs the model, then returns this process's peak.
pub fn run_probe(runtime: &Runtime, spec: &ProbeSpec) -> Result<ProbeResult> {
    let (mut model, _) = runtime.open(&spec.model, &spec.session)?;
    let given = crate::engine::inputs::load(&spec.shapes.inputs, &model.spec)?;
    let resolution = model
        .spec
        .resolve(&given.shapes(&spec.shapes)?, spec.batch)?;
    crate::measure::bench::bind_inputs(
        &mut model,
        &resolution.inputs,
        &given,
        &mut StdRng::seed_from_u64(0),
    )?;
    for _ in 0..RUNS {
        model.run_bound()?;
    }
    Ok(ProbeResult {
        peak_rss_bytes: crate::machine::system::rss().peak_bytes,
    })
}

/// The parent's side: runs `modelgate memory-probe` on `spec` with the same ONNX Runtime
/// library, and returns the child's peak resident memory in bytes.
pub fn measure_alone(library: &Path, spec: &ProbeSpec) -> Result<u64> {
    let result: ProbeResult = run_child(library, "memory-probe", spec, "the memory probe")?;
    Ok(result.peak_rss_bytes)
}

/// Runs the hidden subcommand `subcommand` of this same `modelgate` executable with the ONNX
/// Runtime `library` and `spec` as JSON, and reads the JSON it prints. `what` names the child in
/// errors. Used for the memory probe and for the A/B's session pairs in their own processes.
pub(crate) fn run_child<R: serde::de::DeserializeOwned>(
    library: &Path,
    subcommand: &str,
    spec: &impl Serialize,
    what: &str,
) -> Result<R> {
    let exe = std::env::current_exe().context("cannot find the modelgate executable")?;
    let json = serde_json::to_string(spec).with_context(|| format!("cannot encode {what}"))?;
    let output = Command::new(exe)
        .arg("--ort-lib")
        .arg(library)
        .args([subcommand, "--spec", &json])
        .output()
        .with_context(|| format!("cannot start {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed: {}",
            crate::base::text::clean(
                String::from_utf8_lossy(&output.stderr).trim(),
                crate::base::text::TEXT_MAX_CHARS
            )
        );
    }
    serde_json::from_slice(&output.stdout).with_context(|| format!("{what} printed no result"))
}
