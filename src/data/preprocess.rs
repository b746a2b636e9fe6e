//! The `[models.preprocess]` config: how an image becomes a model input tensor.
//!
//! Accuracy measured through a different preprocessing than the one the model
//! was trained with is a different number, so every step the training pipeline
//! took (colour mode, resize and its interpolation, centre crop, scale,
//! per-channel mean and std, memory layout, element type) is spelled out here
//! and validated once, with each error naming the key and the fix; a preset
//! names a whole pipeline (torchvision's ImageNet transform). The pixel work
//! lives in [`tensor`] (JPEG decoding in [`jpeg`], resizing in [`resample`]);
//! this file holds the config and the shapes it implies.

mod jpeg;
mod options;
#[cfg(test)]
mod parity_tests;
mod resample;
mod tensor;
#[cfg(test)]
mod tensor_tests;
pub mod thumbnail;
mod truncated;

pub use options::{Interpolation, Resize};
pub use tensor::{
    decode_image, load_image_into, load_image_tensor, preprocess_batch, preprocess_samples, to_f16,
    to_u8,
};

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Colour mode the model expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Color {
    /// One channel; colour images are converted with Pillow's ITU-R 601-2 luma.
    Gray,
    /// Three channels, red first; alpha is dropped.
    Rgb,
}

impl Color {
    /// Number of channels: 1 or 3.
    pub fn channels(self) -> usize {
        match self {
            Color::Gray => 1,
            Color::Rgb => 3,
        }
    }
}

/// Memory layout of one sample.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// Channels, height, width (PyTorch).
    #[default]
    Nchw,
    /// Height, width, channels (TensorFlow).
    Nhwc,
}

/// Element type of the model input.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DType {
    /// 32-bit float, scaled and normalized.
    #[default]
    Float32,
    /// 16-bit float, scaled and normalized; convert with [`to_f16`].
    Float16,
    /// Raw 0..255 pixels, neither scaled nor normalized; convert with [`to_u8`].
    Uint8,
}

/// Default `scale`: 8-bit pixels to 0..1.
pub const DEFAULT_SCALE: f32 = 1.0 / 255.0;

/// The `[models.preprocess]` section, resolved: a preset's values filled in. Each value
/// becomes `(pixel * scale - mean[c]) / std[c]` unless `dtype = "uint8"`; with the default
/// scale the first step is `pixel / 255`, as torchvision's `ToTensor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "PreprocessToml")]
pub struct Preprocess {
    /// Colour mode.
    pub color: Color,
    /// Resize before the crop; none keeps the image size.
    pub resize: Option<Resize>,
    /// Resampling filter; default `bilinear`.
    pub interpolation: Interpolation,
    /// Widen the kernel by the downscale factor, as Pillow always does; default true.
    pub antialias: bool,
    /// `[width, height]` cut from the centre after resizing (torchvision
    /// `CenterCrop` offsets); none keeps the whole image.
    pub center_crop: Option<[u32; 2]>,
    /// Multiplier applied to 0..255 pixels; default 1/255.
    pub scale: f32,
    /// Per-channel mean subtracted after scaling; empty for none.
    pub mean: Vec<f32>,
    /// Per-channel std divided by after the mean; empty for none.
    pub std: Vec<f32>,
    /// Memory layout; default `nchw`.
    pub layout: Layout,
    /// Element type; default `float32`.
    pub dtype: DType,
}

/// A whole preprocessing pipeline by name; keys given beside it override its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// torchvision's ImageNet evaluation transform: RGB, `Resize(256)` bilinear,
    /// `CenterCrop(224)`, `ToTensor()`, `Normalize` with the ImageNet mean and std, NCHW float32.
    TorchvisionImagenet,
}

impl Preset {
    /// The preset's config, as if written out key by key.
    pub fn config(self) -> Preprocess {
        match self {
            Preset::TorchvisionImagenet => Preprocess {
                color: Color::Rgb,
                resize: Some(Resize::Shorter(256)),
                interpolation: Interpolation::Bilinear,
                antialias: true,
                center_crop: Some([224, 224]),
                scale: DEFAULT_SCALE,
                mean: vec![0.485, 0.456, 0.406],
                std: vec![0.229, 0.224, 0.225],
                layout: Layout::Nchw,
                dtype: DType::Float32,
            },
        }
    }
}

/// A crop size: `N` for a square or `[width, height]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
enum CropSize {
    Square(u32),
    Exact([u32; 2]),
}

/// `[models.preprocess]` as written; [`Preprocess`] is what it resolves to.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct PreprocessToml {
    /// A named pipeline, e.g. `torchvision-imagenet`; other keys override its values.
    preset: Option<Preset>,
    /// Colour mode: `gray` or `rgb`; required unless a preset gives it.
    color: Option<Color>,
    /// Size in pixels to resize to before the crop: `N` (shorter side to N, keeping the aspect
    /// ratio, as torchvision's `Resize(N)`) or exactly `[width, height]`; unset keeps the
    /// image size.
    resize: Option<Resize>,
    /// Resampling filter, Pillow's names; default `bilinear`.
    interpolation: Option<Interpolation>,
    /// Widen the resampling kernel by the downscale factor when shrinking, as Pillow does;
    /// default true.
    antialias: Option<bool>,
    /// Size in pixels cut from the centre after resizing: `N` (square) or `[width, height]`
    /// (torchvision's `CenterCrop`); unset keeps the whole image.
    center_crop: Option<CropSize>,
    /// Multiplier applied to 0..255 pixels first; default 1/255 (to 0..1, as `ToTensor`).
    scale: Option<f32>,
    /// Per-channel mean subtracted after scaling, one value per channel (in scaled units);
    /// unset subtracts nothing.
    mean: Option<Vec<f32>>,
    /// Per-channel standard deviation divided by after the mean, one non-zero value per
    /// channel; unset divides by nothing.
    std: Option<Vec<f32>>,
    /// Memory layout of the input tensor: `nchw` (PyTorch) or `nhwc` (TensorFlow); default
    /// `nchw`.
    layout: Option<Layout>,
    /// Element type of the input tensor: `float32`, `float16` (both scaled and normalized) or
    /// `uint8` (raw 0..255 pixels); default `float32`.
    dtype: Option<DType>,
    /// The old name of `interpolation`, refused with the new name and values.
    #[schemars(skip)]
    filter: Option<String>,
}

impl TryFrom<PreprocessToml> for Preprocess {
    type Error = String;

    fn try_from(t: PreprocessToml) -> Result<Self, String> {
        if let Some(filter) = t.filter {
            let new = match filter.as_str() {
                "triangle" => "bilinear",
                "catmull_rom" => "bicubic",
                "lanczos3" => "lanczos",
                "nearest" => "nearest",
                _ => "one of nearest, bilinear, bicubic, lanczos, box, hamming",
            };
            return Err(format!("preprocess.filter = {filter:?} is now preprocess.interpolation, with Pillow's names (triangle -> bilinear, catmull_rom -> bicubic, lanczos3 -> lanczos); write interpolation = \"{new}\""));
        }
        let base = t.preset.map(Preset::config);
        let color = t.color.or(base.as_ref().map(|b| b.color)).ok_or(
            "preprocess.color is missing; set color = \"rgb\" or \"gray\", or a preset such as preset = \"torchvision-imagenet\"",
        )?;
        let base = base.unwrap_or(Preprocess {
            color,
            resize: None,
            interpolation: Interpolation::default(),
            antialias: true,
            center_crop: None,
            scale: DEFAULT_SCALE,
            mean: Vec::new(),
            std: Vec::new(),
            layout: Layout::default(),
            dtype: DType::default(),
        });
        Ok(Preprocess {
            color,
            resize: t.resize.or(base.resize),
            interpolation: t.interpolation.unwrap_or(base.interpolation),
            antialias: t.antialias.unwrap_or(base.antialias),
            center_crop: t
                .center_crop
                .map(|c| match c {
                    CropSize::Square(n) => [n, n],
                    CropSize::Exact(size) => size,
                })
                .or(base.center_crop),
            scale: t.scale.unwrap_or(base.scale),
            mean: t.mean.unwrap_or(base.mean),
            std: t.std.unwrap_or(base.std),
            layout: t.layout.unwrap_or(base.layout),
            dtype: t.dtype.unwrap_or(base.dtype),
        })
    }
}

/// Why preprocessing failed.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    /// A config value is invalid.
    #[error("preprocess.{key}: {message}")]
    Config {
        /// The key under `[models.preprocess]`.
        key: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The image file could not be opened. The cause is in the message and not a `source`,
    /// so a report of the whole chain says it once.
    #[error("cannot open image {path}: {cause}")]
    Open {
        /// The image file.
        path: PathBuf,
        /// The underlying error.
        cause: std::io::Error,
    },
    /// The image could not be decoded, or is cut short.
    #[error("cannot decode image {path}: {reason}")]
    Decode {
        /// The image file.
        path: PathBuf,
        /// The decoder's message, on one line and cut to a length.
        reason: String,
    },
    /// The image is larger than modelgate decodes (checked from its header, before decoding).
    #[error("image {path} is larger than modelgate decodes ({} pixels a side, {} MiB decoded); shrink it or remove it from the dataset", crate::base::limits::MAX_IMAGE_SIDE, crate::base::limits::MAX_DECODED_IMAGE_BYTES >> 20)]
    TooLarge {
        /// The image file.
        path: PathBuf,
    },
    /// The image has a zero side.
    #[error("image {path} has no pixels; remove it from the dataset")]
    EmptyImage {
        /// The image file.
        path: PathBuf,
    },
    /// Without `resize`, the image is smaller than `center_crop`.
    #[error("image {path} is {}x{}, smaller than preprocess.center_crop [{}, {}]; set preprocess.resize or a smaller crop", size[0], size[1], crop[0], crop[1])]
    CropTooLarge {
        /// The image file.
        path: PathBuf,
        /// `[width, height]` of the image.
        size: [u32; 2],
        /// `[width, height]` of the crop.
        crop: [u32; 2],
    },
    /// Without `resize` or `center_crop`, images in one batch differ in size.
    #[error("image {path} is {}x{} but {first} is {}x{}; set preprocess.resize so all images share one size", size[0], size[1], first_size[0], first_size[1])]
    SizeMismatch {
        /// The image that differs.
        path: PathBuf,
        /// Its `[width, height]`.
        size: [u32; 2],
        /// The first image of the batch.
        first: PathBuf,
        /// Its `[width, height]`.
        first_size: [u32; 2],
    },
    /// A caller passed an output buffer of the wrong length.
    #[error("output buffer holds {got} values but the preprocessed image has {expected}; size it with input_shape")]
    BufferSize {
        /// Values the image needs.
        expected: usize,
        /// Values the buffer holds.
        got: usize,
    },
    /// Image samples, but no `[models.preprocess]` (nor preprocessing flags).
    #[error("the dataset's samples are images, but the model has no [models.preprocess]; add one")]
    Missing,
    /// Samples cannot be batched (mixed kinds, ragged features).
    #[error("{0}")]
    Samples(String),
}

impl Preprocess {
    /// Check the config once, before any image is read.
    pub fn validate(&self) -> Result<(), PreprocessError> {
        let err = |key, message: String| Err(PreprocessError::Config { key, message });
        let channels = self.color.channels();
        let color = match self.color {
            Color::Gray => "gray",
            Color::Rgb => "rgb",
        };
        let zero = |key, [w, h]: [u32; 2]| {
            err(
                key,
                format!("[{w}, {h}] has a zero side; give sizes above 0"),
            )
        };
        match self.resize {
            Some(Resize::Shorter(0)) => {
                return err(
                    "resize",
                    "0: give the shorter side's length above 0, or [width, height]".to_string(),
                )
            }
            Some(Resize::Exact(size)) if size.contains(&0) => return zero("resize", size),
            _ => {}
        }
        if let Some(size) = self.center_crop.filter(|s| s.contains(&0)) {
            return zero("center_crop", size);
        }
        if let (Some(resize), Some([cw, ch])) = (self.resize, self.center_crop) {
            let (shown, [rw, rh]) = match resize {
                Resize::Exact([w, h]) => (format!("[{w}, {h}]"), [w, h]),
                // The shorter side becomes n and the longer one at least n.
                Resize::Shorter(n) => (format!("{n} (shorter side)"), [n, n]),
            };
            if cw > rw || ch > rh {
                return err("center_crop", format!("[{cw}, {ch}] is larger than resize {shown}; the crop must fit inside the resized image"));
            }
        }
        if !self.scale.is_finite() || self.scale == 0.0 {
            return err(
                "scale",
                format!(
                    "{} must be a finite, non-zero number (1/255 maps pixels to 0..1)",
                    self.scale
                ),
            );
        }
        for (key, values) in [("mean", &self.mean), ("std", &self.std)] {
            if !values.is_empty() && values.len() != channels {
                return err(key, format!("has {} values but color = \"{color}\" has {channels} channel(s); give one value per channel or none", values.len()));
            }
            if values.iter().any(|v| !v.is_finite()) {
                return err(key, format!("{values:?} must hold finite numbers"));
            }
        }
        if self.std.contains(&0.0) {
            return err(
                "std",
                format!(
                    "{:?} contains 0; std divides each channel, so every value must be non-zero",
                    self.std
                ),
            );
        }
        if self.dtype == DType::Uint8 {
            let ignored = [
                ("mean", !self.mean.is_empty()),
                ("std", !self.std.is_empty()),
                ("scale", self.scale != DEFAULT_SCALE),
            ];
            if let Some((key, _)) = ignored.iter().find(|(_, set)| *set) {
                return err(key, "is ignored when dtype = \"uint8\" (the model gets raw 0..255 pixels); remove it or change dtype".to_string());
            }
        }
        if self.dtype == DType::Float16 {
            let largest = (0..channels)
                .map(|c| {
                    let (mean, std) = (self.channel_mean(c), self.channel_std(c));
                    let lo = -mean / std;
                    let hi = (255.0 * self.scale - mean) / std;
                    lo.abs().max(hi.abs())
                })
                .fold(0.0f32, f32::max);
            if largest > half::f16::MAX.to_f32() {
                return err(
                    "std",
                    format!(
                        "values reach {largest}, beyond float16's 65504; check scale, mean and std"
                    ),
                );
            }
        }
        Ok(())
    }

    /// `[width, height]` every image comes out at, when the config fixes it: the crop, or
    /// else a `[width, height]` resize.
    pub fn output_size(&self) -> Option<[u32; 2]> {
        match (self.center_crop, self.resize) {
            (Some(crop), _) => Some(crop),
            (None, Some(Resize::Exact(size))) => Some(size),
            _ => None,
        }
    }

    /// Mean of channel `c`, 0 when none is configured.
    fn channel_mean(&self, c: usize) -> f32 {
        self.mean.get(c).copied().unwrap_or(0.0)
    }

    /// Std of channel `c`, 1 when none is configured.
    fn channel_std(&self, c: usize) -> f32 {
        self.std.get(c).copied().unwrap_or(1.0)
    }
}

/// `[channels, height, width]` of one preprocessed image, whatever the layout;
/// `None` when neither `center_crop` nor a `[width, height]` resize is set, as the
/// size then follows each image.
pub fn input_shape(p: &Preprocess) -> Option<[usize; 3]> {
    let [w, h] = p.output_size()?;
    Some([p.color.channels(), h as usize, w as usize])
}

/// The 4-D shape of a batch of `batch` images in the configured layout
/// (`[n, c, h, w]` or `[n, h, w, c]`); `None` as for [`input_shape`].
pub fn batch_shape(p: &Preprocess, batch: usize) -> Option<[usize; 4]> {
    let [c, h, w] = input_shape(p)?;
    Some(match p.layout {
        Layout::Nchw => [batch, c, h, w],
        Layout::Nhwc => [batch, h, w, c],
    })
}

#[cfg(test)]
mod config_tests;
