//! Ingestion: walking paths within the configured roots, reading files, chunking.
//!
//! All of it is synchronous and meant for blocking threads. The server calls:
//!
//! 1. [`plan`] once per request: the files under the given paths that may be read, sorted, plus a
//!    [`Problem`] for each path refused or skipped (outside the roots, escaping symlink, too
//!    large, unsupported type);
//! 2. [`prepare`] once per planned file, so it can report progress between files: it reads,
//!    hashes and chunks one file, or says in one sentence why it could not;
//! 3. if the store's `content_hash` for that source differs, [`PreparedSource::into_chunks`] to
//!    get [`Chunk`]s with stable ids, embeds and upserts them, then deletes the ids that
//!    [`stale_chunk_ids`] names (a file that shrank leaves chunks beyond its new count).

#![deny(missing_docs)]

pub mod chunk;
pub mod read;
pub mod walk;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use mcp_common::{ConfigError, Env};
use serde_json::Value;

pub use chunk::{ChunkConfig, ChunkDraft, chunk};
pub use read::{Block, Document, FileKind, ReadError, content_hash, read_bytes, read_file};
pub use walk::{Plan, PlannedFile, Problem, plan};

use crate::model::Chunk;

/// The `--help` lines for ingestion's variables.
pub const ENV_HELP: &str = "\
ingestion settings:
  RAG_INGEST_ROOTS    comma-separated folders that ingest may read from (default: none, so file
                      ingestion is refused); paths outside them, and symlinks leading out, are refused;
                      a folder that does not exist is disabled with a warning
  RAG_MAX_FILE_BYTES  largest file ingested, in bytes or with KiB/MiB/GiB (default: 20MiB)
  RAG_CHUNK_CHARS     most characters in a chunk (default: 1000)
  RAG_CHUNK_OVERLAP   characters of a chunk's tail repeated at the start of the next one in the same
                      section (default: 150; at most half of RAG_CHUNK_CHARS)";

/// Default for `RAG_MAX_FILE_BYTES`: 20 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;

/// What ingestion may read and how it cuts text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestConfig {
    /// Canonical folders that paths must resolve into (`RAG_INGEST_ROOTS`); empty disables file
    /// ingestion.
    pub roots: Vec<PathBuf>,
    /// Folders `RAG_INGEST_ROOTS` names that could not be used at start-up (missing, not a
    /// folder, unreadable): ingestion from them is disabled, and requests for paths under them
    /// are answered with why.
    pub unavailable_roots: Vec<UnavailableRoot>,
    /// Files larger than this are skipped (`RAG_MAX_FILE_BYTES`).
    pub max_file_bytes: u64,
    /// Chunk size and overlap (`RAG_CHUNK_CHARS`, `RAG_CHUNK_OVERLAP`).
    pub chunk: ChunkConfig,
}

/// A folder named in `RAG_INGEST_ROOTS` that is not a readable directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnavailableRoot {
    /// The folder as written in `RAG_INGEST_ROOTS`.
    pub configured: String,
    /// The same made absolute (without resolving symlinks, since it may not exist), to recognise
    /// the paths under it.
    pub path: PathBuf,
    /// What is wrong, e.g. "does not exist".
    pub reason: String,
}

impl UnavailableRoot {
    /// One sentence saying the root was configured, what is wrong with it and what to fix.
    pub fn describe(&self) -> String {
        format!(
            "{} is configured in RAG_INGEST_ROOTS but {}, so ingest from it is disabled; fix \
             RAG_INGEST_ROOTS (or create the folder) and restart the server",
            self.configured, self.reason
        )
    }
}

impl IngestConfig {
    /// Reads the configuration. Roots are canonicalized here; one that is not a readable folder
    /// (a placeholder left in a host's configuration, say) is kept in
    /// [`IngestConfig::unavailable_roots`] instead of stopping start-up, so the other tools still
    /// work and `ingest` can say what to fix.
    pub fn from_env(env: &Env) -> Result<IngestConfig, ConfigError> {
        let (roots, unavailable_roots) = resolve_roots(&env.list("RAG_INGEST_ROOTS"));
        let max_file_bytes = match env.get("RAG_MAX_FILE_BYTES") {
            None => DEFAULT_MAX_FILE_BYTES,
            Some(raw) => parse_bytes(raw).ok_or_else(|| ConfigError::Invalid {
                variable: "RAG_MAX_FILE_BYTES".into(),
                expected: "a positive size in bytes, or with a KiB, MiB or GiB suffix (e.g. 20MiB)"
                    .into(),
                found: Some(raw.into()),
            })?,
        };
        let chunk = ChunkConfig::from_env(env)?;
        Ok(IngestConfig {
            roots,
            unavailable_roots,
            max_file_bytes,
            chunk,
        })
    }

    /// A configuration with these roots and default limits, for tests and embedding. Unlike
    /// [`IngestConfig::from_env`], a root that is not a readable folder is an error: a caller
    /// passing paths in code wants to hear about a wrong one at once.
    pub fn with_roots<P: AsRef<Path>>(roots: &[P]) -> Result<IngestConfig, ConfigError> {
        let listed: Vec<String> = roots
            .iter()
            .map(|root| root.as_ref().display().to_string())
            .collect();
        let (roots, unavailable) = resolve_roots(&listed);
        if let Some(root) = unavailable.first() {
            return Err(ConfigError::Invalid {
                variable: "RAG_INGEST_ROOTS".into(),
                expected: format!(
                    "a comma-separated list of existing folders ({} {})",
                    root.configured, root.reason
                ),
                found: Some(listed.join(",")),
            });
        }
        Ok(IngestConfig {
            roots,
            unavailable_roots: Vec::new(),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            chunk: ChunkConfig::default(),
        })
    }

    /// Why `ingest` can read nothing at all, or `None` when at least one root is usable.
    pub fn disabled_reason(&self) -> Option<String> {
        if !self.roots.is_empty() {
            return None;
        }
        if self.unavailable_roots.is_empty() {
            return Some(
                "file ingestion is disabled: RAG_INGEST_ROOTS is not set; set it to the \
                 comma-separated folders ingest may read and restart the server"
                    .into(),
            );
        }
        let roots: Vec<String> = self
            .unavailable_roots
            .iter()
            .map(UnavailableRoot::describe)
            .collect();
        Some(format!(
            "file ingestion is disabled, because no folder in RAG_INGEST_ROOTS can be used: {}",
            roots.join("; ")
        ))
    }

    /// The unavailable root an absolute `path` lies under, if any. Compared without resolving
    /// symlinks, since neither the root nor the path need exist; relative paths are resolved
    /// against the usable roots only, so they never match.
    pub fn unavailable_root_of(&self, path: &Path) -> Option<&UnavailableRoot> {
        if !path.is_absolute() {
            return None;
        }
        self.unavailable_roots
            .iter()
            .find(|root| path.starts_with(&root.path))
    }

    /// One line for the readiness probe: the roots ingest may read, and those disabled with
    /// why.
    pub fn status(&self) -> String {
        if let Some(reason) = self.disabled_reason() {
            return reason;
        }
        let roots: Vec<String> = self
            .roots
            .iter()
            .map(|root| root.display().to_string())
            .collect();
        let mut status = format!("ingest may read {}", roots.join(", "));
        for root in &self.unavailable_roots {
            status.push_str("; ");
            status.push_str(&root.describe());
        }
        status
    }
}

/// Splits the listed roots into usable canonical folders (each once) and the unusable ones.
fn resolve_roots(listed: &[String]) -> (Vec<PathBuf>, Vec<UnavailableRoot>) {
    let mut roots = Vec::new();
    let mut unavailable: Vec<UnavailableRoot> = Vec::new();
    for root in listed {
        match usable_root(Path::new(root)) {
            Ok(canonical) => {
                if !roots.contains(&canonical) {
                    roots.push(canonical);
                }
            }
            Err(reason) => {
                if unavailable.iter().any(|known| &known.configured == root) {
                    continue;
                }
                let path = std::path::absolute(root).unwrap_or_else(|_| PathBuf::from(root));
                unavailable.push(UnavailableRoot {
                    configured: root.clone(),
                    path,
                    reason,
                });
            }
        }
    }
    (roots, unavailable)
}

/// The canonical form of a root that is a folder this process can list, or what is wrong.
fn usable_root(root: &Path) -> Result<PathBuf, String> {
    let canonical = std::fs::canonicalize(root).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => "does not exist".to_owned(),
        std::io::ErrorKind::PermissionDenied => "cannot be reached (permission denied)".to_owned(),
        _ => format!("cannot be reached ({error})"),
    })?;
    if !canonical.is_dir() {
        return Err("is not a folder".into());
    }
    // Listing it now catches a folder this process may not read, which would otherwise fail
    // every request.
    std::fs::read_dir(&canonical).map_err(|error| match error.kind() {
        std::io::ErrorKind::PermissionDenied => "cannot be read (permission denied)".to_owned(),
        _ => format!("cannot be read ({error})"),
    })?;
    Ok(canonical)
}

/// Parses `1048576`, `512KiB`, `20MiB`, `1GiB` (also `KB`/`MB`/`GB` and `K`/`M`/`G`, read as
/// binary units, since that is what people mean for file sizes).
fn parse_bytes(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let number: u64 = digits.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor).filter(|bytes| *bytes > 0)
}

/// `1536` → `1.5 KiB`: sizes in problems are read by people.
pub(crate) fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let unit = UNITS.get(unit).copied().unwrap_or("TiB");
    if value.fract() == 0.0 {
        format!("{value:.0} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}

/// One file read, hashed and chunked, ready to embed.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedSource {
    /// The source as stored: the file's canonical path.
    pub source: String,
    /// The file's format.
    pub kind: FileKind,
    /// SHA-256 (hex) of the file's bytes; equal to the stored one means the file is unchanged.
    pub content_hash: String,
    /// The chunks, in order, with `position.index` counting from 0.
    pub drafts: Vec<ChunkDraft>,
    /// Things worth telling the caller that did not stop the file, e.g. a PDF page without text.
    pub warnings: Vec<String>,
}

impl PreparedSource {
    /// Turns the drafts into chunks with stable ids ([`chunk_id`]), each carrying the source,
    /// the content hash and a copy of `metadata`.
    pub fn into_chunks(self, metadata: &BTreeMap<String, Value>) -> Vec<Chunk> {
        let PreparedSource {
            source,
            content_hash,
            drafts,
            ..
        } = self;
        let prefix = source_key(&source);
        drafts
            .into_iter()
            .map(|draft| Chunk {
                id: format!("{prefix}:{}", draft.position.index),
                text: draft.text,
                source: Some(source.clone()),
                position: draft.position,
                metadata: metadata.clone(),
                content_hash: Some(content_hash.clone()),
            })
            .collect()
    }
}

/// The id of chunk `index` of `source`: `{first 16 hex digits of SHA-256(source)}:{index}`.
///
/// Ids depend only on the source and the position, so re-ingesting a changed file overwrites its
/// chunks in place; the hash keeps ids short and free of path characters.
pub fn chunk_id(source: &str, index: u32) -> String {
    format!("{}:{index}", source_key(source))
}

/// The ids a re-ingested source no longer uses: those from `new_count` up to `old_count`.
pub fn stale_chunk_ids(source: &str, new_count: u64, old_count: u64) -> Vec<String> {
    let prefix = source_key(source);
    (new_count..old_count)
        .map(|index| format!("{prefix}:{index}"))
        .collect()
}

fn source_key(source: &str) -> String {
    let mut hash = content_hash(source.as_bytes());
    hash.truncate(16);
    hash
}

/// Reads, hashes and chunks one planned file.
///
/// The file is checked again, because it may have changed since [`plan`]: it must still resolve
/// inside the roots (it could have been swapped for a symlink) and be within the size limit, and
/// only that many bytes are ever read.
pub fn prepare(file: &PlannedFile, config: &IngestConfig) -> Result<PreparedSource, ReadError> {
    let shown = file.path.display().to_string();
    let io_error = |error: std::io::Error| ReadError::Io {
        file: shown.clone(),
        cause: error.to_string(),
    };
    let canonical = std::fs::canonicalize(&file.path).map_err(io_error)?;
    if !walk::within_roots(&canonical, &config.roots) {
        return Err(ReadError::OutsideRoots { file: shown });
    }
    let handle = File::open(&canonical).map_err(io_error)?;
    let declared = handle.metadata().map_err(io_error)?.len();
    let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
    // Read one byte past the limit, so a file that grew since it was measured is still caught
    // without reading all of it.
    handle
        .take(config.max_file_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > config.max_file_bytes {
        return Err(ReadError::TooLarge {
            file: shown,
            bytes: declared.max(bytes.len() as u64),
            limit: config.max_file_bytes,
        });
    }
    let document = read_bytes(&shown, file.kind, &bytes)?;
    let drafts = chunk(&document, &config.chunk);
    Ok(PreparedSource {
        source: canonical.display().to_string(),
        kind: file.kind,
        content_hash: document.content_hash,
        drafts,
        warnings: document.warnings,
    })
}

#[cfg(test)]
mod tests;
