//! The constraints a Janus manifest can put on a value, and the checks for them.
//!
//! One implementation serves every place a value is checked, so a value is
//! described in the same words wherever it is rejected:
//!
//! - at build time, by the code generator (a `default` that breaks its own
//!   constraints) and by the literal-checking macros (`username!("jo")`);
//! - at run time, by the generated validating constructors and
//!   deserializers, and by the server before a handler runs.
//!
//! Semantics follow the project's protocol description: `pattern` is a Rust
//! [`regex`] that matches anywhere in the value unless anchored with `^`/`$`;
//! `minLength`/`maxLength` count characters (Unicode scalar values), not
//! bytes; `minimum`/`maximum` are inclusive.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::fmt;

use regex::Regex;

pub mod names;
pub mod schema;
use serde_json::Value;

/// The manifest keyword of each constraint, as it appears in a manifest and
/// in the `constraints` object of a `-32602` error.
pub mod keyword {
    /// Minimum length in characters.
    pub const MIN_LENGTH: &str = "minLength";
    /// Maximum length in characters.
    pub const MAX_LENGTH: &str = "maxLength";
    /// Regular expression the value must match.
    pub const PATTERN: &str = "pattern";
    /// Inclusive lower bound.
    pub const MINIMUM: &str = "minimum";
    /// Inclusive upper bound.
    pub const MAXIMUM: &str = "maximum";
    /// The closed set of allowed values.
    pub const ENUM: &str = "enum";
    /// The JSON type of the value.
    pub const TYPE: &str = "type";
    /// The value must be present.
    pub const REQUIRED: &str = "required";
    /// No members beyond the declared ones.
    pub const ADDITIONAL_PROPERTIES: &str = "additionalProperties";
}

/// A value that breaks one constraint: which one, its limit, and a sentence
/// saying what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    keyword: &'static str,
    limit: Value,
    message: String,
}

impl Violation {
    /// Creates a violation of the constraint `keyword` (see [`keyword`]) whose
    /// manifest value is `limit`.
    pub fn new(keyword: &'static str, limit: Value, message: impl Into<String>) -> Self {
        Self {
            keyword,
            limit,
            message: message.into(),
        }
    }

    /// The manifest keyword of the broken constraint, e.g. `"minLength"`.
    pub fn keyword(&self) -> &'static str {
        self.keyword
    }

    /// The constraint's value from the manifest, e.g. `3` for `minLength: 3`.
    pub fn limit(&self) -> &Value {
        &self.limit
    }

    /// What is wrong, in words, e.g. ``"`jo` is shorter than minLength 3 (2 characters)"``.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The broken constraint as a JSON object, e.g. `{"minLength": 3}`: the
    /// `constraints` member of a `-32602` error's `data`.
    pub fn constraints_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        map.insert(self.keyword.to_owned(), self.limit.clone());
        Value::Object(map)
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Violation {}

/// The most memory one compiled pattern may take, in bytes (the `regex`
/// crate's size limit, 10 MiB by default, is lowered): a larger pattern is
/// refused by the code generator and by every checker alike, so that a
/// manifest cannot make each of its patterns cost megabytes and
/// milliseconds to compile.
pub const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// A compiled `pattern` constraint: the manifest's source text and its regex.
#[derive(Debug, Clone)]
pub struct Pattern {
    regex: Regex,
}

impl Pattern {
    /// Compiles a manifest pattern. The error says why the `regex` crate
    /// refused it (look-around and back-references are not supported), or
    /// that it compiles to more than [`PATTERN_SIZE_LIMIT`] bytes.
    pub fn new(source: &str) -> Result<Self, regex::Error> {
        Ok(Self {
            regex: regex::RegexBuilder::new(source)
                .size_limit(PATTERN_SIZE_LIMIT)
                .build()?,
        })
    }

    /// The pattern as written in the manifest.
    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }

    /// Whether `value` matches anywhere (JSON Schema semantics).
    pub fn is_match(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

/// The constraints a manifest can put on a string.
#[derive(Debug, Clone, Copy, Default)]
pub struct StringRules<'a> {
    /// `minLength`, in characters.
    pub min_length: Option<u64>,
    /// `maxLength`, in characters.
    pub max_length: Option<u64>,
    /// `pattern`.
    pub pattern: Option<&'a Pattern>,
}

/// Checks a string against its rules, in the order `minLength`, `maxLength`,
/// `pattern`, and reports the first one broken.
pub fn check_string(value: &str, rules: &StringRules<'_>) -> Result<(), Violation> {
    first(string_violations(value, rules))
}

/// Every rule a string breaks, in the order `minLength`, `maxLength`,
/// `pattern`.
pub fn string_violations(value: &str, rules: &StringRules<'_>) -> Vec<Violation> {
    let mut out = Vec::new();
    if rules.min_length.is_some() || rules.max_length.is_some() {
        let chars = value.chars().count() as u64;
        if let Some(min) = rules.min_length
            && chars < min
        {
            out.push(Violation::new(
                keyword::MIN_LENGTH,
                Value::from(min),
                format!(
                    "{} is shorter than minLength {min} ({chars} {})",
                    show_str(value),
                    plural(chars, "character")
                ),
            ));
        }
        if let Some(max) = rules.max_length
            && chars > max
        {
            out.push(Violation::new(
                keyword::MAX_LENGTH,
                Value::from(max),
                format!(
                    "{} is longer than maxLength {max} ({chars} {})",
                    show_str(value),
                    plural(chars, "character")
                ),
            ));
        }
    }
    if let Some(pattern) = rules.pattern
        && !pattern.is_match(value)
    {
        out.push(Violation::new(
            keyword::PATTERN,
            Value::from(pattern.as_str()),
            format!(
                "{} does not match pattern `{}`",
                show_str(value),
                pattern.as_str()
            ),
        ));
    }
    out
}

fn first(violations: Vec<Violation>) -> Result<(), Violation> {
    match violations.into_iter().next() {
        Some(v) => Err(v),
        None => Ok(()),
    }
}

/// Checks an integer against inclusive bounds.
pub fn check_integer(
    value: i64,
    minimum: Option<i64>,
    maximum: Option<i64>,
) -> Result<(), Violation> {
    first(integer_violations(value, minimum, maximum))
}

/// Every bound an integer breaks (`minimum`, then `maximum`).
pub fn integer_violations(
    value: i64,
    minimum: Option<i64>,
    maximum: Option<i64>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    if let Some(min) = minimum
        && value < min
    {
        out.push(Violation::new(
            keyword::MINIMUM,
            Value::from(min),
            format!("{value} is less than minimum {min}"),
        ));
    }
    if let Some(max) = maximum
        && value > max
    {
        out.push(Violation::new(
            keyword::MAXIMUM,
            Value::from(max),
            format!("{value} is greater than maximum {max}"),
        ));
    }
    out
}

/// Checks a number against inclusive bounds. NaN and the infinities are
/// refused whatever the bounds: JSON has no such numbers.
pub fn check_number(
    value: f64,
    minimum: Option<f64>,
    maximum: Option<f64>,
) -> Result<(), Violation> {
    first(number_violations(value, minimum, maximum))
}

/// Every rule a number breaks: not finite (keyword `type`), else `minimum`,
/// then `maximum`.
pub fn number_violations(value: f64, minimum: Option<f64>, maximum: Option<f64>) -> Vec<Violation> {
    if !value.is_finite() {
        return vec![Violation::new(
            keyword::TYPE,
            Value::from("number"),
            format!("expected a finite number, found {value}"),
        )];
    }
    let mut out = Vec::new();
    if let Some(min) = minimum
        && value < min
    {
        out.push(Violation::new(
            keyword::MINIMUM,
            number_value(min),
            format!("{value} is less than minimum {min}"),
        ));
    }
    if let Some(max) = maximum
        && value > max
    {
        out.push(Violation::new(
            keyword::MAXIMUM,
            number_value(max),
            format!("{value} is greater than maximum {max}"),
        ));
    }
    out
}

/// Checks that a JSON value is one of the allowed values.
pub fn check_enum(value: &Value, allowed: &[Value]) -> Result<(), Violation> {
    if allowed.contains(value) {
        return Ok(());
    }
    Err(Violation::new(
        keyword::ENUM,
        Value::Array(allowed.to_vec()),
        format!(
            "{} is not one of {}",
            show_value(value),
            allowed
                .iter()
                .map(show_value)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}

/// Checks that a string is one of the allowed strings (a string `enum`).
pub fn check_enum_str(value: &str, allowed: &[&str]) -> Result<(), Violation> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(Violation::new(
        keyword::ENUM,
        Value::Array(allowed.iter().map(|s| Value::from(*s)).collect()),
        format!(
            "{} is not one of {}",
            show_str(value),
            allowed
                .iter()
                .map(|s| show_str(s))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}

/// The JSON types a manifest can name in `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonType {
    /// `"string"`
    String,
    /// `"integer"`: a JSON number without fraction that fits in `i64`
    /// (`100.0` and `1e2` count, as in JSON Schema).
    Integer,
    /// `"number"`
    Number,
    /// `"boolean"`
    Boolean,
    /// `"array"`
    Array,
    /// `"object"`
    Object,
}

impl JsonType {
    /// Every type, in manifest order.
    pub const ALL: [JsonType; 6] = [
        JsonType::String,
        JsonType::Integer,
        JsonType::Number,
        JsonType::Boolean,
        JsonType::Array,
        JsonType::Object,
    ];

    /// The manifest spelling, e.g. `"integer"`.
    pub fn as_str(self) -> &'static str {
        match self {
            JsonType::String => "string",
            JsonType::Integer => "integer",
            JsonType::Number => "number",
            JsonType::Boolean => "boolean",
            JsonType::Array => "array",
            JsonType::Object => "object",
        }
    }

    /// Parses the manifest spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether `value` is of this type. An integer is also a number; a
    /// number is an integer if it has no fraction and fits in `i64`.
    pub fn matches(self, value: &Value) -> bool {
        match self {
            JsonType::String => value.is_string(),
            JsonType::Integer => schema::as_integer(value).is_some(),
            JsonType::Number => value.is_number(),
            JsonType::Boolean => value.is_boolean(),
            JsonType::Array => value.is_array(),
            JsonType::Object => value.is_object(),
        }
    }
}

impl fmt::Display for JsonType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks that a JSON value has the expected type.
pub fn check_type(value: &Value, expected: JsonType) -> Result<(), Violation> {
    if expected.matches(value) {
        return Ok(());
    }
    Err(Violation::new(
        keyword::TYPE,
        Value::from(expected.as_str()),
        format!(
            "expected {} {expected}, found {}",
            article(expected.as_str()),
            describe_value(value)
        ),
    ))
}

/// The violation for a required value that is absent.
pub fn missing_required() -> Violation {
    Violation::new(
        keyword::REQUIRED,
        Value::Bool(true),
        "is required but missing",
    )
}

/// The violation for an object member the schema does not declare.
/// `expected` lists the declared member names.
pub fn unknown_property(name: &str, expected: &[&str]) -> Violation {
    let expected_list = if expected.is_empty() {
        "it takes none".to_owned()
    } else {
        format!(
            "expected one of {}",
            expected
                .iter()
                .map(|s| show_str(s))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let hint = closest(name, expected)
        .map(|close| format!(" (did you mean {}?)", show_str(close)))
        .unwrap_or_default();
    Violation::new(
        keyword::ADDITIONAL_PROPERTIES,
        Value::Bool(false),
        format!("unknown member {}{hint}; {expected_list}", show_str(name)),
    )
}

/// The candidate `name` is most plausibly a misspelling of: the nearest by
/// edit distance (ignoring ASCII case), if it is near enough — at most 2
/// edits, or a third of the candidate's length for long names.
pub fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let name: Vec<char> = name.to_ascii_lowercase().chars().collect();
    candidates
        .iter()
        .map(|c| {
            let candidate: Vec<char> = c.to_ascii_lowercase().chars().collect();
            (edit_distance(&name, &candidate), *c)
        })
        .filter(|(distance, c)| *distance <= 2.max(c.chars().count() / 3))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// Levenshtein distance: insertions, deletions and substitutions.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// The error of a validating constructor: which type refused the value, and why.
///
/// Generated newtypes return this from `new`, `TryFrom` and `FromStr`, e.g.
/// ``invalid Username: `jo` is shorter than minLength 3 (2 characters)``.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidValue {
    type_name: &'static str,
    violation: Violation,
}

impl InvalidValue {
    /// The error for type `type_name` refusing a value for `violation`.
    pub fn new(type_name: &'static str, violation: Violation) -> Self {
        Self {
            type_name,
            violation,
        }
    }

    /// The Rust type that refused the value.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The broken constraint.
    pub fn violation(&self) -> &Violation {
        &self.violation
    }
}

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.type_name, self.violation)
    }
}

impl std::error::Error for InvalidValue {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.violation)
    }
}

/// Describes a JSON value for a message: its kind and, for scalars, the value
/// itself, e.g. ``"string `abc`"``, `"number 1.5"`, `"an object"`.
pub fn describe_value(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {}", show_str(s)),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

const SHOW_MAX_CHARS: usize = 48;

/// A string as shown in messages: in backticks, shortened with `…` when long,
/// control characters escaped.
pub fn show_str(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(SHOW_MAX_CHARS * 4) + 2);
    out.push('`');
    for (i, c) in value.chars().enumerate() {
        if i == SHOW_MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('`');
    out
}

fn show_value(value: &Value) -> String {
    match value {
        Value::String(s) => show_str(s),
        other => other.to_string(),
    }
}

fn number_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

fn article(word: &str) -> &'static str {
    match word.as_bytes().first() {
        Some(b'a' | b'e' | b'i' | b'o' | b'u') => "an",
        _ => "a",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(min: Option<u64>, max: Option<u64>, pattern: Option<&Pattern>) -> StringRules<'_> {
        StringRules {
            min_length: min,
            max_length: max,
            pattern,
        }
    }

    #[test]
    fn min_length_counts_characters_not_bytes() {
        // "éé" is 4 bytes but 2 characters.
        let err = check_string("éé", &rules(Some(3), None, None)).unwrap_err();
        assert_eq!(err.keyword(), "minLength");
        assert_eq!(err.limit(), &json!(3));
        assert_eq!(
            err.message(),
            "`éé` is shorter than minLength 3 (2 characters)"
        );
        assert!(check_string("ééé", &rules(Some(3), Some(3), None)).is_ok());
    }

    #[test]
    fn max_length_reports_actual_length() {
        let err = check_string("abcd", &rules(None, Some(3), None)).unwrap_err();
        assert_eq!(err.keyword(), "maxLength");
        assert_eq!(
            err.message(),
            "`abcd` is longer than maxLength 3 (4 characters)"
        );
        assert_eq!(err.constraints_json(), json!({"maxLength": 3}));
    }

    #[test]
    fn pattern_is_unanchored_unless_anchored() {
        let loose = Pattern::new("[0-9]").unwrap();
        assert!(check_string("abc1def", &rules(None, None, Some(&loose))).is_ok());
        let anchored = Pattern::new("^[0-9]+$").unwrap();
        let err = check_string("abc1def", &rules(None, None, Some(&anchored))).unwrap_err();
        assert_eq!(err.keyword(), "pattern");
        assert_eq!(err.limit(), &json!("^[0-9]+$"));
        assert_eq!(err.message(), "`abc1def` does not match pattern `^[0-9]+$`");
    }

    #[test]
    fn pattern_refuses_look_around() {
        assert!(Pattern::new("(?=a)").is_err());
        assert!(Pattern::new(r"(a)\1").is_err());
    }

    #[test]
    fn length_is_checked_before_pattern() {
        let p = Pattern::new("^[a-z]+$").unwrap();
        let err = check_string("A", &rules(Some(2), None, Some(&p))).unwrap_err();
        assert_eq!(err.keyword(), "minLength");
    }

    #[test]
    fn integer_bounds_are_inclusive() {
        assert!(check_integer(13, Some(13), Some(120)).is_ok());
        assert!(check_integer(120, Some(13), Some(120)).is_ok());
        let low = check_integer(12, Some(13), Some(120)).unwrap_err();
        assert_eq!(low.keyword(), "minimum");
        assert_eq!(low.message(), "12 is less than minimum 13");
        let high = check_integer(121, Some(13), Some(120)).unwrap_err();
        assert_eq!(high.keyword(), "maximum");
        assert_eq!(high.message(), "121 is greater than maximum 120");
    }

    #[test]
    fn number_bounds_keep_integral_limits_integral() {
        let err = check_number(0.5, Some(1.0), None).unwrap_err();
        assert_eq!(err.limit(), &json!(1));
        let err = check_number(2.75, None, Some(2.5)).unwrap_err();
        assert_eq!(err.limit(), &json!(2.5));
        assert_eq!(err.message(), "2.75 is greater than maximum 2.5");
    }

    #[test]
    fn enum_lists_allowed_values() {
        let err = check_enum_str("root", &["admin", "user"]).unwrap_err();
        assert_eq!(err.keyword(), "enum");
        assert_eq!(err.limit(), &json!(["admin", "user"]));
        assert_eq!(err.message(), "`root` is not one of `admin`, `user`");
        assert!(check_enum(&json!(2), &[json!(1), json!(2)]).is_ok());
        let err = check_enum(&json!(3), &[json!(1), json!(2)]).unwrap_err();
        assert_eq!(err.message(), "3 is not one of 1, 2");
    }

    #[test]
    fn type_checks_distinguish_integer_and_number() {
        assert!(check_type(&json!(3), JsonType::Integer).is_ok());
        assert!(check_type(&json!(3), JsonType::Number).is_ok());
        let err = check_type(&json!(3.5), JsonType::Integer).unwrap_err();
        assert_eq!(err.message(), "expected an integer, found number 3.5");
        let err = check_type(&json!({}), JsonType::String).unwrap_err();
        assert_eq!(err.message(), "expected a string, found an object");
        assert_eq!(err.constraints_json(), json!({"type": "string"}));
    }

    #[test]
    fn the_closest_name_is_a_plausible_misspelling_only() {
        let names = ["username", "email", "firstName", "age"];
        assert_eq!(closest("usrname", &names), Some("username"));
        assert_eq!(closest("FirstName", &names), Some("firstName"));
        assert_eq!(closest("first_name", &names), Some("firstName"));
        assert_eq!(closest("emial", &names), Some("email"));
        assert_eq!(closest("nickname", &names), None);
        assert_eq!(closest("x", &[]), None);
    }

    #[test]
    fn unknown_members_list_the_expected_ones() {
        let v = unknown_property("usrname", &["username", "email"]);
        assert_eq!(v.keyword(), "additionalProperties");
        assert_eq!(
            v.message(),
            "unknown member `usrname` (did you mean `username`?); expected one of `username`, `email`"
        );
        assert_eq!(
            unknown_property("colour", &["size", "weight"]).message(),
            "unknown member `colour`; expected one of `size`, `weight`"
        );
        assert_eq!(
            unknown_property("x", &[]).message(),
            "unknown member `x`; it takes none"
        );
    }

    #[test]
    fn invalid_value_names_the_type() {
        let v = check_string("jo", &rules(Some(3), None, None)).unwrap_err();
        let e = InvalidValue::new("Username", v);
        assert_eq!(
            e.to_string(),
            "invalid Username: `jo` is shorter than minLength 3 (2 characters)"
        );
    }

    #[test]
    fn json_type_names_round_trip() {
        for t in JsonType::ALL {
            assert_eq!(JsonType::from_name(t.as_str()), Some(t));
        }
        assert_eq!(JsonType::from_name("float"), None);
    }

    #[test]
    fn long_and_control_strings_are_shown_safely() {
        let long = "x".repeat(100);
        let shown = show_str(&long);
        assert!(shown.ends_with("…`"));
        assert_eq!(shown.chars().count(), SHOW_MAX_CHARS + 3);
        assert_eq!(show_str("a\nb"), "`a\\nb`");
    }
}
