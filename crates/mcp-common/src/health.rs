//! Liveness and readiness: probes of the backends a server depends on, run concurrently with a
//! time limit and cached so that load balancers polling `/readyz` do not hammer the backends.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, join_all};
use serde::Serialize;

use crate::audit::now_rfc3339;

/// Limit on one probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Failures are cached briefly, so that a recovered backend is noticed soon.
const FAILURE_CACHE: Duration = Duration::from_secs(10);

type ProbeFn = Arc<dyn Fn() -> BoxFuture<'static, Result<String, String>> + Send + Sync>;

/// A named readiness check: `Ok(detail)` when the dependency works, `Err(reason)` otherwise.
#[derive(Clone)]
pub struct Probe {
    name: String,
    check: ProbeFn,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe").field("name", &self.name).finish()
    }
}

impl Probe {
    /// A probe named `name` running `check`.
    pub fn new<F, Fut>(name: impl Into<String>, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, String>> + Send + 'static,
    {
        Probe {
            name: name.into(),
            check: Arc::new(move || Box::pin(check())),
        }
    }
}

/// One probe's result.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// The probe.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What it found, or why it failed.
    pub detail: String,
    /// How long it took.
    pub duration_ms: u64,
}

/// The readiness of a server.
#[derive(Debug, Clone, Serialize)]
pub struct ReadinessReport {
    /// True when every probe passed.
    pub ready: bool,
    /// When the probes ran (the report may come from the cache).
    pub checked_at: String,
    /// Each probe's result.
    pub checks: Vec<ProbeReport>,
}

/// Runs probes and caches the report.
pub struct Readiness {
    probes: Vec<Probe>,
    cache_for: Duration,
    cached: tokio::sync::Mutex<Option<(Instant, ReadinessReport)>>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("probes", &self.probes)
            .finish()
    }
}

impl Readiness {
    /// Readiness over `probes`, reusing a passing report for `cache_for`.
    pub fn new(probes: Vec<Probe>, cache_for: Duration) -> Self {
        Readiness {
            probes,
            cache_for,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// The current report, from the cache when it is fresh enough.
    pub async fn report(&self) -> ReadinessReport {
        // Holding the lock while probing makes concurrent requests share one probe run.
        let mut cached = self.cached.lock().await;
        if let Some((at, report)) = &*cached {
            let max_age = if report.ready {
                self.cache_for
            } else {
                self.cache_for.min(FAILURE_CACHE)
            };
            if at.elapsed() < max_age {
                return report.clone();
            }
        }
        let checks = join_all(self.probes.iter().map(|probe| async move {
            let started = Instant::now();
            let outcome = tokio::time::timeout(PROBE_TIMEOUT, (probe.check)()).await;
            let (ok, detail) = match outcome {
                Ok(Ok(detail)) => (true, detail),
                Ok(Err(reason)) => (false, reason),
                Err(_) => (
                    false,
                    format!("no answer within {} s", PROBE_TIMEOUT.as_secs()),
                ),
            };
            ProbeReport {
                name: probe.name.clone(),
                ok,
                detail: crate::secret::scrub(&detail).into_owned(),
                duration_ms: started.elapsed().as_millis() as u64,
            }
        }))
        .await;
        let report = ReadinessReport {
            ready: checks.iter().all(|c| c.ok),
            checked_at: now_rfc3339(),
            checks,
        };
        *cached = Some((Instant::now(), report.clone()));
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn passing_reports_are_cached_and_failures_reported() {
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        let readiness = Readiness::new(
            vec![Probe::new("db", move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { Ok("2 companies".to_owned()) }
            })],
            Duration::from_secs(300),
        );
        assert!(readiness.report().await.ready);
        assert!(readiness.report().await.ready);
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "second report came from the cache"
        );

        let failing = Readiness::new(
            vec![Probe::new("odoo", || async {
                Err("connection refused".to_owned())
            })],
            Duration::from_secs(300),
        );
        let report = failing.report().await;
        assert!(!report.ready);
        assert_eq!(report.checks[0].detail, "connection refused");
    }
}
