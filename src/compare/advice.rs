//! Bottleneck advice: what to try first, from the eval's stage breakdown and the bench's operator
//! profile. Each line names the measured number it rests on; none of it changes a verdict.

use crate::engine::runtime::profile::OpProfile;
use crate::engine::runtime::{OptLevel, Provider};
use crate::validate::eval::StageBreakdown;

/// Op types whose time is arithmetic: convolutions and matrix products, fused or quantized.
const COMPUTE_OPS: &[&str] = &[
    "Conv",
    "ConvTranspose",
    "FusedConv",
    "QLinearConv",
    "ConvInteger",
    "NhwcFusedConv",
    "MatMul",
    "FusedMatMul",
    "MatMulInteger",
    "QLinearMatMul",
    "MatMulNBits",
    "Gemm",
    "FusedGemm",
    "Attention",
    "MultiHeadAttention",
];

/// Op types that only move or reshape data.
const MEMORY_OPS: &[&str] = &[
    "Transpose",
    "Reshape",
    "Concat",
    "Split",
    "Slice",
    "Squeeze",
    "Unsqueeze",
    "Flatten",
    "Expand",
    "Tile",
    "Pad",
    "Identity",
    "Cast",
    "Gather",
    "Copy",
    "ReorderInput",
    "ReorderOutput",
];

/// A family of op types dominates the nodes' time above these shares (percent). Data movement
/// should cost little, so a smaller share of it is already worth acting on.
const COMPUTE_BOUND_PCT: f64 = 50.0;
const MEMORY_BOUND_PCT: f64 = 30.0;
/// Below this share of the run's time in kernels, the executor's own overhead is worth naming.
const LOW_NODE_SHARE_PCT: f64 = 70.0;

fn ms(value: f64) -> String {
    crate::base::format::duration(value)
}

fn is_memory_op(op: &str) -> bool {
    MEMORY_OPS.contains(&op) || op.starts_with("Memcpy")
}

fn level_name(level: OptLevel) -> &'static str {
    match level {
        OptLevel::Disable => "disable",
        OptLevel::Basic => "basic",
        OptLevel::Extended => "extended",
        OptLevel::All => "all",
    }
}

/// The op types of `profile` that pass `keep`, as `Conv 61 %, Gemm 9 %`, and their summed share.
fn family(profile: &OpProfile, keep: impl Fn(&str) -> bool) -> (String, f64) {
    let members: Vec<_> = profile
        .op_types
        .iter()
        .filter(|t| keep(&t.op_type))
        .collect();
    let share = members.iter().map(|t| t.share_pct).sum();
    let named: Vec<String> = members
        .iter()
        .filter(|t| t.share_pct >= 0.5)
        .take(3)
        .map(|t| format!("{} {:.0} %", t.op_type, t.share_pct))
        .collect();
    (named.join(", "), share)
}

/// What to try first. `stages` is the eval's breakdown (absent for a bench): a stage that is the
/// primary or a secondary bottleneck gets advice, inference from `profile` when there is one.
/// Without `stages`, the advice is the profile's alone.
pub fn advice(
    stages: Option<&StageBreakdown>,
    profile: Option<&OpProfile>,
    provider: Provider,
    opt_level: OptLevel,
) -> Vec<String> {
    let mut lines = Vec::new();
    let Some(s) = stages else {
        if let Some(profile) = profile {
            lines.extend(inference_advice(profile, provider, opt_level));
        }
        return lines;
    };
    let mut limiting: Vec<&str> = s.primary_bottleneck.iter().map(String::as_str).collect();
    limiting.extend(s.secondary_bottlenecks.iter().map(String::as_str));
    for stage in limiting {
        match stage {
            "preprocessing" => {
                let why = format!(
                    "preprocessing takes {:.0} % of each sample's time ({})",
                    s.preprocess_pct, ms(s.preprocess_ms_per_sample)
                );
                lines.push(format!(
                    "{why}: a larger batch (eval --batch N, `batch` under [models.dataset]) spreads the per-call cost over more samples"
                ));
                lines.push(format!(
                    "{why}: a faster image decoder, or images stored closer to the input size, cut the decode and resize"
                ));
                lines.push(format!(
                    "{why}: a smaller input size shrinks both preprocessing and inference (check the accuracy it costs)"
                ));
            }
            "inference" => match profile {
                Some(profile) => lines.extend(inference_advice(profile, provider, opt_level)),
                None => {
                    let why = format!(
                        "inference takes {:.0} % of each sample's time ({})",
                        s.inference_pct, ms(s.inference_ms_per_sample)
                    );
                    lines.push(format!(
                        "{why}: `modelgate bench MODEL --profile` shows which operators it goes to"
                    ));
                    if opt_level != OptLevel::All {
                        lines.push(format!(
                            "{why} with graph optimization at `{}`: try --opt-level all",
                            level_name(opt_level)
                        ));
                    }
                }
            },
            "postprocessing" => lines.push(format!(
                "postprocessing takes {:.0} % of each sample's time ({}): vectorize it, or run it once on the whole batch instead of per sample",
                s.postprocess_pct, ms(s.postprocess_ms_per_sample)
            )),
            _ => {}
        }
    }
    lines
}

/// Advice from the operator profile: compute-bound, memory-bound, executor overhead.
fn inference_advice(profile: &OpProfile, provider: Provider, opt_level: OptLevel) -> Vec<String> {
    let mut lines = Vec::new();
    let optimize = opt_level != OptLevel::All;
    let (compute_ops, compute) = family(profile, |op| COMPUTE_OPS.contains(&op));
    if compute > COMPUTE_BOUND_PCT {
        let why = format!(
            "convolutions and matrix products take {compute:.0} % of the node time ({compute_ops})"
        );
        if optimize {
            lines.push(format!(
                "{why} with graph optimization at `{}`: --opt-level all fuses them with their activations and picks faster kernels",
                level_name(opt_level)
            ));
        }
        match provider {
            Provider::Cpu => {
                lines.push(format!(
                    "{why}: int8 quantization (ONNX Runtime's quantize_static) runs them in integer arithmetic, often 2-4x faster on the CPU; check the accuracy it costs"
                ));
                lines.push(format!(
                    "{why}: a GPU provider (--ep cuda or --ep tensorrt) is built for this arithmetic"
                ));
            }
            Provider::Cuda => {
                lines.push(format!(
                    "{why}: fp16 uses the GPU's tensor cores: convert the model to float16, or use --ep tensorrt --trt-fp16"
                ));
                lines.push(format!(
                    "{why}: --ep tensorrt builds kernels tuned for this GPU and model"
                ));
            }
            Provider::Tensorrt => lines.push(format!(
                "{why}: fp16 uses the GPU's tensor cores: --trt-fp16 (trt_fp16 = true), then check the accuracy"
            )),
        }
    }
    let (memory_ops, memory) = family(profile, is_memory_op);
    if memory > MEMORY_BOUND_PCT {
        let why = format!("data movement takes {memory:.0} % of the node time ({memory_ops})");
        lines.push(format!(
            "{why}: these nodes compute nothing; export the model in the layout its kernels want (fewer Transpose nodes) and let reshapes fuse away"
        ));
        if optimize {
            lines.push(format!(
                "{why} with graph optimization at `{}`: --opt-level all removes or fuses many of them",
                level_name(opt_level)
            ));
        }
        let (_, copies) = family(profile, |op| op.starts_with("Memcpy"));
        if copies > 0.0 {
            lines.push(format!(
                "Memcpy nodes take {copies:.0} % of the node time: tensors cross between the GPU and the CPU inside the run, where a node the provider lacks ran on the CPU"
            ));
        }
    }
    if let Some(node_share) = profile.node_share_of_run_pct {
        if node_share < LOW_NODE_SHARE_PCT {
            lines.push(format!(
                "the nodes' kernels fill only {node_share:.0} % of a run's time: the rest is the executor's own work between them; a larger batch or fewer, fused nodes amortize it"
            ));
        }
    }
    if lines.is_empty() {
        if let Some(top) = profile.op_types.first() {
            lines.push(format!(
                "no family of operators dominates: the largest, {}, takes {:.0} % of the node time",
                top.op_type, top.share_pct
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::runtime::profile::OpTypeTime;

    fn profile(ops: &[(&str, f64)], node_share: f64) -> OpProfile {
        let total: f64 = ops.iter().map(|(_, t)| t).sum();
        OpProfile {
            runs: 10,
            run_total_us: total * 100.0 / node_share,
            node_total_us: total,
            node_share_of_run_pct: Some(node_share),
            node_count: ops.len(),
            nodes: vec![],
            op_types: ops
                .iter()
                .map(|(op, t)| OpTypeTime {
                    op_type: op.to_string(),
                    nodes: 1,
                    count: 10,
                    total_us: *t,
                    mean_us: t / 10.0,
                    share_pct: t / total * 100.0,
                })
                .collect(),
        }
    }

    fn stages(pct: [f64; 3]) -> StageBreakdown {
        let names = ["preprocessing", "inference", "postprocessing"];
        StageBreakdown {
            preprocess_ms_per_sample: pct[0] / 10.0,
            inference_ms_per_sample: pct[1] / 10.0,
            postprocess_ms_per_sample: pct[2] / 10.0,
            preprocess_pct: pct[0],
            inference_pct: pct[1],
            postprocess_pct: pct[2],
            primary_bottleneck: names
                .iter()
                .zip(pct)
                .find(|(_, p)| *p > 50.0)
                .map(|(n, _)| n.to_string()),
            secondary_bottlenecks: names
                .iter()
                .zip(pct)
                .filter(|(_, p)| (20.0..=50.0).contains(p))
                .map(|(n, _)| n.to_string())
                .collect(),
        }
    }

    fn joined(lines: &[String]) -> String {
        lines.join("\n")
    }

    #[test]
    fn preprocessing_bound_advises_batch_decoder_and_input_size_with_its_share() {
        let lines = advice(
            Some(&stages([70.0, 25.0, 5.0])),
            None,
            Provider::Cpu,
            OptLevel::All,
        );
        let text = joined(&lines);
        assert!(lines[0].starts_with("preprocessing takes 70 % of each sample's time (7.000 ms)"));
        assert!(text.contains("larger batch"), "{text}");
        assert!(text.contains("faster image decoder"), "{text}");
        assert!(text.contains("smaller input size"), "{text}");
        // Inference, at 25 %, is a secondary bottleneck: pointed to the profile.
        assert!(text.contains("inference takes 25 %"), "{text}");
        assert!(text.contains("--profile"), "{text}");
        assert!(!text.contains("postprocessing"), "{text}");
    }

    #[test]
    fn compute_bound_on_the_cpu_advises_opt_level_int8_and_a_gpu() {
        let p = profile(&[("Conv", 70.0), ("Gemm", 10.0), ("Relu", 20.0)], 95.0);
        let lines = advice(
            Some(&stages([10.0, 85.0, 5.0])),
            Some(&p),
            Provider::Cpu,
            OptLevel::Basic,
        );
        let text = joined(&lines);
        assert!(
            lines[0].starts_with(
                "convolutions and matrix products take 80 % of the node time (Conv 70 %, Gemm 10 %)"
            ),
            "{text}"
        );
        assert!(text.contains("at `basic`: --opt-level all"), "{text}");
        assert!(text.contains("int8"), "{text}");
        assert!(text.contains("--ep cuda"), "{text}");
        assert!(!text.contains("fp16"), "{text}");
        assert!(!text.contains("data movement"), "{text}");
    }

    #[test]
    fn compute_bound_on_a_gpu_advises_fp16_and_no_opt_level_when_it_is_all() {
        let p = profile(&[("MatMul", 60.0), ("Add", 40.0)], 90.0);
        let text = joined(&advice(None, Some(&p), Provider::Cuda, OptLevel::All));
        assert!(text.contains("fp16"), "{text}");
        assert!(text.contains("MatMul 60 %"), "{text}");
        assert!(!text.contains("--opt-level"), "{text}");
        assert!(!text.contains("int8"), "{text}");
        let text = joined(&advice(None, Some(&p), Provider::Tensorrt, OptLevel::All));
        assert!(text.contains("--trt-fp16"), "{text}");
    }

    #[test]
    fn memory_bound_advises_layout_fusion_and_names_memcpy_nodes() {
        let p = profile(
            &[
                ("Conv", 40.0),
                ("Transpose", 25.0),
                ("MemcpyToHost", 15.0),
                ("Relu", 20.0),
            ],
            90.0,
        );
        let lines = advice(None, Some(&p), Provider::Cuda, OptLevel::Extended);
        let text = joined(&lines);
        assert!(
            text.contains(
                "data movement takes 40 % of the node time (Transpose 25 %, MemcpyToHost 15 %)"
            ),
            "{text}"
        );
        assert!(text.contains("layout"), "{text}");
        assert!(text.contains("at `extended`: --opt-level all"), "{text}");
        assert!(text.contains("Memcpy nodes take 15 %"), "{text}");
        // Conv at 40 % is not compute-bound.
        assert!(!text.contains("convolutions"), "{text}");
    }

    #[test]
    fn executor_overhead_is_named_when_kernels_fill_little_of_the_run() {
        let p = profile(&[("Relu", 50.0), ("Add", 50.0)], 40.0);
        let text = joined(&advice(None, Some(&p), Provider::Cpu, OptLevel::All));
        assert!(text.contains("fill only 40 % of a run's time"), "{text}");
    }

    #[test]
    fn a_profile_with_no_dominant_family_says_so_with_the_largest() {
        let p = profile(&[("Relu", 60.0), ("Add", 40.0)], 95.0);
        let lines = advice(None, Some(&p), Provider::Cpu, OptLevel::All);
        assert_eq!(
            lines,
            ["no family of operators dominates: the largest, Relu, takes 60 % of the node time"]
        );
    }

    #[test]
    fn postprocessing_bound_advises_vectorizing() {
        let lines = advice(
            Some(&stages([10.0, 15.0, 75.0])),
            None,
            Provider::Cpu,
            OptLevel::All,
        );
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with("postprocessing takes 75 % of each sample's time (7.500 ms)"));
        assert!(lines[0].contains("vectorize"));
    }

    #[test]
    fn a_bench_without_a_profile_gets_no_advice() {
        assert!(advice(None, None, Provider::Cpu, OptLevel::All).is_empty());
    }
}
