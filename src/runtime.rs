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

use crate::inputs::Returned;
use crate::model::{Dim, ElemType, ModelSpec, TensorData, TensorSpec};
use crate::ortlib::{LibraryChoice, LibrarySource};

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
pub use gpu::{GpuOptions, Placement, Transfer};

fn ort_error(context: impl Display) -> impl FnOnce(ort::Error) -> anyhow::Error {
    move |e| anyhow!("{context}: {}", message::tidy(&e.to_string()))
}

impl Runtime {
    /// Loads the library once per process. ONNX Runtime's log lines go to stderr only when
    /// `verbose` is set; otherwise they are dropped.
    pub fn load(choice: &LibraryChoice, verbose: bool) -> Result<Runtime> {
        let builder = ort::init_from(&choice.path).map_err(|e| {
            anyhow!(
                "cannot load ONNX Runtime from {}: {e}",
                choice.path.display()
            )
        })?;
        let logger: ort::logging::LoggerFunction =
            Arc::new(move |level, category, _id, _location, message| {
                if verbose {
                    eprintln!(
                        "{}",
                        crate::text::log_text(&format!(
                            "[onnxruntime {level:?} {category}] {}",
                            crate::text::clean(message, crate::text::TEXT_MAX_CHARS)
                        ))
                    );
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
        TensorData::F16(v) => Tensor::from_array((shape, v)).map(|t| t.into_dyn()),
        TensorData::I64(v) => Tensor::from_array((shape, v)).map(|t| t.into_dyn()),
        TensorData::I32(v) => Tensor::from_array((shape, v)).map(|t| t.into_dyn()),
        TensorData::U8(v) => Tensor::from_array((shape, v)).map(|t| t.into_dyn()),
        TensorData::I8(v) => Tensor::from_array((shape, v)).map(|t| t.into_dyn()),
        TensorData::Bool(v) => Tensor::from_array((shape, v)).map(|t| t.into_dyn()),
    };
    value.map_err(ort_error("cannot make an input tensor"))
}

/// An open session and its interface.
pub struct LoadedModel {
    session: Session,
    pub spec: ModelSpec,
    binding: Option<IoBinding>,
    /// Whether the first bound run's outputs were compared with the declared shapes.
    outputs_checked: bool,
    /// Outputs whose returned shape differs from the declared one; see [`LoadedModel::run_bound`].
    output_notes: Vec<String>,
    /// On CUDA and TensorRT: the device copies, the placement check and the engine cache.
    gpu: Option<GpuState>,
}

/// What a GPU session keeps beside the session.
#[derive(Default)]
struct GpuState {
    allow_cpu_fallback: bool,
    /// The profiler's folder until the first run has been read from it.
    profile: Option<tempfile::TempDir>,
    placement: Option<Placement>,
    /// The bound inputs as host tensors, to time their copy to the device.
    host_inputs: Vec<DynValue>,
    /// TensorRT's cache folder and its engine files before the session was opened.
    cache: Option<std::path::PathBuf>,
    engines_before: Option<usize>,
    notes: Vec<String>,
}

/// The TensorRT cache folder for `path` under the configured (or default) root, created.
fn trt_cache(path: &Path, options: &GpuOptions) -> Result<std::path::PathBuf> {
    let root = options
        .trt_cache_dir
        .clone()
        .unwrap_or_else(gpu::default_trt_cache_root);
    let sha = crate::system::sha256_file(path)
        .with_context(|| format!("cannot read model file {}", path.display()))?;
    let gpu_name = crate::system::gpu_info().map_or_else(|| "gpu".to_string(), |g| g.name);
    let version = gpu::tensorrt_version().unwrap_or_else(|| "unknown".to_string());
    let folder = gpu::trt_cache_folder(&root, &sha, &version, &gpu_name, options.trt_fp16);
    std::fs::create_dir_all(&folder).with_context(|| {
        format!(
            "cannot create the TensorRT cache folder {}; set trt_cache_dir under [models.bench] (or --trt-cache-dir) to a writable folder",
            folder.display()
        )
    })?;
    Ok(folder)
}

fn device_memory() -> Result<ort::memory::MemoryInfo<'static>> {
    ort::memory::MemoryInfo::new(
        ort::memory::AllocationDevice::CUDA,
        0,
        ort::memory::AllocatorType::Device,
        ort::memory::MemoryType::Default,
    )
    .map_err(ort_error("cannot describe CUDA device memory"))
}

/// A copy of a tensor on `device` (synchronous: the copy has finished when it returns).
fn copy_to(value: &DynValue, device: ort::memory::AllocationDevice) -> Result<DynValue> {
    let tensor = value
        .view()
        .downcast::<ort::value::DynTensorValueType>()
        .map_err(ort_error("only tensors can be copied to the GPU"))?;
    let copied = tensor
        .to(device, 0)
        .map_err(ort_error("cannot copy a tensor between host and GPU"))?;
    Ok(copied.into_dyn())
}

/// Bytes of a tensor's data.
fn tensor_bytes(value: &DynValue) -> u64 {
    match value.dtype() {
        ValueType::Tensor { ty, shape, .. } => {
            let n: i64 = shape.iter().product();
            ty.byte_size(n.max(0) as usize).unwrap_or(0) as u64
        }
        _ => 0,
    }
}

/// One input, ready to feed.
pub struct Feed {
    pub name: String,
    pub shape: Vec<i64>,
    pub data: TensorData,
}

/// The first output of a batch run, as floats: `rows` samples of `cols` values.
#[derive(Debug, Clone)]
pub struct OutputMatrix {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f32>,
}

impl LoadedModel {
    /// Binds the inputs once, so that `run_bound` measures the model and not the copying of
    /// inputs or the allocation of output names.
    pub fn bind(&mut self, feeds: Vec<Feed>) -> Result<()> {
        let mut binding = self
            .session
            .create_binding()
            .map_err(ort_error("cannot create an I/O binding"))?;
        let on_gpu = self.gpu.is_some();
        let mut host_inputs = Vec::new();
        for feed in feeds {
            let value = to_value(&feed.shape, feed.data)?;
            // On a GPU the inputs are copied to the device once, here, so the timed runs
            // measure the model and not the copy (timed apart by `measure_transfers`).
            let bind_error = || ort_error(format!("cannot bind input `{}`", feed.name));
            if on_gpu {
                let device = copy_to(&value, ort::memory::AllocationDevice::CUDA)?;
                binding
                    .bind_input(feed.name.as_str(), &device)
                    .map_err(bind_error())?;
                host_inputs.push(value);
            } else {
                binding
                    .bind_input(feed.name.as_str(), &value)
                    .map_err(bind_error())?;
            }
        }
        if let Some(gpu) = &mut self.gpu {
            gpu.host_inputs = host_inputs;
        }
        bind_outputs(&self.session, &mut binding, &self.spec.outputs, on_gpu)?;
        self.binding = Some(binding);
        self.outputs_checked = false;
        self.output_notes.clear();
        Ok(())
    }

    /// One run with the bound inputs. The outputs are dropped: only the time matters here.
    ///
    /// ONNX Runtime allocates the outputs on the first run and reuses them on the next, and it
    /// checks a reused output against the model's declared shape ("Invalid rank for output"),
    /// while a freshly allocated one only draws a warning, as in Python's `session.run`. So the
    /// first run compares what came back with the declared shapes, and a model whose outputs
    /// differ gets its outputs bound afresh before every run.
    #[inline]
    pub fn run_bound(&mut self) -> Result<()> {
        let binding = self.binding.as_mut().context("no inputs are bound")?;
        let on_gpu = self.gpu.is_some();
        if !self.output_notes.is_empty() {
            binding.clear_outputs();
            bind_outputs(&self.session, binding, &self.spec.outputs, on_gpu)?;
        }
        let outputs = self.session.run_binding(binding).map_err(|e| {
            anyhow!(
                "the model failed to run: {}; if it needs real input values (token ids, a sample rate), give them with --input NAME=FILE or --inputs DIR (or bench.inputs in the gate config)",
                message::tidy(&e.to_string())
            )
        })?;
        if !self.outputs_checked {
            self.outputs_checked = true;
            self.output_notes = self
                .spec
                .outputs
                .iter()
                .filter_map(|declared| {
                    let value = outputs.get(declared.name.as_str())?;
                    let ValueType::Tensor { shape, .. } = value.dtype() else {
                        return None;
                    };
                    let shape: Vec<i64> = shape.to_vec();
                    (!fits_declared(&declared.dims, &shape)).then(|| {
                        format!(
                            "output `{}` is declared {} but the model returns {}; \
                             ONNX Runtime allocates it afresh on every run, as Python's session.run does",
                            declared.name,
                            crate::model::format_dims(&declared.dims),
                            format_shape(&shape)
                        )
                    })
                })
                .collect();
        }
        if on_gpu {
            // The run's kernels may still be queued on the device: the timed region ends when
            // they have finished, not when they were launched.
            binding
                .synchronize_outputs()
                .map_err(ort_error("cannot synchronize with the GPU"))?;
        }
        drop(outputs);
        self.after_run()
    }

    /// After a GPU session's first run, of any kind: the placement check (and the profiler off).
    fn after_run(&mut self) -> Result<()> {
        if self.gpu.as_ref().is_some_and(|g| g.profile.is_some()) {
            self.check_placement()?;
        }
        Ok(())
    }

    /// After the first GPU run: reads where each node ran from the profiler (then off for good),
    /// and fails when nodes that compute on tensors ran on the CPU, unless that is allowed.
    fn check_placement(&mut self) -> Result<()> {
        let file = self
            .session
            .end_profiling()
            .map_err(ort_error("cannot end ONNX Runtime's profiler"))?;
        let Some(gpu) = self.gpu.as_mut() else {
            return Ok(());
        };
        let profile = gpu.profile.take();
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        drop(profile);
        let Some(placement) = gpu::placement_from_profile(&text) else {
            gpu.notes.push(
                "where each node ran could not be read from ONNX Runtime's profile; CPU fallback was not checked".into(),
            );
            return Ok(());
        };
        if placement.cpu_shape_nodes > 0 {
            gpu.notes.push(format!(
                "{} shape-arithmetic node(s) ran on the CPU, as ONNX Runtime places them by design",
                placement.cpu_shape_nodes
            ));
        }
        if let (Some(folder), Some(before)) = (&gpu.cache, gpu.engines_before) {
            let after = gpu::engine_files(folder);
            gpu.notes.push(if after > before {
                format!(
                    "TensorRT built its engine (part of the cold start) and cached it in {}",
                    folder.display()
                )
            } else {
                format!("TensorRT reused the cached engine in {}", folder.display())
            });
        }
        let compute = placement.cpu_compute_nodes.clone();
        gpu.placement = Some(placement);
        if !compute.is_empty() {
            let listed: Vec<&str> = compute.iter().take(10).map(String::as_str).collect();
            let more = compute.len().saturating_sub(listed.len());
            let list = if more > 0 {
                format!("{} and {more} more", listed.join(", "))
            } else {
                listed.join(", ")
            };
            if gpu.allow_cpu_fallback {
                gpu.notes.push(format!(
                    "{} node(s) ran on the CPU (allow_cpu_fallback = true): {list}",
                    compute.len()
                ));
            } else {
                bail!(
                    "{} node(s) of the model ran on the CPU, not the GPU provider asked for: {list}; \
                     the latency would be partly the CPU's. Set allow_cpu_fallback = true under [models.bench] \
                     (bench: --allow-cpu-fallback) to measure it anyway",
                    compute.len()
                );
            }
        }
        Ok(())
    }

    /// Ends the profiler of a session opened with [`Runtime::open_profiled`] and returns its
    /// trace (Chrome trace JSON).
    pub fn end_profile(&mut self) -> Result<String> {
        let file = self
            .session
            .end_profiling()
            .map_err(ort_error("cannot end ONNX Runtime's profiler"))?;
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read ONNX Runtime's profile {file}"))?;
        let _ = std::fs::remove_file(&file);
        Ok(text)
    }

    /// Where a GPU session's nodes ran (after its first run).
    pub fn placement(&self) -> Option<&Placement> {
        self.gpu.as_ref().and_then(|g| g.placement.as_ref())
    }

    /// What the reader should know about a GPU session: shape nodes on the CPU, allowed
    /// fallback, the TensorRT engine built or reused.
    pub fn gpu_notes(&self) -> &[String] {
        self.gpu.as_ref().map_or(&[], |g| g.notes.as_slice())
    }

    /// On a GPU: times `copies` copies of the bound inputs to the device and of one run's outputs
    /// back to the host, after one untimed copy of each. None on the CPU.
    pub fn measure_transfers(&mut self, copies: usize) -> Result<Option<Transfer>> {
        let Some(gpu) = &self.gpu else {
            return Ok(None);
        };
        let binding = self.binding.as_ref().context("no inputs are bound")?;
        let input_bytes = gpu.host_inputs.iter().map(tensor_bytes).sum();
        let mut h2d = Vec::with_capacity(copies);
        for i in 0..=copies {
            let started = Instant::now();
            for value in &gpu.host_inputs {
                copy_to(value, ort::memory::AllocationDevice::CUDA)?;
            }
            if i > 0 {
                h2d.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        let outputs = self
            .session
            .run_binding(binding)
            .map_err(ort_error("the model failed to run"))?;
        binding
            .synchronize_outputs()
            .map_err(ort_error("cannot synchronize with the GPU"))?;
        let values: Vec<_> = outputs.values().collect();
        let output_bytes = values.iter().map(|v| tensor_bytes(v)).sum();
        let mut d2h = Vec::with_capacity(copies);
        for i in 0..=copies {
            let started = Instant::now();
            for value in &values {
                copy_to(value, ort::memory::AllocationDevice::CPU)?;
            }
            if i > 0 {
                d2h.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        Ok(Some(Transfer {
            h2d_ms: gpu::median(&mut h2d),
            d2h_ms: gpu::median(&mut d2h),
            input_bytes,
            output_bytes,
            copies,
        }))
    }

    /// Outputs whose returned shape differs from the model's declaration, found on the first
    /// bound run.
    pub fn output_notes(&self) -> &[String] {
        &self.output_notes
    }

    /// Runs once, letting ONNX Runtime allocate the outputs, and returns every output widened to
    /// f64 with its type and shape: what `--check-outputs` compares.
    pub fn run_outputs(&mut self, feeds: Vec<Feed>) -> Result<Vec<(String, Returned)>> {
        let mut inputs: Vec<(String, DynValue)> = Vec::with_capacity(feeds.len());
        for feed in feeds {
            inputs.push((feed.name.clone(), to_value(&feed.shape, feed.data)?));
        }
        let outputs = self
            .session
            .run(inputs)
            .map_err(ort_error("the model failed to run"))?;
        let mut returned = Vec::with_capacity(self.spec.outputs.len());
        for output in &self.spec.outputs {
            let value = outputs
                .get(output.name.as_str())
                .with_context(|| format!("the model returned no output `{}`", output.name))?;
            returned.push((output.name.clone(), widen(&output.name, value)?));
        }
        drop(outputs);
        self.after_run()?;
        Ok(returned)
    }

    /// Runs one batch and returns the first output as float32 rows (float16 outputs are widened).
    pub fn run_batch(&mut self, feeds: Vec<Feed>) -> Result<OutputMatrix> {
        let mut inputs: Vec<(String, DynValue)> = Vec::with_capacity(feeds.len());
        for feed in feeds {
            inputs.push((feed.name.clone(), to_value(&feed.shape, feed.data)?));
        }
        let output_name = self
            .spec
            .outputs
            .first()
            .map(|o| o.name.clone())
            .context("the model has no outputs")?;
        let outputs = self
            .session
            .run(inputs)
            .map_err(ort_error("the model failed to run"))?;
        let value = &outputs[output_name.as_str()];
        let (shape, values) = if let Ok((shape, data)) = value.try_extract_tensor::<f32>() {
            (shape.to_vec(), data.to_vec())
        } else if let Ok((shape, data)) = value.try_extract_tensor::<half::f16>() {
            (shape.to_vec(), data.iter().map(|v| v.to_f32()).collect())
        } else {
            bail!("output `{output_name}` is not a float32 or float16 tensor; modelgate eval reads scores from the first output");
        };
        drop(outputs);
        self.after_run()?;
        let rows = shape.first().copied().unwrap_or(1).max(0) as usize;
        let cols = values.len().checked_div(rows).unwrap_or(0);
        Ok(OutputMatrix { rows, cols, values })
    }
}

/// A tensor output as f64 values, with its type named as modelgate names types.
fn widen(name: &str, value: &DynValue) -> Result<Returned> {
    fn take<T: ort::value::PrimitiveTensorElementType + Copy>(
        value: &DynValue,
        type_name: &str,
        to_f64: impl Fn(T) -> f64,
    ) -> Option<Returned> {
        let (shape, data) = value.try_extract_tensor::<T>().ok()?;
        Some(Returned {
            type_name: type_name.to_string(),
            shape: shape.to_vec(),
            values: data.iter().map(|v| to_f64(*v)).collect(),
        })
    }
    take::<f32>(value, "float32", f64::from)
        .or_else(|| take::<f64>(value, "float64", |v| v))
        .or_else(|| take::<half::f16>(value, "float16", |v| v.to_f64()))
        .or_else(|| take::<i64>(value, "int64", |v| v as f64))
        .or_else(|| take::<i32>(value, "int32", f64::from))
        .or_else(|| take::<u8>(value, "uint8", f64::from))
        .or_else(|| take::<i8>(value, "int8", f64::from))
        .or_else(|| take::<bool>(value, "bool", |v| f64::from(u8::from(v))))
        .with_context(|| {
            format!("output `{name}` is not a numeric tensor, so its values cannot be compared")
        })
}

/// Lets ONNX Runtime allocate every output, whatever its shape: in GPU memory on a GPU (no copy
/// back to the host inside a timed run), else in the session's host memory.
fn bind_outputs(
    session: &Session,
    binding: &mut IoBinding,
    outputs: &[TensorSpec],
    on_gpu: bool,
) -> Result<()> {
    let device;
    let memory = if on_gpu {
        device = device_memory()?;
        &device
    } else {
        session.allocator().memory_info()
    };
    for output in outputs {
        binding
            .bind_output_to_device(output.name.as_str(), memory)
            .map_err(ort_error(format!("cannot bind output `{}`", output.name)))?;
    }
    Ok(())
}

/// Whether a returned shape is one the declaration allows: the same rank, and every fixed dim equal.
fn fits_declared(declared: &[Dim], shape: &[i64]) -> bool {
    declared.len() == shape.len()
        && declared.iter().zip(shape).all(|(dim, n)| match dim {
            Dim::Fixed(fixed) => fixed == n,
            Dim::Symbolic(_) => true,
        })
}

fn format_shape(shape: &[i64]) -> String {
    if shape.is_empty() {
        return "scalar".to_string();
    }
    shape
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join("x")
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
