//! `openai-standin`: serves the OpenAI-compatible stand-in on a loopback address until killed.
//!
//! `openai-standin [--listen 127.0.0.1:0] [--api-key KEY]` prints `openai-standin: listening on http://ADDR` on
//! stderr once bound; the API is under `http://ADDR/v1`. `--api-key ""` accepts any key or none, like a local server.

use anyhow::{Context as _, bail};

const USAGE: &str = "usage: openai-standin [--listen 127.0.0.1:0] [--api-key KEY]";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = standin_kit::parse_args(std::env::args().skip(1), USAGE)?;
    if args.help {
        eprintln!("{USAGE}");
        return Ok(());
    }
    let mut api_key = Some(openai_standin::DEFAULT_API_KEY.to_owned());
    for (flag, value) in &args.flags {
        match flag.as_str() {
            "--api-key" if value.is_empty() => api_key = None,
            "--api-key" => api_key = Some(value.clone()),
            other => bail!("unknown flag {other}\n{USAGE}"),
        }
    }
    // Build the routes before announcing, so a printed banner means the server is really up.
    let app = openai_standin::app(openai_standin::AppState::new(api_key));
    let listener = standin_kit::bind_and_announce("openai-standin", args.listen).await?;
    standin_kit::serve_app(app, listener)
        .await
        .context("serving")?;
    Ok(())
}
