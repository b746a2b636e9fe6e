//! Postprocessing checked against scipy and on the cases a gate must not get
//! wrong: thresholds, the positive class, output widths, non-finite values.

use super::*;

fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

fn config(json: &str) -> Postprocess {
    serde_json::from_str(json).unwrap()
}

fn approx(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-6, "{got:?} vs {want:?}");
    }
}

#[test]
fn softmax_and_sigmoid_match_scipy_and_are_stable() {
    // python -c "import numpy as np; from scipy.special import softmax, expit;
    //   print(softmax(np.array([1,2,3.])).astype(np.float32), softmax(np.array([1000,1001,999.])).astype(np.float32),
    //   expit(np.array([-1000,-2,0,0.5,1000.])).astype(np.float32))"
    approx(
        &softmax(&[1.0, 2.0, 3.0]),
        &[0.09003057, 0.24472848, 0.66524094],
    );
    approx(
        &softmax(&[1000.0, 1001.0, 999.0]),
        &[0.24472848, 0.66524094, 0.09003057],
    );
    let s: Vec<f32> = [-1000.0, -2.0, 0.0, 0.5, 1000.0].map(sigmoid).to_vec();
    approx(&s, &[0.0, 0.11920292, 0.5, 0.62245935, 1.0]);
}

#[test]
fn single_logit_sigmoid_uses_threshold_on_positive_class() {
    let classes = names(&["benign", "malignant"]);
    let pp = Postprocessor::new(
        &config(r#"{"activation": "sigmoid", "threshold": 0.3}"#),
        &classes,
    )
    .unwrap();
    assert_eq!(pp.positive(), Some(1));
    // sigmoid(-0.5) = 0.3775 >= 0.3: positive.
    let p = pp.apply(&[-0.5], "a.png").unwrap();
    assert_eq!(p.pred, 1);
    approx(&p.scores, &[1.0 - sigmoid(-0.5), sigmoid(-0.5)]);
    assert_eq!(pp.apply(&[-2.0], "b.png").unwrap().pred, 0);

    // The positive class by name, first in class order.
    let first = config(r#"{"activation": "none", "positive_class": "benign"}"#);
    let pp = Postprocessor::new(&first, &classes).unwrap();
    let p = pp.apply(&[0.8], "c.png").unwrap();
    assert_eq!((p.pred, p.scores.clone()), (0, vec![0.8, 1.0 - 0.8]));
}

#[test]
fn two_logit_outputs_and_multiclass_argmax() {
    let binary = names(&["0", "1"]);
    let soft = Postprocessor::new(&config(r#"{"activation": "softmax"}"#), &binary).unwrap();
    // Equal logits give 0.5 each; 0.5 >= threshold predicts the positive class.
    assert_eq!(soft.apply(&[2.0, 2.0], "s").unwrap().pred, 1);
    assert_eq!(soft.apply(&[2.0, 1.0], "s").unwrap().pred, 0);
    let sig = Postprocessor::new(&config(r#"{"activation": "sigmoid"}"#), &binary).unwrap();
    approx(&sig.apply(&[0.0, 1000.0], "s").unwrap().scores, &[0.5, 1.0]);

    let three = names(&["a", "b", "c"]);
    let multi = Postprocessor::new(
        &config(r#"{"activation": "softmax", "threshold": 0.9}"#),
        &three,
    )
    .unwrap();
    assert_eq!(multi.positive(), None);
    let p = multi.apply(&[1.0, 3.0, 3.0], "m").unwrap();
    assert_eq!(p.pred, 1, "ties go to the first maximum");
    assert!((p.scores.iter().sum::<f32>() - 1.0).abs() < 1e-6);
}

#[test]
fn width_must_fit_the_classes() {
    let three = names(&["a", "b", "c"]);
    let pp = Postprocessor::new(&config(r#"{"activation": "softmax"}"#), &three).unwrap();
    let msg = pp.apply(&[0.1, 0.9], "x").unwrap_err().to_string();
    assert!(
        msg.starts_with("model output has 2 value(s) per sample but the dataset has 3 classes; "),
        "{msg}"
    );
    assert!(pp
        .apply(&[0.1], "x")
        .unwrap_err()
        .to_string()
        .contains("fits only a binary task"));
    let binary = names(&["no", "yes"]);
    let soft = Postprocessor::new(&config(r#"{"activation": "softmax"}"#), &binary).unwrap();
    assert!(soft
        .apply(&[0.3], "x")
        .unwrap_err()
        .to_string()
        .contains("set activation = \"sigmoid\""));
    let err = soft.apply_batch(&[0.1, 0.2, 0.3], &["a", "b"]).unwrap_err();
    assert!(
        matches!(err, PostprocessError::BatchShape { len: 3, samples: 2 }),
        "{err}"
    );
}

#[test]
fn non_finite_and_non_probability_values_name_the_sample() {
    let binary = names(&["no", "yes"]);
    let soft = Postprocessor::new(&config(r#"{"activation": "softmax"}"#), &binary).unwrap();
    let err = soft
        .apply_batch(&[0.1, 0.2, f32::NAN, 0.3], &["a.png", "b.png"])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "model output for sample b.png has NaN at index 0; the model produced a non-finite value for this input"
    );
    let none = Postprocessor::new(&config(r#"{"activation": "none"}"#), &binary).unwrap();
    let err = none.apply(&[-2.0, 3.0], "c.png").unwrap_err();
    assert!(
        matches!(err, PostprocessError::NotProbability { index: 0, .. }),
        "{err}"
    );
    assert!(none.apply(&[f32::INFINITY, 0.0], "d").is_err());
}

#[test]
fn config_validation_names_the_key() {
    let cases = [
        (
            r#"{"activation": "softmax", "threshold": 1.5}"#,
            "postprocess.threshold: 1.5 must be between 0 and 1",
        ),
        (
            r#"{"activation": "softmax", "class_names": ["a", "b", "a"]}"#,
            "postprocess.class_names: lists \"a\" twice",
        ),
        (
            r#"{"activation": "softmax", "class_names": ["a"]}"#,
            "postprocess.class_names: lists 1 class(es)",
        ),
        (
            r#"{"activation": "softmax", "class_names": ["a", "b"], "positive_class": "c"}"#,
            "postprocess.positive_class: \"c\" is not one of the classes [a, b]",
        ),
        (
            r#"{"activation": "softmax", "class_names": ["a", "b"], "positive_class": 2}"#,
            "postprocess.positive_class: index 2 is out of range",
        ),
    ];
    for (json, want) in cases {
        let msg = config(json).validate().unwrap_err().to_string();
        assert!(msg.starts_with(want), "{msg:?} should start with {want:?}");
    }
    assert!(
        serde_json::from_str::<Postprocess>(r#"{"activation": "softmax", "treshold": 0.4}"#)
            .is_err()
    );
    let ok = config(r#"{"activation": "sigmoid", "class_names": ["a", "b"], "positive_class": 0}"#);
    assert_eq!(ok.positive_index(&names(&["a", "b"])).unwrap(), Some(0));
    let one = Postprocessor::new(&config(r#"{"activation": "sigmoid"}"#), &names(&["only"]));
    assert!(one
        .unwrap_err()
        .to_string()
        .contains("the dataset has 1 class(es) [only]"));
}
