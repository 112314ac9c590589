//! The `odoo-standin` binary: flags, the banner the harness parses, loopback only.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use odoo_standin::Value;
use odoo_standin::xmlrpc::{encode_method_call, parse_method_response};

/// Kills the child when the test ends, whatever happens.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(args: &[&str]) -> (KillOnDrop, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_odoo-standin"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start odoo-standin");
    let stderr = child.stderr.take().expect("stderr");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stderr).read_line(&mut line);
        let _ = sender.send(line);
    });
    let guard = KillOnDrop(child);
    let line = receiver
        .recv_timeout(Duration::from_secs(30))
        .expect("a banner within 30 s");
    (guard, line)
}

#[tokio::test]
async fn the_binary_prints_its_address_and_uses_its_flags() {
    let (_child, line) = start(&[
        "--listen",
        "127.0.0.1:0",
        "--db",
        "acme",
        "--user",
        "boss",
        "--password",
        "s3cret",
        "--api-key",
        "k-123",
    ]);
    let url = line
        .trim()
        .strip_prefix("odoo-standin: listening on ")
        .unwrap_or_else(|| panic!("banner: {line:?}"))
        .to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );

    let client = crate::client();
    let version = client
        .get(format!("{url}/web/version"))
        .send()
        .await
        .expect("version");
    assert_eq!(version.status(), 200);
    let body = encode_method_call(
        "authenticate",
        &[
            "acme".into(),
            "boss".into(),
            "s3cret".into(),
            Value::Dict(vec![]),
        ],
    );
    let answer = client
        .post(format!("{url}/xmlrpc/2/common"))
        .body(body)
        .send()
        .await
        .expect("authenticate")
        .text()
        .await
        .expect("body");
    assert_eq!(
        parse_method_response(answer.as_bytes()).expect("response"),
        Ok(Value::Int(2))
    );
    let json2 = client
        .post(format!("{url}/json/2/res.partner/search_count"))
        .header("Authorization", "bearer k-123")
        .header("X-Odoo-Database", "acme")
        .json(&serde_json::json!({"domain": [["name", "ilike", "acme"]]}))
        .send()
        .await
        .expect("json-2");
    assert_eq!(json2.text().await.expect("body"), "3");
}

#[test]
fn the_binary_refuses_non_loopback_addresses() {
    let output = Command::new(env!("CARGO_BIN_EXE_odoo-standin"))
        .args(["--listen", "0.0.0.0:0"])
        .stdin(Stdio::null())
        .output()
        .expect("run odoo-standin");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a loopback address"), "{stderr}");
    let output = Command::new(env!("CARGO_BIN_EXE_odoo-standin"))
        .args(["--bogus", "x"])
        .output()
        .expect("run odoo-standin");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown flag --bogus"));
}
