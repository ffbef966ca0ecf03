//! Formatting generated code item by item, straight to a writer.
//!
//! Formatting the whole output as one `syn::File` holds a syntax tree of
//! every item and a parse buffer of every token besides the tokens
//! themselves. Here the tokens are cut into items (at a `;` or a `{…}`
//! after which the tokens so far parse as an item), each item is parsed
//! alone, formatted by prettyplease inside as many wrapping modules as it is
//! deep (so indentation and line breaks are exactly those of formatting the
//! whole file), and its text is written out before the next item is cut.
//! Modules are entered, not parsed whole.

use std::io::{self, Write};

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, Ident, Item, Visibility};

/// Why formatting stopped.
pub(crate) enum FormatError {
    /// The tokens are not a sequence of Rust items.
    Syntax(syn::Error),
    /// The writer failed.
    Io(io::Error),
}

impl From<io::Error> for FormatError {
    fn from(e: io::Error) -> Self {
        FormatError::Io(e)
    }
}

/// Writes `tokens`, a sequence of items, formatted as prettyplease formats
/// a file holding them.
pub(crate) fn write_items(tokens: TokenStream, out: &mut dyn Write) -> Result<(), FormatError> {
    ItemWriter {
        out,
        path: Vec::new(),
    }
    .items(tokens, false)
}

struct ItemWriter<'w> {
    out: &'w mut dyn Write,
    /// The modules the items being written are in.
    path: Vec<Ident>,
}

/// Indentation prettyplease gives each nesting level.
const INDENT: usize = 4;

/// The parts of a module's header: outer attributes, visibility, `mod`, name.
type ModHeader = (Vec<Attribute>, Visibility, syn::Token![mod], Ident);

impl ItemWriter<'_> {
    /// Writes the items of `tokens`; with `inner`, after the inner
    /// attributes that start it (a module's content), which are skipped.
    fn items(&mut self, tokens: TokenStream, inner: bool) -> Result<(), FormatError> {
        let mut trees = tokens.into_iter().peekable();
        if inner {
            // The module's header carries them.
            take_inner_attrs(&mut trees);
        }
        let mut pending: Vec<TokenTree> = Vec::new();
        for tree in trees {
            let ends = match &tree {
                TokenTree::Punct(p) => p.as_char() == ';',
                TokenTree::Group(g) => g.delimiter() == Delimiter::Brace,
                _ => false,
            };
            pending.push(tree);
            if !ends {
                continue;
            }
            if let Some((header, content)) = inline_mod(&pending) {
                self.module(header, content)?;
                pending.clear();
            } else if let Ok(item) = syn::parse2::<Item>(pending.iter().cloned().collect()) {
                let text = self.unparse_nested(item);
                self.out.write_all(text.as_bytes())?;
                pending.clear();
            }
        }
        if pending.is_empty() {
            Ok(())
        } else {
            // Not an item: the parser's own message.
            syn::parse2::<Item>(pending.into_iter().collect())
                .map(drop)
                .map_err(FormatError::Syntax)
        }
    }

    /// A module with content: its header, then its items one by one.
    fn module(&mut self, header: ModHeader, content: TokenStream) -> Result<(), FormatError> {
        let (mut attrs, vis, mod_token, ident) = header;
        let mut trees = content.clone().into_iter().peekable();
        let inner_tokens = take_inner_attrs(&mut trees);
        let empty = trees.peek().is_none();
        let inner_attrs =
            Parser::parse2(Attribute::parse_inner, inner_tokens).map_err(FormatError::Syntax)?;
        attrs.extend(inner_attrs);
        let header = Item::Mod(syn::ItemMod {
            attrs,
            vis,
            unsafety: None,
            mod_token,
            ident: ident.clone(),
            content: Some((Default::default(), Vec::new())),
            semi: None,
        });
        let mut text = self.unparse_nested(header);
        if empty {
            // Formatted whole: `pub mod m {}`.
            self.out.write_all(text.as_bytes())?;
            return Ok(());
        }
        // `pub mod m {}`, or with inner attributes `pub mod m {\n #![…]\n}`:
        // everything but the closing brace.
        if let Some(open) = text.strip_suffix("{}\n") {
            text = format!("{open}{{\n");
        } else if let Some(end) = text.trim_end_matches('\n').rfind('\n') {
            text.truncate(end + 1);
        }
        self.out.write_all(text.as_bytes())?;
        self.path.push(ident);
        self.items(content, true)?;
        self.path.pop();
        let close = format!("{}}}\n", " ".repeat(INDENT * self.path.len()));
        self.out.write_all(close.as_bytes())?;
        Ok(())
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
}

/// Takes the `#![…]` attributes a module's content starts with.
fn take_inner_attrs(
    trees: &mut std::iter::Peekable<proc_macro2::token_stream::IntoIter>,
) -> TokenStream {
    let mut taken = TokenStream::new();
    loop {
        let mut ahead = trees.clone();
        let attr: Vec<TokenTree> = ahead.by_ref().take(3).collect();
        let is_inner = matches!(&attr[..], [TokenTree::Punct(h), TokenTree::Punct(b), TokenTree::Group(g)]
            if h.as_char() == '#' && b.as_char() == '!' && g.delimiter() == Delimiter::Bracket);
        if !is_inner {
            return taken;
        }
        taken.extend(attr);
        *trees = ahead;
    }
}

/// `attrs vis mod name {content}`: the header and the content.
fn inline_mod(trees: &[TokenTree]) -> Option<(ModHeader, TokenStream)> {
    let [
        ..,
        TokenTree::Ident(m),
        TokenTree::Ident(_),
        TokenTree::Group(g),
    ] = trees
    else {
        return None;
    };
    if m != "mod" || g.delimiter() != Delimiter::Brace {
        return None;
    }
    let head: TokenStream = trees[..trees.len() - 1].iter().cloned().collect();
    let header = Parser::parse2(
        |input: ParseStream<'_>| {
            Ok((
                Attribute::parse_outer(input)?,
                input.parse::<Visibility>()?,
                input.parse::<syn::Token![mod]>()?,
                input.parse::<Ident>()?,
            ))
        },
        head,
    )
    .ok()?;
    Some((header, g.stream()))
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
