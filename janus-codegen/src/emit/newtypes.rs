//! Constrained values: an alias of `::janus_runtime::Constrained` per value,
//! a zero-sized rule type carrying the manifest's limits, and the
//! compile-time checked literal macro. Every behaviour (checks, `TryFrom`,
//! `FromStr`, serde, `Display`, …) is implemented once, in the runtime.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use serde_json::Value;

use super::{Ctx, doc_text, docs, fnv64, ident, private, rt, rules_module, string_ty, typed};
use crate::ident;
use crate::ir::{Base, Constraints, FieldIr, ModelDefault, TypeDef, TypeRef};
use crate::manifest::Num;

/// A constrained value of the IR, borrowed.
pub(super) struct Newtype<'a> {
    name: &'a str,
    doc: &'a [String],
    base: Base,
    constraints: &'a Constraints,
    default: Option<&'a Value>,
    macro_name: &'a str,
    pointer: &'a str,
}

impl<'a> Newtype<'a> {
    /// The constrained value `t` is, if it is one.
    pub(super) fn of(t: &'a TypeDef) -> Option<Self> {
        match t {
            TypeDef::Newtype {
                name,
                doc,
                base,
                constraints,
                default,
                macro_name,
                pointer,
            } => Some(Self {
                name,
                doc,
                base: *base,
                constraints,
                default: default.as_ref(),
                macro_name,
                pointer,
            }),
            _ => None,
        }
    }

    fn location(&self, ctx: &Ctx) -> String {
        format!("{}: {}", ctx.manifest_file(), self.pointer)
    }

    fn literal_id(&self, ctx: &Ctx) -> Literal {
        let spec = literal_spec(self.name, self.base, self.constraints, &self.location(ctx));
        Literal::u64_suffixed(fnv64(&spec))
    }
}

fn base_ty(base: Base) -> TokenStream {
    match base {
        Base::Str => string_ty(),
        Base::Int => quote!(i64),
        Base::Num => quote!(f64),
    }
}

/// `pub type Username = ::janus_runtime::Constrained<String, __rules::Username>;`
pub(super) fn alias(_ctx: &Ctx, n: &Newtype<'_>) -> TokenStream {
    let name = ident(n.name);
    let rules = rules_module();
    let rt = rt();
    let base = base_ty(n.base);
    let mut doc = n.doc.to_vec();
    doc.extend(constraint_doc(n.constraints));
    doc.push(String::new());
    doc.push(format!(
        "Built only through checks: [`new`](::janus_runtime::Constrained::new), `TryFrom`, `FromStr`, deserialization, or the compile-time checked literal macro `{}!`.",
        n.macro_name
    ));
    let doc = docs(&doc);
    quote! {
        #doc
        pub type #name = #rt::Constrained<#base, #rules::#name>;
    }
}

/// The rule type: the name and limits as associated constants, the
/// manifest's default, the id of its literal check.
pub(super) fn rule(ctx: &Ctx, n: &Newtype<'_>) -> TokenStream {
    let name = ident(n.name);
    let type_name = n.name;
    let t = typed();
    let p = private();
    let base = base_ty(n.base);
    let limits = limits(n.base, n.constraints);
    let (limits_ty, literal_ty) = match n.base {
        Base::Str => (quote!(StringLimits), quote!(&'static str)),
        Base::Int => (quote!(IntegerLimits), quote!(i64)),
        Base::Num => (quote!(NumberLimits), quote!(f64)),
    };
    let id = n.literal_id(ctx);
    let doc = doc_text(&format!("The rules of [`super::{type_name}`]."));
    let default = n.default.map(|v| {
        let literal = match n.base {
            Base::Str => {
                let s = v.as_str().unwrap_or_default();
                quote!(#s)
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
            impl #t::DefaultValue<#base> for #name {
                const DEFAULT: #literal_ty = #literal;
            }
        }
    });
    quote! {
        #doc
        pub enum #name {}
        impl #t::Rule<#base> for #name {
            const NAME: &'static str = #type_name;
            const LIMITS: #t::#limits_ty = #limits;
        }
        impl #p::LiteralSpec<#id> for #name {}
        #default
    }
}

/// The limits as a constant expression: `StringLimits::NONE.min_length(3)`.
fn limits(base: Base, c: &Constraints) -> TokenStream {
    let t = typed();
    match base {
        Base::Str => {
            let mut e = quote!(#t::StringLimits::NONE);
            if let Some(n) = c.min_length {
                let n = Literal::u64_unsuffixed(n);
                e = quote!(#e.min_length(#n));
            }
            if let Some(n) = c.max_length {
                let n = Literal::u64_unsuffixed(n);
                e = quote!(#e.max_length(#n));
            }
            if let Some(p) = &c.pattern {
                e = quote!(#e.pattern(#p));
            }
            e
        }
        Base::Int => {
            let mut e = quote!(#t::IntegerLimits::NONE);
            if let Some(n) = c.minimum.and_then(Num::as_i64) {
                let n = Literal::i64_unsuffixed(n);
                e = quote!(#e.minimum(#n));
            }
            if let Some(n) = c.maximum.and_then(Num::as_i64) {
                let n = Literal::i64_unsuffixed(n);
                e = quote!(#e.maximum(#n));
            }
            e
        }
        Base::Num => {
            let mut e = quote!(#t::NumberLimits::NONE);
            if let Some(n) = c.minimum {
                let n = Literal::f64_suffixed(n.as_f64());
                e = quote!(#e.minimum(#n));
            }
            if let Some(n) = c.maximum {
                let n = Literal::f64_suffixed(n.as_f64());
                e = quote!(#e.maximum(#n));
            }
            e
        }
    }
}

/// The literal macro (`username!("ada")`): the literal is checked while
/// compiling, against the same limits, and can only become this type.
///
/// The macro is `#[macro_export]`ed under a hidden name made unique by a
/// hash of its check, its module and the options
/// (`__janus_literal_username_1f2e…`), and re-exported under its own name in
/// the type's module, so `my_crate::models::username!("ada")` works from other
/// crates (the binary of a `build.rs` library) as well as inside the module.
pub(super) fn literal_macro(ctx: &Ctx, n: &Newtype<'_>) -> TokenStream {
    let p = private();
    let location = n.location(ctx);
    let spec = literal_spec(n.name, n.base, n.constraints, &location);
    let id = n.literal_id(ctx);
    let unique = fnv64(&format!("{spec}\n{:?}\n{:?}", ctx.module, ctx.options()));
    let hidden = format_ident!(
        "__janus_literal_{}_{:016x}",
        ident::unraw(n.macro_name),
        unique
    );
    let macro_name = ident(n.macro_name);
    let doc = doc_text(&format!(
        "Builds a [`{name}`] from a literal checked against the manifest's constraints while compiling: `{m}!(…)`. A literal that breaks them is a compile error naming the constraint and `{location}`.\n\nUsable by path from other crates too (`crate_name::module::{m}!(…)`).",
        name = n.name,
        m = n.macro_name,
    ));
    quote! {
        #[doc(hidden)]
        #[macro_export]
        macro_rules! #hidden {
            ($value:literal) => {
                #p::from_checked_literal::<_, _, #id>(#p::check_literal!(#spec, $value))
            };
        }
        #doc
        #[doc(inline)]
        #[allow(unused_imports)]
        pub use #hidden as #macro_name;
    }
}

/// `Constraints: 3 to 50 characters; matches `…`.` for the docs.
fn constraint_doc(c: &Constraints) -> Vec<String> {
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
    let show = crate::manifest::show_num;
    match (c.minimum, c.maximum) {
        (Some(a), Some(b)) => parts.push(format!("from {} to {} inclusive", show(a), show(b))),
        (Some(a), None) => parts.push(format!("at least {}", show(a))),
        (None, Some(b)) => parts.push(format!("at most {}", show(b))),
        (None, None) => {}
    }
    if parts.is_empty() {
        Vec::new()
    } else {
        vec![String::new(), format!("Constraints: {}.", parts.join("; "))]
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

/// The `default` of a field whose type is a value model, as an expression
/// of that type: the enum's variant, or the model's literal macro given the
/// default (checked while compiling, like any literal).
pub(super) fn model_default(ctx: &Ctx, f: &FieldIr) -> Option<TokenStream> {
    let (Some(how), Some(value), TypeRef::Named(id)) = (&f.model_default, &f.default, &f.ty) else {
        return None;
    };
    Some(match how {
        ModelDefault::Variant(variant) => {
            let ty = ctx.ty(&f.ty);
            let variant = ident(variant);
            quote!(#ty::#variant)
        }
        ModelDefault::Macro(name) => {
            let name = ident(name);
            let literal = match value {
                Value::String(s) => quote!(#s),
                Value::Number(n) => {
                    let negative = n.as_f64().is_some_and(|x| x < 0.0);
                    let magnitude = match (n.as_i64(), n.as_f64()) {
                        (Some(i), _) => Literal::u64_unsuffixed(i.unsigned_abs()),
                        (None, Some(x)) => Literal::f64_unsuffixed(x.abs()),
                        (None, None) => return None,
                    };
                    if negative {
                        quote!(-#magnitude)
                    } else {
                        quote!(#magnitude)
                    }
                }
                _ => return None,
            };
            if id.module == ctx.module {
                quote!(#name!(#literal))
            } else {
                let models = ctx.models();
                quote!(super::#models::#name!(#literal))
            }
        }
    })
}
