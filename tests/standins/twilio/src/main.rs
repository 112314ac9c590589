//! `twilio-standin`: serves the Twilio stand-in on a loopback address until killed.
//!
//! `twilio-standin [--listen 127.0.0.1:0]` prints `twilio-standin: listening on http://ADDR` on stderr once bound.

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    standin_kit::serve_main("twilio-standin", || {
        twilio_standin::app(twilio_standin::AppState::new())
    })
    .await
}
