//! Unit tests of `init`'s guesses and of the config it writes.

use super::*;
use crate::data::postprocess::ClassRef;
use crate::data::preprocess::Color;

fn tensor(elem: ElemType, dims: &[Dim]) -> TensorSpec {
    TensorSpec {
        name: "input".to_string(),
        elem,
        dims: dims.to_vec(),
    }
}

fn n() -> Dim {
    Dim::Symbolic("N".to_string())
}

fn f(v: i64) -> Dim {
    Dim::Fixed(v)
}

fn spec(input: TensorSpec, width: Dim) -> ModelSpec {
    ModelSpec {
        inputs: vec![input],
        outputs: vec![TensorSpec {
            name: "logits".to_string(),
            elem: ElemType::Float32,
            dims: vec![n(), width],
        }],
    }
}

/// A folder with an (empty) model file and a request for a config beside it.
fn setup() -> (tempfile::TempDir, InitRequest) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("models")).unwrap();
    std::fs::write(dir.path().join("models/my model.onnx"), b"").unwrap();
    let request = InitRequest {
        model: dir.path().join("models/my model.onnx"),
        dataset: None,
        name: None,
        out: dir.path().join("modelgate.toml"),
        force: false,
        image_size: None,
    };
    (dir, request)
}

/// [`setup`] with a dataset file beside the model, and a one-logit RGB 224x224 model.
fn rgb_with_dataset() -> (tempfile::TempDir, InitRequest, ModelSpec) {
    let (dir, mut request) = setup();
    std::fs::write(dir.path().join("models/test.csv"), b"path,label\n").unwrap();
    request.dataset = Some(dir.path().join("models/test.csv"));
    let model = spec(
        tensor(ElemType::Float32, &[n(), f(3), f(224), f(224)]),
        f(1),
    );
    (dir, request, model)
}

fn two_classes() -> DatasetSummary {
    DatasetSummary {
        format: DatasetFormat::ManifestCsv,
        classes: vec!["negative".to_string(), "positive".to_string()],
        counts: vec![251, 109],
        slice_columns: vec!["site".to_string()],
    }
}

#[test]
fn an_rgb_224_input_gets_the_imagenet_preset() {
    let input = tensor(ElemType::Float32, &[n(), f(3), f(224), f(224)]);
    let image = image_input(&input).unwrap();
    assert_eq!(
        (image.channels, image.size, image.layout),
        (3, Some([224, 224]), Layout::Nchw)
    );
    let lines = preprocess_lines(&input, &image, None).unwrap();
    assert_eq!(lines[1], "preset = \"torchvision-imagenet\"");
    assert!(
        lines[0]
            .starts_with("# REVIEW: guessed from the model's input `input` float32 Nx3x224x224"),
        "{lines:?}"
    );
}

#[test]
fn a_one_channel_input_is_gray_at_the_models_size() {
    let input = tensor(ElemType::Float32, &[n(), f(1), f(28), f(28)]);
    let image = image_input(&input).unwrap();
    let lines = preprocess_lines(&input, &image, None).unwrap();
    let text = lines.join("\n");
    assert!(text.contains("color = \"gray\""), "{text}");
    assert!(text.contains("resize = 28\ncenter_crop = 28"), "{text}");
    assert!(!text.contains("preset"), "{text}");
    // What the loader makes of it.
    let pre: crate::data::preprocess::Preprocess = toml::from_str(
        &lines
            .iter()
            .filter(|l| !l.starts_with('#'))
            .cloned()
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    assert_eq!(pre.color, Color::Gray);
    assert_eq!(pre.center_crop, Some([28, 28]));
}

#[test]
fn channels_last_and_other_types_are_written_out() {
    let input = tensor(ElemType::Uint8, &[n(), f(96), f(128), f(3)]);
    let image = image_input(&input).unwrap();
    assert_eq!(
        (image.layout, image.size, image.dtype),
        (Layout::Nhwc, Some([128, 96]), DType::Uint8)
    );
    let text = preprocess_lines(&input, &image, None).unwrap().join("\n");
    assert!(text.contains("resize = [128, 96]"), "{text}");
    assert!(
        text.contains("layout = \"nhwc\"") && text.contains("dtype = \"uint8\""),
        "{text}"
    );
    // Not images: a table row, a 5-channel tensor.
    assert_eq!(image_input(&tensor(ElemType::Float32, &[n(), f(30)])), None);
    assert_eq!(
        image_input(&tensor(ElemType::Float32, &[n(), f(5), f(8), f(8)])),
        None
    );
}

#[test]
fn a_symbolic_image_size_names_the_flag() {
    let sym = |s: &str| Dim::Symbolic(s.to_string());
    let input = tensor(ElemType::Float32, &[n(), f(3), sym("H"), sym("W")]);
    let image = image_input(&input).unwrap();
    let err = preprocess_lines(&input, &image, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--image-size") && err.contains("`input`"),
        "{err}"
    );
    let text = preprocess_lines(&input, &image, Some([224, 224]))
        .unwrap()
        .join("\n");
    assert!(text.contains("torchvision-imagenet"), "{text}");
}

#[test]
fn the_output_width_picks_the_activation() {
    let input = tensor(ElemType::Float32, &[n(), f(30)]);
    let cases = [
        (f(1), Some(1), Activation::Sigmoid),
        (f(2), Some(2), Activation::Softmax),
        (f(10), Some(10), Activation::Softmax),
        (n(), None, Activation::Softmax),
    ];
    for (dim, width, activation) in cases {
        let model = spec(input.clone(), dim);
        assert_eq!(output_width(&model), width);
        assert_eq!(activation_for(width), activation);
    }
}

#[test]
fn the_positive_class_is_guessed_by_name_then_rarity() {
    let names = |a: &str, b: &str| vec![a.to_string(), b.to_string()];
    assert_eq!(
        guess_positive(&names("malignant", "benign"), &[50, 10]),
        Some((0, "by its name"))
    );
    assert_eq!(
        guess_positive(&names("0", "1"), &[100, 60]),
        Some((1, "by its name"))
    );
    assert_eq!(
        guess_positive(&names("cat", "dog"), &[10, 50]),
        Some((0, "as the rarer class"))
    );
    assert_eq!(guess_positive(&names("cat", "dog"), &[5, 5]).unwrap().0, 1);
    assert_eq!(
        guess_positive(&["a", "b", "c"].map(String::from), &[1, 2, 3]),
        None
    );
}

#[test]
fn the_written_config_loads_and_says_what_it_guessed() {
    let (_dir, request, model) = rgb_with_dataset();
    let plan = plan(&request, &model, Some(&two_classes())).unwrap();
    assert_eq!(plan.name, "my_model");
    let config = GateConfig::parse(&plan.text).unwrap();
    let entry = &config.models[0];
    assert_eq!(entry.candidate, Path::new("models/my model.onnx"));
    assert_eq!(entry.base_ref.as_deref(), Some("merge-base"));
    let dataset = entry.dataset.as_ref().unwrap();
    assert_eq!(dataset.path, Path::new("models/test.csv"));
    let post = entry.postprocess.as_ref().unwrap();
    assert_eq!(post.activation, Activation::Sigmoid);
    assert_eq!(
        post.class_names.as_deref(),
        Some(&["negative".to_string(), "positive".to_string()][..])
    );
    assert_eq!(
        post.positive_class,
        Some(ClassRef::Name("positive".to_string()))
    );
    let criteria = config.criteria_for(entry);
    // 360 samples: two are 0.56 points; 109 positives: two are 1.83 points.
    assert_eq!(criteria.max_accuracy_drop_pts, 0.6);
    assert_eq!(criteria.max_recall_drop_pts, 1.9);
    // Not evaluated: no floor, and the comment says why and what to do.
    assert_eq!(criteria.min_recall, None);
    assert!(
        plan.text.contains("init did not evaluate the model") && plan.text.contains("# min_recall"),
        "{}",
        plan.text
    );
    assert!(plan.text.contains("# slices = [\"site\"]"), "{}", plan.text);
    assert!(
        plan.summary.iter().any(|l| l.contains("a guess")),
        "{:?}",
        plan.summary
    );
}

#[test]
fn a_tabular_dataset_gets_no_preprocessing() {
    let (dir, mut request) = setup();
    std::fs::write(dir.path().join("data.csv"), b"a,label\n").unwrap();
    request.dataset = Some(dir.path().join("data.csv"));
    request.name = Some("cancer".to_string());
    let data = DatasetSummary {
        format: DatasetFormat::Tabular,
        classes: vec!["0".to_string(), "1".to_string()],
        counts: vec![107, 64],
        slice_columns: vec![],
    };
    let model = spec(tensor(ElemType::Float32, &[n(), f(30)]), f(1));
    let plan = plan(&request, &model, Some(&data)).unwrap();
    let config = GateConfig::parse(&plan.text).unwrap();
    let entry = &config.models[0];
    assert_eq!(entry.name, "cancer");
    assert!(entry.preprocess.is_none());
    let post = entry.postprocess.as_ref().unwrap();
    // Numeric labels are the output indices: no class names, "1" matched by name.
    assert_eq!(post.class_names, None);
    assert_eq!(post.positive_class, Some(ClassRef::Name("1".to_string())));
    request.name = Some("a b".to_string());
    let err = super::plan(&request, &model, Some(&data))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("--name \"a b\""), "{err}");
}

#[test]
fn an_existing_config_is_kept_without_force() {
    let (dir, _) = setup();
    let out = dir.path().join("modelgate.toml");
    write_config(&out, "first", false).unwrap();
    let err = check_out(&out, false).unwrap_err().to_string();
    assert!(
        err.contains("modelgate.toml already exists") && err.contains("--force"),
        "{err}"
    );
    let err = write_config(&out, "second", false).unwrap_err().to_string();
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "first");
    check_out(&out, true).unwrap();
    write_config(&out, "second", true).unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "second");
    // Nothing half-written is left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn the_floor_sits_two_points_under_the_wilson_lower_bound_init_measured() {
    use crate::commands::init::{floor_below, positives_for_floor};
    // 89 of 109 positives: Wilson 95 % lower bound 0.73351 (statsmodels 0.15:
    // proportion_confint(89, 109, method="wilson")), so the floor is 0.71.
    assert_eq!(floor_below(0.733514), Some(0.71));
    assert_eq!(floor_below(0.8618), Some(0.84));
    assert_eq!(floor_below(0.025), None);
    assert_eq!(floor_below(f64::NAN), None);
    // The positives a higher floor needs: the fewest n whose Wilson bound at this recall meets
    // it, and one fewer does not.
    for (recall, floor) in [(0.8165, 0.79), (0.92, 0.90), (0.5, 0.3)] {
        let n = positives_for_floor(recall, floor).unwrap();
        let lower = |n: u64| {
            let hits = (recall * n as f64).round() as u64;
            crate::stats::wilson_interval(hits, n, 0.95).unwrap().lower
        };
        assert!(lower(n) >= floor, "{recall} {floor}: {n}");
        assert!(
            lower(n - 1) < floor,
            "{recall} {floor}: {n} is not the fewest"
        );
    }
    assert_eq!(positives_for_floor(0.8, 0.85), None);
    assert_eq!(positives_for_floor(0.8, 0.8), None);
}

#[test]
fn a_measured_recall_sets_the_floor_and_says_how() {
    let (_dir, request, model) = rgb_with_dataset();
    let seen = crate::commands::init::RecallSeen {
        recall: 89.0 / 109.0,
        lower: 0.733514,
        hits: 89,
        support: 109,
    };
    let plan = plan_with(&request, &model, Some(&two_classes()), Some(&seen)).unwrap();
    let config = GateConfig::parse(&plan.text).unwrap();
    assert_eq!(
        config.criteria_for(&config.models[0]).min_recall,
        Some(0.71)
    );
    for expected in [
        "81.65 % (89 of 109)",
        "lower bound 73.35 %",
        "A floor of 0.79 would need about",
    ] {
        assert!(
            plan.text.contains(expected),
            "{expected} missing from {}",
            plan.text
        );
    }
}
