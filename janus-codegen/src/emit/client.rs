//! The client trait of a channel: one provided method per request, each a
//! call of the runtime's one client path (`call`: send, check the result
//! against the manifest, decode). The trait is implemented for
//! `::janus_runtime::Client`; its methods are instantiated only where they
//! are called. They return the runtime's boxed `CallFuture`, a named type:
//! an opaque `impl Future` per method would be a hidden associated type of
//! the trait each, which the compiler checks and lowers one by one.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Ctx, Sink, Slot, doc_text, docs, ident, private, response_and_error, rt};
use crate::ir::{ChannelIr, RequestIr};

pub(super) fn emit(ctx: &Ctx, c: &ChannelIr, sink: &mut dyn Sink) {
    let rt = rt();
    let name = ident(&c.client);
    let doc = doc_text(&format!(
        "Typed calls to the `{}` channel. Implemented for [`::janus_runtime::Client`], so any client connected to a server of this channel can call them.",
        c.id
    ));
    let trait_name = name.clone();
    sink.open(
        Slot::TraitItems,
        Box::new(move |methods| {
            quote! {
                #doc
                pub trait #trait_name {
                    #methods
                }
            }
        }),
    );
    sink.items(quote! {
        /// The runtime client that carries the calls.
        #[doc(hidden)]
        fn __janus_client(&self) -> &#rt::Client;
    });
    for r in &c.requests {
        let (ctx, r) = (ctx.clone(), r.clone());
        sink.deferred(Box::new(move || method(&ctx, &r)));
    }
    sink.close();
    sink.items(quote! {
        impl #name for #rt::Client {
            fn __janus_client(&self) -> &#rt::Client {
                self
            }
        }
    });
}

/// One request's method.
fn method(ctx: &Ctx, r: &RequestIr) -> TokenStream {
    let rt = rt();
    let p = private();
    let method = ident(&r.method);
    let doc = docs(&r.doc);
    let (resp, err) = response_and_error(ctx, r);
    let konst = ident(&r.const_name);
    let ret = quote!(#rt::CallFuture<'_, #resp, #err>);
    let (params, args) = match &r.args {
        Some(args) => {
            let args_ty = ident(args);
            (quote!(args: #args_ty), quote!(args))
        }
        None => (quote!(), quote!(#p::NoArgs)),
    };
    quote! {
        #doc
        fn #method(&self, #params) -> #ret {
            #p::call(self.__janus_client(), &super::__JANUS_SCHEMA, CHANNEL_ID, #konst, #args)
        }
    }
}
