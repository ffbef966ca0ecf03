//! Structs: models, argument and response objects, inline objects.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use serde_json::Value;

use super::{Ctx, docs, ident, serde};
use crate::ir::{FieldIr, TypeRef};

/// A struct with serde derives; `Default` when every field has one.
pub(super) fn emit(
    ctx: &Ctx<'_>,
    name: &str,
    doc_lines: &[String],
    fields: &[FieldIr],
) -> TokenStream {
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
    let default_fns: Vec<TokenStream> = fields.iter().filter_map(|f| default_fn(ctx, f)).collect();
    let impl_block = if default_fns.is_empty() {
        quote!()
    } else {
        quote! {
            impl #name_i {
                #(#default_fns)*
            }
        }
    };
    let default_impl = default_impl(&name_i, fields);
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

/// A field with a default that is not its type's own `Default`: the
/// function serde calls for it.
fn default_fn_name(f: &FieldIr) -> Option<proc_macro2::Ident> {
    match (&f.default, &f.ty) {
        (Some(_), TypeRef::Named(_)) | (None, _) => None,
        (Some(_), _) => Some(format_ident!(
            "__janus_default_{}",
            crate::ident::unraw(&f.ident)
        )),
    }
}

fn field(ctx: &Ctx<'_>, owner: &str, f: &FieldIr) -> TokenStream {
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

fn default_fn(ctx: &Ctx<'_>, f: &FieldIr) -> Option<TokenStream> {
    let fn_name = default_fn_name(f)?;
    let ty = ctx.ty(&f.ty);
    let body = json_literal(f.default.as_ref()?, &f.ty);
    Some(quote! {
        #[doc(hidden)]
        fn #fn_name() -> #ty { #body }
    })
}

/// `Default` when every field is optional or has a default.
fn default_impl(name: &proc_macro2::Ident, fields: &[FieldIr]) -> TokenStream {
    if fields.iter().any(|f| f.required && f.default.is_none()) {
        return quote!();
    }
    let inits = fields.iter().map(|f| {
        let fi = ident(&f.ident);
        match default_fn_name(f) {
            Some(fn_name) => quote!(#fi: Self::#fn_name()),
            None if f.default.is_some() => quote!(#fi: ::std::default::Default::default()),
            None => quote!(#fi: ::std::option::Option::None),
        }
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
