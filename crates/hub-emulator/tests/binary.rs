//! The `hub-emulator` binary: flags, token checks over raw HTTP, and the official client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &std::path::Path, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hub-emulator"))
        .args(["--port", "0", "--data-dir", data.to_str().unwrap(), "--token", "alice=tok_alice", "--token", "bob=tok_bob"])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().rsplit("http://").next().unwrap().to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{line}");
    Server { child, addr }
}

/// Minimal HTTP/1.1 request; returns (status, headers+body text).
fn http(addr: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, out)
}

#[test]
fn binary_checks_tokens_and_namespaces() {
    let d = tempfile::tempdir().unwrap();
    let srv = start(d.path(), &[]);
    let (st, out) = http(&srv.addr, "GET", "/api/whoami-v2", Some("tok_alice"), "");
    assert_eq!(st, 200);
    assert!(out.contains("\"name\":\"alice\""), "{out}");
    let (st, out) = http(&srv.addr, "GET", "/api/whoami-v2", Some("nope"), "");
    assert_eq!(st, 401);
    assert!(out.to_ascii_lowercase().contains("x-error-message: invalid credentials in authorization header"), "{out}");
    let (st, _) = http(&srv.addr, "POST", "/api/repos/create", Some("tok_alice"), r#"{"name":"r","organization":null,"visibility":"private"}"#);
    assert_eq!(st, 200);
    let (st, out) = http(&srv.addr, "POST", "/api/repos/create", Some("tok_alice"), r#"{"name":"r","organization":"alice"}"#);
    assert_eq!(st, 409);
    assert!(out.contains("\"url\""), "409 must carry url: {out}");
    let (st, _) = http(&srv.addr, "POST", "/api/repos/create", Some("tok_bob"), r#"{"name":"r2","organization":"alice"}"#);
    assert_eq!(st, 403);
    let (st, out) = http(&srv.addr, "GET", "/api/models/alice/r", Some("tok_bob"), "");
    assert_eq!(st, 404);
    assert!(out.to_ascii_lowercase().contains("x-error-code: reponotfound"), "{out}");
    let (st, out) = http(&srv.addr, "GET", "/api/models/alice/r/revision/main", Some("tok_alice"), "");
    assert_eq!(st, 200);
    assert!(out.contains("\"private\":true") && out.contains(".gitattributes"), "{out}");
    let (st, out) = http(&srv.addr, "HEAD", "/alice/r/resolve/main/missing.txt", Some("tok_alice"), "");
    assert_eq!(st, 404);
    assert!(out.to_ascii_lowercase().contains("x-error-code: entrynotfound"), "{out}");
    let (st, out) = http(&srv.addr, "GET", "/alice/r/resolve/nobranch/x", Some("tok_alice"), "");
    assert_eq!(st, 404);
    assert!(out.to_ascii_lowercase().contains("x-error-code: revisionnotfound"), "{out}");
    let (st, out) = http(&srv.addr, "POST", "/api/validate-yaml", None, r#"{"content":"---\nbase_model: not a/valid id\n---\n","repoType":"model"}"#);
    assert_eq!(st, 400, "{out}");
    drop(srv);

    // repos persist in --data-dir across restarts
    let srv = start(d.path(), &[]);
    let (st, _) = http(&srv.addr, "GET", "/api/models/alice/r", Some("tok_alice"), "");
    assert_eq!(st, 200);
}

#[test]
fn bad_token_flag_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_hub-emulator"))
        .args(["--data-dir", "/nonexistent-unused", "--token", "no-equals-sign"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NAME=TOKEN"));
}

#[test]
fn official_client_round_trip_against_the_binary() {
    let Some(py) = std::env::var_os("TEXT2SQL_TEST_PYTHON").filter(|p| !p.is_empty()) else {
        eprintln!("SKIP official_client_round_trip_against_the_binary: TEXT2SQL_TEST_PYTHON is not set (./scripts/test.sh sets it)");
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let srv = start(&d.path().join("data"), &["--multipart-chunk-size", "4000000"]);
    let folder = d.path().join("f");
    std::fs::create_dir_all(&folder).unwrap();
    let big: Vec<u8> = (0..10_500_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(folder.join("weights.bin"), &big).unwrap();
    std::fs::write(folder.join("a.txt"), b"a\n").unwrap();
    let script = r#"
import os, sys, huggingface_hub as hf
api = hf.HfApi()
assert api.whoami()["name"] == "alice"
api.create_repo("alice/bin", private=True)
api.create_repo("alice/bin", exist_ok=True)
api.upload_folder(repo_id="alice/bin", folder_path=sys.argv[1], commit_message="m")
p = hf.snapshot_download("alice/bin")
for n in ("weights.bin", "a.txt"):
    assert open(os.path.join(p, n), "rb").read() == open(os.path.join(sys.argv[1], n), "rb").read(), n
assert sorted(api.list_repo_files("alice/bin")) == [".gitattributes", "a.txt", "weights.bin"]
info = api.model_info("alice/bin", files_metadata=True)
lfs = [s for s in info.siblings if s.rfilename == "weights.bin"][0].lfs
assert lfs.size == 10_500_000, lfs
paths = {p.path: p for p in api.get_paths_info("alice/bin", ["a.txt", "weights.bin", "missing.txt"])}
assert sorted(paths) == ["a.txt", "weights.bin"], paths
assert paths["weights.bin"].lfs.size == 10_500_000 and paths["a.txt"].size == 2, paths
assert hf.file_exists("alice/bin", "a.txt") and not hf.file_exists("alice/bin", "nope.txt")
print("OK")
"#;
    let out = Command::new(py)
        .args(["-c", script, folder.to_str().unwrap()])
        .env("HF_ENDPOINT", format!("http://{}", srv.addr))
        .env("HF_TOKEN", "tok_alice")
        .env("HF_HOME", d.path().join("home"))
        .env("HF_HUB_DISABLE_XET", "1")
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("OK"), "{text}");
}
