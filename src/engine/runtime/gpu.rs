//! What a GPU session needs beyond a CPU one: where its nodes ran, what the copies to and from
//! the device cost, and where TensorRT keeps its engines.
//!
//! Placement comes from ONNX Runtime's own profiler, run on the session's first (untimed) run
//! only: each node's event names the provider that ran it. A GPU provider leaves some nodes to the
//! CPU on purpose (shape arithmetic on small int64 tensors, which is cheaper there); any other
//! node on the CPU means the model is partly measured on the CPU, which fails the run unless the
//! user allows it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Options that matter only on the CUDA and TensorRT providers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct GpuOptions {
    /// Accept nodes the GPU provider leaves to the CPU (other than shape arithmetic).
    pub allow_cpu_fallback: bool,
    /// TensorRT: build the engine in fp16 where layers allow it.
    pub trt_fp16: bool,
    /// Capture the model's CUDA kernels in a CUDA graph and replay it (the CUDA provider's
    /// `enable_cuda_graph`; models whose every node runs on CUDA only).
    pub cuda_graph: bool,
    /// Folder for TensorRT engine and timing caches; default `MODELGATE_TRT_CACHE`, else
    /// `~/.cache/modelgate/tensorrt`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trt_cache_dir: Option<PathBuf>,
}

/// Where a GPU session's nodes ran, read from the profile of its first run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Placement {
    /// Nodes run per provider, e.g. `CUDAExecutionProvider` -> 120.
    pub nodes_by_provider: BTreeMap<String, usize>,
    /// Nodes on the CPU that compute on tensors, as `name (OpType)`.
    pub cpu_compute_nodes: Vec<String>,
    /// Nodes on the CPU that only do shape arithmetic (Shape, Size, or nodes on int64 or int32
    /// tensors of at most one dimension), which GPU providers leave to the CPU by design.
    pub cpu_shape_nodes: usize,
}

const CPU_PROVIDER: &str = "CPUExecutionProvider";

/// Reads ONNX Runtime's profile (Chrome trace JSON): one entry per node that ran, from its
/// `NAME_kernel_time` event. None when the text is not such a profile.
pub fn placement_from_profile(text: &str) -> Option<Placement> {
    let events: Vec<serde_json::Value> = serde_json::from_str(text).ok()?;
    let mut seen = BTreeSet::new();
    let mut placement = Placement {
        nodes_by_provider: BTreeMap::new(),
        cpu_compute_nodes: Vec::new(),
        cpu_shape_nodes: 0,
    };
    for event in &events {
        if event.get("cat").and_then(|c| c.as_str()) != Some("Node") {
            continue;
        }
        let Some(node) = event
            .get("name")
            .and_then(|n| n.as_str())
            .and_then(|n| n.strip_suffix("_kernel_time"))
        else {
            continue;
        };
        if !seen.insert(node.to_string()) {
            continue;
        }
        let args = event.get("args");
        let text_of = |key: &str| {
            args.and_then(|a| a.get(key))
                .and_then(|v| v.as_str())
                .unwrap_or("unknown")
                .to_string()
        };
        let provider = text_of("provider");
        *placement
            .nodes_by_provider
            .entry(provider.clone())
            .or_default() += 1;
        if provider == CPU_PROVIDER {
            // Shape and Size read only a tensor's dims, whatever its type.
            let shapes_only = matches!(text_of("op_name").as_str(), "Shape" | "Size")
                || ["input_type_shape", "output_type_shape"]
                    .iter()
                    .all(|key| shape_arithmetic(args.and_then(|a| a.get(*key))));
            if shapes_only {
                placement.cpu_shape_nodes += 1;
            } else {
                placement.cpu_compute_nodes.push(format!(
                    "{} ({})",
                    crate::base::text::clean(node, 120),
                    crate::base::text::clean(&text_of("op_name"), 60)
                ));
            }
        }
    }
    (!seen.is_empty()).then_some(placement)
}

/// Whether every tensor in a profile's `[{"int64": [4]}, ...]` list is an integer tensor of at
/// most one dimension (an absent list counts as such: a node without inputs, say).
fn shape_arithmetic(list: Option<&serde_json::Value>) -> bool {
    let Some(list) = list.and_then(|l| l.as_array()) else {
        return true;
    };
    list.iter().all(|entry| {
        entry.as_object().is_some_and(|map| {
            map.iter().all(|(ty, dims)| {
                matches!(ty.as_str(), "int64" | "int32")
                    && dims.as_array().is_some_and(|d| d.len() <= 1)
            })
        })
    })
}

/// Host-to-device and device-to-host copies of one batch's inputs and outputs, timed apart
/// from the runs (as trtexec reports H2D, compute and D2H).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Transfer {
    /// Median milliseconds to copy every input to the device.
    pub h2d_ms: f64,
    /// Median milliseconds to copy every output back to the host.
    pub d2h_ms: f64,
    pub input_bytes: u64,
    pub output_bytes: u64,
    /// Copies timed of each.
    pub copies: usize,
}

/// The median of `values` (0 when empty).
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The cache folder of one model's TensorRT engines: under `root`, one folder per model SHA-256,
/// TensorRT version, GPU and precision, since an engine is valid for exactly those.
pub fn trt_cache_folder(
    root: &Path,
    model_sha256: &str,
    tensorrt: &str,
    gpu: &str,
    fp16: bool,
) -> PathBuf {
    let slug = |text: &str| -> String {
        let s: String = text
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        s.split('-')
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("-")
    };
    root.join(format!(
        "{}-trt{}-{}-{}",
        model_sha256.get(..16).unwrap_or(model_sha256),
        slug(tensorrt),
        slug(gpu),
        if fp16 { "fp16" } else { "fp32" }
    ))
}

/// The default cache root: `MODELGATE_TRT_CACHE`, else `~/.cache/modelgate/tensorrt`.
pub fn default_trt_cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("MODELGATE_TRT_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("modelgate").join("tensorrt")
}

/// Engine files in a cache folder (to tell a built engine from a reused one).
pub fn engine_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "engine"))
                .count()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events as ONNX Runtime 1.31 writes them with profiling on (abridged: the fence events and
    /// a session event around the node events).
    const PROFILE: &str = r#"[
      {"cat":"Session","pid":1,"tid":1,"dur":120,"ts":1,"ph":"X","name":"model_run","args":{}},
      {"cat":"Node","pid":1,"tid":1,"dur":1,"ts":2,"ph":"X","name":"/conv1/Conv_fence_before","args":{"op_name":"Conv"}},
      {"cat":"Node","pid":1,"tid":1,"dur":40,"ts":3,"ph":"X","name":"/conv1/Conv_kernel_time","args":{"op_name":"Conv","provider":"CUDAExecutionProvider","input_type_shape":[{"float":[1,3,224,224]},{"float":[64,3,7,7]}],"output_type_shape":[{"float":[1,64,112,112]}]}},
      {"cat":"Node","pid":1,"tid":1,"dur":2,"ts":50,"ph":"X","name":"/Shape_kernel_time","args":{"op_name":"Shape","provider":"CPUExecutionProvider","input_type_shape":[{"float":[1,512,7,7]}],"output_type_shape":[{"int64":[4]}]}},
      {"cat":"Node","pid":1,"tid":1,"dur":1,"ts":53,"ph":"X","name":"/Gather_kernel_time","args":{"op_name":"Gather","provider":"CPUExecutionProvider","input_type_shape":[{"int64":[4]},{"int64":[]}],"output_type_shape":[{"int64":[]}]}},
      {"cat":"Node","pid":1,"tid":1,"dur":9,"ts":60,"ph":"X","name":"/fc/Gemm_kernel_time","args":{"op_name":"Gemm","provider":"CPUExecutionProvider","input_type_shape":[{"float":[1,512]},{"float":[2,512]}],"output_type_shape":[{"float":[1,2]}]}},
      {"cat":"Node","pid":1,"tid":1,"dur":40,"ts":70,"ph":"X","name":"/conv1/Conv_kernel_time","args":{"op_name":"Conv","provider":"CUDAExecutionProvider"}}
    ]"#;

    #[test]
    fn placement_counts_nodes_once_and_tells_shape_arithmetic_from_compute() {
        let p = placement_from_profile(PROFILE).unwrap();
        assert_eq!(p.nodes_by_provider["CUDAExecutionProvider"], 1);
        assert_eq!(p.nodes_by_provider["CPUExecutionProvider"], 3);
        // Shape reads only dims; Gather on int64 scalars is shape arithmetic; Gemm on floats
        // is the model's work done on the CPU.
        assert_eq!(p.cpu_shape_nodes, 2);
        assert_eq!(p.cpu_compute_nodes, vec!["/fc/Gemm (Gemm)".to_string()]);
    }

    #[test]
    fn a_text_that_is_no_profile_gives_none() {
        assert_eq!(placement_from_profile("not json"), None);
        assert_eq!(placement_from_profile("[]"), None);
        assert_eq!(placement_from_profile(r#"{"a":1}"#), None);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }

    #[test]
    fn each_model_gpu_version_and_precision_has_its_own_cache_folder() {
        let root = Path::new("cache");
        let sha = "ab".repeat(32);
        let a = trt_cache_folder(root, &sha, "10.13.0", "NVIDIA H200", false);
        assert_eq!(
            a,
            Path::new("cache/abababababababab-trt10-13-0-nvidia-h200-fp32")
        );
        assert_ne!(
            a,
            trt_cache_folder(root, &sha, "10.13.0", "NVIDIA H200", true)
        );
        assert_ne!(
            a,
            trt_cache_folder(root, &sha, "10.12.0", "NVIDIA H200", false)
        );
        assert_ne!(
            a,
            trt_cache_folder(root, &sha, "10.13.0", "NVIDIA L4", false)
        );
        // A GPU name cannot climb out of the root.
        let odd = trt_cache_folder(root, &sha, "x", "../../etc", false);
        assert!(
            odd.starts_with(root) && !odd.to_string_lossy().contains(".."),
            "{odd:?}"
        );
    }
}
