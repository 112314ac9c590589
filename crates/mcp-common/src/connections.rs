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
//! messages crossing threads through the channels rmcp already uses. That crossing costs two
//! wake-ups per request, and clients commonly open a second connection after `initialize` (a
//! pool, the GET stream), so a new connection whose first request names a session
//! (`Mcp-Session-Id`, read with `MSG_PEEK`, leaving the bytes for hyper) goes to the thread
//! where that session lives ([`Affinity`]); other connections go to each thread in turn.

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

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

/// How long a new connection may take to send its first bytes before it is handed over without
/// a look at them (to the next thread in turn). Clients send their request at once.
const FIRST_BYTES_WAIT: Duration = Duration::from_millis(50);

/// How much of a connection's first request is read (not consumed) for its session header.
const PEEK_BYTES: usize = 4096;

thread_local! {
    /// The index of the serving thread this is, on serving threads.
    static SERVING_THREAD: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Which serving thread each HTTP session lives on (rmcp runs a session's worker on the thread
/// that created it), so that new connections for it are handed to that thread.
#[derive(Debug, Clone, Default)]
pub(crate) struct Affinity {
    threads: Arc<Mutex<HashMap<String, usize>>>,
}

impl Affinity {
    /// Notes that `session` was created on the calling thread (when it is a serving thread).
    pub(crate) fn created_here(&self, session: &str) {
        if let Some(thread) = SERVING_THREAD.get() {
            self.lock().insert(session.to_owned(), thread);
        }
    }

    /// Forgets an ended session.
    pub(crate) fn ended(&self, session: &str) {
        self.lock().remove(session);
    }

    fn thread_of(&self, session: &str) -> Option<usize> {
        self.lock().get(session).copied()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.threads.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Marks the calling thread as serving thread `index` (for [`Affinity::created_here`]).
pub(crate) fn serving_as(index: usize) {
    SERVING_THREAD.set(Some(index));
}

/// The `Mcp-Session-Id` of the request starting at the front of `stream`, if its first bytes
/// arrive soon and hold it; nothing is consumed.
async fn session_of_first_request(stream: &TcpStream) -> Option<String> {
    let mut bytes = [0u8; PEEK_BYTES];
    let read = tokio::time::timeout(FIRST_BYTES_WAIT, stream.peek(&mut bytes))
        .await
        .ok()?
        .ok()?;
    session_header(&bytes[..read])
}

/// The value of the `Mcp-Session-Id` header in the head of an HTTP/1 request (names are
/// case-insensitive), as far as `head` goes.
fn session_header(head: &[u8]) -> Option<String> {
    let head = head
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map_or(head, |end| &head[..end]);
    head.split(|&byte| byte == b'\n').skip(1).find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&byte| byte == b':')?;
        let (name, value) = line.split_at(colon);
        if !name.eq_ignore_ascii_case(b"mcp-session-id") {
            return None;
        }
        let value = std::str::from_utf8(&value[1..]).ok()?.trim();
        (!value.is_empty()).then(|| value.to_owned())
    })
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

/// Accepts on `listener` until `stop` resolves, handing each connection to one of `threads`
/// listeners: the thread of the session its first request names (see [`Affinity`]), else each
/// in turn. Returns those listeners (the first for the calling runtime) and the accepting future,
/// to be spawned on the calling runtime.
pub(crate) fn spread(
    listener: tokio::net::TcpListener,
    threads: usize,
    affinity: Affinity,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<(Vec<HandedOver>, impl Future<Output = ()> + Send + 'static)> {
    let local = listener.local_addr()?;
    let (senders, listeners): (Vec<_>, Vec<_>) = (0..threads.max(1))
        .map(|_| {
            let (sender, connections) = mpsc::unbounded_channel();
            (sender, HandedOver { connections, local })
        })
        .unzip();
    let dispatch = Arc::new(Dispatch {
        senders,
        next: AtomicUsize::new(0),
        affinity,
    });
    let accepting = async move {
        tokio::pin!(stop);
        loop {
            let accepted = tokio::select! {
                () = &mut stop => return,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, remote)) => {
                    let dispatch = dispatch.clone();
                    // Its own task: a client slow to send its request delays no other.
                    tokio::spawn(async move { dispatch.hand_over(stream, remote).await });
                }
                Err(error) => {
                    // Out of file descriptors and the like: wait a moment rather than spin, as
                    // axum's own accept loop does.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    };
    Ok((listeners, accepting))
}

/// Where accepted connections go.
struct Dispatch {
    senders: Vec<mpsc::UnboundedSender<Handoff>>,
    /// The thread next in turn.
    next: AtomicUsize,
    affinity: Affinity,
}

impl Dispatch {
    async fn hand_over(&self, stream: TcpStream, remote: SocketAddr) {
        // Without TCP_NODELAY, Nagle's algorithm and delayed ACKs add ~40 ms to every SSE
        // response.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::warn!(%error, "could not set TCP_NODELAY");
        }
        let home = match session_of_first_request(&stream).await {
            Some(session) => self.affinity.thread_of(&session),
            None => None,
        };
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(%error, %remote, "could not hand over an accepted connection");
                return;
            }
        };
        let count = self.senders.len();
        let first = home
            .filter(|thread| *thread < count)
            .unwrap_or_else(|| self.next.fetch_add(1, Ordering::Relaxed) % count);
        // A thread that has ended (its runtime failed) is skipped.
        let mut handoff = (stream, remote);
        for offset in 0..count {
            match self.senders[(first + offset) % count].send(handoff) {
                Ok(()) => return,
                Err(mpsc::error::SendError(back)) => handoff = back,
            }
        }
    }
}

/// Starts serving thread `index` (named `mcp-http-<index>`), which runs `serve` on a
/// current-thread runtime of its own, and
/// waits until that runtime is up; the receiver then gets `serve`'s result when it ends.
pub(crate) async fn start_thread(
    index: usize,
    serve: impl Future<Output = std::io::Result<()>> + Send + 'static,
) -> std::io::Result<oneshot::Receiver<std::io::Result<()>>> {
    let (ready, started) = oneshot::channel();
    let (done, finished) = oneshot::channel();
    std::thread::Builder::new()
        .name(format!("mcp-http-{index}"))
        .spawn(move || {
            serving_as(index);
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn accept_within(listener: &mut HandedOver) -> (TcpStream, SocketAddr) {
        tokio::time::timeout(std::time::Duration::from_secs(5), listener.accept())
            .await
            .expect("the connection was handed over")
    }

    /// Connections go to the serving threads in turn, each with its client's address, and
    /// accepting stops when asked.
    #[tokio::test]
    async fn connections_are_handed_to_each_thread_in_turn() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let stop = tokio_util::sync::CancellationToken::new();
        let stopped = stop.clone();
        let (mut listeners, accepting) = spread(listener, 3, Affinity::default(), async move {
            stopped.cancelled().await;
        })
        .unwrap();
        assert_eq!(listeners.len(), 3);
        assert_eq!(listeners[2].local_addr().unwrap(), address);
        let accepting = tokio::spawn(accepting);
        for index in 0..6 {
            let mut client = tokio::net::TcpStream::connect(address).await.unwrap();
            let local = client.local_addr().unwrap();
            // Half send a request at once, half nothing (handed over after a short wait).
            if index % 2 == 0 {
                client
                    .write_all(b"POST /mcp HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .unwrap();
            }
            let (stream, remote) = accept_within(&mut listeners[index % 3]).await;
            assert_eq!(remote, local, "connection {index}");
            assert_eq!(stream.peer_addr().unwrap(), local);
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

    /// A connection whose first request names a session goes to the thread the session was
    /// created on, and the request's bytes are still there for the server to read.
    #[tokio::test]
    async fn a_connection_for_a_session_goes_to_its_thread() {
        let affinity = Affinity::default();
        let noting = affinity.clone();
        std::thread::spawn(move || {
            serving_as(2);
            noting.created_here("f3a9c2");
        })
        .join()
        .unwrap();
        // A thread that is not a serving thread notes nothing.
        affinity.created_here("elsewhere");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (mut listeners, accepting) =
            spread(listener, 3, affinity.clone(), std::future::pending()).unwrap();
        let accepting = tokio::spawn(accepting);
        let request = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nmcp-session-id: f3a9c2\r\nContent-Length: 2\r\n\r\n{}";
        for _ in 0..2 {
            let mut client = tokio::net::TcpStream::connect(address).await.unwrap();
            client.write_all(request).await.unwrap();
            let (mut stream, _) = accept_within(&mut listeners[2]).await;
            let mut received = vec![0; request.len()];
            stream.read_exact(&mut received).await.unwrap();
            assert_eq!(received, request);
        }
        // Unknown and ended sessions, and the thread that is not one, go in turn.
        affinity.ended("f3a9c2");
        for (index, session) in ["f3a9c2", "unknown", "elsewhere"].iter().enumerate() {
            let mut client = tokio::net::TcpStream::connect(address).await.unwrap();
            let request = format!("GET /mcp HTTP/1.1\r\nMcp-Session-Id: {session}\r\n\r\n");
            client.write_all(request.as_bytes()).await.unwrap();
            accept_within(&mut listeners[index]).await;
        }
        accepting.abort();
    }

    #[test]
    fn the_session_header_is_read_from_a_request_head() {
        let cases: [(&[u8], Option<&str>); 7] = [
            (
                b"POST /mcp HTTP/1.1\r\nMcp-Session-Id: abc\r\n\r\n",
                Some("abc"),
            ),
            (
                b"POST /mcp HTTP/1.1\r\nhost: x\r\nMCP-SESSION-ID:  a-b \r\n\r\n",
                Some("a-b"),
            ),
            // Cut short: what arrived is enough.
            (
                b"GET /mcp HTTP/1.1\r\nmcp-session-id: abc\r\nAcc",
                Some("abc"),
            ),
            (b"POST /mcp HTTP/1.1\r\nHost: x\r\n\r\n", None),
            (b"POST /mcp HTTP/1.1\r\nMcp-Session-Id:\r\n\r\n", None),
            // In the body, not the head.
            (b"POST /mcp HTTP/1.1\r\n\r\nMcp-Session-Id: abc\r\n", None),
            // The request line is not a header.
            (b"Mcp-Session-Id: abc\r\n\r\n", None),
        ];
        for (head, expected) in cases {
            assert_eq!(
                session_header(head).as_deref(),
                expected,
                "{}",
                String::from_utf8_lossy(head)
            );
        }
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
