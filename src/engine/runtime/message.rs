//! ONNX Runtime's error messages, made fit for one line of a CI log.
//!
//! ONNX Runtime's C++ errors carry their origin: an `[ONNXRuntimeError] : 1 : FAIL :` prefix, the
//! source file and line (`/onnxruntime_src/onnxruntime/core/graph/model.cc:256`) and the whole
//! C++ signature of the function that threw. None of that helps the user, and the signature
//! alone can be longer than the cause. [`tidy`] keeps the cause; [`load_hint`] turns the two
//! version refusals (an opset or an IR version newer than the library) into the fix. Their
//! wording is ONNX Runtime 1.31's, read from the errors it gives for `models/testdata/opset99.onnx`
//! and `ir99.onnx` (`model_load_utils.h` ValidateOpsetForDomain and `model.cc` Model::Model).

/// `message` without ONNX Runtime's status prefix, source locations and C++ signatures, on one
/// line.
pub fn tidy(message: &str) -> String {
    let mut text = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.starts_with("[ONNXRuntimeError]") {
        // `[ONNXRuntimeError] : 1 : FAIL : rest`
        if let Some(rest) = text.splitn(4, " : ").nth(3) {
            text = rest.to_string();
        }
    }
    // "Load model from PATH failed:" repeats what the caller already says.
    if let Some(rest) = text.strip_prefix("Load model from ") {
        if let Some((_, after)) = rest.split_once(" failed:") {
            text = after.trim_start().to_string();
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some((start, end)) = source_location(rest) {
        out.push_str(&rest[..start]);
        rest = skip_signature(rest[end..].trim_start());
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The byte range of the first `path/file.cc:123` (or `.h`, `.cpp`, `.hpp`, `.cu`) in `text`,
/// with the whitespace before it.
fn source_location(text: &str) -> Option<(usize, usize)> {
    let mut offset = 0;
    for word in text.split_inclusive(char::is_whitespace) {
        let token = word.trim_end();
        // A location may follow "failed:" with no space.
        let token_start = token.find('/').unwrap_or(0);
        let candidate = &token[token_start..];
        if let Some((file, line)) = candidate.rsplit_once(':') {
            let is_source = [".cc", ".h", ".cpp", ".hpp", ".cu"]
                .iter()
                .any(|ext| file.ends_with(ext));
            if is_source && !line.is_empty() && line.chars().all(|c| c.is_ascii_digit()) {
                let start = offset + token_start;
                return Some((start, offset + token.len()));
            }
        }
        offset += word.len();
    }
    None
}

/// `text` after a leading C++ signature (`void ns::f(args) const`), or `text` when it does not
/// start with one: a signature names a `::` scope before its first `(`.
fn skip_signature(text: &str) -> &str {
    let Some(open) = text.find('(') else {
        return text;
    };
    if !text[..open].contains("::") || text[..open].contains(". ") {
        return text;
    }
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    let after = text[open + i + 1..].trim_start();
                    return after.strip_prefix("const ").unwrap_or(after);
                }
            }
            _ => {}
        }
    }
    text
}

/// The fix for a model newer than the library: `Some` when `message` is ONNX Runtime refusing
/// the model's opset or IR version, naming what the model has and what `ort_version` supports.
pub fn load_hint(message: &str, ort_version: &str) -> Option<String> {
    let text = tidy(message);
    if let Some(rest) = text.split("Unsupported model IR version: ").nth(1) {
        let model_ir = number_at(rest)?;
        let max_ir = rest
            .split("max supported IR version: ")
            .nth(1)
            .and_then(number_at)?;
        return Some(format!(
            "the model is in ONNX IR version {model_ir}, newer than ONNX Runtime {ort_version} reads (IR version {max_ir} at most); \
             export it with an older onnx (IR version {max_ir} or lower), or give --ort-lib an ONNX Runtime that reads IR version {model_ir}"
        ));
    }
    if let Some(rest) = text.split("is till opset ").nth(1) {
        let max_opset = number_at(rest)?;
        let domain = text
            .split("support for domain ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or("ai.onnx");
        let model_opset = text.split("Opset ").nth(1).and_then(number_at)?;
        return Some(format!(
            "the model uses opset {model_opset} of {domain}, newer than ONNX Runtime {ort_version} supports (opset {max_opset} at most); \
             export it at opset {max_opset} or lower, or give --ort-lib an ONNX Runtime that supports opset {model_opset}"
        ));
    }
    None
}

fn number_at(text: &str) -> Option<u64> {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // ONNX Runtime 1.31.1's messages for models/testdata/ir99.onnx and opset99.onnx.
    const IR: &str = "[ONNXRuntimeError] : 1 : FAIL : Load model from m.onnx failed:/onnxruntime_src/onnxruntime/core/graph/model.cc:256 onnxruntime::Model::Model(onnx::ModelProto&&, const onnxruntime::PathString&, const onnxruntime::IOnnxRuntimeOpSchemaRegistryList*, const onnxruntime::logging::Logger&, const onnxruntime::ModelOptions&) Unsupported model IR version: 99, max supported IR version: 13\n";
    const OPSET: &str = "Load model from m.onnx failed:/onnxruntime_src/onnxruntime/core/graph/model_load_utils.h:46 void onnxruntime::model_load_utils::ValidateOpsetForDomain(const std::unordered_map<std::__cxx11::basic_string<char>, int>&, const onnxruntime::logging::Logger&, bool, const std::string&, int) ONNX Runtime only *guarantees* support for models stamped with official released onnx opset versions. Opset 99 is under development and support for this is limited. Current official support for domain ai.onnx is till opset 26.";

    #[test]
    fn tidy_keeps_the_cause_and_drops_the_origin() {
        assert_eq!(
            tidy(IR),
            "Unsupported model IR version: 99, max supported IR version: 13"
        );
        let opset = tidy(OPSET);
        assert!(
            opset.starts_with("ONNX Runtime only *guarantees*"),
            "{opset}"
        );
        assert!(!opset.contains("::") && !opset.contains(".h:"), "{opset}");
        // Plain messages pass unchanged.
        assert_eq!(tidy("Protobuf parsing failed."), "Protobuf parsing failed.");
        assert_eq!(
            tidy("x /a/b.cc:12 plain words (not a signature) stay"),
            "x plain words (not a signature) stay"
        );
    }

    #[test]
    fn version_refusals_get_the_fix() {
        let hint = load_hint(IR, "1.31.1").unwrap();
        assert!(
            hint.contains("IR version 99") && hint.contains("IR version 13 at most"),
            "{hint}"
        );
        let hint = load_hint(OPSET, "1.31.1").unwrap();
        assert!(
            hint.contains("opset 99 of ai.onnx") && hint.contains("opset 26 at most"),
            "{hint}"
        );
        assert_eq!(load_hint("Protobuf parsing failed.", "1.31.1"), None);
    }
}
