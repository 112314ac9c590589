//! HTTP connections spread over one single-threaded runtime per core.
//!
//! Under tokio's work-stealing runtime a request's tasks (hyper's connection, rmcp's service and
//! handler, the session worker) hop between worker threads, and on a virtual machine each hop
//! to a sleeping core is an interrupt through the hypervisor. Here one acceptor hands each
//! accepted connection, in turn, to one of several threads, each running its own
//! current-thread runtime: a connection and every task its requests spawn stay on one thread.
//! Keep-alive connections make the hand-off a once-per-connection cost.
//!
//! Everything the threads share (the router, sessions, the audit log) is `Send + Sync` already;
//! a session created on one thread and used over a connection on another still works, its
//! messages crossing threads through the channels rmcp already uses.

use std::future::Future;
use std::net::SocketAddr;

use axum::serve::Listener;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// An accepted connection on its way to the thread that serves it.
type Handoff = (std::net::TcpStream, SocketAddr);

/// The connections handed to one serving thread, as axum's `serve` takes them.
pub(crate) struct HandedOver {
    connections: mpsc::UnboundedReceiver<Handoff>,
    local: SocketAddr,
}

impl Listener for HandedOver {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let Some((stream, remote)) = self.connections.recv().await else {
                // The acceptor has stopped (shutdown): no more connections, ever; the graceful
                // shutdown around `serve` ends it.
                return std::future::pending().await;
            };
            // Registered with this thread's runtime, so its I/O wakes this thread only.
            match TcpStream::from_std(stream) {
                Ok(stream) => return (stream, remote),
                Err(error) => {
                    tracing::warn!(%error, %remote, "could not take over an accepted connection");
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// How many threads serve HTTP: `TOKIO_WORKER_THREADS` when set (tokio's own setting for the
/// same thing), else one per available core.
pub(crate) fn serving_threads() -> usize {
    std::env::var("TOKIO_WORKER_THREADS")
        .ok()
        .and_then(|value| value.trim().parse::<usize>().ok())
        .filter(|threads| *threads > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1)
}

/// Accepts on `listener` until `stop` resolves, handing connections in turn to `threads`
/// listeners; returns those listeners (the first for the calling runtime) and the accepting
/// future, to be spawned on the calling runtime.
pub(crate) fn spread(
    listener: tokio::net::TcpListener,
    threads: usize,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<(Vec<HandedOver>, impl Future<Output = ()> + Send + 'static)> {
    let local = listener.local_addr()?;
    let (senders, listeners): (Vec<_>, Vec<_>) = (0..threads.max(1))
        .map(|_| {
            let (sender, connections) = mpsc::unbounded_channel();
            (sender, HandedOver { connections, local })
        })
        .unzip();
    let accepting = async move {
        tokio::pin!(stop);
        let mut next = 0;
        loop {
            let accepted = tokio::select! {
                () = &mut stop => return,
                accepted = listener.accept() => accepted,
            };
            let (stream, remote) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a moment rather than spin, as
                    // axum's own accept loop does.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            // Without TCP_NODELAY, Nagle's algorithm and delayed ACKs add ~40 ms to every SSE
            // response.
            if let Err(error) = stream.set_nodelay(true) {
                tracing::warn!(%error, "could not set TCP_NODELAY");
            }
            let stream = match stream.into_std() {
                Ok(stream) => stream,
                Err(error) => {
                    tracing::warn!(%error, %remote, "could not hand over an accepted connection");
                    continue;
                }
            };
            // A thread that has ended (its runtime failed) is skipped.
            let mut handoff = (stream, remote);
            for _ in 0..senders.len() {
                let sender = &senders[next];
                next = (next + 1) % senders.len();
                match sender.send(handoff) {
                    Ok(()) => break,
                    Err(mpsc::error::SendError(back)) => handoff = back,
                }
            }
        }
    };
    Ok((listeners, accepting))
}

/// Starts a thread named `name` that runs `serve` on a current-thread runtime of its own, and
/// waits until that runtime is up; the receiver then gets `serve`'s result when it ends.
pub(crate) async fn start_thread(
    name: String,
    serve: impl Future<Output = std::io::Result<()>> + Send + 'static,
) -> std::io::Result<oneshot::Receiver<std::io::Result<()>>> {
    let (ready, started) = oneshot::channel();
    let (done, finished) = oneshot::channel();
    std::thread::Builder::new().name(name).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                let _ = ready.send(Err(error));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        let result = runtime.block_on(serve);
        // Tasks still running (a blocking read, a session's worker) are not waited for long.
        runtime.shutdown_timeout(std::time::Duration::from_millis(200));
        let _ = done.send(result);
    })?;
    match started.await {
        Ok(Ok(())) => Ok(finished),
        Ok(Err(error)) => Err(std::io::Error::new(
            error.kind(),
            format!("could not start an HTTP serving thread: {error}"),
        )),
        Err(_) => Err(std::io::Error::other(
            "an HTTP serving thread stopped as it started",
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly.

    use super::*;

    /// Connections go to the serving threads in turn, each with its client's address, and
    /// accepting stops when asked.
    #[tokio::test]
    async fn connections_are_handed_to_each_thread_in_turn() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let stop = tokio_util::sync::CancellationToken::new();
        let stopped = stop.clone();
        let (mut listeners, accepting) =
            spread(listener, 3, async move { stopped.cancelled().await }).unwrap();
        assert_eq!(listeners.len(), 3);
        assert_eq!(listeners[2].local_addr().unwrap(), address);
        let accepting = tokio::spawn(accepting);
        let mut clients = Vec::new();
        for _ in 0..6 {
            // One at a time, so the order of arrival is the order of connection.
            let client = tokio::net::TcpStream::connect(address).await.unwrap();
            let local = client.local_addr().unwrap();
            clients.push((client, local));
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        for (index, (_, local)) in clients.iter().enumerate() {
            let listener = &mut listeners[index % 3];
            let (stream, remote) =
                tokio::time::timeout(std::time::Duration::from_secs(5), listener.accept())
                    .await
                    .expect("the connection was handed over");
            assert_eq!(remote, *local, "connection {index}");
            assert_eq!(stream.peer_addr().unwrap(), *local);
            assert!(stream.nodelay().unwrap(), "TCP_NODELAY is set");
        }
        stop.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(5), accepting)
            .await
            .expect("accepting stops when asked")
            .unwrap();
        // The listening socket is closed with it.
        assert!(tokio::net::TcpStream::connect(address).await.is_err());
    }

    #[test]
    fn one_thread_per_core_unless_tokio_worker_threads_says_otherwise() {
        // Read only, so this test does not race others over the environment.
        let threads = serving_threads();
        match std::env::var("TOKIO_WORKER_THREADS") {
            Ok(value) if value.trim().parse::<usize>().is_ok_and(|n| n > 0) => {
                assert_eq!(threads, value.trim().parse::<usize>().unwrap());
            }
            _ => assert_eq!(
                threads,
                std::thread::available_parallelism().map_or(1, usize::from)
            ),
        }
    }
}
