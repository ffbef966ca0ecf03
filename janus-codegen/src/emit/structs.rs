//! Structs: models, argument and response objects, inline objects.
//!
//! Every struct gets `new`, taking the fields without which it cannot be
//! built (required, no default) in field order, the others starting absent
//! (`None`) or at their default; and one chainable setter per such other
//! field, named `with_` + the field's identifier (`r#` dropped): `with_role`,
//! `with_type`, `with__2fa`. Field identifiers are distinct, so setters are too, and no
//! setter is `new` nor a `__janus_` default function. Adding an optional
//! field to the manifest thus keeps every `new(…).with_…(…)` call compiling.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use serde_json::Value;

use super::{Ctx, Sink, Slot, docs, ident, serde};
use crate::ir::{FieldIr, TypeRef};

/// A struct with serde derives; `Default` when every field has one.
///
/// Its inherent impl (the constructor, a setter per optional field, the
/// default functions) is one item; above [`STREAMED_IMPL_FIELDS`] fields it
/// goes to `sink` as a container, a method at a time, so that a struct of
/// many fields never becomes one huge piece to format.
pub(super) fn emit(
    ctx: &Ctx,
    name: &str,
    doc_lines: &[String],
    fields: &[FieldIr],
    sink: &mut dyn Sink,
) {
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
    let defs = fields.iter().map(|f| field(ctx, name, f));
    sink.items(quote! {
        #doc
        #derive
        #[serde(crate = #serde_path)]
        pub struct #name_i {
            #(#defs)*
        }
    });
    let methods = std::iter::once(new_fn(ctx, name, fields))
        .chain(fields.iter().filter_map(|f| setter(ctx, f)))
        .chain(fields.iter().filter_map(|f| default_fn(ctx, f)));
    if is_one_piece(fields) {
        let methods: TokenStream = methods.collect();
        sink.items(quote! {
            impl #name_i {
                #methods
            }
        });
    } else {
        let impl_name = name_i.clone();
        sink.open(
            Slot::ImplItems,
            Box::new(move |items| {
                quote! {
                    impl #impl_name {
                        #items
                    }
                }
            }),
        );
        for method in methods {
            sink.items(method);
        }
        sink.close();
    }
    sink.items(default_impl(&name_i, fields));
}

/// Above this many fields, a struct's impl is handed over a method at a
/// time (a container costs the formatter a template of its own, which
/// outweighs the gain for a small impl).
const STREAMED_IMPL_FIELDS: usize = 32;

/// Whether a struct of these fields has its impl as one item (so the
/// struct and its items are a few pieces, not a container).
pub(super) fn is_one_piece(fields: &[FieldIr]) -> bool {
    fields.len() <= STREAMED_IMPL_FIELDS
}

/// A field with a default that is not its type's own `Default`: the
/// function serde calls for it.
fn default_fn_name(f: &FieldIr) -> Option<proc_macro2::Ident> {
    match (&f.default, &f.ty) {
        (Some(_), TypeRef::Named(_)) if f.model_default.is_none() => None,
        (None, _) => None,
        (Some(_), _) => Some(format_ident!(
            "__janus_default_{}",
            crate::ident::unraw(&f.ident)
        )),
    }
}

fn field(ctx: &Ctx, owner: &str, f: &FieldIr) -> TokenStream {
    let fi = ident(&f.ident);
    let fdoc = docs(&f.doc);
    let ty = ctx.ty(&f.ty);
    // serde names a field by its identifier (raw identifiers unraw'd); the
    // wire name is spelled out only when it differs.
    let mut attrs = Vec::new();
    if f.wire != crate::ident::unraw(&f.ident) {
        let wire = &f.wire;
        attrs.push(quote!(rename = #wire));
    }
    let ty = if f.default.is_some() {
        attrs.push(match default_fn_name(f) {
            Some(fn_name) => {
                let path = format!("{owner}::{fn_name}");
                quote!(default = #path)
            }
            // A generated type's `Default` is the manifest's default.
            None => quote!(default),
        });
        ty
    } else if !f.required {
        attrs.push(quote!(
            default,
            skip_serializing_if = "::std::option::Option::is_none"
        ));
        quote!(::std::option::Option<#ty>)
    } else {
        ty
    };
    let attr = if attrs.is_empty() {
        quote!()
    } else {
        quote!(#[serde(#(#attrs),*)])
    };
    quote! {
        #fdoc
        #attr
        pub #fi: #ty,
    }
}

/// Needed by `new`: required on the wire and without a default.
fn is_mandatory(f: &FieldIr) -> bool {
    f.required && f.default.is_none()
}

/// The value a field not given to `new` (nor to `Default`) starts with.
fn initial_value(f: &FieldIr) -> TokenStream {
    match default_fn_name(f) {
        Some(fn_name) => quote!(Self::#fn_name()),
        None if f.default.is_some() => quote!(::std::default::Default::default()),
        None => quote!(::std::option::Option::None),
    }
}

/// `pub fn new(mandatory fields…) -> Self`.
fn new_fn(ctx: &Ctx, name: &str, fields: &[FieldIr]) -> TokenStream {
    let params = fields.iter().filter(|f| is_mandatory(f)).map(|f| {
        let fi = ident(&f.ident);
        let ty = ctx.ty(&f.ty);
        quote!(#fi: impl ::std::convert::Into<#ty>)
    });
    let inits = fields.iter().map(|f| {
        let fi = ident(&f.ident);
        if is_mandatory(f) {
            quote!(#fi: ::std::convert::Into::into(#fi))
        } else {
            let v = initial_value(f);
            quote!(#fi: #v)
        }
    });
    let optional: Vec<String> = fields
        .iter()
        .filter(|f| !is_mandatory(f))
        .map(|f| format!("`{}`", setter_name(f)))
        .collect();
    let text = if optional.is_empty() {
        format!("A `{name}` from its fields.")
    } else {
        format!(
            "A `{name}` from the fields it cannot do without; the others start absent or at their default: set them with {}.",
            optional.join(", ")
        )
    };
    let doc = super::doc_text(&text);
    quote! {
        #doc
        #[must_use]
        pub fn new(#(#params),*) -> Self {
            Self { #(#inits,)* }
        }
    }
}

fn setter_name(f: &FieldIr) -> proc_macro2::Ident {
    format_ident!("with_{}", crate::ident::unraw(&f.ident))
}

/// `pub fn with_x(mut self, x) -> Self` for a field `new` does not take.
fn setter(ctx: &Ctx, f: &FieldIr) -> Option<TokenStream> {
    if is_mandatory(f) {
        return None;
    }
    let fi = ident(&f.ident);
    let name = setter_name(f);
    let ty = ctx.ty(&f.ty);
    let value = if f.default.is_some() {
        quote!(::std::convert::Into::into(value))
    } else {
        quote!(::std::option::Option::Some(::std::convert::Into::into(
            value
        )))
    };
    let field = crate::ident::unraw(&f.ident);
    let doc = super::doc_text(&format!("Sets `{field}`."));
    // `with__2fa` for the field `_2fa`: the rule stays one rule.
    let allow = if field.starts_with('_') {
        quote!(#[allow(non_snake_case)])
    } else {
        quote!()
    };
    Some(quote! {
        #doc
        #allow
        #[must_use]
        pub fn #name(mut self, value: impl ::std::convert::Into<#ty>) -> Self {
            self.#fi = #value;
            self
        }
    })
}

fn default_fn(ctx: &Ctx, f: &FieldIr) -> Option<TokenStream> {
    let fn_name = default_fn_name(f)?;
    let ty = ctx.ty(&f.ty);
    let body = match super::newtypes::model_default(ctx, f) {
        Some(body) => body,
        None => json_literal(f.default.as_ref()?, &f.ty),
    };
    Some(quote! {
        #[doc(hidden)]
        fn #fn_name() -> #ty { #body }
    })
}

/// `Default` when every field is optional or has a default.
fn default_impl(name: &proc_macro2::Ident, fields: &[FieldIr]) -> TokenStream {
    if fields.iter().any(is_mandatory) {
        return quote!();
    }
    let inits = fields.iter().map(|f| {
        let fi = ident(&f.ident);
        let v = initial_value(f);
        quote!(#fi: #v)
    });
    quote! {
        impl ::std::default::Default for #name {
            fn default() -> Self {
                Self { #(#inits,)* }
            }
        }
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
