//! Parity with Pillow and torchvision on real JPEGs: the fixtures and SHA-256 digests of
//! Pillow's output come from `python models/make_jpeg_fixtures.py` (models/testdata/jpeg/,
//! references.json), which implements torchvision's transforms with Pillow and numpy. A digest
//! matches only when every byte does, so each check here is exact.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::tensor::{decode_image as decode, to_gray};
use super::*;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/testdata/jpeg")
}

fn references() -> Value {
    let text = std::fs::read_to_string(dir().join("references.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn entries<'a>(refs: &'a Value, key: &str) -> &'a Vec<Value> {
    let list = refs[key].as_array().unwrap();
    assert!(list.len() >= 12, "{key}: {} entries", list.len());
    list
}

#[test]
fn jpeg_decoding_matches_pillow_byte_for_byte() {
    let refs = references();
    for image in entries(&refs, "images") {
        let file = image["file"].as_str().unwrap();
        let decoded = decode(&dir().join(file)).unwrap();
        let size = [decoded.width(), decoded.height()];
        assert_eq!(serde_json::json!(size), image["size"], "{file}");
        let rgb = decoded.clone().into_rgb8();
        assert_eq!(sha(rgb.as_raw()), image["rgb_sha256"], "{file}: RGB pixels");
        let gray = to_gray(decoded);
        assert_eq!(sha(gray.as_raw()), image["gray_sha256"], "{file}: L pixels");
    }
}

#[test]
fn arithmetic_coded_jpeg_decodes_as_pillow_does() {
    // A lossless transcode of exact_224.jpg: Pillow decodes both to the same pixels.
    let refs = references();
    let entry = &refs["arithmetic"];
    let file = entry["file"].as_str().unwrap();
    let bytes = std::fs::read(dir().join(file)).unwrap();
    assert!(
        bytes.windows(2).any(|w| w == [0xFF, 0xC9]),
        "{file} has no SOF9 marker"
    );
    let decoded = decode(&dir().join(file)).unwrap().into_rgb8();
    assert_eq!(
        sha(decoded.as_raw()),
        entry["rgb_sha256"],
        "{file}: RGB pixels"
    );
    let source = entries(&refs, "images")
        .iter()
        .find(|image| image["file"] == entry["transcoded_from"])
        .unwrap();
    assert_eq!(entry["rgb_sha256"], source["rgb_sha256"]);
}

#[test]
fn torchvision_imagenet_preset_matches_torchvision_exactly() {
    let refs = references();
    let preset = Preset::TorchvisionImagenet.config();
    let raw = Preprocess {
        dtype: DType::Uint8,
        mean: Vec::new(),
        std: Vec::new(),
        layout: Layout::Nhwc,
        ..preset.clone()
    };
    for image in entries(&refs, "images") {
        let file = image["file"].as_str().unwrap();
        let path = dir().join(file);
        let crop = to_u8(&load_image_tensor(&path, &raw).unwrap());
        assert_eq!(sha(&crop), image["crop_sha256"], "{file}: cropped pixels");
        let tensor = load_image_tensor(&path, &preset).unwrap();
        assert_eq!(tensor.len(), 3 * 224 * 224);
        let means: Vec<f64> = tensor
            .chunks_exact(224 * 224)
            .map(|c| c.iter().map(|&v| f64::from(v)).sum::<f64>() / c.len() as f64)
            .collect();
        assert_eq!(
            sha(&f32_bytes(&tensor)),
            image["tensor_sha256"],
            "{file}: tensor differs; channel means {means:?}, Pillow's {}",
            image["tensor_channel_means"]
        );
    }
}

#[test]
fn every_interpolation_matches_pillow_resize() {
    let refs = references();
    let mut failed = Vec::new();
    for case in refs["resizes"].as_array().unwrap() {
        let file = case["file"].as_str().unwrap();
        let interpolation: Interpolation = case["interpolation"].as_str().unwrap().parse().unwrap();
        let size: [usize; 2] = serde_json::from_value(case["size"].clone()).unwrap();
        let decoded = decode(&dir().join(file)).unwrap();
        let (w, h) = (decoded.width() as usize, decoded.height() as usize);
        let (pixels, channels) = match case["mode"].as_str().unwrap() {
            "RGB" => (decoded.into_rgb8().into_raw(), 3),
            _ => (to_gray(decoded).into_raw(), 1),
        };
        let whole = [0, 0, size[0], size[1]];
        let out = super::resample::resize_window(
            &pixels,
            channels,
            [w, h],
            size,
            whole,
            interpolation,
            true,
        );
        if sha(&out) != case["sha256"] {
            failed.push(case.to_string());
        }
    }
    assert!(failed.is_empty(), "differ from Pillow: {failed:#?}");
}

#[test]
fn truncated_corrupt_and_cmyk_jpegs_are_errors_naming_the_file() {
    let p = Preset::TorchvisionImagenet.config();
    for (file, reason) in [
        ("truncated.jpg", "the file is truncated"),
        ("corrupt.jpg", "cannot decode image"),
        (
            "cmyk.jpg",
            "CMYK JPEGs are not supported; convert the image to RGB",
        ),
    ] {
        let path = dir().join(file);
        let err = load_image_tensor(&path, &p).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains(reason), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}
