//! `janus`: the command line of Janus for Rust. See `janus --help`.

#![forbid(unsafe_code)]

use clap::Parser;

/// mimalloc, not the system allocator: code generation allocates and frees
/// many small pieces on several threads, where glibc's allocator spent a
/// third of `janus generate`'s time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    janus_cli::run(janus_cli::Cli::parse())
}
