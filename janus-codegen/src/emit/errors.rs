//! Error enums: one per request with `errorCodes`, an `ApplicationError`
//! whose conversions are the runtime's.

use proc_macro2::{Ident, Literal, TokenStream};
use quote::quote;

use super::{doc_text, docs, ident, private, rt};

/// A request's error enum of the IR, borrowed.
pub(super) struct ErrorEnum<'a> {
    pub(super) name: &'a str,
    pub(super) doc: &'a [String],
    /// The request's wire name.
    pub(super) request: &'a str,
    /// (variant identifier, error name), in manifest order.
    pub(super) variants: &'a [(String, String)],
}

pub(super) fn emit(e: &ErrorEnum<'_>) -> TokenStream {
    let name = ident(e.name);
    let request = e.request;
    let rt = rt();
    let p = private();
    let mut doc = e.doc.to_vec();
    doc.push(String::new());
    doc.push("A protocol name (`VALIDATION_FAILED`, `SECURITY_VIOLATION`, …) is sent with its protocol code; any other name is an application error, sent as `-32000` with the name in `data.errorType`.".to_owned());
    let doc = docs(&doc);
    let idents: Vec<Ident> = e.variants.iter().map(|(v, _)| ident(v)).collect();
    let wires: Vec<&str> = e.variants.iter().map(|(_, w)| w.as_str()).collect();
    let vdocs: Vec<TokenStream> = wires.iter().map(|w| doc_text(&format!("`{w}`"))).collect();
    let count = Literal::usize_unsuffixed(e.variants.len());
    quote! {
        #doc
        #[derive(::std::fmt::Debug, ::std::clone::Clone, ::std::marker::Copy, ::std::cmp::PartialEq, ::std::cmp::Eq, ::std::hash::Hash)]
        pub enum #name {
            #(#vdocs #idents,)*
        }

        impl #name {
            /// Every declared error, in manifest order.
            pub const ALL: [Self; #count] = [#(Self::#idents),*];

            /// The symbolic name (`data.errorType`).
            pub const fn error_type(self) -> &'static str {
                [#(#wires),*][self as usize]
            }

            /// The protocol code this error is sent with.
            pub fn code(self) -> #rt::ErrorCode {
                #p::error_code(self.error_type())
            }
        }

        impl ::std::fmt::Display for #name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.error_type())
            }
        }

        impl ::std::error::Error for #name {}

        impl #rt::ApplicationError for #name {
            fn to_error_object(&self) -> #rt::ErrorObject {
                #p::error_object(#request, self.error_type())
            }

            fn from_error_object(error: &#rt::ErrorObject) -> ::std::option::Option<Self> {
                #p::declared_error(&Self::ALL, Self::error_type, error)
            }
        }
    }
}
