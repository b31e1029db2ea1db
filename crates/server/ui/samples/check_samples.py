#!/usr/bin/env python3
"""Validate the bundled sample databases and example questions for the web UI.

Standard library only. For every sample (shop, hr, music) it:
  * checks the header comment line (`-- <title>: <description>`), file size,
    and that all CREATE TABLE statements come before the first INSERT;
  * loads the script into an in-memory SQLite database with foreign keys on;
  * runs PRAGMA foreign_key_check (must return nothing);
  * prints and range-checks the row count of every table;
  * runs every example SQL from questions.json (must succeed and return rows),
    and requires at least one chart-friendly query per sample
    (exactly two columns: a text label and a number).

Usage: python3 check_samples.py [-v]   (-v also prints each query's first rows)
Exits non-zero if any problem is found.
"""

import json
import os
import re
import sqlite3
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = ["shop", "hr", "music"]
QUESTIONS_PER_SAMPLE = 4
MAX_BYTES = 40 * 1024
MIN_ROWS, MAX_ROWS = 8, 60
HEADER_RE = re.compile(r"^-- ([^:]+): (\S.*)$")

problems = []


def problem(msg):
    problems.append(msg)
    print(f"  PROBLEM: {msg}")


def is_chart_friendly(cursor_description, rows):
    if len(cursor_description) != 2 or not rows:
        return False
    for label, value in rows:
        if not isinstance(label, str):
            return False
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
    return True


def load_sample(name):
    path = os.path.join(HERE, f"{name}.sql")
    print(f"== {name}.sql")
    if not os.path.isfile(path):
        problem(f"{name}.sql is missing")
        return None
    size = os.path.getsize(path)
    if size >= MAX_BYTES:
        problem(f"{name}.sql is {size} bytes (limit {MAX_BYTES})")
    with open(path, encoding="utf-8") as f:
        script = f.read()

    first_line = script.split("\n", 1)[0]
    m = HEADER_RE.match(first_line)
    if not m:
        problem(f"{name}.sql: first line is not '-- <title>: <description>': {first_line!r}")
    else:
        print(f"  title: {m.group(1)!r}")
        print(f"  description: {m.group(2)!r}")
    print(f"  size: {size} bytes")

    upper = script.upper()
    last_create = upper.rfind("CREATE TABLE")
    first_insert = upper.find("INSERT INTO")
    if last_create < 0:
        problem(f"{name}.sql has no CREATE TABLE")
    if first_insert < 0:
        problem(f"{name}.sql has no INSERT")
    if last_create >= 0 and first_insert >= 0 and last_create > first_insert:
        problem(f"{name}.sql: a CREATE TABLE appears after the first INSERT")

    conn = sqlite3.connect(":memory:")
    conn.execute("PRAGMA foreign_keys=ON")
    if conn.execute("PRAGMA foreign_keys").fetchone()[0] != 1:
        problem("could not enable foreign keys")
    try:
        conn.executescript(script)
    except sqlite3.Error as e:
        problem(f"{name}.sql failed to load: {e}")
        return None

    fk = conn.execute("PRAGMA foreign_key_check").fetchall()
    if fk:
        problem(f"{name}.sql: foreign key violations: {fk[:10]}")
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    if integrity != "ok":
        problem(f"{name}.sql: integrity_check: {integrity}")

    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
        )
    ]
    if not tables:
        problem(f"{name}.sql created no tables")
    for table in tables:
        count = conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
        flag = ""
        if not (MIN_ROWS <= count <= MAX_ROWS):
            flag = f"  <-- outside {MIN_ROWS}..{MAX_ROWS}"
            problem(f"{name}.{table} has {count} rows (want {MIN_ROWS}..{MAX_ROWS})")
        print(f"  {table:<22} {count:>3} rows{flag}")
    return conn


def check_questions(name, conn, entries, verbose):
    if not isinstance(entries, list) or len(entries) != QUESTIONS_PER_SAMPLE:
        problem(f"questions.json[{name!r}] must be a list of {QUESTIONS_PER_SAMPLE} entries")
        if not isinstance(entries, list):
            return
    chart_ok = False
    for i, entry in enumerate(entries, 1):
        if (
            not isinstance(entry, dict)
            or set(entry) != {"question", "sql"}
            or not all(isinstance(entry[k], str) and entry[k].strip() for k in ("question", "sql"))
        ):
            problem(f"{name} question #{i} must be {{'question': str, 'sql': str}}: {entry!r}")
            continue
        try:
            cur = conn.execute(entry["sql"])
            rows = cur.fetchall()
        except sqlite3.Error as e:
            problem(f"{name} question #{i} SQL failed: {e}")
            continue
        if not rows:
            problem(f"{name} question #{i} returned no rows: {entry['question']}")
            continue
        cols = [d[0] for d in cur.description]
        chart = is_chart_friendly(cur.description, rows)
        chart_ok = chart_ok or chart
        print(
            f"  Q{i}: {entry['question']}\n"
            f"      -> {len(rows)} rows, columns {cols}{'  [chart]' if chart else ''}"
        )
        if verbose:
            for row in rows[:5]:
                print(f"         {row}")
    if not chart_ok:
        problem(f"{name}: no question returns exactly two columns (text label, number)")


def main():
    verbose = "-v" in sys.argv[1:]
    conns = {name: load_sample(name) for name in SAMPLES}

    extra = sorted(
        f for f in os.listdir(HERE) if f.endswith(".sql") and f[:-4] not in SAMPLES
    )
    if extra:
        problem(f"unexpected .sql files: {extra}")

    qpath = os.path.join(HERE, "questions.json")
    print("== questions.json")
    try:
        with open(qpath, encoding="utf-8") as f:
            questions = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        problem(f"cannot read questions.json: {e}")
        questions = None

    if isinstance(questions, dict):
        if sorted(questions) != sorted(SAMPLES):
            problem(f"questions.json keys {sorted(questions)} != {sorted(SAMPLES)}")
        for name in SAMPLES:
            if name in questions and conns.get(name) is not None:
                print(f"-- {name}")
                check_questions(name, conns[name], questions[name], verbose)
    elif questions is not None:
        problem("questions.json must be a JSON object")

    if problems:
        print(f"\nFAILED: {len(problems)} problem(s)")
        for p in problems:
            print(f"  - {p}")
        return 1
    print("\nOK: all samples load, foreign keys valid, all example queries return rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
