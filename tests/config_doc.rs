//! docs/config.md is generated from the config types: it must match them, list every key the
//! config accepts, and its examples must parse as config.

use std::collections::BTreeSet;
use std::path::Path;

use modelgate::commands::configdoc;
use modelgate::files::config::GateConfig;

const DOC: &str = "docs/config.md";
const REGENERATE: &str = "cargo run -- schema config --markdown > docs/config.md \
                          (or MODELGATE_UPDATE_DOCS=1 cargo test --test config_doc)";

#[test]
fn docs_config_md_is_what_the_types_generate() {
    let generated = configdoc::markdown(&modelgate::cli::flags()).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC);
    if std::env::var_os("MODELGATE_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{DOC} differs from the config types; regenerate it with: {REGENERATE}"
    );
}

/// The keys a schema's table accepts, by section path, found by walking the JSON Schema
/// independently of the generator.
fn schema_keys() -> BTreeSet<(String, String)> {
    let schema: serde_json::Value = serde_json::from_str(&configdoc::json_schema()).unwrap();
    let defs = schema["$defs"].clone();
    let resolve = |v: &serde_json::Value| -> serde_json::Value {
        let v = match v.get("anyOf").and_then(|a| a.as_array()) {
            Some(options) => options
                .iter()
                .find(|o| o.get("type") != Some(&serde_json::json!("null")))
                .cloned()
                .unwrap_or_default(),
            None => v.clone(),
        };
        match v.get("$ref").and_then(|r| r.as_str()) {
            Some(r) => defs[r.trim_start_matches("#/$defs/")].clone(),
            None => v,
        }
    };
    let mut out = BTreeSet::new();
    let mut tables = vec![("".to_string(), schema.clone())];
    while let Some((path, table)) = tables.pop() {
        let Some(properties) = table.get("properties").and_then(|p| p.as_object()) else {
            continue;
        };
        for (key, property) in properties {
            let mut resolved = resolve(property);
            if let Some(items) = resolved.get("items").cloned() {
                resolved = resolve(&items);
            }
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if resolved.get("properties").is_some() {
                tables.push((child, resolved));
            } else {
                out.insert((path.clone(), key.clone()));
            }
        }
    }
    out
}

#[test]
fn every_key_the_config_accepts_is_documented() {
    let keys = configdoc::keys(&modelgate::cli::flags()).unwrap();
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC)).unwrap();
    let mut documented = BTreeSet::new();
    for key in &keys {
        let path = key
            .section
            .trim_matches(['[', ']'])
            .trim_matches(['[', ']'])
            .to_string();
        documented.insert((path.clone(), key.key.clone()));
        // [models.criteria] has the keys of [criteria].
        if path == "criteria" {
            documented.insert(("models.criteria".into(), key.key.clone()));
        }
        assert!(
            doc.contains(&format!("| `{}` |", key.key)),
            "{DOC} lacks {} {}",
            key.section,
            key.key
        );
    }
    let accepted = schema_keys();
    let undocumented: Vec<_> = accepted.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&accepted).collect();
    assert!(undocumented.is_empty(), "not documented: {undocumented:?}");
    assert!(
        unknown.is_empty(),
        "documented but not accepted: {unknown:?}"
    );
    // Every documented key, written from its example, is accepted by the deserializer
    // (deny_unknown_fields), in each section.
    let text = configdoc::every_key_config();
    let parsed: GateConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(parsed.models.len(), 1);
    assert_eq!(
        parsed.models[0].bench.opt_level,
        modelgate::engine::runtime::OptLevel::Extended
    );
    // And a key the docs do not have is refused, so the schema is what the parser accepts.
    let extra = text.replace("[models.bench]\n", "[models.bench]\nundocumented_key = 1\n");
    let err = toml::from_str::<GateConfig>(&extra)
        .unwrap_err()
        .to_string();
    assert!(err.contains("undocumented_key"), "{err}");
}

#[test]
fn every_example_parses_as_config() {
    let keys = configdoc::keys(&modelgate::cli::flags()).unwrap();
    assert!(keys.len() > 50, "only {} keys", keys.len());
    for key in &keys {
        let text = configdoc::example_config(key.section, &key.key).unwrap();
        if let Err(e) = GateConfig::parse(&text) {
            panic!(
                "the example of {} {} does not parse: {e:#}\n{text}",
                key.section, key.key
            );
        }
    }
    // The toml blocks of the doc parse too.
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC)).unwrap();
    let blocks: Vec<&str> = doc
        .split("```toml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .collect();
    assert!(!blocks.is_empty());
    for block in blocks {
        let text = format!("[[models]]\nname = \"m\"\ncandidate = \"m.onnx\"\n{block}");
        GateConfig::parse(&text).unwrap_or_else(|e| panic!("{e:#}\n{text}"));
    }
}

#[test]
fn flag_column_names_the_renamed_flags() {
    let keys = configdoc::keys(&modelgate::cli::flags()).unwrap();
    let flags = |section: &str, key: &str| {
        keys.iter()
            .find(|k| k.section == section && k.key == key)
            .map(|k| k.flags.clone())
            .unwrap()
    };
    assert_eq!(
        flags("[models.preprocess]", "center_crop"),
        "`--center-crop` (eval)"
    );
    assert_eq!(flags("[models.preprocess]", "dtype"), "`--dtype` (eval)");
    assert_eq!(
        flags("[models.bench]", "min_time_s"),
        "`--min-time-s` (bench)"
    );
    assert_eq!(flags("[models.dataset]", "batch"), "`--batch` (eval)");
    assert_eq!(flags("[models.bench]", "batch"), "`--batch` (bench)");
    assert_eq!(
        flags("[models.bench]", "ep"),
        "`--ep` (bench, eval, gate, baseline approve)"
    );
    assert_eq!(flags("[models.bench]", "warmup_s"), "");
}
