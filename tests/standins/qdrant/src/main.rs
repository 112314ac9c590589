//! `qdrant-standin`: serves the Qdrant stand-in (gRPC) on a loopback address until killed.
//!
//! `qdrant-standin [--listen 127.0.0.1:0] [--api-key KEY]` prints `qdrant-standin: listening on http://ADDR` on
//! stderr once bound.

use std::net::SocketAddr;

use anyhow::{Context as _, bail};
use qdrant_standin::StandinConfig;

const USAGE: &str = "usage: qdrant-standin [--listen 127.0.0.1:0] [--api-key KEY]";

fn parse_args(args: impl Iterator<Item = String>) -> anyhow::Result<(SocketAddr, StandinConfig)> {
    // `--listen` (loopback only) and the flag syntax are the stand-in kit's; `--api-key` is Qdrant's.
    let parsed = standin_kit::parse_args(args, USAGE)?;
    if parsed.help {
        eprintln!("{USAGE}");
        std::process::exit(0);
    }
    let mut config = StandinConfig::default();
    for (flag, value) in parsed.flags {
        match flag.as_str() {
            "--api-key" => config.api_key = Some(value),
            other => bail!("unknown flag {other}\n{USAGE}"),
        }
    }
    Ok((parsed.listen, config))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let (listen, config) = parse_args(std::env::args().skip(1))?;
    // The services are built synchronously inside `serve` before the first accept, and connections queue in the
    // listener's backlog meanwhile, so announcing now cannot make a client fail.
    let listener = standin_kit::bind_and_announce("qdrant-standin", listen).await?;
    qdrant_standin::serve(config, listener)
        .await
        .context("serving")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> anyhow::Result<(SocketAddr, StandinConfig)> {
        parse_args(args.iter().map(|arg| arg.to_string()))
    }

    #[test]
    fn flags_parse_and_only_loopback_is_accepted() {
        let (listen, config) = parse(&["--listen", "127.0.0.1:7000", "--api-key", "k"]).unwrap();
        assert_eq!(listen.port(), 7000);
        assert_eq!(config.api_key.as_deref(), Some("k"));
        assert!(parse(&["--listen", "0.0.0.0:7000"]).is_err());
        assert!(parse(&["--bogus", "x"]).is_err());
        assert!(parse(&["--listen"]).is_err());
    }
}
