//! Per-tool call counts, errors and latency histograms, rendered in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
];

#[derive(Default)]
struct ToolStats {
    outcomes: BTreeMap<&'static str, u64>,
    bucket_counts: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

/// The metrics of one server process.
pub struct Metrics {
    server: String,
    tools: Mutex<BTreeMap<String, ToolStats>>,
    /// The database audit trail's spool, in team mode.
    audit: Mutex<Option<crate::team::audit::DatabaseAudit>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Metrics labelled with `server`.
    pub fn new(server: impl Into<String>) -> Self {
        Metrics {
            server: server.into(),
            tools: Mutex::new(BTreeMap::new()),
            audit: Mutex::new(None),
        }
    }

    /// Adds the audit spool's gauges (`mcp_audit_spooled_records`, `mcp_audit_dropped_records`)
    /// when `audit` writes to the team database.
    pub fn watch_audit(&self, audit: &crate::audit::AuditLog) {
        *self.audit.lock().unwrap_or_else(|p| p.into_inner()) = audit.database();
    }

    /// Records one finished call.
    pub fn observe(&self, tool: &str, outcome: &'static str, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let mut tools = self.tools.lock().unwrap_or_else(|p| p.into_inner());
        let stats = tools.entry(tool.to_owned()).or_default();
        *stats.outcomes.entry(outcome).or_default() += 1;
        stats.count += 1;
        stats.sum_seconds += seconds;
        if let Some(idx) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            stats.bucket_counts[idx] += 1;
        }
    }

    /// The Prometheus text exposition of everything recorded so far.
    pub fn render(&self) -> String {
        let tools = self.tools.lock().unwrap_or_else(|p| p.into_inner());
        let server = escape(&self.server);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP mcp_tool_calls_total Tool calls by outcome (ok, tool_error, refused, protocol_error, panic, timeout)."
        );
        let _ = writeln!(out, "# TYPE mcp_tool_calls_total counter");
        for (tool, stats) in tools.iter() {
            for (outcome, n) in &stats.outcomes {
                let _ = writeln!(
                    out,
                    "mcp_tool_calls_total{{server=\"{server}\",tool=\"{}\",outcome=\"{outcome}\"}} {n}",
                    escape(tool)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP mcp_tool_errors_total Tool calls that did not succeed."
        );
        let _ = writeln!(out, "# TYPE mcp_tool_errors_total counter");
        for (tool, stats) in tools.iter() {
            let errors: u64 = stats
                .outcomes
                .iter()
                .filter(|(o, _)| **o != "ok")
                .map(|(_, n)| n)
                .sum();
            let _ = writeln!(
                out,
                "mcp_tool_errors_total{{server=\"{server}\",tool=\"{}\"}} {errors}",
                escape(tool)
            );
        }
        let _ = writeln!(
            out,
            "# HELP mcp_tool_call_duration_seconds Tool call latency."
        );
        let _ = writeln!(out, "# TYPE mcp_tool_call_duration_seconds histogram");
        for (tool, stats) in tools.iter() {
            let tool = escape(tool);
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(stats.bucket_counts) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "mcp_tool_call_duration_seconds_bucket{{server=\"{server}\",tool=\"{tool}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "mcp_tool_call_duration_seconds_bucket{{server=\"{server}\",tool=\"{tool}\",le=\"+Inf\"}} {}",
                stats.count
            );
            let _ = writeln!(
                out,
                "mcp_tool_call_duration_seconds_sum{{server=\"{server}\",tool=\"{tool}\"}} {}",
                stats.sum_seconds
            );
            let _ = writeln!(
                out,
                "mcp_tool_call_duration_seconds_count{{server=\"{server}\",tool=\"{tool}\"}} {}",
                stats.count
            );
        }
        drop(tools);
        let audit = self.audit.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(audit) = audit {
            let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
                let _ = writeln!(out, "# HELP {name} {help}");
                let _ = writeln!(out, "# TYPE {name} {kind}");
                let _ = writeln!(out, "{name}{{server=\"{server}\"}} {value}");
            };
            metric(
                "mcp_audit_written_records_total",
                "counter",
                "Audit records this process wrote to the database since start.",
                audit.written(),
            );
            metric(
                "mcp_audit_spooled_records",
                "gauge",
                "Audit records waiting in the local spool for the database.",
                audit.spooled(),
            );
            metric(
                "mcp_audit_dropped_records",
                "gauge",
                "Audit records lost to the database trail since start because the spool was full.",
                audit.dropped(),
            );
        }
        out
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_counts_errors() {
        let metrics = Metrics::new("empresa");
        metrics.observe("consultar_empresa", "ok", Duration::from_micros(300));
        metrics.observe("consultar_empresa", "ok", Duration::from_millis(20));
        metrics.observe("consultar_empresa", "tool_error", Duration::from_secs(3));
        let text = metrics.render();
        for expected in [
            "mcp_tool_calls_total{server=\"empresa\",tool=\"consultar_empresa\",outcome=\"ok\"} 2",
            "mcp_tool_errors_total{server=\"empresa\",tool=\"consultar_empresa\"} 1",
            "mcp_tool_call_duration_seconds_bucket{server=\"empresa\",tool=\"consultar_empresa\",le=\"0.0005\"} 1",
            "mcp_tool_call_duration_seconds_bucket{server=\"empresa\",tool=\"consultar_empresa\",le=\"0.025\"} 2",
            "mcp_tool_call_duration_seconds_bucket{server=\"empresa\",tool=\"consultar_empresa\",le=\"10\"} 3",
            "mcp_tool_call_duration_seconds_count{server=\"empresa\",tool=\"consultar_empresa\"} 3",
        ] {
            assert!(text.contains(expected), "missing {expected} in\n{text}");
        }
    }
}
