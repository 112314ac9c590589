//! `twilio-standin`: serves the Twilio stand-in on a loopback address until killed.
//!
//! `twilio-standin [--listen 127.0.0.1:0]` prints `twilio-standin: listening on http://ADDR` on stderr once bound.

use anyhow::{Context as _, bail};

const USAGE: &str = "usage: twilio-standin [--listen 127.0.0.1:0]";

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
    // Seed and build the routes before announcing, so a printed banner means the server is really up.
    let app = twilio_standin::app(twilio_standin::AppState::new());
    let listener = standin_kit::bind_and_announce("twilio-standin", args.listen).await?;
    standin_kit::serve_app(app, listener)
        .await
        .context("serving")?;
    Ok(())
}
