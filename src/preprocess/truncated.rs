//! Whether an image file ends where its format says it must, checked before decoding.
//!
//! The `image` crate's PNG and JPEG decoders fill the rows they never received with zeros
//! instead of failing, so an image cut short in a copy or an upload would be scored as if it
//! were whole (Pillow refuses such a file). A complete JPEG ends with the EOI marker (FF D9), and
//! a complete PNG with the IEND chunk; entropy-coded JPEG data never holds FF D9 (an FF there is
//! followed by 00), so looking for the marker near the end does not misread image data.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use image::ImageFormat;

/// How far from the end the trailer is looked for: room for padding or a vendor trailer that
/// some cameras append after the image.
const TAIL_BYTES: u64 = 4096;

/// `Some(reason)` when the file at `path`, read as `format`, lacks its closing marker.
pub fn missing_end(path: &Path, format: ImageFormat) -> std::io::Result<Option<String>> {
    let (marker, name): (&[u8], &str) = match format {
        ImageFormat::Jpeg => (&[0xFF, 0xD9], "JPEG end-of-image marker (FF D9)"),
        ImageFormat::Png => (b"IEND", "PNG IEND chunk"),
        _ => return Ok(None),
    };
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))?;
    let mut tail = Vec::with_capacity(TAIL_BYTES as usize);
    file.take(TAIL_BYTES).read_to_end(&mut tail)?;
    let found = tail.windows(marker.len()).any(|w| w == marker);
    Ok((!found).then(|| format!("the file is truncated: it has no {name} ({len} bytes)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_file_lacks_its_end_and_a_whole_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let image = image::RgbImage::from_fn(32, 32, |x, y| image::Rgb([x as u8 * 8, y as u8, 7]));
        for format in [ImageFormat::Png, ImageFormat::Jpeg] {
            let whole = dir.path().join("whole");
            image.save_with_format(&whole, format).unwrap();
            assert_eq!(missing_end(&whole, format).unwrap(), None, "{format:?}");
            let bytes = std::fs::read(&whole).unwrap();
            let cut = dir.path().join("cut");
            std::fs::write(&cut, &bytes[..bytes.len() * 2 / 5]).unwrap();
            let reason = missing_end(&cut, format).unwrap().unwrap();
            assert!(reason.contains("truncated"), "{reason}");
        }
        assert_eq!(
            missing_end(&dir.path().join("cut"), ImageFormat::Gif).unwrap(),
            None
        );
    }
}
