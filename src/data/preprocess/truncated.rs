//! Whether an image file ends where its format says it must, checked on the bytes read to
//! decode it.
//!
//! The `image` crate's PNG and JPEG decoders fill the rows they never received with zeros
//! instead of failing, so an image cut short in a copy or an upload would be scored as if it
//! were whole (Pillow refuses such a file). So the file's structure is walked from its start to
//! its closing marker: a PNG's chunks to IEND, a JPEG's segments and entropy-coded data to EOI
//! (FF D9; inside entropy-coded data an FF is followed by 00 or a restart marker). Whatever
//! follows the closing marker (a camera's trailer, padding) is ignored, as Pillow ignores it, and
//! a marker inside an embedded thumbnail is never mistaken for the end.

use image::ImageFormat;

/// `Some(reason)` when a file's `bytes`, read as `format`, end before its closing marker. A
/// file whose structure cannot be followed is left to the decoder to judge.
pub fn missing_end(bytes: &[u8], format: ImageFormat) -> Option<String> {
    let (name, whole) = match format {
        ImageFormat::Jpeg => ("JPEG end-of-image marker (FF D9)", jpeg_ends(bytes)),
        ImageFormat::Png => ("PNG IEND chunk", png_ends(bytes)),
        _ => return None,
    };
    (whole == Some(false)).then(|| {
        format!(
            "the file is truncated: it has no {name} ({} bytes)",
            bytes.len()
        )
    })
}

/// Whether the PNG's chunks reach IEND; None when it is no PNG.
fn png_ends(bytes: &[u8]) -> Option<bool> {
    if bytes.get(..8)? != b"\x89PNG\r\n\x1a\n" {
        return None;
    }
    let mut at = 8usize;
    loop {
        let Some(head) = at.checked_add(8).and_then(|end| bytes.get(at..end)) else {
            return Some(false);
        };
        if &head[4..] == b"IEND" {
            return Some(true);
        }
        let data = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        at = at.saturating_add(8).saturating_add(data).saturating_add(4);
    }
}

/// Whether the JPEG's segments and scans reach EOI; None when it is no JPEG or its structure
/// cannot be followed.
fn jpeg_ends(bytes: &[u8]) -> Option<bool> {
    if bytes.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut at = 2;
    loop {
        // A marker: FF (fill FFs allowed), then its code.
        if at >= bytes.len() {
            return Some(false);
        }
        if bytes[at] != 0xFF {
            return None;
        }
        while at < bytes.len() && bytes[at] == 0xFF {
            at += 1;
        }
        let Some(&code) = bytes.get(at) else {
            return Some(false);
        };
        at += 1;
        match code {
            0xD9 => return Some(true),
            0xD0..=0xD7 | 0x01 => continue,
            _ => {}
        }
        let Some(length) = bytes.get(at..at + 2) else {
            return Some(false);
        };
        at += usize::from(u16::from_be_bytes([length[0], length[1]]));
        if code == 0xDA {
            // Entropy-coded data: up to the first FF not followed by 00 or a restart marker.
            loop {
                let Some(ff) = bytes
                    .get(at..)
                    .and_then(|rest| rest.iter().position(|&b| b == 0xFF))
                else {
                    return Some(false);
                };
                at += ff;
                match bytes.get(at + 1) {
                    None => return Some(false),
                    Some(0x00 | 0xD0..=0xD7) => at += 2,
                    Some(_) => break,
                }
            }
        }
    }
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
            assert_eq!(
                missing_end(&std::fs::read(&whole).unwrap(), format),
                None,
                "{format:?}"
            );
            let bytes = std::fs::read(&whole).unwrap();
            let cut = dir.path().join("cut");
            std::fs::write(&cut, &bytes[..bytes.len() * 2 / 5]).unwrap();
            let reason = missing_end(&std::fs::read(&cut).unwrap(), format).unwrap();
            assert!(reason.contains("truncated"), "{reason}");
        }
        assert_eq!(
            missing_end(
                &std::fs::read(dir.path().join("cut")).unwrap(),
                ImageFormat::Gif
            ),
            None
        );
    }

    #[test]
    fn data_after_the_end_is_ignored_and_a_thumbnails_end_is_not_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let image = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8, 9]));
        for format in [ImageFormat::Png, ImageFormat::Jpeg] {
            let path = dir.path().join("whole");
            image.save_with_format(&path, format).unwrap();
            let mut bytes = std::fs::read(&path).unwrap();
            // 10 KiB of trailer after the end, as some cameras write (Pillow opens such files).
            bytes.extend(std::iter::repeat_n(0x5Au8, 10 * 1024));
            assert_eq!(missing_end(&bytes, format), None, "{format:?}");
        }
        // A JPEG whose APP1 segment carries a whole thumbnail (with its own FF D9), then cut in
        // its scan: truncated, though an FF D9 sits near the end of what is left.
        let path = dir.path().join("thumb.jpg");
        image.save_with_format(&path, ImageFormat::Jpeg).unwrap();
        let main = std::fs::read(&path).unwrap();
        let mut thumb = Vec::new();
        image::DynamicImage::ImageRgb8(image::RgbImage::new(8, 8))
            .write_to(&mut std::io::Cursor::new(&mut thumb), ImageFormat::Jpeg)
            .unwrap();
        let mut with_thumb = main[..2].to_vec();
        with_thumb.extend([0xFF, 0xE1]);
        with_thumb.extend(u16::try_from(thumb.len() + 2).unwrap().to_be_bytes());
        with_thumb.extend(&thumb);
        with_thumb.extend(&main[2..]);
        assert_eq!(missing_end(&with_thumb, ImageFormat::Jpeg), None);
        let cut = thumb.len() + 6 + (main.len() - 2) * 3 / 4;
        let reason = missing_end(&with_thumb[..cut], ImageFormat::Jpeg).unwrap();
        assert!(reason.contains("truncated"), "{reason}");
    }
}
