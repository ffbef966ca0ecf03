//! `janus docs`: the API reference of a manifest, as Markdown, one
//! self-contained HTML page, and an OpenAPI 3.1 document.
//!
//! The Markdown and HTML pages are rendered from one description of the API
//! ([`ApiDoc`]); the OpenAPI document is built from the manifest's schemas.
//! Output is deterministic: the example datagrams use a fixed id and time.

mod html;
mod markdown;
mod openapi;

use janus_codegen::model::{Field, Manifest, Num, Request, Schema, Ty};
use janus_runtime::ErrorCode;
use janus_runtime::wire;
use serde_json::Value;

use crate::cli::{Color, DocsArgs};
use crate::manifest_file::ManifestFile;
use crate::output::outln;
use crate::sample::Sampler;
use crate::{Exit, Failure};

/// The id of the example request datagrams.
const EXAMPLE_ID: &str = "550e8400-e29b-41d4-a716-446655440000";
/// The id of the example response datagrams.
const EXAMPLE_RESPONSE_ID: &str = "998e7654-f21c-42a8-b827-556677889900";
/// The time of the example datagrams.
const EXAMPLE_TIME: &str = "2025-01-01T12:00:00.000Z";
/// The `reply_to` of the example request datagrams.
const EXAMPLE_REPLY_TO: &str = "/tmp/janus-client.sock";

pub fn run(args: &DocsArgs, color: Color) -> Result<(), Failure> {
    let file = ManifestFile::read(&args.manifest, Exit::Failure)?;
    let checked = file.check(color, Exit::Failure)?;
    let manifest = &checked.manifest;
    let doc = ApiDoc::new(manifest, &file.file_name());
    let openapi =
        serde_json::to_string_pretty(&openapi::document(manifest, &doc)).map_err(|e| {
            Failure::new(
                Exit::Failure,
                format!("cannot encode the OpenAPI document: {e}"),
            )
        })?;
    let dir = &args.output;
    std::fs::create_dir_all(dir).map_err(|e| {
        Failure::new(
            Exit::Failure,
            format!("cannot create {}: {e}", dir.display()),
        )
    })?;
    for (name, content) in [
        ("README.md", markdown::render(&doc)),
        ("index.html", html::render(&doc)),
        ("openapi.json", openapi + "\n"),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, content).map_err(|e| {
            Failure::new(
                Exit::Failure,
                format!("cannot write {}: {e}", path.display()),
            )
        })?;
        outln(&format!("wrote {}", path.display()));
    }
    Ok(())
}

/// The API as the reference pages present it.
#[derive(Debug, Clone)]
pub struct ApiDoc {
    /// The manifest's `name`, or its file name.
    pub title: String,
    /// `version`.
    pub version: String,
    /// `description`.
    pub description: Option<String>,
    /// The manifest's file name.
    pub source: String,
    /// Channels, in manifest order.
    pub channels: Vec<ChannelDoc>,
    /// Models, in manifest order.
    pub models: Vec<ModelDoc>,
}

/// One channel.
#[derive(Debug, Clone)]
pub struct ChannelDoc {
    /// The channel id.
    pub id: String,
    /// `name`.
    pub name: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// Requests, in manifest order.
    pub requests: Vec<RequestDoc>,
}

/// One request.
#[derive(Debug, Clone)]
pub struct RequestDoc {
    /// The channel id.
    pub channel: String,
    /// The request name.
    pub name: String,
    /// `name` (display name).
    pub display: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// Argument rows (nested members as `a.b`, array elements as `a[]`).
    pub args: Vec<Row>,
    /// The declared response.
    pub response: Option<ValueDoc>,
    /// Declared error codes.
    pub errors: Vec<ErrorDoc>,
    /// An example request datagram, indented.
    pub example_request: String,
    /// The example response datagram, indented.
    pub example_response: String,
}

/// A value: its type, description, constraints, and members.
#[derive(Debug, Clone)]
pub struct ValueDoc {
    /// Its type.
    pub ty: TypeDoc,
    /// Its description.
    pub description: Option<String>,
    /// Its constraints, in words.
    pub constraints: Vec<Constraint>,
    /// Rows of its members, when it is an object with inline properties.
    pub rows: Vec<Row>,
}

/// One member in a table.
#[derive(Debug, Clone)]
pub struct Row {
    /// `name`, `profile.age`, `items[].sku`.
    pub path: String,
    /// Its type.
    pub ty: TypeDoc,
    /// Whether it must be present.
    pub required: bool,
    /// Its default, as JSON.
    pub default: Option<String>,
    /// Its constraints.
    pub constraints: Vec<Constraint>,
    /// Its description (or display name).
    pub description: String,
}

/// A type as shown: `string`, `array of UserProfile`; the model it names.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeDoc {
    /// The type in words.
    pub text: String,
    /// The model the type refers to, for a link.
    pub model: Option<String>,
}

/// One declared error code.
#[derive(Debug, Clone)]
pub struct ErrorDoc {
    /// The name in `errorCodes` (sent as `data.errorType`).
    pub name: String,
    /// The numeric code it is sent with.
    pub code: i32,
    /// What it is.
    pub meaning: String,
}

/// One model.
#[derive(Debug, Clone)]
pub struct ModelDoc {
    /// The model name.
    pub name: String,
    /// `name` (display name).
    pub display: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// The model it extends.
    pub base: Option<String>,
    /// Its properties, base model's included.
    pub rows: Vec<Row>,
    /// For a value model (an enum or a constrained value): its type and
    /// constraints.
    pub value: Option<ValueDoc>,
}

impl ApiDoc {
    /// Describes `manifest` (read from the file `source`).
    pub fn new(manifest: &Manifest, source: &str) -> Self {
        let sampler = Sampler::new(manifest);
        ApiDoc {
            title: manifest.name.clone().unwrap_or_else(|| source.to_owned()),
            version: manifest.version.clone(),
            description: manifest.description.clone(),
            source: source.to_owned(),
            channels: in_manifest_order(&manifest.channels, |c| c.loc.pos.offset)
                .map(|c| ChannelDoc {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    description: c.description.clone(),
                    requests: in_manifest_order(&c.requests, |r| r.loc.pos.offset)
                        .map(|r| request_doc(&c.id, r, &sampler))
                        .collect(),
                })
                .collect(),
            models: in_manifest_order(&manifest.models, |m| m.loc.pos.offset)
                .map(|m| ModelDoc {
                    name: m.name.clone(),
                    display: m.display.clone(),
                    description: m.description.clone(),
                    base: m.base().map(str::to_owned),
                    rows: rows(&m.properties, ""),
                    value: m.value.as_ref().map(|s| ValueDoc {
                        ty: type_doc(s),
                        description: None,
                        constraints: constraints(s),
                        rows: Vec::new(),
                    }),
                })
                .collect(),
        }
    }
}

/// `items` in the order the manifest wrote them (the reader sorts them by
/// name), given where each one starts.
fn in_manifest_order<T>(items: &[T], start: impl Fn(&T) -> usize) -> impl Iterator<Item = &T> {
    let mut ordered: Vec<&T> = items.iter().collect();
    ordered.sort_by_key(|item| start(item));
    ordered.into_iter()
}

fn request_doc(channel: &str, r: &Request, sampler: &Sampler<'_>) -> RequestDoc {
    let args = sampler.args(r).and_then(|v| match v {
        Value::Object(map) => Some(map),
        _ => None,
    });
    let request = wire::Request {
        id: EXAMPLE_ID.to_owned(),
        channel_id: Some(channel.to_owned()),
        request: r.name.clone(),
        reply_to: Some(EXAMPLE_REPLY_TO.to_owned()),
        args,
        timeout: Some(wire::DEFAULT_TIMEOUT_SECS),
        timestamp: Value::String(EXAMPLE_TIME.to_owned()),
    };
    let mut response = wire::Response::success(EXAMPLE_ID, sampler.response(r));
    response.id = EXAMPLE_RESPONSE_ID.to_owned();
    response.timestamp = Value::String(EXAMPLE_TIME.to_owned());
    let datagram = |bytes: Result<Vec<u8>, serde_json::Error>| match bytes {
        Ok(b) => indent_json(&String::from_utf8_lossy(&b)),
        Err(e) => format!("(no example: {e})"),
    };
    RequestDoc {
        channel: channel.to_owned(),
        name: r.name.clone(),
        display: r.display.clone(),
        description: r.description.clone(),
        args: rows(&r.args, ""),
        response: r.response.as_ref().map(|s| ValueDoc {
            ty: type_doc(s),
            description: s.description.clone().or_else(|| s.display.clone()),
            constraints: constraints(s),
            rows: match &s.ty {
                Ty::Object(Some(fields)) => rows(fields, ""),
                Ty::Array(items) => match &items.ty {
                    Ty::Object(Some(fields)) => rows(fields, "[]."),
                    _ => Vec::new(),
                },
                _ => Vec::new(),
            },
        }),
        errors: r
            .error_codes
            .iter()
            .map(|(name, _)| error_doc(name))
            .collect(),
        example_request: datagram(request.encode()),
        example_response: datagram(response.encode()),
    }
}

/// The code a declared error is sent with, and what it is.
pub fn error_doc(name: &str) -> ErrorDoc {
    match ErrorCode::from_error_type(name) {
        Some(code) => ErrorDoc {
            name: name.to_owned(),
            code: code.code(),
            meaning: format!("protocol error: {}", code.message()),
        },
        None => ErrorDoc {
            name: name.to_owned(),
            code: ErrorCode::ServerError.code(),
            meaning: "application error (its name is in `data.errorType`)".to_owned(),
        },
    }
}

/// Table rows for fields, nested members included; `prefix` goes before
/// each name (`profile.`, `[].`).
fn rows(fields: &[Field], prefix: &str) -> Vec<Row> {
    let mut out = Vec::new();
    for f in fields {
        let path = format!("{prefix}{}", f.name);
        out.push(Row {
            path: path.clone(),
            ty: type_doc(&f.schema),
            required: f.required,
            default: f.schema.default.as_ref().map(Value::to_string),
            constraints: constraints(&f.schema),
            description: f
                .schema
                .description
                .clone()
                .or_else(|| f.schema.display.clone())
                .unwrap_or_default(),
        });
        match &f.schema.ty {
            Ty::Object(Some(inner)) => out.extend(rows(inner, &format!("{path}."))),
            Ty::Array(items) => {
                if let Ty::Object(Some(inner)) = &items.ty {
                    out.extend(rows(inner, &format!("{path}[].")));
                }
            }
            _ => {}
        }
    }
    out
}

/// The type of a schema in words.
pub fn type_doc(s: &Schema) -> TypeDoc {
    if let Some(name) = &s.model {
        // A value model: named, and linked, like an object model.
        return TypeDoc {
            text: name.clone(),
            model: Some(name.clone()),
        };
    }
    match &s.ty {
        Ty::String => plain("string"),
        Ty::Integer => plain("integer"),
        Ty::Number => plain("number"),
        Ty::Boolean => plain("boolean"),
        Ty::Object(_) => plain("object"),
        Ty::Unknown => plain("any"),
        Ty::ModelRef(name) => TypeDoc {
            text: name.clone(),
            model: Some(name.clone()),
        },
        Ty::Array(items) => {
            let inner = type_doc(items);
            TypeDoc {
                text: format!("array of {}", inner.text),
                model: inner.model,
            }
        }
    }
}

fn plain(text: &str) -> TypeDoc {
    TypeDoc {
        text: text.to_owned(),
        model: None,
    }
}

/// One constraint: words, then values shown as code (`pattern` + `^a+$`,
/// `one of` + `a`, `b`; `minLength 3` has no code part).
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    /// The words.
    pub text: String,
    /// Values shown as code.
    pub code: Vec<String>,
}

impl Constraint {
    fn words(text: String) -> Self {
        Self {
            text,
            code: Vec::new(),
        }
    }
}

impl std::fmt::Display for Constraint {
    /// Plain text: `pattern ^a+$`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)?;
        if !self.code.is_empty() {
            write!(f, " {}", self.code.join(", "))?;
        }
        Ok(())
    }
}

/// The constraints of a schema (array elements' prefixed `items:`).
pub fn constraints(s: &Schema) -> Vec<Constraint> {
    let mut out = Vec::new();
    if let Some(values) = &s.enum_values {
        out.push(Constraint {
            text: "one of".to_owned(),
            code: values.clone(),
        });
    }
    if let Some(n) = s.min_length {
        out.push(Constraint::words(format!("minLength {n}")));
    }
    if let Some(n) = s.max_length {
        out.push(Constraint::words(format!("maxLength {n}")));
    }
    if let Some(p) = &s.pattern {
        out.push(Constraint {
            text: "pattern".to_owned(),
            code: vec![p.clone()],
        });
    }
    if let Some(n) = s.minimum {
        out.push(Constraint::words(format!("minimum {}", show_num(n))));
    }
    if let Some(n) = s.maximum {
        out.push(Constraint::words(format!("maximum {}", show_num(n))));
    }
    if let Ty::Array(items) = &s.ty {
        out.extend(constraints(items).into_iter().map(|c| Constraint {
            text: format!("items: {}", c.text),
            code: c.code,
        }));
    }
    out
}

fn show_num(n: Num) -> String {
    match n {
        Num::Int(i) => i.to_string(),
        Num::Float(f) => f.to_string(),
    }
}

/// An HTML/URL-safe anchor: lowercase letters, digits and `-`.
pub fn anchor(kind: &str, parts: &[&str]) -> String {
    let mut out = kind.to_owned();
    for p in parts {
        out.push('-');
        for c in p.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if c == '-' || c == '_' {
                out.push(c);
            } else {
                out.push_str(&format!("x{:x}", c as u32));
            }
        }
    }
    out
}

/// Indents compact JSON text two spaces per level, keeping its key order.
pub fn indent_json(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = compact.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => in_string = false,
                _ => escaped = false,
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                if chars.peek() == Some(&close) {
                    chars.next();
                    out.push(c);
                    out.push(close);
                } else {
                    depth += 1;
                    out.push(c);
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use janus_codegen::model::load;

    #[test]
    fn json_is_indented_in_its_own_order() {
        let compact = r#"{"z":1,"a":{"s":"x,{\"y\":[]}","e":{},"l":[1,[2]]}}"#;
        let indented = indent_json(compact);
        assert_eq!(
            indented,
            "{\n  \"z\": 1,\n  \"a\": {\n    \"s\": \"x,{\\\"y\\\":[]}\",\n    \"e\": {},\n    \"l\": [\n      1,\n      [\n        2\n      ]\n    ]\n  }\n}"
        );
        let back: Value = serde_json::from_str(&indented).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(compact).unwrap());
    }

    #[test]
    fn the_seed_is_described_with_nested_rows_and_examples() {
        let text = include_str!("../../../tests/manifests/all-types.json");
        let m = load("all-types.json", text).unwrap().manifest;
        let doc = ApiDoc::new(&m, "all-types.json");
        assert_eq!(doc.title, "All Types");
        let put = doc.channels[0]
            .requests
            .iter()
            .find(|r| r.name == "put-item")
            .unwrap();
        let paths: Vec<&str> = put.args.iter().map(|r| r.path.as_str()).collect();
        assert!(paths.contains(&"dimensions.width"), "{paths:?}");
        let tags = put.args.iter().find(|r| r.path == "tags").unwrap();
        assert_eq!(tags.ty.text, "array of string");
        assert_eq!(tags.constraints[0].to_string(), "items: maxLength 16");
        let sku = put.args.iter().find(|r| r.path == "sku").unwrap();
        assert_eq!(sku.constraints[0].code, ["^[A-Z]{3}-[0-9]{4}$"]);
        assert!(sku.required);
        let taken = put.errors.iter().find(|e| e.name == "SKU_TAKEN").unwrap();
        assert_eq!(taken.code, -32000);
        let large = put
            .errors
            .iter()
            .find(|e| e.name == "MESSAGE_TOO_LARGE")
            .unwrap();
        assert_eq!(large.code, -32005);
        // The example datagram is what the runtime sends, and parses back.
        let example: Value = serde_json::from_str(&put.example_request).unwrap();
        assert_eq!(example["request"], "put-item");
        assert_eq!(example["channelId"], "catalog");
        assert_eq!(example["args"]["sku"], "AAA-0000");
        assert!(put.example_request.starts_with("{\n  \"id\": "));
        let response: Value = serde_json::from_str(&put.example_response).unwrap();
        assert_eq!(response["request_id"], EXAMPLE_ID);
        assert_eq!(response["success"], true);
    }

    #[test]
    fn anchors_are_plain() {
        assert_eq!(
            anchor("request", &["user-service", "create_user"]),
            "request-user-service-create_user"
        );
        assert_eq!(anchor("model", &["Café"]), "model-cafxe9");
    }
}
