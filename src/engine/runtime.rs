//! ONNX Runtime, through ort: the only module that imports it.
//!
//! It loads the shared library chosen by `ortlib`, keeps ONNX Runtime's own log lines away from
//! the user unless asked, opens sessions with the requested provider (an error, never a silent
//! fall back to CPU), describes a model's inputs and outputs as plain `model` types, and runs a
//! model two ways: bound once and run many times for timing, or on one batch for evaluation.

use std::fmt::Display;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use ort::environment::Environment;
use ort::logging::LogLevel;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::{IoBinding, Session};
use ort::value::{DynValue, Tensor, TensorElementType, ValueType};
use serde::{Deserialize, Serialize};

use crate::engine::inputs::Returned;
use crate::engine::model::{Dim, ElemType, ModelSpec, TensorData, TensorSpec};
use crate::engine::ortlib::{LibraryChoice, LibrarySource};

/// Execution provider a session runs on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    #[default]
    Cpu,
    Cuda,
    Tensorrt,
}

impl Provider {
    /// Whether the provider runs on an NVIDIA GPU.
    pub fn is_gpu(self) -> bool {
        matches!(self, Provider::Cuda | Provider::Tensorrt)
    }

    pub fn name(self) -> &'static str {
        match self {
            Provider::Cpu => "cpu",
            Provider::Cuda => "cuda",
            Provider::Tensorrt => "tensorrt",
        }
    }
}

/// Graph optimisation level, named as ONNX Runtime's Python API names them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OptLevel {
    Disable,
    Basic,
    Extended,
    #[default]
    All,
}

/// How a session is opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SessionSettings {
    pub provider: Provider,
    pub opt_level: OptLevel,
    /// Threads inside one operator; ONNX Runtime's default (one per core) when absent.
    pub intra_threads: Option<usize>,
    /// Threads across operators; ONNX Runtime's default when absent.
    pub inter_threads: Option<usize>,
    /// Whether idle pool threads busy-wait for work (ONNX Runtime's default). A same-runner A/B
    /// turns it off: two sessions' spinning pools would steal each other's cores.
    #[serde(default = "spinning_default")]
    pub spinning: bool,
    /// Whether the session runs on the process's shared thread pool (default sizes, spinning)
    /// instead of its own: how a same-runner A/B with default threads keeps two sessions from
    /// competing for the cores, while each runs as it would alone.
    #[serde(default)]
    pub shared_pool: bool,
    /// CUDA and TensorRT options; ignored on the CPU.
    #[serde(default)]
    pub gpu: GpuOptions,
}

fn spinning_default() -> bool {
    true
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            provider: Provider::default(),
            opt_level: OptLevel::default(),
            intra_threads: None,
            inter_threads: None,
            spinning: true,
            shared_pool: false,
            gpu: GpuOptions::default(),
        }
    }
}

/// The loaded library, as recorded in results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LibraryInfo {
    pub path: String,
    pub source: LibrarySource,
    pub version: String,
}

/// A loaded ONNX Runtime.
pub struct Runtime {
    environment: Environment,
    pub library: LibraryInfo,
}

pub mod gpu;
mod message;
pub mod profile;
mod session;

pub use gpu::{GpuOptions, Placement, Transfer};
pub use session::*;

/// Where ONNX Runtime's own log lines go: called from its threads, one cleaned line at a time.
pub type LibraryLog = Arc<dyn Fn(&str) + Send + Sync>;

fn ort_error(context: impl Display) -> impl FnOnce(ort::Error) -> anyhow::Error {
    move |e| anyhow!("{context}: {}", message::tidy(&e.to_string()))
}

impl Runtime {
    /// Loads the library once per process. ONNX Runtime's log lines, cleaned for a log, go to
    /// `log` when one is given (the commands pass one under `--verbose`); otherwise they are
    /// dropped.
    pub fn load(choice: &LibraryChoice, log: Option<LibraryLog>) -> Result<Runtime> {
        let builder = ort::init_from(&choice.path).map_err(|e| {
            anyhow!(
                "cannot load ONNX Runtime from {}: {e}",
                choice.path.display()
            )
        })?;
        let verbose = log.is_some();
        let logger: ort::logging::LoggerFunction =
            Arc::new(move |level, category, _id, _location, message| {
                if let Some(log) = &log {
                    log(&crate::base::text::log_text(&format!(
                        "[onnxruntime {level:?} {category}] {}",
                        crate::base::text::clean(message, crate::base::text::TEXT_MAX_CHARS)
                    )));
                }
            });
        // A shared pool at ONNX Runtime's default sizes, which only sessions that ask for it use
        // (a same-runner A/B's two sessions); every other session keeps its own pool.
        let pool = ort::environment::GlobalThreadPoolOptions::default();
        let environment = builder
            .with_global_thread_pool(pool)
            .with_name("modelgate")
            .with_telemetry(false)
            .with_logger(logger)
            .build()
            .map_err(ort_error("cannot start ONNX Runtime"))?;
        // The custom logger starts at verbose; keep the runtime from formatting lines nobody reads.
        environment.set_log_level(if verbose {
            LogLevel::Info
        } else {
            LogLevel::Error
        });
        let version = library_version(&choice.path).unwrap_or_else(|| "unknown".to_string());
        let library = LibraryInfo {
            path: choice.path.display().to_string(),
            source: choice.source,
            version,
        };
        Ok(Runtime {
            environment,
            library,
        })
    }

    /// Opens a session and reports how long creation took.
    pub fn open(&self, path: &Path, settings: &SessionSettings) -> Result<(LoadedModel, Duration)> {
        self.open_with(path, settings, None)
    }

    /// Opens a session with ONNX Runtime's profiler on for every run, writing its trace under
    /// `prefix`; read it with [`LoadedModel::end_profile`]. Never used for timed runs.
    pub fn open_profiled(
        &self,
        path: &Path,
        settings: &SessionSettings,
        prefix: &Path,
    ) -> Result<LoadedModel> {
        Ok(self.open_with(path, settings, Some(prefix))?.0)
    }

    fn open_with(
        &self,
        path: &Path,
        settings: &SessionSettings,
        profile: Option<&Path>,
    ) -> Result<(LoadedModel, Duration)> {
        let mut builder =
            Session::builder(&self.environment).map_err(ort_error("cannot create a session"))?;
        let level = match settings.opt_level {
            OptLevel::Disable => GraphOptimizationLevel::Disable,
            OptLevel::Basic => GraphOptimizationLevel::Level1,
            OptLevel::Extended => GraphOptimizationLevel::Level2,
            OptLevel::All => GraphOptimizationLevel::All,
        };
        builder = builder
            .with_optimization_level(level)
            .map_err(|e| anyhow!("--opt-level: {e}"))?;
        if let Some(n) = settings.intra_threads {
            builder = builder
                .with_intra_threads(n)
                .map_err(|e| anyhow!("--intra-threads {n}: {e}"))?;
        }
        if !settings.shared_pool {
            builder = builder
                .with_independent_thread_pool()
                .map_err(|e| anyhow!("cannot give the session its own thread pool: {e}"))?;
        }
        if !settings.spinning {
            let spinning = |e| anyhow!("cannot turn off thread spinning: {e}");
            builder = builder.with_intra_op_spinning(false).map_err(spinning)?;
            builder = builder.with_inter_op_spinning(false).map_err(spinning)?;
        }
        if let Some(n) = settings.inter_threads {
            builder = builder
                .with_inter_threads(n)
                .map_err(|e| anyhow!("--inter-threads {n}: {e}"))?;
        }
        let mut state = GpuState::default();
        let providers = match settings.provider {
            Provider::Cpu => vec![],
            Provider::Cuda => vec![ort::ep::CUDA::default()
                .with_cuda_graph(settings.gpu.cuda_graph)
                .build()
                .error_on_failure()],
            // TensorRT leaves the nodes it cannot take to CUDA, as ONNX Runtime recommends.
            Provider::Tensorrt => {
                let folder = trt_cache(path, &settings.gpu)?;
                state.engines_before = Some(gpu::engine_files(&folder));
                let trt = ort::ep::TensorRT::default()
                    .with_engine_cache(true)
                    .with_engine_cache_path(folder.display())
                    .with_timing_cache(true)
                    .with_timing_cache_path(folder.display())
                    .with_fp16(settings.gpu.trt_fp16)
                    .with_cuda_graph(settings.gpu.cuda_graph);
                state.cache = Some(folder);
                vec![
                    trt.build().error_on_failure(),
                    ort::ep::CUDA::default().build().error_on_failure(),
                ]
            }
        };
        if let Some(prefix) = profile {
            builder = builder
                .with_profiling(prefix)
                .map_err(|e| anyhow!("cannot turn on ONNX Runtime's profiler: {e}"))?;
            state.allow_cpu_fallback = true;
        } else if settings.provider.is_gpu() {
            // The profiler runs on the first (untimed) run only, to read where each node ran.
            let dir = tempfile::tempdir().context("cannot create a folder for the profile")?;
            builder = builder
                .with_profiling(dir.path().join("placement"))
                .map_err(|e| anyhow!("cannot turn on ONNX Runtime's profiler: {e}"))?;
            state.profile = Some(dir);
            state.allow_cpu_fallback = settings.gpu.allow_cpu_fallback;
        }
        if !providers.is_empty() {
            builder = builder.with_execution_providers(providers).map_err(|e| {
                anyhow!(
                    "--ep {}: the {} execution provider is not available ({}); install onnxruntime-gpu 1.31 with \
                     its CUDA libraries and point modelgate at it with --ort-lib, or use --ep cpu",
                    settings.provider.name(),
                    settings.provider.name(),
                    first_line(&e.to_string())
                )
            })?;
        }
        let started = Instant::now();
        let session = builder.commit_from_file(path).map_err(|e| {
            let text = e.to_string();
            match message::load_hint(&text, &self.library.version) {
                Some(hint) => anyhow!("{}: {hint}", path.display()),
                None => anyhow!(
                    "{} is not a model ONNX Runtime can load ({}); check that it is a complete .onnx file",
                    path.display(),
                    message::tidy(&text)
                ),
            }
        })?;
        let created = started.elapsed();
        let spec = ModelSpec {
            inputs: session
                .inputs()
                .iter()
                .map(|o| describe(o.name(), o.dtype()))
                .collect(),
            outputs: session
                .outputs()
                .iter()
                .map(|o| describe(o.name(), o.dtype()))
                .collect(),
        };
        Ok((
            LoadedModel {
                session,
                spec,
                binding: None,
                outputs_checked: false,
                output_notes: Vec::new(),
                gpu: settings.provider.is_gpu().then_some(state),
            },
            created,
        ))
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text).trim()
}

/// The release the library reports through `OrtGetApiBase()->GetVersionString()`; ort checks it
/// on load but does not expose it, and release builds say `git-branch=HEAD` in their build info.
fn library_version(path: &Path) -> Option<String> {
    // SAFETY: the library was already loaded successfully by ort::init_from, so opening it again
    // only raises its reference count; OrtGetApiBase and GetVersionString take no arguments and
    // return pointers to static data owned by the library, which stays loaded for the process.
    unsafe {
        let library = libloading::Library::new(path).ok()?;
        let get_base: libloading::Symbol<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase> =
            library.get(b"OrtGetApiBase").ok()?;
        let base = get_base();
        if base.is_null() {
            return None;
        }
        let text = ((*base).GetVersionString)();
        if text.is_null() {
            return None;
        }
        let version = std::ffi::CStr::from_ptr(text).to_str().ok()?.to_string();
        std::mem::forget(library);
        Some(version)
    }
}

fn describe(name: &str, dtype: &ValueType) -> TensorSpec {
    match dtype {
        ValueType::Tensor {
            ty,
            shape,
            dimension_symbols,
        } => TensorSpec {
            name: name.to_string(),
            elem: elem_type(*ty),
            dims: shape
                .iter()
                .zip(dimension_symbols.iter())
                .map(|(n, symbol)| {
                    if *n >= 0 {
                        Dim::Fixed(*n)
                    } else {
                        Dim::Symbolic(symbol.clone())
                    }
                })
                .collect(),
        },
        other => TensorSpec {
            name: name.to_string(),
            elem: ElemType::Unsupported(other.to_string()),
            dims: vec![],
        },
    }
}

fn elem_type(ty: TensorElementType) -> ElemType {
    match ty {
        TensorElementType::Float32 => ElemType::Float32,
        TensorElementType::Float16 => ElemType::Float16,
        TensorElementType::Int64 => ElemType::Int64,
        TensorElementType::Int32 => ElemType::Int32,
        TensorElementType::Uint8 => ElemType::Uint8,
        TensorElementType::Int8 => ElemType::Int8,
        TensorElementType::Bool => ElemType::Bool,
        other => ElemType::Unsupported(format!("{other:?}").to_lowercase()),
    }
}

fn to_value(shape: &[i64], data: TensorData) -> Result<DynValue> {
    let shape = shape.to_vec();
    let value = match data {
        TensorData::F32(v) => Tensor::from_array((shape, v)).map(|t| t.into_dyn()),
        TensorData::F64(v) => Tensor::from_array((shape, v)).map(|t| t.into_dyn()),
        TensorData::F16(v) => Tensor::from_array((shape, v)).map(|t| t.into_dyn()),
        TensorData::I64(v) => Tensor::from_array((shape, v)).map(|t| t.into_dyn()),
        TensorData::I32(v) => Tensor::from_array((shape, v)).map(|t| t.into_dyn()),
        TensorData::U8(v) => Tensor::from_array((shape, v)).map(|t| t.into_dyn()),
        TensorData::I8(v) => Tensor::from_array((shape, v)).map(|t| t.into_dyn()),
        TensorData::Bool(v) => Tensor::from_array((shape, v)).map(|t| t.into_dyn()),
    };
    value.map_err(ort_error("cannot make an input tensor"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returned_shapes_are_checked_against_rank_and_fixed_dims() {
        let declared = [Dim::Fixed(1), Dim::Symbolic("seqlen".into())];
        assert!(fits_declared(&declared, &[1, 7]));
        assert!(!fits_declared(&declared, &[1, 1, 4]));
        assert!(!fits_declared(&declared, &[2, 7]));
        assert!(fits_declared(&[], &[]));
    }

    #[test]
    fn library_version_is_none_for_a_file_that_is_not_onnx_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("libonnxruntime.so");
        std::fs::write(&fake, b"not a library").unwrap();
        assert_eq!(library_version(&fake), None);
    }
}
