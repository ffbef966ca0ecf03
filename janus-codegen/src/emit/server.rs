//! The server side of a channel: the handler trait, and the dispatcher that
//! checks each request's arguments once against the manifest, decodes them
//! without a second check, calls the handler and encodes its result.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Ctx, Sink, Slot, doc_text, docs, ident, json, private, response_and_error, rt};
use crate::ir::{ChannelIr, RequestIr};

pub(super) fn emit(ctx: &Ctx, c: &ChannelIr, sink: &mut dyn Sink) {
    handler_trait(ctx, c, sink);
    sink.items(server_struct(c));
    service_impl(c, sink);
}

/// The handler trait: one method per request.
fn handler_trait(ctx: &Ctx, c: &ChannelIr, sink: &mut dyn Sink) {
    let name = ident(&c.handler);
    let doc = doc_text(&format!(
        "What answers the `{}` channel: implement it (with `async fn`s) and serve it with [`{}`].",
        c.id, c.server
    ));
    sink.open(
        Slot::TraitItems,
        Box::new(move |methods| {
            quote! {
                #doc
                pub trait #name: ::std::marker::Send + ::std::marker::Sync + 'static {
                    #methods
                }
            }
        }),
    );
    for r in &c.requests {
        let (ctx, r) = (ctx.clone(), r.clone());
        sink.deferred(Box::new(move || handler_method(&ctx, &r)));
    }
    sink.close();
}

/// One request's method of the handler trait.
fn handler_method(ctx: &Ctx, r: &RequestIr) -> TokenStream {
    let rt = rt();
    let method = ident(&r.method);
    let d = docs(&r.doc);
    let (resp, err) = response_and_error(ctx, r);
    let ret = quote!(impl ::std::future::Future<Output = ::std::result::Result<#resp, #rt::HandlerError<#err>>> + ::std::marker::Send);
    match &r.args {
        Some(args) => {
            let args = ident(args);
            quote!(#d fn #method(&self, ctx: &#rt::RequestContext, args: #args) -> #ret;)
        }
        None => quote!(#d fn #method(&self, ctx: &#rt::RequestContext) -> #ret;),
    }
}

/// The dispatcher struct and its constructors.
fn server_struct(c: &ChannelIr) -> TokenStream {
    let handler = ident(&c.handler);
    let server = ident(&c.server);
    let doc = doc_text(&format!(
        "The dispatcher of the `{}` channel: a [`::janus_runtime::Service`] that checks each request's arguments against the manifest, decodes them, calls the handler and encodes its result.",
        c.id
    ));
    quote! {
        #doc
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
    }
}

/// `impl Service`: the routing of each request to its handler method.
fn service_impl(c: &ChannelIr, sink: &mut dyn Sink) {
    let rt = rt();
    let j = json();
    let p = private();
    let handler = ident(&c.handler);
    let server = ident(&c.server);
    let impl_rt = rt.clone();
    sink.open(
        Slot::ImplItems,
        Box::new(move |items| {
            quote! {
                impl<H: #handler> #impl_rt::Service for #server<H> {
                    #items
                }
            }
        }),
    );
    let names = c.requests.iter().map(|r| {
        let konst = ident(&r.const_name);
        quote!(::std::convert::From::from(#konst))
    });
    sink.items(quote! {
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
    });
    let unused = if c.requests.is_empty() {
        quote!(let _ = (handler, ctx, args);)
    } else {
        quote!()
    };
    sink.open(
        Slot::Arms,
        Box::new(move |arms| {
            quote! {
                fn call(
                    &self,
                    ctx: #rt::RequestContext,
                    request: &str,
                    args: #j::Value,
                ) -> #rt::BoxFuture<'static, ::std::result::Result<#j::Value, #rt::ErrorObject>> {
                    let handler = ::std::clone::Clone::clone(&self.handler);
                    #unused
                    match request {
                        #arms
                        other => {
                            let error = #p::unknown_request(CHANNEL_ID, other);
                            ::std::boxed::Box::pin(async move { ::std::result::Result::Err(error) })
                        }
                    }
                }
            }
        }),
    );
    for r in &c.requests {
        let r = r.clone();
        sink.deferred(Box::new(move || call_arm(&r)));
    }
    sink.close();
    sink.close();
}

/// One request's arm of `Service::call`.
fn call_arm(r: &RequestIr) -> TokenStream {
    let p = private();
    let method = ident(&r.method);
    let konst = ident(&r.const_name);
    let body = match &r.args {
        Some(_) => quote! {
            let args = #p::decode_args(&super::__JANUS_SCHEMA, CHANNEL_ID, #konst, args)?;
            #p::answer(#konst, handler.#method(&ctx, args).await)
        },
        None => quote! {
            super::__JANUS_SCHEMA.validate(CHANNEL_ID, #konst, &args)?;
            #p::answer(#konst, handler.#method(&ctx).await)
        },
    };
    quote! {
        #konst => ::std::boxed::Box::pin(async move { #body }),
    }
}
