//! Rust emission from the IR.
//!
//! Every path is absolute: the runtime as `::janus_runtime::…`, serde,
//! serde_json and janus_constraints as `::janus_runtime::__private::…`, std
//! items as `::std::…`. Generated modules refer to each other with `super::`,
//! so the code can be included in any module of the user's crate.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};
use serde_json::Value;

use crate::Options;
use crate::ir::{Base, ChannelIr, Constraints, FieldIr, Ir, ModKey, RequestIr, TypeDef, TypeRef};
use crate::manifest::Num;

/// Where the generated `MANIFEST` constant gets its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestSource {
    /// Embedded as a string literal.
    Literal(String),
    /// `include_str!` of this absolute path (rebuilds when the file changes).
    IncludeStr(String),
}

/// An identifier, raw when the text says so (`r#type`).
pub fn ident(s: &str) -> Ident {
    match s.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(s, Span::call_site()),
    }
}

fn docs(lines: &[String]) -> TokenStream {
    let lines = lines.iter().map(|l| {
        let text = if l.is_empty() {
            String::new()
        } else {
            format!(" {l}")
        };
        quote!(#[doc = #text])
    });
    quote!(#(#lines)*)
}

fn doc_text(text: &str) -> TokenStream {
    docs(&text.lines().map(str::to_owned).collect::<Vec<_>>())
}

/// FNV-1a, 64 bits: a stable id for a literal check.
pub fn fnv64(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

struct Ctx<'a> {
    options: &'a Options,
    models: Ident,
    module: ModKey,
    manifest_file: &'a str,
}

fn rt() -> TokenStream {
    quote!(::janus_runtime)
}
fn private() -> TokenStream {
    quote!(::janus_runtime::__private)
}
fn json() -> TokenStream {
    quote!(::janus_runtime::__private::serde_json)
}
fn serde() -> TokenStream {
    quote!(::janus_runtime::__private::serde)
}
fn jc() -> TokenStream {
    quote!(::janus_runtime::__private::janus_constraints)
}
fn support() -> TokenStream {
    quote!(::janus_runtime::__private::support)
}
fn string_ty() -> TokenStream {
    quote!(::std::string::String)
}

impl Ctx<'_> {
    fn ty(&self, t: &TypeRef) -> TokenStream {
        match t {
            TypeRef::String => string_ty(),
            TypeRef::I64 => quote!(i64),
            TypeRef::F64 => quote!(f64),
            TypeRef::Bool => quote!(bool),
            TypeRef::Value => {
                let j = json();
                quote!(#j::Value)
            }
            TypeRef::Map => {
                let j = json();
                quote!(#j::Map<::std::string::String, #j::Value>)
            }
            TypeRef::Vec(inner) => {
                let inner = self.ty(inner);
                quote!(::std::vec::Vec<#inner>)
            }
            TypeRef::Boxed(inner) => {
                let inner = self.ty(inner);
                quote!(::std::boxed::Box<#inner>)
            }
            TypeRef::Named(id) => {
                let name = ident(&id.name);
                if id.module == self.module {
                    quote!(#name)
                } else {
                    let models = &self.models;
                    quote!(super::#models::#name)
                }
            }
        }
    }

    /// `#[derive(...)]` with the base derives and the extra ones from the
    /// options (an extra derive whose name is already derived is skipped).
    fn derives(&self, base: &[TokenStream]) -> TokenStream {
        let last = |t: &str| t.rsplit("::").next().unwrap_or_default().trim().to_owned();
        let have: Vec<String> = base.iter().map(|b| last(&b.to_string())).collect();
        let extra = self
            .options
            .derives
            .iter()
            .filter(|d| !have.contains(&last(d)))
            .filter_map(|d| syn::parse_str::<syn::Path>(d).ok());
        quote!(#[derive(#(#base,)* #(#extra),*)])
    }
}

fn json_literal(v: &Value, t: &TypeRef) -> TokenStream {
    match (t, v) {
        (TypeRef::String, Value::String(s)) => quote!(::std::convert::From::from(#s)),
        (TypeRef::I64, Value::Number(n)) => {
            let lit = Literal::i64_suffixed(n.as_i64().unwrap_or_default());
            quote!(#lit)
        }
        (TypeRef::F64, Value::Number(n)) => {
            let lit = Literal::f64_suffixed(n.as_f64().unwrap_or_default());
            quote!(#lit)
        }
        (TypeRef::Bool, Value::Bool(b)) => quote!(#b),
        _ => quote!(::std::default::Default::default()),
    }
}

/// Emits the whole file.
pub fn emit(
    ir: &Ir,
    options: &Options,
    manifest_file: &str,
    source: &ManifestSource,
    schema: &str,
) -> TokenStream {
    let models_ident = ident(&ir.models_module);
    let mut ctx = Ctx {
        options,
        models: models_ident.clone(),
        module: ModKey::Models,
        manifest_file,
    };
    let model_types: Vec<TokenStream> = ir.models.iter().map(|t| emit_type(&ctx, t)).collect();
    let models_doc = doc_text(&format!(
        "The models of the manifest: types shared by requests and responses.\n\nGenerated from `{manifest_file}`."
    ));
    let mut channels = Vec::new();
    for (i, c) in ir.channels.iter().enumerate() {
        ctx.module = ModKey::Channel(i);
        channels.push(emit_channel(&ctx, c));
    }
    let manifest_value = match source {
        ManifestSource::Literal(text) => quote!(#text),
        ManifestSource::IncludeStr(path) => quote!(::core::include_str!(#path)),
    };
    let mut manifest_doc = ir.doc.clone();
    if !manifest_doc.is_empty() {
        manifest_doc.push(String::new());
    }
    manifest_doc.push(format!(
        "The manifest this code was generated from (`{manifest_file}`), as JSON text; served by the `manifest` built-in request."
    ));
    let manifest_doc = docs(&manifest_doc);
    quote! {
        #models_doc
        #[allow(clippy::all)]
        pub mod #models_ident {
            #(#model_types)*
        }
        #(#channels)*
        #[doc(hidden)]
        pub static __JANUS_SCHEMA: ::janus_runtime::__private::support::EmbeddedSchema =
            ::janus_runtime::__private::support::EmbeddedSchema::new(#schema);
        #manifest_doc
        pub const MANIFEST: &str = #manifest_value;
    }
}

fn emit_type(ctx: &Ctx<'_>, t: &TypeDef) -> TokenStream {
    match t {
        TypeDef::Struct { name, doc, fields } => emit_struct(ctx, name, doc, fields),
        TypeDef::Newtype {
            name,
            doc,
            base,
            constraints,
            default,
            macro_name,
            pointer,
        } => emit_newtype(
            ctx,
            name,
            doc,
            *base,
            constraints,
            default.as_ref(),
            macro_name,
            pointer,
        ),
        TypeDef::Enum {
            name,
            doc,
            variants,
            default,
        } => emit_enum(ctx, name, doc, variants, *default),
        TypeDef::ErrorEnum {
            name,
            doc,
            request,
            variants,
        } => emit_error_enum(ctx, name, doc, request, variants),
    }
}

fn emit_struct(ctx: &Ctx<'_>, name: &str, doc_lines: &[String], fields: &[FieldIr]) -> TokenStream {
    let name_i = ident(name);
    let serde = serde();
    let serde_path = "::janus_runtime::__private::serde";
    let doc = docs(doc_lines);
    let derive = ctx.derives(&[
        quote!(::std::fmt::Debug),
        quote!(::std::clone::Clone),
        quote!(::std::cmp::PartialEq),
        quote!(#serde::Serialize),
        quote!(#serde::Deserialize),
    ]);
    let mut defs = Vec::new();
    let mut default_fns = Vec::new();
    let mut default_inits = Vec::new();
    let mut all_defaultable = true;
    for f in fields {
        let fi = ident(&f.ident);
        let wire = &f.wire;
        let fdoc = docs(&f.doc);
        let ty = ctx.ty(&f.ty);
        let optional = !f.required && f.default.is_none();
        if let Some(default) = &f.default {
            let fn_name = format_ident!("__janus_default_{}", crate::ident::unraw(&f.ident));
            let path = format!("{name}::{fn_name}");
            let body = match &f.ty {
                TypeRef::Named(_) => quote!(::std::default::Default::default()),
                other => json_literal(default, other),
            };
            default_fns.push(quote! {
                #[doc(hidden)]
                fn #fn_name() -> #ty { #body }
            });
            default_inits.push(quote!(#fi: Self::#fn_name()));
            defs.push(quote! {
                #fdoc
                #[serde(rename = #wire, default = #path)]
                pub #fi: #ty,
            });
        } else if optional {
            default_inits.push(quote!(#fi: ::std::option::Option::None));
            defs.push(quote! {
                #fdoc
                #[serde(rename = #wire, default, skip_serializing_if = "::std::option::Option::is_none")]
                pub #fi: ::std::option::Option<#ty>,
            });
        } else {
            all_defaultable = false;
            defs.push(quote! {
                #fdoc
                #[serde(rename = #wire)]
                pub #fi: #ty,
            });
        }
    }
    let default_impl = if all_defaultable {
        quote! {
            impl ::std::default::Default for #name_i {
                fn default() -> Self {
                    Self { #(#default_inits,)* }
                }
            }
        }
    } else {
        quote!()
    };
    let impl_block = if default_fns.is_empty() {
        quote!()
    } else {
        quote! {
            impl #name_i {
                #(#default_fns)*
            }
        }
    };
    quote! {
        #doc
        #derive
        #[serde(crate = #serde_path)]
        pub struct #name_i {
            #(#defs)*
        }

        #impl_block

        #default_impl
    }
}

fn constraint_doc(base: Base, c: &Constraints) -> Vec<String> {
    let mut parts = Vec::new();
    match (c.min_length, c.max_length) {
        (Some(a), Some(b)) => parts.push(format!("{a} to {b} characters")),
        (Some(a), None) => parts.push(format!("at least {a} characters")),
        (None, Some(b)) => parts.push(format!("at most {b} characters")),
        (None, None) => {}
    }
    if let Some(p) = &c.pattern {
        parts.push(format!("matches `{}`", p.replace('`', "\\`")));
    }
    let show = |n: Num| crate::manifest::show_num(n);
    match (c.minimum, c.maximum) {
        (Some(a), Some(b)) => parts.push(format!("from {} to {} inclusive", show(a), show(b))),
        (Some(a), None) => parts.push(format!("at least {}", show(a))),
        (None, Some(b)) => parts.push(format!("at most {}", show(b))),
        (None, None) => {}
    }
    let _ = base;
    if parts.is_empty() {
        Vec::new()
    } else {
        vec![String::new(), format!("Constraints: {}.", parts.join("; "))]
    }
}

fn opt<T: quote::ToTokens>(v: Option<T>) -> TokenStream {
    match v {
        Some(v) => quote!(::std::option::Option::Some(#v)),
        None => quote!(::std::option::Option::None),
    }
}

/// The literal spec the hidden `check_literal!` macro reads.
pub fn literal_spec(name: &str, base: Base, c: &Constraints, location: &str) -> String {
    let mut spec = serde_json::Map::new();
    spec.insert("type".into(), Value::from(name));
    spec.insert(
        "kind".into(),
        Value::from(match base {
            Base::Str => "string",
            Base::Int => "integer",
            Base::Num => "number",
        }),
    );
    if let Some(v) = c.min_length {
        spec.insert("minLength".into(), Value::from(v));
    }
    if let Some(v) = c.max_length {
        spec.insert("maxLength".into(), Value::from(v));
    }
    if let Some(v) = &c.pattern {
        spec.insert("pattern".into(), Value::from(v.as_str()));
    }
    let num = |n: Num| match n {
        Num::Int(i) => Value::from(i),
        Num::Float(f) => Value::from(f),
    };
    if let Some(v) = c.minimum {
        spec.insert("minimum".into(), num(v));
    }
    if let Some(v) = c.maximum {
        spec.insert("maximum".into(), num(v));
    }
    spec.insert("location".into(), Value::from(location));
    Value::Object(spec).to_string()
}

#[allow(clippy::too_many_arguments)]
fn emit_newtype(
    ctx: &Ctx<'_>,
    name: &str,
    doc_lines: &[String],
    base: Base,
    c: &Constraints,
    default: Option<&Value>,
    macro_name: &str,
    pointer: &str,
) -> TokenStream {
    let name_i = ident(name);
    let serde = serde();
    let j = json();
    let jc = jc();
    let s = support();
    let p = private();
    let mut all_doc = doc_lines.to_vec();
    all_doc.extend(constraint_doc(base, c));
    all_doc.push(String::new());
    all_doc.push(format!(
        "Built only through checks: [`new`](Self::new), `TryFrom`, `FromStr`, deserialization, or the compile-time checked literal macro `{macro_name}!`."
    ));
    let doc = docs(&all_doc);
    let location = format!("{}: {}", ctx.manifest_file, pointer);
    let spec = literal_spec(name, base, c, &location);
    let id = fnv64(&spec);
    let id_lit = Literal::u64_suffixed(id);
    let hidden_macro = format_ident!("__janus_literal_{}", macro_name);
    let macro_i = ident(macro_name);
    let macro_doc = doc_text(&format!(
        "Builds a [`{name}`] from a literal checked against the manifest's constraints while compiling: `{macro_name}!(…)`. A literal that breaks them is a compile error naming the constraint and `{location}`."
    ));
    let ok = quote!(::std::result::Result::Ok);
    let err = quote!(::std::result::Result::Err);
    let invalid = quote!(#jc::InvalidValue);
    let violation = quote!(#jc::Violation);

    let (inner, derive_base, literal_ty, check_fn, json_type, accessors) = match base {
        Base::Str => {
            let min = opt(c.min_length.map(Literal::u64_suffixed));
            let max = opt(c.max_length.map(Literal::u64_suffixed));
            let (pattern_static, pattern_expr) = match &c.pattern {
                Some(source) => (
                    quote! {
                        static PATTERN: ::std::sync::LazyLock<::std::option::Option<#jc::Pattern>> =
                            ::std::sync::LazyLock::new(|| #jc::Pattern::new(#source).ok());
                        let pattern = match &*PATTERN {
                            ::std::option::Option::Some(pattern) => pattern,
                            ::std::option::Option::None => {
                                return #err(#violation::new(
                                    #jc::keyword::PATTERN,
                                    #j::Value::String(::std::convert::From::from(#source)),
                                    ::std::format!("pattern `{}` could not be compiled", #source),
                                ));
                            }
                        };
                    },
                    quote!(::std::option::Option::Some(pattern)),
                ),
                None => (quote!(), quote!(::std::option::Option::None)),
            };
            (
                string_ty(),
                vec![
                    quote!(::std::fmt::Debug),
                    quote!(::std::clone::Clone),
                    quote!(::std::cmp::PartialEq),
                    quote!(::std::cmp::Eq),
                    quote!(::std::hash::Hash),
                    quote!(::std::cmp::PartialOrd),
                    quote!(::std::cmp::Ord),
                ],
                quote!(&'static str),
                quote! {
                    /// Checks a value against the constraints, without building anything.
                    pub fn check(value: &str) -> ::std::result::Result<(), #violation> {
                        #pattern_static
                        #jc::check_string(value, &#jc::StringRules {
                            min_length: #min,
                            max_length: #max,
                            pattern: #pattern_expr,
                        })
                    }
                },
                quote!(String),
                quote! {
                    /// The value.
                    pub fn as_str(&self) -> &str {
                        &self.0
                    }

                    /// The value, unwrapped.
                    pub fn into_inner(self) -> ::std::string::String {
                        self.0
                    }
                },
            )
        }
        Base::Int => {
            let min = opt(c.minimum.and_then(Num::as_i64).map(Literal::i64_suffixed));
            let max = opt(c.maximum.and_then(Num::as_i64).map(Literal::i64_suffixed));
            (
                quote!(i64),
                vec![
                    quote!(::std::fmt::Debug),
                    quote!(::std::clone::Clone),
                    quote!(::std::marker::Copy),
                    quote!(::std::cmp::PartialEq),
                    quote!(::std::cmp::Eq),
                    quote!(::std::hash::Hash),
                    quote!(::std::cmp::PartialOrd),
                    quote!(::std::cmp::Ord),
                ],
                quote!(i64),
                quote! {
                    /// Checks a value against the constraints, without building anything.
                    pub fn check(value: i64) -> ::std::result::Result<(), #violation> {
                        #jc::check_integer(value, #min, #max)
                    }
                },
                quote!(Integer),
                quote! {
                    /// The value.
                    pub fn get(self) -> i64 {
                        self.0
                    }

                    /// The value, unwrapped.
                    pub fn into_inner(self) -> i64 {
                        self.0
                    }
                },
            )
        }
        Base::Num => {
            let min = opt(c.minimum.map(|n| Literal::f64_suffixed(n.as_f64())));
            let max = opt(c.maximum.map(|n| Literal::f64_suffixed(n.as_f64())));
            (
                quote!(f64),
                vec![
                    quote!(::std::fmt::Debug),
                    quote!(::std::clone::Clone),
                    quote!(::std::marker::Copy),
                    quote!(::std::cmp::PartialEq),
                    quote!(::std::cmp::PartialOrd),
                ],
                quote!(f64),
                quote! {
                    /// Checks a value against the constraints, without building anything.
                    pub fn check(value: f64) -> ::std::result::Result<(), #violation> {
                        #jc::check_number(value, #min, #max)
                    }
                },
                quote!(Number),
                quote! {
                    /// The value.
                    pub fn get(self) -> f64 {
                        self.0
                    }

                    /// The value, unwrapped.
                    pub fn into_inner(self) -> f64 {
                        self.0
                    }
                },
            )
        }
    };
    let derive = ctx.derives(&derive_base);
    let json_type = format_ident!("{}", json_type.to_string());
    let (new_sig, new_conv, deref_target, from_str_body, try_from_impls, ser) = match base {
        Base::Str => (
            quote!(value: impl ::std::convert::Into<::std::string::String>),
            quote!(let value: ::std::string::String = ::std::convert::Into::into(value);),
            quote!(str),
            quote!(Self::new(value)),
            quote! {
                impl ::std::convert::TryFrom<::std::string::String> for #name_i {
                    type Error = #invalid;
                    fn try_from(value: ::std::string::String) -> ::std::result::Result<Self, #invalid> {
                        Self::new(value)
                    }
                }
                impl ::std::convert::TryFrom<&str> for #name_i {
                    type Error = #invalid;
                    fn try_from(value: &str) -> ::std::result::Result<Self, #invalid> {
                        Self::new(value)
                    }
                }
                impl ::std::convert::From<#name_i> for ::std::string::String {
                    fn from(value: #name_i) -> Self {
                        value.0
                    }
                }
                impl ::std::convert::AsRef<str> for #name_i {
                    fn as_ref(&self) -> &str {
                        &self.0
                    }
                }
            },
            quote!(serializer.serialize_str(&self.0)),
        ),
        Base::Int | Base::Num => {
            let prim = inner.clone();
            let jt = json_type.clone();
            let ser = if base == Base::Int {
                quote!(serializer.serialize_i64(self.0))
            } else {
                quote!(serializer.serialize_f64(self.0))
            };
            (
                quote!(value: #prim),
                quote!(),
                prim.clone(),
                quote! {
                    match value.trim().parse::<#prim>() {
                        ::std::result::Result::Ok(parsed) => Self::new(parsed),
                        ::std::result::Result::Err(_) => {
                            let shown = #j::Value::String(::std::convert::From::from(value));
                            match #jc::check_type(&shown, #jc::JsonType::#jt) {
                                ::std::result::Result::Err(violation) => ::std::result::Result::Err(#invalid::new(#name, violation)),
                                ::std::result::Result::Ok(()) => ::std::result::Result::Err(#invalid::new(#name, #jc::missing_required())),
                            }
                        }
                    }
                },
                quote! {
                    impl ::std::convert::TryFrom<#prim> for #name_i {
                        type Error = #invalid;
                        fn try_from(value: #prim) -> ::std::result::Result<Self, #invalid> {
                            Self::new(value)
                        }
                    }
                    impl ::std::convert::From<#name_i> for #prim {
                        fn from(value: #name_i) -> Self {
                            value.0
                        }
                    }
                },
                ser,
            )
        }
    };
    let check_arg = match base {
        Base::Str => quote!(&value),
        _ => quote!(value),
    };
    let literal_build = match base {
        Base::Str => quote!(Self(::std::convert::From::from(value))),
        _ => quote!(Self(value)),
    };
    let default_impl = match default {
        Some(v) => {
            let lit = match base {
                Base::Str => {
                    let s = v.as_str().unwrap_or_default();
                    quote!(::std::convert::From::from(#s))
                }
                Base::Int => {
                    let l = Literal::i64_suffixed(v.as_i64().unwrap_or_default());
                    quote!(#l)
                }
                Base::Num => {
                    let l = Literal::f64_suffixed(v.as_f64().unwrap_or_default());
                    quote!(#l)
                }
            };
            quote! {
                impl ::std::default::Default for #name_i {
                    /// The manifest's `default`.
                    fn default() -> Self {
                        Self(#lit)
                    }
                }
            }
        }
        None => quote!(),
    };
    let deser_prim = inner.clone();
    quote! {
        #doc
        #derive
        pub struct #name_i(#inner);

        impl #name_i {
            /// Builds the value if it satisfies the manifest's constraints.
            pub fn new(#new_sig) -> ::std::result::Result<Self, #invalid> {
                #new_conv
                match Self::check(#check_arg) {
                    #ok(()) => #ok(Self(value)),
                    #err(violation) => #err(#invalid::new(#name, violation)),
                }
            }

            #check_fn

            #accessors
        }

        impl ::std::ops::Deref for #name_i {
            type Target = #deref_target;
            fn deref(&self) -> &#deref_target {
                &self.0
            }
        }

        impl ::std::fmt::Display for #name_i {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::std::str::FromStr for #name_i {
            type Err = #invalid;
            fn from_str(value: &str) -> ::std::result::Result<Self, #invalid> {
                #from_str_body
            }
        }

        #try_from_impls

        impl #serde::Serialize for #name_i {
            fn serialize<S: #serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                #ser
            }
        }

        impl<'de> #serde::Deserialize<'de> for #name_i {
            fn deserialize<D: #serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                let value = <#deser_prim as #serde::Deserialize<'de>>::deserialize(deserializer)?;
                Self::new(value).map_err(<D::Error as #serde::de::Error>::custom)
            }
        }

        impl #s::FromCheckedLiteral<#id_lit> for #name_i {
            type Literal = #literal_ty;
            fn from_checked_literal(value: #literal_ty) -> Self {
                #literal_build
            }
        }

        #default_impl

        #[doc(hidden)]
        #[allow(unused_macros)]
        macro_rules! #hidden_macro {
            ($value:literal) => {
                #s::from_checked_literal::<_, #id_lit>(#p::check_literal!(#spec, $value))
            };
        }
        #macro_doc
        #[allow(unused_imports)]
        pub(crate) use #hidden_macro as #macro_i;
    }
}

fn emit_enum(
    ctx: &Ctx<'_>,
    name: &str,
    doc_lines: &[String],
    variants: &[(String, String)],
    default: Option<usize>,
) -> TokenStream {
    let name_i = ident(name);
    let serde = serde();
    let jc = jc();
    let s = support();
    let doc = docs(doc_lines);
    let derive = ctx.derives(&[
        quote!(::std::fmt::Debug),
        quote!(::std::clone::Clone),
        quote!(::std::marker::Copy),
        quote!(::std::cmp::PartialEq),
        quote!(::std::cmp::Eq),
        quote!(::std::hash::Hash),
        quote!(::std::cmp::PartialOrd),
        quote!(::std::cmp::Ord),
    ]);
    let idents: Vec<Ident> = variants.iter().map(|(v, _)| ident(v)).collect();
    let wires: Vec<&str> = variants.iter().map(|(_, w)| w.as_str()).collect();
    let vdocs: Vec<TokenStream> = wires.iter().map(|w| doc_text(&format!("`{w}`"))).collect();
    let count = Literal::usize_unsuffixed(variants.len());
    let default_impl = match default {
        Some(i) => {
            let v = &idents[i];
            quote! {
                impl ::std::default::Default for #name_i {
                    /// The manifest's `default`.
                    fn default() -> Self {
                        Self::#v
                    }
                }
            }
        }
        None => quote!(),
    };
    let invalid = quote!(#jc::InvalidValue);
    quote! {
        #doc
        #derive
        pub enum #name_i {
            #(#vdocs #idents,)*
        }

        impl #name_i {
            /// Every value, in manifest order.
            pub const ALL: [Self; #count] = [#(Self::#idents),*];

            /// The wire value.
            pub const fn as_str(self) -> &'static str {
                match self {
                    #(Self::#idents => #wires,)*
                }
            }
        }

        impl ::std::fmt::Display for #name_i {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for #name_i {
            type Err = #invalid;
            fn from_str(value: &str) -> ::std::result::Result<Self, #invalid> {
                match value {
                    #(#wires => ::std::result::Result::Ok(Self::#idents),)*
                    other => ::std::result::Result::Err(#invalid::new(#name, #s::enum_violation(other, &[#(#wires),*]))),
                }
            }
        }

        impl #serde::Serialize for #name_i {
            fn serialize<S: #serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> #serde::Deserialize<'de> for #name_i {
            fn deserialize<D: #serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                let value = <::std::string::String as #serde::Deserialize<'de>>::deserialize(deserializer)?;
                value.parse().map_err(<D::Error as #serde::de::Error>::custom)
            }
        }

        #default_impl
    }
}

fn emit_error_enum(
    _ctx: &Ctx<'_>,
    name: &str,
    doc_lines: &[String],
    request: &str,
    variants: &[(String, String)],
) -> TokenStream {
    let name_i = ident(name);
    let rt = rt();
    let mut all_doc = doc_lines.to_vec();
    all_doc.push(String::new());
    all_doc.push("A protocol name (`VALIDATION_FAILED`, `SECURITY_VIOLATION`, …) is sent with its protocol code; any other name is an application error, sent as `-32000` with the name in `data.errorType`.".to_owned());
    let doc = docs(&all_doc);
    let idents: Vec<Ident> = variants.iter().map(|(v, _)| ident(v)).collect();
    let wires: Vec<&str> = variants.iter().map(|(_, w)| w.as_str()).collect();
    let vdocs: Vec<TokenStream> = wires.iter().map(|w| doc_text(&format!("`{w}`"))).collect();
    let count = Literal::usize_unsuffixed(variants.len());
    quote! {
        #doc
        #[derive(::std::fmt::Debug, ::std::clone::Clone, ::std::marker::Copy, ::std::cmp::PartialEq, ::std::cmp::Eq, ::std::hash::Hash)]
        pub enum #name_i {
            #(#vdocs #idents,)*
        }

        impl #name_i {
            /// Every declared error, in manifest order.
            pub const ALL: [Self; #count] = [#(Self::#idents),*];

            /// The symbolic name (`data.errorType`).
            pub const fn error_type(self) -> &'static str {
                match self {
                    #(Self::#idents => #wires,)*
                }
            }

            /// The protocol code this error is sent with.
            pub fn code(self) -> #rt::ErrorCode {
                match #rt::ErrorCode::from_error_type(self.error_type()) {
                    ::std::option::Option::Some(code) => code,
                    ::std::option::Option::None => #rt::ErrorCode::ServerError,
                }
            }
        }

        impl ::std::fmt::Display for #name_i {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.error_type())
            }
        }

        impl ::std::error::Error for #name_i {}

        impl #rt::ApplicationError for #name_i {
            fn to_error_object(&self) -> #rt::ErrorObject {
                #rt::ErrorObject::with_type(
                    self.code(),
                    self.error_type(),
                    ::std::format!("request `{}` failed: {}", #request, self.error_type()),
                )
            }

            fn from_error_object(error: &#rt::ErrorObject) -> ::std::option::Option<Self> {
                match error.error_type() {
                    ::std::option::Option::Some(name) => ::std::iter::Iterator::find(
                        &mut ::std::iter::IntoIterator::into_iter(Self::ALL),
                        |e| e.error_type() == name,
                    ),
                    ::std::option::Option::None => ::std::iter::Iterator::find(&mut ::std::iter::IntoIterator::into_iter(Self::ALL), |e| {
                        match #rt::ErrorCode::from_error_type(e.error_type()) {
                            ::std::option::Option::Some(code) => code.code() == error.code,
                            ::std::option::Option::None => false,
                        }
                    }),
                }
            }
        }
    }
}

fn emit_channel(ctx: &Ctx<'_>, c: &ChannelIr) -> TokenStream {
    let module = ident(&c.module);
    let doc = docs(&c.doc);
    let id = &c.id;
    let types: Vec<TokenStream> = c.types.iter().map(|t| emit_type(ctx, t)).collect();
    let consts = c.requests.iter().map(|r| {
        let name = ident(&r.const_name);
        let wire = &r.wire;
        let d = doc_text(&format!("The wire name of the `{wire}` request."));
        quote!(#d pub const #name: &str = #wire;)
    });
    let client = if ctx.options.client {
        emit_client(ctx, c)
    } else {
        quote!()
    };
    let server = if ctx.options.server {
        emit_server(ctx, c)
    } else {
        quote!()
    };
    let chan_doc = doc_text(&format!("The channel id: `{id}`."));
    quote! {
        #doc
        #[allow(clippy::all)]
        pub mod #module {
            #chan_doc
            pub const CHANNEL_ID: &str = #id;
            #(#consts)*
            #(#types)*
            #client
            #server
        }
    }
}

fn response_and_error(ctx: &Ctx<'_>, r: &RequestIr) -> (TokenStream, TokenStream) {
    let resp = ctx.ty(&r.response);
    let err = match &r.error {
        Some(e) => {
            let e = ident(e);
            quote!(#e)
        }
        None => quote!(::std::convert::Infallible),
    };
    (resp, err)
}

fn emit_client(ctx: &Ctx<'_>, c: &ChannelIr) -> TokenStream {
    let s = support();
    let rt = rt();
    let j = json();
    let trait_name = ident(&c.client);
    let trait_doc = doc_text(&format!(
        "Typed calls to the `{}` channel. Implemented for [`::janus_runtime::Client`], so any client connected to a server of this channel can call them.",
        c.id
    ));
    let mut decls = Vec::new();
    let mut impls = Vec::new();
    for r in &c.requests {
        let method = ident(&r.method);
        let d = docs(&r.doc);
        let (resp, err) = response_and_error(ctx, r);
        let konst = ident(&r.const_name);
        let ret = quote!(impl ::std::future::Future<Output = ::std::result::Result<#resp, #rt::CallError<#err>>> + ::std::marker::Send);
        match &r.args {
            Some(args) => {
                let args = ident(args);
                decls.push(quote!(#d fn #method(&self, args: #args) -> #ret;));
                impls.push(quote! {
                    fn #method(&self, args: #args) -> #ret {
                        async move {
                            #s::call_checked::<#args, #resp>(self, &super::__JANUS_SCHEMA, CHANNEL_ID, #konst, &args)
                                .await
                                .map_err(#rt::CallError::into_application)
                        }
                    }
                });
            }
            None => {
                decls.push(quote!(#d fn #method(&self) -> #ret;));
                impls.push(quote! {
                    fn #method(&self) -> #ret {
                        async move {
                            #s::call_checked::<#j::Map<::std::string::String, #j::Value>, #resp>(self, &super::__JANUS_SCHEMA, CHANNEL_ID, #konst, &#j::Map::new())
                                .await
                                .map_err(#rt::CallError::into_application)
                        }
                    }
                });
            }
        }
    }
    quote! {
        #trait_doc
        pub trait #trait_name {
            #(#decls)*
        }

        impl #trait_name for #rt::Client {
            #(#impls)*
        }
    }
}

fn emit_server(ctx: &Ctx<'_>, c: &ChannelIr) -> TokenStream {
    let rt = rt();
    let j = json();
    let s = support();
    let handler = ident(&c.handler);
    let server = ident(&c.server);
    let handler_doc = doc_text(&format!(
        "What answers the `{}` channel: implement it (with `async fn`s) and serve it with [`{}`].",
        c.id, c.server
    ));
    let server_doc = doc_text(&format!(
        "The dispatcher of the `{}` channel: a [`::janus_runtime::Service`] that checks each request's arguments against the manifest, decodes them, calls the handler and encodes its result.",
        c.id
    ));
    let mut decls = Vec::new();
    let mut call_arms = Vec::new();
    let mut names = Vec::new();
    for r in &c.requests {
        let method = ident(&r.method);
        let d = docs(&r.doc);
        let (resp, err) = response_and_error(ctx, r);
        let konst = ident(&r.const_name);
        names.push(quote!(::std::convert::From::from(#konst)));
        let ret = quote!(impl ::std::future::Future<Output = ::std::result::Result<#resp, #rt::HandlerError<#err>>> + ::std::marker::Send);
        match &r.args {
            Some(args) => {
                let args = ident(args);
                decls.push(
                    quote!(#d fn #method(&self, ctx: &#rt::RequestContext, args: #args) -> #ret;),
                );
                call_arms.push(quote! {
                    #konst => ::std::boxed::Box::pin(async move {
                        let args = super::__JANUS_SCHEMA.checked_args(CHANNEL_ID, #konst, args)?;
                        let args: #args = #s::decode(#konst, args)?;
                        match handler.#method(&ctx, args).await {
                            ::std::result::Result::Ok(result) => #s::encode(#konst, &result),
                            ::std::result::Result::Err(error) => ::std::result::Result::Err(error.into_error_object()),
                        }
                    }),
                });
            }
            None => {
                decls.push(quote!(#d fn #method(&self, ctx: &#rt::RequestContext) -> #ret;));
                call_arms.push(quote! {
                    #konst => ::std::boxed::Box::pin(async move {
                        super::__JANUS_SCHEMA.checked_args(CHANNEL_ID, #konst, args)?;
                        match handler.#method(&ctx).await {
                            ::std::result::Result::Ok(result) => #s::encode(#konst, &result),
                            ::std::result::Result::Err(error) => ::std::result::Result::Err(error.into_error_object()),
                        }
                    }),
                });
            }
        }
    }
    let unused = if c.requests.is_empty() {
        quote!(let _ = (handler, ctx, args);)
    } else {
        quote!()
    };
    quote! {
        #handler_doc
        pub trait #handler: ::std::marker::Send + ::std::marker::Sync + 'static {
            #(#decls)*
        }

        #server_doc
        pub struct #server<H> {
            handler: ::std::sync::Arc<H>,
        }

        impl<H: #handler> #server<H> {
            /// Serves `handler`.
            pub fn new(handler: H) -> Self {
                Self { handler: ::std::sync::Arc::new(handler) }
            }

            /// Serves a shared handler.
            pub fn from_arc(handler: ::std::sync::Arc<H>) -> Self {
                Self { handler }
            }

            /// The handler.
            pub fn handler(&self) -> &::std::sync::Arc<H> {
                &self.handler
            }
        }

        impl<H> ::std::clone::Clone for #server<H> {
            fn clone(&self) -> Self {
                Self { handler: ::std::clone::Clone::clone(&self.handler) }
            }
        }

        impl<H> ::std::fmt::Debug for #server<H> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(::std::stringify!(#server))
            }
        }

        impl<H: #handler> #rt::Service for #server<H> {
            fn channel_id(&self) -> &str {
                CHANNEL_ID
            }

            fn requests(&self) -> ::std::vec::Vec<::std::string::String> {
                ::std::vec![#(#names),*]
            }

            fn manifest(&self) -> ::std::option::Option<&str> {
                ::std::option::Option::Some(super::MANIFEST)
            }

            fn validate(&self, request: &str, args: &#j::Value) -> ::std::result::Result<(), #rt::ErrorObject> {
                super::__JANUS_SCHEMA.validate(CHANNEL_ID, request, args)
            }

            fn call(
                &self,
                ctx: #rt::RequestContext,
                request: &str,
                args: #j::Value,
            ) -> #rt::BoxFuture<'static, ::std::result::Result<#j::Value, #rt::ErrorObject>> {
                let handler = ::std::clone::Clone::clone(&self.handler);
                #unused
                match request {
                    #(#call_arms)*
                    other => {
                        let error = #s::unknown_request(CHANNEL_ID, other);
                        ::std::boxed::Box::pin(async move { ::std::result::Result::Err(error) })
                    }
                }
            }
        }
    }
}
