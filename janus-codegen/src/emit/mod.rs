//! Rust emission from the IR, split by what is emitted: [`structs`],
//! [`newtypes`], [`enums`], [`errors`], [`client`] and [`server`]; this
//! module emits the file and its modules.
//!
//! Every path is absolute: the runtime as `::janus_runtime::…` (shared
//! behaviour lives there: [`::janus_runtime::Constrained`], the
//! `janus_runtime::typed` helpers, the hidden `__private` support), serde and
//! serde_json as `::janus_runtime::__private::…`, std items as `::std::…`.
//! Generated modules refer to each other with `super::`, so the code can be
//! included in any module of the user's crate.

mod client;
mod enums;
mod errors;
mod newtypes;
mod server;
mod sink;
mod structs;

use std::sync::Arc;

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::Options;
use crate::ir::{ChannelIr, Ir, ModKey, TypeDef, TypeRef};
pub(crate) use sink::{Collect, Deferred, Sink, Slot, Template, WithLiteral};

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

/// `#[doc]` attributes for documentation lines, with Rust code fences made
/// `text` fences ([`text_fences`]).
fn docs(lines: &[String]) -> TokenStream {
    let lines = text_fences(lines).into_iter().map(|l| {
        let text = if l.is_empty() {
            String::new()
        } else {
            format!(" {l}")
        };
        quote!(#[doc = #text])
    });
    quote!(#(#lines)*)
}

/// Documentation lines with every fenced code block rustdoc would compile
/// as a doctest (no info string, `rust`, or only rustdoc attributes such as
/// `ignore`) opened as ```` ```text ```` instead: a manifest's example is
/// not a test of the user's crate. Other languages are kept.
fn text_fences(lines: &[String]) -> Vec<String> {
    // The open fence: its character and length.
    let mut open: Option<(char, usize)> = None;
    lines
        .iter()
        .map(|line| {
            let trimmed = line.trim_start_matches(' ');
            let fence = (line.len() - trimmed.len() <= 3)
                .then(|| fence_of(trimmed))
                .flatten();
            match (open, fence) {
                (None, Some((c, n, info))) => {
                    open = Some((c, n));
                    if is_rust_info(info) {
                        let indent = &line[..line.len() - trimmed.len()];
                        return format!("{indent}{}text", c.to_string().repeat(n));
                    }
                }
                (Some((c, n)), Some((c2, n2, info))) if c == c2 && n2 >= n && info.is_empty() => {
                    open = None;
                }
                _ => {}
            }
            line.clone()
        })
        .collect()
}

/// A fence line's character, length and info string (trimmed).
fn fence_of(line: &str) -> Option<(char, usize, &str)> {
    let c = line.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = line.len() - line.trim_start_matches(c).len();
    let info = line[n..].trim();
    // A backtick fence's info string has no backtick (CommonMark).
    (n >= 3 && !(c == '`' && info.contains('`'))).then_some((c, n, info))
}

/// Whether rustdoc treats a code block with this info string as Rust.
fn is_rust_info(info: &str) -> bool {
    const RUSTDOC: &[&str] = &[
        "ignore",
        "should_panic",
        "no_run",
        "compile_fail",
        "test_harness",
        "standalone_crate",
    ];
    let tokens: Vec<&str> = info
        .split(|c: char| c == ',' || c.is_whitespace() || c == '{' || c == '}')
        .filter(|t| !t.is_empty())
        .collect();
    tokens.contains(&"rust")
        || tokens
            .iter()
            .all(|t| RUSTDOC.contains(t) || t.starts_with("edition") || t.starts_with("ignore-"))
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

/// What every item emitter needs: the options, the module being emitted,
/// the manifest's file name (for messages). Cheap to clone and `Send`: a
/// piece deferred to a formatting thread ([`Sink::deferred`]) takes one.
#[derive(Clone)]
struct Ctx {
    shared: Arc<Shared>,
    module: ModKey,
}

/// The part of [`Ctx`] that is the same for the whole file.
struct Shared {
    options: Options,
    models: String,
    manifest_file: String,
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
fn typed() -> TokenStream {
    quote!(::janus_runtime::typed)
}
fn string_ty() -> TokenStream {
    quote!(::std::string::String)
}

/// The hidden module of each generated module that holds the rule types of
/// its constrained values.
fn rules_module() -> Ident {
    ident("__rules")
}

impl Ctx {
    fn options(&self) -> &Options {
        &self.shared.options
    }

    /// The models module's name.
    fn models(&self) -> Ident {
        ident(&self.shared.models)
    }

    /// The manifest's file name, as messages give it.
    fn manifest_file(&self) -> &str {
        &self.shared.manifest_file
    }

    fn ty(&self, t: &TypeRef) -> TokenStream {
        match t {
            TypeRef::String => string_ty(),
            TypeRef::I64 => quote!(i64),
            TypeRef::F64 => quote!(f64),
            TypeRef::Bool => quote!(bool),
            // The public re-export: it appears in users' signatures (the
            // result of a request without a declared `response`).
            TypeRef::Value => quote!(::janus_runtime::Value),
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
                    let models = self.models();
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
            .options()
            .derives
            .iter()
            .filter(|d| !have.contains(&last(d)))
            .filter_map(|d| syn::parse_str::<syn::Path>(d).ok());
        quote!(#[derive(#(#base,)* #(#extra),*)])
    }
}

/// Emits the whole file into `sink`, piece by piece.
pub(crate) fn emit(
    ir: &Ir,
    options: &Options,
    manifest_file: &str,
    source: &ManifestSource,
    schema: &str,
    sink: &mut dyn Sink,
) {
    let mut ctx = Ctx {
        shared: Arc::new(Shared {
            options: options.clone(),
            models: ir.models_module.clone(),
            manifest_file: manifest_file.to_owned(),
        }),
        module: ModKey::Models,
    };
    models_module(&ctx, ir, sink);
    for (i, c) in ir.channels.iter().enumerate() {
        ctx.module = ModKey::Channel(i);
        channel_module(&ctx, c, sink);
    }
    schema_static(schema, sink);
    manifest_const(ir, manifest_file, source, sink);
}

/// `pub mod models`: the models' types.
fn models_module(ctx: &Ctx, ir: &Ir, sink: &mut dyn Sink) {
    let name = ctx.models();
    let doc = doc_text(&format!(
        "The models of the manifest: types shared by requests and responses.\n\nGenerated from `{}`.",
        ctx.manifest_file()
    ));
    sink.open(
        Slot::Items,
        Box::new(move |types| {
            quote! {
                #doc
                #[allow(clippy::all)]
                pub mod #name {
                    #types
                }
            }
        }),
    );
    types(ctx, &ir.models, sink);
    sink.close();
}

/// The types of one module, and the hidden module of their rules.
fn types(ctx: &Ctx, defs: &[TypeDef], sink: &mut dyn Sink) {
    for t in defs {
        type_def(ctx, t, sink);
    }
    if !defs.iter().any(|t| newtypes::Newtype::of(t).is_some()) {
        return;
    }
    let module = rules_module();
    sink.open(
        Slot::Items,
        Box::new(move |rules| {
            quote! {
                /// The rules of this module's constrained values.
                #[doc(hidden)]
                pub mod #module {
                    #rules
                }
            }
        }),
    );
    for t in defs.iter().filter(|t| newtypes::Newtype::of(t).is_some()) {
        let (ctx, t) = (ctx.clone(), t.clone());
        sink.deferred(Box::new(move || {
            newtypes::Newtype::of(&t)
                .map(|n| newtypes::rule(&ctx, &n))
                .unwrap_or_default()
        }));
    }
    sink.close();
}

/// One type and its items: built where the sink formats them, except a
/// struct too large to be one piece.
fn type_def(ctx: &Ctx, t: &TypeDef, sink: &mut dyn Sink) {
    if let TypeDef::Struct { name, doc, fields } = t
        && !structs::is_one_piece(fields)
    {
        return structs::emit(ctx, name, doc, fields, sink);
    }
    let (ctx, t) = (ctx.clone(), t.clone());
    sink.deferred(Box::new(move || {
        let mut tokens = Collect::default();
        type_items(&ctx, &t, &mut tokens);
        tokens.finish()
    }));
}

/// One type and its items, into `sink`.
fn type_items(ctx: &Ctx, t: &TypeDef, sink: &mut dyn Sink) {
    let tokens = match t {
        TypeDef::Struct { name, doc, fields } => {
            return structs::emit(ctx, name, doc, fields, sink);
        }
        TypeDef::Newtype { .. } => match newtypes::Newtype::of(t) {
            Some(n) => {
                let alias = newtypes::alias(ctx, &n);
                let literal = newtypes::literal_macro(ctx, &n);
                quote!(#alias #literal)
            }
            None => quote!(),
        },
        TypeDef::Enum {
            name,
            doc,
            variants,
            default,
        } => enums::emit(
            ctx,
            &enums::Enum {
                name,
                doc,
                variants,
                default: *default,
            },
        ),
        TypeDef::ErrorEnum {
            name,
            doc,
            request,
            variants,
        } => errors::emit(&errors::ErrorEnum {
            name,
            doc,
            request,
            variants,
        }),
    };
    sink.items(tokens);
}

/// One channel's module: its id, request names, types, client and server.
fn channel_module(ctx: &Ctx, c: &ChannelIr, sink: &mut dyn Sink) {
    let module = ident(&c.module);
    let doc = docs(&c.doc);
    let id = &c.id;
    sink.open(
        Slot::Items,
        Box::new(move |body| {
            quote! {
                #doc
                #[allow(clippy::all)]
                pub mod #module {
                    #body
                }
            }
        }),
    );
    let chan_doc = doc_text(&format!("The channel id: `{id}`."));
    sink.items(quote! {
        #chan_doc
        pub const CHANNEL_ID: &str = #id;
    });
    for r in &c.requests {
        let (konst, wire) = (r.const_name.clone(), r.wire.clone());
        sink.deferred(Box::new(move || {
            let name = ident(&konst);
            let d = doc_text(&format!("The wire name of the `{wire}` request."));
            quote!(#d pub const #name: &str = #wire;)
        }));
    }
    types(ctx, &c.types, sink);
    if ctx.options().client {
        client::emit(ctx, c, sink);
    }
    if ctx.options().server {
        server::emit(ctx, c, sink);
    }
    sink.close();
}

/// The manifest's rules, embedded for the one checker.
fn schema_static(schema: &str, sink: &mut dyn Sink) {
    let p = private();
    sink.item_with_literal(
        Box::new(move |schema| {
            quote! {
                #[doc(hidden)]
                pub static __JANUS_SCHEMA: #p::EmbeddedSchema = #p::EmbeddedSchema::new(#schema);
            }
        }),
        schema,
    );
}

/// `pub const MANIFEST`: the manifest's text.
fn manifest_const(ir: &Ir, manifest_file: &str, source: &ManifestSource, sink: &mut dyn Sink) {
    let mut doc = ir.doc.clone();
    if !doc.is_empty() {
        doc.push(String::new());
    }
    doc.push(format!(
        "The manifest this code was generated from (`{manifest_file}`), as JSON text; served by the `manifest` built-in request."
    ));
    let doc = docs(&doc);
    let item = move |value: TokenStream| {
        quote! {
            #doc
            pub const MANIFEST: &str = #value;
        }
    };
    match source {
        ManifestSource::Literal(text) => sink.item_with_literal(Box::new(item), text),
        ManifestSource::IncludeStr(path) => sink.items(item(quote!(::core::include_str!(#path)))),
    }
}

/// The Rust types of a request's result and error.
fn response_and_error(ctx: &Ctx, r: &crate::ir::RequestIr) -> (TokenStream, TokenStream) {
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

#[cfg(test)]
mod tests {
    use super::text_fences;

    fn fences(text: &str) -> Vec<String> {
        text_fences(&text.lines().map(str::to_owned).collect::<Vec<_>>())
    }

    #[test]
    fn rust_fences_become_text_fences() {
        assert_eq!(
            fences("Example:\n```\nlet x = 1;\n```\nAfter."),
            ["Example:", "```text", "let x = 1;", "```", "After."]
        );
        assert_eq!(fences("```rust\nx\n```"), ["```text", "x", "```"]);
        assert_eq!(fences("```rust,no_run\nx\n```"), ["```text", "x", "```"]);
        assert_eq!(fences("```ignore\nx\n```"), ["```text", "x", "```"]);
        assert_eq!(fences("  ~~~~\nx\n~~~~"), ["  ~~~~text", "x", "~~~~"]);
        // Unclosed: rustdoc runs it to the end, still compiled.
        assert_eq!(fences("```\nx"), ["```text", "x"]);
    }

    #[test]
    fn other_languages_and_text_inside_blocks_are_kept() {
        for text in [
            "```json\n{}\n```",
            "```text\nx\n```",
            "```sh\n$ janus call\n```",
            "Inline ```code``` stays.",
            "    ```\nindented four: not a fence",
        ] {
            assert_eq!(fences(text), text.lines().collect::<Vec<_>>(), "{text}");
        }
        // A shorter fence or one with an info string does not close a block;
        // the next one opens nothing, so the Rust fence after it is rewritten.
        assert_eq!(
            fences("````json\n```\n```rust\n````\n```\nx\n```"),
            ["````json", "```", "```rust", "````", "```text", "x", "```"]
        );
    }
}
