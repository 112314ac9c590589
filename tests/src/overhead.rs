//! What the servers' overhead benchmarks share (`cargo bench -p mcp-<server> --bench overhead`):
//! a call timed one at a time after a warm-up, and the table of the server's p50 and p99 beside
//! the direct call's.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

/// Calls made before timing starts (connections opened, caches and pools warm).
const WARM_UP: usize = 100;

/// How many calls to time: the variable `variable` (e.g. `TWILIO_BENCH_CALLS`), else 2,000.
pub fn calls_from_env(variable: &str) -> usize {
    std::env::var(variable)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000)
}

/// Starts the stand-in binary `name` from the target directory of the benchmark's own profile
/// (build it first, e.g. `cargo build --release -p twilio-standin`); returns the process and
/// its address. Panics saying how to build it when it cannot start.
pub fn start_standin(name: &str) -> (Child, String) {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let binary = PathBuf::from(format!("{target}/{profile}/{name}"));
    let (child, addr, _) = crate::start_listening(&binary, &[], &[]).unwrap_or_else(|e| {
        panic!("{name} did not start ({e:#}); build it first: cargo build --release -p {name}")
    });
    (child, addr)
}

/// Times `calls` calls of `call`, one at a time, after [`WARM_UP`] untimed ones. `call` gets the
/// call's number (warm-up calls from 1,000,000 on), to vary what it sends.
pub fn sample(calls: usize, mut call: impl FnMut(usize)) -> Vec<Duration> {
    for i in 0..WARM_UP {
        call(1_000_000 + i);
    }
    (0..calls)
        .map(|i| {
            let started = Instant::now();
            call(i);
            started.elapsed()
        })
        .collect()
}

/// The p50 and p99 of `samples` in microseconds (nearest rank).
pub fn p50_p99_micros(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| {
        let rank = ((samples.len().saturating_sub(1)) as f64 * q).round() as usize;
        samples.get(rank).map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    (at(0.5), at(0.99))
}

/// One row of an overhead table: the call's name, the direct call's samples and the server's.
pub type Row = (&'static str, Vec<Duration>, Vec<Duration>);

/// Prints the Markdown table the README quotes: per call, the direct call's p50 and p99, the
/// server's, and the difference. `direct` says what the direct call is.
#[allow(clippy::print_stdout)] // A benchmark's report.
pub fn print_table(server: &str, direct: &str, calls: usize, rows: Vec<Row>) {
    println!("{server} overhead over {direct} ({calls} calls each, one at a time, µs)");
    println!(
        "| call | direct p50 | direct p99 | {server} p50 | {server} p99 | overhead p50 | overhead p99 |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut figures = Vec::new();
    for (name, mut direct, mut through) in rows {
        let (d50, d99) = p50_p99_micros(&mut direct);
        let (m50, m99) = p50_p99_micros(&mut through);
        println!(
            "| `{name}` | {d50:.0} | {d99:.0} | {m50:.0} | {m99:.0} | {:.0} | {:.0} |",
            m50 - d50,
            m99 - d99
        );
        for (what, value) in [
            ("direct_p50", d50),
            ("direct_p99", d99),
            ("overhead_p50", m50 - d50),
            ("overhead_p99", m99 - d99),
        ] {
            figures.push(crate::baseline::Figure::new(
                format!("{server}_{name}_{what}"),
                value,
                "µs",
            ));
        }
    }
    // One line per figure, for `bench-compare` against the README's previous figures.
    println!();
    for figure in figures {
        println!("{}", figure.line());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        assert_eq!(p50_p99_micros(&mut samples), (51.0, 99.0));
        assert_eq!(p50_p99_micros(&mut []), (0.0, 0.0));
    }
}
