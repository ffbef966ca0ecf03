//! Formatting generated code piece by piece, straight to a writer.
//!
//! Formatting the whole output as one `syn::File` holds a syntax tree of
//! every item and a parse buffer of every token besides the tokens
//! themselves. Here each piece the emitter hands over (an item, a trait or
//! impl item, a `match` arm: see [`Sink`]) is parsed alone and formatted by
//! prettyplease inside minimal wrappers that put it at its depth (so
//! indentation and line breaks are exactly those of formatting the whole
//! file), and its text is written out before the next piece comes. A
//! container (module, trait, impl, `match`) is formatted once with a
//! one-line placeholder for its contents: the lines before the placeholder
//! are written when its first piece comes, the lines after when it closes.
//!
//! Pieces are formatted in batches, on worker threads when there is more
//! than one CPU ([`with_sink`]): the emitter goes on generating while they
//! are formatted, and the text is written in the order the pieces came.
//!
//! [`write_items`] does the same for a token stream already built: it is
//! cut into items (at a `;` or a `{…}` after which the tokens so far parse
//! as an item), and modules are entered, not parsed whole.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::{Mutex, mpsc};

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use quote::quote;
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, Ident, Item, Visibility};

use crate::emit::{Deferred, Sink, Slot, Template, WithLiteral};

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

impl From<syn::Error> for FormatError {
    fn from(e: syn::Error) -> Self {
        FormatError::Syntax(e)
    }
}

/// Writes `tokens`, a sequence of items, formatted as prettyplease formats
/// a file holding them.
pub(crate) fn write_items(tokens: TokenStream, out: &mut dyn Write) -> Result<(), FormatError> {
    with_sink(out, |sink| feed(tokens, false, sink))
}

/// Runs `f` with a [`FormatSink`] writing to `out`, then finishes it: the
/// first failure of `f` or of formatting.
///
/// With more than one CPU, the pieces are formatted on worker threads
/// (as many as there are CPUs, at most [`MAX_WORKERS`]) while `f` goes on
/// generating; the text is written in the order the pieces came, so the
/// output is the same as formatting them one by one.
pub(crate) fn with_sink<'w>(
    out: &'w mut dyn Write,
    f: impl FnOnce(&mut FormatSink<'w>) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_WORKERS);
    with_workers(out, workers, f)
}

/// [`with_sink`] with `workers` formatting threads (none below 2).
fn with_workers<'w>(
    out: &'w mut dyn Write,
    workers: usize,
    f: impl FnOnce(&mut FormatSink<'w>) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    if workers < 2 {
        let mut sink = FormatSink::new(out, None);
        let result = f(&mut sink);
        return result.and(sink.finish());
    }
    let (jobs, queue) = mpsc::sync_channel::<Job>(QUEUED_PER_WORKER * workers);
    let queue = Mutex::new(queue);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| work(&queue));
        }
        let mut sink = FormatSink::new(out, Some(jobs));
        let result = f(&mut sink);
        // Finishing drops the jobs' sender: the workers end.
        result.and(sink.finish())
    })
}

/// At most this many formatting threads.
const MAX_WORKERS: usize = 4;

/// How many jobs may wait for each worker, and how many results (per
/// worker, at most) may wait to be written: deep enough that the emitter
/// seldom blocks handing out a job or waiting for the oldest result (each
/// block is a sleep and a wake-up; with a queue of one job a worker, a
/// 10,000-request `generate` took 6.4 s instead of 5.2 s on two CPUs).
const QUEUED_PER_WORKER: usize = 16;

/// Pieces to format on a worker: their parts, where they go, and where the
/// result goes.
struct Job {
    parts: Vec<JobPart>,
    slot: Slot,
    depth: usize,
    done: mpsc::SyncSender<Result<String, String>>,
}

/// Part of a [`Job`]: tokens built by the emitter, as text
/// (proc-macro2's token streams cannot cross threads), or built by the
/// worker.
enum JobPart {
    Text(String),
    Deferred(Deferred),
}

/// A part of a batch not handed out yet.
enum Part {
    Tokens(TokenStream),
    Deferred(Deferred),
}

impl Part {
    fn into_job_part(self) -> JobPart {
        match self {
            Part::Tokens(tokens) => JobPart::Text(tokens.to_string()),
            Part::Deferred(build) => JobPart::Deferred(build),
        }
    }
}

/// The tokens of a batch's parts, in order.
fn job_tokens(parts: Vec<JobPart>) -> Result<TokenStream, String> {
    let mut tokens = TokenStream::new();
    for part in parts {
        match part {
            JobPart::Text(text) => {
                tokens.extend(text.parse::<TokenStream>().map_err(|e| e.to_string())?)
            }
            JobPart::Deferred(build) => tokens.extend(build()),
        }
    }
    Ok(tokens)
}

/// A worker: formats jobs until the sink is finished.
fn work(queue: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        // Held while waiting: the other workers wait for the lock instead.
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let result = job_tokens(job.parts).and_then(|tokens| {
            contents_text(job.slot, job.depth, tokens).map_err(|e| match e {
                FormatError::Syntax(e) => e.to_string(),
                FormatError::Io(e) => e.to_string(),
            })
        });
        // The sink may have stopped waiting after a failure.
        let _ = job.done.send(result);
    }
}

/// Hands the items of `tokens` to `sink`, entering modules; with `inner`,
/// after the inner attributes that start it (a module's content), which
/// the module's template carries.
fn feed(tokens: TokenStream, inner: bool, sink: &mut FormatSink<'_>) -> Result<(), FormatError> {
    let mut trees = tokens.into_iter().peekable();
    if inner {
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
        if let Some((head, content)) = inline_mod(&pending) {
            let mut trees = content.clone().into_iter().peekable();
            let inner_attrs = take_inner_attrs(&mut trees);
            sink.open(
                Slot::Items,
                Box::new(move |body| {
                    let body = Group::new(Delimiter::Brace, quote!(#inner_attrs #body));
                    quote!(#head #body)
                }),
            );
            feed(content, true, sink)?;
            sink.close();
            pending.clear();
        } else if syn::parse2::<Item>(pending.iter().cloned().collect()).is_ok() {
            sink.items(pending.drain(..).collect());
        }
        sink.take_error()?;
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

/// A sink that formats what it receives and writes it out.
pub(crate) struct FormatSink<'w> {
    out: &'w mut dyn Write,
    /// The file, then the open containers, innermost last.
    frames: Vec<Frame>,
    /// The first failure; everything after it is ignored.
    error: Option<FormatError>,
    /// Pieces of the innermost container not formatted yet: formatted
    /// [`BATCH`] at a time, which gives the same text (siblings are
    /// formatted independently) for a fraction of the wrappers' cost.
    pending: Vec<Part>,
    pending_count: usize,
    /// Where pieces go to be formatted on worker threads; `None`: here.
    jobs: Option<mpsc::SyncSender<Job>>,
    /// What is to be written after the jobs handed out and not written
    /// yet, oldest first: a job's result, or text ready to write (a
    /// container's first or last lines), queued so that it need not wait
    /// for the jobs before it.
    in_flight: VecDeque<Queued>,
}

/// An entry of [`FormatSink::in_flight`].
enum Queued {
    Job(mpsc::Receiver<Result<String, String>>),
    Text(String),
}

/// How many pieces are formatted together.
const BATCH: usize = 32;

struct Frame {
    slot: Slot,
    /// Until the container's first lines are written: its template.
    template: Option<Template>,
    /// How deep its contents are indented, in levels.
    depth: usize,
    /// The lines that close it.
    suffix: String,
}

/// Indentation prettyplease gives each nesting level.
const INDENT: usize = 4;

/// The name in placeholders and wrappers.
const SLOT_NAME: &str = "__janus_slot";

impl<'w> FormatSink<'w> {
    fn new(out: &'w mut dyn Write, jobs: Option<mpsc::SyncSender<Job>>) -> Self {
        FormatSink {
            out,
            frames: vec![Frame {
                slot: Slot::Items,
                template: None,
                depth: 0,
                suffix: String::new(),
            }],
            error: None,
            pending: Vec::new(),
            pending_count: 0,
            jobs,
            in_flight: VecDeque::new(),
        }
    }

    /// Ends formatting: the first failure, if any.
    fn finish(mut self) -> Result<(), FormatError> {
        self.flush();
        self.attempt(Self::drain);
        self.take_error()
    }

    /// Formats and writes the pending pieces.
    fn flush(&mut self) {
        if self.pending_count == 0 {
            return;
        }
        let parts = std::mem::take(&mut self.pending);
        self.pending_count = 0;
        self.attempt(|s| {
            let frame = s
                .frames
                .last()
                .unwrap_or_else(|| unreachable!("the file's frame stays"));
            let (slot, depth) = (frame.slot, frame.depth);
            let Some(jobs) = &s.jobs else {
                let tokens = parts
                    .into_iter()
                    .flat_map(|part| match part {
                        Part::Tokens(tokens) => tokens,
                        Part::Deferred(build) => build(),
                    })
                    .collect();
                let text = contents_text(slot, depth, tokens)?;
                s.out.write_all(text.as_bytes())?;
                return Ok(());
            };
            let (done, result) = mpsc::sync_channel(1);
            let job = Job {
                parts: parts.into_iter().map(Part::into_job_part).collect(),
                slot,
                depth,
                done,
            };
            jobs.send(job).map_err(|_| worker_failed())?;
            s.in_flight.push_back(Queued::Job(result));
            s.bound()
        });
    }

    /// Counts a piece just added to [`pending`](Self::pending): a full
    /// batch is handed out.
    fn counted(&mut self) {
        self.pending_count += 1;
        if self.pending_count >= BATCH {
            self.flush();
        }
    }

    /// Writes `text` after everything handed out before it.
    fn write_text(&mut self, text: String) -> Result<(), FormatError> {
        if self.in_flight.is_empty() {
            self.out.write_all(text.as_bytes())?;
            return Ok(());
        }
        self.in_flight.push_back(Queued::Text(text));
        self.bound()
    }

    /// Keeps the queue bounded: memory stays that of a few batches.
    fn bound(&mut self) -> Result<(), FormatError> {
        while self.in_flight.len() > QUEUED_PER_WORKER * MAX_WORKERS {
            self.write_oldest()?;
        }
        Ok(())
    }

    /// Waits for the oldest job handed out and writes its text.
    fn write_oldest(&mut self) -> Result<(), FormatError> {
        let result = match self.in_flight.pop_front() {
            None => return Ok(()),
            Some(Queued::Text(text)) => {
                self.out.write_all(text.as_bytes())?;
                return Ok(());
            }
            Some(Queued::Job(result)) => result,
        };
        let text = result
            .recv()
            .map_err(|_| worker_failed())?
            .map_err(|message| {
                FormatError::Syntax(syn::Error::new(proc_macro2::Span::call_site(), message))
            })?;
        self.out.write_all(text.as_bytes())?;
        Ok(())
    }

    /// Writes the text of every job handed out: before anything else is
    /// written.
    fn drain(&mut self) -> Result<(), FormatError> {
        while !self.in_flight.is_empty() {
            self.write_oldest()?;
        }
        Ok(())
    }

    fn take_error(&mut self) -> Result<(), FormatError> {
        self.error.take().map_or(Ok(()), Err)
    }

    fn attempt(&mut self, f: impl FnOnce(&mut Self) -> Result<(), FormatError>) {
        if self.error.is_none()
            && let Err(e) = f(self)
        {
            self.error = Some(e);
        }
    }

    /// Writes the first lines of every container not yet started.
    fn start_open(&mut self) -> Result<(), FormatError> {
        for i in 1..self.frames.len() {
            let Some(template) = self.frames[i].template.take() else {
                continue;
            };
            let slot = self.frames[i].slot;
            let tokens = template(placeholder(slot));
            let outer = &self.frames[i - 1];
            let text = contents_text(outer.slot, outer.depth, tokens)?;
            let marker = placeholder_line(slot);
            let (at, line) = text
                .lines()
                .enumerate()
                .find(|(_, l)| l.trim_start() == marker)
                .ok_or_else(|| {
                    FormatError::Syntax(syn::Error::new(
                        proc_macro2::Span::call_site(),
                        "a container's contents placeholder was lost in formatting",
                    ))
                })?;
            let depth = (line.len() - line.trim_start().len()) / INDENT;
            let mut prefix = String::new();
            let mut suffix = String::new();
            for (n, l) in text.lines().enumerate() {
                if n == at {
                    continue;
                }
                let part = if n < at { &mut prefix } else { &mut suffix };
                part.push_str(l);
                part.push('\n');
            }
            self.write_text(prefix)?;
            let frame = &mut self.frames[i];
            frame.depth = depth;
            frame.suffix = suffix;
        }
        Ok(())
    }
}

impl Sink for FormatSink<'_> {
    fn items(&mut self, tokens: TokenStream) {
        // The containers not started yet have no pending pieces.
        self.attempt(Self::start_open);
        if tokens.is_empty() {
            // Nothing to format: a batch of only empty pieces would be a
            // wrapper with no lines of its own to keep.
            return;
        }
        match self.pending.last_mut() {
            Some(Part::Tokens(last)) => last.extend(tokens),
            _ => self.pending.push(Part::Tokens(tokens)),
        }
        self.counted();
    }

    fn deferred(&mut self, build: Deferred) {
        // As `items`: the piece may turn out empty, which formats to
        // nothing (see `contents_text`).
        self.attempt(Self::start_open);
        self.pending.push(Part::Deferred(build));
        self.counted();
    }

    fn item_with_literal(&mut self, build: WithLiteral, text: &str) {
        if text.len() < LONG_LITERAL {
            // It may fit a line: laid out as it is.
            return self.items(build(quote!(#text)));
        }
        // After what came before it, in order.
        self.attempt(Self::start_open);
        self.flush();
        self.attempt(|s| {
            let frame = s
                .frames
                .last()
                .unwrap_or_else(|| unreachable!("the file's frame stays"));
            let stand_in = literal_stand_in();
            let formatted = contents_text(frame.slot, frame.depth, build(quote!(#stand_in)))?;
            let stand_in = proc_macro2::Literal::string(&stand_in).to_string();
            // The literal is the item's last: documentation before it may
            // quote anything, the stand-in too.
            let at = formatted
                .rfind(&stand_in)
                .ok_or_else(|| worker_failed_with("the literal's stand-in went missing"))?;
            let literal = proc_macro2::Literal::string(text).to_string();
            let mut out = String::with_capacity(formatted.len() - stand_in.len() + literal.len());
            out.push_str(&formatted[..at]);
            out.push_str(&literal);
            out.push_str(&formatted[at + stand_in.len()..]);
            s.write_text(out)
        });
    }

    fn open(&mut self, slot: Slot, template: Template) {
        self.flush();
        self.frames.push(Frame {
            slot,
            template: Some(template),
            depth: 0,
            suffix: String::new(),
        });
    }

    fn close(&mut self) {
        self.flush();
        if self.frames.len() < 2 {
            return;
        }
        let frame = self
            .frames
            .pop()
            .unwrap_or_else(|| unreachable!("checked above"));
        match frame.template {
            // Never started: empty, formatted whole.
            Some(template) => self.items(template(TokenStream::new())),
            None => self.attempt(|s| s.write_text(frame.suffix)),
        }
    }
}

/// The one-line stand-in for a container's contents.
fn placeholder(slot: Slot) -> TokenStream {
    let name = Ident::new(SLOT_NAME, proc_macro2::Span::call_site());
    match slot {
        Slot::Items | Slot::ImplItems => quote!(const #name: () = ();),
        Slot::TraitItems => quote!(const #name: ();),
        Slot::Arms => quote!(#name => {}),
    }
}

/// The placeholder as prettyplease writes it.
fn placeholder_line(slot: Slot) -> &'static str {
    match slot {
        Slot::Items | Slot::ImplItems => "const __janus_slot: () = ();",
        Slot::TraitItems => "const __janus_slot: ();",
        Slot::Arms => "__janus_slot => {}",
    }
}

/// `tokens`, contents of `frame`, formatted at the frame's depth: wrapped
/// in what holds such contents (a trait, an impl, a function's `match`) and
/// in modules up to that depth, formatted, the wrappers' lines removed.
fn contents_text(slot: Slot, depth: usize, tokens: TokenStream) -> Result<String, FormatError> {
    if tokens.is_empty() {
        // No lines of its own (the wrappers alone would lose their shape).
        return Ok(String::new());
    }
    let name = Ident::new(SLOT_NAME, proc_macro2::Span::call_site());
    let (mut wrapped, levels) = match slot {
        Slot::Items => (tokens, 0),
        Slot::TraitItems => (quote!(trait #name { #tokens }), 1),
        Slot::ImplItems => (quote!(impl #name { #tokens }), 1),
        Slot::Arms => (quote!(fn #name() { match #name { #tokens } }), 2),
    };
    for _ in levels..depth {
        wrapped = quote!(mod #name { #wrapped });
    }
    let file: syn::File = syn::parse2(wrapped)?;
    let text = prettyplease::unparse(&file);
    if depth == 0 {
        return Ok(text);
    }
    let lines: Vec<&str> = text.lines().collect();
    // Empty contents leave the wrappers on fewer lines: nothing inside.
    let inner = lines
        .get(depth..lines.len().saturating_sub(depth))
        .unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    for line in inner {
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

/// From how many bytes a literal given to [`Sink::item_with_literal`] is
/// written in after formatting (longer than [`literal_stand_in`], so never
/// on a line of its own width).
const LONG_LITERAL: usize = 1024;

/// What stands for a long literal while its item is formatted: wider than a
/// line, as the literal is, so that the item is laid out as it would be
/// around the literal itself (a literal that does not fit a line breaks
/// the same lines whatever its length).
fn literal_stand_in() -> String {
    format!("{SLOT_NAME}{}", "_".repeat(120))
}

fn worker_failed_with(message: &str) -> FormatError {
    FormatError::Io(io::Error::other(message.to_owned()))
}

fn worker_failed() -> FormatError {
    FormatError::Io(io::Error::other("a code-formatting thread failed"))
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

/// `attrs vis mod name {content}`: the header's tokens and the content.
fn inline_mod(trees: &[TokenTree]) -> Option<(TokenStream, TokenStream)> {
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
    Parser::parse2(
        |input: ParseStream<'_>| {
            Attribute::parse_outer(input)?;
            input.parse::<Visibility>()?;
            input.parse::<syn::Token![mod]>()?;
            input.parse::<Ident>()?;
            Ok(())
        },
        head.clone(),
    )
    .ok()?;
    Some((head, g.stream()))
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
    fn formatting_threads_write_what_one_thread_writes() {
        // Many batches in nested containers, with modules, a trait and an
        // impl: written in order whatever thread formatted them.
        let fns: Vec<TokenStream> = (0..300_u32)
            .map(|i| {
                let f = quote::format_ident!("f_{}", i);
                quote!(/// A method.
                    fn #f(&self) -> ::std::result::Result<i64, ::std::string::String> { Ok(#i) })
            })
            .collect();
        let structs: Vec<TokenStream> = (0..300_u32)
            .map(|i| {
                let s = quote::format_ident!("S{}", i);
                quote!(pub struct #s { pub a: i64 })
            })
            .collect();
        let tokens = quote! {
            pub mod a {
                #(#structs)*
                pub mod b {
                    pub trait T { #(#fns)* }
                    pub struct Z;
                    impl T for Z {}
                }
            }
            pub const LAST: &str = "end";
        };
        let mut results = Vec::new();
        for workers in [1, 2, 4] {
            let mut out = Vec::new();
            let done = with_workers(&mut out, workers, |sink| feed(tokens.clone(), false, sink));
            assert!(done.is_ok(), "{workers} workers");
            results.push(String::from_utf8(out).unwrap());
        }
        assert_eq!(results[0], whole(tokens));
        assert_eq!(results[1], results[0]);
        assert_eq!(results[2], results[0]);
    }

    #[test]
    fn empty_pieces_in_nested_containers_write_nothing() {
        // As the emitter hands over a type with no extra items: an empty
        // piece, alone in its batch, two modules deep.
        for workers in [1, 2] {
            let mut out = Vec::new();
            let result = with_workers(&mut out, workers, |sink| {
                for name in ["a", "b"] {
                    let name = quote::format_ident!("{}", name);
                    sink.open(
                        Slot::Items,
                        Box::new(move |body| quote!(pub mod #name { #body })),
                    );
                }
                sink.items(quote!(
                    pub struct S;
                ));
                sink.flush();
                sink.items(TokenStream::new());
                sink.close();
                sink.items(TokenStream::new());
                sink.close();
                Ok(())
            });
            assert!(result.is_ok(), "{workers} workers");
            let text = String::from_utf8(out).unwrap();
            assert_eq!(
                text,
                whole(quote!(
                    pub mod a {
                        pub mod b {
                            pub struct S;
                        }
                    }
                )),
                "{workers} workers"
            );
        }
    }

    #[test]
    fn deferred_pieces_format_in_order_among_the_others() {
        // Built where they are formatted; some turn out empty, one alone in
        // its batch two modules deep.
        let whole_text = whole(quote!(
            pub mod a {
                pub struct First;
                pub mod b {
                    pub struct S0;
                    pub struct S1;
                    pub struct S2;
                    pub struct S3;
                    pub struct S4;
                    pub struct S5;
                }
                pub struct Last;
            }
        ));
        for workers in [1, 2, 4] {
            let mut out = Vec::new();
            let result = with_workers(&mut out, workers, |sink| {
                sink.open(Slot::Items, Box::new(|body| quote!(pub mod a { #body })));
                sink.deferred(Box::new(|| {
                    quote!(
                        pub struct First;
                    )
                }));
                sink.open(Slot::Items, Box::new(|body| quote!(pub mod b { #body })));
                for i in 0..6_u32 {
                    if i % 2 == 0 {
                        sink.deferred(Box::new(move || {
                            let s = quote::format_ident!("S{}", i);
                            quote!(pub struct #s;)
                        }));
                    } else {
                        let s = quote::format_ident!("S{}", i);
                        sink.items(quote!(pub struct #s;));
                    }
                    sink.deferred(Box::new(TokenStream::new));
                }
                sink.flush();
                sink.deferred(Box::new(TokenStream::new));
                sink.close();
                sink.items(quote!(
                    pub struct Last;
                ));
                sink.close();
                Ok(())
            });
            assert!(result.is_ok(), "{workers} workers");
            assert_eq!(
                String::from_utf8(out).unwrap(),
                whole_text,
                "{workers} workers"
            );
        }
    }

    #[test]
    fn a_long_literal_is_written_in_as_the_whole_would_format_it() {
        // Short and long literals, escapes, a doc that quotes the stand-in,
        // one module deep after other pieces.
        let stand_in = literal_stand_in();
        let cases = [
            "short".to_owned(),
            format!("{{\"a\": \"line\nbreak \u{1F600}\"}}{}", "x".repeat(5_000)),
        ];
        for text in &cases {
            let doc = format!("Quotes `\"{stand_in}\"`.");
            let item =
                |value: TokenStream| quote!(#[doc = #doc] pub const MANIFEST: &str = #value;);
            let call = |value: TokenStream| quote!(pub static S: Schema = Schema::new(#value););
            let (i, c) = (item(quote!(#text)), call(quote!(#text)));
            let whole_text =
                whole(quote!(pub mod m { pub struct Before; #i #c pub struct After; }));
            for workers in [1, 2] {
                let mut out = Vec::new();
                let result = with_workers(&mut out, workers, |sink| {
                    sink.open(Slot::Items, Box::new(|body| quote!(pub mod m { #body })));
                    sink.items(quote!(
                        pub struct Before;
                    ));
                    let doc = doc.clone();
                    sink.item_with_literal(
                        Box::new(
                            move |value| quote!(#[doc = #doc] pub const MANIFEST: &str = #value;),
                        ),
                        text,
                    );
                    sink.item_with_literal(Box::new(call), text);
                    sink.deferred(Box::new(|| {
                        quote!(
                            pub struct After;
                        )
                    }));
                    sink.close();
                    Ok(())
                });
                assert!(result.is_ok(), "{workers} workers");
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    whole_text,
                    "{workers} workers"
                );
            }
        }
    }

    #[test]
    fn a_syntax_error_found_by_a_formatting_thread_is_reported() {
        let items: Vec<TokenStream> = (0..100_u32)
            .map(|i| {
                let s = quote::format_ident!("S{}", i);
                quote!(pub struct #s;)
            })
            .collect();
        // As the emitter hands pieces over: unchecked until formatted.
        let mut out = Vec::new();
        let result = with_workers(&mut out, 2, |sink| {
            for item in items {
                sink.items(item);
            }
            sink.items(quote!(1 + 1));
            sink.items(quote!(
                pub struct After;
            ));
            Ok(())
        });
        assert!(matches!(result, Err(FormatError::Syntax(_))));
        // What came before the bad piece is written; nothing after it.
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("pub struct S63;"), "{text}");
        assert!(!text.contains("After"), "{text}");
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
