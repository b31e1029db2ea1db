"""Drives the web UI of a running `text2sql serve` in headless Chromium (Selenium + chromedriver).

Called by crates/cli/tests/web_ui.rs; exits non-zero with a message on the first failure.

  --mode tiny : a random tiny model (junk SQL). Checks the API-key flow, the adapter dropdown,
                streamed generation, the SQL checks, editing, Run with a result table and a chart,
                the read-only refusal, and the About panel.
  --mode real : the embedded SmolLM2 base + the shipped text2sql-qlora adapter. Asks a sample
                question, generates, runs the generated SQL and expects rows.
"""

import argparse
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait


def fail(msg):
    print(f"drive_ui: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def browser(chromium, chromedriver):
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(executable_path=chromedriver), options=opts)


def wait(d, secs=30):
    return WebDriverWait(d, secs, poll_frequency=0.1)


def by_id(d, i):
    return d.find_element(By.ID, i)


def set_sql(d, sql):
    """Edit the SQL box (Edit → type → Done)."""
    by_id(d, "edit").click()
    ed = by_id(d, "sql-editor")
    ed.clear()
    ed.send_keys(sql)
    by_id(d, "edit").click()


def run_and_wait_rows(d):
    wait(d).until(lambda d: by_id(d, "run").is_enabled())
    by_id(d, "run").click()
    wait(d).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#result:not(.hidden) #result-table tbody tr")
                  or by_id(d, "error").is_displayed())
    if by_id(d, "error").is_displayed():
        fail(f"run showed an error: {by_id(d, 'error').text}")
    return d.find_elements(By.CSS_SELECTOR, "#result-table tbody tr")


def generate(d, secs):
    by_id(d, "question").send_keys(Keys.CONTROL, Keys.ENTER)  # the keyboard shortcut
    wait(d, secs).until(lambda d: by_id(d, "generate").is_enabled() and by_id(d, "stats").text.strip())
    if by_id(d, "error").is_displayed():
        fail(f"generation showed an error: {by_id(d, 'error').text}")


def tiny(d, args):
    d.get(args.base + "/")
    # The server wants a key: the page asks for it.
    wait(d).until(EC.visibility_of_element_located((By.ID, "key-dialog")))
    if "401" not in by_id(d, "key-reason").text:
        fail(f"key dialog does not say why: {by_id(d, 'key-reason').text!r}")
    by_id(d, "api-key").send_keys(args.key)
    by_id(d, "key-save").click()
    wait(d).until(lambda d: len(Select(by_id(d, "adapter")).options) >= 3)
    adapters = [o.get_attribute("value") for o in Select(by_id(d, "adapter")).options]
    for want in args.adapters.split(","):
        if want not in adapters:
            fail(f"adapter {want!r} missing from the dropdown {adapters}")
    Select(by_id(d, "adapter")).select_by_value(args.adapters.split(",")[0])
    if "ok" not in by_id(d, "backend").get_attribute("class"):
        fail(f"backend pill not ok: {by_id(d, 'backend').text!r}")

    # A pasted schema (the tiny model's context is short) and a question, then Ctrl+Enter.
    wait(d).until(lambda d: len(Select(by_id(d, "sample")).options) >= 4)
    Select(by_id(d, "sample")).select_by_value("")
    schema = by_id(d, "schema")
    schema.clear()
    schema.send_keys("CREATE TABLE users (id INT, name TEXT);")
    by_id(d, "question").send_keys("How many users?")
    generate(d, 60)
    out = by_id(d, "output-sql").text.strip()
    if not out:
        fail("no generated text shown")
    # Schema-constrained by default: even a random model writes (the start of) a SELECT.
    if not by_id(d, "constrained").is_selected():
        fail("the schema-constrained toggle is not on by default")
    if len(out) >= 6 and not out.upper().startswith(("SELECT", "WITH")):
        fail(f"constrained output is not a SELECT: {out!r}")
    badges = by_id(d, "badges").text
    if not badges:
        fail("no parse/schema badges after generation")
    if "tokens in" not in by_id(d, "stats").text:
        fail(f"stats missing: {by_id(d, 'stats').text!r}")

    # Show prompt: the exact format.
    by_id(d, "show-prompt").click()
    prompt = by_id(d, "prompt").text
    if not (prompt.startswith("### Schema:\nCREATE TABLE users") and "\n\n### Question:\n" in prompt
            and prompt.endswith("\n\nReturn only the SQL query.")):
        fail(f"prompt not in the project's format: {prompt[:80]!r}…{prompt[-60:]!r}")

    # A sample database: its schema and example questions fill in.
    Select(by_id(d, "sample")).select_by_value("shop")
    if "CREATE TABLE customers" not in by_id(d, "schema").get_attribute("value"):
        fail("the shop sample did not fill the schema editor")
    d.find_elements(By.CSS_SELECTOR, "#examples button")[0].click()
    if not by_id(d, "question").get_attribute("value").strip():
        fail("an example question did not fill the question box")

    # Edit the SQL, run it: rows; then a label+number query: a chart.
    set_sql(d, "SELECT first_name, city FROM customers ORDER BY last_name")
    rows = run_and_wait_rows(d)
    if len(rows) < 3:
        fail(f"expected customer rows, got {len(rows)}")
    set_sql(d, "SELECT category, COUNT(*) FROM products GROUP BY category ORDER BY 2 DESC")
    run_and_wait_rows(d)
    wait(d).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#chart svg rect.bar"))

    # Writes are refused and shown as an error.
    set_sql(d, "DELETE FROM customers")
    by_id(d, "run").click()
    wait(d).until(lambda d: by_id(d, "error").is_displayed())
    if "refused" not in by_id(d, "error").text.lower():
        fail(f"a DELETE was not refused clearly: {by_id(d, 'error').text!r}")

    # A custom schema disables Run (no database behind it).
    by_id(d, "schema").send_keys(" ")
    if by_id(d, "run").is_enabled():
        fail("Run stays enabled after the sample schema was edited")

    d.save_screenshot(args.screenshot)
    # About panel from /info.
    by_id(d, "about-btn").click()
    wait(d).until(lambda d: "Max total tokens" in by_id(d, "about-body").text)


def real(d, args):
    d.get(args.base + "/")
    wait(d).until(lambda d: by_id(d, "adapter").get_attribute("value") == "text2sql-qlora")
    wait(d).until(lambda d: len(Select(by_id(d, "sample")).options) >= 4)
    Select(by_id(d, "sample")).select_by_value(args.sample)
    q = by_id(d, "question")
    q.clear()
    q.send_keys(args.question)
    generate(d, 180)
    sql = by_id(d, "output-sql").text
    print(f"drive_ui: generated {sql!r}")
    rows = run_and_wait_rows(d)
    if not rows:
        fail("the generated SQL returned no rows")
    time.sleep(0.3)
    d.save_screenshot(args.screenshot)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--mode", choices=["tiny", "real"], required=True)
    p.add_argument("--key", default="")
    p.add_argument("--adapters", default="")
    p.add_argument("--sample", default="shop")
    p.add_argument("--question", default="How many customers are there?")
    p.add_argument("--screenshot", required=True)
    p.add_argument("--chromium", required=True)
    p.add_argument("--chromedriver", required=True)
    args = p.parse_args()
    d = browser(args.chromium, args.chromedriver)
    try:
        (tiny if args.mode == "tiny" else real)(d, args)
    except SystemExit:
        d.save_screenshot(args.screenshot)
        raise
    except Exception as e:  # noqa: BLE001 - report any Selenium failure as a test failure
        d.save_screenshot(args.screenshot)
        fail(f"{type(e).__name__}: {e}")
    finally:
        logs = d.get_log("browser") if hasattr(d, "get_log") else []
        for entry in logs:
            if entry.get("level") == "SEVERE" and "401" not in entry.get("message", ""):
                print(f"drive_ui: browser console: {entry['message']}", file=sys.stderr)
        d.quit()
    print("drive_ui: ok")


if __name__ == "__main__":
    main()
