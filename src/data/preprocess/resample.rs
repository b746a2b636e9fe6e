//! Pillow-exact resizing, from the `modelgate-resample` crate (crates/resample), which is
//! compiled optimised in every build; this maps the config's interpolation onto its filters.

use super::Interpolation;
use modelgate_resample::Filter;

impl From<Interpolation> for Filter {
    fn from(interpolation: Interpolation) -> Filter {
        match interpolation {
            Interpolation::Nearest => Filter::Nearest,
            Interpolation::Bilinear => Filter::Bilinear,
            Interpolation::Bicubic => Filter::Bicubic,
            Interpolation::Lanczos => Filter::Lanczos,
            Interpolation::Box => Filter::Box,
            Interpolation::Hamming => Filter::Hamming,
        }
    }
}

/// Resize interleaved 8-bit pixels (`channels` per pixel) from `[width, height]` to `size` with
/// Pillow's `Image.resize` semantics, and keep only its `[left, top, width, height]` window (a
/// crop after the resize): the same bytes as resizing all of it and cutting the window out.
pub fn resize_window(
    pixels: &[u8],
    channels: usize,
    from: [usize; 2],
    size: [usize; 2],
    window: [usize; 4],
    interpolation: Interpolation,
    antialias: bool,
) -> Vec<u8> {
    modelgate_resample::resize_window(
        pixels,
        channels,
        from,
        size,
        window,
        interpolation.into(),
        antialias,
    )
}
