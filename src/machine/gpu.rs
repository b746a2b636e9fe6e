//! The NVIDIA GPU a CUDA or TensorRT session runs on, and what it did while the runs were timed.
//!
//! A GPU latency only means something beside the GPU's state: a card that hit its power cap or
//! heated into thermal slowdown runs slower than its steady speed, and the same model costs
//! different energy on different clocks. This module finds the device the session really uses
//! (honouring `CUDA_VISIBLE_DEVICES`), reads its fingerprint, and samples power, clocks,
//! utilization, temperature and throttle reasons on a background thread during the timed loop,
//! with the total-energy counter read at both ends. It is the only module that imports
//! `nvml_wrapper`. NVML's absence (a CPU-only runner) is normal: every reading is optional.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nvml_wrapper::bitmasks::device::ThrottleReasons;
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::{Device, Nvml};
use serde::{Deserialize, Serialize};

/// An NVIDIA GPU, as NVML reports it: the one CUDA device 0 of the process is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GpuInfo {
    pub name: String,
    /// `GPU-...`; empty where unknown (and in files written before it was recorded).
    #[serde(default)]
    pub uuid: String,
    pub driver: String,
    /// The CUDA version the driver supports, as `13.0`.
    #[serde(default)]
    pub cuda_driver_version: Option<String>,
    /// As `9.0`.
    #[serde(default)]
    pub compute_capability: Option<String>,
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
    #[serde(default)]
    pub max_sm_clock_mhz: Option<u32>,
    #[serde(default)]
    pub max_memory_clock_mhz: Option<u32>,
    pub power_watts: Option<f64>,
    /// TensorRT's version (`10.13.0`) when its library loads; what a TensorRT engine is built
    /// with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensorrt_version: Option<String>,
}

/// A device as `CUDA_VISIBLE_DEVICES` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VisibleDevice {
    /// An index. NVML numbers devices in PCI bus order; CUDA's default order is fastest first,
    /// which is the same on a machine of identical GPUs (ties go by bus order) but may differ on
    /// a mixed one unless `CUDA_DEVICE_ORDER=PCI_BUS_ID` is set.
    Index(u32),
    /// A `GPU-...` or `MIG-...` identifier, whole or a unique prefix.
    Uuid(String),
}

/// The device that CUDA device `cuda_device_id` of this process is, from `CUDA_VISIBLE_DEVICES`;
/// None when the variable hides every device or lists fewer than `cuda_device_id + 1`.
pub fn visible_device(cuda_device_id: u32) -> Option<VisibleDevice> {
    let value = std::env::var("CUDA_VISIBLE_DEVICES").ok();
    parse_visible_devices(value.as_deref(), cuda_device_id)
}

/// What CUDA makes of `CUDA_VISIBLE_DEVICES` (None when it is unset): a comma list of indices
/// or identifiers, read up to the first entry that is neither, as CUDA does, so `-1`,
/// `NoDevFiles` and an empty value hide every device.
pub fn parse_visible_devices(value: Option<&str>, cuda_device_id: u32) -> Option<VisibleDevice> {
    let Some(value) = value else {
        return Some(VisibleDevice::Index(cuda_device_id));
    };
    value
        .split(',')
        .map(|entry| parse_entry(entry.trim()))
        .take_while(Option::is_some)
        .flatten()
        .nth(cuda_device_id as usize)
}

fn parse_entry(entry: &str) -> Option<VisibleDevice> {
    if !entry.is_empty() && entry.bytes().all(|b| b.is_ascii_digit()) {
        return entry.parse().ok().map(VisibleDevice::Index);
    }
    let named = ["GPU-", "MIG-"]
        .iter()
        .any(|p| entry.len() > p.len() && entry.starts_with(p));
    named.then(|| VisibleDevice::Uuid(entry.to_string()))
}

/// The one identifier in `uuids` that starts with `prefix`; None when none or several do.
pub fn unique_prefix_match(uuids: &[String], prefix: &str) -> Option<usize> {
    let mut matches = uuids
        .iter()
        .enumerate()
        .filter(|(_, u)| u.starts_with(prefix));
    let (first, _) = matches.next()?;
    matches.next().is_none().then_some(first)
}

/// The NVML handle of `device`: by index, by whole identifier, or by a unique prefix of a GPU's.
fn open<'n>(nvml: &'n Nvml, device: &VisibleDevice) -> Option<Device<'n>> {
    match device {
        VisibleDevice::Index(i) => nvml.device_by_index(*i).ok(),
        VisibleDevice::Uuid(id) => nvml.device_by_uuid(id.as_str()).ok().or_else(|| {
            let uuids: Vec<String> = (0..nvml.device_count().ok()?)
                .map(|i| {
                    nvml.device_by_index(i)
                        .and_then(|d| d.uuid())
                        .unwrap_or_default()
                })
                .collect();
            let index = unique_prefix_match(&uuids, id)?;
            nvml.device_by_index(index as u32).ok()
        }),
    }
}

/// The fingerprint of the GPU that CUDA device 0 of this process is, or None without NVML or
/// without a visible device.
pub fn info() -> Option<GpuInfo> {
    let nvml = Nvml::init().ok()?;
    let device = open(&nvml, &visible_device(0)?)?;
    let memory = device.memory_info().ok()?;
    Some(GpuInfo {
        name: device.name().ok()?,
        uuid: device.uuid().unwrap_or_default(),
        driver: nvml
            .sys_driver_version()
            .unwrap_or_else(|_| "unknown".into()),
        cuda_driver_version: nvml.sys_cuda_driver_version().ok().map(cuda_version),
        compute_capability: device
            .cuda_compute_capability()
            .ok()
            .map(|c| format!("{}.{}", c.major, c.minor)),
        memory_used_bytes: memory.used,
        memory_total_bytes: memory.total,
        max_sm_clock_mhz: device.max_clock_info(Clock::SM).ok(),
        max_memory_clock_mhz: device.max_clock_info(Clock::Memory).ok(),
        power_watts: device.power_usage().ok().map(|mw| mw as f64 / 1000.0),
        tensorrt_version: None,
    })
}

/// NVML's CUDA driver version number (1000 x major + 10 x minor) as `13.0`.
pub fn cuda_version(number: i32) -> String {
    format!("{}.{}", number / 1000, (number % 1000) / 10)
}

/// NVML's clock throttle reasons: bit, name, and whether it is benign (the clocks are low
/// because there is no work, or because someone set them so, not because the GPU is held back).
const THROTTLE_REASONS: [(ThrottleReasons, &str, bool); 9] = [
    (ThrottleReasons::GPU_IDLE, "GPU idle", true),
    (
        ThrottleReasons::APPLICATIONS_CLOCKS_SETTING,
        "applications clocks setting",
        true,
    ),
    (ThrottleReasons::SW_POWER_CAP, "software power cap", false),
    (ThrottleReasons::HW_SLOWDOWN, "hardware slowdown", false),
    (ThrottleReasons::SYNC_BOOST, "sync boost", false),
    (
        ThrottleReasons::SW_THERMAL_SLOWDOWN,
        "software thermal slowdown",
        false,
    ),
    (
        ThrottleReasons::HW_THERMAL_SLOWDOWN,
        "hardware thermal slowdown",
        false,
    ),
    (
        ThrottleReasons::HW_POWER_BRAKE_SLOWDOWN,
        "hardware power brake slowdown",
        false,
    ),
    (
        ThrottleReasons::DISPLAY_CLOCK_SETTING,
        "display clock setting",
        false,
    ),
];

/// The names of the throttle reasons in `bits` that hold the GPU back, benign ones left out.
pub fn throttle_names(bits: u64) -> Vec<String> {
    let mut names = Vec::new();
    let mut known = 0;
    for (reason, name, benign) in THROTTLE_REASONS {
        known |= reason.bits();
        if bits & reason.bits() != 0 && !benign {
            names.push(name.to_string());
        }
    }
    if bits & !known != 0 {
        names.push(format!("unknown reason {:#x}", bits & !known));
    }
    names
}

/// One reading of the device; a field is None where the device does not report it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    pub power_mw: Option<u32>,
    pub sm_clock_mhz: Option<u32>,
    pub memory_clock_mhz: Option<u32>,
    pub gpu_utilization_pct: Option<u32>,
    pub memory_utilization_pct: Option<u32>,
    pub temperature_c: Option<u32>,
    pub throttle_bits: Option<u64>,
}

fn read_sample(device: &Device) -> Sample {
    let utilization = device.utilization_rates().ok();
    Sample {
        power_mw: device.power_usage().ok(),
        sm_clock_mhz: device.clock_info(Clock::SM).ok(),
        memory_clock_mhz: device.clock_info(Clock::Memory).ok(),
        gpu_utilization_pct: utilization.as_ref().map(|u| u.gpu),
        memory_utilization_pct: utilization.as_ref().map(|u| u.memory),
        temperature_c: device.temperature(TemperatureSensor::Gpu).ok(),
        throttle_bits: device.current_throttle_reasons().ok().map(|r| r.bits()),
    }
}

/// Everything the sampler saw between start and stop.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recording {
    pub samples: Vec<Sample>,
    /// The total-energy counter at start and stop, in mJ (Volta and newer).
    pub energy_start_mj: Option<u64>,
    pub energy_end_mj: Option<u64>,
    /// Seconds from the first energy reading to the last.
    pub window_s: f64,
    /// GPU memory this process held at stop.
    pub process_memory_bytes: Option<u64>,
}

/// What the GPU did during one batch size's timed runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GpuTelemetry {
    /// Readings taken, about one per [`INTERVAL`].
    pub samples: u64,
    /// Seconds sampled: the timed runs, and the sampler's start and stop around them.
    pub window_s: f64,
    /// Board power. Recent GPUs report it averaged over about a second, so short windows lag.
    pub power_mean_w: Option<f64>,
    pub power_max_w: Option<f64>,
    pub sm_clock_min_mhz: Option<u32>,
    pub sm_clock_median_mhz: Option<f64>,
    pub sm_clock_max_mhz: Option<u32>,
    pub memory_clock_median_mhz: Option<f64>,
    /// Share of time a kernel ran, and of time device memory was read or written.
    pub gpu_utilization_mean_pct: Option<f64>,
    pub memory_utilization_mean_pct: Option<f64>,
    pub temperature_max_c: Option<u32>,
    /// Reasons the clocks were held back in any sample (idle and set clocks left out).
    pub throttle_reasons: Vec<String>,
    /// The total-energy counter's difference over the window, in mJ; None where the GPU has no
    /// counter (before Volta). The driver updates the counter periodically, not per kernel, so
    /// over a window well under a second it is coarse: compare it with the power cross-check.
    pub energy_mj: Option<u64>,
    /// `energy_mj` over the timed runs.
    pub energy_per_run_mj: Option<f64>,
    /// Mean power x window / runs: a cross-check of `energy_per_run_mj` from the power readings.
    pub power_energy_per_run_mj: Option<f64>,
    /// GPU memory this process held, where NVML reports it (not in every container, whose
    /// process ids NVML does not see).
    pub process_memory_bytes: Option<u64>,
}

/// Sums up a recording of `runs` timed runs.
pub fn summarize(recording: &Recording, runs: u64) -> GpuTelemetry {
    let samples = &recording.samples;
    let values =
        |f: fn(&Sample) -> Option<u32>| -> Vec<u32> { samples.iter().filter_map(f).collect() };
    let power_w: Vec<f64> = values(|s| s.power_mw)
        .iter()
        .map(|mw| *mw as f64 / 1000.0)
        .collect();
    let power_mean_w = mean(&power_w);
    let sm = values(|s| s.sm_clock_mhz);
    let per_run = |total: f64| (runs > 0).then(|| total / runs as f64);
    let energy_mj = recording
        .energy_start_mj
        .zip(recording.energy_end_mj)
        .and_then(|(start, end)| end.checked_sub(start));
    let seen = samples
        .iter()
        .filter_map(|s| s.throttle_bits)
        .fold(0, |all, bits| all | bits);
    GpuTelemetry {
        samples: samples.len() as u64,
        window_s: recording.window_s,
        power_mean_w,
        power_max_w: power_w.iter().copied().reduce(f64::max),
        sm_clock_min_mhz: sm.iter().copied().min(),
        sm_clock_median_mhz: median(&sm),
        sm_clock_max_mhz: sm.iter().copied().max(),
        memory_clock_median_mhz: median(&values(|s| s.memory_clock_mhz)),
        gpu_utilization_mean_pct: mean_u32(&values(|s| s.gpu_utilization_pct)),
        memory_utilization_mean_pct: mean_u32(&values(|s| s.memory_utilization_pct)),
        temperature_max_c: values(|s| s.temperature_c).into_iter().max(),
        throttle_reasons: throttle_names(seen),
        energy_mj,
        energy_per_run_mj: energy_mj.and_then(|e| per_run(e as f64)),
        power_energy_per_run_mj: power_mean_w
            .and_then(|w| per_run(w * recording.window_s * 1000.0)),
        process_memory_bytes: recording.process_memory_bytes,
    }
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

fn mean_u32(values: &[u32]) -> Option<f64> {
    mean(&values.iter().map(|v| *v as f64).collect::<Vec<_>>())
}

fn median(values: &[u32]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2] as f64),
        _ => Some((sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0),
    }
}

/// The note a reader needs when the GPU throttled during a batch size's timed runs.
pub fn throttle_note(batch: i64, telemetry: &GpuTelemetry) -> Option<String> {
    (!telemetry.throttle_reasons.is_empty()).then(|| {
        format!(
            "batch {batch}: the GPU throttled during the timed runs ({}); its latency is not its steady speed",
            telemetry.throttle_reasons.join(", ")
        )
    })
}

/// Time between readings: fine enough to catch a throttle episode in a run of a few seconds,
/// coarse enough that the few NVML calls per reading cost the timed loop nothing measurable.
pub const INTERVAL: Duration = Duration::from_millis(20);

/// Readings kept at most (two hours at [`INTERVAL`]); later ones are dropped, the energy
/// counter still covers the whole window.
const MAX_SAMPLES: usize = 360_000;

/// A background thread reading the device until stopped.
pub struct Sampler {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<Recording>,
}

impl Sampler {
    /// Starts sampling `device`; None without NVML or without that device. Returns once the
    /// energy counter's first reading is taken, so the timed runs start after it.
    pub fn start(device: &VisibleDevice) -> Option<Sampler> {
        let device = device.clone();
        let (ready_tx, ready_rx) = mpsc::channel::<bool>();
        let (stop, stop_rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("gpu-sampler".into())
            .spawn(move || {
                let nvml = Nvml::init().ok();
                let Some(handle) = nvml.as_ref().and_then(|n| open(n, &device)) else {
                    let _ = ready_tx.send(false);
                    return Recording::default();
                };
                record(&handle, &ready_tx, &stop_rx)
            })
            .ok()?;
        if ready_rx.recv().unwrap_or(false) {
            Some(Sampler { stop, thread })
        } else {
            let _ = thread.join();
            None
        }
    }

    /// Stops sampling and sums up what was seen over `runs` timed runs.
    pub fn stop(self, runs: u64) -> GpuTelemetry {
        let _ = self.stop.send(());
        let recording = self.thread.join().unwrap_or_default();
        summarize(&recording, runs)
    }
}

fn record(device: &Device, ready: &mpsc::Sender<bool>, stop: &mpsc::Receiver<()>) -> Recording {
    let energy_start_mj = device.total_energy_consumption().ok();
    let started = Instant::now();
    let _ = ready.send(true);
    let mut samples = Vec::new();
    loop {
        if samples.len() < MAX_SAMPLES {
            samples.push(read_sample(device));
        }
        match stop.recv_timeout(INTERVAL) {
            Err(RecvTimeoutError::Timeout) => continue,
            // Stopped, or the sampler was dropped without stop.
            _ => break,
        }
    }
    let energy_end_mj = device.total_energy_consumption().ok();
    let window_s = started.elapsed().as_secs_f64();
    let pid = std::process::id();
    let process_memory_bytes = device
        .running_compute_processes()
        .ok()
        .and_then(|processes| processes.into_iter().find(|p| p.pid == pid))
        .and_then(|p| match p.used_gpu_memory {
            UsedGpuMemory::Used(bytes) => Some(bytes),
            UsedGpuMemory::Unavailable => None,
        });
    Recording {
        samples,
        energy_start_mj,
        energy_end_mj,
        window_s,
        process_memory_bytes,
    }
}

/// TensorRT's version as `getInferLibVersion` reports it (`10.13.0`), when libnvinfer loads.
pub fn tensorrt_version() -> Option<String> {
    for name in ["libnvinfer.so.10", "libnvinfer.so"] {
        // SAFETY: getInferLibVersion takes no arguments and returns an int; loading libnvinfer
        // runs its initialisers, which the TensorRT provider would run anyway.
        let version = unsafe {
            let Ok(library) = libloading::Library::new(name) else {
                continue;
            };
            let Ok(get) = library.get::<unsafe extern "C" fn() -> i32>(b"getInferLibVersion")
            else {
                continue;
            };
            get()
        };
        return Some(format_trt_version(version));
    }
    None
}

/// `100800` -> `10.8.0` (TensorRT 10 encodes major*10000 + minor*100 + patch).
fn format_trt_version(v: i32) -> String {
    format!("{}.{}.{}", v / 10000, (v / 100) % 100, v % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensorrt_versions_read_as_major_minor_patch() {
        assert_eq!(format_trt_version(100800), "10.8.0");
        assert_eq!(format_trt_version(101301), "10.13.1");
    }

    #[test]
    fn cuda_visible_devices_is_read_as_cuda_reads_it() {
        use VisibleDevice::{Index, Uuid};
        let uuid = |s: &str| Some(Uuid(s.to_string()));
        let cases: &[(Option<&str>, u32, Option<VisibleDevice>)] = &[
            // Unset: CUDA device n is NVML device n.
            (None, 0, Some(Index(0))),
            (None, 3, Some(Index(3))),
            (Some("2"), 0, Some(Index(2))),
            (Some("2,0"), 1, Some(Index(0))),
            (Some(" 3 , 1 "), 1, Some(Index(1))),
            (Some("2,0"), 2, None),
            // Every device hidden.
            (Some(""), 0, None),
            (Some("-1"), 0, None),
            (Some("NoDevFiles"), 0, None),
            // The list ends at the first entry CUDA cannot read.
            (Some("1,-1,0"), 0, Some(Index(1))),
            (Some("1,-1,0"), 1, None),
            (Some("1,,0"), 1, None),
            (
                Some("GPU-8932f937-d72c-4106-c12f-20bd9faed9f6"),
                0,
                uuid("GPU-8932f937-d72c-4106-c12f-20bd9faed9f6"),
            ),
            (Some("GPU-8932f937"), 0, uuid("GPU-8932f937")),
            (
                Some("0,MIG-4a2d6a36-9a07-5bd0-8c3b-5d1b2d1f8f2a"),
                1,
                uuid("MIG-4a2d6a36-9a07-5bd0-8c3b-5d1b2d1f8f2a"),
            ),
            (Some("GPU-"), 0, None),
            (Some("gpu0"), 0, None),
        ];
        for (value, id, expected) in cases {
            assert_eq!(
                &parse_visible_devices(*value, *id),
                expected,
                "CUDA_VISIBLE_DEVICES={value:?}, device {id}"
            );
        }
    }

    #[test]
    fn a_uuid_prefix_names_one_gpu_or_none() {
        let uuids = vec![
            "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6".to_string(),
            "GPU-89a1c0de-0000-4106-c12f-20bd9faed9f6".to_string(),
            String::new(),
        ];
        assert_eq!(unique_prefix_match(&uuids, "GPU-8932"), Some(0));
        assert_eq!(unique_prefix_match(&uuids, "GPU-89a"), Some(1));
        assert_eq!(unique_prefix_match(&uuids, "GPU-89"), None, "two match");
        assert_eq!(unique_prefix_match(&uuids, "GPU-77"), None, "none match");
    }

    #[test]
    fn cuda_driver_version_reads_as_major_dot_minor() {
        assert_eq!(cuda_version(13000), "13.0");
        assert_eq!(cuda_version(12040), "12.4");
        assert_eq!(cuda_version(11080), "11.8");
    }

    #[test]
    fn throttle_reasons_are_named_benign_ones_left_out() {
        // Bit values from nvml.h: nvmlClocksThrottleReason*.
        assert_eq!(throttle_names(0x0), Vec::<String>::new());
        assert_eq!(
            throttle_names(0x1 | 0x2),
            Vec::<String>::new(),
            "idle, set clocks"
        );
        assert_eq!(throttle_names(0x4), ["software power cap"]);
        assert_eq!(
            throttle_names(0x1 | 0x20 | 0x40),
            ["software thermal slowdown", "hardware thermal slowdown"]
        );
        assert_eq!(throttle_names(0x8), ["hardware slowdown"]);
        assert_eq!(throttle_names(0x80), ["hardware power brake slowdown"]);
        assert_eq!(
            throttle_names(0x4 | 0x1000),
            ["software power cap", "unknown reason 0x1000"]
        );
    }

    fn sample(power_mw: u32, sm: u32, mem: u32, util: u32, temp: u32, bits: u64) -> Sample {
        Sample {
            power_mw: Some(power_mw),
            sm_clock_mhz: Some(sm),
            memory_clock_mhz: Some(mem),
            gpu_utilization_pct: Some(util),
            memory_utilization_pct: Some(util / 2),
            temperature_c: Some(temp),
            throttle_bits: Some(bits),
        }
    }

    #[test]
    fn a_recording_sums_up_by_hand() {
        let recording = Recording {
            samples: vec![
                sample(300_000, 1980, 2619, 90, 60, 0x0),
                sample(350_000, 1755, 2619, 100, 66, 0x4),
                sample(250_000, 1830, 2619, 80, 63, 0x1),
                sample(300_000, 1980, 1593, 90, 62, 0x0),
            ],
            energy_start_mj: Some(1_000_000),
            energy_end_mj: Some(1_600_000),
            window_s: 2.0,
            process_memory_bytes: Some(512 << 20),
        };
        let t = summarize(&recording, 1000);
        assert_eq!(t.samples, 4);
        // (300 + 350 + 250 + 300) / 4 W
        assert_eq!(t.power_mean_w, Some(300.0));
        assert_eq!(t.power_max_w, Some(350.0));
        assert_eq!(t.sm_clock_min_mhz, Some(1755));
        // Sorted 1755 1830 1980 1980: (1830 + 1980) / 2.
        assert_eq!(t.sm_clock_median_mhz, Some(1905.0));
        assert_eq!(t.sm_clock_max_mhz, Some(1980));
        assert_eq!(t.memory_clock_median_mhz, Some(2619.0));
        assert_eq!(t.gpu_utilization_mean_pct, Some(90.0));
        // 45, 50, 40, 45.
        assert_eq!(t.memory_utilization_mean_pct, Some(45.0));
        assert_eq!(t.temperature_max_c, Some(66));
        assert_eq!(t.throttle_reasons, ["software power cap"]);
        // 600,000 mJ over 1000 runs.
        assert_eq!(t.energy_mj, Some(600_000));
        assert_eq!(t.energy_per_run_mj, Some(600.0));
        // 300 W x 2 s = 600 J = 600,000 mJ, over 1000 runs.
        assert_eq!(t.power_energy_per_run_mj, Some(600.0));
        assert_eq!(t.process_memory_bytes, Some(512 << 20));
        assert_eq!(
            throttle_note(8, &t).as_deref(),
            Some("batch 8: the GPU throttled during the timed runs (software power cap); its latency is not its steady speed")
        );
    }

    #[test]
    fn missing_readings_give_none_not_nan() {
        // A GPU before Volta: no energy counter; one with no readings at all.
        let recording = Recording {
            samples: vec![Sample {
                power_mw: Some(70_000),
                ..Sample::default()
            }],
            energy_start_mj: None,
            energy_end_mj: None,
            window_s: 0.5,
            process_memory_bytes: None,
        };
        let t = summarize(&recording, 7);
        assert_eq!(t.energy_mj, None);
        assert_eq!(t.energy_per_run_mj, None);
        // 70 W x 0.5 s = 35,000 mJ over 7 runs.
        assert_eq!(t.power_energy_per_run_mj, Some(5000.0));
        assert_eq!(t.sm_clock_median_mhz, None);
        assert_eq!(t.temperature_max_c, None);
        assert!(t.throttle_reasons.is_empty());
        assert_eq!(throttle_note(1, &t), None);

        let empty = summarize(&Recording::default(), 0);
        assert_eq!(empty.samples, 0);
        assert_eq!(empty.power_mean_w, None);
        assert_eq!(empty.power_energy_per_run_mj, None);
        // A counter that went backwards (a driver reload) gives no energy rather than a wrap.
        let reset = Recording {
            energy_start_mj: Some(500),
            energy_end_mj: Some(100),
            ..Recording::default()
        };
        assert_eq!(summarize(&reset, 10).energy_mj, None);
    }

    #[test]
    fn telemetry_from_a_results_file_round_trips() {
        let t = summarize(
            &Recording {
                samples: vec![sample(200_000, 1500, 1200, 50, 55, 0x20)],
                energy_start_mj: Some(10),
                energy_end_mj: Some(30),
                window_s: 1.0,
                process_memory_bytes: None,
            },
            4,
        );
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<GpuTelemetry>(&json).unwrap(), t);
    }

    #[test]
    fn sampler_without_nvml_is_none_not_a_panic() {
        // Where NVML and a GPU are present (a GPU runner), the sampler must start and stop.
        let device = visible_device(0).unwrap_or(VisibleDevice::Index(0));
        match Sampler::start(&device) {
            None => assert!(Nvml::init().is_err() || info().is_none()),
            Some(sampler) => {
                std::thread::sleep(INTERVAL * 3);
                let t = sampler.stop(1);
                assert!(t.samples >= 1, "{t:?}");
            }
        }
        let hidden = VisibleDevice::Uuid("GPU-does-not-exist".into());
        assert!(Sampler::start(&hidden).is_none());
    }
}
