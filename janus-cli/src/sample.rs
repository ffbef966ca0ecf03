//! Example values for schemas: the example requests of the docs and the
//! answers of the mock server.
//!
//! A sample satisfies its schema wherever that can be done simply: the
//! manifest's `default`; the first `enum` value; a string built from the
//! `pattern` (the first choice of each alternation, a letter or digit from
//! each class, the fewest repetitions that also satisfy `minLength`) and
//! fitted to the lengths; `0` moved into `minimum..=maximum`; `false`; one
//! element per array; every property of an object. Deeper than a few levels
//! only required properties are filled in and arrays are empty, so recursive
//! models end.

use janus_codegen::model::{Field, Manifest, Num, Request, Schema, Ty};
use janus_constraints::{Pattern, StringRules};
use regex_syntax::hir::{Class, Hir, HirKind};
use serde_json::{Map, Value};

/// Depth up to which optional properties and array elements are filled in.
const FULL_DEPTH: usize = 2;
/// Depth beyond which nothing more is nested (a model that requires itself).
const MAX_DEPTH: usize = 16;

/// The placeholder for a string with nothing to go by.
const PLACEHOLDER: &str = "example";

/// Makes example values for the schemas of one manifest.
#[derive(Debug, Clone, Copy)]
pub struct Sampler<'m> {
    manifest: &'m Manifest,
}

impl<'m> Sampler<'m> {
    /// A sampler for `manifest` (model references are resolved in it).
    pub fn new(manifest: &'m Manifest) -> Self {
        Self { manifest }
    }

    /// Example arguments of `request`: every argument (`None` when it takes none).
    pub fn args(&self, request: &Request) -> Option<Value> {
        if request.args.is_empty() {
            return None;
        }
        Some(self.object(&request.args, 0))
    }

    /// An example result of `request` (`null` when it declares no response).
    pub fn response(&self, request: &Request) -> Value {
        match &request.response {
            Some(schema) => self.value(schema),
            None => Value::Null,
        }
    }

    /// An example of `schema`.
    pub fn value(&self, schema: &Schema) -> Value {
        self.at(schema, 0)
    }

    fn at(&self, schema: &Schema, depth: usize) -> Value {
        if let Some(default) = &schema.default {
            return default.clone();
        }
        match &schema.ty {
            Ty::String => Value::String(match &schema.enum_values {
                Some(values) if !values.is_empty() => values[0].clone(),
                _ => string_sample(schema),
            }),
            Ty::Integer => {
                let min = schema.minimum.and_then(Num::as_i64);
                let max = schema.maximum.and_then(Num::as_i64);
                Value::from(clamp(0, min, max))
            }
            Ty::Number => {
                let min = schema.minimum.map(Num::as_f64);
                let max = schema.maximum.map(Num::as_f64);
                let n = clamp(0.0, min, max);
                if n.fract() == 0.0 && n.abs() < 9.0e15 {
                    Value::from(n as i64)
                } else {
                    serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
                }
            }
            Ty::Boolean => Value::Bool(false),
            Ty::Array(items) => {
                if depth < FULL_DEPTH {
                    Value::Array(vec![self.at(items, depth + 1)])
                } else {
                    Value::Array(Vec::new())
                }
            }
            Ty::Object(None) => Value::Object(Map::new()),
            Ty::Object(Some(fields)) => self.object(fields, depth),
            Ty::ModelRef(name) => match self.manifest.model(name) {
                Some(model) => self.object(&model.properties, depth),
                None => Value::Object(Map::new()),
            },
            Ty::Unknown => Value::Null,
        }
    }

    fn object(&self, fields: &[Field], depth: usize) -> Value {
        let mut map = Map::new();
        if depth >= MAX_DEPTH {
            return Value::Object(map);
        }
        for f in fields {
            if depth < FULL_DEPTH || f.required {
                map.insert(f.name.clone(), self.at(&f.schema, depth + 1));
            }
        }
        Value::Object(map)
    }
}

fn clamp<T: PartialOrd + Copy>(value: T, min: Option<T>, max: Option<T>) -> T {
    match (min, max) {
        (Some(min), _) if value < min => min,
        (_, Some(max)) if value > max => max,
        _ => value,
    }
}

/// A string for a string schema without `enum` or `default`.
fn string_sample(schema: &Schema) -> String {
    let pattern = schema.pattern.as_deref().and_then(|p| Pattern::new(p).ok());
    let rules = StringRules {
        min_length: schema.min_length,
        max_length: schema.max_length,
        pattern: pattern.as_ref(),
    };
    let fits = |s: &str| janus_constraints::check_string(s, &rules).is_ok();
    let mut candidates = Vec::new();
    if let Some(hir) = pattern
        .as_ref()
        .and_then(|p| regex_syntax::Parser::new().parse(p.as_str()).ok())
    {
        for extra in 0..=64 {
            let mut s = String::new();
            from_hir(&hir, extra, &mut s);
            candidates.push(s);
        }
    } else {
        candidates.push(PLACEHOLDER.to_owned());
    }
    // Fitted to the lengths: padded, or cut.
    let min = schema.min_length.unwrap_or(0) as usize;
    let max = schema.max_length.map(|m| m as usize);
    let fitted: Vec<String> = candidates
        .iter()
        .map(|c| {
            let mut s = c.clone();
            while s.chars().count() < min {
                s.push('x');
            }
            match max {
                Some(max) if s.chars().count() > max => s.chars().take(max).collect(),
                _ => s,
            }
        })
        .collect();
    candidates
        .iter()
        .chain(&fitted)
        .find(|s| fits(s))
        .or(fitted.first())
        .cloned()
        .unwrap_or_else(|| PLACEHOLDER.to_owned())
}

/// Appends a string matched by `hir`, with `extra` more repetitions than the
/// minimum wherever repetition is unbounded or allows more.
fn from_hir(hir: &Hir, extra: u32, out: &mut String) {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => out.push_str(&String::from_utf8_lossy(&lit.0)),
        HirKind::Class(Class::Unicode(class)) => {
            let ranges: Vec<(char, char)> = class
                .ranges()
                .iter()
                .map(|r| (r.start(), r.end()))
                .collect();
            if let Some(c) = pick(&ranges) {
                out.push(c);
            }
        }
        HirKind::Class(Class::Bytes(class)) => {
            let ranges: Vec<(char, char)> = class
                .ranges()
                .iter()
                .filter(|r| r.start().is_ascii())
                .map(|r| (char::from(r.start()), char::from(r.end().min(0x7f))))
                .collect();
            if let Some(c) = pick(&ranges) {
                out.push(c);
            }
        }
        HirKind::Repetition(rep) => {
            let wanted = rep.min.saturating_add(extra);
            let count = rep.max.map_or(wanted, |max| wanted.min(max)).min(256);
            for _ in 0..count {
                from_hir(&rep.sub, extra, out);
            }
        }
        HirKind::Capture(cap) => from_hir(&cap.sub, extra, out),
        HirKind::Concat(parts) => parts.iter().for_each(|h| from_hir(h, extra, out)),
        HirKind::Alternation(choices) => {
            if let Some(first) = choices.first() {
                from_hir(first, extra, out);
            }
        }
    }
}

/// A readable character of a class: a lowercase letter, an uppercase letter
/// or a digit when the class has one, otherwise its first character.
fn pick(ranges: &[(char, char)]) -> Option<char> {
    let has = |c: char| ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
    ['a', 'A', '0', '_', '-', '.']
        .into_iter()
        .find(|&c| has(c))
        .or_else(|| ranges.iter().map(|&(lo, _)| lo).find(|c| !c.is_control()))
        .or_else(|| ranges.first().map(|&(lo, _)| lo))
}

#[cfg(test)]
mod tests {
    use super::*;
    use janus_codegen::model::{Validator, load};
    use serde_json::json;

    fn string_schema(extra: &str) -> String {
        let text = format!(
            r#"{{"version": "1.0.0", "channels": {{"c": {{"requests": {{"r": {{"args": {{"s": {{"type": "string", "required": true {extra}}}}}}}}}}}}}}}"#
        );
        let checked = load("m.json", &text).unwrap_or_else(|e| panic!("{e}"));
        let m = checked.manifest;
        let schema = &m.channels[0].requests[0].args[0].schema;
        Sampler::new(&m).value(schema).as_str().unwrap().to_owned()
    }

    #[test]
    fn strings_follow_patterns_and_lengths() {
        assert_eq!(
            string_schema(r#", "pattern": "^[A-Z]{3}-[0-9]{4}$""#),
            "AAA-0000"
        );
        assert_eq!(
            string_schema(r#", "pattern": "^[a-zA-Z0-9_]{3,50}$""#),
            "aaa"
        );
        assert_eq!(
            string_schema(r#", "pattern": "^[\\w\\.-]+@[\\w\\.-]+\\.[a-zA-Z]{2,}$""#),
            "a@a.aa"
        );
        assert_eq!(string_schema(r#", "pattern": "^(red|green)$""#), "red");
        assert_eq!(
            string_schema(r#", "pattern": "^x+$", "minLength": 4"#),
            "xxxx"
        );
        assert_eq!(
            string_schema(r#", "pattern": "[0-9]", "minLength": 3"#),
            "0xx"
        );
        assert_eq!(string_schema(r#", "minLength": 10"#), "examplexxx");
        assert_eq!(string_schema(r#", "maxLength": 3"#), "exa");
        assert_eq!(string_schema(r#", "enum": ["b", "a"]"#), "b");
        assert_eq!(string_schema(r#", "default": "d""#), "d");
        assert_eq!(string_schema(""), "example");
    }

    #[test]
    fn samples_of_the_snapshot_manifests_pass_their_own_checks() {
        for file in [
            "all-types.json",
            "user-management.json",
            "inheritance.json",
            "names.json",
        ] {
            let path = format!("{}/../tests/manifests/{file}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap();
            let m = load(file, &text).unwrap_or_else(|e| panic!("{e}")).manifest;
            let v = Validator::new(m.clone());
            let sampler = Sampler::new(&m);
            for c in &m.channels {
                for r in &c.requests {
                    let args = sampler.args(r).unwrap_or(Value::Null);
                    if let Err(e) = v.check_args(&c.id, &r.name, &args) {
                        panic!("{file} {}/{}: {e:?} in {args}", c.id, r.name);
                    }
                    if let Some(schema) = &r.response {
                        let value = sampler.value(schema);
                        if let Err(e) = v.check_response(&c.id, &r.name, &value) {
                            panic!("{file} {}/{} response: {e:?} in {value}", c.id, r.name);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn numbers_move_into_their_range() {
        let text = r#"{"version": "1.0.0", "channels": {"c": {"requests": {"r": {"args": {
            "a": {"type": "integer", "minimum": 5},
            "b": {"type": "integer", "maximum": -2},
            "c": {"type": "number", "minimum": 0.01},
            "d": {"type": "number"},
            "e": {"type": "boolean"},
            "f": {"type": "array", "items": {"type": "integer"}}
        }}}}}}"#;
        let m = load("m.json", text).unwrap().manifest;
        let args = Sampler::new(&m).args(&m.channels[0].requests[0]).unwrap();
        assert_eq!(
            args,
            json!({"a": 5, "b": -2, "c": 0.01, "d": 0, "e": false, "f": [0]})
        );
    }

    #[test]
    fn recursive_models_end() {
        let text = r#"{"version": "1.0.0", "channels": {"c": {"requests": {"r": {
            "response": {"modelRef": "Node"}}}}},
          "models": {"Node": {"properties": {
            "name": {"type": "string"},
            "next": {"modelRef": "Node"},
            "all": {"type": "array", "items": {"modelRef": "Node"}}}, "required": ["name"]}}}"#;
        let m = load("m.json", text).unwrap().manifest;
        let value = Sampler::new(&m).response(&m.channels[0].requests[0]);
        assert_eq!(value["next"]["next"], json!({"name": "example"}));
        assert_eq!(value["all"][0], json!({"name": "example"}));
    }
}
