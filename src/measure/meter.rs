//! What a timed stretch of runs records besides the clock: a meter starts before the runs and
//! stops after them, and what it read is kept with the runs (criterion's `Measurement` is the
//! model). Two meters exist: an NVIDIA GPU's telemetry (NVML, sampled on a thread of its own)
//! for a session on the GPU, and the CPU packages' RAPL energy counters for one on the CPU.
//! Neither is ever estimated: a meter that cannot be read here is absent, and so is its figure.

use std::path::Path;

use crate::engine::runtime::Provider;
use crate::machine::gpu::{self, GpuTelemetry, Sampler, VisibleDevice};
use crate::machine::rapl::{self, Rapl};

/// A counter that can be read around timed runs.
pub enum Meter {
    /// The GPU the session runs on: CUDA device 0, ONNX Runtime's default.
    Gpu(VisibleDevice),
    /// The CPU packages' energy counters.
    Rapl(Rapl),
}

/// A meter's reading in progress.
pub enum Window<'a> {
    Gpu(Sampler),
    Rapl { rapl: &'a Rapl, before: Vec<u64> },
}

/// What a meter read over a window.
#[derive(Debug, Default)]
pub struct Reading {
    /// The GPU's telemetry over the window, energy per run included.
    pub gpu: Option<GpuTelemetry>,
    /// The CPU packages' energy per run, in millijoules.
    pub cpu_energy_per_run_mj: Option<f64>,
}

impl Meter {
    /// The meter for a session on `provider`, when one can be read here.
    pub fn for_provider(provider: Provider) -> Option<Meter> {
        match provider {
            Provider::Cpu => Rapl::open(Path::new(rapl::POWERCAP))
                .filter(|r| r.read().is_some())
                .map(Meter::Rapl),
            _ => gpu::visible_device(0).map(Meter::Gpu),
        }
    }

    /// Starts a window; None when the meter cannot be read now (NVML missing, a counter gone).
    pub fn start(&self) -> Option<Window<'_>> {
        match self {
            Meter::Gpu(device) => Sampler::start(device).map(Window::Gpu),
            Meter::Rapl(rapl) => rapl.read().map(|before| Window::Rapl { rapl, before }),
        }
    }
}

impl Window<'_> {
    /// Stops the window after `runs` timed runs: what it read, per run.
    pub fn stop(self, runs: u64) -> Reading {
        match self {
            Window::Gpu(sampler) => Reading {
                gpu: Some(sampler.stop(runs)),
                cpu_energy_per_run_mj: None,
            },
            Window::Rapl { rapl, before } => Reading {
                gpu: None,
                cpu_energy_per_run_mj: rapl
                    .read()
                    .and_then(|after| rapl.energy_mj(&before, &after))
                    .map(|mj| mj / runs.max(1) as f64),
            },
        }
    }
}
