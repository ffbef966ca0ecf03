//! The manifest's rules as data, and the one checker that applies them.
//!
//! A [`Schema`] is a compact, serialisable description of what a manifest
//! allows: per channel, each request's arguments and response; per model, its
//! properties. The code generator builds it from a checked manifest, generated
//! code embeds it (as JSON text), and the command line builds it from the
//! manifest it reads; every one of them checks values with the same
//! [`Checker`], so a value is accepted or refused, and described, the same
//! way everywhere.
//!
//! The checker reports **every** violation, each with the JSON path of the
//! value (`items[2].name`, empty for the root), the broken keyword, the
//! offending value and a message. The order is the schema's order: for a
//! value, its type first (nothing else is checked on a value of the wrong
//! type); for an object, unknown members first, then each declared member in
//! the schema's order (missing, or its own checks, recursively); for a string,
//! `enum`, else `minLength`, `maxLength`, `pattern`; for a number, `minimum`,
//! `maximum`.
//!
//! Nesting is bounded by [`MAX_DEPTH`]: a value nested deeper is refused with
//! the keyword `maxDepth` (a server refuses such a request before parsing it,
//! see [`depth_exceeds`]), and anything within the limit decodes on both
//! sides of the wire.
//!
//! ```
//! use janus_constraints::schema::{Checker, Field, Node, Schema, ChannelSchema, RequestSchema};
//! use serde_json::json;
//!
//! let schema = Schema {
//!     channels: vec![ChannelSchema {
//!         id: "users".into(),
//!         requests: vec![RequestSchema {
//!             name: "create".into(),
//!             args: vec![Field::required("name", Node::string().min_length(3))],
//!             response: None,
//!         }],
//!     }],
//!     models: vec![],
//! };
//! let checker = Checker::new(schema).unwrap();
//! let create = checker.request("users", "create").unwrap();
//! let errors = checker.check_args(create, &json!({"name": "jo", "x": 1})).unwrap_err();
//! assert_eq!(errors.len(), 2);
//! assert_eq!(errors[0].path(), "x");
//! assert_eq!(errors[1].path(), "name");
//! assert_eq!(errors[1].violation().keyword(), "minLength");
//! ```

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    JsonType, Pattern, Violation, check_type, integer_violations, keyword, missing_required,
    number_violations, string_violations, unknown_property,
};

/// How deeply arrays and objects may nest inside the arguments or the result
/// of a request (the arguments object itself is level 1).
///
/// A server refuses a request whose arguments nest deeper before parsing it,
/// with a `-32602` naming the limit; the checker refuses such a value with the
/// keyword `maxDepth`; a client decodes any result within the limit.
pub const MAX_DEPTH: usize = 64;

/// The keyword of a value nested deeper than [`MAX_DEPTH`].
pub const MAX_DEPTH_KEYWORD: &str = "maxDepth";

/// The rules of a whole manifest.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Schema {
    /// The channels, each with its requests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<ChannelSchema>,
    /// The models, with `extends` already flattened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<ModelSchema>,
}

/// The rules of one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelSchema {
    /// The channel id.
    pub id: String,
    /// Its requests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<RequestSchema>,
}

/// The rules of one request: its arguments and its response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestSchema {
    /// The request's wire name.
    pub name: String,
    /// Its arguments; none means the arguments object must be empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Field>,
    /// Its response, when the manifest declares one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Node>,
}

/// The rules of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSchema {
    /// The model's name, as `modelRef`s name it.
    pub name: String,
    /// Its properties, `extends` flattened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
}

/// A member of an object: arguments, properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// The wire name.
    pub name: String,
    /// Whether an absent member is a violation (required and without a
    /// `default`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// Whether `null` counts as absent (optional and without a `default`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub nullable: bool,
    /// The member's value.
    #[serde(rename = "schema")]
    pub node: Node,
}

impl Field {
    /// A required member (absence is a violation).
    pub fn required(name: impl Into<String>, node: Node) -> Self {
        Self {
            name: name.into(),
            required: true,
            nullable: false,
            node,
        }
    }

    /// An optional member without a default (absent or `null` is fine).
    pub fn optional(name: impl Into<String>, node: Node) -> Self {
        Self {
            name: name.into(),
            required: false,
            nullable: true,
            node,
        }
    }

    /// An optional member with a default (may be absent, `null` is checked).
    pub fn defaulted(name: impl Into<String>, node: Node) -> Self {
        Self {
            name: name.into(),
            required: false,
            nullable: false,
            node,
        }
    }
}

/// What one value must be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Node {
    /// Anything (the manifest left the type open).
    Any,
    /// A string.
    String {
        /// `minLength`, in characters.
        #[serde(default, rename = "minLength", skip_serializing_if = "Option::is_none")]
        min_length: Option<u64>,
        /// `maxLength`, in characters.
        #[serde(default, rename = "maxLength", skip_serializing_if = "Option::is_none")]
        max_length: Option<u64>,
        /// `pattern`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pattern: Option<String>,
        /// `enum`: when present, the length and pattern rules are not applied.
        #[serde(default, rename = "enum", skip_serializing_if = "Option::is_none")]
        allowed: Option<Vec<String>>,
    },
    /// An integer: a number without fraction that fits `i64` (`100.0` and
    /// `1e2` are integers, as in JSON Schema).
    Integer {
        /// Inclusive lower bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        minimum: Option<i64>,
        /// Inclusive upper bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        maximum: Option<i64>,
    },
    /// A finite number.
    Number {
        /// Inclusive lower bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        minimum: Option<f64>,
        /// Inclusive upper bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        maximum: Option<f64>,
    },
    /// `true` or `false`.
    Boolean,
    /// An array whose elements are all `items`.
    Array {
        /// The elements' rules.
        items: Box<Node>,
    },
    /// An object; with `fields`, exactly those members, otherwise any.
    Object {
        /// The declared members, `None` for any object.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fields: Option<Vec<Field>>,
    },
    /// An object defined by a model.
    Model {
        /// The model's name.
        name: String,
    },
}

impl Node {
    /// A string without constraints (add them with the builder methods).
    pub fn string() -> Self {
        Node::String {
            min_length: None,
            max_length: None,
            pattern: None,
            allowed: None,
        }
    }

    /// Sets `minLength` on a string node (other nodes are returned unchanged).
    pub fn min_length(mut self, n: u64) -> Self {
        if let Node::String { min_length, .. } = &mut self {
            *min_length = Some(n);
        }
        self
    }

    /// Sets `maxLength` on a string node.
    pub fn max_length(mut self, n: u64) -> Self {
        if let Node::String { max_length, .. } = &mut self {
            *max_length = Some(n);
        }
        self
    }

    /// Sets `pattern` on a string node.
    pub fn pattern(mut self, source: impl Into<String>) -> Self {
        if let Node::String { pattern, .. } = &mut self {
            *pattern = Some(source.into());
        }
        self
    }

    /// Sets `enum` on a string node.
    pub fn one_of(mut self, values: &[&str]) -> Self {
        if let Node::String { allowed, .. } = &mut self {
            *allowed = Some(values.iter().map(|s| (*s).to_owned()).collect());
        }
        self
    }

    /// An array of `items`.
    pub fn array(items: Node) -> Self {
        Node::Array {
            items: Box::new(items),
        }
    }

    /// An object with exactly these members.
    pub fn object(fields: Vec<Field>) -> Self {
        Node::Object {
            fields: Some(fields),
        }
    }

    /// A reference to a model.
    pub fn model(name: impl Into<String>) -> Self {
        Node::Model { name: name.into() }
    }

    /// The JSON type of the value, `None` for [`Node::Any`].
    pub fn json_type(&self) -> Option<JsonType> {
        Some(match self {
            Node::Any => return None,
            Node::String { .. } => JsonType::String,
            Node::Integer { .. } => JsonType::Integer,
            Node::Number { .. } => JsonType::Number,
            Node::Boolean => JsonType::Boolean,
            Node::Array { .. } => JsonType::Array,
            Node::Object { .. } | Node::Model { .. } => JsonType::Object,
        })
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A value that breaks the schema: where it is, what it is, and the rule.
#[derive(Debug, Clone, PartialEq)]
pub struct PathViolation(Box<Parts>);

#[derive(Debug, Clone, PartialEq)]
struct Parts {
    path: String,
    value: Option<Value>,
    violation: Violation,
}

impl PathViolation {
    /// A violation by the value at `path` (`None` when it is missing).
    pub fn new(path: impl Into<String>, value: Option<Value>, violation: Violation) -> Self {
        Self(Box::new(Parts {
            path: path.into(),
            value,
            violation,
        }))
    }

    /// The JSON path of the value: `"username"`, `"profile.age"`,
    /// `"tags[2]"`; empty for the checked value itself.
    pub fn path(&self) -> &str {
        &self.0.path
    }

    /// The offending value; `None` when a required member is missing.
    pub fn value(&self) -> Option<&Value> {
        self.0.value.as_ref()
    }

    /// The broken rule.
    pub fn violation(&self) -> &Violation {
        &self.0.violation
    }

    /// The violation as JSON: `{"field", "value", "constraints", "message"}`,
    /// an element of a `-32602` error's `data.errors`.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("field".into(), Value::from(self.path()));
        if let Some(v) = self.value() {
            map.insert("value".into(), v.clone());
        }
        map.insert("constraints".into(), self.violation().constraints_json());
        map.insert("message".into(), Value::from(self.to_string()));
        Value::Object(map)
    }
}

impl fmt::Display for PathViolation {
    /// ``argument `age`: 130 is greater than maximum 120`` style text; the
    /// root is named `the value`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.path().is_empty() {
            "the value".to_owned()
        } else {
            format!("`{}`", self.path())
        };
        if self.violation().keyword() == keyword::REQUIRED {
            write!(f, "{what} is required but missing")
        } else {
            write!(f, "{what}: {}", self.violation().message())
        }
    }
}

/// Every violation of one check, in schema order; never empty when returned
/// as an error.
pub type Violations = Vec<PathViolation>;

/// Why a schema cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaError {
    /// A `pattern` that the `regex` crate refuses.
    Pattern {
        /// The pattern.
        pattern: String,
        /// Why it was refused.
        reason: String,
    },
    /// A `modelRef` to a model the schema does not have.
    UnknownModel(String),
    /// The schema's JSON form could not be read.
    Json(String),
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaError::Pattern { pattern, reason } => {
                write!(f, "pattern `{pattern}` does not compile: {reason}")
            }
            SchemaError::UnknownModel(name) => write!(f, "no model named `{name}`"),
            SchemaError::Json(e) => write!(f, "the schema is not valid: {e}"),
        }
    }
}

impl std::error::Error for SchemaError {}

/// Checks JSON values against a [`Schema`]; patterns are compiled once.
#[derive(Debug, Clone)]
pub struct Checker {
    schema: Schema,
    patterns: HashMap<String, Pattern>,
    models: HashMap<String, usize>,
}

impl Checker {
    /// A checker for `schema`; refuses patterns that do not compile and
    /// references to models that do not exist.
    pub fn new(schema: Schema) -> Result<Self, SchemaError> {
        let models: HashMap<String, usize> = schema
            .models
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.clone(), i))
            .collect();
        let mut patterns = HashMap::new();
        let mut problem = None;
        let mut visit = |node: &Node| match node {
            Node::String {
                pattern: Some(p), ..
            } if !patterns.contains_key(p) => match Pattern::new(p) {
                Ok(compiled) => {
                    patterns.insert(p.clone(), compiled);
                }
                Err(e) => {
                    problem.get_or_insert(SchemaError::Pattern {
                        pattern: p.clone(),
                        reason: e.to_string(),
                    });
                }
            },
            Node::Model { name } if !models.contains_key(name) => {
                problem.get_or_insert(SchemaError::UnknownModel(name.clone()));
            }
            _ => {}
        };
        for c in &schema.channels {
            for r in &c.requests {
                r.args.iter().for_each(|f| walk(&f.node, &mut visit));
                if let Some(n) = &r.response {
                    walk(n, &mut visit);
                }
            }
        }
        for m in &schema.models {
            m.fields.iter().for_each(|f| walk(&f.node, &mut visit));
        }
        match problem {
            Some(e) => Err(e),
            None => Ok(Self {
                schema,
                patterns,
                models,
            }),
        }
    }

    /// A checker for a schema in its JSON form (as generated code embeds it).
    pub fn from_json(text: &str) -> Result<Self, SchemaError> {
        let schema: Schema =
            serde_json::from_str(text).map_err(|e| SchemaError::Json(e.to_string()))?;
        Self::new(schema)
    }

    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The rules of request `name` of channel `channel`.
    pub fn request(&self, channel: &str, name: &str) -> Option<&RequestSchema> {
        self.schema
            .channels
            .iter()
            .find(|c| c.id == channel)?
            .requests
            .iter()
            .find(|r| r.name == name)
    }

    /// The model named `name`.
    pub fn model(&self, name: &str) -> Option<&ModelSchema> {
        self.models.get(name).map(|&i| &self.schema.models[i])
    }

    /// Checks the arguments object of `request`. A request without arguments
    /// accepts `null` or an empty object.
    pub fn check_args(&self, request: &RequestSchema, args: &Value) -> Result<(), Violations> {
        let mut out = Vec::new();
        if !(request.args.is_empty() && args.is_null()) {
            let mut path = String::new();
            self.check_fields(&request.args, args, &mut path, 1, &mut out);
        }
        result(out)
    }

    /// Checks the result of `request` against its declared response (any
    /// value passes when none is declared, except one nested too deeply).
    pub fn check_response(&self, request: &RequestSchema, value: &Value) -> Result<(), Violations> {
        let node = request.response.as_ref().unwrap_or(&Node::Any);
        self.check(node, value)
    }

    /// Checks `value` against `node`; paths are relative to `value`.
    pub fn check(&self, node: &Node, value: &Value) -> Result<(), Violations> {
        let mut out = Vec::new();
        let mut path = String::new();
        self.check_node(node, value, &mut path, 1, &mut out);
        result(out)
    }

    fn check_node(
        &self,
        node: &Node,
        value: &Value,
        path: &mut String,
        depth: usize,
        out: &mut Violations,
    ) {
        if matches!(value, Value::Array(_) | Value::Object(_)) && depth > MAX_DEPTH {
            out.push(PathViolation::new(
                path.clone(),
                None,
                Violation::new(
                    MAX_DEPTH_KEYWORD,
                    Value::from(MAX_DEPTH),
                    format!("nested deeper than the limit of {MAX_DEPTH} levels"),
                ),
            ));
            return;
        }
        let push = |out: &mut Violations, path: &String, v: Violation| {
            out.push(PathViolation::new(path.clone(), Some(value.clone()), v));
        };
        if let Some(ty) = node.json_type()
            && let Err(v) = check_type(value, ty)
        {
            push(out, path, v);
            return;
        }
        match node {
            Node::Any => {
                if too_deep(value, depth) {
                    out.push(PathViolation::new(
                        path.clone(),
                        None,
                        Violation::new(
                            MAX_DEPTH_KEYWORD,
                            Value::from(MAX_DEPTH),
                            format!("nested deeper than the limit of {MAX_DEPTH} levels"),
                        ),
                    ));
                }
            }
            Node::Boolean => {}
            Node::String {
                min_length,
                max_length,
                pattern,
                allowed,
            } => {
                let text = value.as_str().unwrap_or_default();
                match allowed {
                    Some(allowed) => {
                        let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
                        if let Err(v) = crate::check_enum_str(text, &allowed) {
                            push(out, path, v);
                        }
                    }
                    None => {
                        let pattern = pattern.as_ref().and_then(|p| self.patterns.get(p));
                        let rules = crate::StringRules {
                            min_length: *min_length,
                            max_length: *max_length,
                            pattern,
                        };
                        for v in string_violations(text, &rules) {
                            push(out, path, v);
                        }
                    }
                }
            }
            Node::Integer { minimum, maximum } => {
                if let Some(n) = as_integer(value) {
                    for v in integer_violations(n, *minimum, *maximum) {
                        push(out, path, v);
                    }
                }
            }
            Node::Number { minimum, maximum } => {
                if let Some(n) = value.as_f64() {
                    for v in number_violations(n, *minimum, *maximum) {
                        push(out, path, v);
                    }
                }
            }
            Node::Array { items } => {
                for (index, item) in value.as_array().into_iter().flatten().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{index}]"));
                    self.check_node(items, item, path, depth + 1, out);
                    path.truncate(len);
                }
            }
            Node::Object { fields: None } => {
                if too_deep(value, depth) {
                    out.push(PathViolation::new(
                        path.clone(),
                        None,
                        Violation::new(
                            MAX_DEPTH_KEYWORD,
                            Value::from(MAX_DEPTH),
                            format!("nested deeper than the limit of {MAX_DEPTH} levels"),
                        ),
                    ));
                }
            }
            Node::Object {
                fields: Some(fields),
            } => self.check_fields(fields, value, path, depth, out),
            Node::Model { name } => {
                if let Some(model) = self.model(name) {
                    self.check_fields(&model.fields, value, path, depth, out);
                }
            }
        }
    }

    fn check_fields(
        &self,
        fields: &[Field],
        value: &Value,
        path: &mut String,
        depth: usize,
        out: &mut Violations,
    ) {
        if depth > MAX_DEPTH {
            self.check_node(&Node::Any, value, path, depth, out);
            return;
        }
        let Value::Object(object) = value else {
            if let Err(v) = check_type(value, JsonType::Object) {
                out.push(PathViolation::new(path.clone(), Some(value.clone()), v));
            }
            return;
        };
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        for (name, member) in object {
            if !names.contains(&name.as_str()) {
                out.push(PathViolation::new(
                    child_path(path, name),
                    Some(member.clone()),
                    unknown_property(name, &names),
                ));
            }
        }
        for field in fields {
            let len = path.len();
            push_member(path, &field.name);
            match object.get(&field.name) {
                Some(Value::Null) if field.nullable => {}
                Some(member) => self.check_node(&field.node, member, path, depth + 1, out),
                None if field.required => {
                    out.push(PathViolation::new(path.clone(), None, missing_required()));
                }
                None => {}
            }
            path.truncate(len);
        }
    }

    /// Rewrites integral floats (`100.0`, `1e2`) that the schema declares as
    /// integers into integers, so that a value the checker accepted also
    /// decodes into `i64`. Call it after a successful check.
    pub fn normalise(&self, node: &Node, value: &mut Value) {
        match (node, value) {
            (Node::Integer { .. }, value) => {
                if !value.is_i64()
                    && let Some(n) = as_integer(value)
                {
                    *value = Value::from(n);
                }
            }
            (Node::Array { items }, Value::Array(elements)) => {
                elements.iter_mut().for_each(|e| self.normalise(items, e));
            }
            (
                Node::Object {
                    fields: Some(fields),
                },
                value,
            ) => self.normalise_fields(fields, value),
            (Node::Model { name }, value) => {
                if let Some(model) = self.model(name) {
                    self.normalise_fields(&model.fields, value);
                }
            }
            _ => {}
        }
    }

    /// [`normalise`](Self::normalise) for the arguments of `request`.
    pub fn normalise_args(&self, request: &RequestSchema, args: &mut Value) {
        self.normalise_fields(&request.args, args);
    }

    fn normalise_fields(&self, fields: &[Field], value: &mut Value) {
        if let Value::Object(object) = value {
            for field in fields {
                if let Some(member) = object.get_mut(&field.name) {
                    self.normalise(&field.node, member);
                }
            }
        }
    }
}

fn result(out: Violations) -> Result<(), Violations> {
    if out.is_empty() { Ok(()) } else { Err(out) }
}

fn walk(node: &Node, f: &mut impl FnMut(&Node)) {
    f(node);
    match node {
        Node::Array { items } => walk(items, f),
        Node::Object {
            fields: Some(fields),
        } => fields.iter().for_each(|x| walk(&x.node, f)),
        _ => {}
    }
}

fn child_path(parent: &str, name: &str) -> String {
    let mut p = parent.to_owned();
    push_member(&mut p, name);
    p
}

fn push_member(path: &mut String, name: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(name);
}

/// The value as an integer: an `i64`, or a float without fraction within
/// the `i64` range (`100.0`, `1e2`), as JSON Schema counts integers.
pub fn as_integer(value: &Value) -> Option<i64> {
    if let Some(n) = value.as_i64() {
        return Some(n);
    }
    if value.is_u64() {
        return None;
    }
    let f = value.as_f64()?;
    // -2^63 is exactly representable; 2^63 is not an i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (f.is_finite() && f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f)).then_some(f as i64)
}

/// Whether `value`, found at nesting level `depth`, has arrays or objects
/// nested beyond [`MAX_DEPTH`].
fn too_deep(value: &Value, depth: usize) -> bool {
    match value {
        Value::Array(a) => depth > MAX_DEPTH || a.iter().any(|v| too_deep(v, depth + 1)),
        Value::Object(o) => depth > MAX_DEPTH || o.values().any(|v| too_deep(v, depth + 1)),
        _ => false,
    }
}

/// How deeply arrays and objects nest in raw JSON text, measured without
/// parsing it (strings are skipped, escapes honoured): `Some(depth)` as soon
/// as the nesting exceeds `limit`, `None` when it stays within.
///
/// A server calls this before parsing a message, so that no parser ever
/// recurses on hostile nesting. Malformed text is not judged here; the parser
/// reports it.
pub fn depth_exceeds(text: &[u8], limit: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in text {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Some(depth);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests;
