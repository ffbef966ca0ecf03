//! `janus`: the command line of Janus for Rust. See `janus --help`.

#![forbid(unsafe_code)]

use clap::Parser;

fn main() -> std::process::ExitCode {
    janus_cli::run(janus_cli::Cli::parse())
}
