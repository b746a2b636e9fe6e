//! The resize options of `[models.preprocess]`: the target size (torchvision's shorter-side
//! rule or an exact size) and the interpolation kernel, by Pillow's names, each parsable from a
//! command-line value.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Resampling filter, by Pillow's names; see `resample.rs` for how each is applied.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    /// Pillow's NEAREST: the pixel under each sample centre.
    Nearest,
    /// Pillow's BILINEAR (torchvision's default): triangle kernel, support 1.
    #[default]
    Bilinear,
    /// Pillow's BICUBIC: cubic kernel with a = -0.5, support 2.
    Bicubic,
    /// Pillow's LANCZOS: windowed sinc with a = 3, support 3.
    Lanczos,
    /// Pillow's BOX: each output averages the input pixels it covers.
    Box,
    /// Pillow's HAMMING: Hamming-windowed sinc, support 1.
    Hamming,
}

impl FromStr for Interpolation {
    type Err = String;

    /// Pillow's names: `nearest`, `bilinear`, `bicubic`, `lanczos`, `box`, `hamming`.
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "nearest" => Interpolation::Nearest,
            "bilinear" => Interpolation::Bilinear,
            "bicubic" => Interpolation::Bicubic,
            "lanczos" => Interpolation::Lanczos,
            "box" => Interpolation::Box,
            "hamming" => Interpolation::Hamming,
            _ => return Err(format!("{s:?} is not an interpolation; give nearest, bilinear, bicubic, lanczos, box or hamming")),
        })
    }
}

/// How an image is resized before the crop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Resize {
    /// `N`: torchvision's `Resize(N)`, the shorter side to N and the longer side to
    /// `int(N * long / short)` (truncated), keeping the aspect ratio.
    Shorter(u32),
    /// `[width, height]`, exactly, whatever the aspect ratio.
    Exact([u32; 2]),
}

impl Resize {
    /// `[width, height]` an image of `[width, height]` is resized to.
    pub fn output_size(self, [width, height]: [u32; 2]) -> [u32; 2] {
        match self {
            Resize::Exact(size) => size,
            Resize::Shorter(n) => {
                // torchvision's _compute_resized_output_size: the product is exact in f64 and
                // the division rounds as Python's does, so the truncation agrees.
                let (short, long) = (width.min(height), width.max(height));
                let long_out = (f64::from(n) * f64::from(long) / f64::from(short)) as u32;
                if width <= height {
                    [n, long_out]
                } else {
                    [long_out, n]
                }
            }
        }
    }

    /// The sides to check against the image size limits: `[N, N]` for a shorter-side resize.
    pub fn limit_size(self) -> [u32; 2] {
        match self {
            Resize::Exact(size) => size,
            Resize::Shorter(n) => [n, n],
        }
    }
}

impl FromStr for Resize {
    type Err = String;

    /// `"256"` (shorter side) or `"256x224"` (width x height).
    fn from_str(s: &str) -> Result<Self, String> {
        let number = |v: &str| {
            v.trim().parse::<u32>().map_err(|_| {
                format!("{s:?} is not a size; give N (shorter side) or WIDTHxHEIGHT, e.g. 256 or 224x224")
            })
        };
        match s.split_once(['x', 'X']) {
            Some((w, h)) => Ok(Resize::Exact([number(w)?, number(h)?])),
            None => Ok(Resize::Shorter(number(s)?)),
        }
    }
}
