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
//!   reports it. Collisions are found by the caller, which knows the scope;
//! - a type named after a model, a field or an argument ([`type_name`]) whose
//!   `PascalCase` form is a name of the standard prelude or a common std
//!   item (`From`, `Option`, `Result`, `Box`, `Vec`, `String`, `Some`, …)
//!   gets the suffix `Value` (`from` → `FromValue`), so a glob import of the
//!   generated module (`use reports::*;`) never shadows it;
//! - a request whose method name is one `::janus_runtime::Client` already
//!   answers ([`CLIENT_METHODS`]: `stats`, `call`, `timeout`, `into`, …) is
//!   refused by the manifest reader, since the client's own method would be
//!   called instead of the generated one.

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

/// Names of the standard prelude (all editions) and of common std items
/// that a glob import of a generated module must not shadow.
const PRELUDE_NAMES: &[&str] = &[
    "AsMut",
    "AsRef",
    "Box",
    "Clone",
    "Copy",
    "Default",
    "DoubleEndedIterator",
    "Drop",
    "Eq",
    "Err",
    "ExactSizeIterator",
    "Extend",
    "Fn",
    "FnMut",
    "FnOnce",
    "From",
    "FromIterator",
    "Future",
    "Into",
    "IntoFuture",
    "IntoIterator",
    "Iterator",
    "None",
    "Ok",
    "Option",
    "Ord",
    "PartialEq",
    "PartialOrd",
    "Result",
    "Send",
    "Sized",
    "Some",
    "String",
    "Sync",
    "ToOwned",
    "ToString",
    "TryFrom",
    "TryInto",
    "Unpin",
    "Vec",
];

/// The suffix a generated type gets when its name is a prelude name.
const PRELUDE_SUFFIX: &str = "Value";

/// `PascalCase` identifier for a type named after a manifest name (a model,
/// a field or an argument): [`pascal`], with the suffix `Value` when that is
/// a prelude or common std name (`from` → `FromValue`, a model `Result` →
/// `ResultValue`), so a glob import of generated code never shadows one.
pub fn type_name(name: &str) -> Option<String> {
    let mut ty = pascal(name)?;
    if PRELUDE_NAMES.contains(&ty.as_str()) {
        ty.push_str(PRELUDE_SUFFIX);
    }
    Some(ty)
}

/// Methods that `client.NAME(…)` reaches on a `::janus_runtime::Client`
/// before a generated client-trait method of that name: the client's
/// inherent methods taking `self` (keep in step with `impl Client` in the
/// runtime) and the methods of prelude traits it implements.
pub const CLIENT_METHODS: &[&str] = &[
    "call",
    "call_typed",
    "clone",
    "clone_from",
    "clone_into",
    "into",
    "max_message_size",
    "notify",
    "reply_path",
    "request",
    "server_path",
    "stats",
    "timeout",
    "to_owned",
    "transport",
    "try_into",
    "with_timeout",
];

/// Whether the client method generated for the request `name` would be
/// hidden by a method of `::janus_runtime::Client` ([`CLIENT_METHODS`]).
pub fn hidden_client_method(name: &str) -> Option<String> {
    snake(name).filter(|m| CLIENT_METHODS.contains(&m.as_str()))
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
    fn type_names_never_take_a_prelude_name() {
        for (field, ty) in [
            ("from", "FromValue"),
            ("into", "IntoValue"),
            ("default", "DefaultValue"),
            ("option", "OptionValue"),
            ("result", "ResultValue"),
            ("box", "BoxValue"),
            ("vec", "VecValue"),
            ("string", "StringValue"),
            ("some", "SomeValue"),
            ("none", "NoneValue"),
            ("ok", "OkValue"),
            ("err", "ErrValue"),
            ("try-from", "TryFromValue"),
        ] {
            assert_eq!(type_name(field).as_deref(), Some(ty), "{field}");
        }
        assert_eq!(type_name("priority").as_deref(), Some("Priority"));
        assert_eq!(type_name("from-date").as_deref(), Some("FromDate"));
        assert_eq!(type_name("--"), None);
    }

    #[test]
    fn requests_named_after_client_methods_are_found_by_method_name() {
        assert_eq!(hidden_client_method("stats").as_deref(), Some("stats"));
        assert_eq!(
            hidden_client_method("call-typed").as_deref(),
            Some("call_typed")
        );
        assert_eq!(
            hidden_client_method("withTimeout").as_deref(),
            Some("with_timeout")
        );
        assert_eq!(hidden_client_method("create-user"), None);
        assert_eq!(hidden_client_method("statistics"), None);
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
