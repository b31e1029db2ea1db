//! The web UI at `GET /`: one page of plain HTML/CSS/JS embedded in the binary (no build step)
//! that builds the exact Text-to-SQL prompt, streams generation from `/generate_stream`, checks
//! the SQL against the schema and runs it read-only on bundled sample SQLite databases.
//!
//! The page and its assets are public (they hold no data); the JSON routes it calls sit behind
//! the API key like every other route, and the page sends the key the user types in.

use crate::error::ErrorResponse;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use text2sql_sql::ask::{extract_sql, sqlite, SqlReport};
use text2sql_sql::schema::Schema;

const INDEX_HTML: &str = include_str!("../ui/index.html");
const APP_JS: &str = include_str!("../ui/app.js");
const STYLE_CSS: &str = include_str!("../ui/style.css");
const QUESTIONS_JSON: &str = include_str!("../ui/samples/questions.json");
const SAMPLE_SCRIPTS: [(&str, &str); 3] = [
    ("shop", include_str!("../ui/samples/shop.sql")),
    ("hr", include_str!("../ui/samples/hr.sql")),
    ("music", include_str!("../ui/samples/music.sql")),
];

/// Rows returned by `/ui/run` unless the request asks for fewer (as `ask --max-rows`).
pub const DEFAULT_MAX_ROWS: usize = 100;
/// Rows `/ui/run` returns at most.
pub const MAX_ROWS_LIMIT: usize = 1000;
/// Time budget of one query on a sample database.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(2);

/// A bundled sample database as the page sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SampleInfo {
    /// Id used by `/ui/run`.
    pub name: String,
    /// Display title.
    pub title: String,
    /// One sentence.
    pub description: String,
    /// The CREATE TABLE statements (what goes into the prompt).
    pub ddl: String,
    /// Example questions an analyst would ask of it.
    pub questions: Vec<String>,
}

struct SampleDb {
    info: SampleInfo,
    conn: Mutex<rusqlite::Connection>,
}

#[derive(Deserialize)]
struct ExampleQuestion {
    question: String,
}

/// Builds one sample: the script runs into an in-memory database, which is then made
/// read-only for good (query_only + the reading-only authorizer of `text2sql ask`).
fn build_sample(name: &str, script: &str, questions: &serde_json::Value) -> Result<SampleDb, String> {
    let (title, description) = script
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("--"))
        .and_then(|l| l.split_once(':'))
        .map(|(t, d)| (t.trim().to_string(), d.trim().to_string()))
        .ok_or_else(|| format!("sample {name}: first line must be `-- Title: description`"))?;
    let ddl = script
        .lines()
        .take_while(|l| !l.trim_start().to_ascii_uppercase().starts_with("INSERT"))
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string();
    let questions: Vec<ExampleQuestion> = serde_json::from_value(questions.get(name).cloned().unwrap_or_default())
        .map_err(|e| format!("sample {name}: questions.json: {e}"))?;
    let mut conn = rusqlite::Connection::open_in_memory().map_err(|e| e.to_string())?;
    conn.execute_batch(script).map_err(|e| format!("sample {name}: {e}"))?;
    sqlite::make_read_only(&mut conn).map_err(|e| e.to_string())?;
    let info = SampleInfo {
        name: name.to_string(),
        title,
        description,
        ddl,
        questions: questions.into_iter().map(|q| q.question).collect(),
    };
    Ok(SampleDb { info, conn: Mutex::new(conn) })
}

fn samples() -> Result<&'static [SampleDb], UiError> {
    static SAMPLES: OnceLock<Result<Vec<SampleDb>, String>> = OnceLock::new();
    SAMPLES
        .get_or_init(|| {
            let questions: serde_json::Value = serde_json::from_str(QUESTIONS_JSON).map_err(|e| e.to_string())?;
            SAMPLE_SCRIPTS.iter().map(|(name, script)| build_sample(name, script, &questions)).collect()
        })
        .as_deref()
        .map_err(|e| UiError::new(StatusCode::INTERNAL_SERVER_ERROR, "sample_unavailable", e.clone()))
}

/// An error of the UI routes: status + `{"error", "error_type"}` like every other route.
#[derive(Debug)]
struct UiError {
    status: StatusCode,
    error_type: &'static str,
    msg: String,
}

impl UiError {
    fn new(status: StatusCode, error_type: &'static str, msg: impl Into<String>) -> Self {
        Self { status, error_type, msg: msg.into() }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorResponse { error: self.msg, error_type: self.error_type.into() })).into_response()
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// `GET /`: the page.
pub async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /ui/app.js`.
pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// `GET /ui/style.css`.
pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

/// `GET /ui/samples`: the bundled databases with their DDL and example questions.
pub async fn list_samples() -> Response {
    match samples() {
        Ok(s) => Json(s.iter().map(|s| s.info.clone()).collect::<Vec<_>>()).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /ui/run` body.
#[derive(Debug, Deserialize)]
pub struct RunRequest {
    /// Sample database name.
    pub sample: String,
    /// One read-only statement.
    pub sql: String,
    /// Row cap (default 100, at most 1000).
    pub max_rows: Option<usize>,
}

/// `POST /ui/run` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct RunResponse {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows as text (NULL as `NULL`).
    pub rows: Vec<Vec<String>>,
    /// More rows existed than `max_rows`.
    pub truncated: bool,
    /// Execution time.
    pub elapsed_ms: f64,
}

/// `POST /ui/run`: runs one read-only statement on a sample database, with the limits of
/// `text2sql ask --execute` (one statement, no writes, row cap, time cap).
pub async fn run(Json(req): Json<RunRequest>) -> Response {
    let result = tokio::task::spawn_blocking(move || run_blocking(&req)).await;
    match result {
        Ok(Ok(r)) => Json(r).into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => UiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()).into_response(),
    }
}

fn run_blocking(req: &RunRequest) -> Result<RunResponse, UiError> {
    let samples = samples()?;
    let db = samples.iter().find(|s| s.info.name == req.sample).ok_or_else(|| {
        let known: Vec<&str> = samples.iter().map(|s| s.info.name.as_str()).collect();
        UiError::new(StatusCode::NOT_FOUND, "not_found", format!("unknown sample database {:?} (have: {})", req.sample, known.join(", ")))
    })?;
    let max_rows = req.max_rows.unwrap_or(DEFAULT_MAX_ROWS);
    if max_rows == 0 || max_rows > MAX_ROWS_LIMIT {
        return Err(UiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", format!("max_rows must be in 1..={MAX_ROWS_LIMIT}")));
    }
    let mut conn = db.conn.lock().unwrap_or_else(|p| p.into_inner());
    let start = Instant::now();
    let table = sqlite::execute(&mut conn, &req.sql, max_rows, RUN_TIMEOUT).map_err(|e| {
        use text2sql_sql::error::SqlError;
        let kind = match e {
            SqlError::Refused(_) => "refused",
            SqlError::Timeout(_) => "timeout",
            _ => "sql_error",
        };
        UiError::new(StatusCode::UNPROCESSABLE_ENTITY, kind, e.to_string())
    })?;
    Ok(RunResponse {
        columns: table.columns,
        rows: table.rows,
        truncated: table.truncated,
        elapsed_ms: start.elapsed().as_secs_f64() * 1000.0,
    })
}

/// `POST /ui/check` body.
#[derive(Debug, Deserialize)]
pub struct CheckRequest {
    /// The model's raw output (code fences and trailing text are stripped).
    pub text: String,
    /// The schema's CREATE TABLE statements.
    pub ddl: String,
}

/// `POST /ui/check` answer: the SQL the page should show and run, and whether it parses and
/// names only tables and columns of the schema.
#[derive(Debug, Serialize, Deserialize)]
pub struct CheckResponse {
    /// The SQL extracted from the output.
    pub sql: String,
    /// Parser message when it does not parse.
    pub parse_error: Option<String>,
    /// Names absent from the schema (`table foo`, `column bar.baz`).
    pub unknown_names: Vec<String>,
}

/// `POST /ui/check`.
pub async fn check(Json(req): Json<CheckRequest>) -> Response {
    let schema = match Schema::from_ddl(&req.ddl) {
        Ok(s) => s,
        Err(e) => return UiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_schema", e.to_string()).into_response(),
    };
    let sql = extract_sql(&req.text);
    let report = SqlReport::check(&sql, &schema);
    let unknown_names = report.unknown_names();
    Json(CheckResponse { sql, parse_error: report.parse_error, unknown_names }).into_response()
}
