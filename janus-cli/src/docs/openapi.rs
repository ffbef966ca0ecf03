//! The OpenAPI 3.1 document: one `POST /{channelId}/{request}` operation
//! per request, its arguments as the request body, its response schema, and
//! its declared errors.

use std::collections::BTreeMap;

use janus_codegen::model::{Field, Manifest, Num, Schema, Ty};
use serde_json::{Map, Value, json};

use super::{ApiDoc, error_doc};
use crate::sample::Sampler;

/// The name of the error object's schema among the components.
const ERROR_SCHEMA: &str = "JanusError";

/// The OpenAPI document of `manifest`.
pub fn document(manifest: &Manifest, doc: &ApiDoc) -> Value {
    let names = ComponentNames::new(manifest);
    let sampler = Sampler::new(manifest);
    let mut paths = Map::new();
    for c in &manifest.channels {
        for r in &c.requests {
            let mut op = Map::new();
            op.insert("operationId".into(), json!(format!("{}.{}", c.id, r.name)));
            op.insert("tags".into(), json!([c.id]));
            op.insert(
                "summary".into(),
                json!(r.display.clone().unwrap_or_else(|| r.name.clone())),
            );
            if let Some(d) = &r.description {
                op.insert("description".into(), json!(d));
            }
            if !r.args.is_empty() {
                let mut body = object_schema(&r.args, &names);
                if let Some(example) = sampler.args(r) {
                    body.insert("examples".into(), json!([example]));
                }
                op.insert(
                    "requestBody".into(),
                    json!({
                        "required": r.args.iter().any(|a| a.required && a.schema.default.is_none()),
                        "content": {"application/json": {"schema": Value::Object(body)}},
                    }),
                );
            }
            let result_schema = match &r.response {
                Some(s) => schema(s, &names),
                None => json!({"description": "Not declared: any JSON value."}),
            };
            let declared: Vec<Value> = r
                .error_codes
                .iter()
                .map(|(name, _)| {
                    let e = error_doc(name);
                    json!({"errorType": e.name, "code": e.code})
                })
                .collect();
            let mut error_examples = Map::new();
            for (name, _) in &r.error_codes {
                let e = error_doc(name);
                error_examples.insert(
                    name.clone(),
                    json!({
                        "summary": e.meaning,
                        "value": {
                            "code": e.code,
                            "message": message_of(e.code),
                            "data": {"errorType": e.name, "details": format!("request `{}` failed: {}", r.name, e.name)},
                        },
                    }),
                );
            }
            let mut error_content =
                json!({"schema": {"$ref": format!("#/components/schemas/{ERROR_SCHEMA}")}});
            if !error_examples.is_empty() {
                error_content["examples"] = Value::Object(error_examples);
            }
            let error_description = if declared.is_empty() {
                "An error object (JSON-RPC 2.0 form).".to_owned()
            } else {
                format!(
                    "An error object (JSON-RPC 2.0 form). Declared errors: {}.",
                    r.error_codes
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            op.insert(
                "responses".into(),
                json!({
                    "200": {
                        "description": "The result of the request.",
                        "content": {"application/json": {"schema": result_schema, "examples": {"synthesised": {"value": sampler.response(r)}}}},
                    },
                    "default": {
                        "description": error_description,
                        "content": {"application/json": error_content},
                    },
                }),
            );
            if !declared.is_empty() {
                op.insert("x-janus-errors".into(), Value::Array(declared));
            }
            paths.insert(
                format!("/{}/{}", c.id, r.name),
                json!({"post": Value::Object(op)}),
            );
        }
    }

    let mut schemas = Map::new();
    for m in &manifest.models {
        let mut s = match &m.value {
            Some(value) => match schema(value, &names) {
                Value::Object(s) => s,
                _ => Map::new(),
            },
            None => object_schema(&m.properties, &names),
        };
        if let Some(t) = &m.display {
            s.insert("title".into(), json!(t));
        }
        if let Some(d) = &m.description {
            s.insert("description".into(), json!(d));
        }
        schemas.insert(names.of(&m.name), Value::Object(s));
    }
    schemas.insert(ERROR_SCHEMA.into(), error_schema());

    let mut info = json!({"title": doc.title, "version": doc.version});
    let description = format!(
        "{}Generated by `janus docs` from `{}`. Each operation stands for a Janus request: a JSON datagram on a Unix datagram socket naming the request (and optionally its channel as `channelId`), its arguments in `args`. The response's `result` is the 200 body; an `error` is the default body.",
        doc.description
            .as_ref()
            .map(|d| format!("{d}\n\n"))
            .unwrap_or_default(),
        doc.source
    );
    info["description"] = json!(description);
    json!({
        "openapi": "3.1.0",
        "info": info,
        "tags": manifest.channels.iter().map(|c| {
            let mut t = json!({"name": c.id});
            if let Some(d) = c.description.as_ref().or(c.name.as_ref()) {
                t["description"] = json!(d);
            }
            t
        }).collect::<Vec<_>>(),
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

fn message_of(code: i32) -> &'static str {
    janus_runtime::ErrorCode::from_code(code).map_or("Error", |c| c.message())
}

/// The error object of the protocol.
fn error_schema() -> Value {
    json!({
        "type": "object",
        "description": "A JSON-RPC 2.0 error object as Janus sends it.",
        "properties": {
            "code": {"type": "integer", "description": "The error code, e.g. -32602 (Invalid params); -32000 for application errors."},
            "message": {"type": "string"},
            "data": {
                "type": "object",
                "properties": {
                    "details": {"type": "string", "description": "The cause, in words."},
                    "errorType": {"type": "string", "description": "The symbolic name, e.g. INVALID_PARAMS or a declared error code."},
                    "field": {"type": "string", "description": "The argument at fault, e.g. profile.age."},
                    "value": {"description": "The offending value."},
                    "constraints": {"type": "object", "description": "The broken constraint, e.g. {\"maximum\": 120}."},
                    "context": {"type": "object"}
                }
            }
        },
        "required": ["code", "message"]
    })
}

/// Component names for models: the model name where it is a valid component
/// key (`^[a-zA-Z0-9._-]+$`), otherwise with other characters replaced.
struct ComponentNames(BTreeMap<String, String>);

impl ComponentNames {
    fn new(manifest: &Manifest) -> Self {
        let mut map = BTreeMap::new();
        let mut used = std::collections::BTreeSet::new();
        used.insert(ERROR_SCHEMA.to_owned());
        for m in &manifest.models {
            let base: String = m
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let mut name = base.clone();
            let mut n = 2;
            while !used.insert(name.clone()) {
                name = format!("{base}_{n}");
                n += 1;
            }
            map.insert(m.name.clone(), name);
        }
        Self(map)
    }

    fn of(&self, model: &str) -> String {
        self.0
            .get(model)
            .cloned()
            .unwrap_or_else(|| model.to_owned())
    }
}

fn object_schema(fields: &[Field], names: &ComponentNames) -> Map<String, Value> {
    let mut s = Map::new();
    s.insert("type".into(), json!("object"));
    let properties: Map<String, Value> = fields
        .iter()
        .map(|f| (f.name.clone(), schema(&f.schema, names)))
        .collect();
    s.insert("properties".into(), Value::Object(properties));
    let required: Vec<&str> = fields
        .iter()
        .filter(|f| f.required && f.schema.default.is_none())
        .map(|f| f.name.as_str())
        .collect();
    if !required.is_empty() {
        s.insert("required".into(), json!(required));
    }
    s.insert("additionalProperties".into(), json!(false));
    s
}

fn num(n: Num) -> Value {
    match n {
        Num::Int(i) => json!(i),
        Num::Float(f) => json!(f),
    }
}

/// The JSON Schema (2020-12, as OpenAPI 3.1 uses it) of a manifest schema.
fn schema(s: &Schema, names: &ComponentNames) -> Value {
    let reference =
        |name: &str| json!({"$ref": format!("#/components/schemas/{}", names.of(name))});
    // A value model's use refers to it; the model's component has the constraints.
    let mut out = match &s.ty {
        _ if s.model.is_some() => reference(s.model.as_deref().unwrap_or_default()),
        Ty::String => json!({"type": "string"}),
        Ty::Integer => json!({"type": "integer"}),
        Ty::Number => json!({"type": "number"}),
        Ty::Boolean => json!({"type": "boolean"}),
        Ty::Array(items) => json!({"type": "array", "items": schema(items, names)}),
        Ty::Object(None) => json!({"type": "object"}),
        Ty::Object(Some(fields)) => Value::Object(object_schema(fields, names)),
        Ty::ModelRef(name) => reference(name),
        Ty::Unknown => json!({}),
    };
    let Value::Object(map) = &mut out else {
        return out;
    };
    if let Some(t) = &s.display {
        map.insert("title".into(), json!(t));
    }
    if let Some(d) = &s.description {
        map.insert("description".into(), json!(d));
    }
    if s.model.is_some() {
        if let Some(d) = &s.default {
            map.insert("default".into(), d.clone());
        }
        return out;
    }
    if let Some(v) = &s.enum_values {
        map.insert("enum".into(), json!(v));
    }
    if let Some(n) = s.min_length {
        map.insert("minLength".into(), json!(n));
    }
    if let Some(n) = s.max_length {
        map.insert("maxLength".into(), json!(n));
    }
    if let Some(p) = &s.pattern {
        map.insert("pattern".into(), json!(p));
    }
    if let Some(n) = s.minimum {
        map.insert("minimum".into(), num(n));
    }
    if let Some(n) = s.maximum {
        map.insert("maximum".into(), num(n));
    }
    if let Some(d) = &s.default {
        map.insert("default".into(), d.clone());
    }
    out
}
