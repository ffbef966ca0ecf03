//! The types generated code is made of: constrained values and wire enums.
//!
//! A constrained value of a manifest (`"username": {"type": "string",
//! "minLength": 3}`) is generated as an alias of [`Constrained`] with a
//! zero-sized rule type that carries the manifest's limits as associated
//! constants:
//!
//! ```
//! use janus_runtime::typed::{Rule, StringLimits};
//! use janus_runtime::Constrained;
//!
//! pub enum UsernameRule {}
//! impl Rule<String> for UsernameRule {
//!     const NAME: &'static str = "Username";
//!     const LIMITS: StringLimits = StringLimits::NONE.min_length(3).pattern("^[a-z_]+$");
//! }
//! pub type Username = Constrained<String, UsernameRule>;
//!
//! let name = Username::new("ada_l").unwrap();
//! assert_eq!(name.as_str(), "ada_l");
//! assert_eq!(
//!     Username::new("jo").unwrap_err().to_string(),
//!     "invalid Username: `jo` is shorter than minLength 3 (2 characters)",
//! );
//! let parsed: Username = "grace".parse().unwrap();
//! assert_eq!(serde_json::to_string(&parsed).unwrap(), r#""grace""#);
//! assert!(serde_json::from_str::<Username>(r#""x""#).is_err());
//! ```
//!
//! Every behaviour — the validating [`new`](Constrained::new), `TryFrom`,
//! `FromStr`, a `Deserialize` that checks, `Serialize`, `Display`, `Deref`,
//! the comparisons — is implemented once, here, for every rule; a value can
//! only be built through the checks. The base is `String`, `i64` or `f64`
//! ([`Base`]); `f64` values are always finite.
//!
//! String enums are plain Rust enums that implement [`WireEnum`]; their
//! trait impls are one-line calls to the helpers here.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::{LazyLock, RwLock};

use janus_constraints::{InvalidValue, JsonType, Pattern, StringRules, Violation};
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

mod sealed {
    pub trait Sealed {}
    impl Sealed for String {}
    impl Sealed for i64 {}
    impl Sealed for f64 {}
}

/// The base of a constrained value: `String`, `i64` or `f64`.
pub trait Base:
    Sized + Clone + fmt::Debug + fmt::Display + Serialize + DeserializeOwned + sealed::Sealed + 'static
{
    /// The limits a manifest can put on this base.
    type Limits: fmt::Debug + 'static;
    /// What a value borrows as (`str` for strings).
    type Target: ?Sized;
    /// The type of a literal of this base (`&'static str`, `i64`, `f64`).
    type Literal;

    /// Checks a value against `limits`: the first violation, in the order
    /// of the manifest's keywords.
    fn check(value: &Self::Target, limits: &Self::Limits) -> Result<(), Violation>;

    /// The value, borrowed.
    fn target(&self) -> &Self::Target;

    /// The value of a literal.
    fn from_literal(literal: Self::Literal) -> Self;

    /// Reads a value from text (`FromStr`), before its limits are checked.
    fn parse_text(text: &str) -> Result<Self, Violation>;
}

/// The limits of a constrained string; built in constant expressions:
/// `StringLimits::NONE.min_length(3).max_length(40)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StringLimits {
    /// `minLength`, in characters.
    pub min_length: Option<u64>,
    /// `maxLength`, in characters.
    pub max_length: Option<u64>,
    /// `pattern`: a regex that must match anywhere in the value.
    pub pattern: Option<&'static str>,
}

impl StringLimits {
    /// No limits.
    pub const NONE: Self = Self {
        min_length: None,
        max_length: None,
        pattern: None,
    };

    /// With `minLength`.
    pub const fn min_length(mut self, n: u64) -> Self {
        self.min_length = Some(n);
        self
    }

    /// With `maxLength`.
    pub const fn max_length(mut self, n: u64) -> Self {
        self.max_length = Some(n);
        self
    }

    /// With `pattern`.
    pub const fn pattern(mut self, source: &'static str) -> Self {
        self.pattern = Some(source);
        self
    }
}

/// The limits of a constrained integer: `IntegerLimits::NONE.minimum(0)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntegerLimits {
    /// Inclusive lower bound.
    pub minimum: Option<i64>,
    /// Inclusive upper bound.
    pub maximum: Option<i64>,
}

impl IntegerLimits {
    /// No limits.
    pub const NONE: Self = Self {
        minimum: None,
        maximum: None,
    };

    /// With `minimum`.
    pub const fn minimum(mut self, n: i64) -> Self {
        self.minimum = Some(n);
        self
    }

    /// With `maximum`.
    pub const fn maximum(mut self, n: i64) -> Self {
        self.maximum = Some(n);
        self
    }
}

/// The limits of a constrained number: `NumberLimits::NONE.maximum(1.0)`.
/// A number is finite whatever its limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumberLimits {
    /// Inclusive lower bound.
    pub minimum: Option<f64>,
    /// Inclusive upper bound.
    pub maximum: Option<f64>,
}

impl NumberLimits {
    /// No limits (but finite).
    pub const NONE: Self = Self {
        minimum: None,
        maximum: None,
    };

    /// With `minimum`.
    pub const fn minimum(mut self, n: f64) -> Self {
        self.minimum = Some(n);
        self
    }

    /// With `maximum`.
    pub const fn maximum(mut self, n: f64) -> Self {
        self.maximum = Some(n);
        self
    }
}

/// The compiled form of a `pattern`, compiled once per process.
fn compiled(source: &'static str) -> Result<&'static Pattern, Violation> {
    type Cache = HashMap<&'static str, Result<&'static Pattern, String>>;
    static CACHE: LazyLock<RwLock<Cache>> = LazyLock::new(RwLock::default);
    let found = CACHE
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(source)
        .cloned();
    let entry = match found {
        Some(entry) => entry,
        None => {
            // Patterns come from the program's own constants, so the cache
            // (and what it leaks) is bounded by the program's text.
            let entry = Pattern::new(source)
                .map(|p| &*Box::leak(Box::new(p)))
                .map_err(|e| e.to_string());
            CACHE
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(source)
                .or_insert(entry)
                .clone()
        }
    };
    entry.map_err(|reason| {
        Violation::new(
            janus_constraints::keyword::PATTERN,
            Value::from(source),
            format!("pattern `{source}` could not be compiled: {reason}"),
        )
    })
}

fn not_a(expected: JsonType, text: &str) -> Violation {
    let shown = Value::String(text.to_owned());
    janus_constraints::check_type(&shown, expected)
        .err()
        .unwrap_or_else(janus_constraints::missing_required)
}

impl Base for String {
    type Limits = StringLimits;
    type Target = str;
    type Literal = &'static str;

    fn check(value: &str, limits: &StringLimits) -> Result<(), Violation> {
        let pattern = limits.pattern.map(compiled).transpose()?;
        janus_constraints::check_string(
            value,
            &StringRules {
                min_length: limits.min_length,
                max_length: limits.max_length,
                pattern,
            },
        )
    }

    fn target(&self) -> &str {
        self
    }

    fn from_literal(literal: &'static str) -> Self {
        literal.to_owned()
    }

    fn parse_text(text: &str) -> Result<Self, Violation> {
        Ok(text.to_owned())
    }
}

impl Base for i64 {
    type Limits = IntegerLimits;
    type Target = i64;
    type Literal = i64;

    fn check(value: &i64, limits: &IntegerLimits) -> Result<(), Violation> {
        janus_constraints::check_integer(*value, limits.minimum, limits.maximum)
    }

    fn target(&self) -> &i64 {
        self
    }

    fn from_literal(literal: i64) -> Self {
        literal
    }

    fn parse_text(text: &str) -> Result<Self, Violation> {
        text.trim()
            .parse()
            .map_err(|_| not_a(JsonType::Integer, text))
    }
}

impl Base for f64 {
    type Limits = NumberLimits;
    type Target = f64;
    type Literal = f64;

    fn check(value: &f64, limits: &NumberLimits) -> Result<(), Violation> {
        janus_constraints::check_number(*value, limits.minimum, limits.maximum)
    }

    fn target(&self) -> &f64 {
        self
    }

    fn from_literal(literal: f64) -> Self {
        literal
    }

    fn parse_text(text: &str) -> Result<Self, Violation> {
        text.trim()
            .parse()
            .map_err(|_| not_a(JsonType::Number, text))
    }
}

/// The rules of one constrained type: its name (for messages) and the
/// manifest's limits. Implemented by an uninhabited type per constrained
/// value of a manifest.
pub trait Rule<T: Base>: 'static {
    /// The Rust type's name, as errors name it (`Username`).
    const NAME: &'static str;
    /// The manifest's limits.
    const LIMITS: T::Limits;
}

/// A rule whose values have a manifest `default`, which is then the
/// value's [`Default`].
pub trait DefaultValue<T: Base>: Rule<T> {
    /// The default, as a literal (checked when the code was generated).
    const DEFAULT: T::Literal;
}

/// A `T` that satisfies the rule `R`: built only through checks.
///
/// Generated code names each one with an alias,
/// `pub type Username = Constrained<String, UsernameRule>`; see the
/// [module documentation](self).
pub struct Constrained<T, R> {
    value: T,
    rule: PhantomData<fn() -> R>,
}

impl<T: Base, R: Rule<T>> Constrained<T, R> {
    /// Builds the value if it satisfies the manifest's constraints.
    pub fn new(value: impl Into<T>) -> Result<Self, InvalidValue> {
        let value = value.into();
        match Self::check(value.target()) {
            Ok(()) => Ok(Self::trusted(value)),
            Err(violation) => Err(InvalidValue::new(R::NAME, violation)),
        }
    }

    /// Checks a value against the constraints, without building anything.
    pub fn check(value: &T::Target) -> Result<(), Violation> {
        T::check(value, &R::LIMITS)
    }

    /// The value, unwrapped.
    pub fn into_inner(self) -> T {
        self.value
    }

    fn trusted(value: T) -> Self {
        Self {
            value,
            rule: PhantomData,
        }
    }

    /// A value known to satisfy the rule: a literal checked while compiling.
    pub(crate) fn from_checked_literal(literal: T::Literal) -> Self {
        Self::trusted(T::from_literal(literal))
    }
}

impl<R: Rule<String>> Constrained<String, R> {
    /// The value.
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

impl<R: Rule<i64>> Constrained<i64, R> {
    /// The value.
    pub fn get(self) -> i64 {
        self.value
    }
}

impl<R: Rule<f64>> Constrained<f64, R> {
    /// The value (always finite).
    pub fn get(self) -> f64 {
        self.value
    }
}

impl<T: Base, R: DefaultValue<T>> Default for Constrained<T, R> {
    /// The manifest's `default`.
    fn default() -> Self {
        Self::from_checked_literal(R::DEFAULT)
    }
}

impl<T: Base, R: Rule<T>> std::ops::Deref for Constrained<T, R> {
    type Target = T::Target;
    fn deref(&self) -> &T::Target {
        self.value.target()
    }
}

impl<T: Base, R: Rule<T>> AsRef<T::Target> for Constrained<T, R> {
    fn as_ref(&self) -> &T::Target {
        self.value.target()
    }
}

impl<T: Base, R: Rule<T>> fmt::Display for Constrained<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.value, f)
    }
}

impl<T: Base, R: Rule<T>> fmt::Debug for Constrained<T, R> {
    /// As a tuple struct of the rule's name: `Username("ada")`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple(R::NAME).field(&self.value).finish()
    }
}

impl<T: Base, R: Rule<T>> Clone for Constrained<T, R> {
    fn clone(&self) -> Self {
        Self::trusted(self.value.clone())
    }
}

impl<T: Base + Copy, R: Rule<T>> Copy for Constrained<T, R> {}

impl<T: Base + PartialEq, R: Rule<T>> PartialEq for Constrained<T, R> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Base + Eq, R: Rule<T>> Eq for Constrained<T, R> {}

impl<T: Base + PartialOrd, R: Rule<T>> PartialOrd for Constrained<T, R> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.value.partial_cmp(&other.value)
    }
}

impl<T: Base + Ord, R: Rule<T>> Ord for Constrained<T, R> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value.cmp(&other.value)
    }
}

impl<T: Base + Hash, R: Rule<T>> Hash for Constrained<T, R> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl<T: Base, R: Rule<T>> FromStr for Constrained<T, R> {
    type Err = InvalidValue;
    fn from_str(text: &str) -> Result<Self, InvalidValue> {
        let value = T::parse_text(text).map_err(|v| InvalidValue::new(R::NAME, v))?;
        Self::new(value)
    }
}

impl<R: Rule<String>> TryFrom<String> for Constrained<String, R> {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, InvalidValue> {
        Self::new(value)
    }
}

impl<R: Rule<String>> TryFrom<&str> for Constrained<String, R> {
    type Error = InvalidValue;
    fn try_from(value: &str) -> Result<Self, InvalidValue> {
        Self::new(value)
    }
}

impl<R: Rule<i64>> TryFrom<i64> for Constrained<i64, R> {
    type Error = InvalidValue;
    fn try_from(value: i64) -> Result<Self, InvalidValue> {
        Self::new(value)
    }
}

impl<R: Rule<f64>> TryFrom<f64> for Constrained<f64, R> {
    type Error = InvalidValue;
    fn try_from(value: f64) -> Result<Self, InvalidValue> {
        Self::new(value)
    }
}

impl<R: Rule<String>> From<Constrained<String, R>> for String {
    fn from(value: Constrained<String, R>) -> Self {
        value.value
    }
}

impl<R: Rule<i64>> From<Constrained<i64, R>> for i64 {
    fn from(value: Constrained<i64, R>) -> Self {
        value.value
    }
}

impl<R: Rule<f64>> From<Constrained<f64, R>> for f64 {
    fn from(value: Constrained<f64, R>) -> Self {
        value.value
    }
}

impl<T: Base, R: Rule<T>> Serialize for Constrained<T, R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

impl<'de, T: Base, R: Rule<T>> Deserialize<'de> for Constrained<T, R> {
    /// Decodes and checks the value; inside [`decode_checked`] (values the
    /// schema checker has already accepted) it is not checked twice.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = T::deserialize(deserializer)?;
        if CHECKED.get() {
            return Ok(Self::trusted(value));
        }
        Self::new(value).map_err(D::Error::custom)
    }
}

thread_local! {
    static CHECKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Decodes `value`, which the schema checker has accepted, without checking
/// its constrained members a second time: what generated servers do with
/// arguments and generated clients with results.
///
/// Only for values already checked against the schema of `T`: inside this
/// decode, a [`Constrained`] value trusts its input.
pub fn decode_checked<T: DeserializeOwned>(value: Value) -> Result<T, serde_json::Error> {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            CHECKED.set(self.0);
        }
    }
    let _reset = Reset(CHECKED.replace(true));
    serde_json::from_value(value)
}

/// A string enum of a manifest: each variant has a wire value.
///
/// Generated enums implement it and call [`parse_enum`] and
/// [`deserialize_enum`] from their `FromStr` and `Deserialize`.
pub trait WireEnum: Copy + 'static {
    /// The Rust type's name, as errors name it.
    const NAME: &'static str;
    /// Every variant, in manifest order.
    const VARIANTS: &'static [Self];
    /// The wire values, in the same order.
    const WIRE: &'static [&'static str];
}

/// The variant whose wire value is `text`; the error lists the allowed
/// values (and the closest one).
///
/// The generic part is only the final indexing: the search and the error
/// are [`wire_position`], compiled once here rather than once per enum.
pub fn parse_enum<E: WireEnum>(text: &str) -> Result<E, InvalidValue> {
    let i = wire_position(text, E::WIRE, E::VARIANTS.len(), E::NAME)?;
    Ok(E::VARIANTS[i])
}

/// The position of `text` among the wire values `wire` of the enum `name`,
/// if it is below `variants` (the number of variants); otherwise the
/// `enum` violation naming the allowed values.
#[inline(never)]
fn wire_position(
    text: &str,
    wire: &'static [&'static str],
    variants: usize,
    name: &'static str,
) -> Result<usize, InvalidValue> {
    match wire.iter().position(|w| *w == text) {
        Some(i) if i < variants => Ok(i),
        _ => {
            let violation = janus_constraints::check_enum_str(text, wire)
                .err()
                .unwrap_or_else(|| {
                    Violation::new(
                        janus_constraints::keyword::ENUM,
                        Value::from(wire),
                        format!("{} is not a variant", janus_constraints::show_str(text)),
                    )
                });
            Err(InvalidValue::new(name, violation))
        }
    }
}

/// Decodes a string enum from its wire value.
pub fn deserialize_enum<'de, E: WireEnum, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<E, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_enum(&text).map_err(D::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    enum NameRule {}
    impl Rule<String> for NameRule {
        const NAME: &'static str = "Name";
        const LIMITS: StringLimits = StringLimits::NONE.min_length(3).pattern("^[a-z]+$");
    }
    type Name = Constrained<String, NameRule>;

    enum RatioRule {}
    impl Rule<f64> for RatioRule {
        const NAME: &'static str = "Ratio";
        const LIMITS: NumberLimits = NumberLimits::NONE.minimum(0.0).maximum(1.0);
    }
    type Ratio = Constrained<f64, RatioRule>;

    enum CountRule {}
    impl Rule<i64> for CountRule {
        const NAME: &'static str = "Count";
        const LIMITS: IntegerLimits = IntegerLimits::NONE.maximum(10);
    }
    impl DefaultValue<i64> for CountRule {
        const DEFAULT: i64 = 3;
    }
    type Count = Constrained<i64, CountRule>;

    #[test]
    fn every_way_in_checks() {
        assert_eq!(Name::new("abc").map(Name::into_inner), Ok("abc".to_owned()));
        for bad in ["ab", "ABC"] {
            assert!(Name::new(bad).is_err(), "{bad}");
            assert!(Name::try_from(bad).is_err(), "{bad}");
            assert!(bad.parse::<Name>().is_err(), "{bad}");
            assert!(
                serde_json::from_value::<Name>(Value::from(bad)).is_err(),
                "{bad}"
            );
        }
        assert_eq!(
            "11".parse::<Count>().unwrap_err().to_string(),
            "invalid Count: 11 is greater than maximum 10"
        );
        assert!("x".parse::<Count>().is_err());
        assert_eq!(Count::default().get(), 3);
        assert_eq!(format!("{:?}", Name::new("abc").unwrap()), r#"Name("abc")"#);
    }

    #[test]
    fn numbers_are_finite() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.5] {
            assert!(Ratio::new(bad).is_err(), "{bad}");
        }
        assert_eq!(Ratio::new(0.5).map(Ratio::get), Ok(0.5));
    }

    #[test]
    fn a_checked_decode_does_not_check_again_and_ends_with_the_decode() {
        // Inside the scope the value is trusted: the schema checker has
        // already accepted it (here it would not have, to make it visible).
        let trusted: Name = decode_checked(Value::from("X")).expect("trusted");
        assert_eq!(trusted.as_str(), "X");
        // After it, even after a failed decode, values are checked again.
        assert!(decode_checked::<Vec<Name>>(Value::from(1)).is_err());
        assert!(serde_json::from_value::<Name>(Value::from("X")).is_err());
    }

    #[test]
    fn a_pattern_that_does_not_compile_is_a_violation_not_a_panic() {
        enum BadRule {}
        impl Rule<String> for BadRule {
            const NAME: &'static str = "Bad";
            const LIMITS: StringLimits = StringLimits::NONE.pattern("(");
        }
        let error = Constrained::<String, BadRule>::new("x").unwrap_err();
        assert_eq!(error.violation().keyword(), "pattern");
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Mode {
        Fast,
        Slow,
    }
    impl WireEnum for Mode {
        const NAME: &'static str = "Mode";
        const VARIANTS: &'static [Self] = &[Mode::Fast, Mode::Slow];
        const WIRE: &'static [&'static str] = &["fast", "slow"];
    }

    #[test]
    fn wire_enums_parse_their_wire_values_only() {
        assert_eq!(parse_enum::<Mode>("slow"), Ok(Mode::Slow));
        let error = parse_enum::<Mode>("Fast").unwrap_err();
        assert_eq!(error.type_name(), "Mode");
        assert_eq!(error.violation().keyword(), "enum");
    }
}
