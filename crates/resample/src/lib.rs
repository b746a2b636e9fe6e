//! Resizing that gives the same bytes as Pillow's `Image.resize(size, resample)`.
//!
//! torchvision's `Resize` on a PIL image is Pillow's resize, so a model trained through it saw
//! Pillow's pixels; a different resampler (the `image` crate's differs by a level or more at
//! edges) shifts accuracy by an amount that looks like a model change. This is Pillow's
//! algorithm as it is documented and observed: a separable convolution, horizontal pass first,
//! then vertical; the kernel support is widened by the downscale factor (antialiasing); each
//! output's weights are normalized to sum to one, turned into fixed-point integers with 22
//! fractional bits, and each pass rounds and clamps to 8 bits. `nearest` is Pillow's own
//! sample-centre mapping. modelgate's parity tests (src/preprocess/parity_tests.rs) compare it
//! with Pillow 13.
//!
//! A crate of its own so that it is compiled optimised even in a debug build: unoptimised, these
//! loops run about 80 times slower, and every test that evaluates an image model runs them.

/// Pillow's resampling filters, by the names of its `Image.Resampling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    Nearest,
    Bilinear,
    Bicubic,
    Lanczos,
    Box,
    Hamming,
}

impl Filter {
    /// Half-width of the kernel, in input pixels, before antialiasing widens it.
    fn support(self) -> f64 {
        match self {
            Filter::Nearest => 0.0,
            Filter::Box => 0.5,
            Filter::Bilinear | Filter::Hamming => 1.0,
            Filter::Bicubic => 2.0,
            Filter::Lanczos => 3.0,
        }
    }

    /// The kernel's weight at distance `x`.
    fn weight(self, x: f64) -> f64 {
        use std::f64::consts::PI;
        let sinc = |x: f64| {
            if x == 0.0 {
                1.0
            } else {
                (x * PI).sin() / (x * PI)
            }
        };
        match self {
            Filter::Nearest => 0.0,
            Filter::Box => f64::from(u8::from(x > -0.5 && x <= 0.5)),
            Filter::Bilinear => (1.0 - x.abs()).max(0.0),
            Filter::Hamming => {
                let x = x.abs();
                if x == 0.0 {
                    1.0
                } else if x >= 1.0 {
                    0.0
                } else {
                    let x = x * PI;
                    x.sin() / x * (0.54 + 0.46 * x.cos())
                }
            }
            Filter::Bicubic => {
                const A: f64 = -0.5;
                let x = x.abs();
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
            Filter::Lanczos => {
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

/// Fractional bits of the fixed-point weights (Pillow: 32 - 8 - 2).
const PRECISION_BITS: u32 = 22;

/// Half a unit in the last place, added before the final shift to round.
const HALF: i32 = 1 << (PRECISION_BITS - 1);

/// Resize interleaved 8-bit pixels (`channels` per pixel, rows of `width`) to
/// `out_width` x `out_height`.
pub fn resize(
    pixels: &[u8],
    channels: usize,
    size: [usize; 2],
    out_size: [usize; 2],
    filter: Filter,
    antialias: bool,
) -> Vec<u8> {
    let [out_width, out_height] = out_size;
    let whole = [0, 0, out_width, out_height];
    resize_window(pixels, channels, size, out_size, whole, filter, antialias)
}

/// The `[left, top, width, height]` window of [`resize`]'s output, computed alone: the same
/// bytes as resizing the whole image and cutting the window out (a centre crop after a resize,
/// as torchvision's `Resize` then `CenterCrop`), without computing the pixels cut away. A window
/// reaching past the output is cut at its edge.
///
/// On x86-64 CPUs with AVX2 the same code is compiled a second time for AVX2 and chosen at run
/// time: the sums are integers either way, so both give the same bytes; AVX2 multiplies eight
/// 32-bit integers at once, which the baseline x86-64 instruction set cannot.
pub fn resize_window(
    pixels: &[u8],
    channels: usize,
    size: [usize; 2],
    out_size: [usize; 2],
    window: [usize; 4],
    filter: Filter,
    antialias: bool,
) -> Vec<u8> {
    let [left, top, w, h] = window;
    let [out_width, out_height] = out_size;
    let (left, top) = (left.min(out_width), top.min(out_height));
    let window = [left, top, w.min(out_width - left), h.min(out_height - top)];
    if channels == 0 || size[0] * size[1] * channels > pixels.len() || window[2] * window[3] == 0 {
        return Vec::new();
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: this CPU has AVX2, as just checked.
        return unsafe { resize_avx2(pixels, channels, size, out_size, window, filter, antialias) };
    }
    resize_with(
        pixels, channels, size, out_size, window, filter, antialias, false,
    )
}

/// [`resize_with`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn resize_avx2(
    pixels: &[u8],
    channels: usize,
    size: [usize; 2],
    out_size: [usize; 2],
    window: [usize; 4],
    filter: Filter,
    antialias: bool,
) -> Vec<u8> {
    resize_with(
        pixels, channels, size, out_size, window, filter, antialias, true,
    )
}

/// The resize itself, inlined into [`resize_window`] and [`resize_avx2`] so that each compiles
/// it for its own instruction set. `window` lies within the output. `avx2`: the CPU has AVX2.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn resize_with(
    pixels: &[u8],
    channels: usize,
    [width, height]: [usize; 2],
    [out_width, out_height]: [usize; 2],
    [left, top, w, h]: [usize; 4],
    filter: Filter,
    antialias: bool,
    avx2: bool,
) -> Vec<u8> {
    let stride = width * channels;
    if [width, height] == [out_width, out_height] {
        return cut(pixels, channels, width, [left, top, w, h]);
    }
    if filter == Filter::Nearest {
        return nearest(
            pixels,
            channels,
            [width, height],
            [out_width, out_height],
            [left, top, w, h],
        );
    }
    // Pillow skips a pass whose size does not change: its rounding to 8 bits is not applied.
    let horizontal = (width != out_width)
        .then(|| Weights::new(width, out_width, filter, antialias).keep(left, w));
    let vertical = (height != out_height)
        .then(|| Weights::new(height, out_height, filter, antialias).keep(top, h));
    // The horizontal pass only needs the rows some output row of the window reads.
    let (first, last) = match &vertical {
        None => (top, top + h),
        Some(v) => {
            let (start, _) = v.bounds[0];
            let (end_start, end_len) = v.bounds[h - 1];
            (start, end_start + end_len)
        }
    };
    let rows = &pixels[first * stride..last * stride];
    let wide = match &horizontal {
        None => cut(rows, channels, width, [left, 0, w, last - first]),
        Some(weights) => horizontal_pass(rows, channels, width, weights, avx2),
    };
    match &vertical {
        None => wide,
        Some(weights) => vertical_pass(&wide, w * channels, last - first, first, weights),
    }
}

/// The `[left, top, width, height]` window of interleaved pixels, `channels` per pixel in rows
/// of `width`: what a resize leaves in a direction whose size does not change.
fn cut(pixels: &[u8], channels: usize, width: usize, [left, top, w, h]: [usize; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(w * h * channels);
    for row in pixels.chunks_exact(width * channels).skip(top).take(h) {
        out.extend_from_slice(&row[left * channels..(left + w) * channels]);
    }
    out
}

/// Fixed-point weights of a one-dimensional resampling.
struct Weights {
    /// For each output position, the first input position read and how many are read.
    bounds: Vec<(usize, usize)>,
    /// `ksize` weights per output position; those past its count are zero.
    coeffs: Vec<i32>,
    ksize: usize,
}

impl Weights {
    fn new(in_size: usize, out_size: usize, filter: Filter, antialias: bool) -> Self {
        let scale = in_size as f64 / out_size as f64;
        let filterscale = if antialias { scale.max(1.0) } else { 1.0 };
        let support = filter.support() * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let inv = 1.0 / filterscale;
        let mut bounds = Vec::with_capacity(out_size);
        let mut coeffs = vec![0i32; out_size * ksize];
        let mut k = vec![0.0f64; ksize];
        for (xx, row) in coeffs.chunks_exact_mut(ksize).enumerate() {
            let center = (xx as f64 + 0.5) * scale;
            // `as` truncates toward zero, as C's (int) cast does.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let count = xmax.saturating_sub(xmin).min(ksize);
            let mut total = 0.0;
            for (x, slot) in k.iter_mut().enumerate().take(count) {
                let w = filter.weight(((x + xmin) as f64 - center + 0.5) * inv);
                *slot = w;
                total += w;
            }
            for (slot, w) in row.iter_mut().zip(&k[..count]) {
                let w = if total != 0.0 { w / total } else { *w };
                let scaled = w * f64::from(1u32 << PRECISION_BITS);
                *slot = if w < 0.0 {
                    (scaled - 0.5) as i32
                } else {
                    (scaled + 0.5) as i32
                };
            }
            bounds.push((xmin, count));
        }
        Weights {
            bounds,
            coeffs,
            ksize,
        }
    }

    /// Only the `len` output positions from `from` on.
    fn keep(mut self, from: usize, len: usize) -> Self {
        self.bounds = self.bounds[from..from + len].to_vec();
        self.coeffs = self.coeffs[from * self.ksize..(from + len) * self.ksize].to_vec();
        self
    }

    fn of(&self, i: usize) -> (usize, &[i32]) {
        let (start, count) = self.bounds[i];
        (start, &self.coeffs[i * self.ksize..i * self.ksize + count])
    }
}

/// Round a fixed-point sum to 8 bits, clamping as Pillow's `clip8`.
#[inline(always)]
fn clip8(sum: i32) -> u8 {
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

/// The horizontal pass: every row of `rows` (`width` pixels of `channels`) to `w`'s output
/// positions. `avx2`: the CPU has AVX2 (RGB and RGBA then take [`avx2::pass`]).
#[inline(always)]
fn horizontal_pass(rows: &[u8], channels: usize, width: usize, w: &Weights, avx2: bool) -> Vec<u8> {
    #[cfg(target_arch = "x86_64")]
    if avx2 && (channels == 3 || channels == 4) {
        // SAFETY: the caller checked that this CPU has AVX2.
        return unsafe { avx2::pass(rows, channels, width, w) };
    }
    let _ = avx2;
    let out_width = w.bounds.len();
    let height = rows.len() / (width * channels);
    let mut out = vec![0u8; out_width * height * channels];
    // RGB and RGBA: each weight multiplies a whole pixel read as four bytes (for RGB the fourth
    // is the next pixel's, or the padding after the row's last, and its sum is dropped), four
    // sums at once.
    let stride = width * channels;
    let mut padded = vec![0u8; stride + 1];
    for (src, dst) in rows
        .chunks_exact(stride)
        .zip(out.chunks_exact_mut(out_width * channels))
    {
        if channels == 3 || channels == 4 {
            padded[..stride].copy_from_slice(src);
            for (xx, px) in dst.chunks_exact_mut(channels).enumerate() {
                let (start, k) = w.of(xx);
                let mut sums = [HALF; 4];
                for (i, &coeff) in k.iter().enumerate() {
                    let at = (start + i) * channels;
                    let pixel: [u8; 4] = padded[at..at + 4].try_into().unwrap_or([0; 4]);
                    for (sum, v) in sums.iter_mut().zip(pixel) {
                        *sum += i32::from(v) * coeff;
                    }
                }
                for (value, sum) in px.iter_mut().zip(sums) {
                    *value = clip8(sum);
                }
            }
            continue;
        }
        for (xx, px) in dst.chunks_exact_mut(channels).enumerate() {
            let (start, k) = w.of(xx);
            let window = &src[start * channels..(start + k.len()) * channels];
            for (c, value) in px.iter_mut().enumerate() {
                let mut sum = HALF;
                for (&coeff, input) in k.iter().zip(window[c..].iter().step_by(channels)) {
                    sum += i32::from(*input) * coeff;
                }
                *value = clip8(sum);
            }
        }
    }
    out
}

/// The horizontal pass of RGB and RGBA written for AVX2: two output pixels side by side in one
/// 256-bit register, four 32-bit lanes each (a pixel's channels, read as four bytes), one
/// multiply and one add per weight for both. LLVM does not find this layout by itself; it
/// vectorises along the weights and pays for a horizontal sum per pixel instead.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Weights, HALF, PRECISION_BITS};
    use std::arch::x86_64::{
        __m256i, _mm256_add_epi32, _mm256_castsi256_si128, _mm256_cvtepu8_epi32,
        _mm256_extracti128_si256, _mm256_loadu_si256, _mm256_mullo_epi32, _mm256_set1_epi32,
        _mm256_srai_epi32, _mm_cvtsi128_si64, _mm_packs_epi32, _mm_packus_epi16, _mm_set_epi32,
    };

    /// Weights of output pixels `2p` and `2p + 1`, weight by weight, as eight lanes: four of the
    /// first pixel's weight, four of the second's (0 past the last pixel).
    fn pair_weights(w: &Weights) -> Vec<i32> {
        let (k, n) = (w.ksize, w.bounds.len());
        let mut out = vec![0; n.div_ceil(2) * k * 8];
        for (p, lanes) in out.chunks_exact_mut(k * 8).enumerate() {
            for (i, lane) in lanes.chunks_exact_mut(8).enumerate() {
                lane[..4].fill(w.coeffs[2 * p * k + i]);
                if 2 * p + 1 < n {
                    lane[4..].fill(w.coeffs[(2 * p + 1) * k + i]);
                }
            }
        }
        out
    }

    /// The pass over every row. Each output pixel reads `ksize` input pixels from its first
    /// (weights past its count are zero), so a row's reads may run past its end: into the next
    /// row, or, for the rows too close to the end of `rows`, into a zero-padded copy.
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn pass(rows: &[u8], channels: usize, width: usize, w: &Weights) -> Vec<u8> {
        let (k, n) = (w.ksize, w.bounds.len());
        let stride = width * channels;
        let height = rows.len() / stride;
        let mut out = vec![0u8; n * height * channels];
        let weights = pair_weights(w);
        let last_start = w.bounds.iter().map(|b| b.0).max().unwrap_or(0);
        // One past the last byte a row's sums read.
        let reach = ((last_start + k - 1) * channels + 4).max(stride);
        let mut padded = vec![0u8; reach];
        let mut line = vec![0u8; (n + 1) * channels + 4];
        for (y, dst) in out.chunks_exact_mut(n * channels).enumerate() {
            // Reads past a row's end land in the next row, where only zero weights meet them;
            // only rows too close to the end of `rows` are copied out with zeros after them.
            let at = y * stride;
            let src = if at + reach <= rows.len() {
                &rows[at..at + reach]
            } else {
                padded[..stride].copy_from_slice(&rows[at..at + stride]);
                &padded[..]
            };
            for (p, lanes) in weights.chunks_exact(k * 8).enumerate() {
                let sa = w.bounds[2 * p].0;
                let sb = w.bounds.get(2 * p + 1).map_or(sa, |b| b.0);
                // Every read below lies within these bounds.
                assert!((sa.max(sb) + k - 1) * channels + 4 <= src.len());
                assert!(lanes.len() == k * 8);
                let (pa, pb) = (
                    src.as_ptr().add(sa * channels),
                    src.as_ptr().add(sb * channels),
                );
                let lanes = lanes.as_ptr().cast::<__m256i>();
                let mut sums = _mm256_set1_epi32(HALF);
                for i in 0..k {
                    // SAFETY: within `src` and `lanes`, as asserted above.
                    let a = pa.add(i * channels).cast::<i32>().read_unaligned();
                    let b = pb.add(i * channels).cast::<i32>().read_unaligned();
                    let pixels = _mm256_cvtepu8_epi32(_mm_set_epi32(0, 0, b, a));
                    let weight = _mm256_loadu_si256(lanes.add(i));
                    sums = _mm256_add_epi32(sums, _mm256_mullo_epi32(pixels, weight));
                }
                // Pillow's clip8: shift, then clamp to 0..=255 (by saturating packs).
                let shifted = _mm256_srai_epi32::<{ PRECISION_BITS as i32 }>(sums);
                let words = _mm_packs_epi32(
                    _mm256_castsi256_si128(shifted),
                    _mm256_extracti128_si256::<1>(shifted),
                );
                let bytes =
                    (_mm_cvtsi128_si64(_mm_packus_epi16(words, words)) as u64).to_le_bytes();
                let at = 2 * p * channels;
                line[at..at + 4].copy_from_slice(&bytes[..4]);
                line[at + channels..at + channels + 4].copy_from_slice(&bytes[4..]);
            }
            dst.copy_from_slice(&line[..n * channels]);
        }
        out
    }
}

/// `rows` starts at input row `first`; `w`'s bounds count from row 0.
#[inline(always)]
fn vertical_pass(rows: &[u8], stride: usize, height: usize, first: usize, w: &Weights) -> Vec<u8> {
    let out_height = w.bounds.len();
    let mut out = vec![0u8; out_height * stride];
    let mut sums = vec![0i32; stride];
    for (yy, dst) in out.chunks_exact_mut(stride).enumerate() {
        let (start, k) = w.of(yy);
        sums.fill(HALF);
        for (i, &coeff) in k.iter().enumerate() {
            let y = start + i - first;
            debug_assert!(y < height);
            let src = &rows[y * stride..(y + 1) * stride];
            for (sum, &input) in sums.iter_mut().zip(src) {
                *sum += i32::from(input) * coeff;
            }
        }
        for (value, &sum) in dst.iter_mut().zip(&sums) {
            *value = clip8(sum);
        }
    }
    out
}

/// Pillow's NEAREST: output pixel `x` reads input `floor((x + 0.5) * in / out)`.
fn nearest(
    pixels: &[u8],
    channels: usize,
    [width, height]: [usize; 2],
    [out_width, out_height]: [usize; 2],
    [left, top, w, h]: [usize; 4],
) -> Vec<u8> {
    // Positions are accumulated step by step, as Pillow does; computing (x + 0.5) * step
    // directly rounds differently and picks the neighbouring pixel now and then.
    let positions = |size: usize, out: usize| {
        let step = size as f64 / out as f64;
        let mut at = step * 0.5;
        let mut list = Vec::with_capacity(out);
        for _ in 0..out {
            list.push((at as usize).min(size - 1));
            at += step;
        }
        list
    };
    let columns = positions(width, out_width)[left..left + w].to_vec();
    let rows = positions(height, out_height)[top..top + h].to_vec();
    let mut out = Vec::with_capacity(w * h * channels);
    for yi in rows {
        let row = &pixels[yi * width * channels..(yi + 1) * width * channels];
        for &x in &columns {
            out.extend_from_slice(&row[x * channels..(x + 1) * channels]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every filter, Nearest first.
    const FILTERS: [Filter; 6] = [
        Filter::Nearest,
        Filter::Bilinear,
        Filter::Bicubic,
        Filter::Lanczos,
        Filter::Box,
        Filter::Hamming,
    ];

    /// Bytes of noise from a fixed LCG seeded with `seed`, `n` at a call: edges everywhere, so
    /// every weight matters.
    fn noise(seed: u32) -> impl FnMut(usize) -> Vec<u8> {
        let mut state = seed;
        move |n| {
            (0..n)
                .map(|_| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (state >> 24) as u8
                })
                .collect()
        }
    }

    /// Pillow's two passes written out pixel by pixel, as plainly as they can be: the reference
    /// the vectorised passes must equal byte for byte.
    fn plain(
        px: &[u8],
        ch: usize,
        [w, h]: [usize; 2],
        [ow, oh]: [usize; 2],
        filter: Filter,
    ) -> Vec<u8> {
        let (hw, vw) = (
            Weights::new(w, ow, filter, true),
            Weights::new(h, oh, filter, true),
        );
        let mut wide = vec![0u8; ow * h * ch];
        for y in 0..h {
            for xx in 0..ow {
                let (start, k) = hw.of(xx);
                for c in 0..ch {
                    let mut sum = HALF;
                    for (i, &coeff) in k.iter().enumerate() {
                        sum += i32::from(px[(y * w + start + i) * ch + c]) * coeff;
                    }
                    wide[(y * ow + xx) * ch + c] = clip8(sum);
                }
            }
        }
        let mut out = vec![0u8; ow * oh * ch];
        for yy in 0..oh {
            let (start, k) = vw.of(yy);
            for x in 0..ow * ch {
                let mut sum = HALF;
                for (i, &coeff) in k.iter().enumerate() {
                    sum += i32::from(wide[(start + i) * ow * ch + x]) * coeff;
                }
                out[yy * ow * ch + x] = clip8(sum);
            }
        }
        out
    }

    #[test]
    fn the_vectorised_passes_equal_the_plain_ones_on_every_instruction_set() {
        let mut noise = noise(12345);
        // Down and up, odd and even sizes, the row's last pixel read; 1, 3 and 4 channels.
        let cases = [
            (3, [97, 45], [24, 17]),
            (3, [64, 32], [20, 31]),
            (1, [50, 33], [13, 70]),
            (4, [41, 16], [40, 5]),
            (3, [300, 200], [256, 171]),
            (3, [61, 20], [15, 9]),
        ];
        for (ch, size, out_size) in cases {
            let px = noise(size[0] * size[1] * ch);
            // Nearest has no passes to vectorise.
            for filter in &FILTERS[1..] {
                let filter = *filter;
                let want = plain(&px, ch, size, out_size, filter);
                let what = format!("{ch} channels, {size:?} -> {out_size:?}, {filter:?}");
                assert_eq!(
                    resize(&px, ch, size, out_size, filter, true),
                    want,
                    "{what}"
                );
                let whole = [0, 0, out_size[0], out_size[1]];
                assert_eq!(
                    resize_with(&px, ch, size, out_size, whole, filter, true, false),
                    want,
                    "{what}, baseline instructions"
                );
            }
        }
    }

    #[test]
    fn a_window_of_the_output_equals_the_whole_output_cut_on_every_instruction_set() {
        let mut noise = noise(99);
        // A centre crop after a downscale, windows at every edge, one pass skipped each way.
        let cases = [
            (3, [120, 90], [32, 24], [4, 0, 24, 24]),
            (3, [120, 90], [32, 24], [0, 3, 32, 17]),
            (4, [57, 40], [30, 21], [29, 20, 1, 1]),
            (1, [64, 48], [64, 20], [10, 5, 40, 10]),
            (3, [64, 48], [20, 48], [2, 7, 16, 30]),
            (3, [40, 30], [70, 45], [10, 10, 50, 25]),
        ];
        for (ch, size, out_size, window) in cases {
            let px = noise(size[0] * size[1] * ch);
            for filter in FILTERS {
                let whole = resize(&px, ch, size, out_size, filter, true);
                let want = cut(&whole, ch, out_size[0], window);
                let what =
                    format!("{ch} channels, {size:?} -> {out_size:?} {window:?}, {filter:?}");
                assert_eq!(
                    resize_window(&px, ch, size, out_size, window, filter, true),
                    want,
                    "{what}"
                );
                assert_eq!(
                    resize_with(&px, ch, size, out_size, window, filter, true, false),
                    want,
                    "{what}, baseline instructions"
                );
            }
        }
        // A window past the output's edge is cut there.
        let px = noise(20 * 10 * 3);
        let whole = resize(&px, 3, [20, 10], [8, 4], Filter::Bilinear, true);
        assert_eq!(
            resize_window(
                &px,
                3,
                [20, 10],
                [8, 4],
                [6, 2, 10, 10],
                Filter::Bilinear,
                true
            ),
            cut(&whole, 3, 8, [6, 2, 2, 2])
        );
    }

    #[test]
    fn same_size_is_a_copy_and_a_constant_image_stays_constant() {
        let px = vec![77u8; 10 * 7 * 3];
        assert_eq!(resize(&px, 3, [10, 7], [10, 7], Filter::Bicubic, true), px);
        for filter in FILTERS {
            for size in [[3, 2], [25, 13], [10, 3]] {
                let out = resize(&px, 3, [10, 7], size, filter, true);
                assert_eq!(out.len(), size[0] * size[1] * 3);
                assert!(out.iter().all(|&v| v == 77), "{filter:?} {size:?}");
            }
        }
    }
}
