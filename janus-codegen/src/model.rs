//! A read-only view of a checked manifest, and a validator that checks JSON
//! values against it at run time.
//!
//! This is for tools that work from a manifest without generating code (the
//! `janus` command line: API docs, a mock server, checking arguments and
//! results). [`load`] is [`parse`](crate::parse). The [`Validator`] is the
//! one checker of `janus_constraints::schema` over [`Manifest::schema`], the
//! same schema generated code embeds, so it refuses exactly what generated
//! servers and clients refuse, reporting every violation in the same order
//! (see `janus_constraints::schema` for the order).
//!
//! ```
//! use janus_codegen::model::{Validator, load};
//! use serde_json::json;
//!
//! let text = r#"{"version": "1.0.0", "channels": {"users": {"requests": {"create": {
//!     "args": {"name": {"type": "string", "required": true, "minLength": 3}}}}}}}"#;
//! let checked = load("users.json", text).expect("a valid manifest");
//! let validator = Validator::new(checked.manifest);
//! let errors = validator.check_args("users", "create", &json!({"name": "jo", "x": 1})).unwrap_err();
//! assert_eq!(errors.len(), 2);
//! assert_eq!(errors[1].path(), "name");
//! assert_eq!(errors[1].violation().keyword(), "minLength");
//! assert_eq!(errors[1].to_string(), "`name`: `jo` is shorter than minLength 3 (2 characters)");
//! ```
//!
//! [`generate`]: crate::generate

use janus_constraints::JsonType;
use janus_constraints::schema::{self, Checker};
use serde_json::Value;

use crate::diag::ManifestErrors;

pub use crate::manifest::{Channel, Field, Loc, Manifest, Model, Num, Request, Schema, Ty};

pub use crate::Checked;

/// Reads and checks a manifest as [`generate`](crate::generate) does
/// (it is [`parse`](crate::parse)).
///
/// `file` is the manifest's name as it should appear in messages; `text` its
/// content. On failure, every error (and every warning) is returned, each
/// with line, column and JSON pointer.
pub fn load(file: &str, text: &str) -> Result<Checked, ManifestErrors> {
    crate::parse(file, text)
}

impl Manifest {
    /// The channel with this id.
    pub fn channel(&self, id: &str) -> Option<&Channel> {
        // Channels are sorted by id.
        self.channels
            .binary_search_by(|c| c.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.channels[i])
    }

    /// The model with this name.
    pub fn model(&self, name: &str) -> Option<&Model> {
        self.model_index(name).map(|i| &self.models[i])
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
        // Requests are sorted by name.
        self.requests
            .binary_search_by(|r| r.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.requests[i])
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

/// An argument (or a member of a response) that breaks the manifest: its
/// JSON path, its value and the broken rule, as the one checker reports it.
pub use janus_constraints::schema::PathViolation as ArgError;

impl Manifest {
    /// The manifest's rules as the compact schema every consumer checks
    /// values with (generated code embeds it; the command line uses it
    /// through [`Validator`]).
    pub fn schema(&self) -> schema::Schema {
        schema::Schema {
            channels: self
                .channels
                .iter()
                .map(|c| schema::ChannelSchema {
                    id: c.id.clone(),
                    requests: c
                        .requests
                        .iter()
                        .map(|r| schema::RequestSchema {
                            name: r.name.clone(),
                            args: fields(&r.args),
                            response: r.response.as_ref().map(node),
                        })
                        .collect(),
                })
                .collect(),
            // A value model is inlined where it is used (each `modelRef`
            // to it carries its type and constraints).
            models: self
                .models
                .iter()
                .filter(|m| m.value.is_none())
                .map(|m| schema::ModelSchema {
                    name: m.name.clone(),
                    fields: fields(&m.properties),
                })
                .collect(),
        }
    }
}

fn fields(fields: &[Field]) -> Vec<schema::Field> {
    fields
        .iter()
        .map(|f| {
            let defaulted = f.schema.default.is_some();
            schema::Field {
                name: f.name.clone(),
                required: f.required && !defaulted,
                nullable: !f.required && !defaulted,
                node: node(&f.schema),
            }
        })
        .collect()
}

fn node(s: &Schema) -> schema::Node {
    match &s.ty {
        Ty::Unknown => schema::Node::Any,
        Ty::String => schema::Node::String {
            min_length: s.min_length,
            max_length: s.max_length,
            pattern: s.pattern.clone(),
            allowed: s.enum_values.clone(),
        },
        Ty::Integer => schema::Node::Integer {
            minimum: s.minimum.and_then(Num::as_i64),
            maximum: s.maximum.and_then(Num::as_i64),
        },
        Ty::Number => schema::Node::Number {
            minimum: s.minimum.map(Num::as_f64),
            maximum: s.maximum.map(Num::as_f64),
        },
        Ty::Boolean => schema::Node::Boolean,
        Ty::Array(items) => schema::Node::array(node(items)),
        Ty::Object(None) => schema::Node::Object { fields: None },
        Ty::Object(Some(f)) => schema::Node::object(fields(f)),
        Ty::ModelRef(name) => schema::Node::model(name.clone()),
    }
}

/// Checks JSON values against a manifest with the one [`Checker`]
/// (`janus_constraints::schema`), as generated code does.
#[derive(Debug, Clone)]
pub struct Validator {
    manifest: Manifest,
    checker: Checker,
}

impl Validator {
    /// A validator for `manifest` (normally [`Checked::manifest`]).
    pub fn new(manifest: Manifest) -> Self {
        let checker = match Checker::new(manifest.schema()) {
            Ok(checker) => checker,
            // A checked manifest has compiling patterns and no dangling
            // reference; should one slip through, nothing is accepted
            // rather than everything.
            Err(_) => Checker::new(schema::Schema::default()).unwrap_or_else(|_| unreachable!()),
        };
        Self { manifest, checker }
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The checker, for values the manifest describes.
    pub fn checker(&self) -> &Checker {
        &self.checker
    }

    /// Checks the arguments of request `request` of channel `channel`:
    /// `Ok` when a generated server would run the handler, otherwise every
    /// violation, in the order that server reports them.
    pub fn check_args(
        &self,
        channel: &str,
        request: &str,
        args: &Value,
    ) -> Result<(), Vec<ArgError>> {
        match self.checker.request(channel, request) {
            Some(r) => self.checker.check_args(r, args),
            None => Ok(()),
        }
    }

    /// Checks a result of request `request` of channel `channel` against its
    /// declared response.
    pub fn check_response(
        &self,
        channel: &str,
        request: &str,
        value: &Value,
    ) -> Result<(), Vec<ArgError>> {
        match self.checker.request(channel, request) {
            Some(r) => self.checker.check_response(r, value),
            None => Ok(()),
        }
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
        v.check_args("shop", &r.name, &args)
            .map_err(|errors| errors.into_iter().next().expect("at least one"))
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
        assert_eq!(e.to_string(), "`x`: unknown member `x`; it takes none");
    }

    #[test]
    fn errors_carry_value_and_read_like_the_server() {
        let e = check("order", json!({"sku": "ABC", "qty": 0})).unwrap_err();
        assert_eq!(e.value(), Some(&json!(0)));
        assert_eq!(e.violation().constraints_json(), json!({"minimum": 1}));
        assert_eq!(e.to_string(), "`qty`: 0 is less than minimum 1");
        let e = check("order", json!({})).unwrap_err();
        assert_eq!(e.value(), None);
        assert_eq!(e.to_string(), "`sku` is required but missing");
    }
}
