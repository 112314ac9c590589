//! `oauth-standin`: serves the OAuth authorization server stand-in on a loopback address until
//! killed.
//!
//! `oauth-standin [--listen 127.0.0.1:0]` prints `oauth-standin: listening on http://ADDR` on
//! stderr once bound; the issuer identifier is `http://ADDR`.

use anyhow::{Context as _, bail};

const USAGE: &str = "usage: oauth-standin [--listen 127.0.0.1:0]";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = standin_kit::parse_args(std::env::args().skip(1), USAGE)?;
    if args.help {
        eprintln!("{USAGE}");
        return Ok(());
    }
    if let Some((flag, _)) = args.flags.first() {
        bail!("unknown flag {flag}\n{USAGE}");
    }
    let state = oauth_standin::AppState::new().map_err(anyhow::Error::msg)?;
    // The issuer names the bound address, so bind first, then build the routes, then announce:
    // connections wait in the backlog until the first accept.
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    state.bound_to(addr);
    let app = oauth_standin::app(state);
    eprintln!("oauth-standin: listening on http://{addr}");
    standin_kit::serve_app(app, listener)
        .await
        .context("serving")?;
    Ok(())
}
