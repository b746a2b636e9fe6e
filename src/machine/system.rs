//! The machine a measurement was taken on, and the memory it used.
//!
//! Latency numbers only mean something beside the hardware they came from: a baseline from a
//! 16-core workstation says nothing about a 2-core CI runner. Every results file therefore carries
//! a fingerprint, and the comparison refuses to compare absolute numbers across fingerprints
//! that differ in what matters. GPU facts come from NVML (see [`crate::machine::gpu`]) when it is present;
//! its absence is normal.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The environment a result was measured in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Fingerprint {
    pub cpu_model: String,
    /// The CPU's family, model and stepping numbers and cache size from /proc/cpuinfo, which
    /// tell apart hosts whose model string is only a brand ("AMD EPYC"); empty where unknown
    /// (and in files written before it was recorded).
    #[serde(default)]
    pub cpu_signature: String,
    /// Logical cores the process may use.
    pub cpu_cores: usize,
    pub memory_total_bytes: u64,
    pub os: String,
    pub kernel: String,
    pub arch: String,
    pub onnxruntime_version: String,
    pub execution_provider: String,
    pub gpu: Option<GpuInfo>,
    pub modelgate_version: String,
    pub model_sha256: String,
    /// Commit of the repository holding the model, when it is in one.
    pub git_commit: Option<String>,
}

impl Fingerprint {
    /// The fields that must agree for absolute latencies to be comparable, with a word on the
    /// first that differs. Versions of modelgate and the commit do not matter here.
    pub fn hardware_difference(&self, other: &Fingerprint) -> Option<String> {
        let gpu = |f: &Fingerprint| {
            f.gpu
                .as_ref()
                .map(|g| g.name.clone())
                .unwrap_or_else(|| "none".into())
        };
        // Files from before the signature was recorded have none: compare what both have.
        let signature = |f: &Fingerprint| {
            if self.cpu_signature.is_empty() || other.cpu_signature.is_empty() {
                String::new()
            } else {
                f.cpu_signature.clone()
            }
        };
        let pairs = [
            ("CPU", self.cpu_model.clone(), other.cpu_model.clone()),
            ("CPU signature", signature(self), signature(other)),
            (
                "cores",
                self.cpu_cores.to_string(),
                other.cpu_cores.to_string(),
            ),
            (
                "execution provider",
                self.execution_provider.clone(),
                other.execution_provider.clone(),
            ),
            (
                "ONNX Runtime",
                self.onnxruntime_version.clone(),
                other.onnxruntime_version.clone(),
            ),
            ("architecture", self.arch.clone(), other.arch.clone()),
        ];
        // The GPU matters only when the model runs on it.
        let on_gpu = self.execution_provider != "cpu" || other.execution_provider != "cpu";
        let gpu_pair = on_gpu.then(|| ("GPU", gpu(self), gpu(other)));
        pairs
            .into_iter()
            .chain(gpu_pair)
            .find(|(_, a, b)| a != b)
            .map(|(what, a, b)| format!("different {what}: {a:?} vs {b:?}"))
    }
}

pub use crate::machine::gpu::GpuInfo;

/// The GPU CUDA device 0 of this process is (after `CUDA_VISIBLE_DEVICES`), or None when NVML
/// or a visible GPU is absent.
pub fn gpu_info() -> Option<GpuInfo> {
    crate::machine::gpu::info().map(|mut gpu| {
        gpu.tensorrt_version = crate::machine::gpu::tensorrt_version();
        gpu
    })
}

/// Reads the fingerprint of this machine for a model file.
pub fn fingerprint(
    model: &Path,
    model_sha256: &str,
    onnxruntime_version: &str,
    provider: &str,
) -> Fingerprint {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    Fingerprint {
        cpu_model: proc_field(&cpuinfo, "model name").unwrap_or_else(|| "unknown".into()),
        cpu_signature: cpu_signature(&cpuinfo),
        cpu_cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        memory_total_bytes: proc_field(&meminfo, "MemTotal")
            .and_then(|v| parse_kib(&v))
            .unwrap_or(0),
        os: os_release
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_else(|| std::env::consts::OS.to_string()),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into()),
        arch: std::env::consts::ARCH.to_string(),
        onnxruntime_version: onnxruntime_version.to_string(),
        execution_provider: provider.to_string(),
        gpu: gpu_info(),
        modelgate_version: env!("CARGO_PKG_VERSION").to_string(),
        model_sha256: model_sha256.to_string(),
        git_commit: git_commit(model),
    }
}

/// `family 25 model 1 stepping 1 cache 512 KB`, from the first processor's fields.
fn cpu_signature(cpuinfo: &str) -> String {
    let fields = [
        ("family", "cpu family"),
        ("model", "model"),
        ("stepping", "stepping"),
        ("cache", "cache size"),
    ];
    fields
        .iter()
        .filter_map(|(label, key)| proc_field(cpuinfo, key).map(|v| format!("{label} {v}")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn proc_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// `12345 kB` from /proc, in bytes.
fn parse_kib(value: &str) -> Option<u64> {
    value
        .split_whitespace()
        .next()?
        .parse::<u64>()
        .ok()
        .map(|kib| kib * 1024)
}

fn git_commit(model: &Path) -> Option<String> {
    let dir = model
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    crate::base::gitref::head_commit(dir)
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let bytes = std::fs::read(path)?;
    Ok(sha256_hex(&bytes))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Resident set size now and at its peak, from /proc/self/status (zero where unavailable).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rss {
    pub current_bytes: u64,
    pub peak_bytes: u64,
}

pub fn rss() -> Rss {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |key: &str| {
        proc_field(&status, key)
            .and_then(|v| parse_kib(&v))
            .unwrap_or(0)
    };
    Rss {
        current_bytes: field("VmRSS"),
        peak_bytes: field("VmHWM"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_fields() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nMemTotal:       24576000 kB\n";
        assert_eq!(
            proc_field(text, "model name").as_deref(),
            Some("AMD EPYC 7B13")
        );
        assert_eq!(
            proc_field(text, "MemTotal").and_then(|v| parse_kib(&v)),
            Some(24576000 * 1024)
        );
        assert_eq!(proc_field(text, "missing"), None);
    }

    #[test]
    fn cpu_signature_reads_the_first_processor() {
        let text = "processor\t: 0\ncpu family\t: 25\nmodel\t\t: 1\nmodel name\t: AMD EPYC\n\
                    stepping\t: 1\ncache size\t: 512 KB\n\nprocessor\t: 1\ncpu family\t: 25\n";
        assert_eq!(
            cpu_signature(text),
            "family 25 model 1 stepping 1 cache 512 KB"
        );
        assert_eq!(cpu_signature(""), "");
    }

    #[test]
    fn sha256_matches_known_digest() {
        // printf abc | sha256sum
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hardware_difference_names_the_first_mismatch() {
        let base = fingerprint(Path::new("x.onnx"), "00", "1.31.1", "cpu");
        assert_eq!(base.hardware_difference(&base), None);
        let mut other = base.clone();
        other.model_sha256 = "ff".into();
        other.git_commit = Some("deadbeef".into());
        assert_eq!(
            base.hardware_difference(&other),
            None,
            "model and commit do not make hardware differ"
        );
        other.cpu_cores = base.cpu_cores + 2;
        let diff = base.hardware_difference(&other).unwrap();
        assert!(diff.starts_with("different cores"), "{diff}");

        let gpu = |name: &str| GpuInfo {
            name: name.into(),
            uuid: String::new(),
            driver: "1".into(),
            cuda_driver_version: None,
            compute_capability: None,
            memory_used_bytes: 0,
            memory_total_bytes: 0,
            max_sm_clock_mhz: None,
            max_memory_clock_mhz: None,
            power_watts: None,
            tensorrt_version: None,
        };
        let mut a = base.clone();
        let mut b = base.clone();
        a.gpu = Some(gpu("NVIDIA H100"));
        b.gpu = Some(gpu("NVIDIA A10"));
        assert_eq!(a.hardware_difference(&b), None, "the GPU is idle under cpu");
        a.execution_provider = "cuda".into();
        b.execution_provider = "cuda".into();
        let diff = a.hardware_difference(&b).unwrap();
        assert!(diff.starts_with("different GPU"), "{diff}");
        let mut c = base.clone();
        c.cpu_signature = "family 6 model 85 stepping 7 cache 36608 KB".into();
        if !base.cpu_signature.is_empty() {
            let diff = base.hardware_difference(&c).unwrap();
            assert!(diff.starts_with("different CPU signature"), "{diff}");
        }
        c.cpu_signature.clear();
        assert_eq!(base.hardware_difference(&c), None, "an old file has none");
        b.cpu_model = "X\n::error title=forged::y".into();
        b.gpu = a.gpu.clone();
        let diff = a.hardware_difference(&b).unwrap();
        assert!(!diff.contains('\n'), "escaped: {diff}");
    }

    #[test]
    fn gpu_info_from_a_file_before_the_new_fields_loads() {
        let old = r#"{"name":"NVIDIA A10","driver":"550.54","memory_used_bytes":1,
                      "memory_total_bytes":2,"power_watts":61.5}"#;
        let gpu: GpuInfo = serde_json::from_str(old).unwrap();
        assert_eq!(gpu.name, "NVIDIA A10");
        assert_eq!(gpu.uuid, "");
        assert_eq!(gpu.cuda_driver_version, None);
        assert_eq!(gpu.compute_capability, None);
        assert_eq!(gpu.max_sm_clock_mhz, None);
        assert_eq!(gpu.power_watts, Some(61.5));
    }

    #[test]
    fn rss_is_read_on_linux() {
        let now = rss();
        if cfg!(target_os = "linux") {
            assert!(now.current_bytes > 0 && now.peak_bytes >= now.current_bytes);
        }
    }
}
