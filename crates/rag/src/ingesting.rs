//! The `ingest` tool's work: plan the files within the roots, then per file read and chunk it on a
//! blocking thread, skip it when its content hash is unchanged, embed and upsert its chunks,
//! remove chunks left over from a longer earlier version, and report progress between files.

use std::collections::HashMap;
use std::path::Path;

use mcp_common::ToolError;
use rmcp::RoleServer;
use rmcp::model::ProgressNotificationParam;
use rmcp::service::RequestContext;
use schemars::JsonSchema;
use serde::Serialize;

use crate::ingest::{self, IngestConfig, Plan};
use crate::model::Selector;
use crate::service::RagService;

/// A problem with one path during ingestion.
#[derive(Debug, Serialize, JsonSchema)]
pub struct IngestProblem {
    /// The path
    pub path: String,
    /// What went wrong
    pub message: String,
}

/// The outcome of an ingestion.
#[derive(Debug, Serialize, JsonSchema)]
pub struct IngestSummary {
    /// The collection
    pub collection: String,
    /// Files read and stored
    pub files_ingested: u32,
    /// Files skipped because their content did not change since the last ingestion
    pub files_unchanged: u32,
    /// Chunks stored
    pub chunks_stored: u64,
    /// Stale chunks removed from files that shrank
    pub chunks_removed: u64,
    /// Files or paths that could not be ingested, each with the reason
    pub problems: Vec<IngestProblem>,
    /// Whether vectors were stored too (false when running lexical-only)
    pub embedded: bool,
}

/// Runs an ingestion for the `ingest` tool.
pub async fn run(
    service: &RagService,
    paths: Vec<String>,
    collection: Option<String>,
    context: RequestContext<RoleServer>,
) -> Result<IngestSummary, ToolError> {
    let collection = service.collection_name(collection)?;
    // Before opening the collection, so a call that can read nothing creates nothing.
    if let Some(reason) = service.ingest.disabled_reason() {
        return Err(ToolError::Other(reason));
    }
    let (_, with_vectors) = service.open_for_write(&collection).await?;
    let config = service.ingest.clone();
    let asked = paths.clone();
    let plan = tokio::task::spawn_blocking(move || ingest::plan(&paths, &config))
        .await
        .map_err(|e| ToolError::Other(format!("planning the ingestion failed: {e}")))?;
    if let Some(error) = only_disabled_roots(&service.ingest, &asked, &plan) {
        return Err(error);
    }
    let mut summary = IngestSummary {
        collection: collection.clone(),
        files_ingested: 0,
        files_unchanged: 0,
        chunks_stored: 0,
        chunks_removed: 0,
        problems: plan
            .problems
            .iter()
            .map(|p| IngestProblem {
                path: p.path.clone(),
                message: p.reason.clone(),
            })
            .collect(),
        embedded: with_vectors,
    };
    let known: HashMap<String, Option<String>> = service
        .store
        .sources(&collection)
        .await?
        .into_iter()
        .map(|s| (s.source, s.content_hash))
        .collect();
    let progress_token = context.meta.get_progress_token();
    let total = plan.files.len();
    for (done, file) in plan.files.into_iter().enumerate() {
        if context.ct.is_cancelled() {
            summary.problems.push(IngestProblem {
                path: file.path.display().to_string(),
                message: "cancelled before this file".into(),
            });
            break;
        }
        if let Some(token) = &progress_token {
            let message = format!("reading {}", file.path.display());
            let _ = context
                .peer
                .notify_progress(
                    ProgressNotificationParam::new(token.clone(), done as f64)
                        .with_total(total as f64)
                        .with_message(message),
                )
                .await;
        }
        let config = service.ingest.clone();
        let shown = file.path.display().to_string();
        let prepared = tokio::task::spawn_blocking(move || ingest::prepare(&file, &config))
            .await
            .map_err(|e| ToolError::Other(format!("reading {shown} failed: {e}")))?;
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err(error) => {
                summary.problems.push(IngestProblem {
                    path: shown,
                    message: error.to_string(),
                });
                continue;
            }
        };
        if known
            .get(&prepared.source)
            .is_some_and(|hash| hash.as_deref() == Some(prepared.content_hash.as_str()))
        {
            summary.files_unchanged += 1;
            continue;
        }
        for warning in &prepared.warnings {
            summary.problems.push(IngestProblem {
                path: shown.clone(),
                message: format!("warning: {warning}"),
            });
        }
        let source = prepared.source.clone();
        let chunks = prepared.into_chunks(&std::collections::BTreeMap::new());
        let count = chunks.len() as u32;
        let texts: Vec<String> = chunks.iter().map(|c| c.text.clone()).collect();
        let vectors = if with_vectors {
            service.embed_documents(&texts).await?
        } else {
            Vec::new()
        };
        service.store.upsert(&collection, chunks, vectors).await?;
        summary.chunks_stored += u64::from(count);
        // A file that shrank leaves chunks past its new end; they belong to the old version.
        let stale = service
            .store
            .chunks_of_source(&collection, &source, count..=u32::MAX)
            .await?;
        if !stale.is_empty() {
            let ids = stale.into_iter().map(|c| c.id).collect();
            summary.chunks_removed += service
                .store
                .delete(&collection, Selector::Ids(ids))
                .await?;
        }
        summary.files_ingested += 1;
    }
    if let Some(token) = &progress_token {
        let message = format!(
            "{} files ingested, {} unchanged, {} problems",
            summary.files_ingested,
            summary.files_unchanged,
            summary.problems.len()
        );
        let _ = context
            .peer
            .notify_progress(
                ProgressNotificationParam::new(token.clone(), total as f64)
                    .with_total(total as f64)
                    .with_message(message),
            )
            .await;
    }
    Ok(summary)
}

/// A tool error when every path asked for lies under a root disabled at start-up: nothing could
/// be read, and the caller should hear which root is wrong rather than get an empty summary.
fn only_disabled_roots(config: &IngestConfig, asked: &[String], plan: &Plan) -> Option<ToolError> {
    if asked.is_empty() || !plan.files.is_empty() {
        return None;
    }
    let mut reasons: Vec<String> = Vec::new();
    for path in asked {
        let root = config.unavailable_root_of(Path::new(path))?;
        let reason = root.describe();
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }
    Some(ToolError::Other(format!(
        "nothing was ingested: {}",
        reasons.join("; ")
    )))
}
