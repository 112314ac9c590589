//! `stripe-standin`: serves the Stripe stand-in on a loopback address until killed.
//!
//! `stripe-standin [--listen 127.0.0.1:0]` prints `stripe-standin: listening on http://ADDR` on stderr once bound.

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    standin_kit::serve_main("stripe-standin", || {
        stripe_standin::app(stripe_standin::AppState::new())
    })
    .await
}
