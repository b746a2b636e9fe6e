//! An open model: its inputs bound (on the GPU where it runs), timed runs, outputs read back and
//! checked against what the model declares, and where its nodes ran.

use super::*;

/// An open session and its interface.
pub struct LoadedModel {
    pub(super) session: Session,
    pub spec: ModelSpec,
    pub(super) binding: Option<IoBinding>,
    /// Whether the first bound run's outputs were compared with the declared shapes.
    pub(super) outputs_checked: bool,
    /// Outputs whose returned shape differs from the declared one; see [`LoadedModel::run_bound`].
    pub(super) output_notes: Vec<String>,
    /// On CUDA and TensorRT: the device copies, the placement check and the engine cache.
    pub(super) gpu: Option<GpuState>,
}

/// What a GPU session keeps beside the session.
#[derive(Default)]
pub(super) struct GpuState {
    pub(super) allow_cpu_fallback: bool,
    /// The profiler's folder until the first run has been read from it.
    pub(super) profile: Option<tempfile::TempDir>,
    pub(super) placement: Option<Placement>,
    /// The bound inputs as host tensors, to time their copy to the device.
    pub(super) host_inputs: Vec<DynValue>,
    /// TensorRT's cache folder and its engine files before the session was opened.
    pub(super) cache: Option<std::path::PathBuf>,
    pub(super) engines_before: Option<usize>,
    pub(super) notes: Vec<String>,
}

/// The TensorRT cache folder for `path` under the configured (or default) root, created.
pub(super) fn trt_cache(path: &Path, options: &GpuOptions) -> Result<std::path::PathBuf> {
    let root = options
        .trt_cache_dir
        .clone()
        .unwrap_or_else(gpu::default_trt_cache_root);
    let sha = crate::machine::system::sha256_file(path)
        .with_context(|| format!("cannot read model file {}", path.display()))?;
    let gpu_name = crate::machine::system::gpu_info().map_or_else(|| "gpu".to_string(), |g| g.name);
    let version = crate::machine::gpu::tensorrt_version().unwrap_or_else(|| "unknown".to_string());
    let folder = gpu::trt_cache_folder(&root, &sha, &version, &gpu_name, options.trt_fp16);
    std::fs::create_dir_all(&folder).with_context(|| {
        format!(
            "cannot create the TensorRT cache folder {}; set trt_cache_dir under [models.bench] (or --trt-cache-dir) to a writable folder",
            folder.display()
        )
    })?;
    Ok(folder)
}

pub(super) fn device_memory() -> Result<ort::memory::MemoryInfo<'static>> {
    ort::memory::MemoryInfo::new(
        ort::memory::AllocationDevice::CUDA,
        0,
        ort::memory::AllocatorType::Device,
        ort::memory::MemoryType::Default,
    )
    .map_err(ort_error("cannot describe CUDA device memory"))
}

/// A copy of a tensor on `device` (synchronous: the copy has finished when it returns).
pub(super) fn copy_to(value: &DynValue, device: ort::memory::AllocationDevice) -> Result<DynValue> {
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
pub(super) fn tensor_bytes(value: &DynValue) -> u64 {
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
                            crate::engine::model::format_dims(&declared.dims),
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
    pub(super) fn after_run(&mut self) -> Result<()> {
        if self.gpu.as_ref().is_some_and(|g| g.profile.is_some()) {
            self.check_placement()?;
        }
        Ok(())
    }

    /// After the first GPU run: reads where each node ran from the profiler (then off for good),
    /// and fails when nodes that compute on tensors ran on the CPU, unless that is allowed.
    pub(super) fn check_placement(&mut self) -> Result<()> {
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
pub(super) fn widen(name: &str, value: &DynValue) -> Result<Returned> {
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
pub(super) fn bind_outputs(
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
pub(super) fn fits_declared(declared: &[Dim], shape: &[i64]) -> bool {
    declared.len() == shape.len()
        && declared.iter().zip(shape).all(|(dim, n)| match dim {
            Dim::Fixed(fixed) => fixed == n,
            Dim::Symbolic(_) => true,
        })
}

pub(super) fn format_shape(shape: &[i64]) -> String {
    if shape.is_empty() {
        return "scalar".to_string();
    }
    shape
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join("x")
}
