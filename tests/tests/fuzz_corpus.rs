//! Replays every committed fuzz input through the check its target runs, so a failure found
//! once stays fixed; runs on stable as part of `cargo test`.

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<PathBuf> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()));
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| Some(entry.ok()?.path()))
        .collect();
    files.sort();
    files
}

#[test]
fn machine_corpus_holds_the_contract() {
    let files = corpus("machine");
    assert!(
        files.len() >= 8,
        "the machine corpus has only {} inputs",
        files.len()
    );
    for file in &files {
        let data = std::fs::read(file).expect("read a corpus file");
        if let Err(violation) = linger_check::fuzz::machine::check(&data) {
            panic!("{}: {violation}", file.display());
        }
    }
    println!("replayed {} machine inputs", files.len());
}

#[test]
fn model_corpus_holds_every_property() {
    let files = corpus("model");
    assert!(
        files.len() >= 8,
        "the model corpus has only {} inputs",
        files.len()
    );
    for file in &files {
        let data = std::fs::read(file).expect("read a corpus file");
        if let Err(failure) = linger_check::fuzz::model::check(&data) {
            panic!("{}: {failure}", file.display());
        }
    }
    println!("replayed {} model inputs", files.len());
}
