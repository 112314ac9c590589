//! The agent's audit trail: one JSON line per model call and per tool call, written through
//! mcp-common's [`AuditLog`] (stderr, a file or off), arguments redacted of registered secrets
//! and long strings cut the way the servers' own records are.

use std::sync::Arc;

use mcp_common::audit::{AuditLog, audited_arguments, now_rfc3339};
use serde::Serialize;
use serde_json::Value;

/// Where the agent's audit lines go.
#[derive(Clone, Debug)]
pub struct Audit {
    log: Arc<AuditLog>,
}

/// One model call.
#[derive(Debug, Clone, Serialize)]
pub struct ModelCallRecord {
    /// When it finished.
    pub time: String,
    /// Always `model_call`.
    pub event: &'static str,
    /// The endpoint called.
    pub endpoint: String,
    /// The model asked.
    pub model: String,
    /// `native` (function tools) or `react` (the JSON protocol).
    pub mode: &'static str,
    /// The step of the turn, from 1.
    pub step: usize,
    /// Wall time in milliseconds.
    pub duration_ms: f64,
    /// `ok` or `error`.
    pub outcome: &'static str,
    /// The error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How many tools the answer called.
    pub tool_calls: usize,
    /// Prompt and completion tokens, when reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Value>,
}

/// One tool call the model asked for, run or not.
#[derive(Debug, Clone, Serialize)]
pub struct ToolCallRecord {
    /// When it finished.
    pub time: String,
    /// Always `tool_call`.
    pub event: &'static str,
    /// The name the model used.
    pub function: String,
    /// The server, when the name was known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The server's tool, when the name was known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The arguments as sent (or as the model wrote them when they were not JSON).
    pub arguments: Value,
    /// Wall time in milliseconds.
    pub duration_ms: f64,
    /// `ok`, `tool_error`, `declined`, `pending_approval`, `repeated`, `invalid_arguments`,
    /// `unknown_tool` or `failed` (the server could not be reached or did not answer in time).
    pub outcome: &'static str,
    /// `not_required`, `approved`, `declined` or `pending` (asked over the gateway, answered later).
    pub consent: &'static str,
    /// The error, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Audit {
    /// An audit trail writing to `log`.
    pub fn new(log: AuditLog) -> Audit {
        Audit { log: Arc::new(log) }
    }

    /// Records a model call.
    pub fn model_call(&self, mut record: ModelCallRecord) {
        record.time = now_rfc3339();
        self.log.record_serialized(&record);
    }

    /// Records a tool call, arguments redacted and cut.
    pub fn tool_call(&self, mut record: ToolCallRecord) {
        record.time = now_rfc3339();
        let mut arguments = audited_arguments(record.arguments);
        mcp_common::secret::scrub_json(&mut arguments);
        record.arguments = arguments;
        if let Some(error) = &record.error {
            record.error = Some(mcp_common::secret::scrub(error).into_owned());
        }
        self.log.record_serialized(&record);
    }
}
