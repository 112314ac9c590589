//! Replays the checked-in corpus of every fuzz target, and every input that ever broke one
//! (`regressions/<target>/`, each file named after what it found), through the target. A target
//! panics on a wrong answer, so a regression fails here on every `cargo test`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code fails loudly.

use std::path::{Path, PathBuf};

fn inputs(folder: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every input under `<kind>/<target>/` through its target, the targets spread over the
/// machine's cores; returns how many ran. Fails naming every input that broke its target.
fn replay(kind: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(kind);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let replayed = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while let Some((name, target)) =
                    mcp_fuzz::TARGETS.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    for file in inputs(&root.join(name)) {
                        let data = std::fs::read(&file).unwrap();
                        if std::panic::catch_unwind(|| target(&data)).is_err() {
                            failures.lock().unwrap().push(file.display().to_string());
                        }
                        replayed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} input(s) broke their target:\n{}",
        failures.len(),
        failures.join("\n")
    );
    replayed.into_inner()
}

#[test]
fn every_corpus_input_passes_its_target() {
    let replayed = replay("corpus");
    // Each target has a seed corpus; an empty replay would mean the folders moved.
    for (name, _) in mcp_fuzz::TARGETS {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus")
            .join(name);
        assert!(
            !inputs(&folder).is_empty(),
            "no corpus for the target {name} in {}",
            folder.display()
        );
    }
    eprintln!("replayed {replayed} corpus inputs");
}

#[test]
fn every_input_that_once_broke_a_target_passes_it_now() {
    let replayed = replay("regressions");
    eprintln!("replayed {replayed} regression inputs");
}

#[test]
fn every_target_has_a_libfuzzer_binary() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("libfuzzer/Cargo.toml"))
            .unwrap();
    for (name, _) in mcp_fuzz::TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "libfuzzer/Cargo.toml has no binary for {name}"
        );
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("libfuzzer/fuzz_targets")
            .join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&source).unwrap();
        assert!(
            text.contains(&format!("mcp_fuzz::{name}(")),
            "{} does not call mcp_fuzz::{name}",
            source.display()
        );
    }
}
