//! `ask` library on a real PostgreSQL: a throwaway cluster (initdb + pg_ctl) in a temp dir
//! on a free loopback port. Skipped (with `SKIP:` on stderr) when the PostgreSQL server
//! binaries are not installed (Debian: `apt-get install postgresql`).
#![cfg(feature = "postgres")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use text2sql_sql::ask::{Db, DbUrl, ExecLimits};
use text2sql_sql::SqlError;

fn pg_bin_dir() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if d.join("pg_ctl").is_file() && d.join("initdb").is_file() {
                return Some(d);
            }
        }
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql").ok()?.flatten().map(|e| e.path().join("bin")).collect();
    dirs.sort();
    dirs.into_iter().rev().find(|d| d.join("pg_ctl").is_file() && d.join("initdb").is_file())
}

/// A running throwaway cluster, stopped on drop.
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    as_user: Option<String>,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn cmd(bin: &Path, as_user: &Option<String>, tool: &str) -> Command {
        match as_user {
            // initdb/postgres refuse to run as root: run them as the `postgres` user.
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(bin.join(tool));
                c
            }
            None => Command::new(bin.join(tool)),
        }
    }

    fn start() -> Result<Cluster, String> {
        let bin = pg_bin_dir().ok_or("pg_ctl/initdb not found (install the Debian package postgresql)")?;
        let root = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false);
        let as_user = if root {
            let has_user = Command::new("id").arg("postgres").output().map(|o| o.status.success()).unwrap_or(false);
            if !has_user || Command::new("runuser").arg("--help").output().is_err() {
                return Err("running as root without a `postgres` user and runuser to run initdb".into());
            }
            Some("postgres".to_string())
        } else {
            None
        };
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let data = dir.path().join("data");
        if as_user.is_some() {
            let ok = Command::new("chown").args(["-R", "postgres:"]).arg(dir.path()).status().map(|s| s.success()).unwrap_or(false);
            if !ok {
                return Err("cannot chown the temp dir to postgres".into());
            }
        }
        let out = Self::cmd(&bin, &as_user, "initdb")
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let opts = format!("-p {port} -c listen_addresses=127.0.0.1 -k {} -F", dir.path().display());
        let out = Self::cmd(&bin, &as_user, "pg_ctl")
            .args(["-w", "-t", "60", "-o", &opts, "-l"])
            .arg(dir.path().join("log"))
            .arg("-D")
            .arg(&data)
            .arg("start")
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            let log = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
            return Err(format!("pg_ctl start failed: {}{log}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(Cluster { bin, data, as_user, port, _dir: dir })
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Self::cmd(&self.bin, &self.as_user, "pg_ctl").args(["-m", "immediate", "-D"]).arg(&self.data).arg("stop").output();
    }
}

#[test]
fn postgres_introspection_and_read_only_execution() {
    let cluster = match Cluster::start() {
        Ok(c) => c,
        Err(why) => {
            eprintln!("SKIP: postgres tests: {why}");
            return;
        }
    };
    let mut admin = postgres::Client::connect(&cluster.url(), postgres::NoTls).unwrap();
    admin
        .batch_execute(
            "CREATE TABLE singer (singer_id SERIAL PRIMARY KEY, name VARCHAR(40) NOT NULL, age INTEGER, rating NUMERIC(3,1));
             CREATE TABLE concert (concert_id INTEGER, singer_id INTEGER REFERENCES singer(singer_id), held_on DATE,
                                   PRIMARY KEY (concert_id));
             CREATE VIEW adults AS SELECT name FROM singer WHERE age >= 18;
             CREATE SEQUENCE counter;
             INSERT INTO singer (name, age, rating) SELECT 'singer' || lpad(i::text, 3, '0'), 10 + i % 60, 4.5
               FROM generate_series(0, 249) AS i;
             INSERT INTO concert VALUES (1, 1, '2024-05-01');",
        )
        .unwrap();

    let url = DbUrl::parse(&cluster.url()).unwrap();
    let mut db = Db::open(&url).unwrap();
    let s = db.introspect().unwrap();
    let names: Vec<&str> = s.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["adults", "concert", "singer"]);
    let singer = s.table("singer").unwrap();
    let cols: Vec<(&str, &str, bool)> =
        singer.columns.iter().map(|c| (c.name.as_str(), c.data_type.as_str(), c.primary_key)).collect();
    assert_eq!(
        cols,
        [
            ("singer_id", "INTEGER", true),
            ("name", "CHARACTER VARYING(40)", false),
            ("age", "INTEGER", false),
            ("rating", "NUMERIC", false)
        ]
    );
    let concert = s.table("concert").unwrap();
    assert!(concert.columns[0].primary_key);
    assert_eq!(concert.columns[2].data_type, "DATE");
    assert_eq!(concert.foreign_keys.len(), 1);
    assert_eq!(
        (concert.foreign_keys[0].column.as_str(), concert.foreign_keys[0].ref_table.as_str(), concert.foreign_keys[0].ref_column.as_str()),
        ("singer_id", "singer", "singer_id")
    );
    assert_eq!(text2sql_sql::Schema::from_ddl(&s.to_ddl()).unwrap(), s);

    // Row cap through a cursor.
    let limits = ExecLimits { max_rows: 100, timeout: Duration::from_secs(5) };
    let t = db.execute("SELECT name, age, rating, NULL AS nothing FROM singer ORDER BY singer_id;", &limits).unwrap();
    assert_eq!(t.columns, ["name", "age", "rating", "nothing"]);
    assert_eq!(t.rows.len(), 100);
    assert!(t.truncated);
    assert_eq!(t.rows[0], ["singer000", "10", "4.5", "NULL"]);
    let t = db.execute("SELECT count(*) FROM adults WHERE name LIKE 'x%'", &limits).unwrap();
    assert_eq!((t.columns.clone(), t.rows.clone(), t.truncated), (vec!["count".to_string()], vec![vec!["0".to_string()]], false));
    let t = db.execute("SELECT name FROM singer WHERE age > 1000", &limits).unwrap();
    assert_eq!((t.columns.len(), t.rows.len()), (1, 0));

    // Refused before execution.
    for (sql, want) in [
        ("INSERT INTO singer (name) VALUES ('x')", "INSERT"),
        ("UPDATE singer SET age = 1", "UPDATE"),
        ("DELETE FROM singer", "DELETE"),
        ("DROP TABLE concert", "DROP TABLE"),
        ("SELECT 1; DELETE FROM singer", "2 statements"),
        ("WITH d AS (DELETE FROM singer RETURNING *) SELECT count(*) FROM d", "DELETE"),
        ("SELECT * INTO copy FROM singer", "INTO"),
    ] {
        match db.execute(sql, &limits) {
            Err(SqlError::Refused(m)) => assert!(m.contains(want), "{sql}: {m}"),
            other => panic!("{sql}: expected a refusal, got {other:?}"),
        }
    }
    // Second line of defence: a SELECT that writes fails in the READ ONLY transaction.
    match db.execute("SELECT nextval('counter')", &limits) {
        Err(SqlError::Postgres(m)) => assert!(m.contains("read-only transaction"), "{m}"),
        other => panic!("expected a read-only failure, got {other:?}"),
    }
    // Time budget: statement_timeout cancels the query.
    let quick = ExecLimits { max_rows: 10, timeout: Duration::from_millis(300) };
    match db.execute("SELECT pg_sleep(5)", &quick) {
        Err(SqlError::Timeout(300)) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(db.execute("SELECT 1 AS one", &limits).unwrap().rows, [["1"]]);

    // Nothing changed.
    let n: i64 = admin.query_one("SELECT count(*) FROM singer", &[]).unwrap().get(0);
    assert_eq!(n, 250);
    let last: i64 = admin.query_one("SELECT last_value FROM counter", &[]).unwrap().get(0);
    let called: bool = admin.query_one("SELECT is_called FROM counter", &[]).unwrap().get(0);
    assert_eq!((last, called), (1, false));
    let tables: i64 = admin.query_one("SELECT count(*) FROM information_schema.tables WHERE table_name = 'copy'", &[]).unwrap().get(0);
    assert_eq!(tables, 0);
}
