//! Small pictures of dataset images for the HTML report: the samples whose prediction changed,
//! shown beside their rows.

use std::path::Path;

use base64::Engine;

use super::tensor::decode_image;
use super::PreprocessError;

/// The longer side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 96;

/// The prefix of every thumbnail: a PNG as a data URI.
pub const DATA_URI_PREFIX: &str = "data:image/png;base64,";

/// The image at `path`, decoded within modelgate's limits, scaled to at most `side` pixels on
/// its longer side (never up), as a PNG `data:` URI.
pub fn thumbnail_data_uri(path: &Path, side: u32) -> Result<String, PreprocessError> {
    let image = decode_image(path)?;
    let small = if image.width() > side || image.height() > side {
        image.thumbnail(side, side)
    } else {
        image
    };
    let mut png = Vec::new();
    small
        .to_rgb8()
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| PreprocessError::Decode {
            path: path.to_path_buf(),
            reason: crate::base::text::clean(&format!("cannot encode its thumbnail: {e}"), 200),
        })?;
    Ok(format!(
        "{DATA_URI_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    ))
}

/// Whether `uri` is a thumbnail as [`thumbnail_data_uri`] writes one, at most `max_len` long:
/// the PNG data URI prefix and base64 alone. Anything else read from a comparison file (another
/// scheme, markup, a huge string) is not shown.
pub fn is_thumbnail(uri: &str, max_len: usize) -> bool {
    uri.len() <= max_len
        && uri.strip_prefix(DATA_URI_PREFIX).is_some_and(|data| {
            !data.is_empty()
                && data
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thumbnail_is_a_small_png_of_the_image() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.png");
        image::RgbImage::from_fn(400, 200, |x, _| image::Rgb([(x % 256) as u8, 0, 255]))
            .save(&path)
            .unwrap();
        let uri = thumbnail_data_uri(&path, THUMBNAIL_SIDE).unwrap();
        assert!(is_thumbnail(&uri, usize::MAX), "{uri}");
        let png = base64::engine::general_purpose::STANDARD
            .decode(uri.strip_prefix(DATA_URI_PREFIX).unwrap())
            .unwrap();
        let small = image::load_from_memory(&png).unwrap();
        assert_eq!((small.width(), small.height()), (96, 48));
        // A small image is not scaled up.
        let tiny = dir.path().join("tiny.png");
        image::RgbImage::new(8, 8).save(&tiny).unwrap();
        let uri = thumbnail_data_uri(&tiny, THUMBNAIL_SIDE).unwrap();
        let png = base64::engine::general_purpose::STANDARD
            .decode(uri.strip_prefix(DATA_URI_PREFIX).unwrap())
            .unwrap();
        assert_eq!(image::load_from_memory(&png).unwrap().width(), 8);
    }

    #[test]
    fn only_png_data_uris_of_base64_pass() {
        assert!(is_thumbnail("data:image/png;base64,iVBORw0KGgo=", 100));
        for bad in [
            "javascript:alert(1)",
            "data:image/svg+xml;base64,PHN2Zz4=",
            "data:image/png;base64,\"><script>",
            "data:image/png;base64,",
            "https://example.com/x.png",
        ] {
            assert!(!is_thumbnail(bad, 100), "{bad}");
        }
        assert!(!is_thumbnail("data:image/png;base64,AAAA", 10));
    }
}
