//! The READMEs work as a newcomer reads them (the repository's and each workspace crate's):
//!
//! - every shell command they and `docs/` give (in `sh`, `bash`, `shell` and `console`
//!   blocks, and in inline code that starts with `cargo` or runs an example's binary under
//!   `target/`) is parsed as the shell would, and each `cargo` command names packages,
//!   examples, tests, benches and binaries that exist, with every feature they require
//!   (`required-features`, read with `cargo metadata`) enabled by the command; each program
//!   it runs by path (a script, an example's binary) exists;
//! - every example a README names in inline code comes with a command that runs it;
//! - every Rust snippet is compiled: none is `ignore`d, in the READMEs, in `docs/` and in the
//!   workspace crates' doc comments, and each README and document with Rust in it is a
//!   doctest of `linger_check` (`tests/src/lib.rs`) or, where it needs every framework and
//!   TLS, of `linger_stacks` (`tests/stacks/src/lib.rs`).
//!
//! The checks read whatever the READMEs hold, so a command or example added later is checked
//! as it lands.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A target of a workspace package: its name, kinds (`lib`, `bin`, `example`, `test`,
/// `bench`) and required features.
#[derive(Debug)]
struct Target {
    name: String,
    kinds: Vec<String>,
    required_features: Vec<String>,
}

/// A workspace package, as `cargo metadata` describes it.
#[derive(Debug)]
struct Package {
    name: String,
    manifest_path: PathBuf,
    features: BTreeMap<String, Vec<String>>,
    targets: Vec<Target>,
    default_run: Option<String>,
}

/// A cargo workspace: where it is, and its members.
#[derive(Debug)]
struct Workspace {
    root: PathBuf,
    members: Vec<Package>,
}

impl Workspace {
    /// The workspace of `manifest` (the repository's when `None`), from `cargo metadata`.
    fn load(manifest: Option<&Path>) -> Result<Workspace, String> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .current_dir(repository());
        if let Some(manifest) = manifest {
            command.arg("--manifest-path").arg(manifest);
        }
        let output = command
            .output()
            .map_err(|error| format!("cargo: {error}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        let metadata: Value = serde_json::from_slice(&output.stdout)
            .map_err(|error| format!("cargo metadata: {error}"))?;
        let members: BTreeSet<&str> = strings(&metadata["workspace_members"]).collect();
        let packages = metadata["packages"].as_array().into_iter().flatten();
        Ok(Workspace {
            root: PathBuf::from(metadata["workspace_root"].as_str().unwrap_or_default()),
            members: packages
                .filter(|package| members.contains(package["id"].as_str().unwrap_or_default()))
                .map(Package::from_metadata)
                .collect(),
        })
    }

    fn package(&self, name: &str) -> Option<&Package> {
        self.members.iter().find(|package| package.name == name)
    }
}

impl Package {
    fn from_metadata(package: &Value) -> Package {
        let features = package["features"].as_object().into_iter().flatten();
        let targets = package["targets"].as_array().into_iter().flatten();
        Package {
            name: package["name"].as_str().unwrap_or_default().into(),
            manifest_path: package["manifest_path"].as_str().unwrap_or_default().into(),
            features: features
                .map(|(name, enables)| (name.clone(), strings(enables).map(String::from).collect()))
                .collect(),
            targets: targets
                .map(|target| Target {
                    name: target["name"].as_str().unwrap_or_default().into(),
                    kinds: strings(&target["kind"]).map(String::from).collect(),
                    required_features: strings(&target["required-features"])
                        .map(String::from)
                        .collect(),
                })
                .collect(),
            default_run: package["default_run"].as_str().map(String::from),
        }
    }

    fn target(&self, kind: &str, name: &str) -> Option<&Target> {
        self.targets
            .iter()
            .find(|target| target.name == name && target.kinds.iter().any(|k| k == kind))
    }

    /// The features `explicit` enables with the defaults (unless `no_default`), and every
    /// feature they enable in turn; `dep/feature` entries kept as they are written.
    fn enabled(&self, explicit: &BTreeSet<String>, no_default: bool) -> BTreeSet<String> {
        let mut pending: Vec<String> = explicit.iter().cloned().collect();
        if !no_default && self.features.contains_key("default") {
            pending.push("default".into());
        }
        let mut enabled = BTreeSet::new();
        while let Some(feature) = pending.pop() {
            if !enabled.insert(feature.clone()) {
                continue;
            }
            for item in self.features.get(&feature).into_iter().flatten() {
                if !item.starts_with("dep:") {
                    pending.push(item.replace("?/", "/"));
                }
            }
        }
        enabled
    }
}

fn strings(value: &Value) -> impl Iterator<Item = &str> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// The repository's root.
fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What a Markdown file holds that can be checked.
#[derive(Debug, Default)]
struct Markdown {
    /// Each shell command, with the line its block or paragraph starts on.
    commands: Vec<(usize, Vec<String>)>,
    /// The inline code outside code blocks.
    code_spans: Vec<String>,
    /// The info string of each code block that rustdoc compiles as Rust, with its line.
    rust_snippets: Vec<(usize, String)>,
}

/// Languages whose blocks hold shell commands; `console` ones prefix each with `$ `.
const SHELLS: [&str; 4] = ["sh", "bash", "shell", "console"];

impl Markdown {
    fn parse(markdown: &str) -> Markdown {
        let mut readme = Markdown::default();
        let mut fence: Option<(usize, String, String)> = None;
        let mut paragraph: Option<(usize, String)> = None;
        for (index, line) in markdown.lines().enumerate() {
            let number = index + 1;
            let trimmed = line.trim_start();
            match &mut fence {
                Some((start, info, body)) if trimmed.starts_with("```") => {
                    readme.add_block(*start, info, body);
                    fence = None;
                }
                Some((_, _, body)) => {
                    body.push_str(line);
                    body.push('\n');
                }
                None if trimmed.starts_with("```") => {
                    readme.add_paragraph(paragraph.take());
                    let info = trimmed.trim_start_matches('`').trim().to_string();
                    fence = Some((number, info, String::new()));
                }
                None if trimmed.is_empty() => readme.add_paragraph(paragraph.take()),
                None => {
                    let (_, text) = paragraph.get_or_insert((number, String::new()));
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
        readme.add_paragraph(paragraph);
        readme
    }

    fn add_block(&mut self, start: usize, info: &str, body: &str) {
        let tokens: Vec<&str> = info
            .split([',', ' '])
            .filter(|token| !token.is_empty())
            .collect();
        let language = tokens.first().copied().unwrap_or_default();
        if SHELLS.contains(&language) {
            let script = if language == "console" {
                console_commands(body)
            } else {
                body.to_string()
            };
            let commands = shell_commands(&script).into_iter();
            self.commands
                .extend(commands.map(|command| (start, command)));
        } else if is_rust(&tokens) {
            self.rust_snippets.push((start, info.to_string()));
        }
    }

    fn add_paragraph(&mut self, paragraph: Option<(usize, String)>) {
        let Some((start, text)) = paragraph else {
            return;
        };
        let spans = text.split('`').skip(1).step_by(2);
        for span in spans.map(|span| span.split_whitespace().collect::<Vec<_>>().join(" ")) {
            let command = shell_commands(&span);
            if let [words] = &command[..]
                && let Some(first) = program(words).map(|at| &words[at])
                && (first == "cargo"
                    || first.starts_with("target/") && first.contains("/examples/"))
            {
                self.commands.push((start, words.clone()));
            }
            self.code_spans.push(span);
        }
    }
}

/// Whether rustdoc compiles a block with these info tokens as Rust: no language, or Rust, or
/// only rustdoc's attributes.
fn is_rust(tokens: &[&str]) -> bool {
    const RUSTDOC: [&str; 7] = [
        "rust",
        "ignore",
        "no_run",
        "should_panic",
        "compile_fail",
        "edition2021",
        "edition2024",
    ];
    tokens.first().is_none_or(|first| RUSTDOC.contains(first))
}

/// The commands of a `console` block: its lines that start with `$ `, and their continuation
/// lines.
fn console_commands(body: &str) -> String {
    let mut script = String::new();
    let mut continued = false;
    for line in body.lines() {
        if let Some(command) = line.strip_prefix("$ ").or(continued.then_some(line)) {
            script.push_str(command);
            script.push('\n');
            continued = command.ends_with('\\');
        }
    }
    script
}

/// The commands of a shell script, each as its words: quotes removed, continued lines
/// joined, comments and redirections left out, split at `;`, `&`, `|` and newlines.
fn shell_commands(script: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word: Option<String> = None;
    let mut redirected = false;
    let mut chars = script.chars().peekable();
    let finish = |word: &mut Option<String>, words: &mut Vec<String>, redirected: &mut bool| {
        if let Some(word) = word.take()
            && !std::mem::take(redirected)
        {
            words.push(word);
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\n') | None => {}
                Some(escaped) => word.get_or_insert_default().push(escaped),
            },
            '\'' => {
                let word = word.get_or_insert_default();
                word.extend(chars.by_ref().take_while(|&q| q != '\''));
            }
            '"' => {
                let word = word.get_or_insert_default();
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => word.extend(chars.next().filter(|&e| e != '\n')),
                        _ => word.push(q),
                    }
                }
            }
            '#' if word.is_none() => while chars.next_if(|&n| n != '\n').is_some() {},
            '>' | '<' => {
                // `2>&1`, `> file`: the descriptor before and the target after are no words.
                if word
                    .as_deref()
                    .is_some_and(|w| w.bytes().all(|b| b.is_ascii_digit()))
                {
                    word = None;
                }
                finish(&mut word, &mut words, &mut redirected);
                while chars.next_if(|&n| matches!(n, '>' | '&' | ' ')).is_some() {}
                redirected = true;
            }
            ' ' | '\t' => finish(&mut word, &mut words, &mut redirected),
            '\n' | ';' | '&' | '|' => {
                finish(&mut word, &mut words, &mut redirected);
                redirected = false;
                if !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            _ => word.get_or_insert_default().push(c),
        }
    }
    finish(&mut word, &mut words, &mut redirected);
    if !words.is_empty() {
        commands.push(words);
    }
    commands
}

/// Where the program a command runs stands in `words`: the first word past variable
/// assignments and `time`, `sudo` or `env`.
fn program(words: &[String]) -> Option<usize> {
    words.iter().position(|word| {
        let assignment = word.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
        });
        !assignment && !matches!(word.as_str(), "time" | "sudo" | "env")
    })
}

/// What a `cargo` command selects.
#[derive(Debug, Default)]
struct CargoCommand {
    subcommand: String,
    manifest: Option<PathBuf>,
    packages: Vec<String>,
    /// `(kind, name)`: `--example X` is `("example", X)`.
    targets: Vec<(&'static str, String)>,
    features: BTreeSet<String>,
    all_features: bool,
    no_default_features: bool,
}

/// Options of cargo's build commands that take a value.
const WITH_VALUE: [&str; 21] = [
    "-p",
    "--package",
    "--exclude",
    "-F",
    "--features",
    "--bin",
    "--example",
    "--test",
    "--bench",
    "--target",
    "--target-dir",
    "--manifest-path",
    "--profile",
    "-j",
    "--jobs",
    "--message-format",
    "--color",
    "--config",
    "-Z",
    "-C",
    "--lockfile-path",
];

/// The subcommands that build targets of the workspace.
const BUILDING: [&str; 9] = [
    "run", "test", "build", "bench", "check", "clippy", "doc", "rustc", "rustdoc",
];

impl CargoCommand {
    /// `words` after `cargo`, up to the `--` that starts the program's own arguments.
    fn parse(words: &[String]) -> CargoCommand {
        let mut command = CargoCommand::default();
        let mut words = words.iter().filter(|word| !word.starts_with('+'));
        while let Some(word) = words.next() {
            if word == "--" {
                break;
            }
            let (option, inline) = match word.split_once('=') {
                Some((option, value)) if option.starts_with('-') => (option, Some(value.into())),
                _ => (word.as_str(), None),
            };
            let value = if WITH_VALUE.contains(&option) {
                inline.or_else(|| words.next().cloned())
            } else {
                None
            };
            match (option, value) {
                ("-p" | "--package", Some(package)) => {
                    let name = package.split('@').next().unwrap_or_default();
                    command.packages.push(name.into());
                }
                ("--manifest-path", Some(path)) => command.manifest = Some(path.into()),
                ("-F" | "--features", Some(features)) => command.features.extend(
                    features
                        .split([',', ' '])
                        .filter(|feature| !feature.is_empty())
                        .map(String::from),
                ),
                ("--example", Some(name)) => command.targets.push(("example", name)),
                ("--test", Some(name)) => command.targets.push(("test", name)),
                ("--bench", Some(name)) => command.targets.push(("bench", name)),
                ("--bin", Some(name)) => command.targets.push(("bin", name)),
                ("--all-features", _) => command.all_features = true,
                ("--no-default-features", _) => command.no_default_features = true,
                (subcommand, _)
                    if command.subcommand.is_empty() && !subcommand.starts_with('-') =>
                {
                    command.subcommand = subcommand.into();
                }
                _ => {}
            }
        }
        command
    }

    /// What would make cargo refuse the command in `workspace`, or `None`.
    fn problem(&self, workspace: &Workspace) -> Option<String> {
        if !BUILDING.contains(&self.subcommand.as_str()) {
            return None;
        }
        let mut candidates = Vec::new();
        for name in &self.packages {
            match workspace.package(name) {
                Some(package) => candidates.push(package),
                None => return Some(format!("no package {name} in the workspace")),
            }
        }
        if candidates.is_empty() {
            candidates.extend(&workspace.members);
        }
        for (kind, name) in &self.targets {
            let owners: Vec<&Package> = candidates
                .iter()
                .copied()
                .filter(|package| package.target(kind, name).is_some())
                .collect();
            match owners[..] {
                [] => return Some(format!("no {kind} {name} in {}", names(&candidates))),
                [_, _, ..] if self.subcommand == "run" => {
                    return Some(format!("{kind} {name} is in {}: add -p", names(&owners)));
                }
                _ => {}
            }
            for package in owners {
                let problem = package
                    .target(kind, name)
                    .and_then(|target| self.missing_features(package, target));
                if problem.is_some() {
                    return problem;
                }
            }
        }
        if self.subcommand == "run" && self.targets.is_empty() {
            let [package] = candidates[..] else {
                return Some("cargo run needs -p or a target to run".into());
            };
            let bins = package
                .targets
                .iter()
                .filter(|t| t.kinds.iter().any(|k| k == "bin"));
            if package.default_run.is_none() && bins.count() != 1 {
                return Some(format!("{} has no single binary to run", package.name));
            }
        }
        None
    }

    /// The features `target` of `package` requires that the command does not enable, or a
    /// feature the command names that the package does not have.
    fn missing_features(&self, package: &Package, target: &Target) -> Option<String> {
        if self.all_features {
            return None;
        }
        let mut explicit = BTreeSet::new();
        for feature in &self.features {
            match feature.split_once('/') {
                Some((owner, feature)) if owner == package.name => {
                    explicit.insert(feature.to_string())
                }
                Some(_) => explicit.insert(feature.clone()),
                None if package.features.contains_key(feature) => explicit.insert(feature.clone()),
                None => return Some(format!("{} has no feature {feature}", package.name)),
            };
        }
        let enabled = package.enabled(&explicit, self.no_default_features);
        let missing: Vec<&String> = target
            .required_features
            .iter()
            .filter(|feature| !enabled.contains(*feature))
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "{} {} requires the features {missing:?}: add --features",
                target.kinds.join("/"),
                target.name
            )
        })
    }
}

fn names(packages: &[&Package]) -> String {
    let names: Vec<&str> = packages
        .iter()
        .map(|package| package.name.as_str())
        .collect();
    names.join(", ")
}

/// The checks of one README's commands, against the repository's workspace and any other
/// a command names with `--manifest-path`.
struct Checker {
    workspaces: BTreeMap<Option<PathBuf>, Result<Workspace, String>>,
}

impl Checker {
    fn new(workspace: Workspace) -> Checker {
        Checker {
            workspaces: BTreeMap::from([(None, Ok(workspace))]),
        }
    }

    fn workspace(&mut self, manifest: Option<PathBuf>) -> Result<&Workspace, String> {
        let workspace = self
            .workspaces
            .entry(manifest.clone())
            .or_insert_with(|| Workspace::load(manifest.as_deref()));
        workspace.as_ref().map_err(Clone::clone)
    }

    /// What would fail in `words`, as a newcomer runs them from the repository's root.
    fn problem(&mut self, words: &[String]) -> Option<String> {
        let at = program(words)?;
        let (first, arguments) = (&words[at], &words[at + 1..]);
        if first == "cargo" {
            let command = CargoCommand::parse(arguments);
            return match self.workspace(command.manifest.clone()) {
                Ok(workspace) => command.problem(workspace),
                Err(error) => Some(format!("cargo metadata failed: {error}")),
            };
        }
        let root = self.workspace(None).ok()?.root.clone();
        let script = match first.as_str() {
            // `python3 -c CODE` runs no file.
            "python3" | "python" | "bash" | "sh" if arguments.iter().any(|a| a == "-c") => None,
            "python3" | "python" | "bash" | "sh" => arguments.iter().find(|a| !a.starts_with('-')),
            _ => Some(first),
        };
        let script = script.filter(|path| path.contains('/') && !path.starts_with('/'))?;
        if let Some(built) = script.strip_prefix("target/") {
            return self.built_target_problem(built);
        }
        let path = root.join(script);
        let runnable = std::fs::metadata(&path).is_ok_and(|metadata| {
            use std::os::unix::fs::PermissionsExt;
            script != first || metadata.permissions().mode() & 0o111 != 0
        });
        (!runnable).then(|| format!("{script} does not exist or is not executable"))
    }

    /// A binary under `target/`: `PROFILE/examples/NAME` or `PROFILE/NAME` names a target.
    fn built_target_problem(&mut self, built: &str) -> Option<String> {
        let parts: Vec<&str> = built.split('/').collect();
        let (kind, name) = match parts[..] {
            [_, "examples", name] => ("example", name),
            [_, name] => ("bin", name),
            _ => return Some(format!("target/{built} is no binary cargo builds")),
        };
        let workspace = self.workspace(None).ok()?;
        let found = workspace
            .members
            .iter()
            .any(|p| p.target(kind, name).is_some());
        (!found).then(|| format!("target/{built}: no {kind} {name} in the workspace"))
    }
}

/// The repository's README and each workspace crate's, with their paths from the root.
fn readmes(workspace: &Workspace) -> Vec<(String, String)> {
    let crates = workspace.members.iter().filter_map(|package| {
        let readme = package.manifest_path.parent()?.join("README.md");
        let path = readme.strip_prefix(&workspace.root).ok()?;
        readme
            .is_file()
            .then(|| path.to_string_lossy().into_owned())
    });
    read(workspace, std::iter::once("README.md".into()).chain(crates))
}

/// The Markdown files of `docs/`, with their paths from the root.
fn docs(workspace: &Workspace) -> Vec<(String, String)> {
    let entries = std::fs::read_dir(workspace.root.join("docs")).expect("docs/");
    let names = entries.filter_map(|entry| entry.ok()?.file_name().into_string().ok());
    let markdown = names.filter(|name| name.ends_with(".md"));
    read(workspace, markdown.map(|name| format!("docs/{name}")))
}

/// Each of `paths`, in order, with its text.
fn read(workspace: &Workspace, paths: impl Iterator<Item = String>) -> Vec<(String, String)> {
    let paths: BTreeSet<String> = paths.collect();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(workspace.root.join(&path))
                .unwrap_or_else(|error| panic!("{path}: {error}"));
            (path, text)
        })
        .collect()
}

fn repository_workspace() -> Workspace {
    Workspace::load(None).expect("cargo metadata describes the workspace")
}

#[test]
fn every_command_in_the_readmes_and_docs_names_what_exists_with_the_features_it_needs() {
    let workspace = repository_workspace();
    let documents = [readmes(&workspace), docs(&workspace)].concat();
    let mut checker = Checker::new(workspace);
    let mut problems = Vec::new();
    let mut checked = 0;
    for (path, text) in &documents {
        for (line, words) in Markdown::parse(text).commands {
            checked += 1;
            if let Some(problem) = checker.problem(&words) {
                problems.push(format!("{path}:{line}: `{}`: {problem}", words.join(" ")));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        checked > 30,
        "only {checked} commands found: the parser lost some"
    );
}

#[test]
fn every_example_a_readme_names_comes_with_a_command_that_runs_it() {
    let workspace = repository_workspace();
    let examples: BTreeSet<&str> = workspace
        .members
        .iter()
        .flat_map(|package| &package.targets)
        .filter(|target| target.kinds.iter().any(|kind| kind == "example"))
        .map(|target| target.name.as_str())
        .collect();
    let mut problems = Vec::new();
    for (path, text) in readmes(&workspace) {
        let readme = Markdown::parse(&text);
        let run: BTreeSet<String> = readme
            .commands
            .iter()
            .flat_map(|(_, words)| examples_run(words))
            .collect();
        for named in readme
            .code_spans
            .iter()
            .filter(|span| examples.contains(span.as_str()))
        {
            if !run.contains(named) {
                problems.push(format!(
                    "{path} names the example {named} without a command"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The examples a command runs: `--example NAME`, or `target/PROFILE/examples/NAME`.
fn examples_run(words: &[String]) -> Vec<String> {
    let flagged = words
        .windows(2)
        .filter(|pair| pair[0] == "--example")
        .map(|pair| pair[1].clone());
    let built = words.iter().filter_map(|word| {
        let rest = word.strip_prefix("target/")?;
        let (_, name) = rest.split_once("/examples/")?;
        Some(name.to_string())
    });
    flagged.chain(built).collect()
}

/// The crates that compile Markdown as doctests, by the file that includes it: linger-check,
/// where every driver is a dependency, and linger-stacks, where every framework and TLS
/// library is.
const DOCTEST_HOSTS: [&str; 2] = ["tests/src/lib.rs", "tests/stacks/src/lib.rs"];

/// How `host` (a path from the root) includes `path` (another): `include_str!("../../path")`.
fn include_of(host: &str, path: &str) -> String {
    let depth = Path::new(host)
        .parent()
        .map_or(0, |dir| dir.components().count());
    format!("include_str!(\"{}{path}\")", "../".repeat(depth))
}

/// Why the Rust snippets of `path` (from the root), whose text is `text`, might not all be
/// compiled: `path` is no doctest of any host (`hosts`: each host's path and source), or a
/// snippet is `ignore`d.
fn uncompiled_snippets(path: &str, text: &str, hosts: &[(&str, String)]) -> Vec<String> {
    let snippets = Markdown::parse(text).rust_snippets;
    let mut problems = Vec::new();
    let included = |(host, source): &(&str, String)| source.contains(&include_of(host, path));
    if !snippets.is_empty() && !hosts.iter().any(included) {
        problems.push(format!("{path} is a doctest of none of {DOCTEST_HOSTS:?}"));
    }
    for (line, info) in snippets.iter().filter(|(_, info)| ignored(info)) {
        problems.push(format!("{path}:{line}: `{info}` is never compiled: no_run"));
    }
    problems
}

/// Whether rustdoc leaves a block with this info string uncompiled.
fn ignored(info: &str) -> bool {
    info.split([',', ' ']).any(|token| token == "ignore")
}

#[test]
fn every_rust_snippet_in_the_readmes_and_docs_is_compiled_as_a_doctest() {
    let workspace = repository_workspace();
    let hosts: Vec<(&str, String)> = DOCTEST_HOSTS
        .iter()
        .map(|host| {
            let source = std::fs::read_to_string(workspace.root.join(host));
            (
                *host,
                source.unwrap_or_else(|error| panic!("{host}: {error}")),
            )
        })
        .collect();
    let documents = [readmes(&workspace), docs(&workspace)].concat();
    let problems: Vec<String> = documents
        .iter()
        .flat_map(|(path, text)| uncompiled_snippets(path, text, &hosts))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_document_whose_rust_no_host_includes_or_that_ignores_a_snippet_is_refused() {
    let host = ("tests/stacks/src/lib.rs", String::new());
    let rust = "```rust,no_run\nlet x = 1;\n```\n";
    assert_eq!(
        uncompiled_snippets("docs/new.md", rust, std::slice::from_ref(&host)).len(),
        1
    );
    let included = (
        host.0,
        format!("#[doc = {}]", include_of(host.0, "docs/new.md")),
    );
    assert!(uncompiled_snippets("docs/new.md", rust, std::slice::from_ref(&included)).is_empty());
    let ignored = "```rust,ignore\nlet x = 1;\n```\n";
    assert_eq!(
        uncompiled_snippets("docs/new.md", ignored, &[included]).len(),
        1
    );
    assert!(uncompiled_snippets("docs/new.md", "```text\nx\n```\n", &[host]).is_empty());
}

/// The doc comments (`///`, `//!`) of `source`, a Rust file, as Markdown, each on the line
/// it stands on in the file (the other lines left empty).
fn doc_comments(source: &str) -> String {
    let mut markdown = String::new();
    for line in source.lines() {
        let line = line.trim_start();
        if let Some(doc) = line
            .strip_prefix("///")
            .or_else(|| line.strip_prefix("//!"))
        {
            markdown.push_str(doc.strip_prefix(' ').unwrap_or(doc));
        }
        markdown.push('\n');
    }
    markdown
}

/// The `.rs` files below `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for path in entries.filter_map(|entry| Some(entry.ok()?.path())) {
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
    files
}

#[test]
fn no_rust_snippet_in_the_rustdoc_of_a_workspace_crate_is_ignored() {
    let workspace = repository_workspace();
    let mut problems = Vec::new();
    let mut snippets = 0;
    for package in &workspace.members {
        let Some(dir) = package.manifest_path.parent() else {
            continue;
        };
        for file in rust_files(&dir.join("src")) {
            let source = std::fs::read_to_string(&file).unwrap_or_default();
            for (line, info) in Markdown::parse(&doc_comments(&source)).rust_snippets {
                snippets += 1;
                if ignored(&info) {
                    let path = file.strip_prefix(&workspace.root).unwrap_or(&file);
                    problems.push(format!(
                        "{}:{line}: `{info}` is never compiled: no_run",
                        path.display()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        snippets > 10,
        "only {snippets} snippets found: the parser lost some"
    );
}

/// A workspace of one package, `app`: example `needs_tls` requires feature `tls`, which
/// `full` enables; binary `app`; test `wire`.
fn made_up_workspace() -> Workspace {
    let target = |name: &str, kind: &str, required: &[&str]| Target {
        name: name.into(),
        kinds: vec![kind.into()],
        required_features: required.iter().map(|f| f.to_string()).collect(),
    };
    Workspace {
        root: repository(),
        members: vec![Package {
            name: "app".into(),
            manifest_path: repository().join("app/Cargo.toml"),
            features: BTreeMap::from([
                ("default".into(), vec![]),
                ("tls".into(), vec!["dep:rustls".into()]),
                ("full".into(), vec!["tls".into()]),
            ]),
            targets: vec![
                target("needs_tls", "example", &["tls"]),
                target("app", "bin", &[]),
                target("wire", "test", &[]),
            ],
            default_run: None,
        }],
    }
}

fn problem_with(command: &str) -> Option<String> {
    let words = shell_commands(command).pop().unwrap_or_default();
    Checker::new(made_up_workspace()).problem(&words)
}

#[test]
fn a_command_is_refused_for_a_missing_target_package_or_feature() {
    for command in [
        "cargo run -p app --example needs_tls",
        "cargo run --release --example needs_tls -- --listen 127.0.0.1:1",
        "cargo run -p app --features tlss --example needs_tls",
        "cargo run -p app --example no_such",
        "cargo run -p nobody --bin app",
        "cargo test -p app --test no_such",
        "cargo bench --bench no_such",
        "time target/release/examples/no_such --slow-link",
        "tests/no_such.sh --fast",
        "python3 benches/no_such.py",
    ] {
        assert!(problem_with(command).is_some(), "{command} passed");
    }
}

#[test]
fn a_command_passes_with_the_features_its_target_requires_however_given() {
    for command in [
        "cargo run -p app --features tls --example needs_tls",
        "cargo run -p app -F full --example needs_tls",
        "cargo run --example needs_tls --features app/tls",
        "cargo run --release --all-features --example=needs_tls -- --strategy linger",
        "cargo run -p app",
        "cargo test -p app --test wire -- --nocapture",
        "CI=true cargo test --workspace",
        "time target/release/examples/needs_tls [--slow-link]",
        ".ci/run",
        "curl -s -o /dev/null http://127.0.0.1:8413/",
        "CARGO_TARGET_DIR=target/loom cargo test -p app --test wire",
        "python3 -c 'import requests, os; print(os.sep + \"/\")'",
    ] {
        assert_eq!(problem_with(command), None, "{command}");
    }
}

#[test]
fn shell_commands_are_split_at_operators_with_continued_lines_joined() {
    let script = "cargo run --example a -- \\\n    --listen 127.0.0.1:1 &\n\
                  head -c 20 /dev/zero > /tmp/upload # a comment\n\
                  curl -H 'Expect:' http://x/ 2>&1; echo \"curl exit $?\" && ls | wc -l\n";
    let words = |text: &str| text.split(' ').map(String::from).collect::<Vec<_>>();
    assert_eq!(
        shell_commands(script),
        vec![
            words("cargo run --example a -- --listen 127.0.0.1:1"),
            words("head -c 20 /dev/zero"),
            vec![
                "curl".into(),
                "-H".into(),
                "Expect:".into(),
                "http://x/".into()
            ],
            vec!["echo".into(), "curl exit $?".into()],
            words("ls"),
            words("wc -l"),
        ]
    );
}

#[test]
fn commands_are_found_in_shell_blocks_console_prompts_and_inline_code() {
    let markdown = "Run `cargo run -p app` or `time target/release/examples/needs_tls`; see\n\
                    `needs_tls`.\n\n```sh\ncargo test\n```\n\n```console\n$ cargo bench \\\n  \
                    --bench b\noutput line\n```\n\n```rust,ignore\nlet x = 1;\n```\n";
    let readme = Markdown::parse(markdown);
    let commands: Vec<String> = readme.commands.iter().map(|(_, w)| w.join(" ")).collect();
    assert_eq!(
        commands,
        [
            "cargo run -p app",
            "time target/release/examples/needs_tls",
            "cargo test",
            "cargo bench --bench b"
        ]
    );
    assert!(readme.code_spans.contains(&"needs_tls".to_string()));
    assert_eq!(readme.rust_snippets, vec![(14, "rust,ignore".to_string())]);
}
