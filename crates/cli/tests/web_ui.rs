//! The web UI of `text2sql serve`, exercised in a real headless Chromium (Selenium +
//! chromedriver, installed by ./scripts/test.sh) by tests/ui/drive_ui.py: API key flow, adapter
//! dropdown from /v1/models, streamed generation, SQL checks, Run on a sample database with a
//! result table and a chart, read-only refusal, About panel. Screenshots are kept as test
//! artifacts in target/web-ui/.

mod serve_common;

use serve_common::{adapter_dir, model_dir, python, Server};
use std::path::{Path, PathBuf};
use std::process::Command;

fn browser() -> Option<(String, String)> {
    let find = |names: &[&str]| {
        names.iter().find_map(|n| {
            ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"].iter().map(|d| Path::new(d).join(n)).find(|p| p.is_file())
        })
    };
    let chromium = find(&["chromium", "chromium-browser", "google-chrome"]);
    let driver = find(&["chromedriver"]);
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c.display().to_string(), d.display().to_string())),
        _ => {
            eprintln!("SKIP web UI test: chromium and chromedriver not found (./scripts/test.sh installs them with apt)");
            None
        }
    }
}

fn artifact(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/web-ui");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn drive(server: &Server, py: &str, (chromium, driver): &(String, String), args: &[&str], shot: &Path) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/ui/drive_ui.py");
    let out = Command::new(py)
        .arg(script)
        .args(["--base", &server.base, "--chromium", chromium, "--chromedriver", driver])
        .arg("--screenshot")
        .arg(shot)
        .args(args)
        .env("SE_OFFLINE", "true")
        .output()
        .expect("run drive_ui.py");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "drive_ui.py failed (screenshot: {})\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver log:\n{}",
        shot.display(),
        server.log()
    );
    assert!(shot.is_file(), "no screenshot written");
}

#[test]
fn web_ui_in_headless_chromium_with_api_key() {
    let Some(py) = python("TEXT2SQL_TEST_PYTHON", "web_ui_in_headless_chromium_with_api_key") else { return };
    let Some(b) = browser() else { return };
    let adapters = format!("qv={},pat={}", adapter_dir("qv").display(), adapter_dir("pat").display());
    let model = model_dir();
    let server = Server::start(
        &["--model-id", &model, "--api-key", "ui-secret", "--hostname", "127.0.0.1", "--port", "0"],
        &[("LORA_ADAPTERS", &adapters)],
    );
    // The page itself is public; the JSON routes it calls are not.
    let page = ureq::get(&server.url("/")).call().unwrap().into_string().unwrap();
    assert!(page.contains("<title>text2sql copilot</title>"));
    match ureq::get(&server.url("/ui/samples")).call() {
        Err(ureq::Error::Status(code, _)) => assert_eq!(code, 401),
        other => panic!("/ui/samples without the key: {other:?}"),
    }
    drive(&server, &py, &b, &["--mode", "tiny", "--key", "ui-secret", "--adapters", "qv,pat"], &artifact("tiny.png"));
}

#[test]
fn web_ui_generates_and_runs_sql_with_the_shipped_adapter() {
    let Some(py) = python("TEXT2SQL_TEST_PYTHON", "web_ui_generates_and_runs_sql_with_the_shipped_adapter") else { return };
    let Some(b) = browser() else { return };
    // No --model-id: the embedded default base and the shipped adapters, as `cargo run -- serve`.
    let server = Server::start(&["--hostname", "127.0.0.1", "--port", "0"], &[]);
    drive(&server, &py, &b, &["--mode", "real", "--sample", "shop", "--question", "How many customers are there?"], &artifact("real.png"));
}
