//! The `[models.preprocess]` config: names, defaults, presets, validation messages and the
//! shorter-side size rule.

use super::*;

fn parse(json: &str) -> Result<Preprocess, String> {
    serde_json::from_str(json).map_err(|e| e.to_string())
}

fn rgb() -> Preprocess {
    parse(r#"{"color": "rgb"}"#).unwrap()
}

#[test]
fn defaults_and_snake_case_names() {
    let p = parse(
        r#"{"color": "gray", "interpolation": "bicubic", "layout": "nhwc", "dtype": "float16", "resize": [32, 24]}"#,
    )
    .unwrap();
    assert_eq!(p.interpolation, Interpolation::Bicubic);
    assert_eq!(p.scale, DEFAULT_SCALE);
    assert!(p.antialias);
    assert_eq!(input_shape(&p), Some([1, 24, 32]));
    assert_eq!(batch_shape(&p, 5), Some([5, 24, 32, 1]));
    assert_eq!(rgb().interpolation, Interpolation::Bilinear);
    assert_eq!(rgb().layout, Layout::Nchw);
    assert_eq!(input_shape(&rgb()), None);
    assert!(parse(r#"{"color": "rgb", "means": [0.5]}"#).is_err());
    let square = parse(r#"{"color": "rgb", "resize": 256, "center_crop": 224}"#).unwrap();
    assert_eq!(square.resize, Some(Resize::Shorter(256)));
    assert_eq!(square.center_crop, Some([224, 224]));
    assert_eq!(input_shape(&square), Some([3, 224, 224]));
    // A shorter-side resize without a crop leaves the size to each image.
    let shorter = parse(r#"{"color": "rgb", "resize": 256}"#).unwrap();
    assert_eq!(input_shape(&shorter), None);
}

#[test]
fn a_resolved_config_reads_back_as_itself() {
    let p = parse(r#"{"preset": "torchvision-imagenet", "interpolation": "lanczos"}"#).unwrap();
    let json = serde_json::to_string(&p).unwrap();
    assert!(!json.contains("preset"), "{json}");
    assert_eq!(parse(&json).unwrap(), p);
}

#[test]
fn shorter_side_resize_follows_torchvision() {
    // torchvision's _compute_resized_output_size, written out in Python:
    // def tv(w,h,n):
    //     short,long=(w,h) if w<=h else (h,w)
    //     ns,nl=n,int(n*long/short)
    //     return (ns,nl) if w<=h else (nl,ns)
    // print([tv(w,h,n) for (w,h,n) in [(300,200,256),(257,511,256),(640,480,256),(225,225,256),
    //   (1024,683,256),(333,1000,224),(500,375,256),(7,3,5),(3,7,5)]])
    let cases = [
        ([300, 200, 256], [384, 256]),
        ([257, 511, 256], [256, 509]),
        ([640, 480, 256], [341, 256]),
        ([225, 225, 256], [256, 256]),
        ([1024, 683, 256], [383, 256]),
        ([333, 1000, 224], [224, 672]),
        ([500, 375, 256], [341, 256]),
        ([7, 3, 5], [11, 5]),
        ([3, 7, 5], [5, 11]),
    ];
    for ([w, h, n], want) in cases {
        assert_eq!(
            Resize::Shorter(n).output_size([w, h]),
            want,
            "{w}x{h} -> {n}"
        );
    }
    assert_eq!(Resize::Exact([10, 20]).output_size([300, 7]), [10, 20]);
}

#[test]
fn resize_and_interpolation_parse_from_flags() {
    assert_eq!("256".parse(), Ok(Resize::Shorter(256)));
    assert_eq!("256x224".parse(), Ok(Resize::Exact([256, 224])));
    let err = "256x".parse::<Resize>().unwrap_err();
    assert!(
        err.contains("give N (shorter side) or WIDTHxHEIGHT"),
        "{err}"
    );
    assert_eq!("lanczos".parse(), Ok(Interpolation::Lanczos));
    let err = "triangle".parse::<Interpolation>().unwrap_err();
    assert!(err.contains("nearest, bilinear, bicubic"), "{err}");
}

#[test]
fn preset_gives_torchvision_imagenet_and_keys_override_it() {
    let p = parse(r#"{"preset": "torchvision-imagenet"}"#).unwrap();
    assert_eq!(p, Preset::TorchvisionImagenet.config());
    assert_eq!(p.color, Color::Rgb);
    assert_eq!(p.resize, Some(Resize::Shorter(256)));
    assert_eq!(p.center_crop, Some([224, 224]));
    assert_eq!(p.mean, [0.485, 0.456, 0.406]);
    assert_eq!(p.std, [0.229, 0.224, 0.225]);
    p.validate().unwrap();
    let o = parse(
        r#"{"preset": "torchvision-imagenet", "resize": 232, "interpolation": "bicubic", "layout": "nhwc"}"#,
    )
    .unwrap();
    assert_eq!(o.resize, Some(Resize::Shorter(232)));
    assert_eq!(o.interpolation, Interpolation::Bicubic);
    assert_eq!(o.layout, Layout::Nhwc);
    assert_eq!(o.center_crop, Some([224, 224]));
    assert_eq!(o.std, p.std);
}

#[test]
fn missing_color_and_old_filter_key_say_what_to_write() {
    let err = parse(r#"{"resize": 256}"#).unwrap_err();
    assert!(
        err.starts_with("preprocess.color is missing; set color"),
        "{err}"
    );
    for (old, new) in [
        ("triangle", "bilinear"),
        ("catmull_rom", "bicubic"),
        ("lanczos3", "lanczos"),
    ] {
        let err = parse(&format!(r#"{{"color": "rgb", "filter": "{old}"}}"#)).unwrap_err();
        assert!(
            err.starts_with(&format!(
                "preprocess.filter = \"{old}\" is now preprocess.interpolation"
            )),
            "{err}"
        );
        assert!(
            err.contains(&format!("write interpolation = \"{new}\"")),
            "{err}"
        );
    }
}

#[test]
fn validation_names_the_key() {
    let cases = [
        (
            r#""mean": [0.5]"#,
            "preprocess.mean: has 1 values but color = \"rgb\" has 3 channel(s)",
        ),
        (
            r#""std": [0.2, 0, 0.2]"#,
            "preprocess.std: [0.2, 0.0, 0.2] contains 0",
        ),
        (
            r#""resize": [224, 224], "center_crop": [256, 200]"#,
            "preprocess.center_crop: [256, 200] is larger than resize [224, 224]",
        ),
        (
            r#""resize": 200, "center_crop": 224"#,
            "preprocess.center_crop: [224, 224] is larger than resize 200 (shorter side)",
        ),
        (
            r#""resize": [0, 10]"#,
            "preprocess.resize: [0, 10] has a zero side",
        ),
        (
            r#""resize": 0"#,
            "preprocess.resize: 0: give the shorter side",
        ),
        (
            r#""scale": 0"#,
            "preprocess.scale: 0 must be a finite, non-zero number",
        ),
        (
            r#""dtype": "uint8", "mean": [0.5, 0.5, 0.5]"#,
            "preprocess.mean: is ignored when dtype = \"uint8\"",
        ),
        (
            r#""dtype": "float16", "std": [1e-5, 1e-5, 1e-5]"#,
            "preprocess.std: values reach",
        ),
    ];
    for (keys, want) in cases {
        let p = parse(&format!(r#"{{"color": "rgb", {keys}}}"#)).unwrap();
        let msg = p.validate().unwrap_err().to_string();
        assert!(msg.starts_with(want), "{msg:?} should start with {want:?}");
    }
    let nan = Preprocess {
        scale: f32::NAN,
        ..rgb()
    };
    assert!(nan
        .validate()
        .unwrap_err()
        .to_string()
        .starts_with("preprocess.scale: NaN"));
}
