//! JSON with source positions.
//!
//! The manifest is parsed with `jsonc-parser` in strict mode (no comments, no
//! trailing commas, no single quotes, no JSON5 extensions), which gives every
//! value a byte range; the text is then cross-checked with `serde_json` so
//! that anything strict JSON refuses (control characters in strings, leading
//! zeros, …) is refused here too. Duplicate keys are reported, all of them.

use std::cell::Cell;
use std::collections::HashMap;

use jsonc_parser::ast;
use jsonc_parser::common::Ranged;

use crate::diag::{Diagnostic, Pos, Sink};

/// How deeply arrays and objects may nest (as `serde_json` allows): deeper
/// input is refused before it is parsed, so no recursion can exhaust the
/// stack.
pub const MAX_DEPTH: usize = 128;

/// A JSON value with the position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the value starts.
    pub pos: Pos,
    /// The value.
    pub kind: Kind,
}

/// The kinds of JSON values.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Node>),
    /// An object, members in source order.
    Object(Vec<Member>),
}

/// One member of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The key, unescaped.
    pub key: String,
    /// Where the key starts.
    pub key_pos: Pos,
    /// The value.
    pub value: Node,
}

impl Node {
    /// The JSON type name of the value, for messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Number(_) => "a number",
            Kind::String(_) => "a string",
            Kind::Array(_) => "an array",
            Kind::Object(_) => "an object",
        }
    }

    /// The value as `serde_json` sees it.
    pub fn to_value(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Number(n) => serde_json::from_str::<serde_json::Number>(n)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Kind::String(s) => Value::String(s.clone()),
            Kind::Array(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Kind::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|m| (m.key.clone(), m.value.to_value()))
                    .collect(),
            ),
        }
    }
}

/// Maps byte offsets to 1-based lines and columns (columns count characters).
///
/// Offsets asked for in increasing order (as a tree walk does) cost only the
/// characters between them: the last answer is kept, so a long line is not
/// counted again from its start for every value on it.
#[derive(Debug, Clone)]
pub struct LineIndex<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
    /// The last position answered.
    last: Cell<Pos>,
}

impl<'a> LineIndex<'a> {
    /// Indexes `text`.
    pub fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(i + 1);
            }
        }
        Self {
            text,
            line_starts,
            last: Cell::new(Pos {
                offset: 0,
                line: 1,
                column: 1,
            }),
        }
    }

    /// The position of byte `offset`.
    pub fn pos(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let last = self.last.get();
        // Count from the last answer when it is on this line, before `offset`.
        let (start, base) = if last.line == line + 1 && last.offset <= offset {
            (last.offset, last.column)
        } else {
            (self.line_starts[line], 1)
        };
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + base;
        let pos = Pos {
            offset,
            line: line + 1,
            column,
        };
        if self.text.is_char_boundary(offset) {
            self.last.set(pos);
        }
        pos
    }

    /// The byte offset of a 1-based line and column (as `serde_json` reports them).
    pub fn offset_of(&self, line: usize, column: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        rest.char_indices()
            .nth(column.saturating_sub(1))
            .map_or(self.text.len(), |(i, _)| start + i)
    }
}

/// Parses strict JSON. On a syntax error, returns that one error (parsing
/// cannot go on past it); otherwise the tree, the duplicate-key errors going
/// to `sink`.
pub fn parse(file: &str, text: &str, sink: &mut Sink) -> Result<Node, Diagnostic> {
    let index = LineIndex::new(text);
    if let Some(offset) = too_deep(text) {
        return Err(Diagnostic::error(
            file,
            index.pos(offset),
            String::new(),
            format!("invalid JSON: arrays and objects nest more than {MAX_DEPTH} levels deep here"),
        ));
    }
    let options = jsonc_parser::ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let parsed = jsonc_parser::parse_to_ast(text, &Default::default(), &options).map_err(|e| {
        let pos = index.pos(e.range().start);
        Diagnostic::error(
            file,
            pos,
            String::new(),
            format!("invalid JSON: {}", e.kind()),
        )
    })?;
    let Some(root) = parsed.value else {
        return Err(Diagnostic::error(
            file,
            index.pos(text.len()),
            String::new(),
            "invalid JSON: the file holds no JSON value",
        ));
    };
    // What strict JSON refuses and the tolerant scanner might not.
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
        let offset = index.offset_of(e.line(), e.column().saturating_sub(1).max(1));
        let message = e.to_string();
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_owned(),
            None => message,
        };
        return Err(Diagnostic::error(
            file,
            index.pos(offset),
            String::new(),
            format!("invalid JSON: {message}"),
        ));
    }
    Ok(convert(&root, &index, file, "", sink))
}

/// The offset of the first `[` or `{` nested deeper than [`MAX_DEPTH`], if
/// any (brackets inside strings do not count).
fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, b) in text.bytes().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Objects with more members than this find duplicate keys with a hash map
/// (a linear scan is cheaper below).
const SCAN_MEMBERS: usize = 16;

fn convert(
    value: &ast::Value<'_>,
    index: &LineIndex<'_>,
    file: &str,
    pointer: &str,
    sink: &mut Sink,
) -> Node {
    let pos = index.pos(value.start());
    let kind = match value {
        ast::Value::NullKeyword(_) => Kind::Null,
        ast::Value::BooleanLit(b) => Kind::Bool(b.value),
        ast::Value::NumberLit(n) => Kind::Number(n.value.to_owned()),
        ast::Value::StringLit(s) => Kind::String(s.value.to_string()),
        ast::Value::Array(a) => Kind::Array(
            a.elements
                .iter()
                .enumerate()
                .map(|(i, v)| convert(v, index, file, &format!("{pointer}/{i}"), sink))
                .collect(),
        ),
        ast::Value::Object(o) => {
            let mut members: Vec<Member> = Vec::with_capacity(o.properties.len());
            let mut by_key: HashMap<&str, usize> = HashMap::new();
            let hashed = o.properties.len() > SCAN_MEMBERS;
            for prop in &o.properties {
                let name = prop.name.as_str();
                let key_pos = index.pos(prop.name.start());
                let first = if hashed {
                    by_key.get(name).map(|&i| &members[i])
                } else {
                    members.iter().find(|m| m.key == name)
                };
                if let Some(first) = first {
                    let key = name.to_owned();
                    let child = format!("{pointer}/{}", escape_pointer(&key));
                    sink.push(Diagnostic::error(
                        file,
                        key_pos,
                        child.clone(),
                        format!(
                            "duplicate key `{key}` (first defined at line {}, column {})",
                            first.key_pos.line, first.key_pos.column
                        ),
                    ));
                    continue;
                }
                if hashed {
                    by_key.insert(name, members.len());
                }
                let key = name.to_owned();
                let child = format!("{pointer}/{}", escape_pointer(&key));
                let value = convert(&prop.value, index, file, &child, sink);
                members.push(Member {
                    key,
                    key_pos,
                    value,
                });
            }
            Kind::Object(members)
        }
    };
    Node { pos, kind }
}

/// Escapes one JSON pointer segment (`~` → `~0`, `/` → `~1`).
pub fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses, returning the tree and the duplicate-key errors.
    fn parse_all(text: &str) -> Result<(Node, Vec<Diagnostic>), Diagnostic> {
        let mut sink = Sink::default();
        let node = parse("m.json", text, &mut sink)?;
        Ok((node, sink.finish().0))
    }

    fn parse_ok(text: &str) -> Node {
        let (node, dups) = parse_all(text).expect("valid JSON");
        assert!(dups.is_empty(), "{dups:?}");
        node
    }

    #[test]
    fn positions_are_one_based_lines_and_character_columns() {
        let node = parse_ok("{\n  \"é\": \"x\",\n  \"b\": [1, true]\n}");
        let Kind::Object(members) = &node.kind else {
            panic!("object expected")
        };
        assert_eq!((members[0].key_pos.line, members[0].key_pos.column), (2, 3));
        assert_eq!(
            (members[0].value.pos.line, members[0].value.pos.column),
            (2, 8)
        );
        let Kind::Array(items) = &members[1].value.kind else {
            panic!("array expected")
        };
        assert_eq!((items[1].pos.line, items[1].pos.column), (3, 12));
    }

    #[test]
    fn strict_mode_refuses_json5_and_comments() {
        for bad in [
            "{\"a\": 1,}",
            "{\"a\": 1 // c\n}",
            "{'a': 1}",
            "{a: 1}",
            "{\"a\": 0x10}",
            "{\"a\": .5}",
            "{\"a\": NaN}",
            "{\"a\": \"\t\"}",
            "{\"a\": 01}",
            "",
            "{} {}",
        ] {
            let err = parse_all(bad).expect_err(bad);
            assert!(err.message.starts_with("invalid JSON"), "{bad}: {err}");
        }
    }

    #[test]
    fn syntax_error_position() {
        let err = parse_all("{\n  \"a\": 1\n  \"b\": 2\n}").unwrap_err();
        // Where the comma was expected: right after `1`.
        assert_eq!((err.line, err.column), (2, 9), "{err}");
    }

    #[test]
    fn duplicate_keys_are_all_reported() {
        let (_, dups) = parse_all("{\"a\": 1, \"b\": {\"c\": 1, \"c\": 2}, \"a\": 3}").unwrap();
        assert_eq!(dups.len(), 2);
        assert_eq!(dups[0].pointer, "/b/c");
        assert_eq!(dups[1].pointer, "/a");
        assert!(
            dups[1]
                .message
                .contains("first defined at line 1, column 2")
        );
    }

    #[test]
    fn duplicate_keys_of_a_large_object_are_found_too() {
        let mut text = String::from("{");
        for i in 0..100 {
            text.push_str(&format!("\"k{i}\": {i}, "));
        }
        text.push_str("\"k7\": 0, \"k99\": 1}");
        let (node, dups) = parse_all(&text).unwrap();
        let pointers: Vec<&str> = dups.iter().map(|d| d.pointer.as_str()).collect();
        assert_eq!(pointers, ["/k7", "/k99"]);
        assert!(
            dups[0]
                .message
                .contains("first defined at line 1, column 65"),
            "{}",
            dups[0]
        );
        let Kind::Object(members) = node.kind else {
            panic!("object expected")
        };
        assert_eq!(members.len(), 100);
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused_before_parsing() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        parse_ok(&ok);
        // Brackets in strings do not count.
        parse_ok(&format!("[\"{}\\\"[\"]", "[".repeat(1000)));
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let err = parse_all(&deep).unwrap_err();
        assert_eq!((err.line, err.column), (1, 6 + MAX_DEPTH), "{err}");
        assert!(err.message.contains("nest more than 128 levels"), "{err}");
    }

    #[test]
    fn columns_on_one_long_line_are_counted_from_the_last_position() {
        let index = LineIndex::new("ééé\nabcé d");
        assert_eq!(index.pos(6).column, 4);
        assert_eq!(index.pos(8).column, 2);
        assert_eq!(index.pos(12).column, 5);
        // Backwards, and to another line: counted from the line start.
        assert_eq!(index.pos(2).column, 2);
        assert_eq!((index.pos(9).line, index.pos(9).column), (2, 3));
        assert_eq!(index.pos(7).column, 1);
    }

    #[test]
    fn pointer_segments_are_escaped() {
        assert_eq!(escape_pointer("a/b~c"), "a~1b~0c");
    }

    #[test]
    fn values_convert_to_serde_json() {
        let node = parse_ok("{\"a\": [1, 2.5, \"x\", null, false]}");
        assert_eq!(
            node.to_value(),
            serde_json::json!({"a": [1, 2.5, "x", null, false]})
        );
    }
}
