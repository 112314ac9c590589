//! A throwaway PostgreSQL cluster for tests (test-only, not published).
//!
//! [`PgCluster::start`] runs `initdb` into a temporary directory and starts `postgres` on a free
//! loopback port and on a Unix socket of its own, tuned for speed rather than durability (no
//! fsync, no full-page writes, minimal WAL). Each test takes a database of its own with
//! [`PgCluster::new_database`], so tests in one process share one cluster ([`PgCluster::shared`]);
//! a test that takes the server away ([`PgCluster::stop`], [`PgCluster::start_again`]) starts a
//! cluster of its own.
//!
//! The binaries are found in `PG_CLUSTER_BIN` (a directory), else the newest
//! `/usr/lib/postgresql/<version>/bin` (Debian's `postgresql` package), else `PATH`.
//! PostgreSQL refuses to run as root: as root, `initdb` and `postgres` run as the `postgres` user.
//!
//! The server runs under a small shell watchdog whose standard input is a pipe held by this
//! process: when the test process ends in any way (even killed), the pipe closes, the watchdog
//! stops the server and removes the directory, so no server outlives its tests.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

/// How long the server may take to accept connections, and to stop.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings for speed: the data is thrown away, so durability buys nothing.
const SETTINGS: &[&str] = &[
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "wal_level=minimal",
    "max_wal_senders=0",
    "max_wal_size=1GB",
    "checkpoint_timeout=1h",
    "autovacuum=off",
    "jit=off",
    "shared_buffers=32MB",
    "max_connections=200",
    "lc_messages=C",
    "log_min_messages=warning",
];

/// The watchdog, run by `sh -c` with `$1` the cluster's directory and the rest the server's
/// command line. It reads its standard input (our pipe) through fd 3, since a background job's
/// standard input is /dev/null: a line means "stop, keep the data" ([`PgCluster::stop`]), end of
/// file means the owner is gone, so the directory goes too. `kill -INT` is PostgreSQL's fast
/// shutdown. The watchdog exits when the server does, so a server dying at start is seen at once.
/// The marker carries the watchdog's pid (`$$` is the parent's in a subshell) so a reader left by
/// an earlier start cannot mark a later one. It ignores the signals a terminal's Ctrl-C or
/// `timeout` send to the whole process group, so it lives to clean up (the server handles them
/// itself).
const WATCHDOG: &str = r#"top=$1; shift
trap '' HUP INT TERM
exec 3<&0 </dev/null
"$@" 3<&- &
pid=$!
{ read -r _ <&3 || : >"$top/owner-gone.$$"; kill -INT "$pid" 2>/dev/null; } &
exec 3<&-
wait "$pid"
status=$?
if [ -e "$top/owner-gone.$$" ]; then rm -rf "$top"; fi
exit "$status"
"#;

/// A running (or stopped) throwaway PostgreSQL cluster; dropping it stops the server and removes
/// its directory.
pub struct PgCluster {
    /// `None` only while dropping.
    dir: Option<tempfile::TempDir>,
    bin: PathBuf,
    port: u16,
    /// The `postgres` user's ids when this process is root.
    run_as: Option<(u32, u32)>,
    running: Mutex<Option<Running>>,
    databases: AtomicU64,
}

struct Running {
    watchdog: Child,
    /// The write end of the watchdog's pipe: closing it stops the server.
    pipe: ChildStdin,
}

impl std::fmt::Debug for PgCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgCluster")
            .field("dir", &self.top())
            .field("port", &self.port)
            .finish()
    }
}

impl PgCluster {
    /// Creates and starts a new cluster, ready for connections when this returns.
    pub fn start() -> anyhow::Result<PgCluster> {
        let began = Instant::now();
        let bin = find_binaries()?;
        let run_as = if is_root() {
            Some(postgres_user().context(
                "PostgreSQL refuses to run as root, and there is no `postgres` user to run it as (Debian's postgresql package creates it)",
            )?)
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("pg-cluster-")
            .tempdir()
            .context("creating the cluster's temporary directory")?;
        std::fs::create_dir(dir.path().join("sock"))?;
        if let Some((uid, gid)) = run_as {
            for path in [dir.path().to_owned(), dir.path().join("sock")] {
                std::os::unix::fs::chown(&path, Some(uid), Some(gid))
                    .with_context(|| format!("giving {} to the postgres user", path.display()))?;
            }
        }
        let mut cluster = PgCluster {
            dir: Some(dir),
            bin,
            port: 0,
            run_as,
            running: Mutex::new(None),
            databases: AtomicU64::new(0),
        };
        cluster.initdb()?;
        // Another process may take the free port between our check and the server's bind: try
        // a few.
        let mut attempts = 0;
        loop {
            attempts += 1;
            cluster.port = free_port()?;
            match cluster.launch() {
                Ok(()) => break,
                Err(_) if attempts < 5 && cluster.log_tail().contains("could not bind") => {}
                Err(error) => return Err(cluster.keep_for_inspection(error)),
            }
        }
        note(&format!(
            "pg-cluster: PostgreSQL on 127.0.0.1:{} ready in {} ms ({})",
            cluster.port,
            began.elapsed().as_millis(),
            cluster.top().display()
        ));
        Ok(cluster)
    }

    /// One cluster for the whole test process, started on first use. Its server stops and its
    /// directory is removed when the process exits (the watchdog sees the pipe close). Never
    /// stop it: tests running beside yours use it; start a cluster of your own instead.
    pub fn shared() -> anyhow::Result<&'static PgCluster> {
        static SHARED: OnceLock<Result<PgCluster, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| PgCluster::start().map_err(|error| format!("{error:#}")))
            .as_ref()
            .map_err(|error| anyhow!("{error}"))
    }

    /// [`PgCluster::shared`] for a test: `None` (after a `skipped` line on stderr) when PostgreSQL
    /// cannot be started on a developer's machine; a panic when `CI` is set, so CI never passes
    /// by skipping. Every test that needs PostgreSQL starts with
    /// `let Some(pg) = PgCluster::for_tests() else { return };`.
    pub fn for_tests() -> Option<&'static PgCluster> {
        or_skip(PgCluster::shared())
    }

    /// A cluster of the test's own (to stop and start again), with the same rule as
    /// [`PgCluster::for_tests`] when PostgreSQL is missing.
    pub fn own_for_tests() -> Option<PgCluster> {
        or_skip(PgCluster::start())
    }

    /// `postgres://postgres@127.0.0.1:<port>/<db>`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// The loopback TCP port, kept across [`PgCluster::stop`] and [`PgCluster::start_again`].
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the server's Unix socket (`.s.PGSQL.<port>`).
    pub fn socket_dir(&self) -> PathBuf {
        self.top().join("sock")
    }

    /// The server's log (its standard error).
    pub fn log_path(&self) -> PathBuf {
        self.top().join("postgres.log")
    }

    /// Creates the database `name` (lowercase letters, digits and `_`) and returns its URL.
    pub fn create_database(&self, name: &str) -> anyhow::Result<String> {
        let valid = !name.is_empty()
            && name.len() <= 63
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !name.as_bytes()[0].is_ascii_digit();
        if !valid {
            bail!("database name {name:?}: use 1 to 63 lowercase letters, digits and _");
        }
        let statement = format!("CREATE DATABASE \"{name}\"");
        self.execute("postgres", &statement)
            .with_context(|| format!("creating database {name}"))?;
        Ok(self.url(name))
    }

    /// Creates a database with a name of its own, starting with `hint`, and returns its URL.
    pub fn new_database(&self, hint: &str) -> anyhow::Result<String> {
        let hint: String = hint
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        self.create_database(&format!("t_{hint}_{n}"))
    }

    /// Runs `sql` (one or more statements, no results) in database `db`.
    pub fn execute(&self, db: &str, sql: &str) -> anyhow::Result<()> {
        let url = self.url(db);
        let sql = sql.to_owned();
        on_own_runtime(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .with_context(|| format!("connecting to {url}"))?;
            let connection = tokio::spawn(connection);
            let done = client.batch_execute(&sql).await;
            drop(client);
            let _ = connection.await;
            done.map_err(|error| anyhow!(explain(&error)))
        })?
    }

    /// Stops the server with a fast shutdown (sessions cut, data kept); the port stays reserved
    /// for [`PgCluster::start_again`]. Stopping a stopped cluster does nothing.
    pub fn stop(&self) -> anyhow::Result<()> {
        let running = self.lock().take();
        if let Some(mut running) = running {
            // A line asks for a stop that keeps the directory; a closed pipe alone would not.
            let _ = running.pipe.write_all(b"stop\n");
            drop(running.pipe);
            wait_for_exit(&mut running.watchdog, READY_TIMEOUT).with_context(|| {
                format!("stopping PostgreSQL (log: {})", self.log_path().display())
            })?;
        }
        Ok(())
    }

    /// Starts the server again on the same port and data after [`PgCluster::stop`]; ready for
    /// connections when this returns. Starting a running cluster does nothing.
    pub fn start_again(&self) -> anyhow::Result<()> {
        if self.lock().is_some() {
            return Ok(());
        }
        self.launch()
    }

    /// Whether the server was started and not stopped since.
    pub fn is_running(&self) -> bool {
        self.lock().is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn top(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), |dir| dir.path())
    }

    /// A command running `program` as the postgres user when we are root.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = match self.run_as {
            None => Command::new(program),
            Some((uid, gid)) => {
                if let Some(setpriv) = on_path("setpriv") {
                    let mut command = Command::new(setpriv);
                    command
                        .arg(format!("--reuid={uid}"))
                        .arg(format!("--regid={gid}"))
                        .arg("--init-groups")
                        .arg(program);
                    command
                } else {
                    let mut command = Command::new("runuser");
                    command.args(["-u", "postgres", "--"]).arg(program);
                    command
                }
            }
        };
        // Messages in English whatever the machine's locale, so logs and errors read the same.
        command.env("LC_ALL", "C").env_remove("PGDATA");
        command
    }

    fn initdb(&self) -> anyhow::Result<()> {
        let log_path = self.top().join("initdb.log");
        let log = std::fs::File::create(&log_path)?;
        let status = self
            .command(self.bin.join("initdb"))
            .arg("-D")
            .arg(self.top().join("data"))
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()
            .with_context(|| format!("running {}", self.bin.join("initdb").display()))?;
        if !status.success() {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            bail!("initdb failed ({status}):\n{}", last_lines(&text, 20));
        }
        Ok(())
    }

    /// Starts the server under its watchdog and waits until it accepts connections.
    fn launch(&self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let mut command = self.command("sh");
        command
            .arg("-c")
            .arg(WATCHDOG)
            .arg("pg-cluster-watchdog")
            .arg(self.top())
            .arg(self.bin.join("postgres"))
            .arg("-D")
            .arg(self.top().join("data"))
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-c")
            .arg("listen_addresses=127.0.0.1")
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.socket_dir().display()
            ));
        for setting in SETTINGS {
            command.arg("-c").arg(setting);
        }
        let mut watchdog = command
            .stdin(Stdio::piped())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting the PostgreSQL watchdog (sh)")?;
        let pipe = watchdog
            .stdin
            .take()
            .ok_or_else(|| anyhow!("the watchdog has no standard input"))?;
        let mut running = Running { watchdog, pipe };
        let deadline = Instant::now() + READY_TIMEOUT;
        let url = self.url("postgres");
        loop {
            if let Some(status) = running.watchdog.try_wait()? {
                bail!(
                    "PostgreSQL exited at start ({status}); log {}:\n{}",
                    self.log_path().display(),
                    self.log_tail()
                );
            }
            if accepts_connections(&url) {
                break;
            }
            if Instant::now() > deadline {
                drop(running.pipe);
                let _ = wait_for_exit(&mut running.watchdog, Duration::from_secs(5));
                bail!(
                    "PostgreSQL did not accept connections within {} s; log {}:\n{}",
                    READY_TIMEOUT.as_secs(),
                    self.log_path().display(),
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        *self.lock() = Some(running);
        Ok(())
    }

    fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(self.log_path()) {
            let _ = file.read_to_string(&mut text);
        }
        last_lines(&text, 20)
    }

    /// Keeps the directory so the log named in `error` can be read.
    fn keep_for_inspection(&mut self, error: anyhow::Error) -> anyhow::Error {
        if let Some(dir) = self.dir.take() {
            let path = dir.keep();
            return error.context(format!(
                "the cluster's directory is kept: {}",
                path.display()
            ));
        }
        error
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Some(mut running) = self.lock().take() {
            // End of file: the watchdog stops the server and removes the directory.
            drop(running.pipe);
            let _ = wait_for_exit(&mut running.watchdog, READY_TIMEOUT);
        }
        // Whatever the watchdog left (after a stop, or if it could not remove it).
        drop(self.dir.take());
    }
}

fn or_skip<T>(result: anyhow::Result<T>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(error) => {
            let test = std::thread::current()
                .name()
                .unwrap_or("this test")
                .to_owned();
            if std::env::var_os("CI").is_some() {
                panic!("{test} needs PostgreSQL, and CI must run it: {error:#}");
            }
            eprintln!("skipped {test}: no PostgreSQL: {error:#}");
            None
        }
    }
}

/// `PG_CLUSTER_BIN`, else the newest `/usr/lib/postgresql/<version>/bin` with `initdb`, else the
/// directory of `initdb` on `PATH`.
fn find_binaries() -> anyhow::Result<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(dir) = std::env::var_os("PG_CLUSTER_BIN") {
        let dir = PathBuf::from(dir);
        if has_both(&dir) {
            return Ok(dir);
        }
        bail!(
            "PG_CLUSTER_BIN={} has no initdb and postgres",
            dir.display()
        );
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            has_both(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Some(initdb) = on_path("initdb") {
        let initdb = std::fs::canonicalize(&initdb).unwrap_or(initdb);
        if let Some(dir) = initdb.parent().filter(|dir| has_both(dir)) {
            return Ok(dir.to_owned());
        }
    }
    bail!(
        "no PostgreSQL binaries (initdb, postgres) in /usr/lib/postgresql/*/bin or on PATH: install Debian's `postgresql` package (apt-get install postgresql), or set PG_CLUSTER_BIN to their directory"
    )
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

/// Whether this process runs as root: /proc/self belongs to the effective user.
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata("/proc/self") {
        Ok(meta) => meta.uid() == 0,
        Err(_) => Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| out.stdout.trim_ascii() == b"0"),
    }
}

/// The `postgres` user's uid and gid, from /etc/passwd.
fn postgres_user() -> anyhow::Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.first() != Some(&"postgres") || fields.len() < 4 {
                return None;
            }
            Some((fields[2].parse().ok()?, fields[3].parse().ok()?))
        })
        .ok_or_else(|| anyhow!("no postgres user in /etc/passwd"))
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn accepts_connections(url: &str) -> bool {
    let url = url.to_owned();
    on_own_runtime(async move {
        let mut config: tokio_postgres::Config = url.parse().ok()?;
        config.connect_timeout(Duration::from_secs(1));
        let (client, connection) = config.connect(tokio_postgres::NoTls).await.ok()?;
        let connection = tokio::spawn(connection);
        let answered = client.simple_query("SELECT 1").await.is_ok();
        drop(client);
        let _ = connection.await;
        Some(answered)
    })
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// Runs `future` on a current-thread runtime in a thread of its own, so this works whether or
/// not the caller is inside a tokio runtime (block_on inside one panics).
fn on_own_runtime<F>(future: F) -> anyhow::Result<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(runtime.block_on(future))
    })
    .join()
    .map_err(|_| anyhow!("the PostgreSQL helper thread panicked"))?
}

fn wait_for_exit(child: &mut Child, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("PostgreSQL did not stop within {} s", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// PostgreSQL's own message rather than tokio-postgres's "db error".
fn explain(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => error.to_string(),
    }
}

/// Start-up timing on stderr, which the test harness shows only for failing tests.
fn note(line: &str) {
    eprintln!("{line}");
}
