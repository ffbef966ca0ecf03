//! A brand-new crate built from the workspace README alone compiles and runs.
//!
//! The test creates a crate outside the workspace whose `Cargo.toml` holds
//! exactly the `toml` blocks of the README's quick start (the `janus-*` lines
//! turned into path dependencies on this workspace), copies the manifest the
//! README's `janus!("manifest.json")` reads, puts every `rust` block of the
//! README into the crate, builds it offline with the workspace's `Cargo.lock`
//! and runs each program. A snippet that needs a dependency the README does
//! not list, or a feature it does not name, fails here.
//!
//! The only edit made to the snippets is the socket paths: `/tmp/NAME.sock`
//! becomes a path in a fresh temporary directory, so runs never collide.
//! The crate's binaries go to a target directory of their own under the
//! workspace's `target/`; its intermediate artifacts go to the workspace's
//! build directory (`CARGO_BUILD_BUILD_DIR`), so every dependency it shares
//! with the workspace at the same features is compiled once, not twice.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One fenced block of the README: its info string and its text.
struct Block {
    info: String,
    text: String,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Every fenced code block of `markdown`, in order.
fn fenced_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    for line in markdown.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(info)) => {
                current = Some(Block {
                    info: info.trim().to_owned(),
                    text: String::new(),
                });
            }
            (Some(_), Some(rest)) if rest.trim().is_empty() => {
                blocks.extend(current.take());
            }
            (Some(block), _) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(
        current.is_none(),
        "README.md has an unterminated code block"
    );
    blocks
}

/// The language of a block: `rust,no_run` → `rust`.
fn language(block: &Block) -> &str {
    block.info.split(',').next().unwrap_or("").trim()
}

/// The file a block names in its first line (`// build.rs`, `// src/lib.rs —
/// …`, `# Cargo.toml`), if it names one.
fn named_file(block: &Block) -> Option<&str> {
    let first = block.text.lines().next()?;
    let rest = first
        .strip_prefix("// ")
        .or_else(|| first.strip_prefix("# "))?;
    let name = rest.split_whitespace().next()?.trim_end_matches(',');
    let known = name.ends_with(".rs") || name == "Cargo.toml";
    known.then_some(name).filter(|name| !name.contains(".."))
}

/// `janus-runtime = "0.1"` → `janus-runtime = { version = "0.1", path = "…" }`;
/// every other line unchanged.
fn path_dependencies(toml: &str, root: &Path) -> String {
    let mut out = String::new();
    for line in toml.lines() {
        let rewritten = line.split_once(" = ").and_then(|(name, version)| {
            let name = name.trim();
            let local = root.join(name);
            (name.starts_with("janus-") && version.starts_with('"') && local.is_dir()).then(|| {
                format!(
                    "{name} = {{ version = {version}, path = {:?} }}",
                    local.display().to_string()
                )
            })
        });
        writeln!(out, "{}", rewritten.as_deref().unwrap_or(line)).unwrap();
    }
    out
}

/// Replaces every `"/tmp/NAME.sock"` literal by a path inside `dir`.
fn private_socket_paths(code: &str, dir: &Path) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(start) = rest.find("\"/tmp/") {
        let after = &rest[start + "\"/tmp/".len()..];
        let end = after
            .find('"')
            .expect("a socket path literal is terminated");
        let name = &after[..end];
        out.push_str(&rest[..start]);
        write!(out, "{:?}", dir.join(name).display().to_string()).unwrap();
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn a_new_crate_built_from_the_readme_alone_compiles_and_runs() {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let blocks = fenced_blocks(&readme);

    let krate = tempfile::Builder::new()
        .prefix("janus-readme-crate-")
        .tempdir()
        .expect("a temporary directory");
    let sockets = tempfile::Builder::new()
        .prefix("janus-readme-sockets-")
        .tempdir()
        .expect("a temporary directory");
    std::fs::create_dir_all(krate.path().join("src/bin")).unwrap();

    // Cargo.toml: a package header, then every `toml` block naming Cargo.toml.
    let mut cargo_toml = String::from(
        "[package]\nname = \"readme-crate\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n",
    );
    let mut sections = Vec::new();
    for block in blocks.iter().filter(|b| language(b) == "toml") {
        if named_file(block) == Some("Cargo.toml") {
            cargo_toml.push_str(&path_dependencies(&block.text, &root));
            cargo_toml.push('\n');
            sections.extend(
                block
                    .text
                    .lines()
                    .filter(|l| l.starts_with('['))
                    .map(str::to_owned),
            );
        }
    }
    assert!(
        sections.iter().any(|s| s == "[dependencies]")
            && sections.iter().any(|s| s == "[build-dependencies]"),
        "the README's Cargo.toml blocks name [dependencies] and [build-dependencies]; found {sections:?}"
    );
    std::fs::write(krate.path().join("Cargo.toml"), cargo_toml).unwrap();

    // The same toolchain and the same dependency versions as the workspace:
    // the build runs offline.
    for file in ["rust-toolchain.toml", "Cargo.lock"] {
        std::fs::copy(root.join(file), krate.path().join(file)).unwrap();
    }
    // The manifest the README's `janus!("manifest.json")` reads in the doctests.
    std::fs::copy(
        root.join("tests/manifest.json"),
        krate.path().join("manifest.json"),
    )
    .unwrap();

    // Every rust block goes somewhere: into the file it names, or, when it is
    // a whole program, into its own binary.
    let mut programs = Vec::new();
    for (index, block) in blocks.iter().filter(|b| language(b) == "rust").enumerate() {
        let path = match named_file(block) {
            Some(name) => name.to_owned(),
            None => {
                assert!(
                    block.text.contains("fn main("),
                    "README rust block {index} neither names its file nor is a program:\n{}",
                    block.text
                );
                let name = format!("readme_{index}");
                // A program that starts no server of its own talks to a peer
                // the README does not start: it is built, not run.
                if block.text.contains("Server") {
                    programs.push(name.clone());
                }
                format!("src/bin/{name}.rs")
            }
        };
        let target = krate.path().join(&path);
        assert!(
            !target.exists(),
            "two README blocks are both {path}; give each its own file"
        );
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(&target, private_socket_paths(&block.text, sockets.path())).unwrap();
    }
    assert!(
        programs.len() >= 2,
        "the README's janus! and hand-written programs are both built; found {programs:?}"
    );
    if !krate.path().join("src/lib.rs").exists() {
        std::fs::write(krate.path().join("src/lib.rs"), "").unwrap();
    }

    let workspace_target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let build_dir = std::env::var_os("CARGO_BUILD_BUILD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_target.clone());
    let target_dir = workspace_target.join("tests/fresh-crate");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let build = Command::new(&cargo)
        .args(["build", "--offline", "--quiet", "--bins"])
        .current_dir(krate.path())
        .env("CARGO_TARGET_DIR", &target_dir)
        // Intermediate artifacts go to the workspace's build directory: the
        // dependencies this crate shares with the workspace, at the same
        // features, are not compiled again. Its binaries stay in its own
        // target directory.
        .env("CARGO_BUILD_BUILD_DIR", &build_dir)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    assert!(
        build.status.success(),
        "the crate made from the README does not build:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );

    for program in &programs {
        let binary = target_dir.join("debug").join(program);
        let run = Command::new(&binary).output().expect("the program starts");
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success() && !stdout.trim().is_empty(),
            "README program {program} failed ({}):\nstdout: {stdout}\nstderr: {}",
            run.status,
            String::from_utf8_lossy(&run.stderr)
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(sockets.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert!(
        leftovers.is_empty(),
        "the README programs left socket files behind: {leftovers:?}"
    );
}

#[test]
fn path_dependencies_rewrite_only_workspace_crates() {
    let root = workspace_root();
    let toml = "[dependencies]\njanus-runtime = \"0.1\"\ntokio = { version = \"1\" }\njanus-nothing = \"1\"\n";
    let out = path_dependencies(toml, &root);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "[dependencies]");
    assert!(
        lines[1].starts_with("janus-runtime = { version = \"0.1\", path = ")
            && lines[1].ends_with("janus-runtime\" }"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "tokio = { version = \"1\" }");
    assert_eq!(lines[3], "janus-nothing = \"1\"");
}

#[test]
fn socket_paths_move_into_the_private_directory() {
    let code = r#"Server::bind("/tmp/users.sock")?; Client::connect("/tmp/users.sock")"#;
    let out = private_socket_paths(code, Path::new("/tmp/x-1"));
    assert_eq!(
        out,
        r#"Server::bind("/tmp/x-1/users.sock")?; Client::connect("/tmp/x-1/users.sock")"#
    );
}
