//! A read-only view of a checked manifest, and a validator that checks JSON
//! arguments against it at run time.
//!
//! This is for tools that work from a manifest without generating code (the
//! `janus` command line: API docs, a mock server, checking arguments before
//! sending them). [`load`] accepts exactly the manifests [`generate`]
//! accepts; the [`Validator`] refuses exactly the arguments the generated
//! server dispatchers refuse, with the same path and the same broken
//! constraint, in the same order:
//!
//! 1. the value's JSON type;
//! 2. for an object, members the schema does not declare;
//! 3. each declared member in wire-name order: missing when required (and
//!    without a `default`), otherwise its own checks, recursively (`profile.age`,
//!    `tags[2]`); `null` counts as absent only for an optional member
//!    without a default;
//! 4. constraints: a string `enum`, else `minLength`, `maxLength`, `pattern`;
//!    `minimum`, `maximum` for numbers.
//!
//! ```
//! use janus_codegen::model::{Validator, load};
//! use serde_json::json;
//!
//! let text = r#"{"version": "1.0.0", "channels": {"users": {"requests": {"create": {
//!     "args": {"name": {"type": "string", "required": true, "minLength": 3}}}}}}}"#;
//! let checked = load("users.json", text).expect("a valid manifest");
//! let validator = Validator::new(checked.manifest);
//! let create = validator.manifest().channel("users").and_then(|c| c.request("create")).unwrap();
//! let err = validator.check_args(create, &json!({"name": "jo"})).unwrap_err();
//! assert_eq!(err.path(), "name");
//! assert_eq!(err.violation().keyword(), "minLength");
//! assert_eq!(err.to_string(), "argument `name`: `jo` is shorter than minLength 3 (2 characters)");
//! ```
//!
//! [`generate`]: crate::generate

use std::collections::HashMap;
use std::fmt;

use janus_constraints::{JsonType, Pattern, StringRules, Violation};
use serde_json::{Map, Value};

use crate::diag::{Diagnostic, ManifestErrors};
use crate::emit::ManifestSource;
use crate::{Options, generate, json, manifest};

pub use crate::manifest::{Channel, Field, Loc, Manifest, Model, Num, Request, Schema, Ty};

/// A manifest that passed every check of the generator, and its warnings.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The manifest: channels and requests sorted by name, fields sorted by
    /// wire name, models with `extends` flattened.
    pub manifest: Manifest,
    /// Warnings about the manifest (it was accepted), in source order.
    pub warnings: Vec<Diagnostic>,
}

/// Reads and checks a manifest as [`generate`](crate::generate) does.
///
/// `file` is the manifest's name as it should appear in messages; `text` its
/// content. On failure, every error (and every warning) is returned, each
/// with line, column and JSON pointer.
pub fn load(file: &str, text: &str) -> Result<Checked, ManifestErrors> {
    // The generator decides what is accepted, so that this never drifts from it.
    let generated = generate(
        file,
        text,
        &Options::default(),
        &ManifestSource::Literal(String::new()),
    )?;
    let manifest = json::parse(file, text)
        .ok()
        .and_then(|(root, _)| manifest::read(file, &root).0);
    match manifest {
        Some(manifest) => Ok(Checked {
            manifest,
            warnings: generated.warnings,
        }),
        // Not reachable: the generator accepted the text.
        None => Err(ManifestErrors::new(generated.warnings)),
    }
}

impl Manifest {
    /// The channel with this id.
    pub fn channel(&self, id: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// The model with this name.
    pub fn model(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The channels that have a request with this name (a server routes a
    /// request without `channelId` when exactly one has it).
    pub fn channels_with(&self, request: &str) -> Vec<&Channel> {
        self.channels
            .iter()
            .filter(|c| c.request(request).is_some())
            .collect()
    }

    /// How many requests the channels have in all.
    pub fn request_count(&self) -> usize {
        self.channels.iter().map(|c| c.requests.len()).sum()
    }
}

impl Channel {
    /// The request with this wire name.
    pub fn request(&self, name: &str) -> Option<&Request> {
        self.requests.iter().find(|r| r.name == name)
    }
}

impl Schema {
    /// The JSON type of the value (`None` when the manifest left it unknown).
    pub fn json_type(&self) -> Option<JsonType> {
        Some(match &self.ty {
            Ty::String => JsonType::String,
            Ty::Integer => JsonType::Integer,
            Ty::Number => JsonType::Number,
            Ty::Boolean => JsonType::Boolean,
            Ty::Array(_) => JsonType::Array,
            Ty::Object(_) | Ty::ModelRef(_) => JsonType::Object,
            Ty::Unknown => return None,
        })
    }
}

/// An argument that breaks the manifest: where it is, its value, and the
/// broken rule. It becomes a `-32602` error whose `data` has `field` (the
/// path), `value` and `constraints`.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgError(Box<ArgErrorParts>);

#[derive(Debug, Clone, PartialEq)]
struct ArgErrorParts {
    path: String,
    value: Option<Value>,
    violation: Violation,
}

impl ArgError {
    /// An error for the value at `path` (`None` when it is missing).
    pub fn new(path: impl Into<String>, value: Option<Value>, violation: Violation) -> Self {
        Self(Box::new(ArgErrorParts {
            path: path.into(),
            value,
            violation,
        }))
    }

    /// Path of the value: `"username"`, `"profile.age"`, `"tags[2]"`; empty
    /// for the arguments object itself.
    pub fn path(&self) -> &str {
        &self.0.path
    }

    /// The offending value; `None` when a required value is missing.
    pub fn value(&self) -> Option<&Value> {
        self.0.value.as_ref()
    }

    /// The broken constraint.
    pub fn violation(&self) -> &Violation {
        &self.0.violation
    }
}

impl fmt::Display for ArgError {
    /// The `details` a server sends, e.g. ``argument `age`: 130 is greater than maximum 120``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (path, violation) = (self.path(), self.violation());
        if violation.keyword() == janus_constraints::keyword::REQUIRED {
            write!(f, "argument `{path}` is required but missing")
        } else {
            write!(f, "argument `{path}`: {}", violation.message())
        }
    }
}

impl std::error::Error for ArgError {}

/// Checks JSON values against a manifest, as the generated code does.
///
/// Patterns are compiled once, when the validator is made.
#[derive(Debug, Clone)]
pub struct Validator {
    manifest: Manifest,
    patterns: HashMap<String, Pattern>,
}

impl Validator {
    /// A validator for `manifest` (normally [`Checked::manifest`]).
    pub fn new(manifest: Manifest) -> Self {
        let mut patterns = HashMap::new();
        let mut add = |s: &Schema| {
            if let Some(source) = &s.pattern
                && !patterns.contains_key(source)
                && let Ok(p) = Pattern::new(source)
            {
                patterns.insert(source.clone(), p);
            }
        };
        for c in &manifest.channels {
            for r in &c.requests {
                r.args.iter().for_each(|f| visit(&f.schema, &mut add));
                if let Some(s) = &r.response {
                    visit(s, &mut add);
                }
            }
        }
        for m in &manifest.models {
            m.properties.iter().for_each(|f| visit(&f.schema, &mut add));
        }
        Self { manifest, patterns }
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Checks the arguments of `request` (one of this manifest's requests):
    /// `Ok` when a generated server would run the handler, otherwise the
    /// first problem, as that server would report it.
    pub fn check_args(&self, request: &Request, args: &Value) -> Result<(), ArgError> {
        if request.args.is_empty() {
            if args.is_null() {
                return Ok(());
            }
            let object = as_object(args, "")?;
            return check_members(object, "", &[]);
        }
        self.check_struct(&request.args, args, "")
    }

    /// Checks one value against its schema; `path` names it in the error.
    pub fn check_value(&self, schema: &Schema, value: &Value, path: &str) -> Result<(), ArgError> {
        match &schema.ty {
            Ty::Unknown => Ok(()),
            Ty::String => {
                check_type(value, JsonType::String, path)?;
                let Some(text) = value.as_str() else {
                    return Ok(());
                };
                let verdict = match &schema.enum_values {
                    Some(values) => {
                        let allowed: Vec<&str> = values.iter().map(String::as_str).collect();
                        janus_constraints::check_enum_str(text, &allowed)
                    }
                    None if schema.is_constrained() => self.check_string(schema, text),
                    None => Ok(()),
                };
                verdict.map_err(|v| invalid(path, value, v))
            }
            Ty::Integer => {
                check_type(value, JsonType::Integer, path)?;
                match value.as_i64() {
                    Some(n) if schema.is_constrained() => janus_constraints::check_integer(
                        n,
                        schema.minimum.and_then(Num::as_i64),
                        schema.maximum.and_then(Num::as_i64),
                    )
                    .map_err(|v| invalid(path, value, v)),
                    _ => Ok(()),
                }
            }
            Ty::Number => {
                check_type(value, JsonType::Number, path)?;
                match value.as_f64() {
                    Some(n) if schema.is_constrained() => janus_constraints::check_number(
                        n,
                        schema.minimum.map(Num::as_f64),
                        schema.maximum.map(Num::as_f64),
                    )
                    .map_err(|v| invalid(path, value, v)),
                    _ => Ok(()),
                }
            }
            Ty::Boolean => check_type(value, JsonType::Boolean, path),
            Ty::Array(items) => {
                check_type(value, JsonType::Array, path)?;
                if matches!(items.ty, Ty::Unknown) {
                    return Ok(());
                }
                for (index, item) in value.as_array().into_iter().flatten().enumerate() {
                    self.check_value(items, item, &format!("{path}[{index}]"))?;
                }
                Ok(())
            }
            Ty::Object(None) => check_type(value, JsonType::Object, path),
            Ty::Object(Some(fields)) => self.check_struct(fields, value, path),
            Ty::ModelRef(name) => match self.manifest.model(name) {
                Some(model) => self.check_struct(&model.properties, value, path),
                // A checked manifest has no dangling reference.
                None => Ok(()),
            },
        }
    }

    fn check_string(&self, schema: &Schema, text: &str) -> Result<(), Violation> {
        let compiled;
        let pattern = match &schema.pattern {
            None => None,
            Some(source) => match self.patterns.get(source) {
                Some(p) => Some(p),
                None => match Pattern::new(source) {
                    Ok(p) => {
                        compiled = p;
                        Some(&compiled)
                    }
                    Err(_) => {
                        return Err(Violation::new(
                            janus_constraints::keyword::PATTERN,
                            Value::String(source.clone()),
                            format!("pattern `{source}` could not be compiled"),
                        ));
                    }
                },
            },
        };
        janus_constraints::check_string(
            text,
            &StringRules {
                min_length: schema.min_length,
                max_length: schema.max_length,
                pattern,
            },
        )
    }

    /// An object with declared members: type, unknown members, then each
    /// member in wire-name order.
    fn check_struct(&self, fields: &[Field], value: &Value, path: &str) -> Result<(), ArgError> {
        let object = as_object(value, path)?;
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        check_members(object, path, &names)?;
        for field in fields {
            let has_default = field.schema.default.is_some();
            let optional = !field.required && !has_default;
            let child = field_path(path, &field.name);
            match object.get(&field.name) {
                Some(v) if !(optional && v.is_null()) => {
                    self.check_value(&field.schema, v, &child)?
                }
                None if field.required && !has_default => {
                    return Err(ArgError::new(
                        child,
                        None,
                        janus_constraints::missing_required(),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Calls `f` on `schema` and every schema nested in it (not following models).
fn visit(schema: &Schema, f: &mut impl FnMut(&Schema)) {
    f(schema);
    match &schema.ty {
        Ty::Array(items) => visit(items, f),
        Ty::Object(Some(fields)) => fields.iter().for_each(|x| visit(&x.schema, f)),
        _ => {}
    }
}

fn field_path(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

fn invalid(path: &str, value: &Value, violation: Violation) -> ArgError {
    ArgError::new(path, Some(value.clone()), violation)
}

fn check_type(value: &Value, expected: JsonType, path: &str) -> Result<(), ArgError> {
    janus_constraints::check_type(value, expected).map_err(|v| invalid(path, value, v))
}

fn as_object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, ArgError> {
    match value {
        Value::Object(object) => Ok(object),
        other => {
            let violation = janus_constraints::check_type(other, JsonType::Object)
                .err()
                .unwrap_or_else(|| {
                    Violation::new(
                        janus_constraints::keyword::TYPE,
                        Value::from("object"),
                        "expected an object",
                    )
                });
            Err(invalid(path, other, violation))
        }
    }
}

fn check_members(
    object: &Map<String, Value>,
    path: &str,
    expected: &[&str],
) -> Result<(), ArgError> {
    match object.iter().find(|(k, _)| !expected.contains(&k.as_str())) {
        None => Ok(()),
        Some((name, value)) => Err(invalid(
            &field_path(path, name),
            value,
            janus_constraints::unknown_property(name, expected),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TEXT: &str = r#"{
  "version": "1.0.0",
  "channels": {
    "shop": {
      "requests": {
        "order": {
          "args": {
            "sku": {"type": "string", "required": true, "pattern": "^[A-Z]{3}$"},
            "qty": {"type": "integer", "minimum": 1, "maximum": 9, "default": 1},
            "size": {"type": "string", "enum": ["s", "m"], "maxLength": 1},
            "note": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}},
            "buyer": {"type": "object", "modelRef": "Buyer"},
            "box": {"type": "object", "properties": {
              "w": {"type": "number", "required": true, "minimum": 0.5}
            }},
            "extra": {"type": "object"}
          }
        },
        "status": {}
      }
    }
  },
  "models": {
    "Person": {"properties": {"name": {"type": "string", "minLength": 1}}, "required": ["name"]},
    "Buyer": {"extends": "Person", "properties": {"age": {"type": "integer", "minimum": 13}}}
  }
}"#;

    fn validator() -> Validator {
        let checked = load("shop.json", TEXT).unwrap_or_else(|e| panic!("{e}"));
        assert!(checked.warnings.is_empty(), "{:?}", checked.warnings);
        Validator::new(checked.manifest)
    }

    fn check(request: &str, args: Value) -> Result<(), ArgError> {
        let v = validator();
        let r = v
            .manifest()
            .channel("shop")
            .and_then(|c| c.request(request))
            .expect("request exists");
        v.check_args(r, &args)
    }

    fn refused(args: Value) -> (String, String) {
        let e = check("order", args).expect_err("must be refused");
        (e.path().to_owned(), e.violation().keyword().to_owned())
    }

    fn pair(path: &str, keyword: &str) -> (String, String) {
        (path.to_owned(), keyword.to_owned())
    }

    #[test]
    fn load_refuses_what_the_generator_refuses() {
        let e = load("bad.json", r#"{"version": "1", "channels": {}}"#).unwrap_err();
        let pointers: Vec<&str> = e.errors().map(|d| d.pointer.as_str()).collect();
        assert_eq!(pointers, ["/version", "/channels"]);
        assert!(load("bad.json", "{").is_err());
    }

    #[test]
    fn the_view_exposes_channels_requests_and_flattened_models() {
        let v = validator();
        let m = v.manifest();
        assert_eq!(m.request_count(), 2);
        assert_eq!(m.channels_with("status").len(), 1);
        assert!(m.channels_with("nothing").is_empty());
        let buyer = m.model("Buyer").expect("model");
        let names: Vec<&str> = buyer.properties.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["age", "name"]);
        assert!(buyer.properties[1].required);
        let order = m.channel("shop").and_then(|c| c.request("order")).unwrap();
        let qty = order.args.iter().find(|a| a.name == "qty").unwrap();
        assert_eq!(qty.loc.pointer, "/channels/shop/requests/order/args/qty");
        assert_eq!(qty.schema.default, Some(json!(1)));
        assert_eq!(qty.schema.json_type(), Some(JsonType::Integer));
    }

    #[test]
    fn valid_arguments_pass() {
        check("order", json!({"sku": "ABC"})).unwrap();
        check(
            "order",
            json!({"sku": "ABC", "qty": 9, "size": "s", "note": null, "tags": ["a", "bcd"],
                   "buyer": {"name": "x", "age": 13}, "box": {"w": 0.5}, "extra": {"any": 1}}),
        )
        .unwrap();
        check("status", Value::Null).unwrap();
        check("status", json!({})).unwrap();
    }

    #[test]
    fn checks_come_in_the_generated_order() {
        // Type of the arguments object first.
        assert_eq!(refused(json!([])), pair("", "type"));
        // Unknown members before missing ones.
        assert_eq!(
            refused(json!({"skew": 1})),
            pair("skew", "additionalProperties")
        );
        // Members in wire-name order: `box` before `sku`.
        assert_eq!(refused(json!({"box": {}})), pair("box.w", "required"));
        assert_eq!(refused(json!({})), pair("sku", "required"));
    }

    #[test]
    fn every_constraint_names_its_path() {
        let base = |k: &str, v: Value| {
            let mut a = json!({"sku": "ABC"});
            a[k] = v;
            a
        };
        assert_eq!(refused(base("sku", json!("abc"))), pair("sku", "pattern"));
        assert_eq!(refused(base("qty", json!(10))), pair("qty", "maximum"));
        assert_eq!(refused(base("qty", json!(1.5))), pair("qty", "type"));
        // A member with a default is not optional: null is a wrong type.
        assert_eq!(refused(base("qty", Value::Null)), pair("qty", "type"));
        // The enum wins over length constraints, as in the generated enum.
        assert_eq!(refused(base("size", json!("xl"))), pair("size", "enum"));
        assert_eq!(
            refused(base("tags", json!(["ok", "long"]))),
            pair("tags[1]", "maxLength")
        );
        assert_eq!(
            refused(base("buyer", json!({"name": "x", "age": 12}))),
            pair("buyer.age", "minimum")
        );
        assert_eq!(
            refused(base("buyer", json!({"age": 20}))),
            pair("buyer.name", "required")
        );
        assert_eq!(
            refused(base("box", json!({"w": 0.1}))),
            pair("box.w", "minimum")
        );
        assert_eq!(refused(base("extra", json!(3))), pair("extra", "type"));
        let e = check("status", json!({"x": 1})).unwrap_err();
        assert_eq!(e.path(), "x");
        assert_eq!(
            e.to_string(),
            "argument `x`: unknown member `x`; it takes none"
        );
    }

    #[test]
    fn errors_carry_value_and_read_like_the_server() {
        let e = check("order", json!({"sku": "ABC", "qty": 0})).unwrap_err();
        assert_eq!(e.value(), Some(&json!(0)));
        assert_eq!(e.violation().constraints_json(), json!({"minimum": 1}));
        assert_eq!(e.to_string(), "argument `qty`: 0 is less than minimum 1");
        let e = check("order", json!({})).unwrap_err();
        assert_eq!(e.value(), None);
        assert_eq!(e.to_string(), "argument `sku` is required but missing");
    }
}
