//! The throwaway cluster itself: start, databases, stop and start again with the data kept, and
//! no server outliving its owner.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pg_cluster::PgCluster;

async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

#[tokio::test]
async fn a_cluster_keeps_its_data_across_a_stop_and_a_start_on_the_same_port() {
    let began = Instant::now();
    let Some(pg) = PgCluster::own_for_tests() else {
        return;
    };
    eprintln!("started in {} ms", began.elapsed().as_millis());
    let url = pg.create_database("kept").unwrap();
    assert_eq!(
        url,
        format!("postgres://postgres@127.0.0.1:{}/kept", pg.port())
    );
    let client = connect(&url).await.unwrap();
    client
        .batch_execute("CREATE TABLE t (n int); INSERT INTO t VALUES (1), (2), (3)")
        .await
        .unwrap();
    assert!(
        pg.socket_dir()
            .join(format!(".s.PGSQL.{}", pg.port()))
            .exists()
    );

    let port = pg.port();
    let stopping = Instant::now();
    pg.stop().unwrap();
    eprintln!("stopped in {} ms", stopping.elapsed().as_millis());
    assert!(!pg.is_running());
    // The open session was cut, and new ones are refused.
    assert!(client.simple_query("SELECT 1").await.is_err());
    assert!(connect(&url).await.is_err());
    pg.stop().unwrap();

    let starting = Instant::now();
    pg.start_again().unwrap();
    eprintln!("started again in {} ms", starting.elapsed().as_millis());
    assert_eq!(pg.port(), port);
    let client = connect(&url).await.unwrap();
    let sum: i64 = client
        .query_one("SELECT sum(n) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(sum, 6);
    // Over the Unix socket too.
    let socket = format!(
        "host={} port={} user=postgres dbname=kept",
        pg.socket_dir().display(),
        pg.port()
    );
    assert!(connect(&socket).await.is_ok());
}

#[tokio::test]
async fn tests_share_one_cluster_with_a_database_each() {
    let Some(pg) = PgCluster::for_tests() else {
        return;
    };
    assert!(std::ptr::eq(pg, PgCluster::shared().unwrap()));
    let a = pg.new_database("Shared Test").unwrap();
    let b = pg.new_database("Shared Test").unwrap();
    assert_ne!(a, b);
    assert!(a.contains("/t_shared_test_"), "{a}");
    for url in [&a, &b] {
        let client = connect(url).await.unwrap();
        client
            .batch_execute("CREATE TABLE mine (x int)")
            .await
            .unwrap();
    }
    let error = pg.create_database("Robert'); DROP").unwrap_err();
    assert!(error.to_string().contains("lowercase"), "{error}");
    let error = pg.create_database("postgres").unwrap_err();
    assert!(format!("{error:#}").contains("already exists"), "{error:#}");
}

#[tokio::test]
async fn dropping_a_cluster_stops_its_server_and_removes_its_directory() {
    let Some(pg) = PgCluster::own_for_tests() else {
        return;
    };
    let dir = pg.socket_dir().parent().unwrap().to_owned();
    let url = pg.url("postgres");
    connect(&url).await.unwrap();
    drop(pg);
    assert!(!dir.exists(), "{} still there", dir.display());
    assert!(connect(&url).await.is_err());
}

/// Run by [`a_killed_owner_takes_its_server_along`] in a child process (`PG_CLUSTER_HOLD` set):
/// starts a cluster, says where, and waits to be killed. Passes at once otherwise.
#[test]
fn holder() {
    if std::env::var_os("PG_CLUSTER_HOLD").is_none() {
        return;
    }
    let pg = PgCluster::start().unwrap();
    println!(
        "HOLDING {} {}",
        pg.port(),
        pg.log_path().parent().unwrap().display()
    );
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn a_killed_owner_takes_its_server_along() {
    if PgCluster::for_tests().is_none() {
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "holder", "--nocapture", "--test-threads=1"])
        .env("PG_CLUSTER_HOLD", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines
        .find_map(|line| {
            // The harness writes "test holder ... " before it on the same line.
            let line = line.ok()?;
            Some(line[line.find("HOLDING ")?..].to_owned())
        })
        .expect("the holder's announcement");
    let mut words = line.split(' ').skip(1);
    let port: u16 = words.next().unwrap().parse().unwrap();
    let dir = std::path::PathBuf::from(words.next().unwrap());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    // SIGKILL: no destructor runs; only the closed pipe tells the watchdog.
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while (std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() || dir.exists())
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server outlived its owner"
    );
    assert!(!dir.exists(), "{} outlived its owner", dir.display());
}
