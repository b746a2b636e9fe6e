//! What init guesses from the model and the data: the image input and its preprocessing, the
//! activation from the output's width, and the positive class from the class names.

use super::*;

/// The input's image layout when it looks like one: rank 4, float or 8-bit, with 1 or 3
/// channels second (NCHW) or last (NHWC).
pub fn image_input(input: &TensorSpec) -> Option<ImageInput> {
    let dtype = match input.elem {
        ElemType::Float32 => DType::Float32,
        ElemType::Float16 => DType::Float16,
        ElemType::Uint8 => DType::Uint8,
        _ => return None,
    };
    let fixed = |d: &Dim| match d {
        Dim::Fixed(n) => u32::try_from(*n).ok(),
        Dim::Symbolic(_) => None,
    };
    let [_, a, b, c] = input.dims.as_slice() else {
        return None;
    };
    let channels = |d| fixed(d).filter(|n| *n == 1 || *n == 3);
    let (channels, layout, h, w) = if let Some(n) = channels(a) {
        (n, Layout::Nchw, b, c)
    } else if let Some(n) = channels(c) {
        (n, Layout::Nhwc, a, b)
    } else {
        return None;
    };
    let size = fixed(w).zip(fixed(h)).map(|(w, h)| [w, h]);
    Some(ImageInput {
        channels,
        size,
        layout,
        dtype,
    })
}

/// `[models.preprocess]` lines for an image input, each guess marked for review.
pub fn preprocess_lines(
    input: &TensorSpec,
    image: &ImageInput,
    size: Option<[u32; 2]>,
) -> Result<Vec<String>> {
    let shape = format!("{} {}", elem_name(&input.elem), format_dims(&input.dims));
    let review = format!(
        "# REVIEW: guessed from the model's input `{}` {shape}",
        comment_text(&input.name)
    );
    let Some([width, height]) = image.size.or(size) else {
        bail!(
            "input `{}` {shape} has a symbolic image size; pass --image-size WxH (e.g. --image-size 224x224), or set resize and center_crop in [models.preprocess]",
            input.name
        );
    };
    let mut lines = Vec::new();
    if image.channels == 3
        && [width, height] == [224, 224]
        && image.layout == Layout::Nchw
        && image.dtype == DType::Float32
    {
        lines.push(format!("{review}: torchvision's ImageNet transform (Resize(256), CenterCrop(224), ImageNet mean and std)"));
        lines.push("preset = \"torchvision-imagenet\"".to_string());
        return Ok(lines);
    }
    if image.channels == 1 {
        lines.push(format!("{review}: 1 channel"));
        lines.push("color = \"gray\"".to_string());
    } else {
        lines.push(format!("{review}: 3 channels"));
        lines.push("color = \"rgb\"".to_string());
    }
    lines.push(format!(
        "{review}: images are resized and cropped to the model's {width}x{height}"
    ));
    if width == height {
        lines.push(format!("resize = {width}"));
        lines.push(format!("center_crop = {width}"));
    } else {
        lines.push(format!("resize = [{width}, {height}]"));
    }
    if image.channels == 3 && image.dtype != DType::Uint8 {
        lines.push("# REVIEW: the model's normalization is unknown; if it was trained with ImageNet's, uncomment:".to_string());
        lines.push("# mean = [0.485, 0.456, 0.406]".to_string());
        lines.push("# std = [0.229, 0.224, 0.225]".to_string());
    }
    if image.layout == Layout::Nhwc {
        lines.push(format!("{review}: channels last"));
        lines.push("layout = \"nhwc\"".to_string());
    }
    match image.dtype {
        DType::Float32 => {}
        DType::Float16 => {
            lines.push(format!("{review}: float16"));
            lines.push("dtype = \"float16\"".to_string());
        }
        DType::Uint8 => {
            lines.push(format!("{review}: raw 0..255 pixels"));
            lines.push("dtype = \"uint8\"".to_string());
        }
    }
    Ok(lines)
}

pub(super) fn elem_name(elem: &ElemType) -> String {
    match elem {
        ElemType::Unsupported(name) => name.clone(),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
    }
}

/// Values per sample of the first output: its last dim, when fixed.
pub fn output_width(spec: &ModelSpec) -> Option<i64> {
    match spec.outputs.first()?.dims.last()? {
        Dim::Fixed(n) => Some(*n),
        Dim::Symbolic(_) => None,
    }
}

/// One output is a logit (sigmoid); several are logits of exclusive classes (softmax).
pub fn activation_for(width: Option<i64>) -> Activation {
    match width {
        Some(1) => Activation::Sigmoid,
        _ => Activation::Softmax,
    }
}

/// Class names that usually mean the positive finding.
pub(super) const POSITIVE_NAMES: &[&str] = &[
    "positive",
    "pos",
    "malignant",
    "pneumonia",
    "abnormal",
    "disease",
    "tumor",
    "yes",
    "true",
    "1",
];

/// For two classes, the one whose recall matters and why it was picked: a name such as
/// "positive" or "malignant", else the rarer class, else the second.
pub fn guess_positive(classes: &[String], counts: &[usize]) -> Option<(usize, &'static str)> {
    if classes.len() != 2 {
        return None;
    }
    if let Some(i) = classes
        .iter()
        .position(|c| POSITIVE_NAMES.contains(&c.to_lowercase().as_str()))
    {
        return Some((i, "by its name"));
    }
    match counts {
        [a, b] if a < b => Some((0, "as the rarer class")),
        [a, b] if b < a => Some((1, "as the rarer class")),
        _ => Some((1, "as the second class (both are as common)")),
    }
}
