//! `docs/manifest.md` stays the reference of what the reader accepts.
//!
//! For each kind of object in a manifest (the top level, a channel, a
//! request, a model, a value), the reader is asked which keys it accepts —
//! by giving it an unknown key there and reading the list its error names —
//! and that list must be exactly the keys of the doc's table for that kind.
//! The doc's example manifest must pass `check` without errors.

use std::collections::BTreeSet;

const UNKNOWN: &str = "zzUnknownKey";

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/manifest.md");
    std::fs::read_to_string(path).expect("docs/manifest.md exists")
}

/// A small valid manifest with the key [`UNKNOWN`] added at `place`.
fn manifest_with_unknown_key(place: &str) -> String {
    let extra = format!(", \"{UNKNOWN}\": 1");
    let at = |p: &str| if p == place { extra.as_str() } else { "" };
    format!(
        r#"{{
  "version": "1.0.0"{root},
  "channels": {{
    "c": {{
      "requests": {{
        "r": {{
          "args": {{ "a": {{ "type": "string"{value} }} }}{request}
        }}
      }}{channel}
    }}
  }},
  "models": {{ "M": {{ "properties": {{}}{model} }} }}
}}"#,
        root = at("Top level"),
        channel = at("Channel"),
        request = at("Request"),
        model = at("Model"),
        value = at("Value"),
    )
}

/// The keys the reader accepts at `place`, from its "unknown key" error.
fn accepted_keys(place: &str) -> BTreeSet<String> {
    let text = manifest_with_unknown_key(place);
    let diagnostics = janus_codegen::check("probe.json", &text);
    let unknown: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.is_error() && d.message.contains(&format!("`{UNKNOWN}`")))
        .collect();
    assert_eq!(
        unknown.len(),
        1,
        "one unknown-key error expected at {place}; got {diagnostics:#?}"
    );
    let list = unknown[0]
        .message
        .split_once("expected one of ")
        .unwrap_or_else(|| panic!("the error lists the expected keys: {}", unknown[0].message))
        .1;
    list.split(", ")
        .map(|k| k.trim().trim_matches('`').to_owned())
        .collect()
}

/// The keys of the table under the `## {heading}` section of the doc.
fn documented_keys(doc: &str, heading: &str) -> BTreeSet<String> {
    let start = doc
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("docs/manifest.md has a section `## {heading}`"));
    let section = &doc[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(key, _)| key.to_owned())
        .collect()
}

#[test]
fn every_key_the_reader_accepts_is_documented_and_no_other() {
    let doc = doc();
    for place in ["Top level", "Channel", "Request", "Model", "Value"] {
        let accepted = accepted_keys(place);
        let documented = documented_keys(&doc, place);
        assert!(
            accepted.len() >= 4,
            "{place}: too few keys read: {accepted:?}"
        );
        let undocumented: Vec<_> = accepted.difference(&documented).collect();
        let unknown: Vec<_> = documented.difference(&accepted).collect();
        assert!(
            undocumented.is_empty() && unknown.is_empty(),
            "{place}: keys the reader accepts but docs/manifest.md does not describe: \
             {undocumented:?}; keys it describes that the reader refuses: {unknown:?}"
        );
    }
}

#[test]
fn every_table_row_has_meaning_type_default_and_example() {
    let doc = doc();
    for line in doc.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
        assert_eq!(
            cells.len(),
            5,
            "a key's row has key, type, default, meaning and example: {line}"
        );
        assert!(
            cells.iter().all(|c| !c.trim().is_empty()),
            "a key's row has an empty cell: {line}"
        );
    }
}

#[test]
fn the_example_manifest_is_valid() {
    let doc = doc();
    let start = doc.find("```json\n").expect("the doc has a json example") + "```json\n".len();
    let end = start + doc[start..].find("\n```").expect("the example ends");
    let example = &doc[start..end];
    let diagnostics = janus_codegen::check("docs/manifest.md", example);
    assert!(
        diagnostics.is_empty(),
        "the example manifest has problems: {diagnostics:#?}"
    );
    let checked = janus_codegen::parse("docs/manifest.md", example).expect("it parses");
    drop(checked);
}

#[test]
fn the_probe_finds_a_key_that_is_not_documented() {
    // The comparison can fail: a doc without the `extends` row misses a key.
    let doc = doc().replace("| `extends` |", "| extends |");
    assert!(!documented_keys(&doc, "Model").contains("extends"));
    assert!(accepted_keys("Model").contains("extends"));
}
