//! Turning manifest names into Rust identifiers: the one place that does it.
//!
//! Rules (each has a unit test below):
//!
//! - words are split at separators (`-`, `_`, space, `.`, any other ASCII
//!   punctuation), at lower→upper case changes (`userId` → `user`, `Id`),
//!   at the end of an acronym (`HTTPServer` → `HTTP`, `Server`) and after a
//!   digit followed by an upper-case letter (`v2Api` → `v2`, `Api`);
//! - `snake_case` for fields, functions, modules and macros; `PascalCase` for
//!   types and enum variants; `SCREAMING_SNAKE_CASE` for constants;
//! - a non-ASCII character becomes its own word `uXXXX` (its code point in
//!   hex), so `café` → `caf_u00e9`: distinct names stay distinct and no
//!   confusable identifiers are produced;
//! - a name starting with a digit gets a leading `_` (`2fa` → `_2fa`);
//! - a keyword becomes a raw identifier (`type` → `r#type`), except those
//!   that cannot be raw (`self`, `super`, `crate`, `Self`), which get a
//!   trailing `_`;
//! - a name with no letter or digit has no identifier (`None`); the caller
//!   reports it. Collisions are found by the caller, which knows the scope.

/// Keywords that can be written as raw identifiers (`r#type`).
const RAW_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers.
const PLAIN_ONLY_KEYWORDS: &[&str] = &["self", "Self", "super", "crate", "_"];

/// Splits a name into words (see the module rules).
pub fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_alphanumeric() {
            if let Some(prev) = current.chars().last() {
                let next = chars.get(i + 1).copied();
                let boundary = c.is_ascii_uppercase()
                    && (prev.is_ascii_lowercase()
                        || prev.is_ascii_digit()
                        || (prev.is_ascii_uppercase()
                            && next.is_some_and(|n| n.is_ascii_lowercase())));
                if boundary {
                    words.push(std::mem::take(&mut current));
                }
            }
            current.push(c);
        } else if c.is_ascii() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
        } else {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            words.push(format!("u{:04x}", c as u32));
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn finish(mut ident: String, allow_raw: bool) -> String {
    if ident.starts_with(|c: char| c.is_ascii_digit()) {
        ident.insert(0, '_');
    }
    if PLAIN_ONLY_KEYWORDS.contains(&ident.as_str()) {
        ident.push('_');
    } else if RAW_KEYWORDS.contains(&ident.as_str()) {
        if allow_raw {
            ident.insert_str(0, "r#");
        } else {
            ident.push('_');
        }
    }
    ident
}

/// `snake_case` identifier for a field, function or module (`r#type` for keywords).
pub fn snake(name: &str) -> Option<String> {
    let w = words(name);
    if w.is_empty() {
        return None;
    }
    let joined = w
        .iter()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("_");
    Some(finish(joined, true))
}

/// `snake_case` identifier that is never raw (keywords get a trailing `_`):
/// for names that end up inside other names or in macro names.
pub fn snake_plain(name: &str) -> Option<String> {
    let w = words(name);
    if w.is_empty() {
        return None;
    }
    let joined = w
        .iter()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("_");
    Some(finish(joined, false))
}

/// `PascalCase` identifier for a type or enum variant.
pub fn pascal(name: &str) -> Option<String> {
    let w = words(name);
    if w.is_empty() {
        return None;
    }
    let mut out = String::new();
    for word in &w {
        let lower = word.to_ascii_lowercase();
        let mut cs = lower.chars();
        if let Some(first) = cs.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(cs);
        }
    }
    Some(finish(out, true))
}

/// `SCREAMING_SNAKE_CASE` identifier for a constant.
pub fn screaming(name: &str) -> Option<String> {
    let w = words(name);
    if w.is_empty() {
        return None;
    }
    let joined = w
        .iter()
        .map(|w| w.to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join("_");
    Some(finish(joined, true))
}

/// The identifier without a raw prefix (`r#type` → `type`).
pub fn unraw(ident: &str) -> &str {
    ident.strip_prefix("r#").unwrap_or(ident)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kebab_case_to_snake_and_pascal() {
        assert_eq!(snake("create-user").as_deref(), Some("create_user"));
        assert_eq!(pascal("create-user").as_deref(), Some("CreateUser"));
        assert_eq!(screaming("create-user").as_deref(), Some("CREATE_USER"));
    }

    #[test]
    fn camel_case_to_snake() {
        assert_eq!(snake("firstName").as_deref(), Some("first_name"));
        assert_eq!(snake("userID").as_deref(), Some("user_id"));
        assert_eq!(pascal("firstName").as_deref(), Some("FirstName"));
    }

    #[test]
    fn acronyms_end_before_a_capitalised_word() {
        assert_eq!(snake("HTTPServer").as_deref(), Some("http_server"));
        assert_eq!(pascal("HTTPServer").as_deref(), Some("HttpServer"));
        assert_eq!(pascal("USERNAME_EXISTS").as_deref(), Some("UsernameExists"));
    }

    #[test]
    fn digits_stay_with_their_word() {
        assert_eq!(snake("v2Api").as_deref(), Some("v2_api"));
        assert_eq!(snake("user2").as_deref(), Some("user2"));
        assert_eq!(pascal("oauth2-token").as_deref(), Some("Oauth2Token"));
    }

    #[test]
    fn snake_and_pascal_are_idempotent() {
        assert_eq!(snake("already_snake").as_deref(), Some("already_snake"));
        assert_eq!(pascal("UserProfile").as_deref(), Some("UserProfile"));
        assert_eq!(snake("UserProfile").as_deref(), Some("user_profile"));
    }

    #[test]
    fn separators_collapse() {
        assert_eq!(snake("--a__b..c  d").as_deref(), Some("a_b_c_d"));
        assert_eq!(pascal("a.b c").as_deref(), Some("ABC"));
    }

    #[test]
    fn keywords_become_raw_identifiers() {
        assert_eq!(snake("type").as_deref(), Some("r#type"));
        assert_eq!(snake("async").as_deref(), Some("r#async"));
        assert_eq!(snake("gen").as_deref(), Some("r#gen"));
        assert_eq!(screaming("type").as_deref(), Some("TYPE"));
        assert_eq!(unraw("r#type"), "type");
    }

    #[test]
    fn keywords_that_cannot_be_raw_get_a_suffix() {
        assert_eq!(snake("self").as_deref(), Some("self_"));
        assert_eq!(snake("super").as_deref(), Some("super_"));
        assert_eq!(snake("crate").as_deref(), Some("crate_"));
        assert_eq!(pascal("self").as_deref(), Some("Self_"));
    }

    #[test]
    fn plain_snake_never_uses_raw_identifiers() {
        assert_eq!(snake_plain("type").as_deref(), Some("type_"));
        assert_eq!(snake_plain("user").as_deref(), Some("user"));
    }

    #[test]
    fn leading_digits_get_an_underscore() {
        assert_eq!(snake("2fa").as_deref(), Some("_2fa"));
        assert_eq!(pascal("2fa-code").as_deref(), Some("_2faCode"));
        assert_eq!(screaming("3d").as_deref(), Some("_3D"));
    }

    #[test]
    fn non_ascii_characters_are_spelled_out() {
        assert_eq!(snake("café").as_deref(), Some("caf_u00e9"));
        assert_eq!(pascal("café").as_deref(), Some("CafU00e9"));
        assert_eq!(snake("日本").as_deref(), Some("u65e5_u672c"));
        assert_ne!(snake("cafe"), snake("café"));
    }

    #[test]
    fn names_without_letters_or_digits_have_no_identifier() {
        assert_eq!(snake("-"), None);
        assert_eq!(pascal("__"), None);
        assert_eq!(screaming(""), None);
    }

    #[test]
    fn different_spellings_can_collide() {
        // The caller reports these; the rule itself is deterministic.
        assert_eq!(snake("user-name"), snake("userName"));
        assert_eq!(snake("user-name"), snake("user_name"));
    }
}
