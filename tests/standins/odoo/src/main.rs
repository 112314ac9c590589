//! `odoo-standin`: serves the Odoo stand-in on a loopback address until killed.
//!
//! `odoo-standin [--listen 127.0.0.1:0] [--db test] [--user admin] [--password admin] [--api-key test-api-key]`
//! prints `odoo-standin: listening on http://ADDR` on stderr once bound.

use std::net::SocketAddr;

use anyhow::{Context as _, bail};
use odoo_standin::StandinConfig;

const USAGE: &str = "usage: odoo-standin [--listen 127.0.0.1:0] [--db test] [--user admin] [--password admin] [--api-key test-api-key]";

fn parse_args(
    mut args: impl Iterator<Item = String>,
) -> anyhow::Result<(SocketAddr, StandinConfig)> {
    let mut listen: SocketAddr = "127.0.0.1:0".parse().context("default listen address")?;
    let mut config = StandinConfig::standard();
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            eprintln!("{USAGE}");
            std::process::exit(0);
        }
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--listen" => {
                listen = value
                    .parse()
                    .with_context(|| format!("--listen {value} is not an IP:PORT address"))?
            }
            "--db" => config.db = value,
            "--user" => config.user = value,
            "--password" => config.password = value,
            "--api-key" => config.api_key = value,
            "--demo-api-key" => config.demo_api_key = value,
            other => bail!("unknown flag {other}\n{USAGE}"),
        }
    }
    if !listen.ip().is_loopback() {
        bail!("--listen {listen} is not a loopback address; the stand-in only binds loopback");
    }
    Ok((listen, config))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let (listen, config) = parse_args(std::env::args().skip(1))?;
    // Build the routes before announcing the address, so a printed banner means the server is really up.
    let app = odoo_standin::app(odoo_standin::AppState::new(config));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    eprintln!("odoo-standin: listening on http://{addr}");
    odoo_standin::serve_app(app, listener)
        .await
        .context("serving")?;
    Ok(())
}
