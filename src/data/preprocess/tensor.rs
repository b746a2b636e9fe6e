//! Pixel work: decode, convert, resize, crop, normalize and lay out images as
//! model input, one image or a whole batch in parallel.
//!
//! Each image costs a few whole-buffer allocations (decode, convert, resize)
//! and no per-pixel ones: the crop is an offset, and scaling and normalizing
//! go through a 256-entry lookup table per channel while the values are
//! written straight into the caller's (or the batch's) f32 buffer.

use std::path::{Path, PathBuf};

use image::{DynamicImage, GrayImage};
use rayon::prelude::*;

use super::{input_shape, Color, DType, Layout, Preprocess, PreprocessError, DEFAULT_SCALE};
use crate::data::dataset::{Sample, SampleInput};

/// An image converted and resized, with the crop window still to apply.
struct Prepared {
    /// Interleaved 8-bit pixels, `channels` per pixel, rows of `width`.
    pixels: Vec<u8>,
    width: usize,
    /// Crop window: left, top, width, height.
    crop: [usize; 4],
}

/// Decode and preprocess one image into a new buffer in the configured layout.
pub fn load_image_tensor(path: &Path, p: &Preprocess) -> Result<Vec<f32>, PreprocessError> {
    // Validation is a few comparisons; repeating it per image keeps every
    // entry point safe against a zero-sized resize or crop.
    p.validate()?;
    let prepared = prepare(path, p)?;
    let [_, _, w, h] = prepared.crop;
    let mut out = vec![0.0; w * h * p.color.channels()];
    write(&prepared, p, &mut out);
    Ok(out)
}

/// Decode and preprocess one image into `out`, which must hold exactly
/// `channels * height * width` values (see [`input_shape`]).
pub fn load_image_into(
    path: &Path,
    p: &Preprocess,
    out: &mut [f32],
) -> Result<(), PreprocessError> {
    p.validate()?;
    let prepared = prepare(path, p)?;
    let [_, _, w, h] = prepared.crop;
    let expected = w * h * p.color.channels();
    if out.len() != expected {
        return Err(PreprocessError::BufferSize {
            expected,
            got: out.len(),
        });
    }
    write(&prepared, p, out);
    Ok(())
}

/// Preprocess many images in parallel into one contiguous buffer, sample after
/// sample in the configured layout. The first failing image (in input order)
/// is reported. Without `resize` or `center_crop`, all images must come out
/// the same size.
pub fn preprocess_batch(paths: &[&Path], p: &Preprocess) -> Result<Vec<f32>, PreprocessError> {
    p.validate()?;
    let Some(shape) = input_shape(p) else {
        return batch_of_native_sizes(paths, p);
    };
    let len: usize = shape.iter().product();
    let mut out = vec![0.0; len * paths.len()];
    let results: Vec<Result<(), PreprocessError>> = out
        .par_chunks_mut(len)
        .zip(paths.par_iter())
        .map(|(chunk, path)| load_image_into(path, p, chunk))
        .collect();
    results.into_iter().collect::<Result<(), _>>()?;
    Ok(out)
}

/// One image's values and its `[width, height]`.
type SizedTensor = (Vec<f32>, [u32; 2]);

/// Batch when the size follows the images: preprocess each, then check sizes.
fn batch_of_native_sizes(paths: &[&Path], p: &Preprocess) -> Result<Vec<f32>, PreprocessError> {
    let tensors: Vec<Result<SizedTensor, PreprocessError>> = paths
        .par_iter()
        .map(|path| {
            let prepared = prepare(path, p)?;
            let [_, _, w, h] = prepared.crop;
            let mut out = vec![0.0; w * h * p.color.channels()];
            write(&prepared, p, &mut out);
            Ok((out, [w as u32, h as u32]))
        })
        .collect();
    let mut out = Vec::new();
    let mut first: Option<(PathBuf, [u32; 2])> = None;
    for (path, tensor) in paths.iter().zip(tensors) {
        let (values, size) = tensor?;
        match &first {
            None => first = Some((path.to_path_buf(), size)),
            Some((first, first_size)) if *first_size != size => {
                return Err(PreprocessError::SizeMismatch {
                    path: path.to_path_buf(),
                    size,
                    first: first.clone(),
                    first_size: *first_size,
                });
            }
            Some(_) => {}
        }
        out.extend_from_slice(&values);
    }
    Ok(out)
}

/// One contiguous input buffer for `samples`: images go through
/// [`preprocess_batch`] (and need `p`); feature rows are passed through as-is
/// and must all have the same width.
pub fn preprocess_samples(
    samples: &[&Sample],
    p: Option<&Preprocess>,
) -> Result<Vec<f32>, PreprocessError> {
    let mixed = || {
        PreprocessError::Samples(
            "a batch mixes image and feature samples; use one kind per dataset".to_string(),
        )
    };
    match samples.first().map(|s| &s.input) {
        None => Ok(Vec::new()),
        Some(SampleInput::Image(_)) => {
            let p = p.ok_or(PreprocessError::Missing)?;
            let paths = samples
                .iter()
                .map(|s| match &s.input {
                    SampleInput::Image(path) => Ok(path.as_path()),
                    SampleInput::Features(_) => Err(mixed()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            preprocess_batch(&paths, p)
        }
        Some(SampleInput::Features(first)) => {
            let mut out = Vec::with_capacity(first.len() * samples.len());
            for s in samples {
                match &s.input {
                    SampleInput::Features(f) if f.len() == first.len() => out.extend_from_slice(f),
                    SampleInput::Features(f) => {
                        return Err(PreprocessError::Samples(format!(
                            "sample {} has {} features but sample {} has {}; every row needs the same columns",
                            s.id, f.len(), samples[0].id, first.len()
                        )))
                    }
                    SampleInput::Image(_) => return Err(mixed()),
                }
            }
            Ok(out)
        }
    }
}

/// f32 values to float16 at the edge, for models with `dtype = "float16"`.
pub fn to_f16(values: &[f32]) -> Vec<half::f16> {
    use half::slice::HalfFloatSliceExt;
    let mut out = vec![half::f16::ZERO; values.len()];
    out.convert_from_f32_slice(values);
    out
}

/// f32 values to u8 at the edge, for models with `dtype = "uint8"` (whose
/// values are unscaled 0..255 pixels; anything else is rounded and clamped).
pub fn to_u8(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .map(|v| v.round().clamp(0.0, 255.0) as u8)
        .collect()
}

/// Decode an image file as it is, within modelgate's size limits: JPEGs through libjpeg-turbo
/// (to RGB, or gray for a one-channel JPEG), other formats through the `image` crate; a
/// truncated file is an error naming it.
pub fn decode_image(path: &Path) -> Result<DynamicImage, PreprocessError> {
    let open = |cause| PreprocessError::Open {
        path: path.to_path_buf(),
        cause,
    };
    let undecodable = |reason: &str| PreprocessError::Decode {
        path: path.to_path_buf(),
        reason: crate::base::text::clean(reason, crate::base::text::VALUE_MAX_CHARS),
    };
    let bytes = std::fs::read(path).map_err(open)?;
    if crate::base::gitref::is_lfs_pointer(&bytes) {
        return Err(undecodable(
            "it is a Git LFS pointer, not the image; fetch the files with `git lfs pull` (actions/checkout with lfs: true)",
        ));
    }
    // Guess the format from the bytes, so a JPEG named .png still decodes.
    let (image, format) = if super::jpeg::is_jpeg(&bytes) {
        let image = super::jpeg::decode(&bytes).map_err(|e| match e {
            super::jpeg::JpegError::TooLarge => PreprocessError::TooLarge {
                path: path.to_path_buf(),
            },
            super::jpeg::JpegError::Decode(reason) => undecodable(&reason),
        })?;
        (image, Some(image::ImageFormat::Jpeg))
    } else {
        let mut reader = image::ImageReader::new(std::io::Cursor::new(&bytes))
            .with_guessed_format()
            .map_err(open)?;
        // Bytes no decoder recognizes go to the one the extension names, for its message.
        if reader.format().is_none() {
            if let Ok(format) = image::ImageFormat::from_path(path) {
                reader.set_format(format);
            }
        }
        let format = reader.format();
        // The header's size is checked against these before any pixel buffer is allocated, so
        // a small file that claims a huge image is refused instead of exhausting memory.
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(crate::base::limits::MAX_IMAGE_SIDE);
        limits.max_image_height = Some(crate::base::limits::MAX_IMAGE_SIDE);
        limits.max_alloc = Some(crate::base::limits::MAX_DECODED_IMAGE_BYTES);
        reader.limits(limits);
        // ImageError's message already holds its cause; its source would say it again.
        let image = reader.decode().map_err(|e| match e {
            image::ImageError::Limits(_) => PreprocessError::TooLarge {
                path: path.to_path_buf(),
            },
            e => undecodable(&e.to_string()),
        })?;
        (image, format)
    };
    // The decoders return a cut file's missing rows as zeros; see truncated.rs.
    if let Some(format) = format {
        if let Some(reason) = super::truncated::missing_end(&bytes, format) {
            return Err(undecodable(&reason));
        }
    }
    Ok(image)
}

/// Gray conversion as Pillow's `convert("L")` (ITU-R 601-2 luma, integer
/// arithmetic), so gray models see what they saw in Python training code. The
/// `image` crate's own `to_luma8` uses Rec. 709 weights and differs by a few
/// levels.
pub(super) fn to_gray(img: DynamicImage) -> GrayImage {
    if !img.color().has_color() {
        return img.into_luma8();
    }
    let rgb = img.into_rgb8();
    let (w, h) = rgb.dimensions();
    let luma = rgb
        .as_raw()
        .chunks_exact(3)
        .map(|px| {
            let [r, g, b] = [px[0], px[1], px[2]].map(u32::from);
            ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) as u8
        })
        .collect();
    // The buffer holds exactly w * h values, so from_raw cannot fail here.
    GrayImage::from_raw(w, h, luma).unwrap_or_else(|| GrayImage::new(w, h))
}

/// Offset of a centred crop, as torchvision's `CenterCrop`:
/// `int(round(diff / 2))` with Python's round-half-to-even.
fn crop_offset(diff: u32) -> u32 {
    let half = diff / 2;
    if diff % 2 == 1 && half % 2 == 1 {
        half + 1
    } else {
        half
    }
}

fn prepare(path: &Path, p: &Preprocess) -> Result<Prepared, PreprocessError> {
    let img = decode_image(path)?;
    if img.width() == 0 || img.height() == 0 {
        return Err(PreprocessError::EmptyImage {
            path: path.to_path_buf(),
        });
    }
    let (channels, width, height, pixels) = match p.color {
        Color::Gray => {
            let g = to_gray(img);
            (1, g.width(), g.height(), g.into_raw())
        }
        Color::Rgb => {
            let c = img.into_rgb8();
            (3, c.width(), c.height(), c.into_raw())
        }
    };
    let [out_width, out_height] = match p.resize {
        None => [width, height],
        Some(resize) => {
            let [w, h] = resize.output_size([width, height]);
            let side = crate::base::limits::MAX_IMAGE_SIDE;
            if w == 0 || h == 0 || w > side || h > side {
                return Err(PreprocessError::Decode {
                    path: path.to_path_buf(),
                    reason: format!("it is {width}x{height}, which preprocess.resize turns into {w}x{h}, outside 1..={side} pixels a side; use an [width, height] resize or remove the image"),
                });
            }
            [w, h]
        }
    };
    let crop = match p.center_crop {
        None => [0, 0, out_width as usize, out_height as usize],
        Some([cw, ch]) if cw > out_width || ch > out_height => {
            return Err(PreprocessError::CropTooLarge {
                path: path.to_path_buf(),
                size: [out_width, out_height],
                crop: [cw, ch],
            })
        }
        Some([cw, ch]) => [
            crop_offset(out_width - cw),
            crop_offset(out_height - ch),
            cw,
            ch,
        ]
        .map(|v| v as usize),
    };
    if p.resize.is_none() {
        return Ok(Prepared {
            pixels,
            width: width as usize,
            crop,
        });
    }
    // Only the crop window of the resized image is computed: the same bytes as resizing all of
    // it and cutting the window out.
    let [_, _, cw, ch] = crop;
    let pixels = super::resample::resize_window(
        &pixels,
        channels,
        [width as usize, height as usize],
        [out_width as usize, out_height as usize],
        crop,
        p.interpolation,
        p.antialias,
    );
    Ok(Prepared {
        pixels,
        width: cw,
        crop: [0, 0, cw, ch],
    })
}

/// Per-channel table from an 8-bit pixel to its model value.
fn lookup_tables(p: &Preprocess) -> [[f32; 256]; 3] {
    let mut lut = [[0.0f32; 256]; 3];
    for (c, table) in lut.iter_mut().enumerate().take(p.color.channels()) {
        let (mean, std) = (p.channel_mean(c), p.channel_std(c));
        for (v, slot) in table.iter_mut().enumerate() {
            *slot = match p.dtype {
                DType::Uint8 => v as f32,
                // torchvision's ToTensor divides by 255 (which can differ from multiplying by
                // 1/255 in the last bit), then Normalize computes (x - mean) / std, in f32.
                DType::Float32 | DType::Float16 if p.scale == DEFAULT_SCALE => {
                    (v as f32 / 255.0 - mean) / std
                }
                // Same operation order as numpy's (x * scale - mean) / std.
                DType::Float32 | DType::Float16 => (v as f32 * p.scale - mean) / std,
            };
        }
    }
    lut
}

/// Write the crop window of `prepared` into `out` (exactly its size).
fn write(prepared: &Prepared, p: &Preprocess, out: &mut [f32]) {
    let channels = p.color.channels();
    let [left, top, w, h] = prepared.crop;
    let lut = lookup_tables(p);
    let row = |y: usize| {
        let start = ((top + y) * prepared.width + left) * channels;
        &prepared.pixels[start..start + w * channels]
    };
    match p.layout {
        Layout::Nchw => {
            for (c, plane) in out.chunks_exact_mut(w * h).enumerate() {
                for (y, dst) in plane.chunks_exact_mut(w).enumerate() {
                    for (d, px) in dst.iter_mut().zip(row(y).chunks_exact(channels)) {
                        *d = lut[c][px[c] as usize];
                    }
                }
            }
        }
        Layout::Nhwc => {
            for (y, dst) in out.chunks_exact_mut(w * channels).enumerate() {
                for (d, px) in dst
                    .chunks_exact_mut(channels)
                    .zip(row(y).chunks_exact(channels))
                {
                    for c in 0..channels {
                        d[c] = lut[c][px[c] as usize];
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_offset_rounds_half_to_even_like_torchvision() {
        // python3 -c "print([int(round(d / 2.0)) for d in range(10)])"
        let want = [0, 0, 1, 2, 2, 2, 3, 4, 4, 4];
        let got: Vec<u32> = (0..10).map(crop_offset).collect();
        assert_eq!(got, want);
    }
}
