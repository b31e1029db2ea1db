//! `ask` library on SQLite: introspection, trimming on a 30-table schema, read-only
//! refusals (the database file is byte-for-byte unchanged), row cap and time budget.

use std::path::{Path, PathBuf};
use std::time::Duration;

use text2sql_sql::ask::{self, sqlite, Db, DbUrl, ExecLimits};
use text2sql_sql::{Schema, SqlError};

fn make_db(dir: &Path) -> PathBuf {
    let path = dir.join("music.db");
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT NOT NULL, country VARCHAR(40), age INT);
         CREATE TABLE concert (concert_id INTEGER, singer_id INTEGER REFERENCES singer, year TEXT,
                               PRIMARY KEY (concert_id), FOREIGN KEY (singer_id) REFERENCES singer(singer_id));
         CREATE TABLE ticket (concert_id INT, seat TEXT, price REAL, PRIMARY KEY (concert_id, seat),
                              FOREIGN KEY (concert_id) REFERENCES concert);
         CREATE VIEW old_singers AS SELECT name, age FROM singer WHERE age > 40;
         CREATE INDEX singer_age ON singer(age);",
    )
    .unwrap();
    let mut stmt = c.prepare("INSERT INTO singer (name, country, age) VALUES (?1, ?2, ?3)").unwrap();
    for i in 0..250 {
        stmt.execute(rusqlite::params![format!("singer{i:03}"), if i % 2 == 0 { "France" } else { "Peru" }, 20 + i % 50])
            .unwrap();
    }
    path
}

#[test]
fn introspects_tables_views_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = make_db(dir.path());
    let mut db = Db::open(&DbUrl::parse(&format!("sqlite://{}", path.display())).unwrap()).unwrap();
    let s = db.introspect().unwrap();
    let names: Vec<&str> = s.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["singer", "concert", "ticket", "old_singers"]);
    let singer = s.table("singer").unwrap();
    let cols: Vec<(&str, &str, bool)> =
        singer.columns.iter().map(|c| (c.name.as_str(), c.data_type.as_str(), c.primary_key)).collect();
    assert_eq!(
        cols,
        [("singer_id", "INTEGER", true), ("name", "TEXT", false), ("country", "VARCHAR(40)", false), ("age", "INT", false)]
    );
    let concert = s.table("concert").unwrap();
    assert!(concert.columns[0].primary_key);
    // Column-level `REFERENCES singer` (no column) resolves to singer's primary key.
    let fks: Vec<(&str, &str, &str)> =
        concert.foreign_keys.iter().map(|f| (f.column.as_str(), f.ref_table.as_str(), f.ref_column.as_str())).collect();
    assert_eq!(fks, [("singer_id", "singer", "singer_id"), ("singer_id", "singer", "singer_id")]);
    let ticket = s.table("ticket").unwrap();
    assert_eq!(ticket.columns.iter().filter(|c| c.primary_key).count(), 2);
    assert_eq!(ticket.foreign_keys[0].ref_table, "concert");
    assert_eq!(ticket.foreign_keys[0].ref_column, "concert_id");
    assert_eq!(s.table("old_singers").unwrap().columns.len(), 2);
    // The DDL we prompt with parses back to the same schema.
    assert_eq!(Schema::from_ddl(&s.to_ddl()).unwrap(), s);
}

#[test]
fn missing_sqlite_file_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nope.db");
    let err = Db::open(&DbUrl::Sqlite(p.clone())).err().unwrap().to_string();
    assert!(err.contains("nope.db") && err.contains("no such"), "{err}");
    assert!(!p.exists());
}

/// A 30-table retail/HR/logistics schema.
fn big_schema() -> Schema {
    let ddl = "
CREATE TABLE categories (category_id INT PRIMARY KEY, category_name TEXT, parent_id INT);
CREATE TABLE products (product_id INT PRIMARY KEY, product_name TEXT, category_id INT, unit_price REAL, FOREIGN KEY (category_id) REFERENCES categories(category_id));
CREATE TABLE suppliers (supplier_id INT PRIMARY KEY, company TEXT, phone TEXT);
CREATE TABLE product_suppliers (product_id INT, supplier_id INT, FOREIGN KEY (product_id) REFERENCES products(product_id), FOREIGN KEY (supplier_id) REFERENCES suppliers(supplier_id));
CREATE TABLE customers (customer_id INT PRIMARY KEY, first_name TEXT, last_name TEXT, email TEXT, city TEXT);
CREATE TABLE orders (order_id INT PRIMARY KEY, customer_id INT, order_date TEXT, status TEXT, FOREIGN KEY (customer_id) REFERENCES customers(customer_id));
CREATE TABLE order_items (order_id INT, product_id INT, quantity INT, FOREIGN KEY (order_id) REFERENCES orders(order_id), FOREIGN KEY (product_id) REFERENCES products(product_id));
CREATE TABLE payments (payment_id INT PRIMARY KEY, order_id INT, amount REAL, paid_at TEXT, FOREIGN KEY (order_id) REFERENCES orders(order_id));
CREATE TABLE shipments (shipment_id INT PRIMARY KEY, order_id INT, carrier_id INT, shipped_at TEXT, FOREIGN KEY (order_id) REFERENCES orders(order_id), FOREIGN KEY (carrier_id) REFERENCES carriers(carrier_id));
CREATE TABLE carriers (carrier_id INT PRIMARY KEY, carrier_name TEXT);
CREATE TABLE warehouses (warehouse_id INT PRIMARY KEY, location TEXT, capacity INT);
CREATE TABLE inventory (warehouse_id INT, product_id INT, stock INT, FOREIGN KEY (warehouse_id) REFERENCES warehouses(warehouse_id), FOREIGN KEY (product_id) REFERENCES products(product_id));
CREATE TABLE employees (employee_id INT PRIMARY KEY, full_name TEXT, department_id INT, hire_date TEXT, salary REAL, FOREIGN KEY (department_id) REFERENCES departments(department_id));
CREATE TABLE departments (department_id INT PRIMARY KEY, department_name TEXT, budget REAL);
CREATE TABLE salaries_history (employee_id INT, changed_at TEXT, old_salary REAL, FOREIGN KEY (employee_id) REFERENCES employees(employee_id));
CREATE TABLE reviews (review_id INT PRIMARY KEY, product_id INT, customer_id INT, rating INT, body TEXT, FOREIGN KEY (product_id) REFERENCES products(product_id), FOREIGN KEY (customer_id) REFERENCES customers(customer_id));
CREATE TABLE coupons (coupon_id INT PRIMARY KEY, code TEXT, discount REAL);
CREATE TABLE coupon_redemptions (coupon_id INT, order_id INT);
CREATE TABLE stores (store_id INT PRIMARY KEY, store_city TEXT, manager_id INT);
CREATE TABLE store_visits (store_id INT, visited_on TEXT, visitors INT);
CREATE TABLE marketing_campaigns (campaign_id INT PRIMARY KEY, channel TEXT, spend REAL, started_on TEXT);
CREATE TABLE campaign_clicks (campaign_id INT, clicked_at TEXT);
CREATE TABLE support_tickets (ticket_id INT PRIMARY KEY, customer_id INT, opened_at TEXT, severity TEXT);
CREATE TABLE ticket_comments (ticket_id INT, author TEXT, comment TEXT);
CREATE TABLE currencies (currency_code TEXT PRIMARY KEY, rate REAL);
CREATE TABLE tax_rates (region TEXT, rate REAL);
CREATE TABLE audit_log (log_id INT PRIMARY KEY, actor TEXT, action TEXT, at TEXT);
CREATE TABLE app_settings (setting_key TEXT PRIMARY KEY, setting_value TEXT);
CREATE TABLE newsletter_subscribers (subscriber_email TEXT PRIMARY KEY, subscribed_on TEXT);
CREATE TABLE holidays (holiday_date TEXT PRIMARY KEY, holiday_name TEXT);
";
    let s = Schema::from_ddl(ddl).unwrap();
    assert_eq!(s.tables.len(), 30);
    s
}

fn kept(t: &ask::Trimmed) -> Vec<String> {
    let mut v: Vec<String> = t.schema.tables.iter().map(|t| t.name.clone()).collect();
    v.sort();
    v
}

#[test]
fn trimming_picks_relevant_tables_and_fk_neighbours() {
    let s = big_schema();
    let budget = |ddl: &str| ddl.len() <= 1500;

    // Plural/singular and inflections (customers, ordered, category/categories); order_items
    // links orders to products.
    let t = ask::trim_schema(&s, "Which customers ordered products in the Toys category?", 8, &budget);
    assert!(t.trimmed());
    let k = kept(&t);
    for want in ["categories", "customers", "order_items", "orders", "products"] {
        assert!(k.contains(&want.to_string()), "{want} missing from {k:?}");
    }
    for not in ["holidays", "app_settings", "employees", "marketing_campaigns", "currencies"] {
        assert!(!k.contains(&not.to_string()), "{not} kept: {k:?}");
    }
    assert!(k.len() <= 8);
    assert!(budget(&t.schema.to_ddl()));
    // The trimmed schema keeps declaration order and is valid DDL.
    assert_eq!(Schema::from_ddl(&t.schema.to_ddl()).unwrap(), t.schema);

    // Column words count too (salary -> employees), and the FK target comes along.
    let t = ask::trim_schema(&s, "What is the average salary per department name?", 3, &budget);
    let k = kept(&t);
    assert_eq!(k, ["departments", "employees", "salaries_history"], "{:?}", t.kept);

    let t = ask::trim_schema(&s, "List shipments with their carrier name", 2, &budget);
    assert_eq!(kept(&t), ["carriers", "shipments"]);

    // FK neighbours come along: employees references departments (no lexical match).
    let t = ask::trim_schema(&s, "What is the highest budget?", 2, &budget);
    assert_eq!(kept(&t), ["departments", "employees"]);
    let emp = t.kept.iter().find(|c| c.table == "employees").unwrap();
    assert_eq!(emp.neighbour_of.as_deref(), Some("departments"));
    assert_eq!(emp.score, 0.0);

    // Rare words weigh more than common ones: `rating` only exists in reviews.
    let ranked = ask::rank_tables(&s, "average rating of reviews");
    assert_eq!(ranked[0].table, "reviews");
    assert_eq!(ranked[0].matched, ["rating", "review"]);

    // When everything fits, nothing is dropped.
    let t = ask::trim_schema(&s, "anything", 30, &|_| true);
    assert!(!t.trimmed());
    assert_eq!(t.schema, s);
}

const WRITES: &[(&str, &str)] = &[
    ("INSERT INTO singer (name) VALUES ('x')", "INSERT"),
    ("UPDATE singer SET age = 1", "UPDATE"),
    ("DELETE FROM singer", "DELETE"),
    ("REPLACE INTO singer (singer_id, name) VALUES (1, 'x')", "REPLACE"),
    ("DROP TABLE ticket", "DROP TABLE"),
    ("CREATE TABLE evil (a INT)", "CREATE TABLE"),
    ("ALTER TABLE singer ADD COLUMN evil INT", "ALTER TABLE"),
    ("ATTACH DATABASE 'ATTACHED' AS other", "ATTACH"),
    ("DETACH DATABASE other", "DETACH"),
    ("PRAGMA user_version = 7", "PRAGMA"),
    ("PRAGMA journal_mode = WAL", "PRAGMA"),
    ("SELECT 1; DELETE FROM singer", "2 statements"),
    ("SELECT name FROM singer; SELECT 2;", "2 statements"),
];

#[test]
fn writes_are_refused_before_execution_and_the_file_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = make_db(dir.path());
    let before = std::fs::read(&path).unwrap();
    let mut db = Db::open(&DbUrl::Sqlite(path.clone())).unwrap();
    let limits = ExecLimits { max_rows: 10, timeout: Duration::from_secs(5) };
    for (sql, want) in WRITES {
        let sql = sql.replace("ATTACHED", &dir.path().join("attached.db").display().to_string());
        match db.execute(&sql, &limits) {
            Err(SqlError::Refused(m)) => {
                assert!(m.contains(want), "{sql}: {m}");
                assert!(m.contains("exactly one read-only SELECT"), "{m}");
            }
            other => panic!("{sql}: expected a refusal, got {other:?}"),
        }
    }
    drop(db);
    assert_eq!(std::fs::read(&path).unwrap(), before, "the database file changed");
    assert!(!dir.path().join("attached.db").exists());
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(files.len(), 1, "stray files: {files:?}");
}

#[test]
fn the_read_only_connection_is_a_second_line_of_defence() {
    let dir = tempfile::tempdir().unwrap();
    let path = make_db(dir.path());
    let before = std::fs::read(&path).unwrap();
    let conn = sqlite::open_read_only(&path).unwrap();
    // Bypassing the SQL check: SQLite itself refuses every write.
    for (sql, _) in WRITES.iter().filter(|(_, w)| !w.contains("statements")) {
        let sql = sql.replace("ATTACHED", &dir.path().join("attached.db").display().to_string());
        assert!(conn.execute_batch(&sql).is_err(), "{sql} was allowed");
    }
    // Reads work, including the read-only pragma functions used for introspection.
    let n: i64 = conn.query_row("SELECT count(*) FROM singer", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 250);
    drop(conn);
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert!(!dir.path().join("attached.db").exists());
}

#[test]
fn execute_caps_rows_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = make_db(dir.path());
    let mut db = Db::open(&DbUrl::Sqlite(path)).unwrap();
    let limits = ExecLimits { max_rows: 100, timeout: Duration::from_secs(5) };
    let t = db.execute("SELECT name, age FROM singer ORDER BY singer_id;", &limits).unwrap();
    assert_eq!(t.columns, ["name", "age"]);
    assert_eq!(t.rows.len(), 100);
    assert!(t.truncated);
    assert_eq!(t.rows[0], ["singer000", "20"]);
    assert_eq!(t.rows[99], ["singer099", "69"]);
    let r = t.render();
    assert!(r.contains("| name") && r.contains("singer099") && !r.contains("singer100"), "{r}");
    assert!(r.contains("(100 rows shown; more rows were cut by --max-rows 100)"), "{r}");

    let t = db.execute("SELECT count(*) AS n, NULL AS missing FROM singer WHERE country = 'Peru'", &limits).unwrap();
    assert_eq!(t.rows, [["125", "NULL"]]);
    assert!(!t.truncated);
    assert!(t.render().ends_with("(1 row)"));

    let t = db.execute("SELECT name FROM singer WHERE age > 1000", &limits).unwrap();
    assert_eq!((t.columns.len(), t.rows.len()), (1, 0));

    let slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c";
    let quick = ExecLimits { max_rows: 10, timeout: Duration::from_millis(200) };
    let t0 = std::time::Instant::now();
    match db.execute(slow, &quick) {
        Err(SqlError::Timeout(200)) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(t0.elapsed() < Duration::from_secs(5));
    // The connection is still usable afterwards.
    assert_eq!(db.execute("SELECT 1", &limits).unwrap().rows, [["1"]]);
}
