//! The configuration reference, `docs/config.md`, generated from the config types.
//!
//! One source: every key, its type, default and description come from the JSON Schema of
//! [`GateConfig`] (the `///` comments of the config structs), the flag column from the command
//! line's own definition, and only the examples from the table below. A key without a
//! description or an example is an error here, so a new field cannot go undocumented; the tests
//! compare the committed file with this output and parse every example as config.
//! `modelgate schema config --markdown` prints it.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use serde_json::{json, Map, Value};

use crate::cli::Flag;
use crate::data::preprocess::Preprocess;
use crate::files::config::{Criteria, GateConfig};

mod examples;

use examples::EXAMPLES;

/// One table of `modelgate.toml`.
struct Section {
    /// As written in the file: `[models.bench]`.
    title: &'static str,
    /// Its place in the schema, from the root: `["models", "bench"]`.
    path: &'static [&'static str],
    /// The commands whose flags set its keys.
    commands: &'static [&'static str],
    /// What the table is for.
    intro: &'static str,
}

const SECTIONS: [Section; 10] = [
    Section {
        title: "[criteria]",
        path: &["criteria"],
        commands: &[],
        intro:
            "What must hold for every model, unless its own `[models.criteria]` says otherwise. \
                Percentages and points are of the baseline's value; a criterion left unset is off \
                unless it has a default.",
    },
    Section {
        title: "[[models]]",
        path: &["models"],
        commands: &["gate"],
        intro: "One table per gated model; `name` and `candidate` are required.",
    },
    Section {
        title: "[models.dataset]",
        path: &["models", "dataset"],
        commands: &["eval"],
        intro: "Labeled data for the accuracy part; without it the model is only benchmarked. \
                Paths are relative to the config's folder.",
    },
    Section {
        title: "[models.preprocess]",
        path: &["models", "preprocess"],
        commands: &["eval"],
        intro: "How an image becomes the model's input: each value becomes \
                `(pixel * scale - mean[c]) / std[c]` unless `dtype = \"uint8\"`. Needed for image \
                datasets; a `preset` fills in a whole pipeline and keys beside it override it.",
    },
    Section {
        title: "[models.postprocess]",
        path: &["models", "postprocess"],
        commands: &["eval"],
        intro: "How the model's output rows become class probabilities and a prediction. Needed \
                with a dataset.",
    },
    Section {
        title: "[models.bench]",
        path: &["models", "bench"],
        commands: &["bench", "eval", "gate", "baseline approve"],
        intro: "How the model is timed. `eval` takes only the session keys (`ep`, `opt_level`, \
                `intra_threads`, `inter_threads`) from here.",
    },
    Section {
        title: "[models.criteria]",
        path: &["models", "criteria"],
        commands: &[],
        intro: "The keys of `[criteria]`, for this model only; each one set here replaces the \
                file's value, the others stay.",
    },
    Section {
        title: "[[models.variants]]",
        path: &["models", "variants"],
        commands: &[],
        intro: "Other forms of the model for `modelgate explore --model NAME`: all are timed \
                together in interleaved blocks, each evaluated as the gate does and compared with \
                the model as configured (the reference). A key left out keeps the model's value; `name` is required.",
    },
    Section {
        title: "[explore.constraints]",
        path: &["explore", "constraints"],
        commands: &[],
        intro: "Hard limits for `modelgate explore`: a variant that misses one is never chosen as \
                best, and when every variant misses one, explore exits 1. Unset keys are no limit.",
    },
    Section {
        title: "[explore.weights]",
        path: &["explore", "weights"],
        commands: &[],
        intro: "The composite score of `modelgate explore`: the sum of weight x score, accuracy \
                scoring as itself (0 to 1) and p95 latency (ms), peak memory (MiB) and energy per \
                inference (mJ) as 1 / (1 + x). A dimension not measured for every variant \
                (energy off a GPU) is left out and the other weights scaled to sum to 1.",
    },
];

/// Keys whose flag has another name than the key, because the flag takes one entry at a time
/// (`--shape NAME=DIMS`, repeatable, for the `shapes` table) or names the section's subject.
const FLAG_NAMES: [(&str, &str, &str); 3] = [
    ("[models.dataset]", "path", "dataset"),
    ("[models.bench]", "shapes", "shape"),
    ("[models.bench]", "dims", "dim"),
];

/// Flags with a key's name that set something else: eval's `--batch` is the dataset's batch.
const NOT_THE_KEY: [(&str, &str, &str); 1] = [("[models.bench]", "batch", "eval")];

/// One documented key.
#[derive(Debug, Clone)]
pub struct KeyDoc {
    pub section: &'static str,
    pub key: String,
    pub type_name: String,
    pub default: String,
    pub flags: String,
    pub description: String,
    pub example: String,
}

/// The example value of `key` in `section`, and the keys it needs beside it.
fn example(section: &str, key: &str) -> Option<(&'static str, &'static [&'static str])> {
    // A model's criteria are the file's, key for key.
    let section = match section {
        "[models.criteria]" => "[criteria]",
        other => other,
    };
    EXAMPLES
        .iter()
        .find(|(s, k, _, _)| *s == section && *k == key)
        .map(|(_, _, value, needs)| (*value, *needs))
}

/// The config's JSON Schema, as `modelgate schema config` prints it.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(GateConfig);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Every key of every section, alphabetically within each.
pub fn keys(flags: &[Flag]) -> Result<Vec<KeyDoc>> {
    let root = serde_json::to_value(schemars::schema_for!(GateConfig))?;
    let defs = root
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for section in &SECTIONS {
        let table = section_schema(&root, section.path, &defs)?;
        let properties = table
            .get("properties")
            .and_then(Value::as_object)
            .ok_or_else(|| anyhow!("{}: the schema has no keys", section.title))?;
        let defaults = section_defaults(section.title)?;
        for (key, property) in properties {
            if is_section(property, &defs) {
                continue;
            }
            let description = property
                .get("description")
                .and_then(Value::as_str)
                .map(one_line)
                .filter(|d| !d.is_empty())
                .ok_or_else(|| {
                    anyhow!(
                        "{} {key} has no description; give its field a /// comment",
                        section.title
                    )
                })?;
            let (example, _) = example(section.title, key).ok_or_else(|| {
                anyhow!(
                    "{} {key} has no example; add one to EXAMPLES in src/commands/configdoc.rs",
                    section.title
                )
            })?;
            let required = table
                .get("required")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().any(|k| k == key.as_str()));
            let default = match defaults.get(key.as_str()).or(property.get("default")) {
                _ if required => "required".to_string(),
                Some(Value::Null) | None => "unset".to_string(),
                Some(value) => format!("`{}`", toml_value(value)),
            };
            out.push(KeyDoc {
                section: section.title,
                key: key.clone(),
                type_name: type_name(property, &defs),
                default,
                flags: flag_column(section, key, flags)?,
                description,
                example: example.to_string(),
            });
        }
    }
    for (section, key, _, _) in EXAMPLES {
        if !out.iter().any(|k| k.section == *section && k.key == *key) {
            bail!("EXAMPLES has {section} {key}, which is no key of the config; remove it");
        }
    }
    Ok(out)
}

/// The schema of the table at `path`, following references and array items.
fn section_schema(root: &Value, path: &[&str], defs: &Map<String, Value>) -> Result<Value> {
    let mut schema = root.clone();
    for name in path {
        let property = resolve(&schema, defs)
            .get("properties")
            .and_then(|p| p.get(*name))
            .cloned()
            .ok_or_else(|| anyhow!("the schema has no table {name}"))?;
        schema = resolve(&property, defs);
        if let Some(items) = schema.get("items") {
            schema = resolve(items, defs);
        }
    }
    Ok(resolve(&schema, defs))
}

/// A schema with a `$ref` (or an optional one, `anyOf [ref, null]`) replaced by its definition.
fn resolve(schema: &Value, defs: &Map<String, Value>) -> Value {
    let schema = non_null(schema);
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.trim_start_matches("#/$defs/");
            let mut resolved = defs.get(name).cloned().unwrap_or(Value::Null);
            // The field's own description is the one to show, not its type's.
            if let (Some(own), Some(obj)) = (schema.get("description"), resolved.as_object_mut()) {
                obj.insert("description".into(), own.clone());
            }
            resolved
        }
        None => schema,
    }
}

/// `anyOf [X, null]` as X.
fn non_null(schema: &Value) -> Value {
    if let Some(options) = schema.get("anyOf").and_then(Value::as_array) {
        let rest: Vec<&Value> = options
            .iter()
            .filter(|o| o.get("type") != Some(&json!("null")))
            .collect();
        if let [only] = rest.as_slice() {
            let mut merged = (*only).clone();
            if let (Some(obj), Some(own)) = (merged.as_object_mut(), schema.as_object()) {
                for (k, v) in own {
                    if k != "anyOf" {
                        obj.insert(k.clone(), v.clone());
                    }
                }
            }
            return merged;
        }
    }
    schema.clone()
}

/// Whether a property is a table of its own (documented as a section), not a key.
fn is_section(property: &Value, defs: &Map<String, Value>) -> bool {
    let schema = resolve(property, defs);
    let schema = schema
        .get("items")
        .map_or(schema.clone(), |i| resolve(i, defs));
    schema.get("properties").is_some()
}

/// The type as a reader writes it: `number`, `"cpu" | "cuda"`, `table of integer`.
fn type_name(schema: &Value, defs: &Map<String, Value>) -> String {
    let schema = resolve(schema, defs);
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(" \\| ");
    }
    if let Some(options) = schema
        .get("oneOf")
        .or(schema.get("anyOf"))
        .and_then(Value::as_array)
    {
        return options
            .iter()
            .map(|o| match o.get("const") {
                Some(value) => value.to_string(),
                None => type_name(o, defs),
            })
            .collect::<Vec<_>>()
            .join(if schema.get("oneOf").is_some() {
                " \\| "
            } else {
                " or "
            });
    }
    let kind = match schema.get("type") {
        Some(Value::Array(kinds)) => kinds
            .iter()
            .find(|k| *k != "null")
            .and_then(Value::as_str)
            .unwrap_or("any"),
        Some(Value::String(kind)) => kind.as_str(),
        _ => "any",
    };
    match kind {
        "array" => {
            if let Some(items) = schema.get("prefixItems").and_then(Value::as_array) {
                let items: Vec<String> = items.iter().map(|i| type_name(i, defs)).collect();
                format!("[{}]", items.join(", "))
            } else {
                let item = schema
                    .get("items")
                    .map_or("any".into(), |i| type_name(i, defs));
                match (schema.get("minItems"), schema.get("maxItems")) {
                    (Some(min), Some(max)) if min == max => {
                        let n = min.as_u64().unwrap_or_default() as usize;
                        format!("[{}]", vec![item; n].join(", "))
                    }
                    _ => format!("array of {item}"),
                }
            }
        }
        "object" => {
            let value = schema
                .get("additionalProperties")
                .map_or("any".into(), |v| type_name(v, defs));
            format!("table of {value}")
        }
        other => other.to_string(),
    }
}

/// Defaults the schema cannot show: criteria left unset take the built-in values, and
/// preprocessing keys take what a section with only `color` resolves to.
fn section_defaults(title: &str) -> Result<Map<String, Value>> {
    let value = match title {
        "[criteria]" | "[models.criteria]" => serde_json::to_value(Criteria::default())?,
        "[models.preprocess]" => {
            let resolved: Preprocess = serde_json::from_value(json!({ "color": "rgb" }))?;
            let mut value = serde_json::to_value(resolved)?;
            // No default colour: it is required unless a preset gives it.
            value["color"] = Value::Null;
            value
        }
        _ => json!({}),
    };
    let mut map = value.as_object().cloned().unwrap_or_default();
    // An empty list is "none", as unset.
    map.retain(|_, v| v.as_array().is_none_or(|a| !a.is_empty()));
    Ok(map)
}

/// The flags that set `key`: a long name (or alias) that is the key in kebab-case, or the one
/// FLAG_NAMES declares, on the section's commands.
fn flag_column(section: &Section, key: &str, flags: &[Flag]) -> Result<String> {
    let declared = FLAG_NAMES
        .iter()
        .find(|(s, k, _)| *s == section.title && *k == key)
        .map(|(_, _, flag)| flag.to_string());
    let name = declared.clone().unwrap_or_else(|| key.replace('_', "-"));
    let mut by_flag: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for command in section.commands {
        if NOT_THE_KEY.contains(&(section.title, key, *command)) {
            continue;
        }
        let found = flags
            .iter()
            .find(|f| f.command == *command && (f.long == name || f.aliases.contains(&name)));
        if let Some(flag) = found {
            by_flag.entry(flag.long.clone()).or_default().push(command);
        }
    }
    if declared.is_some() && by_flag.is_empty() {
        bail!(
            "{} {key}: FLAG_NAMES names --{name}, which no command of the section has",
            section.title
        );
    }
    Ok(by_flag
        .iter()
        .map(|(flag, commands)| format!("`--{flag}` ({})", commands.join(", ")))
        .collect::<Vec<_>>()
        .join("; "))
}

/// A JSON value written as TOML.
fn toml_value(value: &Value) -> String {
    match value {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(toml_value).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) if map.is_empty() => "{}".into(),
        Value::Object(map) => format!(
            "{{ {} }}",
            map.iter()
                .map(|(k, v)| format!("{k} = {}", toml_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or_default();
            // f32 defaults (1/255) print with f32's shortest digits.
            let short = format!("{}", f as f32);
            if f64::from(short.parse::<f32>().unwrap_or_default()) == f && f.fract() != 0.0 {
                short
            } else if f.fract() == 0.0 {
                format!("{f:.1}")
            } else {
                format!("{f}")
            }
        }
        other => other.to_string(),
    }
}

fn one_line(text: &str) -> String {
    let first_paragraph = text.split("\n\n").next().unwrap_or_default();
    first_paragraph
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A config holding `key` of `section` with its example value, and the keys that example needs
/// (from the examples table), in a model that has the sections a model needs.
pub fn example_config(section: &str, key: &str) -> Option<String> {
    let (value, needs) = example(section, key)?;
    let mut lines = vec![format!("{key} = {value}")];
    for need in needs {
        let (v, _) = example(section, need)?;
        lines.push(format!("{need} = {v}"));
    }
    let body = lines.join("\n");
    let model = "[[models]]\nname = \"digits\"\ncandidate = \"models/digits_fp32.onnx\"\n";
    Some(match section {
        "[criteria]" => format!("[criteria]\n{body}\n\n{model}"),
        "[[models]]" => {
            let others: String = ["name", "candidate"]
                .iter()
                .filter(|k| **k != key)
                .map(|k| format!("{k} = {}\n", example(section, k).map_or("", |e| e.0)))
                .collect();
            format!("[[models]]\n{others}{body}\n")
        }
        "[models.dataset]" if key != "path" => {
            format!("{model}{section}\npath = \"models/data/digits\"\n{body}\n")
        }
        _ => format!("{model}{section}\n{body}\n"),
    })
}

/// A config with every documented key from its example: it must parse (though some keys
/// exclude each other, so it is not a valid gate).
pub fn every_key_config() -> String {
    let mut text = String::new();
    for section in &SECTIONS {
        text.push_str(&format!("{}\n", section.title));
        for (s, key, value, _) in EXAMPLES {
            if *s == section.title {
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        if section.title == "[models.criteria]" {
            for (s, key, value, _) in EXAMPLES {
                if *s == "[criteria]" {
                    text.push_str(&format!("{key} = {value}\n"));
                }
            }
        }
        text.push('\n');
    }
    text
}

/// docs/config.md.
pub fn markdown(flags: &[Flag]) -> Result<String> {
    let keys = keys(flags)?;
    let mut out = String::new();
    out.push_str(
        "<!-- Generated by `modelgate schema config --markdown > docs/config.md` from the config \
         types' doc comments; edit those, not this file. -->\n\n\
         # modelgate.toml reference\n\n\
         `modelgate gate` (and `eval --config`, `check --model`, `baseline approve`) read \
         `modelgate.toml`. Every key is below with its type, its default, the command-line flag \
         that sets the same value (a flag given on the command line overrides the config) and an \
         example. A key not listed here is an error naming it. Paths are relative to the \
         config's folder. `modelgate schema config` prints the same keys as a JSON Schema.\n\n",
    );
    out.push_str("Sections: ");
    out.push_str(
        &SECTIONS
            .iter()
            .map(|s| format!("[`{}`](#{})", s.title, anchor(s.title)))
            .collect::<Vec<_>>()
            .join(", "),
    );
    out.push_str(".\n");
    for section in &SECTIONS {
        out.push_str(&format!("\n## `{}`\n\n{}\n", section.title, section.intro));
        if section.title == "[models.criteria]" {
            let names: Vec<String> = keys
                .iter()
                .filter(|k| k.section == "[criteria]")
                .map(|k| format!("`{}`", k.key))
                .collect();
            out.push_str(&format!(
                "\nKeys: {}; see [`[criteria]`](#criteria) for each.\n\n```toml\n[models.criteria]\nmax_p95_regression_pct = 10.0\nmin_recall = 0.95\n```\n",
                names.join(", ")
            ));
            continue;
        }
        out.push_str(
            "\n| key | type | default | flag | description | example |\n\
             |---|---|---|---|---|---|\n",
        );
        for key in keys.iter().filter(|k| k.section == section.title) {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | `{} = {}` |\n",
                key.key,
                key.type_name,
                key.default,
                key.flags,
                key.description.replace('|', "\\|"),
                key.key,
                key.example.replace('|', "\\|"),
            ));
        }
    }
    Ok(out)
}

/// GitHub's heading anchor for a section title.
fn anchor(title: &str) -> String {
    title
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-' || *c == '_')
        .collect::<String>()
        .replace('.', "")
}
