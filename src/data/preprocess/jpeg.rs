//! JPEG decoding through libjpeg-turbo's decoder, the one Pillow uses.
//!
//! JPEG leaves the decoder some freedom (the inverse DCT, chroma upsampling), and decoders use
//! it: the `image` crate's decoder differs from Pillow's by up to 3 levels on subsampled chroma,
//! enough to move a model's accuracy. libjpeg-turbo with its defaults (accurate integer DCT,
//! fancy upsampling), as Pillow calls it, gives the same bytes as `Image.open(f).convert("RGB")`.
//!
//! libjpeg reports a fatal error through a callback that must not return; it unwinds here with
//! `resume_unwind` (which skips the panic hook, so nothing reaches stderr) and the unwind is
//! caught around the decode and turned into an error that names the file. Warnings are ignored
//! as Pillow ignores them, except a premature end of data, which Pillow reports as
//! "image file is truncated".

use std::os::raw::c_int;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use image::{DynamicImage, GrayImage, RgbImage};
use mozjpeg_sys as ffi;

/// Why a JPEG was not decoded.
pub enum JpegError {
    /// Larger than [`crate::base::limits`] allows, from the header.
    TooLarge,
    /// libjpeg's message, or what modelgate cannot handle.
    Decode(String),
}

/// The unwind payload of a libjpeg error.
struct LibjpegFailure(String);

/// True when `bytes` start like a JPEG file (SOI marker).
pub fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF])
}

/// Decode a whole JPEG file held in memory to RGB, or to gray for a one-channel JPEG.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, JpegError> {
    // SAFETY: both structs are plain C data that libjpeg initializes (jpeg_std_error and
    // jpeg_create_decompress); they stay in place (not moved) while libjpeg holds pointers into
    // them, and the decompressor is destroyed on every path after it was created.
    unsafe {
        let mut err: ffi::jpeg_error_mgr = std::mem::zeroed();
        let mut cinfo: ffi::jpeg_decompress_struct = std::mem::zeroed();
        let handlers = ffi::jpeg_std_error(&mut err);
        handlers.error_exit = Some(error_exit);
        handlers.emit_message = Some(emit_message);
        cinfo.common.err = handlers;
        let created = catch_unwind(AssertUnwindSafe(|| {
            ffi::jpeg_create_decompress(&mut cinfo);
        }));
        if let Err(payload) = created {
            return Err(JpegError::Decode(message(payload)));
        }
        let result = catch_unwind(AssertUnwindSafe(|| read(&mut cinfo, bytes)));
        ffi::jpeg_destroy_decompress(&mut cinfo);
        match result {
            Ok(decoded) => decoded,
            Err(payload) => Err(JpegError::Decode(message(payload))),
        }
    }
}

/// The text carried by a caught unwind.
fn message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<LibjpegFailure>() {
        Ok(failure) => failure.0,
        Err(_) => "the JPEG decoder failed".to_string(),
    }
}

/// The decode proper; libjpeg errors unwind out of it.
unsafe fn read(
    cinfo: &mut ffi::jpeg_decompress_struct,
    bytes: &[u8],
) -> Result<DynamicImage, JpegError> {
    ffi::jpeg_mem_src(cinfo, bytes.as_ptr(), bytes.len() as _);
    ffi::jpeg_read_header(cinfo, 1);
    let (width, height) = (cinfo.image_width, cinfo.image_height);
    let channels: u32 = match cinfo.jpeg_color_space {
        ffi::JCS_GRAYSCALE => {
            cinfo.out_color_space = ffi::JCS_GRAYSCALE;
            1
        }
        ffi::JCS_YCbCr | ffi::JCS_RGB => {
            cinfo.out_color_space = ffi::JCS_RGB;
            3
        }
        other => {
            return Err(JpegError::Decode(format!(
                "{} JPEGs are not supported; convert the image to RGB",
                match other {
                    ffi::JCS_CMYK => "CMYK",
                    ffi::JCS_YCCK => "YCCK (Adobe CMYK)",
                    _ => "this colour space's",
                }
            )))
        }
    };
    let side = crate::base::limits::MAX_IMAGE_SIDE;
    let bytes_needed = u64::from(width) * u64::from(height) * u64::from(channels);
    if width > side || height > side || bytes_needed > crate::base::limits::MAX_DECODED_IMAGE_BYTES
    {
        return Err(JpegError::TooLarge);
    }
    // Pillow's settings are libjpeg's defaults: the accurate integer DCT and fancy upsampling.
    ffi::jpeg_start_decompress(cinfo);
    let row_len = cinfo.output_width as usize * cinfo.output_components as usize;
    let rows = cinfo.output_height as usize;
    let mut pixels = vec![0u8; row_len * rows];
    while (cinfo.output_scanline as usize) < rows {
        let start = cinfo.output_scanline as usize * row_len;
        let mut row = pixels[start..start + row_len].as_mut_ptr();
        if ffi::jpeg_read_scanlines(cinfo, &mut row, 1) == 0 {
            return Err(JpegError::Decode(
                "the JPEG decoder stopped before the last row".to_string(),
            ));
        }
    }
    ffi::jpeg_finish_decompress(cinfo);
    let (w, h) = (cinfo.output_width, cinfo.output_height);
    let image = if channels == 1 {
        GrayImage::from_raw(w, h, pixels).map(DynamicImage::ImageLuma8)
    } else {
        RgbImage::from_raw(w, h, pixels).map(DynamicImage::ImageRgb8)
    };
    image.ok_or_else(|| JpegError::Decode("the decoded size does not match".to_string()))
}

/// libjpeg's text for the message in `cinfo`.
unsafe fn format(cinfo: &mut ffi::jpeg_common_struct) -> String {
    let buffer = [0u8; 80];
    if let Some(format_message) = (*cinfo.err).format_message {
        format_message(cinfo, &buffer);
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

/// libjpeg's fatal error: unwind to [`decode`] without the panic hook.
unsafe extern "C-unwind" fn error_exit(cinfo: &mut ffi::jpeg_common_struct) {
    let text = format(cinfo);
    resume_unwind(Box::new(LibjpegFailure(text)));
}

/// libjpeg's warnings and traces: a premature end of data is an error (Pillow refuses a
/// truncated file); the rest pass silently, as in Pillow.
unsafe extern "C-unwind" fn emit_message(cinfo: &mut ffi::jpeg_common_struct, level: c_int) {
    if level < 0 && (*cinfo.err).msg_code == ffi::JWRN_JPEG_EOF as c_int {
        let text = format(cinfo);
        resume_unwind(Box::new(LibjpegFailure(format!(
            "the file is truncated ({text})"
        ))));
    }
}
