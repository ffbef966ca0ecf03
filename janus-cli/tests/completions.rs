//! `janus completions SHELL`, run as a process; the bash script is loaded
//! into a real bash and asked to complete.

mod common;

use std::process::Command;

use common::janus_run;

#[test]
fn every_shell_gets_a_script_naming_the_subcommands() {
    for (shell, marker) in [
        ("bash", "complete -F _janus"),
        ("zsh", "#compdef janus"),
        ("fish", "complete -c janus"),
        ("elvish", "edit:completion:arg-completer[janus]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = janus_run(&["completions", shell]).expect_code(0);
        assert!(
            out.stdout.contains(marker),
            "{shell}: no `{marker}` in the script:\n{}",
            out.stdout
        );
        for subcommand in [
            "check",
            "generate",
            "docs",
            "call",
            "serve",
            "ping",
            "bench",
            "completions",
        ] {
            assert!(
                out.stdout.contains(subcommand),
                "{shell}: the script does not know `{subcommand}`"
            );
        }
        assert!(out.stderr.is_empty(), "{shell}: {}", out.stderr);
    }
}

/// Loads the bash script into bash and completes `janus WORDS…` at the last
/// word; the candidates, one per line.
fn bash_complete(words: &[&str]) -> Vec<String> {
    let script = janus_run(&["completions", "bash"]).expect_code(0).stdout;
    let dir = common::temp_dir();
    let path = dir.path().join("janus.bash");
    std::fs::write(&path, script).unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source {path:?} || exit 9\n\
         COMP_WORDS=(janus {words}); COMP_CWORD={cword}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}\n\
         _janus janus \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        words = quoted.join(" "),
        cword = words.len(),
    );
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "bash failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_options() {
    let subcommands = bash_complete(&["c"]);
    for expected in ["check", "call", "completions"] {
        assert!(
            subcommands.iter().any(|c| c == expected),
            "`janus c<TAB>` offers {subcommands:?}"
        );
    }
    assert!(!subcommands.iter().any(|c| c == "ping"), "{subcommands:?}");

    let options = bash_complete(&["call", "--ti"]);
    assert_eq!(options, ["--timeout"], "`janus call --ti<TAB>`");

    let shells = bash_complete(&["completions", ""]);
    for expected in ["bash", "zsh", "fish"] {
        assert!(
            shells.iter().any(|c| c == expected),
            "`janus completions <TAB>` offers {shells:?}"
        );
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error_naming_the_shells() {
    let out = janus_run(&["completions", "tcsh"]).expect_code(2);
    assert!(
        out.stderr.contains("tcsh") && out.stderr.contains("bash"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
}
