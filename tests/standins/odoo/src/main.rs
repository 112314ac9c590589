//! `odoo-standin`: serves the Odoo stand-in on a loopback address until killed.
//!
//! `odoo-standin [--listen 127.0.0.1:0] [--db test] [--user admin] [--password admin] [--api-key test-api-key]`
//! prints `odoo-standin: listening on http://ADDR` on stderr once bound.

use std::net::SocketAddr;

use anyhow::{Context as _, bail};
use odoo_standin::StandinConfig;

const USAGE: &str = "usage: odoo-standin [--listen 127.0.0.1:0] [--db test] [--user admin] [--password admin] [--api-key test-api-key]";

fn parse_args(args: impl Iterator<Item = String>) -> anyhow::Result<(SocketAddr, StandinConfig)> {
    // `--listen` (loopback only) and the flag syntax are the stand-in kit's; the rest are Odoo's.
    let parsed = standin_kit::parse_args(args, USAGE)?;
    if parsed.help {
        eprintln!("{USAGE}");
        std::process::exit(0);
    }
    let mut config = StandinConfig::standard();
    for (flag, value) in parsed.flags {
        match flag.as_str() {
            "--db" => config.db = value,
            "--user" => config.user = value,
            "--password" => config.password = value,
            "--api-key" => config.api_key = value,
            "--demo-api-key" => config.demo_api_key = value,
            other => bail!("unknown flag {other}\n{USAGE}"),
        }
    }
    Ok((parsed.listen, config))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let (listen, config) = parse_args(std::env::args().skip(1))?;
    // Build the routes before announcing the address, so a printed banner means the server is really up.
    let app = odoo_standin::app(odoo_standin::AppState::new(config));
    let listener = standin_kit::bind_and_announce("odoo-standin", listen).await?;
    odoo_standin::serve_app(app, listener)
        .await
        .context("serving")?;
    Ok(())
}
