use text2sql_sql::{check_adherence, Schema, Violation};

fn schema() -> Schema {
    Schema::from_ddl(
        "CREATE TABLE singer (singer_id INT PRIMARY KEY, name TEXT, country TEXT, age INT);
         CREATE TABLE concert (concert_id INT PRIMARY KEY, concert_name TEXT, year TEXT, stadium_id INT);
         CREATE TABLE singer_in_concert (concert_id INT, singer_id INT,
           FOREIGN KEY (singer_id) REFERENCES singer(singer_id));",
    )
    .unwrap()
}

fn ok(sql: &str) {
    let v = check_adherence(sql, &schema()).unwrap();
    assert!(v.is_empty(), "{sql}: {v:?}");
}

fn bad(sql: &str, expected: Violation) {
    let v = check_adherence(sql, &schema()).unwrap();
    assert!(v.contains(&expected), "{sql}: expected {expected:?}, got {v:?}");
}

#[test]
fn adherent_queries() {
    ok("SELECT name FROM singer WHERE age > 30");
    ok("SELECT T1.name FROM singer AS T1 JOIN singer_in_concert AS T2 ON T1.singer_id = T2.singer_id");
    ok("SELECT s.name FROM singer s WHERE s.country = \"France\""); // "France" is a string in SQLite
    ok("SELECT country, count(*) AS n FROM singer GROUP BY country ORDER BY n DESC");
    ok("WITH old AS (SELECT name, age FROM singer WHERE age > 60) SELECT name FROM old ORDER BY age");
    ok("SELECT x.c FROM (SELECT country AS c FROM singer) AS x");
    ok("SELECT name FROM singer WHERE singer_id IN (SELECT singer_id FROM singer_in_concert)");
    ok("SELECT name FROM singer AS s WHERE EXISTS (SELECT 1 FROM singer_in_concert AS sc WHERE sc.singer_id = s.singer_id)");
    ok("SELECT name FROM singer UNION SELECT concert_name FROM concert");
    ok("SELECT SINGER.Name FROM Singer WHERE \"age\" > 3");
    ok("SELECT * FROM (SELECT * FROM singer) AS t WHERE t.anything = 1");
    ok("SELECT s.*, c.concert_name FROM singer AS s JOIN concert AS c ON 1");
    ok("SELECT singer.* FROM singer");
}

#[test]
fn violations_are_found() {
    bad("SELECT name FROM singers", Violation::UnknownTable("singers".into()));
    bad("SELECT nme FROM singer", Violation::UnknownColumn("nme".into()));
    bad("SELECT T1.year FROM singer AS T1", Violation::UnknownColumn("t1.year".into()));
    bad("SELECT T3.name FROM singer AS T1", Violation::UnknownQualifier("t3".into()));
    bad("WITH a AS (SELECT name FROM singer) SELECT age FROM a", Violation::UnknownColumn("age".into()));
    bad("SELECT x.age FROM (SELECT name FROM singer) AS x", Violation::UnknownColumn("x.age".into()));
    bad("SELECT name FROM singer WHERE age IN (SELECT budget FROM concert)", Violation::UnknownColumn("budget".into()));
}

#[test]
fn unparseable_is_an_error() {
    assert!(check_adherence("SELEC name FROM singer", &schema()).is_err());
}
