//! Formatting generated code item by item, straight to a writer.
//!
//! Formatting the whole output as one `syn::File` holds every item's syntax
//! tree and the whole formatted text at once: tens of times the size of the
//! output. Here the tokens are parsed one item at a time, each item is
//! formatted by prettyplease inside as many wrapping modules as it is deep
//! (so indentation and line breaks are exactly those of formatting the whole
//! file), and its text is written out before the next item is parsed. Only
//! modules are entered instead of being parsed whole.

use std::io::{self, Write};

use proc_macro2::TokenStream;
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, Ident, Item, Visibility};

/// Why formatting stopped.
pub(crate) enum FormatError {
    /// The tokens are not a sequence of Rust items.
    Syntax(syn::Error),
    /// The writer failed.
    Io(io::Error),
}

/// Writes `tokens`, a sequence of items, formatted as prettyplease formats
/// a file holding them.
pub(crate) fn write_items(tokens: TokenStream, out: &mut dyn Write) -> Result<(), FormatError> {
    let mut io_error = None;
    let parsed = (|input: ParseStream<'_>| {
        let mut w = ItemWriter {
            out,
            path: Vec::new(),
            io_error: &mut io_error,
        };
        w.items(input)
    })
    .parse2(tokens);
    match (io_error, parsed) {
        (Some(e), _) => Err(FormatError::Io(e)),
        (None, Err(e)) => Err(FormatError::Syntax(e)),
        (None, Ok(())) => Ok(()),
    }
}

struct ItemWriter<'w, 'e> {
    out: &'w mut dyn Write,
    /// The modules the items being written are in.
    path: Vec<Ident>,
    /// The writer's error, kept apart from parse errors.
    io_error: &'e mut Option<io::Error>,
}

/// Indentation prettyplease gives each nesting level.
const INDENT: usize = 4;

impl ItemWriter<'_, '_> {
    fn items(&mut self, input: ParseStream<'_>) -> syn::Result<()> {
        while !input.is_empty() {
            if is_inline_mod(input) {
                self.module(input)?;
            } else {
                let item: Item = input.parse()?;
                let text = self.unparse_nested(item);
                self.write(input, &text)?;
            }
        }
        Ok(())
    }

    /// A module with content: its header, then its items one by one.
    fn module(&mut self, input: ParseStream<'_>) -> syn::Result<()> {
        let mut attrs = Attribute::parse_outer(input)?;
        let vis: Visibility = input.parse()?;
        let mod_token: syn::Token![mod] = input.parse()?;
        let ident: Ident = input.parse()?;
        let content;
        let brace = syn::braced!(content in input);
        attrs.extend(Attribute::parse_inner(&content)?);
        let header = Item::Mod(syn::ItemMod {
            attrs,
            vis,
            unsafety: None,
            mod_token,
            ident: ident.clone(),
            content: Some((brace, Vec::new())),
            semi: None,
        });
        let mut text = self.unparse_nested(header);
        if content.is_empty() {
            // Formatted whole: `pub mod m {}`.
            return self.write(input, &text);
        }
        // `pub mod m {}`, or with inner attributes `pub mod m {\n #![…]\n}`:
        // everything but the closing brace.
        if let Some(open) = text.strip_suffix("{}\n") {
            text = format!("{open}{{\n");
        } else if let Some(end) = text.trim_end_matches('\n').rfind('\n') {
            text.truncate(end + 1);
        }
        self.write(input, &text)?;
        self.path.push(ident);
        self.items(&content)?;
        self.path.pop();
        let close = format!("{}}}\n", " ".repeat(INDENT * self.path.len()));
        self.write(input, &close)
    }

    /// The item formatted at its depth: wrapped in one module per level,
    /// formatted, and the wrappers' lines removed.
    fn unparse_nested(&self, item: Item) -> String {
        let mut wrapped = item;
        for ident in self.path.iter().rev() {
            wrapped = Item::Mod(syn::ItemMod {
                attrs: Vec::new(),
                vis: Visibility::Inherited,
                unsafety: None,
                mod_token: Default::default(),
                ident: ident.clone(),
                content: Some((Default::default(), vec![wrapped])),
                semi: None,
            });
        }
        let text = prettyplease::unparse(&syn::File {
            shebang: None,
            frontmatter: None,
            attrs: Vec::new(),
            items: vec![wrapped],
        });
        let depth = self.path.len();
        if depth == 0 {
            return text;
        }
        let lines: Vec<&str> = text.lines().collect();
        let inner = &lines[depth.min(lines.len())..lines.len().saturating_sub(depth)];
        let mut out = String::with_capacity(text.len());
        for line in inner {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    fn write(&mut self, input: ParseStream<'_>, text: &str) -> syn::Result<()> {
        self.out.write_all(text.as_bytes()).map_err(|e| {
            *self.io_error = Some(e);
            input.error("write failed")
        })
    }
}

/// Whether the input starts with `attrs vis mod name {`.
fn is_inline_mod(input: ParseStream<'_>) -> bool {
    let ahead = input.fork();
    Attribute::parse_outer(&ahead).is_ok()
        && ahead.parse::<Visibility>().is_ok()
        && ahead.parse::<syn::Token![mod]>().is_ok()
        && ahead.parse::<Ident>().is_ok()
        && ahead.peek(syn::token::Brace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn streamed(tokens: TokenStream) -> String {
        let mut out = Vec::new();
        match write_items(tokens, &mut out) {
            Ok(()) => String::from_utf8(out).unwrap(),
            Err(FormatError::Syntax(e)) => panic!("{e}"),
            Err(FormatError::Io(e)) => panic!("{e}"),
        }
    }

    fn whole(tokens: TokenStream) -> String {
        prettyplease::unparse(&syn::parse2(tokens).unwrap())
    }

    #[test]
    fn nested_modules_and_items_format_as_the_whole_file_does() {
        let tokens = quote! {
            /// Outer.
            pub mod a {
                #![allow(clippy::all)]
                pub struct S { pub very_long_field_name_number_one: ::std::string::String, pub very_long_field_name_number_two: ::std::vec::Vec<i64> }
                mod b {
                    fn f() -> i64 { let x = 1; x + 1 }
                    pub mod empty {}
                    mod c { const C: &str = "a\nb"; }
                }
                #[doc = " Line one.\n Line two."]
                pub enum E { A, B }
            }
            pub mod declared;
            pub const MANIFEST: &str = "{}";
        };
        assert_eq!(streamed(tokens.clone()), whole(tokens));
    }

    #[test]
    fn a_failing_writer_is_an_io_error() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let result = write_items(
            quote!(
                pub mod m {
                    pub struct S;
                }
            ),
            &mut Full,
        );
        assert!(matches!(result, Err(FormatError::Io(e)) if e.to_string() == "full"));
    }

    #[test]
    fn tokens_that_are_not_items_are_a_syntax_error() {
        let result = write_items(quote!(pub mod m { 1 + 1 }), &mut Vec::new());
        assert!(matches!(result, Err(FormatError::Syntax(_))));
    }
}
