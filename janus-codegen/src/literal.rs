//! Compile-time checks of literals against a manifest's constraints.
//!
//! The generated literal macros (`user_service::username!("john_doe")`) pass
//! a spec (JSON text written by the generator: type, constraints, manifest
//! location) and the literal to a hidden proc macro, which calls
//! [`check`]. The checks and messages are janus-constraints', as at run time.

use janus_constraints::{Pattern, StringRules};
use serde_json::Value;

/// A literal as written in the source.
#[derive(Debug, Clone, PartialEq)]
pub enum LiteralValue {
    /// A string literal.
    Str(String),
    /// An integer literal (with its sign).
    Int(i128),
    /// A float literal (with its sign).
    Float(f64),
}

/// What a checked literal turns into.
#[derive(Debug, Clone, PartialEq)]
pub enum Checked {
    /// A string.
    Str(String),
    /// An `i64`.
    Int(i64),
    /// An `f64`.
    Float(f64),
}

/// Checks `literal` against `spec`; the error is the compile error's message,
/// e.g. ``"`jo` is shorter than minLength 3 (2 characters) (manifest.json: /channels/…/username)"``.
pub fn check(spec: &str, literal: &LiteralValue) -> Result<Checked, String> {
    let spec: Value =
        serde_json::from_str(spec).map_err(|e| format!("invalid literal spec: {e}"))?;
    let get = |k: &str| spec.get(k);
    let type_name = get("type").and_then(Value::as_str).unwrap_or("value");
    let location = get("location")
        .and_then(Value::as_str)
        .unwrap_or("manifest");
    let kind = get("kind").and_then(Value::as_str).unwrap_or("string");
    let at = |msg: String| format!("{msg} ({location})");
    match (kind, literal) {
        ("string", LiteralValue::Str(s)) => {
            let pattern = match get("pattern").and_then(Value::as_str) {
                Some(p) => Some(
                    Pattern::new(p).map_err(|e| at(format!("pattern does not compile: {e}")))?,
                ),
                None => None,
            };
            let rules = StringRules {
                min_length: get("minLength").and_then(Value::as_u64),
                max_length: get("maxLength").and_then(Value::as_u64),
                pattern: pattern.as_ref(),
            };
            janus_constraints::check_string(s, &rules).map_err(|v| at(v.to_string()))?;
            Ok(Checked::Str(s.clone()))
        }
        ("integer", LiteralValue::Int(i)) => {
            let value = i64::try_from(*i).map_err(|_| {
                at(format!(
                    "{i} does not fit in a 64-bit integer ({type_name})"
                ))
            })?;
            janus_constraints::check_integer(
                value,
                get("minimum").and_then(Value::as_i64),
                get("maximum").and_then(Value::as_i64),
            )
            .map_err(|v| at(v.to_string()))?;
            Ok(Checked::Int(value))
        }
        ("number", LiteralValue::Int(_) | LiteralValue::Float(_)) => {
            let value = match literal {
                LiteralValue::Int(i) => *i as f64,
                LiteralValue::Float(f) => *f,
                LiteralValue::Str(_) => 0.0,
            };
            janus_constraints::check_number(
                value,
                get("minimum").and_then(Value::as_f64),
                get("maximum").and_then(Value::as_f64),
            )
            .map_err(|v| at(v.to_string()))?;
            Ok(Checked::Float(value))
        }
        (kind, _) => Err(at(format!(
            "{type_name} takes {} literal",
            match kind {
                "string" => "a string",
                "integer" => "an integer",
                _ => "a number",
            }
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USERNAME: &str = r#"{"type":"Username","kind":"string","minLength":3,"maxLength":50,"pattern":"^[a-zA-Z0-9_]{3,50}$","location":"manifest.json: /channels/user-service/requests/create-user/args/username"}"#;

    #[test]
    fn string_literals_are_checked_with_the_shared_messages() {
        assert_eq!(
            check(USERNAME, &LiteralValue::Str("john_doe".into())),
            Ok(Checked::Str("john_doe".into()))
        );
        assert_eq!(
            check(USERNAME, &LiteralValue::Str("jo".into())).unwrap_err(),
            "`jo` is shorter than minLength 3 (2 characters) (manifest.json: /channels/user-service/requests/create-user/args/username)"
        );
        assert!(
            check(USERNAME, &LiteralValue::Str("john doe".into()))
                .unwrap_err()
                .contains("does not match pattern")
        );
    }

    #[test]
    fn numbers_are_checked_against_their_range() {
        let age = r#"{"type":"Age","kind":"integer","minimum":13,"maximum":120,"location":"m.json: /models/UserProfile/properties/age"}"#;
        assert_eq!(check(age, &LiteralValue::Int(30)), Ok(Checked::Int(30)));
        assert_eq!(
            check(age, &LiteralValue::Int(12)).unwrap_err(),
            "12 is less than minimum 13 (m.json: /models/UserProfile/properties/age)"
        );
        assert!(
            check(age, &LiteralValue::Str("30".into()))
                .unwrap_err()
                .contains("takes an integer literal")
        );
        let ratio = r#"{"type":"Ratio","kind":"number","minimum":0,"maximum":1.5,"location":"x"}"#;
        assert_eq!(check(ratio, &LiteralValue::Int(1)), Ok(Checked::Float(1.0)));
        assert!(check(ratio, &LiteralValue::Float(1.75)).is_err());
    }
}
