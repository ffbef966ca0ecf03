//! The manifest: read from the positioned JSON tree, checked completely.
//!
//! Reading never stops at the first problem: every problem found is recorded
//! as a [`Diagnostic`] with its position and JSON pointer, and reading goes on
//! with what can still be understood.

use std::collections::{BTreeMap, HashMap, HashSet};

use janus_constraints::{JsonType, Pattern, StringRules};
use serde_json::Value;

use crate::diag::{Diagnostic, Pos, Sink};
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
    /// Properties with `extends` flattened (base first), then sorted by wire
    /// name; none for a value model.
    pub properties: Vec<Field>,
    /// For a value model (an enum, or a constrained string, integer or
    /// number, rather than an object): the value's schema. Every `modelRef`
    /// to it carries the same type and constraints (see [`Schema::model`]).
    pub value: Option<Schema>,
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
    /// The value model this value is, when its `modelRef` names an enum or
    /// constrained-value model ([`Model::value`]): the schema then carries
    /// that model's type and constraints. `None` otherwise; a `modelRef` to
    /// an object model is [`Ty::ModelRef`].
    pub model: Option<String>,
    inline_properties: Option<Vec<Field>>,
    /// Where the `modelRef` value is.
    model_ref_pos: Pos,
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
            model: None,
            inline_properties: None,
            model_ref_pos: Pos::default(),
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

/// What a `modelRef` names.
enum Target {
    /// A value model, with its schema.
    Value(Box<Schema>),
    /// An object model.
    Object,
    /// No model (reported by [`Reader::references`]).
    Unknown,
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
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
];
/// The keys of a model that apply to value models only.
const VALUE_MODEL_KEYS: &[&str] = &[
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
];
/// The keys of a model that apply to object models only.
const OBJECT_MODEL_KEYS: &[&str] = &["properties", "required", "extends"];
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

/// Reads and checks a manifest. Returns it when it could be read at all;
/// every diagnostic, errors and warnings, goes to `sink`.
pub fn read(file: &str, root: &Node, sink: &mut Sink) -> Option<Manifest> {
    let mut r = Reader {
        file,
        sink,
        suggestions_left: MAX_SUGGESTIONS,
        patterns: HashMap::new(),
        value_models: HashMap::new(),
        object_models: HashSet::new(),
    };
    let mut manifest = r.root(root)?;
    r.references(&manifest);
    r.flatten_models(&mut manifest);
    r.inline_properties(&manifest);
    Some(manifest)
}

/// At most this many names are listed in one message ("models: `A`, `B`,
/// … and 4,998 more").
const MAX_LISTED: usize = 10;

/// At most this many "did you mean" searches among many names are made
/// (each compares a name with every candidate); past them, messages go
/// without.
const MAX_SUGGESTIONS: usize = 1_000;

/// "Did you mean" compares with at most this many candidates by edit
/// distance (a name that differs only in case is found among any number).
const MAX_SUGGESTION_CANDIDATES: usize = 2_000;

/// At most this many compiled patterns are kept for fields that repeat
/// them: a compiled pattern may take up to a mebibyte.
const MAX_CACHED_PATTERNS: usize = 32;

/// Names longer than this are shortened in messages.
const MAX_SHOWN_NAME: usize = 80;

/// The models' properties, each counted once per model that has it (own or
/// inherited through `extends`), may not exceed this: flattening is then
/// linear in the manifest, whatever the shape of its `extends` chains.
pub const MAX_FLATTENED_PROPERTIES: usize = 1_000_000;

struct Reader<'a> {
    file: &'a str,
    sink: &'a mut Sink,
    /// "Did you mean" searches still allowed (see [`MAX_SUGGESTIONS`]).
    suggestions_left: usize,
    /// The first [`MAX_CACHED_PATTERNS`] patterns, each compiled once
    /// however many fields repeat it.
    patterns: HashMap<String, Result<Pattern, regex::Error>>,
    /// The value models, read before anything that may name them.
    value_models: HashMap<String, Schema>,
    /// The names of the object models.
    object_models: HashSet<String>,
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

/// Every key of one of the reader's own fixed key lists, never cut: the
/// lists are short and the message is the reference of what is accepted.
fn all_keys(keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn list(names: &[&str]) -> String {
    list_or_none(names.iter().copied())
}

/// A name as shown in a message: long names are cut, so that a hostile
/// manifest's megabyte key does not make megabyte messages.
pub(crate) fn shown(name: &str) -> std::borrow::Cow<'_, str> {
    if name.len() <= MAX_SHOWN_NAME {
        return name.into();
    }
    let mut end = MAX_SHOWN_NAME;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &name[..end], name.len()).into()
}

/// The closest expected key, when there is a plausible one.
fn suggestion<'k>(key: &str, expected: &[&'k str]) -> Option<&'k str> {
    // A key far longer than every candidate is near none of them.
    if key.len() > 4 * MAX_SHOWN_NAME {
        return None;
    }
    janus_constraints::closest(key, expected)
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
        self.sink
            .push(Diagnostic::error(self.file, pos, pointer, message));
    }

    fn warning(&mut self, pos: Pos, pointer: &str, message: impl Into<String>) {
        self.sink
            .push(Diagnostic::warning(self.file, pos, pointer, message));
    }

    /// `` (did you mean `UserProfile`?)`` for a name that is one of `names`
    /// but for its case or a typo, or nothing. `by_lowercase` maps each
    /// name's lowercase form to the name.
    fn did_you_mean(
        &mut self,
        name: &str,
        names: &[&str],
        by_lowercase: &HashMap<String, &str>,
    ) -> String {
        let close = by_lowercase.get(&name.to_lowercase()).copied().or_else(|| {
            if self.suggestions_left == 0 || names.len() > MAX_SUGGESTION_CANDIDATES {
                return None;
            }
            self.suggestions_left -= 1;
            suggestion(name, names)
        });
        match close {
            Some(c) => format!(" (did you mean `{}`?)", shown(c)),
            None => String::new(),
        }
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
                        shown(&m.key),
                        all_keys(expected)
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
        // Models first, value models before object models: a value's
        // `modelRef` to a value model takes that model's type and constraints.
        let mut models = Vec::new();
        if let Some(md) = obj.get("models") {
            match &md.kind {
                Kind::Object(members) => {
                    let (values, objects): (Vec<&Member>, Vec<&Member>) =
                        members.iter().partition(|m| is_value_model(&m.value));
                    self.object_models = objects.iter().map(|m| m.key.clone()).collect();
                    for m in values.into_iter().chain(objects) {
                        if let Some(model) = self.model(m) {
                            if let Some(value) = &model.value {
                                self.value_models.insert(model.name.clone(), value.clone());
                            }
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
        } else if let Some(method) = crate::ident::hidden_client_method(&m.key) {
            self.error(
                m.key_pos,
                &pointer,
                format!(
                    "request name `{}` would generate the client method `{method}`, which `janus_runtime::Client` already has: `client.{method}(…)` would call the client's own method; rename the request",
                    m.key
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
        let mut seen: HashSet<&str> = HashSet::new();
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
                                if !seen.insert(s.as_str()) {
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
        // Exactly as many as there are members (a struct of one field would
        // otherwise hold room for four: a large manifest has many).
        let mut fields = Vec::with_capacity(members.len());
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
        let by_name: HashMap<String, usize> = fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect();
        for (name, loc) in list {
            match by_name.get(name) {
                Some(&i) => fields[i].required = true,
                None => self.error(
                    loc.pos,
                    &loc.pointer,
                    format!(
                        "`required` names `{}`, which is not a property here; properties: {}",
                        shown(name),
                        list_or_none(fields.iter().map(|f| f.name.as_str()))
                    ),
                ),
            }
        }
    }

    /// Reads the schema of one value (an argument, a property, `items`, a
    /// response): each concern in its own function below.
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
        schema.model_ref_pos = obj.get("modelRef").map_or(node.pos, |n| n.pos);
        let target = model_ref.as_deref().map(|name| self.model_target(name));
        let model_type = target.as_ref().map(|t| match t {
            Target::Value(v) => v.json_type().unwrap_or(JsonType::Object),
            Target::Object | Target::Unknown => JsonType::Object,
        });
        let Some(mut ty) = self.schema_type(node, &obj, what, model_type) else {
            return schema;
        };
        if let (Some(name), Some(Target::Value(value))) = (&model_ref, &target) {
            ty = self.value_model_type(&obj, name, value, ty);
        }
        // A `modelRef` to no model is reported once, as such.
        let ref_elsewhere = matches!(target, Some(Target::Value(_) | Target::Unknown));
        let misplaced = self.misplaced_keywords(&obj, ty, ref_elsewhere);
        let required_list = self.required_by_context(&obj, ctx, ty);
        let mut compiled = if ty == JsonType::String {
            self.string_constraints(node, &obj, &mut schema)
        } else {
            None
        };
        if matches!(ty, JsonType::Integer | JsonType::Number) {
            self.numeric_constraints(&obj, ty, &mut schema);
        }
        let ref_name = model_ref.clone();
        schema.ty = self.schema_body(node, &obj, ty, &required_list, model_ref, &mut schema);
        self.enum_values(&obj, ty, compiled.as_ref(), &mut schema);
        match (ref_name, target) {
            (Some(name), Some(Target::Value(value))) => {
                compiled = self.adopt_value_model(&obj, &name, &value, &mut schema);
            }
            (Some(name), Some(Target::Unknown)) if ty != JsonType::Object => {
                schema.ty = Ty::ModelRef(name);
            }
            _ => {}
        }
        self.default_value(&obj, ctx, ty, misplaced, compiled.as_ref(), &mut schema);
        schema
    }

    /// What a `modelRef` names: a value model (its schema), an object model,
    /// or nothing known.
    fn model_target(&self, name: &str) -> Target {
        match self.value_models.get(name) {
            Some(v) => Target::Value(Box::new(v.clone())),
            None if self.object_models.contains(name) => Target::Object,
            None => Target::Unknown,
        }
    }

    /// The type of a value whose `modelRef` names a value model: the
    /// model's; a different declared `type` is an error.
    fn value_model_type(
        &mut self,
        obj: &Obj<'_>,
        name: &str,
        value: &Schema,
        declared: JsonType,
    ) -> JsonType {
        let ty = value.json_type().unwrap_or(declared);
        if ty != declared
            && let Some(t) = obj.get("type")
        {
            self.error(
                t.pos,
                &obj.child("type"),
                format!(
                    "modelRef `{}` names {} {ty} model, but `type` here is {declared}; the model's type is used (write \"type\": \"{ty}\" or leave `type` out)",
                    shown(name),
                    article(ty.as_str())
                ),
            );
        }
        ty
    }

    /// Makes a value the value model it names: the model's constraints
    /// replace the value's own, which are descriptive (a difference is a
    /// warning, as for inline properties beside an object `modelRef`).
    /// Returns the model's compiled pattern, for checking the `default`.
    fn adopt_value_model(
        &mut self,
        obj: &Obj<'_>,
        name: &str,
        model: &Schema,
        schema: &mut Schema,
    ) -> Option<Pattern> {
        let differs: [(&str, bool); 6] = [
            ("enum", schema.enum_values != model.enum_values),
            ("pattern", schema.pattern != model.pattern),
            ("minLength", schema.min_length != model.min_length),
            ("maxLength", schema.max_length != model.max_length),
            ("minimum", schema.minimum != model.minimum),
            ("maximum", schema.maximum != model.maximum),
        ];
        for (key, differ) in differs {
            if differ && let Some(k) = obj.member(key) {
                self.warning(
                    k.key_pos,
                    &obj.child(key),
                    format!(
                        "`{key}` here differs from model `{}`'s; the model defines the value and its `{key}` is used",
                        shown(name)
                    ),
                );
            }
        }
        schema.enum_values = model.enum_values.clone();
        schema.enum_locs = model.enum_locs.clone();
        schema.pattern = model.pattern.clone();
        schema.min_length = model.min_length;
        schema.max_length = model.max_length;
        schema.minimum = model.minimum;
        schema.maximum = model.maximum;
        schema.model = Some(name.to_owned());
        let source = model.pattern.as_deref()?;
        self.compile_pattern(source).ok()
    }

    /// A pattern compiled, through the cache of the first
    /// [`MAX_CACHED_PATTERNS`] patterns.
    fn compile_pattern(&mut self, source: &str) -> Result<Pattern, regex::Error> {
        match self.patterns.get(source) {
            Some(known) => known.clone(),
            None => {
                let result = Pattern::new(source);
                if self.patterns.len() < MAX_CACHED_PATTERNS {
                    self.patterns.insert(source.to_owned(), result.clone());
                }
                result
            }
        }
    }

    /// The schema's JSON type: declared, or implied by `modelRef`,
    /// `properties`, `items` or `enum`. `None` (with an error) when unknown.
    fn schema_type(
        &mut self,
        node: &Node,
        obj: &Obj<'_>,
        what: &str,
        model_type: Option<JsonType>,
    ) -> Option<JsonType> {
        let pointer = obj.pointer.as_str();
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
                        return None;
                    }
                },
                _ => {
                    self.error(
                        t.pos,
                        &obj.child("type"),
                        format!("`type` must be a string, found {}", t.type_name()),
                    );
                    return None;
                }
            },
        };
        Some(match (declared, model_type) {
            (Some(t), _) | (None, Some(t)) => t,
            (None, None) if obj.get("properties").is_some() => JsonType::Object,
            (None, None) if obj.get("items").is_some() => JsonType::Array,
            (None, None) if obj.get("enum").is_some() => JsonType::String,
            (None, None) => {
                self.error(
                    node.pos,
                    pointer,
                    format!(
                        "{what} has no `type`; expected one of {}",
                        list(&JsonType::ALL.map(|t| t.as_str()))
                    ),
                );
                return None;
            }
        })
    }

    /// Reports keywords that do not apply to the type (`pattern` on an
    /// integer, …); whether there was one.
    /// `modelRef` is left to [`Self::value_model_type`] and
    /// [`Self::references`] when `ref_elsewhere`.
    fn misplaced_keywords(&mut self, obj: &Obj<'_>, ty: JsonType, ref_elsewhere: bool) -> bool {
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
                && !(*key == "modelRef" && ref_elsewhere)
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
        misplaced
    }

    /// `required`, by context: a boolean for arguments and properties
    /// (read by [`Self::fields`]), the list of required properties for
    /// objects. Returns that list.
    fn required_by_context(&mut self, obj: &Obj<'_>, ctx: Ctx, ty: JsonType) -> Vec<(String, Loc)> {
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
        required_list
    }

    /// `minLength`, `maxLength` and `pattern` of a string; the compiled pattern.
    fn string_constraints(
        &mut self,
        node: &Node,
        obj: &Obj<'_>,
        schema: &mut Schema,
    ) -> Option<Pattern> {
        let mut compiled: Option<Pattern> = None;
        schema.min_length = self.length(obj, "minLength");
        schema.max_length = self.length(obj, "maxLength");
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
        if let Some(source) = self.string(obj, "pattern") {
            match self.compile_pattern(&source) {
                Ok(p) => compiled = Some(p),
                Err(e) => {
                    let pos = obj.get("pattern").map_or(node.pos, |n| n.pos);
                    let message = match e {
                        regex::Error::CompiledTooBig(limit) => format!(
                            "pattern `{}` is too large: compiled, it would take more than {} KiB (the limit); use fewer or smaller repetitions, or narrower classes than `\\w` or `.`",
                            shown(&source),
                            limit / 1024
                        ),
                        e => format!(
                            "pattern `{}` does not compile: {} (patterns use Rust `regex` syntax: no look-around, no back-references)",
                            shown(&source),
                            regex_message(&e)
                        ),
                    };
                    self.error(pos, &obj.child("pattern"), message);
                }
            }
            schema.pattern = Some(source);
        }
        compiled
    }

    /// `minimum` and `maximum` of an integer or a number.
    fn numeric_constraints(&mut self, obj: &Obj<'_>, ty: JsonType, schema: &mut Schema) {
        let integer = ty == JsonType::Integer;
        schema.minimum = self.number(obj, "minimum", integer);
        schema.maximum = self.number(obj, "maximum", integer);
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

    /// The type itself: an array's `items`, an object's `properties` or
    /// `modelRef`.
    fn schema_body(
        &mut self,
        node: &Node,
        obj: &Obj<'_>,
        ty: JsonType,
        required_list: &[(String, Loc)],
        model_ref: Option<String>,
        schema: &mut Schema,
    ) -> Ty {
        let pointer = obj.pointer.as_str();
        match ty {
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
                        self.mark_required(&mut fields, required_list);
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
        }
    }

    /// `enum`: the allowed strings, each unique and within the string's own
    /// constraints.
    fn enum_values(
        &mut self,
        obj: &Obj<'_>,
        ty: JsonType,
        compiled: Option<&Pattern>,
        schema: &mut Schema,
    ) {
        if let Some(en) = obj.get("enum") {
            let eptr = obj.child("enum");
            match (&en.kind, ty) {
                (Kind::Array(items), JsonType::String) if !items.is_empty() => {
                    let rules = StringRules {
                        min_length: schema.min_length,
                        max_length: schema.max_length,
                        pattern: compiled,
                    };
                    let mut values: Vec<String> = Vec::with_capacity(items.len());
                    schema.enum_locs.reserve_exact(items.len());
                    let mut seen: HashSet<&str> = HashSet::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        let iptr = format!("{eptr}/{i}");
                        match &item.kind {
                            Kind::String(s) => {
                                if !seen.insert(s.as_str()) {
                                    self.error(
                                        item.pos,
                                        &iptr,
                                        format!("enum value `{}` is listed twice", shown(s)),
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
    }

    /// `default`: of a scalar type, and within the value's own constraints.
    fn default_value(
        &mut self,
        obj: &Obj<'_>,
        ctx: Ctx,
        ty: JsonType,
        misplaced: bool,
        compiled: Option<&Pattern>,
        schema: &mut Schema,
    ) {
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
                                    pattern: compiled,
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
    }

    /// A model's kind: `object` (declared, or without `type` unless it has
    /// `enum` and no `properties`), or the type of a value model. Only `string`, `integer` and
    /// `number` values make models; anything else is reported and read as
    /// an object.
    fn model_type(&mut self, obj: &Obj<'_>) -> JsonType {
        let Some(t) = obj.get("type") else {
            return if obj.get("enum").is_some() && obj.get("properties").is_none() {
                JsonType::String
            } else {
                JsonType::Object
            };
        };
        let tptr = obj.child("type");
        let message = match &t.kind {
            Kind::String(s) => match JsonType::from_name(s) {
                Some(
                    ty @ (JsonType::Object
                    | JsonType::String
                    | JsonType::Integer
                    | JsonType::Number),
                ) => return ty,
                Some(ty) => format!(
                    "a model is an object, an enum or a constrained string, integer or number; {} {ty} needs no model: declare it where it is used",
                    article(ty.as_str())
                ),
                None => format!(
                    "unknown model type `{}`; expected one of `object`, `string`, `integer`, `number`",
                    shown(s)
                ),
            },
            _ => format!("`type` must be a string, found {}", t.type_name()),
        };
        self.error(t.pos, &tptr, message);
        JsonType::Object
    }

    /// The schema of a value model: an enum, or a string, integer or number
    /// with constraints.
    fn value_model(
        &mut self,
        node: &Node,
        obj: &Obj<'_>,
        ty: JsonType,
        name: &str,
        loc: &Loc,
    ) -> Schema {
        for key in OBJECT_MODEL_KEYS {
            if let Some(k) = obj.member(key) {
                self.error(
                    k.key_pos,
                    &obj.child(key),
                    format!(
                        "`{key}` applies to object models, but model `{}` is {} {ty}",
                        shown(name),
                        article(ty.as_str())
                    ),
                );
            }
        }
        let applies: &[(&str, &[JsonType])] = &[
            ("enum", &[JsonType::String]),
            ("pattern", &[JsonType::String]),
            ("minLength", &[JsonType::String]),
            ("maxLength", &[JsonType::String]),
            ("minimum", &[JsonType::Integer, JsonType::Number]),
            ("maximum", &[JsonType::Integer, JsonType::Number]),
        ];
        for (key, types) in applies {
            if let Some(k) = obj.member(key)
                && !types.contains(&ty)
            {
                self.error(
                    k.key_pos,
                    &obj.child(key),
                    format!(
                        "`{key}` applies to {} models, but model `{}` is {} {ty}",
                        types
                            .iter()
                            .map(|t| t.as_str())
                            .collect::<Vec<_>>()
                            .join(" and "),
                        shown(name),
                        article(ty.as_str())
                    ),
                );
            }
        }
        let mut schema = Schema::unknown(Loc {
            pos: node.pos,
            pointer: loc.pointer.clone(),
        });
        schema.display = self.string(obj, "name");
        schema.description = self.string(obj, "description");
        schema.ty = match ty {
            JsonType::String => {
                let compiled = self.string_constraints(node, obj, &mut schema);
                self.enum_values(obj, ty, compiled.as_ref(), &mut schema);
                Ty::String
            }
            JsonType::Integer => {
                self.numeric_constraints(obj, ty, &mut schema);
                Ty::Integer
            }
            _ => {
                self.numeric_constraints(obj, ty, &mut schema);
                Ty::Number
            }
        };
        let what = if ty == JsonType::String {
            "`enum`, `pattern`, `minLength` or `maxLength`"
        } else {
            "`minimum` or `maximum`"
        };
        let has_enum = obj.get("enum").is_some();
        if !has_enum && !schema.is_constrained() {
            self.error(
                loc.pos,
                &loc.pointer,
                format!(
                    "model `{}` is {} {ty} without {what}: a plain {ty} needs no model; declare it where it is used, or constrain it",
                    shown(name),
                    article(ty.as_str())
                ),
            );
        }
        schema
    }

    fn model(&mut self, m: &Member) -> Option<Model> {
        let pointer = format!("/models/{}", escape_pointer(&m.key));
        let obj = self.object(&m.value, &pointer, "a model", MODEL_KEYS)?;
        let display = self.string(&obj, "name");
        let description = self.string(&obj, "description");
        let loc = Loc {
            pos: m.key_pos,
            pointer,
        };
        let value = match self.model_type(&obj) {
            JsonType::Object => {
                for key in VALUE_MODEL_KEYS {
                    if let Some(k) = obj.member(key) {
                        self.error(
                            k.key_pos,
                            &obj.child(key),
                            format!(
                                "`{key}` applies to value models (\"type\": \"string\", \"integer\" or \"number\"), but model `{}` is an object",
                                shown(&m.key)
                            ),
                        );
                    }
                }
                None
            }
            ty => Some(self.value_model(&m.value, &obj, ty, &m.key, &loc)),
        };
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
            loc,
            display,
            description,
            properties: Vec::new(),
            value,
            own,
            required,
            extends,
        })
    }

    /// Checks what needs the whole manifest: that every `modelRef` and
    /// `extends` names a model.
    fn references(&mut self, m: &Manifest) {
        let names: Vec<&str> = m.models.iter().map(|x| x.name.as_str()).collect();
        let by_lowercase: HashMap<String, &str> =
            names.iter().map(|n| (n.to_lowercase(), *n)).collect();
        let known = list_or_none(names.iter().copied());
        let mut refs: Vec<(&str, &Loc, &Schema)> = Vec::new();
        for_each_model_ref(m, &mut |name, loc, schema| refs.push((name, loc, schema)));
        for model in &m.models {
            let Some((base, loc)) = &model.extends else {
                continue;
            };
            match m.model_index(base).map(|i| &m.models[i]) {
                None => {
                    let hint = self.did_you_mean(base, &names, &by_lowercase);
                    self.error(
                        loc.pos,
                        &loc.pointer,
                        format!(
                            "`extends` names `{}`, which is not a model{hint}; models: {known}",
                            shown(base)
                        ),
                    );
                }
                Some(Model {
                    value: Some(value), ..
                }) => {
                    let ty = value.json_type().map_or("value", JsonType::as_str);
                    self.error(
                        loc.pos,
                        &loc.pointer,
                        format!(
                            "`extends` names `{}`, which is {} {ty} model: only object models can be extended",
                            shown(base),
                            article(ty)
                        ),
                    );
                }
                Some(_) => {}
            }
        }
        for (name, _, schema) in refs {
            if m.model_index(name).is_none() {
                let hint = self.did_you_mean(name, &names, &by_lowercase);
                let pointer = format!("{}/modelRef", schema.loc.pointer);
                self.error(
                    schema.model_ref_pos,
                    &pointer,
                    format!(
                        "modelRef `{}` names no model{hint}; models: {known}",
                        shown(name)
                    ),
                );
            }
        }
    }

    /// Inline properties beside a `modelRef`: the model wins; disagreements
    /// are warnings. Runs on the flattened models.
    fn inline_properties(&mut self, m: &Manifest) {
        let mut refs: Vec<(&str, &Schema)> = Vec::new();
        for_each_model_ref(m, &mut |name, _, schema| {
            if schema.inline_properties.is_some() {
                refs.push((name, schema));
            }
        });
        for (name, schema) in refs {
            let (Some(inline), Some(model)) = (&schema.inline_properties, m.model_index(name))
            else {
                continue;
            };
            let props: HashMap<&str, &Field> = m.models[model]
                .properties
                .iter()
                .map(|p| (p.name.as_str(), p))
                .collect();
            for f in inline {
                match props.get(f.name.as_str()) {
                    None => self.warning(
                        f.loc.pos,
                        &f.loc.pointer,
                        format!(
                            "inline property `{}` is not in model `{name}`; the model defines the type and it has no such property",
                            shown(&f.name)
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
                                    shown(&f.name),
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
                                    shown(&f.name)
                                ),
                            );
                        }
                    }
                }
            }
        }
    }

    /// Flattens `extends` (each model's properties become its bases' and
    /// its own), reporting each cycle once, overridden properties and
    /// `required` entries that name nothing. Linear: every model is walked
    /// once, bases before the models that extend them.
    fn flatten_models(&mut self, m: &mut Manifest) {
        let count = m.models.len();
        let base: Vec<Option<usize>> = m
            .models
            .iter()
            .map(|x| x.base().and_then(|b| m.model_index(b)))
            .collect();
        let order = match self.extends_order(m, &base) {
            Some(order) => order,
            None => {
                for model in &mut m.models {
                    model.properties = model.own.clone();
                    model.properties.sort_by(|a, b| a.name.cmp(&b.name));
                }
                return;
            }
        };
        let mut flat: Vec<Option<Vec<Field>>> = vec![None; count];
        for (i, cyclic) in order {
            let model = &m.models[i];
            let inherited: &[Field] = match (cyclic, base[i]) {
                (false, Some(b)) => flat[b].as_deref().unwrap_or_default(),
                _ => &[],
            };
            let mut props: Vec<Field> = inherited.to_vec();
            let by_name: HashMap<&str, usize> = inherited
                .iter()
                .enumerate()
                .map(|(k, f)| (f.name.as_str(), k))
                .collect();
            let mut added: Vec<Field> = Vec::new();
            for f in &model.own {
                match by_name.get(f.name.as_str()) {
                    Some(&k) => self.error(
                        f.loc.pos,
                        &f.loc.pointer,
                        format!(
                            "property `{}` is already defined by a base model (at {}); a model cannot redefine an inherited property",
                            shown(&f.name),
                            inherited[k].loc.pointer
                        ),
                    ),
                    None => added.push(f.clone()),
                }
            }
            props.extend(added);
            let mut positions: HashMap<String, usize> = HashMap::with_capacity(props.len());
            for (k, p) in props.iter().enumerate() {
                positions.insert(p.name.clone(), k);
            }
            for (name, loc) in &model.required {
                match positions.get(name) {
                    Some(&k) => props[k].required = true,
                    None => self.error(
                        loc.pos,
                        &loc.pointer,
                        format!(
                            "`required` names `{}`, which is not a property of model `{}`; properties: {}",
                            shown(name),
                            shown(&model.name),
                            list_or_none(props.iter().map(|p| p.name.as_str()))
                        ),
                    ),
                }
            }
            props.sort_by(|a, b| a.name.cmp(&b.name));
            flat[i] = Some(props);
        }
        for (model, props) in m.models.iter_mut().zip(flat) {
            model.properties = props.unwrap_or_default();
        }
    }

    /// The models, each after its base, with whether it is on or behind an
    /// `extends` cycle (then it inherits nothing). Each cycle is reported
    /// once, at its first model in source order. `None` (with an error)
    /// when flattening would exceed [`MAX_FLATTENED_PROPERTIES`].
    fn extends_order(
        &mut self,
        m: &Manifest,
        base: &[Option<usize>],
    ) -> Option<Vec<(usize, bool)>> {
        #[derive(Clone, Copy, PartialEq)]
        enum State {
            New,
            OnPath,
            Done { cyclic: bool },
        }
        let count = m.models.len();
        let mut state = vec![State::New; count];
        let mut order = Vec::with_capacity(count);
        // Properties of each model once flattened (own + inherited).
        let mut flattened = vec![0usize; count];
        let mut total = 0usize;
        let mut path: Vec<usize> = Vec::new();
        for start in 0..count {
            if state[start] != State::New {
                continue;
            }
            // Walk up the bases until a model already placed, none, or a cycle.
            path.clear();
            let mut cur = Some(start);
            let mut behind_cycle = false;
            while let Some(c) = cur {
                match state[c] {
                    State::New => {
                        state[c] = State::OnPath;
                        path.push(c);
                        cur = base[c];
                    }
                    State::OnPath => {
                        // A new cycle: from `c` to the end of the path.
                        let at = path.iter().position(|&p| p == c).unwrap_or(0);
                        let cycle = &path[at..];
                        self.report_cycle(m, cycle);
                        for &p in cycle {
                            state[p] = State::Done { cyclic: true };
                            order.push((p, true));
                            flattened[p] = m.models[p].own.len();
                            total += flattened[p];
                        }
                        path.truncate(at);
                        behind_cycle = true;
                        break;
                    }
                    State::Done { cyclic } => {
                        behind_cycle = cyclic;
                        break;
                    }
                }
            }
            // Place the path's models, the base-most first.
            for &p in path.iter().rev() {
                let inherited = match (behind_cycle, base[p]) {
                    (false, Some(b)) => flattened[b],
                    _ => 0,
                };
                flattened[p] = inherited + m.models[p].own.len();
                total = total.saturating_add(flattened[p]);
                state[p] = State::Done {
                    cyclic: behind_cycle,
                };
                order.push((p, behind_cycle));
            }
        }
        if total > MAX_FLATTENED_PROPERTIES {
            let (deepest, _) = flattened
                .iter()
                .enumerate()
                .max_by_key(|(_, n)| **n)
                .unwrap_or((0, &0));
            let model = &m.models[deepest];
            self.error(
                model.loc.pos,
                &model.loc.pointer,
                format!(
                    "the models have {total} properties in all once `extends` is followed (each model counting its inherited ones), more than the limit of {MAX_FLATTENED_PROPERTIES}; model `{}` alone has {}: use shallower `extends` chains or a modelRef property instead",
                    shown(&model.name),
                    flattened[deepest]
                ),
            );
            return None;
        }
        Some(order)
    }

    /// One error for one `extends` cycle, at its first model in source order.
    fn report_cycle(&mut self, m: &Manifest, cycle: &[usize]) {
        let Some(&first) = cycle
            .iter()
            .min_by_key(|&&i| m.models[i].extends.as_ref().map(|(_, l)| l.pos.offset))
        else {
            return;
        };
        let Some((_, loc)) = &m.models[first].extends else {
            return;
        };
        // The cycle as met from its first model: first -> base -> … -> first.
        let at = cycle.iter().position(|&i| i == first).unwrap_or(0);
        let names: Vec<String> = cycle[at..]
            .iter()
            .chain(&cycle[..at])
            .map(|&i| format!("`{}`", shown(&m.models[i].name)))
            .collect();
        let shown_path = if names.len() > 2 * MAX_LISTED {
            format!(
                "{} -> … ({} models) -> {}",
                names[..MAX_LISTED].join(" -> "),
                names.len(),
                names[names.len() - 1]
            )
        } else {
            names.join(" -> ")
        };
        self.error(
            loc.pos,
            &loc.pointer,
            format!(
                "`extends` forms a cycle of {} model{}: {shown_path} -> {}",
                names.len(),
                if names.len() == 1 { "" } else { "s" },
                names[0]
            ),
        );
    }
}

/// Calls `f` with every `modelRef` of the manifest (in requests and in the
/// models' own properties): the model's name, the schema's location, the schema.
fn for_each_model_ref<'m>(m: &'m Manifest, f: &mut dyn FnMut(&'m str, &'m Loc, &'m Schema)) {
    fn walk<'a>(s: &'a Schema, f: &mut dyn FnMut(&'a str, &'a Loc, &'a Schema)) {
        match &s.ty {
            Ty::ModelRef(name) => f(name, &s.loc, s),
            Ty::Array(items) => walk(items, f),
            Ty::Object(Some(fields)) => fields.iter().for_each(|x| walk(&x.schema, f)),
            _ => {}
        }
        if let Some(inline) = &s.inline_properties {
            inline.iter().for_each(|x| walk(&x.schema, f));
        }
    }
    for c in &m.channels {
        for r in &c.requests {
            r.args.iter().for_each(|x| walk(&x.schema, f));
            if let Some(resp) = &r.response {
                walk(resp, f);
            }
        }
    }
    for model in &m.models {
        model.own.iter().for_each(|x| walk(&x.schema, f));
    }
}

/// Whether a model's JSON declares a value model (a `type` other than
/// `object`, or an `enum` and no `properties` without `type`), which is read
/// before the others.
fn is_value_model(node: &Node) -> bool {
    let Kind::Object(members) = &node.kind else {
        return false;
    };
    match members.iter().find(|m| m.key == "type") {
        Some(t) => matches!(&t.value.kind, Kind::String(s) if s != "object"),
        None => {
            members.iter().any(|m| m.key == "enum")
                && !members.iter().any(|m| m.key == "properties")
        }
    }
}

impl Manifest {
    /// The index of the model with this name (models are sorted by name).
    pub(crate) fn model_index(&self, name: &str) -> Option<usize> {
        self.models
            .binary_search_by(|x| x.name.as_str().cmp(name))
            .ok()
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

/// `` `a`, `b`, `c` ``; past [`MAX_LISTED`] names, `` `a`, …, `j` and 990
/// more ``; `none` for no names.
fn list_or_none<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut shown_names: Vec<String> = Vec::new();
    let mut more = 0usize;
    for n in names {
        if shown_names.len() < MAX_LISTED {
            shown_names.push(format!("`{}`", shown(n)));
        } else {
            more += 1;
        }
    }
    match (shown_names.is_empty(), more) {
        (true, _) => "none".to_owned(),
        (false, 0) => shown_names.join(", "),
        (false, n) => format!("{} and {n} more", shown_names.join(", ")),
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
    fn a_pattern_too_large_to_compile_is_refused_with_the_limit() {
        let text = r#"{"version": "1.0.0", "channels": {"c": {"requests": {"r": {"args": {
            "p": {"type": "string", "pattern": "^\\w{2000}$"},
            "q": {"type": "string", "pattern": "^[a-z]{2,40}$"}}}}}}}"#;
        let diags = crate::check("m.json", text);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].pointer, "/channels/c/requests/r/args/p/pattern");
        assert_eq!((diags[0].line, diags[0].column), (2, 48), "{}", diags[0]);
        assert!(
            diags[0].message.starts_with(
                "pattern `^\\w{2000}$` is too large: compiled, it would take more than 1024 KiB"
            ),
            "{}",
            diags[0]
        );
    }

    #[test]
    fn a_repeated_pattern_is_judged_at_every_field_that_has_it() {
        let text = r#"{"version": "1.0.0", "channels": {"c": {"requests": {"r": {"args": {
            "a": {"type": "string", "pattern": "(unclosed"},
            "b": {"type": "string", "pattern": "(unclosed"},
            "c": {"type": "string", "pattern": "^[a-z]+$", "default": "ok"},
            "d": {"type": "string", "pattern": "^[a-z]+$", "default": "NOT"}}}}}}}"#;
        let pointers: Vec<String> = crate::check("m.json", text)
            .into_iter()
            .map(|d| d.pointer)
            .collect();
        assert_eq!(
            pointers,
            [
                "/channels/c/requests/r/args/a/pattern",
                "/channels/c/requests/r/args/b/pattern",
                "/channels/c/requests/r/args/d/default"
            ]
        );
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
