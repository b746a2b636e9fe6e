//! Preprocessing checked against Pillow and numpy on a small generated PNG,
//! plus the error paths a user can hit with a bad file.

use std::path::{Path, PathBuf};

use super::*;

/// The 7x5 test image: pixel (x, y) = (x*37+y*11, x*5+y*53, x*y*17+3) mod 256.
/// Pillow sees the same pixels via the numpy array built in the commands below.
fn write_test_png(dir: &Path) -> PathBuf {
    let img = image::RgbImage::from_fn(7, 5, |x, y| {
        image::Rgb(
            [
                (x * 37 + y * 11) % 256,
                (x * 5 + y * 53) % 256,
                (x * y * 17 + 3) % 256,
            ]
            .map(|v| v as u8),
        )
    });
    let path = dir.join("test.png");
    img.save(&path).unwrap();
    path
}

/// The Python lines shared by the reference commands below (run with
/// Python with Pillow 13.0 and numpy 2.4):
/// import numpy as np; from PIL import Image
/// a=np.array([[((x*37+y*11)%256,(x*5+y*53)%256,(x*y*17+3)%256) for x in range(7)] for y in range(5)],np.uint8)
/// img=Image.fromarray(a,'RGB')
fn config(json: &str) -> Preprocess {
    let p: Preprocess = serde_json::from_str(json).unwrap();
    p.validate().unwrap();
    p
}

#[test]
fn nearest_resize_matches_pillow_exactly() {
    // print(np.asarray(img.resize((4,3),Image.NEAREST)).transpose(2,0,1).flatten().tolist())
    let want = [
        0, 74, 148, 222, 22, 96, 170, 244, 44, 118, 192, 10, 0, 10, 20, 30, 106, 116, 126, 136,
        212, 222, 232, 242, 3, 3, 3, 3, 3, 71, 139, 207, 3, 139, 19, 155,
    ];
    let dir = tempfile::tempdir().unwrap();
    let png = write_test_png(dir.path());
    let p = config(
        r#"{"color": "rgb", "resize": [4, 3], "interpolation": "nearest", "dtype": "uint8"}"#,
    );
    let got = to_u8(&load_image_tensor(&png, &p).unwrap());
    assert_eq!(got, want);
}

#[test]
fn bilinear_resize_matches_pillow_exactly() {
    // print(np.asarray(img.resize((4,3),Image.BILINEAR)).transpose(2,0,1).flatten().tolist())
    let down = [
        24, 82, 150, 208, 41, 99, 167, 225, 58, 116, 184, 166, 26, 33, 43, 50, 109, 116, 126, 133,
        192, 199, 209, 216, 7, 18, 32, 43, 21, 74, 125, 135, 35, 129, 114, 84,
    ];
    // print(np.asarray(img.resize((10,8),Image.BILINEAR)).transpose(2,0,1).flatten().tolist())
    let up = [
        0, 20, 46, 72, 98, 124, 150, 176, 202, 222, 5, 25, 51, 77, 103, 129, 155, 181, 207, 227,
        12, 32, 58, 84, 110, 136, 162, 188, 214, 234, 19, 39, 65, 91, 117, 143, 169, 195, 221, 241,
        25, 45, 71, 97, 123, 149, 175, 201, 227, 247, 32, 52, 78, 104, 130, 156, 182, 208, 234,
        254, 39, 59, 85, 111, 137, 163, 189, 215, 176, 117, 44, 64, 90, 116, 142, 168, 194, 220,
        130, 10, 0, 3, 6, 10, 13, 17, 20, 24, 27, 30, 23, 26, 29, 33, 36, 40, 43, 47, 50, 53, 56,
        59, 62, 66, 69, 73, 76, 80, 83, 86, 89, 92, 95, 99, 102, 106, 109, 113, 116, 119, 123, 126,
        129, 133, 136, 140, 143, 147, 150, 153, 156, 159, 162, 166, 169, 173, 176, 180, 183, 186,
        189, 192, 195, 199, 202, 206, 209, 213, 216, 219, 212, 215, 218, 222, 225, 229, 232, 236,
        239, 242, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 7, 12, 17, 23, 28, 33, 38, 44, 48, 3, 13, 25,
        38, 51, 64, 76, 89, 102, 111, 3, 19, 39, 59, 79, 99, 119, 140, 159, 175, 3, 25, 53, 79,
        107, 135, 159, 130, 137, 159, 3, 30, 66, 100, 135, 170, 194, 60, 35, 63, 3, 36, 79, 121,
        163, 155, 99, 63, 77, 110, 3, 40, 88, 136, 183, 141, 22, 70, 118, 155,
    ];
    let dir = tempfile::tempdir().unwrap();
    let png = write_test_png(dir.path());
    for (size, want) in [([4, 3], &down[..]), ([10, 8], &up[..])] {
        let p = Preprocess {
            resize: Some(Resize::Exact(size)),
            ..config(r#"{"color": "rgb", "dtype": "uint8"}"#)
        };
        let got = to_u8(&load_image_tensor(&png, &p).unwrap());
        let want: Vec<u8> = want.iter().map(|&v| v as u8).collect();
        assert_eq!(got, want, "{size:?}");
    }
}

#[test]
fn gray_conversion_matches_pillow_exactly() {
    // print(np.asarray(img.convert('L')).flatten().tolist())
    let want = [
        0, 14, 28, 42, 56, 70, 84, 35, 51, 67, 83, 98, 114, 130, 69, 87, 105, 123, 141, 159, 176,
        104, 123, 143, 163, 183, 173, 193, 138, 160, 181, 203, 196, 218, 163,
    ];
    let dir = tempfile::tempdir().unwrap();
    let png = write_test_png(dir.path());
    let p = config(r#"{"color": "gray", "dtype": "uint8"}"#);
    assert_eq!(to_u8(&load_image_tensor(&png, &p).unwrap()), want);
}

#[test]
fn crop_scale_normalize_nhwc_matches_numpy() {
    // c=a[1:4,1:6].astype(np.float32)
    // mean=np.array([0.485,0.456,0.406],np.float32); std=np.array([0.229,0.224,0.225],np.float32)
    // print(', '.join(str(v) for v in ((c*np.float32(1/255)-mean)/std).flatten()))
    let want: [f32; 45] = [
        -1.2959157,
        -1.020308,
        -1.4558606,
        -0.6622999,
        -0.932773,
        -1.1595641,
        -0.02868389,
        -0.84523803,
        -0.86326784,
        0.60493195,
        -0.757703,
        -0.5669716,
        1.238548,
        -0.670168,
        -0.2706753,
        -1.1075435,
        -0.09243682,
        -1.1595641,
        -0.47392747,
        -0.0049018166,
        -0.5669716,
        0.15968838,
        0.08263319,
        0.025621124,
        0.79330426,
        0.17016819,
        0.6182137,
        1.4269203,
        0.2577032,
        1.2108063,
        -0.91917115,
        0.83543426,
        -0.86326784,
        -0.28555518,
        0.9229692,
        0.025621124,
        0.34806067,
        1.0105042,
        0.91451,
        0.9816765,
        1.0980393,
        1.8033991,
        1.6152927,
        1.1855743,
        -1.7695861,
    ];
    let dir = tempfile::tempdir().unwrap();
    let png = write_test_png(dir.path());
    let p = config(
        r#"{"color": "rgb", "center_crop": [5, 3], "layout": "nhwc",
            "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}"#,
    );
    let got = load_image_tensor(&png, &p).unwrap();
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-6, "value {i}: {g} vs numpy {w}");
    }
}

#[test]
fn batch_is_samples_back_to_back_and_nchw_is_nhwc_transposed() {
    let dir = tempfile::tempdir().unwrap();
    let png = write_test_png(dir.path());
    let nchw = config(r#"{"color": "rgb", "resize": [4, 3], "center_crop": [3, 2]}"#);
    let nhwc = Preprocess {
        layout: Layout::Nhwc,
        ..nchw.clone()
    };
    let one = load_image_tensor(&png, &nchw).unwrap();
    let batch = preprocess_batch(&[png.as_path(), png.as_path(), png.as_path()], &nchw).unwrap();
    assert_eq!(batch, [one.clone(), one.clone(), one.clone()].concat());
    let hwc = load_image_tensor(&png, &nhwc).unwrap();
    let [c, h, w] = input_shape(&nchw).unwrap();
    for ch in 0..c {
        for y in 0..h {
            for x in 0..w {
                assert_eq!(one[ch * h * w + y * w + x], hwc[(y * w + x) * c + ch]);
            }
        }
    }
}

#[test]
fn corrupt_image_error_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_test_png(dir.path());
    let bad = dir.path().join("broken.png");
    // Fixed pseudo-random bytes: not a PNG header.
    let bytes: Vec<u8> = (0u32..512)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&bad, bytes).unwrap();
    let p = config(r#"{"color": "rgb", "resize": [4, 3]}"#);
    let err = preprocess_batch(&[good.as_path(), bad.as_path()], &p).unwrap_err();
    assert!(matches!(err, PreprocessError::Decode { .. }));
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("cannot decode image {}: ", bad.display())),
        "{msg}"
    );
}

#[test]
fn missing_image_and_size_problems_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let png = write_test_png(dir.path());
    let gone = dir.path().join("gone.png");
    let p = config(r#"{"color": "rgb"}"#);
    let err = load_image_tensor(&gone, &p).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("cannot open image {}", gone.display())),
        "{err}"
    );

    let crop = config(r#"{"color": "rgb", "center_crop": [8, 2]}"#);
    let err = load_image_tensor(&png, &crop).unwrap_err();
    assert!(
        err.to_string()
            .contains("is 7x5, smaller than preprocess.center_crop [8, 2]"),
        "{err}"
    );

    let small = dir.path().join("small.png");
    image::RgbImage::new(2, 2).save(&small).unwrap();
    let err = preprocess_batch(&[png.as_path(), small.as_path()], &p).unwrap_err();
    assert!(matches!(err, PreprocessError::SizeMismatch { .. }), "{err}");

    // A config built in code without validate() still errors, not panics.
    let zero = Preprocess {
        resize: Some(Resize::Exact([0, 3])),
        ..p.clone()
    };
    let err = preprocess_batch(&[png.as_path()], &zero).unwrap_err();
    assert!(
        matches!(err, PreprocessError::Config { key: "resize", .. }),
        "{err}"
    );

    let mut buf = vec![0.0; 3];
    let err = load_image_into(&png, &p, &mut buf).unwrap_err();
    assert!(
        matches!(
            err,
            PreprocessError::BufferSize {
                expected: 105,
                got: 3
            }
        ),
        "{err}"
    );
}

#[test]
fn feature_samples_pass_through_and_must_agree() {
    use crate::data::dataset::{Sample, SampleInput};
    let row = |id: &str, f: Vec<f32>| Sample {
        id: id.to_string(),
        label: 0,
        input: SampleInput::Features(f),
    };
    let (a, b, c) = (
        row("a", vec![1.0, 2.0]),
        row("b", vec![3.0, 4.0]),
        row("c", vec![5.0]),
    );
    assert_eq!(
        preprocess_samples(&[&a, &b], None).unwrap(),
        vec![1.0, 2.0, 3.0, 4.0]
    );
    let err = preprocess_samples(&[&a, &c], None).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("sample c has 1 features but sample a has 2"),
        "{err}"
    );
    let img = Sample {
        id: "i".to_string(),
        label: 0,
        input: SampleInput::Image(PathBuf::from("x.png")),
    };
    assert!(preprocess_samples(&[&img], None)
        .unwrap_err()
        .to_string()
        .contains("[models.preprocess]"));
}

#[test]
fn half_and_byte_conversions() {
    let v = [0.0f32, 1.5, -2.25, 65504.0];
    assert_eq!(to_f16(&v).iter().map(|h| h.to_f32()).collect::<Vec<_>>(), v);
    assert_eq!(to_u8(&[0.0, 254.6, 300.0, -1.0]), vec![0, 255, 255, 0]);
}
