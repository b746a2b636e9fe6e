//! What a model takes and gives, as plain data, and how concrete input shapes are chosen.
//!
//! The runtime module reads a model's inputs and outputs from ONNX Runtime and describes them with
//! these types; everything after that (choosing shapes for symbolic dims, making random inputs,
//! reporting) works on them without touching ONNX Runtime, so it can be tested on its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use half::f16;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Element type of a tensor, as far as modelgate can feed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ElemType {
    Float32,
    Float16,
    Int64,
    Int32,
    Uint8,
    Int8,
    Bool,
    /// Anything else (string, float64, ...), with ONNX Runtime's name for it.
    Unsupported(String),
}

/// One dimension of a declared shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dim {
    Fixed(i64),
    /// A dynamic dimension; the name is empty when the model gives none.
    Symbolic(String),
}

/// A named input or output as the model declares it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TensorSpec {
    pub name: String,
    pub elem: ElemType,
    pub dims: Vec<Dim>,
}

/// The model's interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModelSpec {
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
}

/// Shape choices from the command line: `--shape NAME=1x3x224x224` and `--dim SYMBOL=8`, and the
/// files of real input values (`--input`, `--inputs`), whose shapes are fixed by their contents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShapeRequest {
    pub shapes: BTreeMap<String, Vec<i64>>,
    pub dims: BTreeMap<String, i64>,
    /// `[height, width]` for an NCHW image input whose height and width are symbolic and not
    /// set by `dims`: the size the gate's dataset is preprocessed to, so the model is timed on
    /// the images it is judged on.
    #[serde(default)]
    pub image_size: Option<[i64; 2]>,
    #[serde(default)]
    pub inputs: InputFiles,
}

/// An input with every dimension fixed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResolvedInput {
    pub name: String,
    pub elem: ElemType,
    pub shape: Vec<i64>,
}

/// Concrete shapes for every input, and the symbolic dims that fell back to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    pub inputs: Vec<ResolvedInput>,
    pub defaulted: Vec<String>,
}

impl ModelSpec {
    /// True when every input's first dim is dynamic, so a batch size can be chosen.
    pub fn batch_is_dynamic(&self) -> bool {
        !self.inputs.is_empty()
            && self
                .inputs
                .iter()
                .all(|i| matches!(i.dims.first(), Some(Dim::Symbolic(_))))
    }

    /// Checks the request against the model, then fixes every dim. `batch` sets a dynamic first dim
    /// unless `--shape` or `--dim` already set it.
    pub fn resolve(&self, request: &ShapeRequest, batch: Option<i64>) -> Result<Resolution> {
        let input_names = || {
            self.inputs
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        for name in request.shapes.keys() {
            if !self.inputs.iter().any(|i| &i.name == name) {
                bail!(
                    "--shape {name}=...: the model has no input named `{name}`; its inputs are: {}",
                    input_names()
                );
            }
        }
        let symbols: Vec<&str> = self
            .inputs
            .iter()
            .flat_map(|i| i.dims.iter())
            .filter_map(|d| match d {
                Dim::Symbolic(s) if !s.is_empty() => Some(s.as_str()),
                _ => None,
            })
            .collect();
        for symbol in request.dims.keys() {
            if !symbols.contains(&symbol.as_str()) {
                let known = if symbols.is_empty() {
                    "none".to_string()
                } else {
                    dedup(&symbols).join(", ")
                };
                bail!("--dim {symbol}=...: the model has no symbolic dimension `{symbol}`; its symbolic dims are: {known}");
            }
        }
        let mut defaulted = Vec::new();
        let mut inputs = Vec::with_capacity(self.inputs.len());
        for input in &self.inputs {
            if let ElemType::Unsupported(kind) = &input.elem {
                bail!(
                    "input `{}` has element type {kind}, which modelgate cannot generate; \
                     supported: float32, float16, int64, int32, uint8, int8, bool",
                    input.name
                );
            }
            let shape = match request.shapes.get(&input.name) {
                Some(shape) => check_override(input, shape)?,
                None => resolve_dims(input, request, batch, &mut defaulted)?,
            };
            inputs.push(ResolvedInput {
                name: input.name.clone(),
                elem: input.elem.clone(),
                shape,
            });
        }
        let fixed: Vec<bool> = self
            .inputs
            .iter()
            .map(|i| i.dims.iter().all(|d| matches!(d, Dim::Fixed(_))))
            .collect();
        check_input_bytes(&inputs, &fixed)?;
        Ok(Resolution {
            inputs,
            defaulted: dedup(&defaulted.iter().map(String::as_str).collect::<Vec<_>>()),
        })
    }
}

fn check_override(input: &TensorSpec, shape: &[i64]) -> Result<Vec<i64>> {
    if shape.len() != input.dims.len() {
        bail!(
            "--shape {}: gives {} dims but the input has {} ({}); give one size per dim",
            input.name,
            shape.len(),
            input.dims.len(),
            format_dims(&input.dims)
        );
    }
    for (axis, (given, declared)) in shape.iter().zip(&input.dims).enumerate() {
        if *given <= 0 {
            bail!(
                "--shape {}: dim {axis} is {given}; sizes must be at least 1",
                input.name
            );
        }
        if let Dim::Fixed(fixed) = declared {
            if fixed != given {
                bail!(
                    "--shape {}: dim {axis} is fixed at {fixed} by the model, not {given}",
                    input.name
                );
            }
        }
    }
    Ok(shape.to_vec())
}

fn resolve_dims(
    input: &TensorSpec,
    request: &ShapeRequest,
    batch: Option<i64>,
    defaulted: &mut Vec<String>,
) -> Result<Vec<i64>> {
    let label = |axis: usize, symbol: &str| {
        if symbol.is_empty() {
            format!("{}[{axis}]", input.name)
        } else {
            symbol.to_string()
        }
    };
    // An image input with dynamic height and width would run on a 1x1 image: a number that
    // means nothing, so the caller must choose the size.
    let mut image_size = None;
    if let [_, _, Dim::Symbolic(h), Dim::Symbolic(w)] = input.dims.as_slice() {
        let set = request.dims.contains_key(h) && request.dims.contains_key(w);
        if !set && request.image_size.is_some() {
            image_size = request.image_size;
        } else if !set {
            let dims = if h.is_empty() || w.is_empty() {
                String::new()
            } else {
                format!("--dim {h}=224 --dim {w}=224 or ")
            };
            bail!(
                "input `{}` ({}) has dynamic height and width ({} and {}), which would run on a 1x1 image; set them with {dims}--shape {}=1x3x224x224",
                input.name,
                format_dims(&input.dims),
                label(2, h),
                label(3, w),
                input.name
            );
        }
    }
    Ok(input
        .dims
        .iter()
        .enumerate()
        .map(|(axis, dim)| match dim {
            Dim::Fixed(n) => *n,
            Dim::Symbolic(symbol) => {
                if let (Some([h, w]), 2 | 3) = (image_size, axis) {
                    if axis == 2 {
                        h
                    } else {
                        w
                    }
                } else if let Some(n) = request.dims.get(symbol) {
                    *n
                } else if let (0, Some(b)) = (axis, batch) {
                    b
                } else {
                    defaulted.push(label(axis, symbol));
                    1
                }
            }
        })
        .collect())
}

fn dedup(items: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.iter().any(|o| o == item) {
            out.push((*item).to_string());
        }
    }
    out
}

/// `1x3xNx224` style text for a declared shape.
pub fn format_dims(dims: &[Dim]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => n.to_string(),
            Dim::Symbolic(s) if s.is_empty() => "?".to_string(),
            Dim::Symbolic(s) => s.clone(),
        })
        .collect();
    if parts.is_empty() {
        "scalar".to_string()
    } else {
        parts.join("x")
    }
}

/// `1x3x224x224` parsed; used for `--shape`.
pub fn parse_shape(text: &str) -> Option<Vec<i64>> {
    text.split(['x', 'X', ','])
        .map(|part| part.trim().parse::<i64>().ok().filter(|n| *n > 0))
        .collect()
}

/// Host data of one tensor: an input fed to a model, or a tensor read from a file (which may
/// hold float64, a type no supported input takes).
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    F64(Vec<f64>),
    F16(Vec<f16>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    U8(Vec<u8>),
    I8(Vec<i8>),
    Bool(Vec<bool>),
}

impl TensorData {
    /// The element type as modelgate names it (`float32`, `int64`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            TensorData::F32(_) => "float32",
            TensorData::F64(_) => "float64",
            TensorData::F16(_) => "float16",
            TensorData::I64(_) => "int64",
            TensorData::I32(_) => "int32",
            TensorData::U8(_) => "uint8",
            TensorData::I8(_) => "int8",
            TensorData::Bool(_) => "bool",
        }
    }

    /// Whether these values are of element type `elem`.
    pub fn is_of(&self, elem: &ElemType) -> bool {
        matches!(
            (self, elem),
            (TensorData::F32(_), ElemType::Float32)
                | (TensorData::F16(_), ElemType::Float16)
                | (TensorData::I64(_), ElemType::Int64)
                | (TensorData::I32(_), ElemType::Int32)
                | (TensorData::U8(_), ElemType::Uint8)
                | (TensorData::I8(_), ElemType::Int8)
                | (TensorData::Bool(_), ElemType::Bool)
        )
    }

    /// Every value widened to f64, for comparing outputs.
    pub fn to_f64(&self) -> Vec<f64> {
        match self {
            TensorData::F32(v) => v.iter().map(|x| f64::from(*x)).collect(),
            TensorData::F64(v) => v.clone(),
            TensorData::F16(v) => v.iter().map(|x| x.to_f64()).collect(),
            TensorData::I64(v) => v.iter().map(|x| *x as f64).collect(),
            TensorData::I32(v) => v.iter().map(|x| f64::from(*x)).collect(),
            TensorData::U8(v) => v.iter().map(|x| f64::from(*x)).collect(),
            TensorData::I8(v) => v.iter().map(|x| f64::from(*x)).collect(),
            TensorData::Bool(v) => v.iter().map(|x| f64::from(u8::from(*x))).collect(),
        }
    }

    /// Random values of the input's type. Integers stay small (0..10) because integer inputs are
    /// often indices into an embedding table, where a large value would fail the run.
    pub fn random(input: &ResolvedInput, rng: &mut impl Rng) -> Result<TensorData> {
        let len = input.shape.iter().product::<i64>() as usize;
        Ok(match &input.elem {
            ElemType::Float32 => TensorData::F32((0..len).map(|_| rng.random::<f32>()).collect()),
            ElemType::Float16 => TensorData::F16(
                (0..len)
                    .map(|_| f16::from_f32(rng.random::<f32>()))
                    .collect(),
            ),
            ElemType::Int64 => TensorData::I64((0..len).map(|_| rng.random_range(0..10)).collect()),
            ElemType::Int32 => TensorData::I32((0..len).map(|_| rng.random_range(0..10)).collect()),
            ElemType::Uint8 => TensorData::U8((0..len).map(|_| rng.random()).collect()),
            ElemType::Int8 => TensorData::I8((0..len).map(|_| rng.random()).collect()),
            ElemType::Bool => TensorData::Bool((0..len).map(|_| rng.random()).collect()),
            ElemType::Unsupported(kind) => {
                bail!("input `{}` has unsupported element type {kind}", input.name)
            }
        })
    }
}

/// Where real input values come from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InputFiles {
    /// `--input NAME=PATH`: one `.npy` or `.pb` file per input; overrides the folder's.
    #[serde(default)]
    pub files: BTreeMap<String, PathBuf>,
    /// `--inputs DIR`: `input_0.pb`, `input_1.pb`, ... and `output_0.pb`, ...
    #[serde(default)]
    pub dir: Option<PathBuf>,
}

impl InputFiles {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.dir.is_none()
    }
}

/// Fails early, with the path, when a model file is missing or unreadable.
pub fn check_model_file(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() && meta.len() < 1024 => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read model file {}", path.display()))?;
            if crate::base::gitref::is_lfs_pointer(&bytes) {
                bail!(
                    "model {} is a Git LFS pointer, not the model; fetch the file with `git lfs pull` (actions/checkout with lfs: true)",
                    path.display()
                );
            }
            Ok(())
        }
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(meta) => bail!(
            "model {} is {}, not an .onnx file; give the path of the model file",
            path.display(),
            file_kind(&meta.file_type())
        ),
        Err(_) => bail!(
            "model file {} does not exist; check the path",
            path.display()
        ),
    }
}

/// What a path that is not a regular file is, for an error message.
fn file_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    if kind.is_dir() {
        "a folder"
    } else {
        "not a regular file"
    }
}

/// Bytes of one element, for the input types modelgate makes; `None` for the others.
fn elem_bytes(elem: &ElemType) -> Option<u64> {
    Some(match elem {
        ElemType::Float32 | ElemType::Int32 => 4,
        ElemType::Float16 => 2,
        ElemType::Int64 => 8,
        ElemType::Uint8 | ElemType::Int8 | ElemType::Bool => 1,
        ElemType::Unsupported(_) => return None,
    })
}

/// Checks that one run's inputs, all together, fit in [`crate::base::limits::MAX_INPUT_BYTES`]. `fixed_by_model`
/// tells, per input, whether the model fixes every dim (then no flag can shrink it).
pub fn check_input_bytes(inputs: &[ResolvedInput], fixed_by_model: &[bool]) -> Result<()> {
    let mut total: u64 = 0;
    for (input, fixed) in inputs.iter().zip(fixed_by_model) {
        let bytes = input
            .shape
            .iter()
            .map(|d| u64::try_from(*d).ok())
            .chain([elem_bytes(&input.elem)])
            .try_fold(1u64, |acc, d| acc.checked_mul(d?));
        let sum = bytes.and_then(|b| total.checked_add(b));
        match sum {
            Some(sum) if sum <= crate::base::limits::MAX_INPUT_BYTES => total = sum,
            _ => {
                let dims: Vec<String> = input.shape.iter().map(i64::to_string).collect();
                let size =
                    bytes.map_or("more than 2^64 bytes".to_string(), |b| format!("{b} bytes"));
                let fix = if *fixed {
                    "the model fixes this shape, so modelgate cannot feed it"
                } else {
                    "choose smaller sizes with --shape NAME=DIMS, --dim SYMBOL=N or --batch N (bench.shapes, bench.dims, bench.batch in the gate config)"
                };
                let together = if total > 0 {
                    "with the inputs before it, "
                } else {
                    ""
                };
                bail!(
                    "input `{}` is {} ({size}): {together}more than the {} GiB of input modelgate makes per run; {fix}",
                    input.name,
                    dims.join("x"),
                    crate::base::limits::MAX_INPUT_BYTES >> 30
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ModelSpec {
        let input = |name: &str, dims: Vec<Dim>| TensorSpec {
            name: name.into(),
            elem: ElemType::Float32,
            dims,
        };
        ModelSpec {
            inputs: vec![
                input(
                    "image",
                    vec![
                        Dim::Symbolic("N".into()),
                        Dim::Fixed(3),
                        Dim::Symbolic("side".into()),
                    ],
                ),
                input(
                    "mask",
                    vec![Dim::Symbolic("N".into()), Dim::Symbolic(String::new())],
                ),
            ],
            outputs: vec![],
        }
    }

    #[test]
    fn a_dataset_image_size_fixes_dynamic_height_and_width() {
        let spec = ModelSpec {
            inputs: vec![TensorSpec {
                name: "pixels".into(),
                elem: ElemType::Float32,
                dims: vec![
                    Dim::Symbolic("N".into()),
                    Dim::Fixed(3),
                    Dim::Symbolic("H".into()),
                    Dim::Symbolic("W".into()),
                ],
            }],
            outputs: vec![],
        };
        let open = ShapeRequest::default();
        let err = spec.resolve(&open, None).unwrap_err().to_string();
        assert!(err.contains("dynamic height and width"), "{err}");
        let from_data = ShapeRequest {
            image_size: Some([224, 160]),
            ..Default::default()
        };
        let resolved = spec.resolve(&from_data, None).unwrap();
        assert_eq!(resolved.inputs[0].shape, vec![1, 3, 224, 160]);
        // Dims the caller sets win over the dataset's size.
        let both = ShapeRequest {
            dims: [("H".into(), 32), ("W".into(), 48)].into(),
            image_size: Some([224, 160]),
            ..Default::default()
        };
        let resolved = spec.resolve(&both, None).unwrap();
        assert_eq!(resolved.inputs[0].shape, vec![1, 3, 32, 48]);
    }

    #[test]
    fn unset_symbolic_dims_default_to_one_and_are_reported() {
        let resolved = spec().resolve(&ShapeRequest::default(), None).unwrap();
        assert_eq!(resolved.inputs[0].shape, vec![1, 3, 1]);
        assert_eq!(resolved.inputs[1].shape, vec![1, 1]);
        assert_eq!(resolved.defaulted, vec!["N", "side", "mask[1]"]);
    }

    #[test]
    fn dim_and_batch_and_shape_overrides_apply() {
        let mut request = ShapeRequest::default();
        request.dims.insert("side".into(), 7);
        request.shapes.insert("mask".into(), vec![4, 5]);
        let resolved = spec().resolve(&request, Some(4)).unwrap();
        assert_eq!(resolved.inputs[0].shape, vec![4, 3, 7]);
        assert_eq!(resolved.inputs[1].shape, vec![4, 5]);
        assert!(resolved.defaulted.is_empty());
    }

    #[test]
    fn bad_overrides_name_the_problem() {
        let cases: Vec<(ShapeRequest, &str)> = vec![
            (
                ShapeRequest {
                    shapes: [("nope".into(), vec![1])].into(),
                    ..Default::default()
                },
                "no input named `nope`",
            ),
            (
                ShapeRequest {
                    dims: [("batch".into(), 2)].into(),
                    ..Default::default()
                },
                "no symbolic dimension `batch`",
            ),
            (
                ShapeRequest {
                    shapes: [("image".into(), vec![1, 3])].into(),
                    ..Default::default()
                },
                "gives 2 dims",
            ),
            (
                ShapeRequest {
                    shapes: [("image".into(), vec![1, 4, 8])].into(),
                    ..Default::default()
                },
                "fixed at 3",
            ),
        ];
        for (request, expected) in cases {
            let err = spec().resolve(&request, None).unwrap_err().to_string();
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
    }

    #[test]
    fn unsupported_input_type_is_an_error() {
        let mut model = spec();
        model.inputs[0].elem = ElemType::Unsupported("string".into());
        let err = model
            .resolve(&ShapeRequest::default(), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("element type string"), "{err}");
    }

    #[test]
    fn unset_dynamic_height_and_width_is_an_error_naming_the_flags() {
        let image = ModelSpec {
            inputs: vec![TensorSpec {
                name: "pixels".into(),
                elem: ElemType::Float32,
                dims: ["N", "C", "H", "W"]
                    .map(|s| Dim::Symbolic(s.into()))
                    .to_vec(),
            }],
            outputs: vec![],
        };
        let err = image
            .resolve(&ShapeRequest::default(), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--dim H=224 --dim W=224") && err.contains("--shape pixels="),
            "{err}"
        );
        let mut request = ShapeRequest::default();
        request.dims.insert("H".into(), 32);
        request.dims.insert("W".into(), 16);
        let resolved = image.resolve(&request, None).unwrap();
        assert_eq!(resolved.inputs[0].shape, vec![1, 1, 32, 16]);
        assert_eq!(resolved.defaulted, vec!["N", "C"]);
    }

    #[test]
    fn parses_shapes() {
        assert_eq!(parse_shape("1x3x224x224"), Some(vec![1, 3, 224, 224]));
        assert_eq!(parse_shape("8"), Some(vec![8]));
        assert_eq!(parse_shape("1x0"), None);
        assert_eq!(parse_shape("ax3"), None);
    }

    #[test]
    fn batch_dynamic_needs_every_first_dim_symbolic() {
        assert!(spec().batch_is_dynamic());
        let mut fixed = spec();
        fixed.inputs[1].dims[0] = Dim::Fixed(1);
        assert!(!fixed.batch_is_dynamic());
    }

    fn input(shape: Vec<i64>) -> ResolvedInput {
        ResolvedInput {
            name: "x".into(),
            elem: ElemType::Float32,
            shape,
        }
    }

    #[test]
    fn input_bytes_overflow_is_over_the_limit() {
        assert!(check_input_bytes(&[input(vec![1, 3, 224, 224])], &[false]).is_ok());
        for shape in [
            vec![100_000, 100_000, 3],
            vec![i64::MAX, i64::MAX, 4],
            vec![(1 << 29) + 1, 1],
        ] {
            let err = check_input_bytes(&[input(shape)], &[true]).unwrap_err();
            assert!(err.to_string().contains("2 GiB"), "{err}");
        }
        // Two inputs each within the limit, together over it.
        let half = input(vec![(1 << 28) + 1, 1]);
        assert!(check_input_bytes(&[half.clone(), half], &[false, false]).is_err());
    }
}
