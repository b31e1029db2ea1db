use super::*;
use std::path::PathBuf;

fn shop() -> SqlConstraint {
    let ddl = "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, city TEXT, \"State\" TEXT);
               CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), order_date TEXT, total REAL);";
    SqlConstraint::new(&Schema::from_ddl(ddl).unwrap())
}

/// Every character prefix of `sql` is viable (or complete) and the whole is complete.
fn assert_accepted(c: &SqlConstraint, sql: &str, what: &str) {
    let sql = sql.trim();
    for (i, _) in sql.char_indices().skip(1) {
        let v = c.check(&sql[..i]);
        assert_ne!(v, Verdict::Dead, "{what}: prefix {:?} of {sql:?} rejected", &sql[..i]);
    }
    assert_eq!(c.check(sql), Verdict::Complete, "{what}: {sql:?} not complete");
}

#[test]
fn valid_queries_are_accepted_at_every_prefix() {
    let c = shop();
    for sql in [
        "SELECT name FROM customers",
        "SELECT COUNT(*) FROM customers WHERE city = 'Paris';",
        "SELECT c.name, SUM(o.total) AS spent FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.name ORDER BY spent DESC LIMIT 5",
        "SELECT T1.name FROM customers AS T1 JOIN orders AS T2 ON T1.id = T2.customer_id WHERE T2.total > 100",
        "SELECT name FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE order_date BETWEEN '2024-03-01' AND '2024-03-31')",
        "SELECT name FROM customers WHERE id NOT IN (SELECT customer_id FROM orders)",
        "SELECT \"State\", COUNT(*) FROM customers GROUP BY \"State\" HAVING COUNT(*) > 1",
        "SELECT strftime('%Y-%m', order_date) AS month, AVG(total) FROM orders GROUP BY month",
        "SELECT name FROM customers WHERE city IS NULL OR city LIKE 'P%'",
        "SELECT DISTINCT city FROM customers ORDER BY city ASC",
        "WITH big AS (SELECT customer_id, total FROM orders WHERE total > 50) SELECT customer_id FROM big",
        "SELECT name FROM customers UNION SELECT city FROM customers",
        "SELECT CASE WHEN total > 100 THEN 'big' ELSE 'small' END FROM orders",
        "SELECT CAST(total AS INTEGER) FROM orders",
        "SELECT * FROM orders WHERE EXISTS (SELECT 1 FROM customers WHERE customers.id = orders.customer_id)",
        "SELECT o.* FROM orders o",
        "SELECT name FROM customers c WHERE NOT c.city = 'Rome' AND -c.id < 0",
        "select count(distinct city) from customers",
        "SELECT * FROM (SELECT COUNT(*) AS n FROM orders) AS sub WHERE sub.n > 1 ORDER BY n",
    ] {
        assert_accepted(&c, sql, "shop");
    }
}

#[test]
fn invented_names_and_other_statements_are_dead() {
    let c = shop();
    for bad in [
        "SELECT names ",
        "SELECT name FROM customer ",
        "SELECT name FROM customerz",
        "SELECT c.nme",
        "SELECT name FROM customers WHERE vets",
        "SELECT name FROM customers c JOIN orders o ON o.client_id",
        "SELECT YEAR(",
        "SELECT name FROM customers WHERE order_date",
        "SELECT x.name FROM customers c WHERE",
        "DELETE FROM customers",
        "UPDATE",
        "SELECT name FROM customers; SELECT",
        "SELECT name FROM customers WHERE city = 'x' ORDER BY nme",
        "SELECT name, FROM",
        "SELECT ? FROM",
        "SELECT name FROM customers WHERE abc|",
        "SELECT name FROM customers !",
    ] {
        assert_eq!(c.check(bad), Verdict::Dead, "{bad:?}");
    }
}

/// Names used before FROM is complete (select list, ON conditions) must resolve against the
/// FROM that follows, as SQLite resolves them: a column of a table the query never joins is
/// "no such column" there, so it is dead here, at the latest where FROM ends.
#[test]
fn names_resolve_against_the_from_clause() {
    let c = shop();
    for ok in [
        "SELECT name, total FROM orders JOIN customers ON customers.id = orders.customer_id",
        "SELECT T1.name FROM customers AS T1 JOIN orders AS T2 ON T1.id = T2.customer_id",
        "SELECT customers.name FROM customers",
        "SELECT o.total FROM orders o WHERE o.customer_id IN (SELECT id FROM customers WHERE city = 'Oslo')",
        "SELECT name FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)",
        "SELECT c.* FROM customers c",
    ] {
        assert_accepted(&c, ok, "resolves");
    }
    // Viable while FROM may still grow to include the owner of `name`...
    assert_eq!(c.check("SELECT name FROM orders"), Verdict::Viable);
    assert_eq!(c.check("SELECT name FROM orders JOIN"), Verdict::Viable);
    // ...dead once FROM is over without it.
    for bad in [
        "SELECT name FROM orders WHERE",
        "SELECT name FROM orders GROUP",
        "SELECT name FROM orders;",
        "SELECT customers.name FROM orders WHERE",
        "SELECT T3.name FROM customers AS T1 JOIN orders AS T2 ON T1.id = T2.customer_id WHERE",
        "SELECT T1.total FROM customers AS T1 WHERE",
        "SELECT c.name FROM customers c JOIN orders o ON t2.id",
        "SELECT c.name FROM customers c JOIN orders o ON c.total",
        "SELECT c.* FROM orders WHERE",
        "SELECT customers.name FROM customers AS c WHERE",
        "SELECT c.name FROM customers c JOIN orders o ON orders.customer_id",
        "SELECT (SELECT name FROM orders) FROM customers",
    ] {
        assert_eq!(c.check(bad), Verdict::Dead, "{bad:?}");
    }
    assert_ne!(c.check("SELECT name FROM orders"), Verdict::Complete);
    assert_ne!(c.check("SELECT MIN(name) FROM orders"), Verdict::Complete);
    assert_ne!(c.check("SELECT COUNT(DISTINCT name) FROM orders"), Verdict::Complete);
}

/// Ways a small model derails under a constraint that only checks names: comments, glued
/// keywords read as aliases, the same alias twice, DISTINCT in any call, endless nesting,
/// numbers running into words.
#[test]
fn derailments_are_dead() {
    let c = shop();
    for bad in [
        "SELECT name FROM customers --",
        "SELECT name FROM customers /*",
        "SELECT name FROM customers WHEREcity",
        "SELECT name FROM customers GROIN",
        "SELECT name FROM customers ORATEUR",
        "SELECT name FROM customers gro ",
        "SELECT name FROM customers c JOIN orders ONcustomers",
        "SELECT name FROM customers longalias ",
        "SELECT 1 FROM orders a JOIN orders b ON 1 JOIN orders c ON 1 JOIN orders d ON 1 JOIN orders e ON 1 JOIN orders f ON 1 JOIN orders g ON 1 JOIN orders h ON 1 JOIN orders i ON 1",
        "SELECT name FROM customers ORDERBY",
        "SELECT c.name FROM customers AS c JOIN orders AS c ON",
        "SELECT 1 FROM customers JOIN customers WHERE",
        "SELECT DATE(DISTINCT",
        "SELECT name FROM customers WHERE id = 1firehose",
        "SELECT name FROM customers WHERE id = 3.4.5",
        "SELECT ABS(ABS(ABS(ABS(ABS(ABS(ABS(",
        "SELECT name FROM customers WHERE SUM(",
        "SELECT name FROM customers WHERE MAX(id) ",
        "SELECT city FROM customers GROUP BY COUNT(",
        "SELECT name FROM customers c JOIN orders o ON AVG(",
        "SELECT SUM(COUNT(",
        "SELECT name FROM customers bet ",
        "SELECT name FROM customers se ",
        "SELECT name FROM customers c JOIN orders o ON o.id = SUM",
        "SELECT name FROM customers AS c123456789012345678901234567890123",
        "SELECT 1 FROM orders AS a JOIN orders AS b ON a.id = b.id JOIN orders AS c ON",
        "SELECT nAme ",
        "SELECT c.* OR",
        "SELECT COUNT(c.*",
        "SELECT c .name",
        "SELECT name FROM customers WHERE city ISNULL",
        "SELECT name FROM customers CROSS JOIN orders ON",
        "SELECT name FROM customers NATURAL JOIN orders ON",
        "SELECT name FROM customers WHERE city IS 'Rome'",
        "SELECT `name",
        "SELECT [name",
        "SELECT name FROM cuStomers",
        "SELECT name FROM customers iNNER JOIN",
        "SELECT tYPEOF(",
        "SELECT name FROM customers AS cuSt",
        "SELECT name FROM customers SET ",
        "SELECT name FROM customers AT RIGHT JOIN",
        "SELECT name FROM customers c JOIN orders FOR ",
    ] {
        assert_eq!(c.check(bad), Verdict::Dead, "{bad:?}");
    }
    for ok in [
        "SELECT COUNT(DISTINCT city) FROM customers",
        "SELECT name FROM customers WHERE id = 1e3",
        "SELECT c.name FROM customers AS c JOIN customers AS d ON c.city = d.city",
        "SELECT name FROM customers cu WHERE cu.id = 1",
        "SELECT name FROM customers AS longalias WHERE longalias.id = 1",
        "SELECT o.total FROM orders o ORDER BY o.total",
        "SELECT name FROM customers WHERE id IN (SELECT MAX(customer_id) FROM orders) AND MAX(id, 3) > 2",
        "SELECT city, COUNT(*) FROM customers GROUP BY city HAVING COUNT(*) > 1 ORDER BY COUNT(*) DESC",
        "SELECT 1 - -1 FROM customers",
        "Select Name From Customers Where City = 'Rome'",
        "SELECT NAME FROM CUSTOMERS c INNER JOIN ORDERS o ON o.CUSTOMER_ID = c.ID",
        "SELECT \"State\" FROM customers",
    ] {
        assert_accepted(&c, ok, "not a derailment");
    }
}

#[test]
fn complete_only_for_whole_statements() {
    let c = shop();
    assert_eq!(c.check(""), Verdict::Viable);
    assert_eq!(c.check("  SEL"), Verdict::Viable);
    assert_eq!(c.check("SELECT name FROM"), Verdict::Viable);
    assert_eq!(c.check("SELECT name FROM customers WHERE"), Verdict::Viable);
    assert_eq!(c.check("SELECT name FROM customers WHERE city = 'Par"), Verdict::Viable);
    assert_eq!(c.check("SELECT name FROM customers WHERE city = 'Par'"), Verdict::Complete);
    assert_eq!(c.check("SELECT name FROM customers"), Verdict::Complete);
    assert_eq!(c.check("SELECT name FROM customers;"), Verdict::Complete);
    assert_eq!(c.check("SELECT name FROM customers; "), Verdict::Complete);
    assert_eq!(c.check("SELECT \"Sta"), Verdict::Viable);
    // SQLite's fallback: a double-quoted word naming no column is a string.
    assert_eq!(c.check("SELECT name FROM customers WHERE city = \"Paris\""), Verdict::Complete);
    assert_eq!(c.check("SELECT name FROM customers WHERE id !"), Verdict::Viable);
}

/// (DDL, gold SQL) pairs of an Alpaca JSONL file whose input is the project's prompt.
fn gold_pairs(path: &PathBuf) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let input = v["input"].as_str().unwrap();
            let ddl = input.strip_prefix("### Schema:\n").unwrap().split("\n\n### Question:\n").next().unwrap();
            (ddl.to_string(), v["output"].as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn every_handwritten_gold_sql_is_accepted_token_by_token() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../synth/eval/handwritten.alpaca.jsonl");
    let pairs = gold_pairs(&path);
    assert!(pairs.len() >= 100);
    for (ddl, sql) in pairs {
        let c = SqlConstraint::new(&Schema::from_ddl(&ddl).unwrap());
        assert_accepted(&c, &sql, "handwritten");
    }
}

#[test]
fn every_sample_database_question_is_accepted() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../server/ui/samples");
    let questions: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("questions.json")).unwrap()).unwrap();
    for (name, qs) in questions.as_object().unwrap() {
        let script = std::fs::read_to_string(dir.join(format!("{name}.sql"))).unwrap();
        let ddl: String = script.lines().take_while(|l| !l.starts_with("INSERT")).collect::<Vec<_>>().join("\n");
        let c = SqlConstraint::new(&Schema::from_ddl(&ddl).unwrap());
        for q in qs.as_array().unwrap() {
            assert_accepted(&c, q["sql"].as_str().unwrap(), name);
        }
    }
}

/// Spider's tables and dev examples, when ../shared/data/spider is present (else `test` is
/// reported as skipped).
fn spider_dev(test: &str) -> Option<(Vec<crate::schema::SpiderTables>, Vec<serde_json::Value>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/spider");
    let (Ok(dev), Ok(_)) = (std::fs::read_to_string(dir.join("dev.json")), std::fs::metadata(dir.join("tables.json"))) else {
        println!("SKIP {test}: {} not present", dir.display());
        return None;
    };
    let tables = crate::schema::load_spider_tables(&dir.join("tables.json")).unwrap();
    Some((tables, serde_json::from_str(&dev).unwrap()))
}

/// Spider dev gold queries over their schemas (when ../shared/data/spider is present), at every
/// character prefix: all must be accepted.
#[test]
fn spider_dev_gold_acceptance() {
    let Some((tables, dev)) = spider_dev("spider_dev_gold_acceptance") else { return };
    let mut rejected = Vec::new();
    for ex in &dev {
        let db = ex["db_id"].as_str().unwrap();
        let t = tables.iter().find(|t| t.db_id == db).unwrap();
        let c = SqlConstraint::new(&Schema::from_spider(t).unwrap());
        let sql = ex["query"].as_str().unwrap().trim();
        let prefix_dead = sql.char_indices().skip(1).any(|(i, _)| c.check(&sql[..i]) == Verdict::Dead);
        if prefix_dead || c.check(sql) != Verdict::Complete {
            rejected.push(sql.to_string());
        }
    }
    println!("spider dev: {}/{} gold queries accepted", dev.len() - rejected.len(), dev.len());
    for r in rejected.iter().take(40) {
        println!("  rejected: {r}");
    }
    assert!(rejected.is_empty(), "{} Spider dev gold queries rejected", rejected.len());
}

#[test]
fn mixed_case_is_accepted_only_as_the_schema_spells_it() {
    let c = SqlConstraint::new(&Schema::from_ddl("CREATE TABLE StoreSales (StoreId INTEGER, soldAt TEXT, Amount REAL);").unwrap());
    assert_accepted(&c, "SELECT StoreId, soldAt FROM StoreSales WHERE amount > 1", "schema spelling");
    assert_accepted(&c, "select storeid from storesales", "lower case");
    assert_accepted(&c, "SELECT storeId, SoldAt FROM StoreSALES", "people's variants");
    for bad in ["SELECT sToreId ", "SELECT StoReId ", "SELECT sOldAt", "SELECT StoreId FROM stoReSales", "SELECT Amount FROM StoreSales WHERE aMount"] {
        assert_eq!(c.check(bad), Verdict::Dead, "{bad:?}");
    }
    // A one-letter prefix or an acronym before a capitalised word is its own hump.
    let c = SqlConstraint::new(&Schema::from_ddl("CREATE TABLE TArtworks (Id INTEGER, HTTPStatus INTEGER);").unwrap());
    assert_accepted(&c, "SELECT HTTPStatus FROM TArtworks", "acronym humps");
    assert_accepted(&c, "SELECT httpstatus FROM tartworks", "lower case");
    assert_eq!(c.check("SELECT Id FROM TaRtworks"), Verdict::Dead);
}

/// Every prefix of `sql` (at `step`-character strides) has a completion the constraint calls
/// complete; returns the longest completion found.
fn assert_completable(c: &SqlConstraint, sql: &str, step: usize) -> String {
    let mut longest = String::new();
    for (i, _) in sql.char_indices().step_by(step) {
        let prefix = &sql[..i];
        let done = c.completion(prefix).unwrap_or_else(|| panic!("no completion for {prefix:?}"));
        assert_eq!(c.check(&format!("{prefix}{done}")), Verdict::Complete, "{prefix:?} + {done:?}");
        if done.len() > longest.len() {
            longest = done;
        }
    }
    longest
}

#[test]
fn prefixes_complete_to_statements() {
    let c = shop();
    assert_eq!(c.completion("SELECT name FROM customers").as_deref(), Some(""));
    assert_eq!(c.completion("SELECT name FROM customers WHERE city = 'Par").as_deref(), Some("'"));
    assert_eq!(c.completion("SELECT name FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE total >").as_deref(), Some(" 1)"));
    assert_eq!(c.completion("SELECT name FROM customers WHERE id = SUM"), None, "dead stays dead");
    // A select list naming a column of a table FROM has not joined yet: join it.
    assert_eq!(c.completion("SELECT name, total FROM customers").as_deref(), Some(" JOIN orders"));
    assert_eq!(c.completion("select name fr").as_deref(), Some("om customers"));
    for sql in [
        "SELECT c.name, SUM(o.total) AS spent FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.name ORDER BY spent DESC LIMIT 5",
        "SELECT name FROM customers WHERE id NOT IN (SELECT customer_id FROM orders WHERE order_date BETWEEN '2024-03-01' AND '2024-03-31')",
        "SELECT CASE WHEN total > 100 THEN 'big' ELSE 'small' END, CAST(total AS INTEGER) FROM orders WHERE EXISTS (SELECT 1 FROM customers)",
        "SELECT \"State\", COUNT(*) FROM customers GROUP BY \"State\" HAVING COUNT(*) > 1e3",
        "WITH big AS (SELECT customer_id FROM orders) SELECT customer_id FROM big UNION SELECT id FROM customers",
        "SELECT name FROM customers WHERE city IS NOT NULL AND city LIKE 'P%' OR id != 3",
    ] {
        assert_completable(&c, sql, 1);
    }
}

#[test]
fn handwritten_gold_prefixes_complete() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../synth/eval/handwritten.alpaca.jsonl");
    for (ddl, sql) in gold_pairs(&path) {
        let c = SqlConstraint::new(&Schema::from_ddl(&ddl).unwrap());
        assert_completable(&c, sql.trim(), 3);
    }
}

/// Spider dev gold queries (when ../shared/data/spider is present; every third one): prefixes
/// at 5-character strides all complete.
#[test]
fn spider_dev_gold_prefixes_complete() {
    let Some((tables, dev)) = spider_dev("spider_dev_gold_prefixes_complete") else { return };
    let mut failed = Vec::new();
    let mut longest = String::new();
    // Every third query keeps the test to seconds.
    for ex in dev.iter().step_by(3) {
        let t = tables.iter().find(|t| t.db_id == ex["db_id"].as_str().unwrap()).unwrap();
        let c = SqlConstraint::new(&Schema::from_spider(t).unwrap());
        let sql = ex["query"].as_str().unwrap().trim();
        for (i, _) in sql.char_indices().step_by(5) {
            match c.completion(&sql[..i]) {
                Some(done) if c.check(&format!("{}{done}", &sql[..i])) == Verdict::Complete => {
                    if done.len() > longest.len() {
                        longest = done;
                    }
                }
                _ => failed.push(sql[..i].to_string()),
            }
        }
    }
    println!("longest completion: {longest:?}");
    let mut shown = std::collections::HashSet::new();
    for f in failed.iter().filter(|f| shown.insert(f.get(..40).unwrap_or(f).to_string())).take(30) {
        println!("  no completion: {f}");
    }
    assert!(failed.is_empty(), "{} prefixes without a completion", failed.len());
}

/// Calls take as many arguments as SQLite's function does: the v3 adapter, free to write
/// `TRIM()` under the grammar, produced a query that neither SQLite nor the parser accepts.
#[test]
fn function_calls_take_the_arguments_sqlite_allows() {
    let c = shop();
    let db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, city TEXT, \"State\" TEXT);
         CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, order_date TEXT, total REAL);",
    )
    .unwrap();
    for ok in [
        "SELECT TRIM(name) FROM customers",
        "SELECT RTRIM(name, 'x') FROM customers",
        "SELECT REPLACE(name, 'a', 'b') FROM customers",
        "SELECT SUBSTR(name, 1, 2), SUBSTR(city, 2) FROM customers",
        "SELECT COALESCE(city, name, 'none') FROM customers",
        "SELECT RANDOM() FROM customers",
        "SELECT strftime('%Y', order_date, 'localtime') FROM orders",
        "SELECT MAX(total, 1, 2) FROM orders",
        "SELECT IIF(total > 1, 'a', 'b') FROM orders",
    ] {
        assert_accepted(&c, ok, "arity");
        assert!(crate::parse::parse_success(ok), "{ok:?} does not parse");
        db.prepare(ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
    }
    for bad in [
        "SELECT TRIM()",
        "SELECT AVG(*)",
        "SELECT UPPER(name, ",
        "SELECT REPLACE(name, 'a')",
        "SELECT IFNULL(city)",
        "SELECT SUBSTR(name)",
        "SELECT RANDOM(1",
        "SELECT INSTR(name)",
    ] {
        assert_eq!(c.check(bad), Verdict::Dead, "{bad:?}");
        assert!(db.prepare(&format!("{bad} FROM customers")).is_err(), "SQLite accepts {bad:?}");
    }
}
