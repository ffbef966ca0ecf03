//! Procedural macros for Janus IPC, re-exported by `janus-runtime`.
//!
//! This crate is thin: it parses the macro input, reads the manifest, maps
//! errors to spans and makes the build track the manifest. All generation and
//! checking is done by `janus-codegen`.

#![forbid(unsafe_code)]

use std::path::PathBuf;

use janus_codegen::literal::{Checked, LiteralValue};
use janus_codegen::{ManifestSource, Options};
use proc_macro::TokenStream;
use proc_macro2::{Delimiter, Literal, Span, TokenTree};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{LitBool, LitStr, Token};

/// Generates typed models, client and server code from a Janus manifest.
///
/// ```ignore
/// janus_runtime::janus!("manifest.json");                 // relative to CARGO_MANIFEST_DIR
/// janus_runtime::janus!("manifest.json", client = false); // server side only
/// janus_runtime::janus!("manifest.json", server = false, derive = ["Eq"]);
/// ```
///
/// The path is relative to `CARGO_MANIFEST_DIR`; when no file is there, it
/// is looked up beside the source file that invokes the macro.
///
/// Options: `client = bool`, `server = bool` (both default to `true`),
/// `derive = ["Path", …]` (extra derives on every generated type).
///
/// The build is redone when the manifest changes. Every problem in the
/// manifest is a compile error naming the manifest's file, line, column and
/// JSON pointer.
#[proc_macro]
pub fn janus(input: TokenStream) -> TokenStream {
    let args = syn::parse_macro_input!(input as JanusArgs);
    match expand(&args) {
        Ok(tokens) | Err(tokens) => tokens.into(),
    }
}

struct JanusArgs {
    path: LitStr,
    options: Options,
}

impl Parse for JanusArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let path: LitStr = input.parse()?;
        let mut options = Options::default();
        let mut seen: Vec<String> = Vec::new();
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: syn::Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let name = key.to_string();
            if seen.contains(&name) {
                return Err(syn::Error::new(
                    key.span(),
                    format!("`{name}` is given twice"),
                ));
            }
            seen.push(name.clone());
            match name.as_str() {
                "client" => options.client = input.parse::<LitBool>()?.value,
                "server" => options.server = input.parse::<LitBool>()?.value,
                "derive" => {
                    let content;
                    syn::bracketed!(content in input);
                    let paths = content.parse_terminated(syn::Path::parse_mod_style, Token![,])?;
                    options.derives = paths
                        .iter()
                        .map(|p| quote!(#p).to_string().replace(' ', ""))
                        .collect();
                }
                _ => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!(
                            "unknown option `{name}`; expected one of `client`, `server`, `derive`"
                        ),
                    ));
                }
            }
        }
        Ok(Self { path, options })
    }
}

fn expand(args: &JanusArgs) -> Result<proc_macro2::TokenStream, proc_macro2::TokenStream> {
    let span = args.path.span();
    let fail = |message: String| syn::Error::new(span, message).into_compile_error();
    let relative = args.path.value();
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| fail("CARGO_MANIFEST_DIR is not set: build with cargo".to_owned()))?;
    let mut full = dir.join(&relative);
    if !full.exists()
        && let Some(alt) = proc_macro::Span::call_site()
            .local_file()
            .and_then(|src| src.parent().map(|d| d.join(&relative)))
            .filter(|alt| alt.exists())
            // `local_file` may be relative to the compiler's working
            // directory, which `include_str!` would read relative to the
            // source file instead: make it absolute.
            .and_then(|alt| std::fs::canonicalize(alt).ok())
    {
        // Fallback: beside the invoking source file (e.g. UI tests, whose
        // package directory is a generated one).
        full = alt;
    }
    let text = std::fs::read_to_string(&full).map_err(|e| {
        fail(format!(
            "cannot read manifest `{relative}` (paths are relative to CARGO_MANIFEST_DIR): {e}"
        ))
    })?;
    let full_str = full
        .to_str()
        .ok_or_else(|| fail(format!("manifest path `{}` is not UTF-8", full.display())))?;
    // The generated `MANIFEST` is an `include_str!` of the file: the build
    // is redone whenever the manifest changes.
    let source = ManifestSource::IncludeStr(full_str.to_owned());
    match janus_codegen::generate(&relative, &text, &args.options, &source) {
        Ok(generated) => {
            let mut tokens = generated.tokens;
            // Stable Rust has no way for a proc macro to warn; a use of a
            // deprecated item, spanned at the manifest path, shows each
            // manifest warning as a compiler warning there.
            for (i, w) in generated.warnings.iter().enumerate() {
                let note = w.to_string();
                let name = quote::format_ident!("__janus_manifest_warning_{}", i, span = span);
                tokens.extend(quote::quote_spanned! {span=>
                    const _: () = {
                        #[deprecated(note = #note)]
                        #[allow(non_camel_case_types)]
                        struct #name;
                        let _ = #name;
                    };
                });
            }
            Ok(tokens)
        }
        Err(errors) => {
            // The compiler says `error:`; the messages do not say it again.
            let mut messages: Vec<String> = errors.errors().map(|d| d.without_severity()).collect();
            messages.extend(errors.omitted_note());
            let mut combined: Option<syn::Error> = None;
            for message in messages {
                let e = syn::Error::new(span, message);
                match &mut combined {
                    Some(c) => c.combine(e),
                    None => combined = Some(e),
                }
            }
            let mut out = combined
                .map(syn::Error::into_compile_error)
                .unwrap_or_default();
            // Empty stand-ins for the modules and the `MANIFEST` constant the
            // code would have had: the errors above are the only ones, not
            // followed by "unresolved import" for every use of them.
            for module in errors.module_names() {
                let module = quote::format_ident!("{}", module, span = span);
                out.extend(quote::quote_spanned! {span=>
                    /// Not generated: the manifest has errors.
                    #[allow(dead_code, unused_imports)]
                    pub mod #module {}
                });
            }
            // Tracks the manifest even when it is wrong, so fixing it rebuilds.
            out.extend(quote!(
                /// The manifest's text (the manifest has errors).
                #[allow(dead_code)]
                pub const MANIFEST: &str = ::core::include_str!(#full_str);
            ));
            Err(out)
        }
    }
}

#[doc(hidden)]
#[proc_macro]
pub fn __check_literal(input: TokenStream) -> TokenStream {
    let tokens: Vec<TokenTree> = flatten(proc_macro2::TokenStream::from(input));
    let (spec, rest) = match tokens.split_first() {
        Some((TokenTree::Literal(l), rest)) => (l.clone(), rest),
        _ => return error(Span::call_site(), "internal: expected a literal spec"),
    };
    let spec: LitStr = match syn::parse2(quote!(#spec)) {
        Ok(s) => s,
        Err(e) => return e.into_compile_error().into(),
    };
    let rest: Vec<TokenTree> = match rest.split_first() {
        Some((TokenTree::Punct(p), rest)) if p.as_char() == ',' => rest.to_vec(),
        _ => return error(Span::call_site(), "internal: expected `, literal`"),
    };
    let (negative, lit) = match rest.as_slice() {
        [TokenTree::Literal(l)] => (false, l.clone()),
        [TokenTree::Punct(p), TokenTree::Literal(l)] if p.as_char() == '-' => (true, l.clone()),
        _ => {
            let span = rest.first().map_or(Span::call_site(), TokenTree::span);
            return error(span, "expected a literal");
        }
    };
    let span = lit.span();
    let parsed: syn::Lit = match syn::parse2(quote!(#lit)) {
        Ok(l) => l,
        Err(e) => return e.into_compile_error().into(),
    };
    let value = match (&parsed, negative) {
        (syn::Lit::Str(s), false) => LiteralValue::Str(s.value()),
        (syn::Lit::Int(i), neg) => match i.base10_parse::<i128>() {
            Ok(v) => LiteralValue::Int(if neg { -v } else { v }),
            Err(e) => return e.into_compile_error().into(),
        },
        (syn::Lit::Float(f), neg) => match f.base10_parse::<f64>() {
            Ok(v) => LiteralValue::Float(if neg { -v } else { v }),
            Err(e) => return e.into_compile_error().into(),
        },
        _ => return error(span, "expected a string, integer or float literal"),
    };
    match janus_codegen::literal::check(&spec.value(), &value) {
        Ok(Checked::Str(s)) => {
            let mut l = Literal::string(&s);
            l.set_span(span);
            quote!(#l).into()
        }
        Ok(Checked::Int(i)) => {
            let mut l = Literal::i64_suffixed(i);
            l.set_span(span);
            quote!(#l).into()
        }
        Ok(Checked::Float(f)) => {
            let mut l = Literal::f64_suffixed(f);
            l.set_span(span);
            quote!(#l).into()
        }
        Err(message) => error(span, &message),
    }
}

fn error(span: Span, message: &str) -> TokenStream {
    syn::Error::new(span, message).into_compile_error().into()
}

/// Removes the invisible groups `macro_rules!` wraps around `$x:literal`.
fn flatten(tokens: proc_macro2::TokenStream) -> Vec<TokenTree> {
    let mut out = Vec::new();
    for t in tokens {
        match t {
            TokenTree::Group(g) if g.delimiter() == Delimiter::None => {
                out.extend(flatten(g.stream()))
            }
            other => out.push(other),
        }
    }
    out
}
