//! The `[models.preprocess]` config: how an image becomes a model input tensor.
//!
//! Accuracy measured through a different preprocessing than the one the model
//! was trained with is a different number, so every step the training pipeline
//! took (colour mode, resize filter, centre crop, scale, per-channel mean and
//! std, memory layout, element type) is spelled out here and validated once,
//! with each error naming the key and the fix. The pixel work itself lives in
//! [`tensor`]; this file holds the config and the shapes it implies.

mod tensor;
#[cfg(test)]
mod tensor_tests;
mod truncated;

pub use tensor::{
    load_image_into, load_image_tensor, preprocess_batch, preprocess_samples, to_f16, to_u8,
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

/// Resize filter, as in `image::imageops::FilterType`.
///
/// `nearest`, `triangle`, `catmull_rom` and `lanczos3` are the kernels of
/// Pillow's NEAREST, BILINEAR, BICUBIC and LANCZOS. Measured against Pillow 13
/// on a smooth 64x48 image they agree within one level, except that `nearest`
/// can take the neighbouring pixel where a sample centre falls exactly on a
/// pixel boundary (Pillow's fixed-point rounding), and the cubic and Lanczos
/// filters can differ by more at hard edges when upscaling (Pillow rounds to
/// 8 bits between its two passes).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// Nearest neighbour.
    Nearest,
    /// Linear (bilinear) filter.
    #[default]
    Triangle,
    /// Cubic filter.
    CatmullRom,
    /// Gaussian filter.
    Gaussian,
    /// Lanczos with window 3.
    Lanczos3,
}

impl Filter {
    /// The `image` crate's filter of the same name.
    pub fn image_filter(self) -> image::imageops::FilterType {
        use image::imageops::FilterType;
        match self {
            Filter::Nearest => FilterType::Nearest,
            Filter::Triangle => FilterType::Triangle,
            Filter::CatmullRom => FilterType::CatmullRom,
            Filter::Gaussian => FilterType::Gaussian,
            Filter::Lanczos3 => FilterType::Lanczos3,
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

fn default_scale() -> f32 {
    DEFAULT_SCALE
}

/// The `[models.preprocess]` section. Each value becomes
/// `(pixel * scale - mean[c]) / std[c]` unless `dtype = "uint8"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Preprocess {
    /// Colour mode.
    pub color: Color,
    /// `[width, height]` to resize to; none keeps the image size.
    #[serde(default)]
    pub resize: Option<[u32; 2]>,
    /// Resize filter; default `triangle`.
    #[serde(default)]
    pub filter: Filter,
    /// `[width, height]` cut from the centre after resizing (torchvision
    /// `CenterCrop` offsets); none keeps the whole image.
    #[serde(default)]
    pub center_crop: Option<[u32; 2]>,
    /// Multiplier applied to 0..255 pixels; default 1/255.
    #[serde(default = "default_scale")]
    pub scale: f32,
    /// Per-channel mean subtracted after scaling; empty for none.
    #[serde(default)]
    pub mean: Vec<f32>,
    /// Per-channel std divided by after the mean; empty for none.
    #[serde(default)]
    pub std: Vec<f32>,
    /// Memory layout; default `nchw`.
    #[serde(default)]
    pub layout: Layout,
    /// Element type; default `float32`.
    #[serde(default)]
    pub dtype: DType,
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
    #[error("image {path} is larger than modelgate decodes ({} pixels a side, {} MiB decoded); shrink it or remove it from the dataset", crate::limits::MAX_IMAGE_SIDE, crate::limits::MAX_DECODED_IMAGE_BYTES >> 20)]
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
    /// Samples cannot be batched (mixed kinds, ragged features, no config).
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
        for (key, size) in [("resize", self.resize), ("center_crop", self.center_crop)] {
            if let Some([w, h]) = size {
                if w == 0 || h == 0 {
                    return err(
                        key,
                        format!("[{w}, {h}] has a zero side; give [width, height] above 0"),
                    );
                }
            }
        }
        if let (Some([rw, rh]), Some([cw, ch])) = (self.resize, self.center_crop) {
            if cw > rw || ch > rh {
                return err("center_crop", format!("[{cw}, {ch}] is larger than resize [{rw}, {rh}]; the crop must fit inside the resized image"));
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
/// `None` when neither `resize` nor `center_crop` is set, as the size then
/// follows each image.
pub fn input_shape(p: &Preprocess) -> Option<[usize; 3]> {
    let [w, h] = p.center_crop.or(p.resize)?;
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
mod tests {
    use super::*;

    fn rgb() -> Preprocess {
        serde_json::from_str(r#"{"color": "rgb"}"#).unwrap()
    }

    #[test]
    fn defaults_and_snake_case_names() {
        let p: Preprocess = serde_json::from_str(
            r#"{"color": "gray", "filter": "catmull_rom", "layout": "nhwc", "dtype": "float16", "resize": [32, 24]}"#,
        )
        .unwrap();
        assert_eq!(p.filter, Filter::CatmullRom);
        assert_eq!(p.scale, DEFAULT_SCALE);
        assert_eq!(input_shape(&p), Some([1, 24, 32]));
        assert_eq!(batch_shape(&p, 5), Some([5, 24, 32, 1]));
        assert_eq!(rgb().filter, Filter::Triangle);
        assert_eq!(rgb().layout, Layout::Nchw);
        assert_eq!(input_shape(&rgb()), None);
        assert!(serde_json::from_str::<Preprocess>(r#"{"color": "rgb", "means": [0.5]}"#).is_err());
    }

    #[test]
    fn validation_names_the_key() {
        let cases = [
            (
                r#""mean": [0.5]"#,
                "preprocess.mean: has 1 values but color = \"rgb\" has 3 channel(s)",
            ),
            (
                r#""std": [0.2, 0, 0.2]"#,
                "preprocess.std: [0.2, 0.0, 0.2] contains 0",
            ),
            (
                r#""resize": [224, 224], "center_crop": [256, 200]"#,
                "preprocess.center_crop: [256, 200] is larger than resize [224, 224]",
            ),
            (
                r#""resize": [0, 10]"#,
                "preprocess.resize: [0, 10] has a zero side",
            ),
            (
                r#""scale": 0"#,
                "preprocess.scale: 0 must be a finite, non-zero number",
            ),
            (
                r#""dtype": "uint8", "mean": [0.5, 0.5, 0.5]"#,
                "preprocess.mean: is ignored when dtype = \"uint8\"",
            ),
            (
                r#""dtype": "float16", "std": [1e-5, 1e-5, 1e-5]"#,
                "preprocess.std: values reach",
            ),
        ];
        for (keys, want) in cases {
            let p: Preprocess =
                serde_json::from_str(&format!(r#"{{"color": "rgb", {keys}}}"#)).unwrap();
            let msg = p.validate().unwrap_err().to_string();
            assert!(msg.starts_with(want), "{msg:?} should start with {want:?}");
        }
        let nan = Preprocess {
            scale: f32::NAN,
            ..rgb()
        };
        assert!(nan
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("preprocess.scale: NaN"));
        let imagenet = r#"{"color": "rgb", "resize": [256, 256], "center_crop": [224, 224],
            "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}"#;
        serde_json::from_str::<Preprocess>(imagenet)
            .unwrap()
            .validate()
            .unwrap();
    }
}
