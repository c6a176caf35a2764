//! A test that skips for want of a prerequisite says so in `cargo test`'s normal output, not
//! only with `--nocapture`, and fails under CI (`linger_check::skip`). Pinned by running this
//! binary's `skips_on_purpose` as `cargo test` runs a test: output captured by libtest.

use std::process::{Command, Output};

const REASON: &str = "a prerequisite this test made up is missing";

#[test]
#[ignore = "skips on purpose: run by the tests below"]
fn skips_on_purpose() {
    linger_check::skip::because(REASON);
}

/// Runs `skips_on_purpose` alone, with `CI=true` or without `CI`.
fn skipping_test(ci: bool) -> Output {
    let mut command = Command::new(std::env::current_exe().expect("the test binary's path"));
    command.args(["skips_on_purpose", "--exact", "--ignored"]);
    if ci {
        command.env("CI", "true");
    } else {
        command.env_remove("CI");
    }
    command.output().expect("the test binary runs")
}

#[test]
fn a_skip_names_the_test_and_its_reason_in_the_normal_output() {
    let output = skipping_test(false);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("SKIPPED skips_on_purpose: {REASON}\n")),
        "the skip is not shown:\n{stdout}{stderr}"
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
}

#[test]
fn a_skip_fails_under_ci() {
    let output = skipping_test(true);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stdout.contains("skips_on_purpose cannot run under CI"),
        "{stdout}"
    );
}

/// How a piece of test code skips other than through `linger_check::skip`, if it does: a
/// printed line that speaks of skipping (libtest hides it behind the test's `ok`), or, in a
/// test function, a print followed at once by a `return` (a skip, whatever the words).
fn hand_made_skips(source: &str) -> Vec<String> {
    let code = without_comments(source);
    let mut found = Vec::new();
    for (at, call) in print_calls(&code) {
        let line = code[..at].lines().count();
        if call.to_lowercase().contains("skip") {
            found.push(format!("line {line}: prints a skip: {}", call.trim()));
        }
        let after = code[at + call.len()..].trim_start();
        if after.starts_with("return") && in_a_test(&code, at) {
            found.push(format!("line {line}: prints, then returns from the test"));
        }
    }
    found
}

/// `source` with its comments and raw strings (`r#"..."#`, sample code in tests like the ones
/// below) cut out, so that prose and samples are not taken for code.
fn without_comments(source: &str) -> String {
    let mut code = String::new();
    let mut rest = source;
    while let Some(start) = rest.find("r#\"") {
        code.push_str(&rest[..start]);
        let end = rest[start..]
            .find("\"#")
            .map_or(rest.len(), |end| start + end + 2);
        // The line breaks stay, so that a line number still points into `source`.
        code.extend(rest[start..end].matches('\n'));
        rest = &rest[end..];
    }
    code.push_str(rest);
    code.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each call of a print macro in `code`: where it starts, and its text up to the `;` after
/// its closing parenthesis.
fn print_calls(code: &str) -> Vec<(usize, &str)> {
    let mut calls = Vec::new();
    for (at, _) in code.match_indices("print") {
        let before = code[..at].chars().next_back();
        let start = if before == Some('e') { at - 1 } else { at };
        let named = ["eprintln!(", "eprint!(", "println!(", "print!("]
            .iter()
            .any(|name| code[start..].starts_with(name));
        let boundary = code[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric() && c != '_');
        if !(named && boundary) || calls.iter().any(|&(other, _)| other == start) {
            continue;
        }
        let mut depth = 0;
        for (offset, c) in code[start..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                ';' if depth == 0 => {
                    calls.push((start, &code[start..=start + offset]));
                    break;
                }
                _ => {}
            }
        }
    }
    calls
}

/// Whether `at` lies in the body of a function marked as a test (`#[test]`, `#[tokio::test]`).
fn in_a_test(code: &str, at: usize) -> bool {
    let Some(function) = code[..at].rfind("fn ") else {
        return false;
    };
    let attributes = code[..function].trim_end();
    let last_item = attributes.rfind(['}', ';']).map_or(0, |end| end + 1);
    let preamble = &attributes[last_item..];
    preamble.contains("#[test]") || preamble.contains("::test")
}

/// Every Rust file of the repository's crates, but the build output, `fuzz/` (a workspace
/// of its own whose targets are harnesses) and `linger_check::skip` itself.
fn rust_files(directory: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" || name == "fuzz" {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, found);
        } else if name.ends_with(".rs") && !path.ends_with("tests/src/skip.rs") {
            found.push(path);
        }
    }
}

#[test]
fn no_test_in_the_workspace_skips_but_through_linger_check_skip() {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().unwrap_or(manifest);
    let mut files = Vec::new();
    rust_files(root, &mut files);
    assert!(files.len() > 50, "found only {} Rust files", files.len());
    let offences: Vec<String> = files
        .iter()
        .flat_map(|path| {
            let source = std::fs::read_to_string(path).unwrap_or_default();
            hand_made_skips(&source).into_iter().map(move |offence| {
                let shown = path.strip_prefix(root).unwrap_or(path);
                format!("{}: {offence}", shown.display())
            })
        })
        .collect();
    assert!(
        offences.is_empty(),
        "skip through linger_check::skip::because or ::unless, which CI refuses and cargo \
         test shows:\n{}",
        offences.join("\n")
    );
}

#[test]
fn a_printed_skip_and_a_print_then_return_in_a_test_are_found_and_skip_because_is_not() {
    let printed = r#"
fn prerequisite() -> bool {
    eprintln!("skipped: not root");
    false
}
"#;
    assert_eq!(hand_made_skips(printed).len(), 1, "{printed}");
    let returned = r#"
#[test]
fn needs_root() {
    if !is_root() {
        println!("{}", "needs root");
        return;
    }
}
"#;
    assert_eq!(
        hand_made_skips(returned),
        ["line 5: prints, then returns from the test"]
    );
    let through_skip = r#"
#[tokio::test]
async fn needs_curl() {
    let Some(curl) = skip::unless(curl()) else {
        return;
    };
    // eprintln!("skipped"); a comment is no code
    println!("got {curl}");
}

fn main() {
    eprintln!("usage");
    return;
}
"#;
    assert!(hand_made_skips(through_skip).is_empty());
}
