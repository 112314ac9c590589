//! Resolving the paths a caller asks to ingest into the files that may be read.
//!
//! The roots (`RAG_INGEST_ROOTS`) are the security boundary: every path, and every symlink met
//! while walking, is resolved to its canonical form and must land inside one of them. A symlink
//! leading out is reported and never followed, so a link planted in a shared folder cannot pull
//! `~/.ssh` into a collection.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use super::IngestConfig;
use super::read::FileKind;

/// A file that may be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// Its canonical path, inside the roots.
    pub path: PathBuf,
    /// Its format, from the extension.
    pub kind: FileKind,
    /// Its size when planned.
    pub bytes: u64,
}

/// A path that was refused or skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The path as given, or as found while walking a folder.
    pub path: String,
    /// One sentence for a person.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

/// What [`plan`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The files to read, sorted by path, each once.
    pub files: Vec<PlannedFile>,
    /// Every path refused or skipped, in the order met.
    pub problems: Vec<Problem>,
}

/// Resolves `paths` (files or folders) into the files to ingest.
///
/// Relative paths are taken relative to the first root that contains them. Folders are walked
/// recursively in sorted order; inside them, hidden entries (names starting with `.`), Office lock
/// files (`~$…`) and unsupported extensions are passed over silently, since a folder is expected
/// to hold such things. A file named explicitly with an unsupported extension is a problem.
/// Nothing stops the walk: every path gets either files or problems.
pub fn plan<P: AsRef<Path>>(paths: &[P], config: &IngestConfig) -> Plan {
    let mut walker = Walker {
        config,
        files: BTreeMap::new(),
        problems: Vec::new(),
        visited: HashSet::new(),
    };
    for path in paths {
        walker.given(path.as_ref());
    }
    Plan {
        files: walker.files.into_values().collect(),
        problems: walker.problems,
    }
}

/// Whether a canonical path lies inside one of the canonical roots (component-wise, so
/// `/data/docs2` is not inside `/data/docs`).
pub(crate) fn within_roots(canonical: &Path, roots: &[PathBuf]) -> bool {
    roots.iter().any(|root| canonical.starts_with(root))
}

struct Walker<'a> {
    config: &'a IngestConfig,
    // Keyed by canonical path: sorted output, and a file reached twice (two arguments, or a
    // symlink inside the roots) is read once.
    files: BTreeMap<PathBuf, PlannedFile>,
    problems: Vec<Problem>,
    // Canonical folders already walked, so a symlink back to an ancestor cannot loop forever.
    visited: HashSet<PathBuf>,
}

impl Walker<'_> {
    fn problem(&mut self, path: &Path, reason: impl Into<String>) {
        self.problems.push(Problem {
            path: path.display().to_string(),
            reason: reason.into(),
        });
    }

    fn roots_list(&self) -> String {
        self.config
            .roots
            .iter()
            .map(|root| root.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn given(&mut self, given: &Path) {
        if let Some(reason) = self.config.disabled_reason() {
            self.problem(given, reason);
            return;
        }
        if given.as_os_str().is_empty() {
            self.problem(given, "the path is empty");
            return;
        }
        let candidate = if given.is_absolute() {
            given.to_path_buf()
        } else {
            let found = self
                .config
                .roots
                .iter()
                .map(|root| root.join(given))
                .find(|joined| fs::symlink_metadata(joined).is_ok());
            match found {
                Some(joined) => joined,
                None => {
                    let roots = self.roots_list();
                    let mut reason = format!(
                        "not found in any ingestion root ({roots}); relative paths are resolved against the roots"
                    );
                    // A root disabled at start-up may be where the caller meant.
                    for root in &self.config.unavailable_roots {
                        reason.push_str("; ");
                        reason.push_str(&root.describe());
                    }
                    self.problem(given, reason);
                    return;
                }
            }
        };
        let link = match fs::symlink_metadata(&candidate) {
            Ok(meta) => meta.file_type().is_symlink(),
            Err(error) => {
                let reason = match self.config.unavailable_root_of(&candidate) {
                    Some(root) => root.describe(),
                    None => describe_io(&error),
                };
                self.problem(given, reason);
                return;
            }
        };
        let canonical = match fs::canonicalize(&candidate) {
            Ok(canonical) => canonical,
            Err(error) if link => {
                self.problem(given, format!("is a broken symlink ({error})"));
                return;
            }
            Err(error) => {
                self.problem(given, describe_io(&error));
                return;
            }
        };
        if !within_roots(&canonical, &self.config.roots) {
            // The folder may have appeared since start-up; it stays disabled until a restart.
            if let Some(root) = self.config.unavailable_root_of(&candidate) {
                let reason = root.describe();
                self.problem(given, reason);
                return;
            }
            let roots = self.roots_list();
            let reason = if link {
                format!(
                    "is a symlink to {}, outside the ingestion roots ({roots}); it was not followed",
                    canonical.display()
                )
            } else if canonical != candidate {
                format!(
                    "resolves to {}, outside the ingestion roots ({roots}); add its folder to RAG_INGEST_ROOTS to allow it",
                    canonical.display()
                )
            } else {
                format!(
                    "is outside the ingestion roots ({roots}); add its folder to RAG_INGEST_ROOTS to allow it"
                )
            };
            self.problem(given, reason);
            return;
        }
        match fs::metadata(&canonical) {
            Ok(meta) if meta.is_dir() => self.folder(&canonical),
            Ok(meta) if meta.is_file() => self.file(given, &canonical, meta.len(), true),
            Ok(_) => self.problem(given, "is neither a regular file nor a folder"),
            Err(error) => self.problem(given, describe_io(&error)),
        }
    }

    fn folder(&mut self, folder: &Path) {
        if !self.visited.insert(folder.to_path_buf()) {
            return;
        }
        let entries = match fs::read_dir(folder) {
            Ok(entries) => entries,
            Err(error) => {
                self.problem(
                    folder,
                    format!("the folder could not be listed: {}", describe_io(&error)),
                );
                return;
            }
        };
        let mut listed = Vec::new();
        for entry in entries {
            match entry {
                Ok(entry) => listed.push(entry),
                Err(error) => self.problem(
                    folder,
                    format!("an entry could not be read: {}", describe_io(&error)),
                ),
            }
        }
        // read_dir's order depends on the file system; sorting makes walks (and so problems)
        // repeatable.
        listed.sort_by_key(|entry| entry.file_name());
        for entry in listed {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name.starts_with("~$") {
                continue;
            }
            let path = entry.path();
            let file_type = match entry.file_type() {
                Ok(file_type) => file_type,
                Err(error) => {
                    self.problem(&path, describe_io(&error));
                    continue;
                }
            };
            if file_type.is_symlink() {
                self.symlink(&path);
            } else if file_type.is_dir() {
                self.folder(&path);
            } else if file_type.is_file() {
                match entry.metadata() {
                    Ok(meta) => self.file(&path, &path, meta.len(), false),
                    Err(error) => self.problem(&path, describe_io(&error)),
                }
            }
            // Sockets, pipes and devices inside a folder are not documents: passed over.
        }
    }

    fn symlink(&mut self, link: &Path) {
        let target = match fs::canonicalize(link) {
            Ok(target) => target,
            Err(error) => {
                self.problem(link, format!("is a broken symlink ({error}); skipped"));
                return;
            }
        };
        if !within_roots(&target, &self.config.roots) {
            let roots = self.roots_list();
            self.problem(
                link,
                format!(
                    "is a symlink to {}, outside the ingestion roots ({roots}); it was not followed",
                    target.display()
                ),
            );
            return;
        }
        match fs::metadata(&target) {
            Ok(meta) if meta.is_dir() => self.folder(&target),
            Ok(meta) if meta.is_file() => self.file(link, &target, meta.len(), false),
            Ok(_) => {}
            Err(error) => self.problem(link, describe_io(&error)),
        }
    }

    /// `shown` is the path to report; `canonical` the one to read.
    fn file(&mut self, shown: &Path, canonical: &Path, bytes: u64, explicit: bool) {
        let Some(kind) = FileKind::from_path(canonical) else {
            if explicit {
                self.problem(
                    shown,
                    format!(
                        "unsupported file type; supported extensions: {}",
                        FileKind::EXTENSIONS.join(", ")
                    ),
                );
            }
            return;
        };
        if bytes > self.config.max_file_bytes {
            self.problem(
                shown,
                format!(
                    "is {}, over the {} limit (RAG_MAX_FILE_BYTES); skipped",
                    super::format_bytes(bytes),
                    super::format_bytes(self.config.max_file_bytes)
                ),
            );
            return;
        }
        self.files
            .entry(canonical.to_path_buf())
            .or_insert_with(|| PlannedFile {
                path: canonical.to_path_buf(),
                kind,
                bytes,
            });
    }
}

fn describe_io(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "does not exist".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => error.to_string(),
    }
}
