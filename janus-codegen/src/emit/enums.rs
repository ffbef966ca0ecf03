//! String enums: a Rust enum per `enum` of strings, its wire values, and
//! trait impls that call the runtime's one implementation
//! (`::janus_runtime::typed::WireEnum`).

use proc_macro2::{Ident, Literal, TokenStream};
use quote::quote;

use super::{Ctx, doc_text, docs, ident, rt, serde, typed};

/// A string enum of the IR, borrowed.
pub(super) struct Enum<'a> {
    pub(super) name: &'a str,
    pub(super) doc: &'a [String],
    /// (variant identifier, wire value), in manifest order.
    pub(super) variants: &'a [(String, String)],
    /// The index of the default variant.
    pub(super) default: Option<usize>,
}

pub(super) fn emit(ctx: &Ctx, e: &Enum<'_>) -> TokenStream {
    let name = ident(e.name);
    let type_name = e.name;
    let serde = serde();
    let t = typed();
    let rt = rt();
    let doc = docs(e.doc);
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
    let idents: Vec<Ident> = e.variants.iter().map(|(v, _)| ident(v)).collect();
    let wires: Vec<&str> = e.variants.iter().map(|(_, w)| w.as_str()).collect();
    let vdocs: Vec<TokenStream> = wires.iter().map(|w| doc_text(&format!("`{w}`"))).collect();
    let count = Literal::usize_unsuffixed(e.variants.len());
    let default_impl = default_impl(&name, e.default.and_then(|i| idents.get(i)));
    quote! {
        #doc
        #derive
        pub enum #name {
            #(#vdocs #idents,)*
        }

        impl #name {
            /// Every value, in manifest order.
            pub const ALL: [Self; #count] = [#(Self::#idents),*];

            /// The wire value.
            pub const fn as_str(self) -> &'static str {
                <Self as #t::WireEnum>::WIRE[self as usize]
            }
        }

        impl #t::WireEnum for #name {
            const NAME: &'static str = #type_name;
            const VARIANTS: &'static [Self] = &Self::ALL;
            const WIRE: &'static [&'static str] = &[#(#wires),*];
        }

        impl ::std::fmt::Display for #name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for #name {
            type Err = #rt::constraints::InvalidValue;
            fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                #t::parse_enum(value)
            }
        }

        impl #serde::Serialize for #name {
            fn serialize<S: #serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> #serde::Deserialize<'de> for #name {
            fn deserialize<D: #serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                #t::deserialize_enum(deserializer)
            }
        }

        #default_impl
    }
}

fn default_impl(name: &Ident, variant: Option<&Ident>) -> TokenStream {
    match variant {
        Some(v) => quote! {
            impl ::std::default::Default for #name {
                /// The manifest's `default`.
                fn default() -> Self {
                    Self::#v
                }
            }
        },
        None => quote!(),
    }
}
