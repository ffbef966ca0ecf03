//! The intermediate model: what will be generated, with every Rust name
//! resolved.
//!
//! Naming rules:
//!
//! - fixed names come first: in `models`, one struct per model; in a channel
//!   module `<Request>Args`, `<Request>Error`, `<Request>Response`,
//!   `<Channel>Client`, `<Channel>Handler`, `<Channel>Server`. Two fixed
//!   names that are equal are an error;
//! - types derived from fields (constrained values, string enums, inline
//!   objects, array items) are named `PascalCase(field)`, depth by depth
//!   (a nested object's fields come after it). When a name is claimed by
//!   more than one item at the same depth, or is already taken, EVERY
//!   claimant gets the qualified name `<Owner><Name>` (`CreateUserUsername`),
//!   where the owner is the request (for arguments) or the enclosing struct;
//!   if that still clashes, it is an error;
//! - a property inherited through `extends` keeps its base model's type
//!   (`Employee.id` and `Entity.id` are both `Id`); models are named bases
//!   first;
//! - two wire names of one scope (channels, requests of a channel, models,
//!   fields of a struct, values of an enum, error codes of a request) that
//!   become the same Rust identifier are an error, with both positions.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::Value;

use crate::diag::{Diagnostic, Sink};
use crate::ident;
use crate::manifest::{Field, Loc, Manifest, Num, Schema, Ty};

/// Which generated module an item lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ModKey {
    /// `models`
    Models,
    /// The channel with this index.
    Channel(usize),
}

/// A reference to a Rust type from a field.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeRef {
    /// `String`
    String,
    /// `i64`
    I64,
    /// `f64`
    F64,
    /// `bool`
    Bool,
    /// `serde_json::Value`
    Value,
    /// `serde_json::Map<String, Value>`
    Map,
    /// `Vec<T>`
    Vec(Box<TypeRef>),
    /// `Box<T>` (recursive models)
    Boxed(Box<TypeRef>),
    /// A generated type.
    Named(TypeId),
}

/// A generated type: its module and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TypeId {
    /// Where it lives.
    pub module: ModKey,
    /// Its name.
    pub name: String,
}

/// The base type of a validated newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// `String`
    Str,
    /// `i64`
    Int,
    /// `f64`
    Num,
}

/// The constraints of a validated newtype.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Constraints {
    /// `minLength`
    pub min_length: Option<u64>,
    /// `maxLength`
    pub max_length: Option<u64>,
    /// `pattern`
    pub pattern: Option<String>,
    /// `minimum`
    pub minimum: Option<Num>,
    /// `maximum`
    pub maximum: Option<Num>,
}

/// A field of a generated struct.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldIr {
    /// Wire name.
    pub wire: String,
    /// Rust identifier (maybe raw).
    pub ident: String,
    /// Documentation lines.
    pub doc: Vec<String>,
    /// The field's type (without `Option`).
    pub ty: TypeRef,
    /// Required on the wire.
    pub required: bool,
    /// Default when absent (then the field is not an `Option`).
    pub default: Option<Value>,
    /// How the default is built when the field's type is a value model,
    /// whose type is shared and so has no `Default` of its own.
    pub model_default: Option<ModelDefault>,
}

/// The `default` of a field whose type is a value model.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelDefault {
    /// This variant of the model's enum.
    Variant(String),
    /// The model's literal macro, given the default.
    Macro(String),
}

/// A generated type definition.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeDef {
    /// A struct with named fields.
    Struct {
        /// Name.
        name: String,
        /// Documentation lines.
        doc: Vec<String>,
        /// Fields, sorted by wire name.
        fields: Vec<FieldIr>,
    },
    /// A validated newtype.
    Newtype {
        /// Name.
        name: String,
        /// Documentation lines.
        doc: Vec<String>,
        /// Base type.
        base: Base,
        /// Constraints.
        constraints: Constraints,
        /// Default from the manifest.
        default: Option<Value>,
        /// Name of the literal-checking macro.
        macro_name: String,
        /// Manifest pointer of the value (for messages).
        pointer: String,
    },
    /// A string enum.
    Enum {
        /// Name.
        name: String,
        /// Documentation lines.
        doc: Vec<String>,
        /// (variant identifier, wire value), in manifest order.
        variants: Vec<(String, String)>,
        /// Index of the default variant.
        default: Option<usize>,
    },
    /// A request's error enum from `errorCodes`.
    ErrorEnum {
        /// Name.
        name: String,
        /// Documentation lines.
        doc: Vec<String>,
        /// The request's wire name.
        request: String,
        /// (variant identifier, error name), in manifest order.
        variants: Vec<(String, String)>,
    },
}

impl TypeDef {
    /// The type's name.
    pub fn name(&self) -> &str {
        match self {
            TypeDef::Struct { name, .. }
            | TypeDef::Newtype { name, .. }
            | TypeDef::Enum { name, .. }
            | TypeDef::ErrorEnum { name, .. } => name,
        }
    }
}

/// One request of a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestIr {
    /// Wire name.
    pub wire: String,
    /// Method name in the client and handler traits.
    pub method: String,
    /// Name of the constant holding the wire name.
    pub const_name: String,
    /// Documentation lines.
    pub doc: Vec<String>,
    /// The args struct, or `None` when the request takes no arguments.
    pub args: Option<String>,
    /// The response type.
    pub response: TypeRef,
    /// The error enum, or `None` (then `Infallible`).
    pub error: Option<String>,
}

/// One channel module.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelIr {
    /// Wire id.
    pub id: String,
    /// Module name.
    pub module: String,
    /// Documentation lines.
    pub doc: Vec<String>,
    /// Client trait name.
    pub client: String,
    /// Handler trait name.
    pub handler: String,
    /// Server struct name.
    pub server: String,
    /// Requests, sorted by wire name.
    pub requests: Vec<RequestIr>,
    /// Generated types, sorted by name.
    pub types: Vec<TypeDef>,
}

/// Everything to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Ir {
    /// Documentation of the whole manifest.
    pub doc: Vec<String>,
    /// Name of the models module.
    pub models_module: String,
    /// Model types, sorted by name.
    pub models: Vec<TypeDef>,
    /// Channels, sorted by id.
    pub channels: Vec<ChannelIr>,
}

#[derive(Debug, Clone)]
enum Owner {
    Name(String),
    Pending(usize),
}

#[derive(Debug, Clone)]
enum PKind {
    Struct(Vec<PField>),
    Newtype {
        base: Base,
        constraints: Constraints,
        default: Option<Value>,
    },
    Enum {
        values: Vec<String>,
        default: Option<String>,
    },
    Error {
        request: String,
        codes: Vec<(String, Loc)>,
    },
    /// A name claimed by a trait or server struct (emitted elsewhere).
    Marker,
}

#[derive(Debug, Clone)]
struct PField {
    wire: String,
    doc: Vec<String>,
    ty: PRef,
    required: bool,
    default: Option<Value>,
}

#[derive(Debug, Clone)]
enum PRef {
    Plain(TypeRef),
    Vec(Box<PRef>),
    Pending(usize),
    Model(String),
}

/// What a value model's definition is, for a field whose `default` names
/// one of its values.
#[derive(Clone, Copy)]
enum ValueModel {
    Enum,
    Newtype,
}

#[derive(Debug, Clone)]
struct Pending {
    module: ModKey,
    simple: String,
    owner: Option<Owner>,
    fixed: bool,
    depth: usize,
    loc: Loc,
    doc: Vec<String>,
    kind: PKind,
    name: Option<String>,
}

struct Builder<'a> {
    file: &'a str,
    sink: &'a mut Sink,
    /// Pointers at which an error was reported (a clash found twice is
    /// reported once).
    error_pointers: HashSet<String>,
    pending: Vec<Pending>,
    /// Field types by the field's pointer: a property inherited through
    /// `extends` shares its base model's type.
    field_types: BTreeMap<String, PRef>,
}

fn doc_lines(text: Option<&str>) -> Vec<String> {
    text.map(|t| t.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn describe(display: Option<&str>, description: Option<&str>, fallback: String) -> Vec<String> {
    let mut lines = doc_lines(description);
    if lines.is_empty() {
        lines = doc_lines(display);
    }
    if lines.is_empty() {
        lines.push(fallback);
    }
    lines
}

/// Builds the IR, the naming diagnostics going to `sink`; the IR is only
/// meaningful when no error was reported.
/// The generated modules' names: the models module's, and each channel's
/// (`None` for an id that makes no identifier).
pub fn module_names<'a>(
    channel_ids: impl IntoIterator<Item = &'a str>,
) -> (String, Vec<Option<String>>) {
    let modules: Vec<Option<String>> = channel_ids
        .into_iter()
        .map(|id| {
            ident::snake(id).map(|name| {
                if ident::unraw(&name) == "models" {
                    "models_channel".to_owned()
                } else {
                    name
                }
            })
        })
        .collect();
    let named = |n: &str| modules.iter().flatten().any(|m| m == n);
    let models_module = if named("models_channel") && named("models") {
        "models_"
    } else {
        "models"
    };
    (models_module.to_owned(), modules)
}

pub fn build(file: &str, m: &Manifest, sink: &mut Sink) -> Ir {
    let mut b = Builder {
        file,
        sink,
        error_pointers: HashSet::new(),
        pending: Vec::new(),
        field_types: BTreeMap::new(),
    };
    b.build(m)
}

impl Builder<'_> {
    fn error(&mut self, loc: &Loc, message: impl Into<String>) {
        self.error_pointers.insert(loc.pointer.clone());
        self.sink
            .push(Diagnostic::error(self.file, loc.pos, &loc.pointer, message));
    }

    fn ident_or_report(
        &mut self,
        f: fn(&str) -> Option<String>,
        name: &str,
        loc: &Loc,
        fallback: &str,
    ) -> String {
        match f(name) {
            Some(i) => i,
            None => {
                self.error(
                    loc,
                    format!("`{name}` has no letter or digit to build a Rust identifier from"),
                );
                fallback.to_owned()
            }
        }
    }

    /// Reports wire names of one scope that map to the same identifier.
    fn check_unique<'n>(
        &mut self,
        what: &str,
        items: impl IntoIterator<Item = (&'n str, String, &'n Loc)>,
    ) {
        let mut seen: BTreeMap<String, (&str, &Loc)> = BTreeMap::new();
        let mut clashes = Vec::new();
        for (wire, ident, loc) in items {
            match seen.get(&ident) {
                Some((other, other_loc)) => clashes.push((
                    loc.clone(),
                    format!(
                        "{what} `{wire}` and `{other}` (line {}, column {}) both become the Rust identifier `{}`",
                        other_loc.pos.line,
                        other_loc.pos.column,
                        ident::unraw(&ident)
                    ),
                )),
                None => {
                    seen.insert(ident, (wire, loc));
                }
            }
        }
        for (loc, msg) in clashes {
            self.error(&loc, msg);
        }
    }

    fn build(&mut self, m: &Manifest) -> Ir {
        // Module names.
        let (models_module, names) = module_names(m.channels.iter().map(|c| c.id.as_str()));
        let mut modules = Vec::new();
        for (c, name) in m.channels.iter().zip(names) {
            modules.push(match name {
                Some(name) => name,
                None => self.ident_or_report(ident::snake, &c.id, &c.loc, "channel"),
            });
        }
        self.check_unique(
            "channel",
            m.channels
                .iter()
                .zip(&modules)
                .map(|(c, n)| (c.id.as_str(), n.clone(), &c.loc)),
        );

        // Models: fixed names.
        let model_names: Vec<String> = m
            .models
            .iter()
            .map(|md| self.ident_or_report(ident::type_name, &md.name, &md.loc, "Model"))
            .collect();
        self.check_unique(
            "model",
            m.models
                .iter()
                .zip(&model_names)
                .map(|(md, n)| (md.name.as_str(), n.clone(), &md.loc)),
        );
        let mut model_pending: BTreeMap<String, usize> = BTreeMap::new();
        for (md, name) in m.models.iter().zip(&model_names) {
            let doc = describe(
                md.display.as_deref(),
                md.description.as_deref(),
                format!("The `{}` model.", md.name),
            );
            if let Some(value) = &md.value {
                // A value model: its enum or constrained value, under the
                // model's name.
                let mut value = value.clone();
                value.loc = md.loc.clone();
                let ty = self.type_of(
                    &value,
                    ModKey::Models,
                    name.clone(),
                    None,
                    true,
                    0,
                    doc,
                    &BTreeMap::new(),
                );
                if let PRef::Pending(id) = ty {
                    model_pending.insert(md.name.clone(), id);
                }
                continue;
            }
            let id = self.pending.len();
            self.pending.push(Pending {
                module: ModKey::Models,
                simple: name.clone(),
                owner: None,
                fixed: true,
                depth: 0,
                loc: md.loc.clone(),
                doc,
                kind: PKind::Struct(Vec::new()),
                name: None,
            });
            model_pending.insert(md.name.clone(), id);
        }
        // Bases first, so inherited properties reuse (and are named after)
        // the base model's types.
        let depths = extends_depths(m);
        let mut ordered: Vec<(usize, &crate::manifest::Model)> =
            depths.into_iter().zip(&m.models).collect();
        ordered.sort_by(|(da, a), (db, b)| (da, &a.name).cmp(&(db, &b.name)));
        let ordered = ordered.into_iter().map(|(_, md)| md);
        for md in ordered.filter(|md| md.value.is_none()) {
            let id = model_pending[&md.name];
            let fields = self.fields(&md.properties, ModKey::Models, Owner::Pending(id), 1);
            self.pending[id].kind = PKind::Struct(fields);
        }

        // Channels.
        let mut channel_shells = Vec::new();
        for (ci, c) in m.channels.iter().enumerate() {
            let module = ModKey::Channel(ci);
            let chan_pascal = self.ident_or_report(ident::pascal, &c.id, &c.loc, "Channel");
            let client = format!("{chan_pascal}Client");
            let handler = format!("{chan_pascal}Handler");
            let server = format!("{chan_pascal}Server");
            for (n, what) in [
                (&client, "client trait"),
                (&handler, "handler trait"),
                (&server, "server"),
            ] {
                self.pending.push(Pending {
                    module,
                    simple: n.clone(),
                    owner: None,
                    fixed: true,
                    depth: 0,
                    loc: c.loc.clone(),
                    doc: vec![what.to_owned()],
                    kind: PKind::Marker,
                    name: None,
                });
            }
            let methods: Vec<String> = c
                .requests
                .iter()
                .map(|r| self.ident_or_report(ident::snake, &r.name, &r.loc, "request"))
                .collect();
            self.check_unique(
                "request",
                c.requests
                    .iter()
                    .zip(&methods)
                    .map(|(r, n)| (r.name.as_str(), n.clone(), &r.loc)),
            );
            let mut reqs = Vec::new();
            for (r, method) in c.requests.iter().zip(methods) {
                let rp = ident::pascal(&r.name).unwrap_or_else(|| "Request".to_owned());
                let owner = Owner::Name(rp.clone());
                let args = if r.args.is_empty() {
                    None
                } else {
                    let id = self.pending.len();
                    self.pending.push(Pending {
                        module,
                        simple: format!("{rp}Args"),
                        owner: None,
                        fixed: true,
                        depth: 0,
                        loc: r.args_loc.clone(),
                        doc: vec![format!("Arguments of the `{}` request.", r.name)],
                        kind: PKind::Struct(Vec::new()),
                        name: None,
                    });
                    let fields = self.fields(&r.args, module, owner.clone(), 1);
                    self.pending[id].kind = PKind::Struct(fields);
                    Some(id)
                };
                let response = match &r.response {
                    None => PRef::Plain(TypeRef::Value),
                    Some(s) => {
                        let doc = describe(
                            s.display.as_deref(),
                            s.description.as_deref(),
                            format!("Result of the `{}` request.", r.name),
                        );
                        self.type_of(
                            s,
                            module,
                            format!("{rp}Response"),
                            None,
                            true,
                            0,
                            doc,
                            &model_pending,
                        )
                    }
                };
                let error = if r.error_codes.is_empty() {
                    None
                } else {
                    let variants: Vec<String> = r
                        .error_codes
                        .iter()
                        .map(|(c, l)| self.ident_or_report(ident::pascal, c, l, "Error"))
                        .collect();
                    self.check_unique(
                        "error code",
                        r.error_codes
                            .iter()
                            .zip(variants)
                            .map(|((c, l), v)| (c.as_str(), v, l)),
                    );
                    let id = self.pending.len();
                    self.pending.push(Pending {
                        module,
                        simple: format!("{rp}Error"),
                        owner: None,
                        fixed: true,
                        depth: 0,
                        loc: r.loc.clone(),
                        doc: vec![format!("The errors the `{}` request declares.", r.name)],
                        kind: PKind::Error {
                            request: r.name.clone(),
                            codes: r.error_codes.clone(),
                        },
                        name: None,
                    });
                    Some(id)
                };
                reqs.push((r, method, args, response, error));
            }
            channel_shells.push((c, modules[ci].clone(), client, handler, server, reqs));
        }

        self.resolve(&model_pending);
        let recursive = self.recursive_fields(&model_pending);

        // Materialise. Each pending type's kind and doc move into its
        // definition (only names, modules and locations are read after
        // this), so the pending types and the definitions are not both held
        // whole at once. What a field's `default` refers to is read first.
        let value_models: HashMap<usize, ValueModel> = model_pending
            .values()
            .filter_map(|&id| match self.pending[id].kind {
                PKind::Enum { .. } => Some((id, ValueModel::Enum)),
                PKind::Newtype { .. } => Some((id, ValueModel::Newtype)),
                _ => None,
            })
            .collect();
        let mut per_module: BTreeMap<ModKey, Vec<TypeDef>> = BTreeMap::new();
        for id in 0..self.pending.len() {
            let Some(name) = self.pending[id].name.clone() else {
                continue;
            };
            let kind = std::mem::replace(&mut self.pending[id].kind, PKind::Marker);
            let doc = std::mem::take(&mut self.pending[id].doc);
            let module = self.pending[id].module;
            let def = match kind {
                PKind::Marker => continue,
                PKind::Struct(fields) => TypeDef::Struct {
                    fields: fields
                        .into_iter()
                        .enumerate()
                        .map(|(fi, f)| {
                            let ty = self.type_ref(&f.ty, &model_pending);
                            let model_default =
                                self.model_default(&f, &model_pending, &value_models);
                            FieldIr {
                                ident: ident::snake(&f.wire).unwrap_or_else(|| "field".to_owned()),
                                wire: f.wire,
                                doc: f.doc,
                                ty: if recursive.contains(&(id, fi)) {
                                    TypeRef::Boxed(Box::new(ty))
                                } else {
                                    ty
                                },
                                required: f.required,
                                default: f.default,
                                model_default,
                            }
                        })
                        .collect(),
                    name,
                    doc,
                },
                PKind::Newtype {
                    base,
                    constraints,
                    default,
                } => TypeDef::Newtype {
                    macro_name: ident::snake_plain(&name).unwrap_or_else(|| "value".to_owned()),
                    name,
                    doc,
                    base,
                    constraints,
                    default,
                    pointer: self.pending[id].loc.pointer.clone(),
                },
                PKind::Enum { values, default } => TypeDef::Enum {
                    default: default
                        .as_ref()
                        .and_then(|d| values.iter().position(|v| v == d)),
                    variants: values
                        .into_iter()
                        .map(|v| (ident::pascal(&v).unwrap_or_else(|| "Empty".to_owned()), v))
                        .collect(),
                    name,
                    doc,
                },
                PKind::Error { request, codes } => TypeDef::ErrorEnum {
                    name,
                    doc,
                    request,
                    variants: codes
                        .into_iter()
                        .map(|(c, _)| (ident::pascal(&c).unwrap_or_else(|| "Error".to_owned()), c))
                        .collect(),
                },
            };
            per_module.entry(module).or_default().push(def);
        }
        for defs in per_module.values_mut() {
            defs.sort_by(|a, b| a.name().cmp(b.name()));
        }

        // Macro names must be unique per module too.
        let mut clashes: Vec<(ModKey, String, String)> = Vec::new();
        for (key, defs) in &per_module {
            let mut seen = HashSet::new();
            for d in defs {
                if let TypeDef::Newtype {
                    macro_name,
                    pointer,
                    ..
                } = d
                    && !seen.insert(macro_name.as_str())
                {
                    clashes.push((*key, pointer.clone(), macro_name.clone()));
                }
            }
        }
        if !clashes.is_empty() {
            let locs: HashMap<(ModKey, &str), &Loc> = self
                .pending
                .iter()
                .map(|p| ((p.module, p.loc.pointer.as_str()), &p.loc))
                .collect();
            let found: Vec<(Loc, String)> = clashes
                .iter()
                .map(|(key, pointer, macro_name)| {
                    (
                        locs.get(&(*key, pointer.as_str()))
                            .map(|l| (*l).clone())
                            .unwrap_or_default(),
                        macro_name.clone(),
                    )
                })
                .collect();
            for (loc, macro_name) in found {
                self.error(
                    &loc,
                    format!(
                        "the literal macro `{macro_name}!` would be generated twice in one module"
                    ),
                );
            }
        }

        let channels = channel_shells
            .into_iter()
            .enumerate()
            .map(|(ci, (c, module, client, handler, server, reqs))| {
                let mut const_names: BTreeSet<String> = ["CHANNEL_ID", "MANIFEST"]
                    .into_iter()
                    .map(String::from)
                    .collect();
                let requests = reqs
                    .into_iter()
                    .map(|(r, method, args, response, error)| {
                        let mut const_name =
                            ident::screaming(&r.name).unwrap_or_else(|| "REQUEST".to_owned());
                        if const_names.contains(&const_name) {
                            const_name = format!("{const_name}_REQUEST");
                        }
                        const_names.insert(const_name.clone());
                        RequestIr {
                            wire: r.name.clone(),
                            method,
                            const_name,
                            doc: describe(
                                r.display.as_deref(),
                                r.description.as_deref(),
                                format!("The `{}` request.", r.name),
                            ),
                            args: args.and_then(|id| self.pending[id].name.clone()),
                            response: self.type_ref(&response, &model_pending),
                            error: error.and_then(|id| self.pending[id].name.clone()),
                        }
                    })
                    .collect();
                ChannelIr {
                    id: c.id.clone(),
                    module,
                    doc: describe(
                        c.name.as_deref(),
                        c.description.as_deref(),
                        format!("The `{}` channel.", c.id),
                    ),
                    client,
                    handler,
                    server,
                    requests,
                    types: per_module.remove(&ModKey::Channel(ci)).unwrap_or_default(),
                }
            })
            .collect();
        let mut doc = Vec::new();
        if let Some(n) = &m.name {
            doc.push(format!("{n} (version {}).", m.version));
        }
        doc.extend(doc_lines(m.description.as_deref()));
        Ir {
            doc,
            models_module,
            models: per_module.remove(&ModKey::Models).unwrap_or_default(),
            channels,
        }
    }

    fn fields(
        &mut self,
        fields: &[Field],
        module: ModKey,
        owner: Owner,
        depth: usize,
    ) -> Vec<PField> {
        let idents: Vec<String> = fields
            .iter()
            .map(|f| self.ident_or_report(ident::snake, &f.name, &f.loc, "field"))
            .collect();
        self.check_unique(
            "field",
            fields
                .iter()
                .zip(&idents)
                .map(|(f, n)| (f.name.as_str(), n.clone(), &f.loc)),
        );
        let mut out = Vec::new();
        for f in fields {
            let simple = ident::type_name(&f.name).unwrap_or_else(|| "Field".to_owned());
            let doc = describe(
                f.schema.display.as_deref(),
                f.schema.description.as_deref(),
                format!("`{}`", f.name),
            );
            let ty = match self.field_types.get(&f.loc.pointer) {
                Some(shared) => shared.clone(),
                None => {
                    let ty = self.type_of(
                        &f.schema,
                        module,
                        simple,
                        Some(owner.clone()),
                        false,
                        depth,
                        doc.clone(),
                        &BTreeMap::new(),
                    );
                    self.field_types.insert(f.loc.pointer.clone(), ty.clone());
                    ty
                }
            };
            out.push(PField {
                wire: f.name.clone(),
                doc,
                ty,
                required: f.required,
                default: f.schema.default.clone(),
            });
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn type_of(
        &mut self,
        s: &Schema,
        module: ModKey,
        simple: String,
        owner: Option<Owner>,
        fixed: bool,
        depth: usize,
        doc: Vec<String>,
        models: &BTreeMap<String, usize>,
    ) -> PRef {
        let _ = models;
        let push = |b: &mut Self, kind: PKind| {
            let id = b.pending.len();
            b.pending.push(Pending {
                module,
                simple: simple.clone(),
                owner: owner.clone(),
                fixed,
                depth,
                loc: s.loc.clone(),
                doc: doc.clone(),
                kind,
                name: None,
            });
            id
        };
        if let Some(model) = &s.model {
            // The value model's own type.
            return PRef::Model(model.clone());
        }
        match &s.ty {
            Ty::String => {
                if let Some(values) = &s.enum_values {
                    let variants: Vec<String> = values
                        .iter()
                        .map(|v| ident::pascal(v).unwrap_or_default())
                        .collect();
                    for (v, id) in values.iter().zip(&variants) {
                        if id.is_empty() {
                            self.error(
                                &s.loc,
                                format!("enum value `{v}` has no letter or digit to build a Rust variant name from"),
                            );
                        }
                    }
                    let mut locs = s.enum_locs.clone();
                    locs.resize(values.len(), s.loc.clone());
                    self.check_unique(
                        "enum value",
                        values
                            .iter()
                            .zip(variants)
                            .zip(&locs)
                            .filter(|((_, i), _)| !i.is_empty())
                            .map(|((v, i), l)| (v.as_str(), i, l)),
                    );
                    let id = push(
                        self,
                        PKind::Enum {
                            values: values.clone(),
                            default: s
                                .default
                                .as_ref()
                                .and_then(|d| d.as_str().map(str::to_owned)),
                        },
                    );
                    PRef::Pending(id)
                } else if s.is_constrained() {
                    PRef::Pending(push(self, newtype(s, Base::Str)))
                } else {
                    PRef::Plain(TypeRef::String)
                }
            }
            Ty::Integer if s.is_constrained() => PRef::Pending(push(self, newtype(s, Base::Int))),
            Ty::Integer => PRef::Plain(TypeRef::I64),
            Ty::Number if s.is_constrained() => PRef::Pending(push(self, newtype(s, Base::Num))),
            Ty::Number => PRef::Plain(TypeRef::F64),
            Ty::Boolean => PRef::Plain(TypeRef::Bool),
            Ty::Unknown => PRef::Plain(TypeRef::Value),
            Ty::Object(None) => PRef::Plain(TypeRef::Map),
            Ty::ModelRef(name) => PRef::Model(name.clone()),
            Ty::Array(items) => {
                let item_doc = vec![format!(
                    "An element of {}",
                    doc.first().cloned().unwrap_or_default()
                )];
                PRef::Vec(Box::new(self.type_of(
                    items,
                    module,
                    format!("{simple}Item"),
                    owner,
                    fixed,
                    depth,
                    item_doc,
                    models,
                )))
            }
            Ty::Object(Some(fields)) => {
                let id = push(self, PKind::Struct(Vec::new()));
                let f = self.fields(fields, module, Owner::Pending(id), depth + 1);
                self.pending[id].kind = PKind::Struct(f);
                PRef::Pending(id)
            }
        }
    }

    /// How a field of a value model's type gets its `default`.
    fn model_default(
        &self,
        f: &PField,
        models: &BTreeMap<String, usize>,
        value_models: &HashMap<usize, ValueModel>,
    ) -> Option<ModelDefault> {
        let (PRef::Model(name), Some(default)) = (&f.ty, &f.default) else {
            return None;
        };
        let id = *models.get(name)?;
        match value_models.get(&id)? {
            ValueModel::Enum => Some(ModelDefault::Variant(
                ident::pascal(default.as_str()?).unwrap_or_else(|| "Empty".to_owned()),
            )),
            ValueModel::Newtype => Some(ModelDefault::Macro(
                ident::snake_plain(self.pending[id].name.as_deref()?)
                    .unwrap_or_else(|| "value".to_owned()),
            )),
        }
    }

    fn type_ref(&self, r: &PRef, models: &BTreeMap<String, usize>) -> TypeRef {
        match r {
            PRef::Plain(t) => t.clone(),
            PRef::Vec(inner) => TypeRef::Vec(Box::new(self.type_ref(inner, models))),
            PRef::Pending(id) => {
                let p = &self.pending[*id];
                TypeRef::Named(TypeId {
                    module: p.module,
                    name: p.name.clone().unwrap_or_default(),
                })
            }
            PRef::Model(name) => match models.get(name) {
                Some(id) => TypeRef::Named(TypeId {
                    module: ModKey::Models,
                    name: self.pending[*id].name.clone().unwrap_or_default(),
                }),
                None => TypeRef::Value,
            },
        }
    }

    /// Resolves every pending type's name, module by module, depth by depth.
    fn resolve(&mut self, _models: &BTreeMap<String, usize>) {
        // Pending types by module, and by depth, each in creation order.
        let mut by_module: BTreeMap<ModKey, (Vec<usize>, ByDepth)> = BTreeMap::new();
        for (i, p) in self.pending.iter().enumerate() {
            let (fixed, by_depth) = by_module.entry(p.module).or_default();
            if p.fixed {
                fixed.push(i);
            } else if p.depth >= 1 {
                by_depth.entry(p.depth).or_default().push(i);
            }
        }
        for (fixed, by_depth) in by_module.into_values() {
            let mut taken: HashMap<String, usize> = HashMap::new();
            // Fixed names.
            for i in fixed {
                let name = self.pending[i].simple.clone();
                if let Some(&other) = taken.get(&name) {
                    let (ol, l) = (self.pending[other].loc.clone(), self.pending[i].loc.clone());
                    // Already reported as two wire names with one identifier?
                    if self.error_pointers.contains(&l.pointer) {
                        continue;
                    }
                    self.error(
                        &l,
                        format!(
                            "the generated name `{name}` is needed twice in one module (also for {} at line {}, column {})",
                            ol.pointer, ol.pos.line, ol.pos.column
                        ),
                    );
                }
                taken.insert(name.clone(), i);
                self.pending[i].name = Some(name);
            }
            for claim in by_depth.into_values() {
                let mut counts: HashMap<String, usize> = HashMap::new();
                for &i in &claim {
                    *counts.entry(self.pending[i].simple.clone()).or_default() += 1;
                }
                let mut chosen: Vec<(usize, String)> = Vec::new();
                for &i in &claim {
                    let p = &self.pending[i];
                    let contested = counts[&p.simple] > 1 || taken.contains_key(&p.simple);
                    let name = if contested {
                        let owner = match &p.owner {
                            Some(Owner::Name(n)) => n.clone(),
                            Some(Owner::Pending(o)) => {
                                self.pending[*o].name.clone().unwrap_or_default()
                            }
                            None => String::new(),
                        };
                        format!("{owner}{}", p.simple)
                    } else {
                        p.simple.clone()
                    };
                    chosen.push((i, name));
                }
                for (i, name) in chosen {
                    if let Some(&other) = taken.get(&name) {
                        let (ol, l) =
                            (self.pending[other].loc.clone(), self.pending[i].loc.clone());
                        self.error(
                            &l,
                            format!(
                                "the generated type name `{name}` clashes with the one for {} (line {}, column {}), even qualified by its owner",
                                ol.pointer, ol.pos.line, ol.pos.column
                            ),
                        );
                    }
                    taken.insert(name.clone(), i);
                    self.pending[i].name = Some(name);
                }
            }
        }
    }

    /// Fields (struct pending id, field index) that must be boxed because
    /// they embed a struct that embeds their own struct.
    fn recursive_fields(&self, models: &BTreeMap<String, usize>) -> BTreeSet<(usize, usize)> {
        let target = |r: &PRef| -> Option<usize> {
            match r {
                PRef::Pending(id) => Some(*id),
                PRef::Model(n) => models.get(n).copied(),
                _ => None,
            }
        };
        let mut edges: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (id, p) in self.pending.iter().enumerate() {
            if let PKind::Struct(fields) = &p.kind {
                edges.insert(id, fields.iter().filter_map(|f| target(&f.ty)).collect());
            }
        }
        // A field must be boxed when its struct and its target are in one
        // strongly connected component (the target reaches back).
        let component = components(self.pending.len(), &edges);
        let mut out = BTreeSet::new();
        for (id, p) in self.pending.iter().enumerate() {
            if let PKind::Struct(fields) = &p.kind {
                for (fi, f) in fields.iter().enumerate() {
                    if let Some(t) = target(&f.ty)
                        && component[t] == component[id]
                    {
                        out.insert((id, fi));
                    }
                }
            }
        }
        out
    }
}

/// Pending type ids by depth.
type ByDepth = BTreeMap<usize, Vec<usize>>;

/// The strongly connected component of each of `count` nodes (Tarjan's
/// algorithm, iterative: a long chain cannot exhaust the stack).
fn components(count: usize, edges: &BTreeMap<usize, Vec<usize>>) -> Vec<usize> {
    const UNSEEN: usize = usize::MAX;
    let mut index = vec![UNSEEN; count];
    let mut low = vec![0; count];
    let mut on_stack = vec![false; count];
    let mut component = vec![UNSEEN; count];
    let mut stack: Vec<usize> = Vec::new();
    let mut next_index = 0;
    let mut next_component = 0;
    let no_edges: Vec<usize> = Vec::new();
    let successors = |n: usize| edges.get(&n).unwrap_or(&no_edges);
    for root in 0..count {
        if index[root] != UNSEEN {
            continue;
        }
        // (node, next successor to visit)
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (node, ref mut next)) = work.last_mut() {
            if let Some(&succ) = successors(node).get(*next) {
                *next += 1;
                if index[succ] == UNSEEN {
                    index[succ] = next_index;
                    low[succ] = next_index;
                    next_index += 1;
                    stack.push(succ);
                    on_stack[succ] = true;
                    work.push((succ, 0));
                } else if on_stack[succ] {
                    low[node] = low[node].min(index[succ]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[node]);
            }
            if low[node] == index[node] {
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    component[member] = next_component;
                    if member == node {
                        break;
                    }
                }
                next_component += 1;
            }
        }
    }
    component
}

/// How many `extends` steps each model is from a model without a base
/// (models on a cycle count as their distance to the cycle), computed once
/// per model.
fn extends_depths(m: &Manifest) -> Vec<usize> {
    const UNKNOWN: usize = usize::MAX;
    let base: Vec<Option<usize>> = m
        .models
        .iter()
        .map(|md| md.base().and_then(|b| m.model_index(b)))
        .collect();
    let mut depth = vec![UNKNOWN; m.models.len()];
    let mut on_path = vec![false; m.models.len()];
    let mut path = Vec::new();
    for start in 0..m.models.len() {
        let mut cur = Some(start);
        path.clear();
        // Up to a model whose depth is known, a root, or a cycle.
        let mut known = 0;
        while let Some(c) = cur {
            if depth[c] != UNKNOWN {
                known = depth[c] + 1;
                break;
            }
            if on_path[c] {
                break;
            }
            on_path[c] = true;
            path.push(c);
            cur = base[c];
        }
        for (k, &p) in path.iter().rev().enumerate() {
            depth[p] = known + k;
            on_path[p] = false;
        }
    }
    depth
}

fn newtype(s: &Schema, base: Base) -> PKind {
    PKind::Newtype {
        base,
        constraints: Constraints {
            min_length: s.min_length,
            max_length: s.max_length,
            pattern: s.pattern.clone(),
            minimum: s.minimum,
            maximum: s.maximum,
        },
        default: s.default.clone(),
    }
}
