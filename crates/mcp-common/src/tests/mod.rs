//! The governing layer end to end, in process, through items only this crate sees (`Governed`,
//! `serve_streams`, the HTTP router): kept inside the crate so that they need not be public.

mod governed;
mod session_end;
mod sse_polling;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::audit::AuditLog;
use crate::config::AuditDestination;
use crate::gate::ToolPolicy;
use crate::governed::{Domain, GovernConfig, Governed};
use crate::grants::{GrantStore, Grants};
use crate::health::Readiness;
use crate::http::{HttpSettings, router};
use crate::metrics::Metrics;

/// Serves `domain` as `name` over stateful HTTP on a loopback port with the default policy and
/// sessions closed after `session_idle`; returns the `/mcp` URL and the token that stops it.
async fn serve_http<S: Domain>(
    domain: S,
    name: &str,
    session_idle: Duration,
) -> (String, CancellationToken) {
    let config = GovernConfig {
        server: name.into(),
        version: "0.0.0".into(),
        about: String::new(),
        policy: ToolPolicy::default(),
        consent_timeout: Duration::from_secs(5),
        tool_timeout: Duration::from_secs(30),
        grants: Arc::new(Grants::Local(Arc::new(GrantStore::in_memory()))),
        team: None,
        credential_fields: &[],
        confirm_always: false,
        limits: crate::limits::LimitSettings::default(),
    };
    let metrics = Arc::new(Metrics::new(name));
    let governed = Governed::new(
        domain,
        config,
        AuditLog::open(&AuditDestination::Off).unwrap(),
        metrics.clone(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let settings = HttpSettings {
        listen: addr,
        stateless: false,
        tokens: vec![],
        allowed_hosts: crate::http::default_allowed_hosts(&addr),
        allowed_origins: vec![],
        max_body_bytes: 1 << 20,
        session_idle,
    };
    let shutdown = CancellationToken::new();
    let app = router(
        governed,
        &settings,
        Arc::new(Readiness::new(vec![], Duration::from_secs(1))),
        metrics,
        shutdown.clone(),
        format!("mcp-{name}"),
    );
    let stop = shutdown.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
    });
    (format!("http://{addr}/mcp"), shutdown)
}
