//! The protocol's rules for channel and request names, and the request names
//! it reserves: one definition for the code generator (which refuses a
//! manifest that breaks them) and the server (which refuses such a request).

/// Longest channel or request name, in characters.
pub const MAX_NAME_LEN: usize = 256;

/// Request names a server answers itself (built-in requests); a manifest may
/// not define them.
pub const RESERVED_REQUESTS: [&str; 6] = [
    "ping",
    "echo",
    "get_info",
    "manifest",
    "validate",
    "slow_process",
];

/// Whether `name` is one of the [`RESERVED_REQUESTS`].
pub fn is_reserved_request(name: &str) -> bool {
    RESERVED_REQUESTS.contains(&name)
}

/// Checks a channel or request name: 1..=256 characters of `[A-Za-z0-9_-]`.
/// `what` names the thing in the message (`"channel"`, `"request"`).
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{what} name is empty"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "{what} name {} contains {}; names may only contain A-Z, a-z, 0-9, `_` and `-`",
            crate::show_str(name),
            describe_char(c)
        ));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "{what} name is {} characters long; the limit is {MAX_NAME_LEN}",
            name.len()
        ));
    }
    Ok(())
}

/// Whether a channel or request name follows the rules of [`check_name`].
pub fn is_valid_name(name: &str) -> bool {
    check_name("", name).is_ok()
}

/// A character as shown in messages: itself in backticks, or its code point
/// when it is invisible.
pub fn describe_char(c: char) -> String {
    if c.is_control() || c.is_whitespace() {
        format!("the character U+{:04X}", c as u32)
    } else {
        format!("the character `{c}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_protocol() {
        let table: &[(&str, Result<(), &str>)] = &[
            ("user-service_2", Ok(())),
            ("", Err("request name is empty")),
            (
                "a b",
                Err(
                    "request name `a b` contains the character U+0020; names may only contain A-Z, a-z, 0-9, `_` and `-`",
                ),
            ),
            (
                "a.b",
                Err(
                    "request name `a.b` contains the character `.`; names may only contain A-Z, a-z, 0-9, `_` and `-`",
                ),
            ),
        ];
        for (name, expected) in table {
            assert_eq!(
                check_name("request", name),
                expected.map_err(str::to_owned),
                "{name:?}"
            );
        }
        assert!(is_valid_name(&"a".repeat(256)));
        assert_eq!(
            check_name("request", &"a".repeat(257)).unwrap_err(),
            "request name is 257 characters long; the limit is 256"
        );
        assert!(!is_valid_name("é"));
    }

    #[test]
    fn reserved_names_are_the_built_ins() {
        for name in [
            "ping",
            "echo",
            "get_info",
            "manifest",
            "validate",
            "slow_process",
        ] {
            assert!(is_reserved_request(name), "{name}");
        }
        assert!(!is_reserved_request("create-user"));
    }
}
