//! `pg-cluster [DATABASE]`: starts a throwaway PostgreSQL cluster (as the tests do), creates
//! `DATABASE` (default `bench`), prints its URL on standard output and keeps the cluster until
//! standard input closes; then the cluster stops and its directory goes. For benchmarks of team
//! mode (`just bench-team`), not for keeping data.

// The URL on stdout is this program's product.
#![allow(clippy::print_stdout)]

use std::io::{Read, Write};
use std::process::ExitCode;

use pg_cluster::PgCluster;

fn main() -> ExitCode {
    let database = std::env::args().nth(1).unwrap_or_else(|| "bench".into());
    let cluster = match PgCluster::start() {
        Ok(cluster) => cluster,
        Err(error) => {
            eprintln!("pg-cluster: {error:#}");
            return ExitCode::from(1);
        }
    };
    let url = match cluster.create_database(&database) {
        Ok(url) => url,
        Err(error) => {
            eprintln!("pg-cluster: {error:#}");
            return ExitCode::from(1);
        }
    };
    println!("{url}");
    let _ = std::io::stdout().flush();
    // Until whoever started us closes our standard input.
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(cluster);
    ExitCode::SUCCESS
}
