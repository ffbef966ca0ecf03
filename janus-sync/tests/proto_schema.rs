//! `proto/janus_sync.proto` and the `prost` structs of `janus_sync::proto`
//! describe the same messages: the `.proto` is compiled with `protox` (pure
//! Rust, no `protoc`), and every message of it must match its struct in
//! field names, tags, wire types, signedness and presence, and every enum
//! its Rust enum. Changing one side and not the other fails here.

use std::collections::BTreeSet;
use std::fmt::Debug;

use janus_sync::proto::{
    Delete, Entry, FileTree, Kind as EntryKind, MakeDir, Operation, Rename, SyncPlan, WriteFile,
};
use prost::Message as _;
use prost_reflect::{
    Cardinality, DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value,
};

/// Decodes `bytes` as `T`, re-encodes it, and shows it with `Debug`.
fn through<T: prost::Message + Default + Debug>(bytes: &[u8]) -> (Vec<u8>, String) {
    let t = T::decode(bytes).expect("the struct decodes what the schema encodes");
    (t.encode_to_vec(), format!("{t:?}"))
}

fn default_debug<T: prost::Message + Default + Debug>() -> String {
    format!("{:?}", T::default())
}

type Through = fn(&[u8]) -> (Vec<u8>, String);
type DefaultDebug = fn() -> String;

/// Every message of the schema and its struct.
const MESSAGES: &[(&str, Through, DefaultDebug)] = &[
    ("FileTree", through::<FileTree>, default_debug::<FileTree>),
    ("Entry", through::<Entry>, default_debug::<Entry>),
    ("SyncPlan", through::<SyncPlan>, default_debug::<SyncPlan>),
    (
        "Operation",
        through::<Operation>,
        default_debug::<Operation>,
    ),
    ("MakeDir", through::<MakeDir>, default_debug::<MakeDir>),
    (
        "WriteFile",
        through::<WriteFile>,
        default_debug::<WriteFile>,
    ),
    ("Delete", through::<Delete>, default_debug::<Delete>),
    ("Rename", through::<Rename>, default_debug::<Rename>),
];

fn pool() -> DescriptorPool {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/proto");
    let mut compiler = protox::Compiler::new([dir]).expect("proto dir");
    compiler
        .open_file("janus_sync.proto")
        .unwrap_or_else(|e| panic!("janus_sync.proto does not compile: {e:?}"));
    compiler.descriptor_pool()
}

const PACKAGE: &str = "janus.sync.v1";

/// A value of `field` that differs from the default and that each wrong
/// Rust type would show differently: negative for signed integers, above
/// the signed range of its width for unsigned ones.
fn sample(field: &FieldDescriptor, depth: usize) -> Value {
    let n = field.number();
    match field.kind() {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(-1_000_000 - n as i32),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(-10_000_000_000 - i64::from(n)),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(3_000_000_000 + n),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(u64::MAX - u64::from(n)),
        Kind::Bool => Value::Bool(true),
        Kind::Float => Value::F32(n as f32 + 0.5),
        Kind::Double => Value::F64(f64::from(n) + 0.25),
        Kind::String => Value::String(format!("{}-{n}", field.name())),
        Kind::Bytes => Value::Bytes(vec![n as u8, 0xff, 7].into()),
        Kind::Enum(e) => Value::EnumNumber(e.values().map(|v| v.number()).max().unwrap_or(0)),
        Kind::Message(m) => {
            Value::Message(filled(&m, depth + 1).into_iter().next().expect("a sample"))
        }
    }
}

/// Messages with every field set: one per member of each oneof (a oneof
/// holds one member at a time), plus one with the fields that track
/// presence set to their default (which must survive the round trip).
fn filled(desc: &MessageDescriptor, depth: usize) -> Vec<DynamicMessage> {
    assert!(depth < 8, "recursive schema");
    let mut base = DynamicMessage::new(desc.clone());
    let mut oneof_members = Vec::new();
    for f in desc.fields() {
        if f.containing_oneof().is_some_and(|o| !o.is_synthetic()) {
            oneof_members.push(f);
            continue;
        }
        let v = sample(&f, depth);
        let v = if f.is_list() {
            Value::List(vec![v.clone(), v])
        } else {
            v
        };
        base.set_field(&f, v);
    }
    let mut out = vec![base.clone()];
    for f in oneof_members {
        let mut m = base.clone();
        m.set_field(&f, sample(&f, depth));
        out.push(m);
    }
    let presence: Vec<_> = desc
        .fields()
        .filter(|f| f.supports_presence() && f.cardinality() != Cardinality::Repeated)
        .filter(|f| !matches!(f.kind(), Kind::Message(_)))
        .collect();
    if !presence.is_empty() {
        let mut m = base;
        for f in presence {
            m.set_field(&f, Value::default_value_for_field(&f));
        }
        out.push(m);
    }
    out
}

/// The top-level field names in a struct's `Debug` text.
fn debug_field_names(text: &str) -> BTreeSet<String> {
    let inner = text
        .split_once('{')
        .and_then(|(_, rest)| rest.rsplit_once('}'))
        .map(|(inner, _)| inner)
        .unwrap_or("");
    let mut names = BTreeSet::new();
    let mut depth = 0;
    let mut start = 0;
    let mut in_string = false;
    let bytes = inner.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' if i == 0 || bytes[i - 1] != b'\\' => in_string = !in_string,
            _ if in_string => {}
            b'{' | b'[' | b'(' => depth += 1,
            b'}' | b']' | b')' => depth -= 1,
            b':' if depth == 0 && start <= i => {
                names.insert(
                    inner[start..i]
                        .trim()
                        .trim_start_matches(',')
                        .trim()
                        .to_string(),
                );
                start = usize::MAX;
            }
            b',' if depth == 0 => start = i + 1,
            _ => {}
        }
    }
    names
}

/// How `prost`'s `Debug` shows a singular scalar field holding `value`.
fn debug_value(field: &FieldDescriptor, value: &Value) -> Option<String> {
    let shown = match value {
        Value::I32(v) => v.to_string(),
        Value::I64(v) => v.to_string(),
        Value::U32(v) => v.to_string(),
        Value::U64(v) => v.to_string(),
        Value::Bool(v) => v.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Bytes(b) => format!("{:?}", b.to_vec()),
        Value::EnumNumber(n) => {
            let Kind::Enum(e) = field.kind() else {
                return None;
            };
            rust_variant(e.name(), e.get_value(*n)?.name())
        }
        _ => return None,
    };
    Some(if field.supports_presence() {
        format!("Some({shown})")
    } else {
        shown
    })
}

/// `KIND_FILE` of enum `Kind` is the Rust variant `File`.
fn rust_variant(enum_name: &str, value_name: &str) -> String {
    let mut prefix = String::new();
    for (i, c) in enum_name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            prefix.push('_');
        }
        prefix.push(c.to_ascii_uppercase());
    }
    prefix.push('_');
    value_name
        .strip_prefix(&prefix)
        .unwrap_or(value_name)
        .split('_')
        .map(|w| {
            let mut cs = w.chars();
            cs.next()
                .map(|c| c.to_string() + &cs.as_str().to_lowercase())
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn every_message_of_the_proto_has_its_struct_and_no_more() {
    let pool = pool();
    let in_proto: BTreeSet<String> = pool
        .all_messages()
        .filter(|m| m.package_name() == PACKAGE)
        .map(|m| m.name().to_string())
        .collect();
    let in_rust: BTreeSet<String> = MESSAGES.iter().map(|(n, ..)| n.to_string()).collect();
    assert_eq!(in_proto, in_rust);
}

#[test]
fn structs_have_the_proto_fields_by_name() {
    let pool = pool();
    for (name, _, default) in MESSAGES {
        let desc = pool
            .get_message_by_name(&format!("{PACKAGE}.{name}"))
            .expect("in the proto");
        let mut want: BTreeSet<String> = BTreeSet::new();
        for f in desc.fields() {
            match f.containing_oneof() {
                Some(o) if !o.is_synthetic() => want.insert(o.name().to_string()),
                _ => want.insert(f.name().to_string()),
            };
        }
        assert_eq!(debug_field_names(&default()), want, "fields of {name}");
    }
}

#[test]
fn structs_round_trip_every_field_of_the_proto() {
    let pool = pool();
    for (name, through, _) in MESSAGES {
        let desc = pool
            .get_message_by_name(&format!("{PACKAGE}.{name}"))
            .expect("in the proto");
        for (i, sample) in filled(&desc, 0).into_iter().enumerate() {
            let bytes = sample.encode_to_vec();
            let (again, debug) = through(&bytes);
            let back = DynamicMessage::decode(desc.clone(), again.as_slice()).unwrap();
            assert_eq!(
                back, sample,
                "{name} sample {i}: a field is lost or changed by the struct ({debug})"
            );
            assert_eq!(back.unknown_fields().count(), 0, "{name} sample {i}");
            for (field, value) in sample.fields() {
                if field.is_list() || field.containing_oneof().is_some_and(|o| !o.is_synthetic()) {
                    continue;
                }
                if let Some(shown) = debug_value(&field, value) {
                    let token = format!("{}: {shown}", field.name());
                    assert!(
                        debug.contains(&token),
                        "{name} sample {i}: the struct shows {debug}, expected `{token}` \
                         (wrong type or presence of `{}`?)",
                        field.name()
                    );
                }
            }
        }
    }
}

#[test]
fn the_enum_matches_the_proto() {
    let pool = pool();
    let e = pool
        .get_enum_by_name(&format!("{PACKAGE}.Kind"))
        .expect("Kind in the proto");
    let enums: Vec<_> = pool
        .all_enums()
        .filter(|e| e.package_name() == PACKAGE)
        .map(|e| e.name().to_string())
        .collect();
    assert_eq!(enums, ["Kind"], "every enum of the proto is checked here");
    let numbers: BTreeSet<i32> = e.values().map(|v| v.number()).collect();
    for v in e.values() {
        let rust = EntryKind::try_from(v.number())
            .unwrap_or_else(|_| panic!("{} = {} missing in Rust", v.name(), v.number()));
        assert_eq!(format!("{rust:?}"), rust_variant(e.name(), v.name()));
    }
    for n in -1..=numbers.last().copied().unwrap_or(0) + 2 {
        assert_eq!(
            EntryKind::try_from(n).is_ok(),
            numbers.contains(&n),
            "Rust Kind has {n} but the proto does not (or the reverse)"
        );
    }
}

/// The README shows the schema; the copy there is the file, byte for byte.
#[test]
fn the_readme_shows_the_proto_file() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let proto = std::fs::read_to_string(root.join("proto/janus_sync.proto")).unwrap();
    let readme = std::fs::read_to_string(root.join("../README.md")).unwrap();
    let (_, after) = readme
        .split_once("```protobuf\n")
        .expect("the README has a protobuf block");
    let (shown, _) = after.split_once("```\n").expect("the block ends");
    assert_eq!(
        shown, proto,
        "the README's copy of janus_sync.proto differs from the file"
    );
}
