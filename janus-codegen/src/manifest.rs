//! The manifest: read from the positioned JSON tree, checked completely.
//!
//! Reading never stops at the first problem: every problem found is recorded
//! as a [`Diagnostic`] with its position and JSON pointer, and reading goes on
//! with what can still be understood.

use std::collections::{BTreeMap, BTreeSet};

use janus_constraints::{JsonType, Pattern, StringRules};
use serde_json::Value;

use crate::diag::{Diagnostic, Pos};
use crate::json::{Kind, Member, Node, escape_pointer};

/// Request names the protocol reserves for built-in requests.
pub use janus_constraints::names::RESERVED_REQUESTS;

/// Where something is: its position and its JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loc {
    /// Position in the text.
    pub pos: Pos,
    /// JSON pointer.
    pub pointer: String,
}

/// A checked manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// `version` (semver).
    pub version: String,
    /// `name`.
    pub name: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// Channels, sorted by id.
    pub channels: Vec<Channel>,
    /// Models, sorted by name, with `extends` flattened.
    pub models: Vec<Model>,
}

/// A channel.
#[derive(Debug, Clone)]
pub struct Channel {
    /// The channel id (wire name).
    pub id: String,
    /// Where the channel's key is.
    pub loc: Loc,
    /// `name`.
    pub name: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// Requests, sorted by name.
    pub requests: Vec<Request>,
}

/// A request of a channel.
#[derive(Debug, Clone)]
pub struct Request {
    /// The request name (wire name).
    pub name: String,
    /// Where the request's key is.
    pub loc: Loc,
    /// `name` (display name).
    pub display: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// Arguments, sorted by wire name.
    pub args: Vec<Field>,
    /// Pointer of `args`, for nested locations.
    pub args_loc: Loc,
    /// `response`, if declared.
    pub response: Option<Schema>,
    /// `errorCodes`, in manifest order.
    pub error_codes: Vec<(String, Loc)>,
}

/// A model.
#[derive(Debug, Clone)]
pub struct Model {
    /// The model name (as written in the manifest).
    pub name: String,
    /// Where the model's key is.
    pub loc: Loc,
    /// `name` (display name).
    pub display: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// Properties with `extends` flattened (base first), then sorted by wire name.
    pub properties: Vec<Field>,
    own: Vec<Field>,
    required: Vec<(String, Loc)>,
    extends: Option<(String, Loc)>,
}

/// An argument or a property.
#[derive(Debug, Clone)]
pub struct Field {
    /// Wire name.
    pub name: String,
    /// Where the key is; the pointer is the field's pointer.
    pub loc: Loc,
    /// Whether the field must be present.
    pub required: bool,
    /// Its schema.
    pub schema: Schema,
}

/// A number from the manifest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// Fits `i64`.
    Int(i64),
    /// Anything else.
    Float(f64),
}

impl Model {
    /// The model this one `extends`, if any.
    pub fn base(&self) -> Option<&str> {
        self.extends.as_ref().map(|(name, _)| name.as_str())
    }
}

impl Num {
    /// As `f64`.
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// As `i64`, when integral.
    pub fn as_i64(self) -> Option<i64> {
        match self {
            Num::Int(i) => Some(i),
            Num::Float(_) => None,
        }
    }
}

/// The type a schema describes.
#[derive(Debug, Clone)]
pub enum Ty {
    /// `string`
    String,
    /// `integer`
    Integer,
    /// `number`
    Number,
    /// `boolean`
    Boolean,
    /// `array` of `items`.
    Array(Box<Schema>),
    /// `object` with `properties` (sorted by wire name); `None` when it has none.
    Object(Option<Vec<Field>>),
    /// `object` defined by a model.
    ModelRef(String),
    /// Could not be understood (an error was reported).
    Unknown,
}

/// What a manifest says about one value.
#[derive(Debug, Clone)]
pub struct Schema {
    /// Where the schema object is.
    pub loc: Loc,
    /// The type.
    pub ty: Ty,
    /// `name`.
    pub display: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `default`.
    pub default: Option<Value>,
    /// `pattern`.
    pub pattern: Option<String>,
    /// `minLength`.
    pub min_length: Option<u64>,
    /// `maxLength`.
    pub max_length: Option<u64>,
    /// `minimum`.
    pub minimum: Option<Num>,
    /// `maximum`.
    pub maximum: Option<Num>,
    /// `enum` (strings only).
    pub enum_values: Option<Vec<String>>,
    /// Where each `enum` value is.
    pub enum_locs: Vec<Loc>,
    inline_properties: Option<Vec<Field>>,
}

impl Schema {
    fn unknown(loc: Loc) -> Self {
        Schema {
            loc,
            ty: Ty::Unknown,
            display: None,
            description: None,
            default: None,
            pattern: None,
            min_length: None,
            max_length: None,
            minimum: None,
            maximum: None,
            enum_values: None,
            enum_locs: Vec::new(),
            inline_properties: None,
        }
    }

    /// Whether the value has constraints beyond its type (pattern, lengths, range).
    pub fn is_constrained(&self) -> bool {
        self.pattern.is_some()
            || self.min_length.is_some()
            || self.max_length.is_some()
            || self.minimum.is_some()
            || self.maximum.is_some()
    }
}

/// Where a schema sits, which decides what `required` may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// An argument: `required` is a boolean.
    Arg,
    /// A property of an object: `required` is a boolean (itself) or an array
    /// (its own properties).
    Property,
    /// `items` or `response`: `required` is an array.
    Value,
}

const ROOT_KEYS: &[&str] = &["version", "name", "description", "channels", "models"];
const CHANNEL_KEYS: &[&str] = &["name", "description", "requests", "commands"];
const REQUEST_KEYS: &[&str] = &["name", "description", "args", "response", "errorCodes"];
const MODEL_KEYS: &[&str] = &[
    "name",
    "type",
    "description",
    "properties",
    "required",
    "extends",
];
const SCHEMA_KEYS: &[&str] = &[
    "name",
    "type",
    "description",
    "required",
    "default",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "enum",
    "modelRef",
    "items",
    "properties",
];

/// Reads and checks a manifest. Returns it (when it could be read at all)
/// and every diagnostic, errors and warnings.
pub fn read(file: &str, root: &Node) -> (Option<Manifest>, Vec<Diagnostic>) {
    let mut r = Reader {
        file,
        diags: Vec::new(),
    };
    let manifest = r.root(root);
    if let Some(m) = &manifest {
        r.semantics(m)
    }
    let manifest = manifest.map(|mut m| {
        r.flatten_models(&mut m);
        m
    });
    (manifest, r.diags)
}

struct Reader<'a> {
    file: &'a str,
    diags: Vec<Diagnostic>,
}

/// An object's members by key, having reported the unknown ones.
struct Obj<'n> {
    members: BTreeMap<&'n str, &'n Member>,
    pointer: String,
}

impl<'n> Obj<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.members.get(key).map(|m| &m.value)
    }

    fn member(&self, key: &str) -> Option<&'n Member> {
        self.members.get(key).copied()
    }

    fn child(&self, key: &str) -> String {
        format!("{}/{}", self.pointer, escape_pointer(key))
    }
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The closest expected key, when there is a plausible one.
fn suggestion<'k>(key: &str, expected: &[&'k str]) -> Option<&'k str> {
    let lower = key.to_ascii_lowercase();
    expected
        .iter()
        .map(|e| (edit_distance(&lower, &e.to_ascii_lowercase()), *e))
        .filter(|(d, e)| *d <= 2.max(e.len() / 3))
        .min()
        .map(|(_, e)| e)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Whether a channel or request name follows the protocol's rules.
pub use janus_constraints::names::is_valid_name as valid_wire_name;

/// Whether `version` is a semantic version (`MAJOR.MINOR.PATCH[-pre][+build]`).
pub fn is_semver(version: &str) -> bool {
    let (rest, build) = match version.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (version, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let numeric = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
    };
    let ident_ok =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| numeric(p))
        && pre.is_none_or(|p| {
            p.split('.')
                .all(|id| ident_ok(id) && (!id.bytes().all(|b| b.is_ascii_digit()) || numeric(id)))
        })
        && build.is_none_or(|b| b.split('.').all(ident_ok))
}

/// A regex error in one line.
fn regex_message(err: &regex::Error) -> String {
    let text = err.to_string();
    match text.rfind("error: ") {
        Some(i) => text[i + "error: ".len()..].trim().to_owned(),
        None => text.lines().last().unwrap_or_default().trim().to_owned(),
    }
}

impl Reader<'_> {
    fn error(&mut self, pos: Pos, pointer: &str, message: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(self.file, pos, pointer, message));
    }

    fn warning(&mut self, pos: Pos, pointer: &str, message: impl Into<String>) {
        self.diags
            .push(Diagnostic::warning(self.file, pos, pointer, message));
    }

    /// Opens an object, reporting unknown keys.
    fn object<'n>(
        &mut self,
        node: &'n Node,
        pointer: &str,
        what: &str,
        expected: &[&str],
    ) -> Option<Obj<'n>> {
        let Kind::Object(members) = &node.kind else {
            self.error(
                node.pos,
                pointer,
                format!("{what} must be an object, found {}", node.type_name()),
            );
            return None;
        };
        let mut map = BTreeMap::new();
        for m in members {
            if expected.contains(&m.key.as_str()) {
                map.insert(m.key.as_str(), m);
            } else {
                let hint = match suggestion(&m.key, expected) {
                    Some(s) => format!(" (did you mean `{s}`?)"),
                    None => String::new(),
                };
                self.error(
                    m.key_pos,
                    &format!("{pointer}/{}", escape_pointer(&m.key)),
                    format!(
                        "unknown key `{}` in {what}{hint}; expected one of {}",
                        m.key,
                        list(expected)
                    ),
                );
            }
        }
        Some(Obj {
            members: map,
            pointer: pointer.to_owned(),
        })
    }

    fn string(&mut self, obj: &Obj<'_>, key: &str) -> Option<String> {
        let node = obj.get(key)?;
        match &node.kind {
            Kind::String(s) => Some(s.clone()),
            _ => {
                self.error(
                    node.pos,
                    &obj.child(key),
                    format!("`{key}` must be a string, found {}", node.type_name()),
                );
                None
            }
        }
    }

    fn length(&mut self, obj: &Obj<'_>, key: &str) -> Option<u64> {
        let node = obj.get(key)?;
        if let Kind::Number(n) = &node.kind
            && let Ok(v) = n.parse::<u64>()
        {
            return Some(v);
        }
        self.error(
            node.pos,
            &obj.child(key),
            format!("`{key}` must be a non-negative integer"),
        );
        None
    }

    fn number(&mut self, obj: &Obj<'_>, key: &str, integer: bool) -> Option<Num> {
        let node = obj.get(key)?;
        let Kind::Number(n) = &node.kind else {
            self.error(
                node.pos,
                &obj.child(key),
                format!("`{key}` must be a number, found {}", node.type_name()),
            );
            return None;
        };
        if let Ok(i) = n.parse::<i64>() {
            return Some(Num::Int(i));
        }
        if integer {
            self.error(
                node.pos,
                &obj.child(key),
                format!("`{key}` of an integer must be an integer that fits in 64 bits, found {n}"),
            );
            return None;
        }
        match n.parse::<f64>() {
            Ok(f) if f.is_finite() => Some(Num::Float(f)),
            _ => {
                self.error(
                    node.pos,
                    &obj.child(key),
                    format!("`{key}` is not a finite number: {n}"),
                );
                None
            }
        }
    }

    fn root(&mut self, node: &Node) -> Option<Manifest> {
        let obj = self.object(node, "", "the manifest", ROOT_KEYS)?;
        let version = match obj.get("version") {
            None => {
                self.error(
                    node.pos,
                    "",
                    "missing `version`: the manifest must declare a semantic version such as \"1.0.0\"",
                );
                String::new()
            }
            Some(v) => match self.string(&obj, "version") {
                Some(s) if is_semver(&s) => s,
                Some(s) => {
                    self.error(
                        v.pos,
                        "/version",
                        format!("version `{s}` is not a semantic version (MAJOR.MINOR.PATCH, e.g. \"1.0.0\")"),
                    );
                    s
                }
                None => String::new(),
            },
        };
        let name = self.string(&obj, "name");
        let description = self.string(&obj, "description");
        let mut channels = Vec::new();
        match obj.get("channels") {
            None => self.error(
                node.pos,
                "",
                "missing `channels`: the manifest defines no channels",
            ),
            Some(ch) => match &ch.kind {
                Kind::Object(members) => {
                    if members.is_empty() {
                        self.error(ch.pos, "/channels", "the manifest defines no channels");
                    }
                    for m in members {
                        if let Some(c) = self.channel(m) {
                            channels.push(c);
                        }
                    }
                }
                _ => self.error(
                    ch.pos,
                    "/channels",
                    format!("`channels` must be an object, found {}", ch.type_name()),
                ),
            },
        }
        channels.sort_by(|a, b| a.id.cmp(&b.id));
        let mut models = Vec::new();
        if let Some(md) = obj.get("models") {
            match &md.kind {
                Kind::Object(members) => {
                    for m in members {
                        if let Some(model) = self.model(m) {
                            models.push(model);
                        }
                    }
                }
                _ => self.error(
                    md.pos,
                    "/models",
                    format!("`models` must be an object, found {}", md.type_name()),
                ),
            }
        }
        models.sort_by(|a, b| a.name.cmp(&b.name));
        Some(Manifest {
            version,
            name,
            description,
            channels,
            models,
        })
    }

    fn channel(&mut self, m: &Member) -> Option<Channel> {
        let pointer = format!("/channels/{}", escape_pointer(&m.key));
        if !valid_wire_name(&m.key) {
            self.error(
                m.key_pos,
                &pointer,
                format!(
                    "invalid channel name `{}`: a channel name is 1 to 256 characters of A-Z, a-z, 0-9, `_` and `-`",
                    m.key
                ),
            );
        }
        let obj = self.object(&m.value, &pointer, "a channel", CHANNEL_KEYS)?;
        let name = self.string(&obj, "name");
        let description = self.string(&obj, "description");
        let key = match (obj.member("requests"), obj.member("commands")) {
            (Some(_), Some(c)) => {
                self.error(
                    c.key_pos,
                    &obj.child("commands"),
                    "a channel has either `requests` or its legacy synonym `commands`, not both",
                );
                Some("requests")
            }
            (Some(_), None) => Some("requests"),
            (None, Some(_)) => Some("commands"),
            (None, None) => None,
        };
        let mut requests = Vec::new();
        match key {
            None => self.warning(
                m.key_pos,
                &pointer,
                format!("channel `{}` has no requests", m.key),
            ),
            Some(key) => {
                let node = obj.get(key)?;
                let rptr = obj.child(key);
                match &node.kind {
                    Kind::Object(members) => {
                        if members.is_empty() {
                            self.warning(
                                node.pos,
                                &rptr,
                                format!("channel `{}` has no requests", m.key),
                            );
                        }
                        for rm in members {
                            if let Some(r) = self.request(rm, &rptr) {
                                requests.push(r);
                            }
                        }
                    }
                    _ => self.error(
                        node.pos,
                        &rptr,
                        format!("`{key}` must be an object, found {}", node.type_name()),
                    ),
                }
            }
        }
        requests.sort_by(|a, b| a.name.cmp(&b.name));
        Some(Channel {
            id: m.key.clone(),
            loc: Loc {
                pos: m.key_pos,
                pointer,
            },
            name,
            description,
            requests,
        })
    }

    fn request(&mut self, m: &Member, parent: &str) -> Option<Request> {
        let pointer = format!("{parent}/{}", escape_pointer(&m.key));
        if !valid_wire_name(&m.key) {
            self.error(
                m.key_pos,
                &pointer,
                format!(
                    "invalid request name `{}`: a request name is 1 to 256 characters of A-Z, a-z, 0-9, `_` and `-`",
                    m.key
                ),
            );
        } else if RESERVED_REQUESTS.contains(&m.key.as_str()) {
            self.error(
                m.key_pos,
                &pointer,
                format!(
                    "request name `{}` is reserved for a built-in request ({})",
                    m.key,
                    list(&RESERVED_REQUESTS)
                ),
            );
        }
        let obj = self.object(&m.value, &pointer, "a request", REQUEST_KEYS)?;
        let display = self.string(&obj, "name");
        let description = self.string(&obj, "description");
        let args_ptr = obj.child("args");
        let args_loc = Loc {
            pos: obj.get("args").map_or(m.value.pos, |n| n.pos),
            pointer: args_ptr.clone(),
        };
        let args = match obj.get("args") {
            None => Vec::new(),
            Some(node) => match &node.kind {
                Kind::Object(members) => self.fields(members, &args_ptr, Ctx::Arg),
                _ => {
                    self.error(
                        node.pos,
                        &args_ptr,
                        format!("`args` must be an object, found {}", node.type_name()),
                    );
                    Vec::new()
                }
            },
        };
        let response = obj
            .get("response")
            .map(|node| self.schema(node, &obj.child("response"), Ctx::Value, "the response"));
        let mut error_codes: Vec<(String, Loc)> = Vec::new();
        if let Some(node) = obj.get("errorCodes") {
            let eptr = obj.child("errorCodes");
            match &node.kind {
                Kind::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let iptr = format!("{eptr}/{i}");
                        match &item.kind {
                            Kind::String(s) if s.is_empty() => {
                                self.error(item.pos, &iptr, "an error code name cannot be empty")
                            }
                            Kind::String(s) => {
                                if error_codes.iter().any(|(e, _)| e == s) {
                                    self.error(
                                        item.pos,
                                        &iptr,
                                        format!("error code `{s}` is listed twice"),
                                    );
                                } else {
                                    error_codes.push((
                                        s.clone(),
                                        Loc {
                                            pos: item.pos,
                                            pointer: iptr,
                                        },
                                    ));
                                }
                            }
                            _ => self.error(
                                item.pos,
                                &iptr,
                                format!(
                                    "an error code must be a string such as \"USERNAME_EXISTS\", found {}",
                                    item.type_name()
                                ),
                            ),
                        }
                    }
                }
                _ => self.error(
                    node.pos,
                    &eptr,
                    format!(
                        "`errorCodes` must be an array of strings, found {}",
                        node.type_name()
                    ),
                ),
            }
        }
        Some(Request {
            name: m.key.clone(),
            loc: Loc {
                pos: m.key_pos,
                pointer,
            },
            display,
            description,
            args,
            args_loc,
            response,
            error_codes,
        })
    }

    fn fields(&mut self, members: &[Member], parent: &str, ctx: Ctx) -> Vec<Field> {
        let mut fields = Vec::new();
        for m in members {
            let pointer = format!("{parent}/{}", escape_pointer(&m.key));
            if m.key.is_empty() {
                self.error(m.key_pos, &pointer, "a name cannot be empty");
                continue;
            }
            let schema = self.schema(&m.value, &pointer, ctx, &format!("`{}`", m.key));
            let required = match (&m.value.kind, ctx) {
                (Kind::Object(ms), Ctx::Arg | Ctx::Property) => ms
                    .iter()
                    .find(|x| x.key == "required")
                    .is_some_and(|x| x.value.kind == Kind::Bool(true)),
                _ => false,
            };
            fields.push(Field {
                name: m.key.clone(),
                loc: Loc {
                    pos: m.key_pos,
                    pointer,
                },
                required,
                schema,
            });
        }
        fields.sort_by(|a, b| a.name.cmp(&b.name));
        fields
    }

    /// Reads a `required` array: names, each with its location.
    fn required_list(&mut self, node: &Node, pointer: &str) -> Vec<(String, Loc)> {
        let mut out = Vec::new();
        let Kind::Array(items) = &node.kind else {
            self.error(
                node.pos,
                pointer,
                format!(
                    "`required` must be an array of property names, found {}",
                    node.type_name()
                ),
            );
            return out;
        };
        for (i, item) in items.iter().enumerate() {
            let iptr = format!("{pointer}/{i}");
            match &item.kind {
                Kind::String(s) => out.push((
                    s.clone(),
                    Loc {
                        pos: item.pos,
                        pointer: iptr,
                    },
                )),
                _ => self.error(
                    item.pos,
                    &iptr,
                    format!(
                        "`required` lists property names, found {}",
                        item.type_name()
                    ),
                ),
            }
        }
        out
    }

    fn mark_required(&mut self, fields: &mut [Field], list: &[(String, Loc)]) {
        for (name, loc) in list {
            match fields.iter_mut().find(|f| &f.name == name) {
                Some(f) => f.required = true,
                None => self.error(
                    loc.pos,
                    &loc.pointer,
                    format!(
                        "`required` names `{name}`, which is not a property here; properties: {}",
                        list_or_none(fields.iter().map(|f| f.name.as_str()))
                    ),
                ),
            }
        }
    }

    fn schema(&mut self, node: &Node, pointer: &str, ctx: Ctx, what: &str) -> Schema {
        let loc = Loc {
            pos: node.pos,
            pointer: pointer.to_owned(),
        };
        let Some(obj) = self.object(node, pointer, what, SCHEMA_KEYS) else {
            return Schema::unknown(loc);
        };
        let mut schema = Schema::unknown(loc);
        schema.display = self.string(&obj, "name");
        schema.description = self.string(&obj, "description");
        let model_ref = self.string(&obj, "modelRef");
        let declared = match obj.get("type") {
            None => None,
            Some(t) => match &t.kind {
                Kind::String(s) => match JsonType::from_name(s) {
                    Some(ty) => Some(ty),
                    None => {
                        let names: Vec<&str> = JsonType::ALL.iter().map(|t| t.as_str()).collect();
                        self.error(
                            t.pos,
                            &obj.child("type"),
                            format!("unknown type `{s}`; expected one of {}", list(&names)),
                        );
                        return schema;
                    }
                },
                _ => {
                    self.error(
                        t.pos,
                        &obj.child("type"),
                        format!("`type` must be a string, found {}", t.type_name()),
                    );
                    return schema;
                }
            },
        };
        let ty = match declared {
            Some(t) => t,
            None if model_ref.is_some() || obj.get("properties").is_some() => JsonType::Object,
            None if obj.get("items").is_some() => JsonType::Array,
            None if obj.get("enum").is_some() => JsonType::String,
            None => {
                self.error(
                    node.pos,
                    pointer,
                    format!(
                        "{what} has no `type`; expected one of {}",
                        list(&JsonType::ALL.map(|t| t.as_str()))
                    ),
                );
                return schema;
            }
        };

        // Which keywords apply to which type.
        let applies: &[(&str, &[JsonType])] = &[
            ("pattern", &[JsonType::String]),
            ("minLength", &[JsonType::String]),
            ("maxLength", &[JsonType::String]),
            ("minimum", &[JsonType::Integer, JsonType::Number]),
            ("maximum", &[JsonType::Integer, JsonType::Number]),
            ("items", &[JsonType::Array]),
            ("properties", &[JsonType::Object]),
            ("modelRef", &[JsonType::Object]),
        ];
        let mut misplaced = false;
        for (key, types) in applies {
            if let Some(m) = obj.member(key)
                && !types.contains(&ty)
            {
                misplaced = true;
                self.error(
                    m.key_pos,
                    &obj.child(key),
                    format!(
                        "`{key}` applies to {} values, but this value is {} {ty}",
                        types
                            .iter()
                            .map(|t| t.as_str())
                            .collect::<Vec<_>>()
                            .join(" and "),
                        article(ty.as_str())
                    ),
                );
            }
        }

        // `required`, by context.
        let mut required_list = Vec::new();
        if let Some(m) = obj.member("required") {
            let rptr = obj.child("required");
            match (&m.value.kind, ctx) {
                (Kind::Bool(_), Ctx::Arg | Ctx::Property) => {}
                (Kind::Array(_), Ctx::Property | Ctx::Value) if ty == JsonType::Object => {
                    required_list = self.required_list(&m.value, &rptr);
                }
                (Kind::Array(_), Ctx::Arg) => self.error(
                    m.value.pos,
                    &rptr,
                    "an argument's `required` is true or false; mark an object argument's required properties with `\"required\": true` on each property",
                ),
                (Kind::Array(_), _) => self.error(
                    m.value.pos,
                    &rptr,
                    "a `required` list applies to objects with `properties` only",
                ),
                (Kind::Bool(_), _) => self.error(
                    m.value.pos,
                    &rptr,
                    "`required` here is the list of required properties, e.g. [\"id\"]",
                ),
                _ => self.error(
                    m.value.pos,
                    &rptr,
                    format!(
                        "`required` must be {}, found {}",
                        if ctx == Ctx::Arg {
                            "true or false"
                        } else {
                            "true, false or a list of property names"
                        },
                        m.value.type_name()
                    ),
                ),
            }
        }

        // String constraints.
        let mut compiled: Option<Pattern> = None;
        if ty == JsonType::String {
            schema.min_length = self.length(&obj, "minLength");
            schema.max_length = self.length(&obj, "maxLength");
            if let (Some(min), Some(max)) = (schema.min_length, schema.max_length)
                && min > max
                && let Some(n) = obj.get("minLength")
            {
                self.error(
                    n.pos,
                    &obj.child("minLength"),
                    format!(
                        "minLength {min} is greater than maxLength {max}: no value can satisfy both"
                    ),
                );
            }
            if let Some(source) = self.string(&obj, "pattern") {
                match Pattern::new(&source) {
                    Ok(p) => compiled = Some(p),
                    Err(e) => {
                        let pos = obj.get("pattern").map_or(node.pos, |n| n.pos);
                        self.error(
                            pos,
                            &obj.child("pattern"),
                            format!(
                                "pattern `{source}` does not compile: {} (patterns use Rust `regex` syntax: no look-around, no back-references)",
                                regex_message(&e)
                            ),
                        );
                    }
                }
                schema.pattern = Some(source);
            }
        }
        // Numeric constraints.
        if matches!(ty, JsonType::Integer | JsonType::Number) {
            let integer = ty == JsonType::Integer;
            schema.minimum = self.number(&obj, "minimum", integer);
            schema.maximum = self.number(&obj, "maximum", integer);
            if let (Some(min), Some(max)) = (schema.minimum, schema.maximum)
                && min.as_f64() > max.as_f64()
                && let Some(n) = obj.get("minimum")
            {
                self.error(
                    n.pos,
                    &obj.child("minimum"),
                    format!(
                        "minimum {} is greater than maximum {}: no value can satisfy both",
                        show_num(min),
                        show_num(max)
                    ),
                );
            }
        }

        // The type itself.
        schema.ty = match ty {
            JsonType::String => Ty::String,
            JsonType::Integer => Ty::Integer,
            JsonType::Number => Ty::Number,
            JsonType::Boolean => Ty::Boolean,
            JsonType::Array => match obj.get("items") {
                Some(items) => Ty::Array(Box::new(self.schema(
                    items,
                    &obj.child("items"),
                    Ctx::Value,
                    "`items`",
                ))),
                None => {
                    self.error(
                        node.pos,
                        pointer,
                        "an array needs `items`, the schema of its elements",
                    );
                    Ty::Unknown
                }
            },
            JsonType::Object => {
                let props = obj.get("properties").and_then(|p| match &p.kind {
                    Kind::Object(members) => {
                        let mut fields =
                            self.fields(members, &obj.child("properties"), Ctx::Property);
                        self.mark_required(&mut fields, &required_list);
                        Some(fields)
                    }
                    _ => {
                        self.error(
                            p.pos,
                            &obj.child("properties"),
                            format!("`properties` must be an object, found {}", p.type_name()),
                        );
                        None
                    }
                });
                if obj.get("properties").is_none() && !required_list.is_empty() {
                    let (name, loc) = &required_list[0];
                    self.error(
                        loc.pos,
                        &loc.pointer,
                        format!("`required` names `{name}`, but this object has no `properties`"),
                    );
                }
                match model_ref {
                    Some(name) => {
                        schema.inline_properties = props;
                        Ty::ModelRef(name)
                    }
                    None => Ty::Object(props.filter(|p| !p.is_empty())),
                }
            }
        };

        // `enum`.
        if let Some(en) = obj.get("enum") {
            let eptr = obj.child("enum");
            match (&en.kind, ty) {
                (Kind::Array(items), JsonType::String) if !items.is_empty() => {
                    let rules = StringRules {
                        min_length: schema.min_length,
                        max_length: schema.max_length,
                        pattern: compiled.as_ref(),
                    };
                    let mut values: Vec<String> = Vec::new();
                    for (i, item) in items.iter().enumerate() {
                        let iptr = format!("{eptr}/{i}");
                        match &item.kind {
                            Kind::String(s) => {
                                if values.contains(s) {
                                    self.error(
                                        item.pos,
                                        &iptr,
                                        format!("enum value `{s}` is listed twice"),
                                    );
                                    continue;
                                }
                                if let Err(v) = janus_constraints::check_string(s, &rules) {
                                    self.error(
                                        item.pos,
                                        &iptr,
                                        format!("enum value breaks its own constraints: {v}"),
                                    );
                                }
                                values.push(s.clone());
                                schema.enum_locs.push(Loc {
                                    pos: item.pos,
                                    pointer: iptr,
                                });
                            }
                            _ => self.error(
                                item.pos,
                                &iptr,
                                format!(
                                    "enum value must be a string like the value's type, found {}",
                                    item.type_name()
                                ),
                            ),
                        }
                    }
                    schema.enum_values = Some(values);
                }
                (Kind::Array(items), JsonType::String) if items.is_empty() => self.error(
                    en.pos,
                    &eptr,
                    "`enum` lists no values: nothing would be valid",
                ),
                (Kind::Array(_), _) => self.error(
                    en.pos,
                    &eptr,
                    format!(
                        "`enum` is supported for string values only, but this value is {} {ty}",
                        article(ty.as_str())
                    ),
                ),
                _ => self.error(
                    en.pos,
                    &eptr,
                    format!(
                        "`enum` must be an array of strings, found {}",
                        en.type_name()
                    ),
                ),
            }
        }

        // `default`.
        if let Some(d) = obj.get("default") {
            let dptr = obj.child("default");
            let value = d.to_value();
            if !matches!(
                ty,
                JsonType::String | JsonType::Integer | JsonType::Number | JsonType::Boolean
            ) {
                self.error(
                    d.pos,
                    &dptr,
                    format!(
                        "`default` is supported for string, integer, number and boolean values, but this value is {} {ty}",
                        article(ty.as_str())
                    ),
                );
            } else if let Err(v) = janus_constraints::check_type(&value, ty) {
                self.error(d.pos, &dptr, format!("default value: {v}"));
            } else if !misplaced {
                let check = match ty {
                    JsonType::String => {
                        let s = value.as_str().unwrap_or_default();
                        match &schema.enum_values {
                            Some(values) => {
                                let allowed: Vec<&str> =
                                    values.iter().map(String::as_str).collect();
                                janus_constraints::check_enum_str(s, &allowed)
                            }
                            None => janus_constraints::check_string(
                                s,
                                &StringRules {
                                    min_length: schema.min_length,
                                    max_length: schema.max_length,
                                    pattern: compiled.as_ref(),
                                },
                            ),
                        }
                    }
                    JsonType::Integer => janus_constraints::check_integer(
                        value.as_i64().unwrap_or_default(),
                        schema.minimum.map(|n| n.as_i64().unwrap_or(i64::MIN)),
                        schema.maximum.map(|n| n.as_i64().unwrap_or(i64::MAX)),
                    ),
                    JsonType::Number => janus_constraints::check_number(
                        value.as_f64().unwrap_or_default(),
                        schema.minimum.map(Num::as_f64),
                        schema.maximum.map(Num::as_f64),
                    ),
                    _ => Ok(()),
                };
                match check {
                    Err(v) => self.error(
                        d.pos,
                        &dptr,
                        format!("default value breaks its own constraints: {v}"),
                    ),
                    Ok(()) => schema.default = Some(value),
                }
            }
            if ctx == Ctx::Arg
                && let Some(Kind::Bool(true)) = obj.get("required").map(|r| &r.kind)
            {
                self.warning(d.pos, &dptr, "a required value never uses its `default`");
            }
        }
        schema
    }

    fn model(&mut self, m: &Member) -> Option<Model> {
        let pointer = format!("/models/{}", escape_pointer(&m.key));
        let obj = self.object(&m.value, &pointer, "a model", MODEL_KEYS)?;
        let display = self.string(&obj, "name");
        let description = self.string(&obj, "description");
        if let Some(t) = obj.get("type")
            && t.kind != Kind::String("object".to_owned())
        {
            self.error(
                t.pos,
                &obj.child("type"),
                "a model is an object: its `type` must be \"object\" (or absent)",
            );
        }
        let own = match obj.get("properties") {
            None => Vec::new(),
            Some(p) => match &p.kind {
                Kind::Object(members) => {
                    self.fields(members, &obj.child("properties"), Ctx::Property)
                }
                _ => {
                    self.error(
                        p.pos,
                        &obj.child("properties"),
                        format!("`properties` must be an object, found {}", p.type_name()),
                    );
                    Vec::new()
                }
            },
        };
        let required = obj
            .get("required")
            .map(|r| self.required_list(r, &obj.child("required")))
            .unwrap_or_default();
        let extends = obj.get("extends").and_then(|e| match &e.kind {
            Kind::String(s) => Some((
                s.clone(),
                Loc {
                    pos: e.pos,
                    pointer: obj.child("extends"),
                },
            )),
            _ => {
                self.error(
                    e.pos,
                    &obj.child("extends"),
                    format!("`extends` must be a model name, found {}", e.type_name()),
                );
                None
            }
        });
        Some(Model {
            name: m.key.clone(),
            loc: Loc {
                pos: m.key_pos,
                pointer,
            },
            display,
            description,
            properties: Vec::new(),
            own,
            required,
            extends,
        })
    }

    /// Checks what needs the whole manifest: model references.
    fn semantics(&mut self, m: &Manifest) {
        let names: BTreeSet<&str> = m.models.iter().map(|x| x.name.as_str()).collect();
        let known = list_or_none(names.iter().copied());
        let mut refs: Vec<(&str, &Loc, &Schema)> = Vec::new();
        fn collect<'a>(s: &'a Schema, out: &mut Vec<(&'a str, &'a Loc, &'a Schema)>) {
            match &s.ty {
                Ty::ModelRef(name) => out.push((name, &s.loc, s)),
                Ty::Array(items) => collect(items, out),
                Ty::Object(Some(fields)) => fields.iter().for_each(|f| collect(&f.schema, out)),
                _ => {}
            }
            if let Some(inline) = &s.inline_properties {
                inline.iter().for_each(|f| collect(&f.schema, out));
            }
        }
        for c in &m.channels {
            for r in &c.requests {
                r.args.iter().for_each(|f| collect(&f.schema, &mut refs));
                if let Some(resp) = &r.response {
                    collect(resp, &mut refs);
                }
            }
        }
        for model in &m.models {
            model.own.iter().for_each(|f| collect(&f.schema, &mut refs));
            if let Some((base, loc)) = &model.extends
                && !names.contains(base.as_str())
            {
                self.error(
                    loc.pos,
                    &loc.pointer,
                    format!("`extends` names `{base}`, which is not a model; models: {known}"),
                );
            }
        }
        for (name, loc, _) in &refs {
            if !names.contains(name) {
                self.error(
                    loc.pos,
                    &format!("{}/modelRef", loc.pointer),
                    format!("modelRef `{name}` names no model; models: {known}"),
                );
            }
        }
        // Inline properties beside a modelRef: the model wins; disagreements are warnings.
        for (name, _, schema) in &refs {
            let (Some(inline), Some(model)) = (
                &schema.inline_properties,
                m.models.iter().find(|x| x.name == *name),
            ) else {
                continue;
            };
            let props = self.flattened_preview(m, model);
            for f in inline {
                match props.iter().find(|p| p.name == f.name) {
                    None => self.warning(
                        f.loc.pos,
                        &f.loc.pointer,
                        format!(
                            "inline property `{}` is not in model `{name}`; the model defines the type and it has no such property",
                            f.name
                        ),
                    ),
                    Some(p) => {
                        let (a, b) = (ty_name(&f.schema.ty), ty_name(&p.schema.ty));
                        if a != b && a != "unknown" && b != "unknown" {
                            self.warning(
                                f.loc.pos,
                                &f.loc.pointer,
                                format!(
                                    "inline property `{}` is {} {a} here but {} {b} in model `{name}`; the model's type is used",
                                    f.name,
                                    article(a),
                                    article(b)
                                ),
                            );
                        }
                        if f.required && !p.required {
                            self.warning(
                                f.loc.pos,
                                &f.loc.pointer,
                                format!(
                                    "inline property `{}` is required here but optional in model `{name}`; the model's rule is used",
                                    f.name
                                ),
                            );
                        }
                    }
                }
            }
        }
    }

    /// A model's properties with `extends` followed (no diagnostics; cycles stop).
    fn flattened_preview(&self, m: &Manifest, model: &Model) -> Vec<Field> {
        let mut chain = vec![model];
        let mut cur = model;
        while let Some((base, _)) = &cur.extends {
            match m.models.iter().find(|x| &x.name == base) {
                Some(b) if !chain.iter().any(|c| c.name == b.name) => {
                    chain.push(b);
                    cur = b;
                }
                _ => break,
            }
        }
        let mut out: Vec<Field> = Vec::new();
        let mut required: Vec<&str> = Vec::new();
        for c in chain.iter().rev() {
            for f in &c.own {
                if !out.iter().any(|o| o.name == f.name) {
                    out.push(f.clone());
                }
            }
            required.extend(c.required.iter().map(|(n, _)| n.as_str()));
        }
        for f in &mut out {
            if required.contains(&f.name.as_str()) {
                f.required = true;
            }
        }
        out
    }

    /// Flattens `extends`, reporting cycles, overridden properties and
    /// `required` entries that name nothing.
    fn flatten_models(&mut self, m: &mut Manifest) {
        let snapshot = m.models.clone();
        for model in &mut m.models {
            // Walk the chain.
            let mut chain: Vec<&Model> = Vec::new();
            let mut cur = snapshot.iter().find(|x| x.name == model.name);
            let mut cyclic = false;
            while let Some(c) = cur {
                if chain.iter().any(|x| x.name == c.name) {
                    cyclic = true;
                    break;
                }
                chain.push(c);
                cur = c
                    .extends
                    .as_ref()
                    .and_then(|(b, _)| snapshot.iter().find(|x| &x.name == b));
            }
            if cyclic {
                if let Some((_, loc)) = &model.extends {
                    let path: Vec<&str> = chain.iter().map(|c| c.name.as_str()).collect();
                    let first = path.first().copied().unwrap_or_default();
                    self.error(
                        loc.pos,
                        &loc.pointer,
                        format!("`extends` forms a cycle: {} -> {first}", path.join(" -> ")),
                    );
                }
                model.properties = model.own.clone();
            } else {
                let mut props: Vec<Field> = Vec::new();
                for c in chain.iter().rev() {
                    for f in &c.own {
                        if let Some(prev) = props.iter().find(|p| p.name == f.name) {
                            if c.name == model.name {
                                self.error(
                                    f.loc.pos,
                                    &f.loc.pointer,
                                    format!(
                                        "property `{}` is already defined by a base model (at {}); a model cannot redefine an inherited property",
                                        f.name, prev.loc.pointer
                                    ),
                                );
                            }
                            continue;
                        }
                        props.push(f.clone());
                    }
                }
                model.properties = props;
            }
            let required: Vec<(String, Loc)> = chain
                .iter()
                .rev()
                .flat_map(|c| c.required.iter().cloned())
                .collect();
            for (name, loc) in &required {
                match model.properties.iter_mut().find(|p| &p.name == name) {
                    Some(p) => p.required = true,
                    None if model.required.iter().any(|(_, l)| l == loc) => self.error(
                        loc.pos,
                        &loc.pointer,
                        format!(
                            "`required` names `{name}`, which is not a property of model `{}`; properties: {}",
                            model.name,
                            list_or_none(model.properties.iter().map(|p| p.name.as_str()))
                        ),
                    ),
                    None => {}
                }
            }
            model.properties.sort_by(|a, b| a.name.cmp(&b.name));
        }
    }
}

fn ty_name(ty: &Ty) -> &'static str {
    match ty {
        Ty::String => "string",
        Ty::Integer => "integer",
        Ty::Number => "number",
        Ty::Boolean => "boolean",
        Ty::Array(_) => "array",
        Ty::Object(_) | Ty::ModelRef(_) => "object",
        Ty::Unknown => "unknown",
    }
}

fn article(word: &str) -> &'static str {
    match word.as_bytes().first() {
        Some(b'a' | b'e' | b'i' | b'o' | b'u') => "an",
        _ => "a",
    }
}

fn list_or_none<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

/// A number as the manifest would show it.
pub fn show_num(n: Num) -> String {
    match n {
        Num::Int(i) => i.to_string(),
        Num::Float(f) => f.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_rules() {
        for ok in [
            "1.0.0",
            "0.1.2",
            "1.2.3-alpha.1",
            "1.2.3+build.5",
            "10.20.30-rc-1+x",
        ] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in [
            "1.0", "v1.0.0", "1.0.0.0", "01.0.0", "1.0.0-", "1.0.0-01", "", "1.a.0",
        ] {
            assert!(!is_semver(bad), "{bad}");
        }
    }

    #[test]
    fn wire_names() {
        assert!(valid_wire_name("user-service_2"));
        assert!(!valid_wire_name(""));
        assert!(!valid_wire_name("a b"));
        assert!(!valid_wire_name("a.b"));
        assert!(valid_wire_name(&"a".repeat(256)));
        assert!(!valid_wire_name(&"a".repeat(257)));
    }

    #[test]
    fn suggestions_catch_typos() {
        assert_eq!(suggestion("requets", REQUEST_KEYS), None);
        assert_eq!(suggestion("descripton", REQUEST_KEYS), Some("description"));
        assert_eq!(suggestion("errorcodes", REQUEST_KEYS), Some("errorCodes"));
        assert_eq!(suggestion("minlength", SCHEMA_KEYS), Some("minLength"));
        assert_eq!(suggestion("zzzzzz", SCHEMA_KEYS), None);
    }
}
