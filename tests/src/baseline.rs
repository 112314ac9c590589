//! Benchmark figures against a baseline: every bench prints one `bench: <name> = <value> <unit>`
//! line per figure, and a baseline file keeps the figures the README quotes, so a run can print
//! each figure beside its previous value and a regression is visible (`mcp-bench --baseline`,
//! and `bench-compare` for the other benches' output).
//!
//! A baseline is JSON: `{"figures": {"<name>": {"value": <number>, "unit": "<unit>"}}, ...}`
//! plus free-form fields saying when, where and with what command the figures were taken.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};

/// How far a figure may move before the comparison calls it better or worse.
const NOTEWORTHY_PERCENT: f64 = 5.0;

/// One measured figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Its name, as in `bench: <name> = …`.
    pub name: String,
    /// Its value in `unit`.
    pub value: f64,
    /// `µs`, `ms`, `MiB`, `calls/s`, … or empty for a plain number.
    pub unit: String,
}

impl Figure {
    /// A figure.
    pub fn new(name: impl Into<String>, value: f64, unit: impl Into<String>) -> Figure {
        Figure {
            name: name.into(),
            value,
            unit: unit.into(),
        }
    }

    /// Its `bench:` line.
    pub fn line(&self) -> String {
        format!(
            "bench: {} = {} {}",
            self.name,
            format_value(self.value, &self.unit),
            self.unit
        )
        .trim_end()
        .to_owned()
    }
}

/// The value as the tables print it.
pub fn format_value(value: f64, unit: &str) -> String {
    match unit {
        "ms" => format!("{value:.2}"),
        "MiB" | "s" | "documents/s" => format!("{value:.1}"),
        "" if value.abs() < 10.0 => format!("{value:.3}"),
        _ => format!("{value:.0}"),
    }
}

/// The figures in a bench's output: its `bench: <name> = <value> [unit]` lines.
pub fn figures_in(output: &str) -> Vec<Figure> {
    output
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.trim().strip_prefix("bench:")?.split_once(" = ")?;
            let rest = rest.trim();
            let (number, unit) = rest.split_once(' ').unwrap_or((rest, ""));
            Some(Figure::new(name.trim(), number.parse().ok()?, unit.trim()))
        })
        .collect()
}

/// The previous figures: name → (value, unit).
pub type Baseline = BTreeMap<String, (f64, String)>;

/// Reads a baseline file.
pub fn read(path: &Path) -> Result<Baseline> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the baseline {}", path.display()))?;
    parse(&text).with_context(|| format!("the baseline {}", path.display()))
}

/// Parses a baseline.
pub fn parse(text: &str) -> Result<Baseline> {
    let document: Value = serde_json::from_str(text).context("not JSON")?;
    let figures = document["figures"]
        .as_object()
        .context("no \"figures\" object")?;
    let mut baseline = Baseline::new();
    for (name, figure) in figures {
        let value = figure["value"]
            .as_f64()
            .with_context(|| format!("{name} has no numeric \"value\""))?;
        let unit = figure["unit"].as_str().unwrap_or_default().to_owned();
        baseline.insert(name.clone(), (value, unit));
    }
    Ok(baseline)
}

/// Writes `figures` as a baseline, with `about` (date, machine, command…) beside them.
pub fn write(path: &Path, about: Map<String, Value>, figures: &[Figure]) -> Result<()> {
    let mut document = about;
    let figures: Map<String, Value> = figures
        .iter()
        .map(|f| (f.name.clone(), json!({"value": f.value, "unit": f.unit})))
        .collect();
    document.insert("figures".into(), Value::Object(figures));
    let text = serde_json::to_string_pretty(&Value::Object(document))?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// Whether a bigger value of this figure is better (throughput, rates, retrieval quality) or
/// worse (time, memory, failures).
pub fn higher_is_better(name: &str, unit: &str) -> bool {
    name.ends_with("_throughput")
        || unit.ends_with("/s")
        || name.contains("ndcg")
        || name.contains("recall")
}

/// One figure beside its previous value.
pub fn comparison_line(figure: &Figure, previous: Option<&(f64, String)>) -> String {
    let now = format!(
        "{} {}",
        format_value(figure.value, &figure.unit),
        figure.unit
    );
    let now = now.trim_end();
    let Some((before, unit)) = previous else {
        return format!(
            "vs baseline: {}: no previous figure → now {now}",
            figure.name
        );
    };
    let was = format!("{} {unit}", format_value(*before, unit));
    let was = was.trim_end();
    if *unit != figure.unit {
        return format!(
            "vs baseline: {}: previous {was} → now {now} (units differ)",
            figure.name
        );
    }
    if *before == 0.0 {
        return format!("vs baseline: {}: previous {was} → now {now}", figure.name);
    }
    let percent = (figure.value - before) / before.abs() * 100.0;
    let verdict = if percent.abs() <= NOTEWORTHY_PERCENT {
        ""
    } else if (percent > 0.0) == higher_is_better(&figure.name, &figure.unit) {
        ", better"
    } else {
        ", worse"
    };
    format!(
        "vs baseline: {}: previous {was} → now {now} ({percent:+.1}%{verdict})",
        figure.name
    )
}

/// Every comparison line, under a heading naming the baseline.
pub fn comparison(path: &Path, baseline: &Baseline, figures: &[Figure]) -> String {
    let mut text = format!("\n### Against the baseline ({})\n\n", path.display());
    for figure in figures {
        text.push_str(&comparison_line(figure, baseline.get(&figure.name)));
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_compared_with_the_baseline() {
        let baseline = parse(
            r#"{"figures": {"stdio_p50": {"value": 150, "unit": "µs"},
                "stdio_throughput": {"value": 5000, "unit": "calls/s"},
                "rss_idle": {"value": 12.0, "unit": "MiB"},
                "scifact hybrid ndcg@10": {"value": 0.699, "unit": ""}}}"#,
        )
        .unwrap();
        let cases = [
            (
                Figure::new("stdio_p50", 60.0, "µs"),
                "vs baseline: stdio_p50: previous 150 µs → now 60 µs (-60.0%, better)",
            ),
            (
                Figure::new("stdio_throughput", 4000.0, "calls/s"),
                "vs baseline: stdio_throughput: previous 5000 calls/s → now 4000 calls/s (-20.0%, worse)",
            ),
            (
                Figure::new("rss_idle", 12.3, "MiB"),
                "vs baseline: rss_idle: previous 12.0 MiB → now 12.3 MiB (+2.5%)",
            ),
            (
                Figure::new("scifact hybrid ndcg@10", 0.75, ""),
                "vs baseline: scifact hybrid ndcg@10: previous 0.699 → now 0.750 (+7.3%, better)",
            ),
            (
                Figure::new("startup_median", 1.5, "ms"),
                "vs baseline: startup_median: no previous figure → now 1.50 ms",
            ),
        ];
        for (figure, expected) in cases {
            assert_eq!(
                comparison_line(&figure, baseline.get(&figure.name)),
                expected
            );
        }
        assert!(parse("{}").is_err());
    }

    #[test]
    fn bench_lines_are_read_back() {
        let output = "| table | 1 |\nbench: odoo_overhead_p50 = 163 µs\n\
                      bench: scifact hybrid ndcg@10 = 0.712\n\
                      bench: ingest with embedding = 15.2 documents/s\nbench: broken = x µs\n";
        assert_eq!(
            figures_in(output),
            vec![
                Figure::new("odoo_overhead_p50", 163.0, "µs"),
                Figure::new("scifact hybrid ndcg@10", 0.712, ""),
                Figure::new("ingest with embedding", 15.2, "documents/s"),
            ]
        );
        for figure in figures_in(output) {
            assert_eq!(figures_in(&figure.line()), vec![figure]);
        }
    }
}
