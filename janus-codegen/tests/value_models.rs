//! Value models: a model that is an enum or a constrained string, integer or
//! number. What the checker accepts, and the diagnostics for those it
//! refuses.

use janus_codegen::model::{Ty, Validator, load};
use janus_codegen::{ManifestSource, Options, Severity, check, generate};
use serde_json::json;

/// A manifest with these models and these arguments of `tasks.add`.
fn manifest(models: &str, args: &str) -> String {
    format!(
        r#"{{"version": "1.0.0",
"models": {{{models}}},
"channels": {{"tasks": {{"requests": {{"add": {{"args": {{{args}}}}}}}}}}}}}"#
    )
}

fn diagnostics(text: &str, severity: Severity) -> Vec<String> {
    check("m.json", text)
        .into_iter()
        .filter(|d| d.severity == severity)
        .map(|d| format!("{}: {}", d.pointer, d.message))
        .collect()
}

fn errors(text: &str) -> Vec<String> {
    diagnostics(text, Severity::Error)
}

fn warnings(text: &str) -> Vec<String> {
    diagnostics(text, Severity::Warning)
}

const PRIORITY: &str = r#""Priority": {"type": "string", "enum": ["low", "high"]}"#;

#[test]
fn a_value_model_is_used_with_its_type_and_constraints() {
    let text = manifest(
        &format!(r#"{PRIORITY}, "Percent": {{"type": "integer", "minimum": 0, "maximum": 100}}"#),
        r#""p": {"modelRef": "Priority", "default": "high"},
           "q": {"type": "array", "items": {"type": "integer", "modelRef": "Percent"}}"#,
    );
    let checked = load("m.json", &text).unwrap_or_else(|e| panic!("{e}"));
    assert!(checked.warnings.is_empty(), "{:?}", checked.warnings);
    let m = &checked.manifest;
    let priority = m.model("Priority").expect("model");
    assert!(priority.properties.is_empty());
    let value = priority.value.as_ref().expect("a value model");
    assert!(matches!(value.ty, Ty::String));
    let args = &m.channel("tasks").unwrap().request("add").unwrap().args;
    assert_eq!(args[0].schema.model.as_deref(), Some("Priority"));
    assert_eq!(args[0].schema.enum_values, value.enum_values);
    assert_eq!(args[0].schema.default, Some(json!("high")));
    let Ty::Array(items) = &args[1].schema.ty else {
        panic!("an array")
    };
    assert_eq!(items.model.as_deref(), Some("Percent"));
    // The run-time validator applies the model's constraints where it is used.
    let v = Validator::new(checked.manifest);
    assert!(
        v.check_args("tasks", "add", &json!({"p": "low", "q": [0, 100]}))
            .is_ok()
    );
    let refused = v
        .check_args("tasks", "add", &json!({"p": "mid", "q": [101]}))
        .unwrap_err();
    let paths: Vec<&str> = refused.iter().map(|e| e.path()).collect();
    assert_eq!(paths, ["p", "q[0]"]);

    let code = generate(
        "m.json",
        &text,
        &Options::default(),
        &ManifestSource::Literal(text.clone()),
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .to_formatted_string("m.json");
    assert!(code.contains("pub enum Priority {"), "{code}");
    assert!(
        code.contains("pub type Percent = ::janus_runtime::Constrained<i64, __rules::Percent>;")
    );
    assert!(code.contains("pub p: super::models::Priority,"), "{code}");
    assert!(
        code.contains("::std::vec::Vec<super::models::Percent>"),
        "{code}"
    );
    assert!(code.contains("super::models::Priority::High"), "{code}");
    // No second enum or constrained type in the channel module.
    assert!(!code.contains("pub enum P "), "{code}");
    assert!(!code.contains("QItem"), "{code}");
}

#[test]
fn a_model_is_an_object_an_enum_or_a_constrained_value() {
    let text = manifest(
        r#""Flag": {"type": "boolean"},
           "List": {"type": "array"},
           "Odd": {"type": "strin"},
           "Plain": {"type": "string"},
           "Count": {"type": "integer"}"#,
        "",
    );
    assert_eq!(
        errors(&text),
        [
            "/models/Flag/type: a model is an object, an enum or a constrained string, integer or number; a boolean needs no model: declare it where it is used",
            "/models/List/type: a model is an object, an enum or a constrained string, integer or number; an array needs no model: declare it where it is used",
            "/models/Odd/type: unknown model type `strin`; expected one of `object`, `string`, `integer`, `number`",
            "/models/Plain: model `Plain` is a string without `enum`, `pattern`, `minLength` or `maxLength`: a plain string needs no model; declare it where it is used, or constrain it",
            "/models/Count: model `Count` is an integer without `minimum` or `maximum`: a plain integer needs no model; declare it where it is used, or constrain it",
        ]
    );
}

#[test]
fn keywords_must_fit_the_kind_of_model() {
    let text = manifest(
        r#""Name": {"type": "string", "minLength": 1, "minimum": 3, "properties": {}, "extends": "Base"},
           "Base": {"properties": {"id": {"type": "string"}}, "enum": ["a"]},
           "Typed": {"type": "object", "maxLength": 3},
           "Sized": {"type": "number", "pattern": "x", "maximum": 2}"#,
        "",
    );
    assert_eq!(
        errors(&text),
        [
            "/models/Name/minimum: `minimum` applies to integer and number models, but model `Name` is a string",
            "/models/Name/properties: `properties` applies to object models, but model `Name` is a string",
            "/models/Name/extends: `extends` applies to object models, but model `Name` is a string",
            "/models/Base/enum: `enum` applies to value models (\"type\": \"string\", \"integer\" or \"number\"), but model `Base` is an object",
            "/models/Typed/maxLength: `maxLength` applies to value models (\"type\": \"string\", \"integer\" or \"number\"), but model `Typed` is an object",
            "/models/Sized/pattern: `pattern` applies to string models, but model `Sized` is a number",
        ]
    );
}

#[test]
fn an_enum_without_type_is_a_string_model_and_its_values_are_checked() {
    let text = manifest(
        r#""Level": {"enum": ["a", "b", "a"]}, "Short": {"type": "string", "maxLength": 2, "enum": ["ok", "long"]}"#,
        r#""level": {"modelRef": "Level"}"#,
    );
    assert_eq!(
        errors(&text),
        [
            "/models/Level/enum/2: enum value `a` is listed twice",
            "/models/Short/enum/1: enum value breaks its own constraints: `long` is longer than maxLength 2 (4 characters)",
        ]
    );
}

#[test]
fn a_use_of_a_value_model_keeps_its_type_and_its_default_obeys_the_model() {
    let text = manifest(
        &format!(r#"{PRIORITY}, "Tag": {{"type": "string", "pattern": "^[a-z]+$"}}"#),
        r#""a": {"type": "integer", "modelRef": "Priority"},
           "b": {"type": "object", "modelRef": "Priority"},
           "c": {"modelRef": "Priority", "default": "mid"},
           "d": {"modelRef": "Tag", "default": "UP"},
           "e": {"modelRef": "Priority", "properties": {}}"#,
    );
    assert_eq!(
        errors(&text),
        [
            "/channels/tasks/requests/add/args/a/type: modelRef `Priority` names a string model, but `type` here is integer; the model's type is used (write \"type\": \"string\" or leave `type` out)",
            "/channels/tasks/requests/add/args/b/type: modelRef `Priority` names a string model, but `type` here is object; the model's type is used (write \"type\": \"string\" or leave `type` out)",
            "/channels/tasks/requests/add/args/c/default: default value breaks its own constraints: `mid` is not one of `low`, `high`",
            "/channels/tasks/requests/add/args/d/default: default value breaks its own constraints: `UP` does not match pattern `^[a-z]+$`",
            "/channels/tasks/requests/add/args/e/properties: `properties` applies to object values, but this value is a string",
        ]
    );
}

#[test]
fn constraints_beside_a_value_model_ref_are_descriptive() {
    let text = manifest(
        PRIORITY,
        r#""same": {"type": "string", "modelRef": "Priority", "enum": ["low", "high"]},
           "other": {"modelRef": "Priority", "enum": ["low"], "maxLength": 4}"#,
    );
    assert!(errors(&text).is_empty(), "{:?}", errors(&text));
    assert_eq!(
        warnings(&text),
        [
            "/channels/tasks/requests/add/args/other/enum: `enum` here differs from model `Priority`'s; the model defines the value and its `enum` is used",
            "/channels/tasks/requests/add/args/other/maxLength: `maxLength` here differs from model `Priority`'s; the model defines the value and its `maxLength` is used",
        ]
    );
    let checked = load("m.json", &text).unwrap_or_else(|e| panic!("{e}"));
    let args = &checked.manifest.channels[0].requests[0].args;
    let other = args.iter().find(|a| a.name == "other").expect("arg");
    assert_eq!(
        other.schema.enum_values.as_deref(),
        Some(&["low".to_owned(), "high".to_owned()][..])
    );
    assert_eq!(other.schema.max_length, None);
}

#[test]
fn references_to_value_models_are_checked_once() {
    let text = manifest(
        &format!(r#"{PRIORITY}, "Task": {{"extends": "Priority", "properties": {{}}}}"#),
        r#""p": {"type": "string", "modelRef": "priority"},
           "q": {"type": "object", "modelRef": "Task"}"#,
    );
    assert_eq!(
        errors(&text),
        [
            "/models/Task/extends: `extends` names `Priority`, which is a string model: only object models can be extended",
            "/channels/tasks/requests/add/args/p/modelRef: modelRef `priority` names no model (did you mean `Priority`?); models: `Priority`, `Task`",
        ]
    );
}

#[test]
fn value_model_names_and_values_follow_the_naming_rules() {
    let text = manifest(
        r#""Mode": {"enum": ["a-b", "a_b", "--"]}, "mode": {"type": "integer", "maximum": 3}"#,
        "",
    );
    let errors = errors(&text);
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0].starts_with("/models/Mode: enum value `--` has no letter or digit"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("/models/Mode/enum/1: enum value `a_b` and `a-b`"),
        "{errors:?}"
    );
    assert!(
        errors[2].starts_with("/models/mode: model `mode` and `Mode`"),
        "{errors:?}"
    );
}
