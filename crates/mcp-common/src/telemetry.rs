//! Logs go to standard error (standard output belongs to JSON-RPC on stdio), as human-readable
//! lines or JSON.
//!
//! rmcp logs every received request, arguments included, at `debug` (and messages at `trace`),
//! so a password passed to a tool would be printed as soon as someone turns on `debug` to chase
//! a problem. Its targets are therefore capped at `info` whatever the global level, unless the
//! filter names them itself (e.g. `debug,rmcp=debug`), which is taken as knowingly asking for
//! raw protocol traffic.

use std::io::IsTerminal;

use tracing::Level;
use tracing_subscriber::filter::{EnvFilter, FilterFn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

use crate::config::LogFormat;

/// The crate whose verbose events carry raw requests.
const RAW_TARGET: &str = "rmcp";

/// Installs the global subscriber. `filter` uses `RUST_LOG` syntax; an invalid one falls back to
/// `info` with a warning rather than stopping the server. rmcp's `debug` and `trace` events are
/// left out unless `filter` has a directive for rmcp (see the module documentation).
pub fn init(format: LogFormat, filter: &str) {
    let (env_filter, bad_filter) = match EnvFilter::try_new(filter) {
        Ok(parsed) => (parsed, None),
        Err(error) => (EnvFilter::new("info"), Some(error.to_string())),
    };
    let raw_asked = bad_filter.is_none() && names_raw_target(filter);
    let cap = FilterFn::new(move |metadata| raw_asked || !is_raw(metadata));
    let layer = match format {
        LogFormat::Json => fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false)
            .json()
            .flatten_event(true)
            .boxed(),
        LogFormat::Human => fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .boxed(),
    };
    // Both filters are global rather than per-layer: a per-layer filter gives the subscriber no
    // maximum level, so every event and span of every crate (rmcp's per-request spans included)
    // would be built and checked at run time even when the level leaves it out. Global filters
    // let `tracing` skip disabled call sites outright; there is only one layer to filter for.
    let installed = tracing_subscriber::registry()
        .with(env_filter)
        .with(cap)
        .with(layer)
        .try_init();
    if installed.is_err() {
        return;
    }
    if let Some(error) = bad_filter {
        tracing::warn!(%error, filter, "invalid log filter (MCP_LOG_LEVEL or RUST_LOG); using info");
    } else if raw_asked && filter_enables_raw(filter) {
        tracing::warn!(
            filter,
            "the log filter enables rmcp's debug logs, which print raw requests, tool arguments and secrets included"
        );
    }
}

/// Whether an event or span is one of rmcp's verbose ones, which may print raw requests.
fn is_raw(metadata: &tracing::Metadata<'_>) -> bool {
    *metadata.level() > Level::INFO && is_raw_target(metadata.target())
}

fn is_raw_target(target: &str) -> bool {
    target == RAW_TARGET
        || target
            .strip_prefix(RAW_TARGET)
            .is_some_and(|rest| rest.starts_with("::"))
}

/// Whether one of the filter's directives is about rmcp's targets (`rmcp=warn`,
/// `rmcp::service=debug`), i.e. whoever wrote it chose rmcp's level deliberately.
fn names_raw_target(filter: &str) -> bool {
    filter.split(',').any(|directive| {
        let target = directive
            .trim()
            .split(['=', '['])
            .next()
            .unwrap_or_default();
        is_raw_target(target)
    })
}

/// Whether a directive for rmcp asks for `debug` or `trace`.
fn filter_enables_raw(filter: &str) -> bool {
    filter.split(',').any(|directive| {
        let directive = directive.trim();
        let (target, level) = directive.split_once('=').unwrap_or((directive, "trace"));
        let target = target.split('[').next().unwrap_or_default();
        is_raw_target(target)
            && matches!(
                level.trim().to_ascii_lowercase().as_str(),
                "debug" | "trace" | "4" | "5"
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmcp_stays_capped_unless_the_filter_names_it() {
        // (filter, names rmcp, enables its debug logs)
        let cases = [
            ("debug", false, false),
            ("trace", false, false),
            ("info,rmcp=warn", true, false),
            ("debug,rmcp=debug", true, true),
            ("debug, rmcp::service=trace", true, true),
            ("rmcp", true, true),
            ("rmcp_other=debug", false, false),
            ("mcp_common=debug", false, false),
        ];
        for (filter, named, enabled) in cases {
            assert_eq!(names_raw_target(filter), named, "{filter}");
            assert_eq!(filter_enables_raw(filter), enabled, "{filter}");
        }
        for (target, raw) in [
            ("rmcp", true),
            ("rmcp::service", true),
            ("rmcpx", false),
            ("mcp_common::stdio", false),
        ] {
            assert_eq!(is_raw_target(target), raw, "{target}");
        }
    }
}
