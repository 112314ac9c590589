//! Passes a benchmark's output through and then prints each of its figures (its
//! `bench: <name> = <value> <unit>` lines) beside the value in a baseline file, marked better or
//! worse beyond 5%, so that `just bench` shows a regression in every bench, not only mcp-bench's.
//!
//! `odoo-bench | bench-compare bench/odoo.json` compares; `--save` also writes this run's figures
//! as the file's new baseline (after the README is updated with them). A missing baseline file
//! is reported and the figures are printed without comparison.

// The comparison on stdout is the product.
#![allow(clippy::print_stdout)]

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use mcp_conformance::baseline;

const USAGE: &str = "usage: <bench> | bench-compare BASELINE.json [--save]";

fn main() -> Result<()> {
    let mut path = None;
    let mut save = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--save" => save = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            flag if flag.starts_with("--") => bail!("unknown option {flag}; {USAGE}"),
            _ if path.is_none() => path = Some(PathBuf::from(arg)),
            _ => bail!("one baseline file only; {USAGE}"),
        }
    }
    let Some(path) = path else {
        bail!("{USAGE}");
    };
    // Echoed line by line, so a long bench shows its progress as it runs.
    let mut output = String::new();
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading the bench's output")?;
        writeln!(stdout.lock(), "{line}")?;
        output.push_str(&line);
        output.push('\n');
    }
    let figures = baseline::figures_in(&output);
    if figures.is_empty() {
        bail!("the bench printed no `bench:` figures");
    }
    if path.exists() {
        let previous = baseline::read(&path)?;
        print!("{}", baseline::comparison(&path, &previous, &figures));
    } else {
        println!(
            "\n(no baseline {} yet: `--save` writes one)",
            path.display()
        );
    }
    if save {
        let mut about = serde_json::Map::new();
        let date = std::process::Command::new("date")
            .args(["-u", "+%Y-%m-%d %H:%M UTC"])
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .unwrap_or_default();
        about.insert("date".into(), serde_json::json!(date));
        about.insert(
            "command".into(),
            serde_json::json!("<bench> | bench-compare <file> --save"),
        );
        baseline::write(&path, about, &figures)?;
        eprintln!("bench-compare: wrote the baseline {}", path.display());
    }
    Ok(())
}
