//! Where the emitter puts what it generates: a [`Sink`] receives the output
//! in order, item by item, so that nothing needs the whole output at once.
//!
//! Items that hold many others (modules, traits, impls, the `match` of a
//! dispatcher) are not handed over whole: the sink is given the container
//! as a [`Template`] ([`Sink::open`]), then its contents piece by piece,
//! then [`Sink::close`]. [`Collect`] rebuilds the whole token stream (the
//! macro and [`Generated`](crate::Generated) use it); the formatter writes
//! each piece as it arrives (`crate::format::FormatSink`).

use proc_macro2::TokenStream;

/// What a container holds: what the pieces handed between its
/// [`open`](Sink::open) and [`close`](Sink::close) are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Items of a module (or of the file).
    Items,
    /// Items of a trait.
    TraitItems,
    /// Items of an impl block.
    ImplItems,
    /// Arms of a `match`.
    Arms,
}

/// A container with its contents left out: given the contents, the tokens
/// of the whole container (an item, or a trait or impl item).
pub(crate) type Template = Box<dyn FnOnce(TokenStream) -> TokenStream>;

/// A piece whose tokens are built when they are needed, maybe on another
/// thread: what [`Sink::deferred`] takes.
pub(crate) type Deferred = Box<dyn FnOnce() -> TokenStream + Send>;

/// An item holding one string literal, given the literal's tokens: what
/// [`Sink::item_with_literal`] takes.
pub(crate) type WithLiteral = Box<dyn FnOnce(TokenStream) -> TokenStream>;

/// Receives generated code in order.
pub(crate) trait Sink {
    /// One or more pieces of the innermost open container (items at the
    /// top).
    fn items(&mut self, tokens: TokenStream);
    /// What [`items`](Self::items) would receive from `build()`, built
    /// where the sink chooses: the formatter builds it on the thread that
    /// formats it, which saves writing the tokens out as text and reading
    /// them back there.
    fn deferred(&mut self, build: Deferred);
    /// One item, `build(text as a string literal)`, for a literal that may
    /// be very long (the manifest's text): the formatter lays the item out
    /// around a stand-in and writes the literal in afterwards, so the text
    /// is neither lexed, parsed nor printed again.
    fn item_with_literal(&mut self, build: WithLiteral, text: &str);
    /// Starts a container holding `slot`s: what follows until the matching
    /// [`close`](Self::close) is its contents.
    fn open(&mut self, slot: Slot, template: Template);
    /// Ends the innermost open container.
    fn close(&mut self);
}

/// A sink that rebuilds the whole token stream.
#[derive(Default)]
pub(crate) struct Collect {
    /// The open containers and the contents they have so far.
    open: Vec<(Template, TokenStream)>,
    done: TokenStream,
}

impl Collect {
    /// Everything received (containers still open are left out).
    pub(crate) fn finish(self) -> TokenStream {
        self.done
    }
}

impl Sink for Collect {
    fn items(&mut self, tokens: TokenStream) {
        match self.open.last_mut() {
            Some((_, contents)) => contents.extend(tokens),
            None => self.done.extend(tokens),
        }
    }

    fn deferred(&mut self, build: Deferred) {
        self.items(build());
    }

    fn item_with_literal(&mut self, build: WithLiteral, text: &str) {
        self.items(build(quote::quote!(#text)));
    }

    fn open(&mut self, _slot: Slot, template: Template) {
        self.open.push((template, TokenStream::new()));
    }

    fn close(&mut self) {
        if let Some((template, contents)) = self.open.pop() {
            let whole = template(contents);
            self.items(whole);
        }
    }
}
