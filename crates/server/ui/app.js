// text2sql copilot: plain JS, no build step. Talks to the server's own routes:
// /v1/models (adapters), /info (about), /generate_stream (SSE), /ui/samples, /ui/check, /ui/run.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "text2sql.apiKey";
const SQL_KEYWORDS = new Set(("select from where and or not in is null like between group by having order asc desc limit offset " +
  "join inner left right full outer cross on as distinct union all intersect except with case when then else end " +
  "exists cast collate glob escape natural using values recursive").split(" "));
const SQL_FUNCTIONS = new Set("count sum avg min max round abs length lower upper substr coalesce ifnull strftime date datetime julianday".split(" "));

const state = { samples: [], sample: null, sql: "", prompt: "", controller: null, editing: false };

// ---------- HTTP ----------
function authHeaders(extra = {}) {
  const key = localStorage.getItem(KEY_STORE);
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function errorOf(resp) {
  let msg = `${resp.status} ${resp.statusText}`;
  try {
    const body = await resp.json();
    if (body && body.error) msg = body.error;
  } catch (_) { /* not JSON */ }
  if (resp.status === 401) msg = "This server needs an API key (401). Set it with the “API key” button.";
  return new HttpError(resp.status, msg);
}

async function api(path, body) {
  const init = body === undefined
    ? { headers: authHeaders() }
    : { method: "POST", headers: authHeaders({ "Content-Type": "application/json" }), body: JSON.stringify(body) };
  const resp = await fetch(path, init);
  if (!resp.ok) {
    const err = await errorOf(resp);
    if (resp.status === 401) openKeyDialog(err.message);
    throw err;
  }
  return resp.json();
}

// ---------- rendering helpers ----------
function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

/** SQL → highlighted HTML: keywords, functions, strings, numbers, quoted identifiers. */
function highlightSql(sql) {
  const re = /('(?:[^']|'')*'?)|("(?:[^"]|"")*"?|`[^`]*`?|\[[^\]]*\]?)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)|(\s+|.)/g;
  let out = "";
  for (const m of sql.matchAll(re)) {
    const [tok, str, qid, num, word] = m;
    if (str) out += `<span class="str">${escapeHtml(str)}</span>`;
    else if (qid) out += `<span class="qid">${escapeHtml(qid)}</span>`;
    else if (num) out += `<span class="num">${num}</span>`;
    else if (word && SQL_KEYWORDS.has(word.toLowerCase())) out += `<span class="kw">${escapeHtml(word)}</span>`;
    else if (word && SQL_FUNCTIONS.has(word.toLowerCase())) out += `<span class="fn">${escapeHtml(word)}</span>`;
    else out += escapeHtml(tok);
  }
  return out;
}

function showError(msg) {
  const box = $("error");
  box.textContent = msg;
  box.classList.toggle("hidden", !msg);
}

function setBadges(list) {
  $("badges").innerHTML = list.map(([cls, text, title]) =>
    `<span class="badge ${cls}" title="${escapeHtml(title || "")}">${escapeHtml(text)}</span>`).join("");
}

function buildPrompt(ddl, question) {
  // Exactly the format the adapters are trained on (see the README).
  return `### Schema:\n${ddl.trim()}\n\n### Question:\n${question.trim()}\n\nReturn only the SQL query.`;
}

function isNumber(v) {
  return v !== "NULL" && v.trim() !== "" && !Number.isNaN(Number(v));
}

// ---------- samples, adapters, backend ----------
async function loadSamples() {
  try {
    state.samples = await api("/ui/samples");
  } catch (e) {
    showError(`Could not load the sample databases: ${e.message}`);
    return;
  }
  const sel = $("sample");
  for (const s of state.samples) {
    const opt = document.createElement("option");
    opt.value = s.name;
    opt.textContent = s.title;
    sel.appendChild(opt);
  }
  if (state.samples.length) {
    sel.value = state.samples[0].name;
    selectSample();
  }
}

function selectSample() {
  const name = $("sample").value;
  state.sample = state.samples.find((s) => s.name === name) || null;
  $("sample-desc").textContent = state.sample ? state.sample.description : "Paste your CREATE TABLE statements; Run is available on the sample databases.";
  if (state.sample) $("schema").value = state.sample.ddl;
  const ex = $("examples");
  ex.innerHTML = "";
  for (const q of state.sample ? state.sample.questions : []) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = q;
    b.addEventListener("click", () => { $("question").value = q; $("question").focus(); });
    ex.appendChild(b);
  }
  updateRunButton();
}

/** Run needs a sample database whose schema text is untouched (the SQL must match the data). */
function runnable() {
  return !!(state.sample && $("schema").value === state.sample.ddl && currentSql());
}

function updateRunButton() {
  $("run").disabled = !runnable();
  $("run").title = state.sample && $("schema").value !== state.sample.ddl
    ? "The schema was edited: Run works on the unchanged sample databases only"
    : "Run read-only on the selected sample database";
}

async function loadAdapters() {
  const sel = $("adapter");
  sel.innerHTML = "";
  try {
    const models = await api("/v1/models");
    const info = await api("/info");
    const base = info.model_id;
    for (const m of models.data || []) {
      const opt = document.createElement("option");
      opt.value = m.id === base ? "" : m.id;
      opt.textContent = m.id === base ? `${m.id} (base, no adapter)` : m.id;
      sel.appendChild(opt);
    }
    // Text-to-SQL adapter first when present.
    const preferred = [...sel.options].find((o) => o.value === "text2sql-qlora") || [...sel.options].find((o) => o.value);
    if (preferred) sel.value = preferred.value;
    const shortId = info.model_id.split("/").filter(Boolean).slice(-2).join("/");
    $("backend").textContent = `${shortId} · ${info.router} ${info.version}`;
    $("backend").title = info.model_id;
    $("backend").className = "pill ok";
    renderAbout(info, models.data || []);
  } catch (e) {
    $("backend").textContent = e.status === 401 ? "API key needed" : "backend unreachable";
    $("backend").className = "pill bad";
    if (e.status !== 401) showError(`Could not reach the server: ${e.message}`);
  }
}

function renderAbout(info, models) {
  const rows = [
    ["Model", info.model_id], ["Router", `${info.router} ${info.version}`], ["Device", `${info.model_device_type} · ${info.model_dtype}`],
    ["Max input tokens", info.max_input_tokens], ["Max total tokens", info.max_total_tokens],
    ["Max concurrent requests", info.max_concurrent_requests], ["Max batch total tokens", info.max_batch_total_tokens],
    ["Adapters", models.map((m) => m.id).filter((id) => id !== info.model_id).join(", ") || "none"],
  ];
  $("about-body").innerHTML = `<dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(String(v ?? "–"))}</dd>`).join("")}</dl>
    <p class="small">API: <a href="/docs">/docs</a> · <a href="/api-doc/openapi.json">OpenAPI</a> · TGI and OpenAI compatible.</p>`;
}

// ---------- generation ----------
function parameters(ddl) {
  const num = (id) => { const v = $(id).value.trim(); return v === "" ? null : Number(v); };
  const temperature = num("temperature") || 0;
  const p = { max_new_tokens: num("max-new-tokens") || 128, details: true };
  const adapter = $("adapter").value;
  if (adapter) p.adapter_id = adapter;
  if (temperature > 0) {
    p.do_sample = true;
    p.temperature = temperature;
    const topP = num("top-p");
    if (topP !== null && topP < 1) p.top_p = topP;
  }
  const rep = num("repetition-penalty");
  if (rep !== null && rep !== 1) p.repetition_penalty = rep;
  const seed = num("seed");
  if (seed !== null) p.seed = seed;
  // Schema-constrained SQL (the server's `sql` grammar over this schema).
  if ($("constrained").checked) p.grammar = { type: "sql", value: ddl };
  return p;
}

function setOutput(text, streaming) {
  const pre = $("output-sql");
  pre.classList.toggle("empty", !text && !streaming);
  pre.innerHTML = (text ? highlightSql(text) : (streaming ? "" : "Generated SQL appears here.")) + (streaming ? '<span class="cursor"></span>' : "");
}

function currentSql() {
  return state.editing ? $("sql-editor").value.trim() : state.sql;
}

function setCurrentSql(sql) {
  state.sql = sql;
  $("copy").disabled = !sql;
  setOutput(sql, false);
}

async function generate() {
  const ddl = $("schema").value;
  const question = $("question").value;
  if (!ddl.trim()) { showError("Paste a schema (CREATE TABLE statements) or pick a sample database."); return; }
  if (!question.trim()) { showError("Type a question."); $("question").focus(); return; }
  if (state.controller) return;
  showError("");
  stopEditing();
  state.prompt = buildPrompt(ddl, question);
  $("prompt").textContent = state.prompt;
  state.sql = "";
  setBadges([]);
  $("result").classList.add("hidden");
  $("stats").textContent = "";
  setOutput("", true);
  ["copy", "edit", "run"].forEach((id) => { $(id).disabled = true; });
  $("generate").disabled = true;
  $("stop").classList.remove("hidden");
  state.controller = new AbortController();
  const started = performance.now();
  let text = "";
  let final = null;
  try {
    const resp = await fetch("/generate_stream", {
      method: "POST",
      headers: authHeaders({ "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: JSON.stringify({ inputs: state.prompt, parameters: parameters(ddl) }),
      signal: state.controller.signal,
    });
    if (!resp.ok) {
      const err = await errorOf(resp);
      if (resp.status === 401) openKeyDialog(err.message);
      throw err;
    }
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
        if (!data) continue;
        const msg = JSON.parse(data);
        if (msg.error) throw new Error(msg.error);
        if (msg.token && !msg.token.special) text += msg.token.text;
        if (msg.generated_text !== null && msg.generated_text !== undefined) { final = msg; text = msg.generated_text; }
        setOutput(text, final === null);
      }
    }
    if (final === null) throw new Error("the stream ended before the final token");
    const secs = (performance.now() - started) / 1000;
    const n = final.details ? final.details.generated_tokens : null;
    $("stats").textContent = n !== null
      ? `${n} tokens in ${secs.toFixed(2)} s (${(n / secs).toFixed(1)} tok/s) · finish: ${final.details.finish_reason}`
      : `${secs.toFixed(2)} s`;
    await checkSql(text, ddl);
  } catch (e) {
    if (e.name === "AbortError") {
      $("stats").textContent = "stopped";
      await checkSql(text, ddl).catch(() => {});
    } else {
      setOutput(text, false);
      showError(`Generation failed: ${e.message}`);
    }
  } finally {
    state.controller = null;
    $("generate").disabled = false;
    $("edit").disabled = false;
    $("stop").classList.add("hidden");
  }
}

async function checkSql(text, ddl) {
  const report = await api("/ui/check", { text, ddl });
  state.sql = report.sql;
  setOutput(state.sql, false);
  const badges = [];
  if (report.parse_error) badges.push(["bad", "does not parse", report.parse_error]);
  else badges.push(["ok", "parses", "sqlparser accepted the statement"]);
  if (report.unknown_names.length) {
    badges.push(["warn", `not in schema: ${report.unknown_names.join(", ")}`, "These names are absent from the schema"]);
  } else if (!report.parse_error) {
    badges.push(["ok", "schema ✓", "Every table and column exists in the schema"]);
  }
  setBadges(badges);
  $("copy").disabled = !state.sql;
  updateRunButton();
}

// ---------- editing, copy, run ----------
function startEditing() {
  state.editing = true;
  $("sql-editor").value = state.sql;
  $("sql-editor").classList.remove("hidden");
  $("output-sql").classList.add("hidden");
  $("edit").textContent = "Done";
  $("sql-editor").focus();
}

function stopEditing() {
  if (!state.editing) return;
  state.editing = false;
  $("sql-editor").classList.add("hidden");
  $("output-sql").classList.remove("hidden");
  $("edit").textContent = "Edit";
  setCurrentSql($("sql-editor").value.trim());
  updateRunButton();
}

async function copySql() {
  const sql = currentSql();
  try {
    await navigator.clipboard.writeText(sql);
  } catch (_) {
    const t = document.createElement("textarea");
    t.value = sql;
    document.body.appendChild(t);
    t.select();
    document.execCommand("copy");
    t.remove();
  }
  $("copy").textContent = "Copied ✓";
  setTimeout(() => { $("copy").textContent = "Copy"; }, 1200);
}

async function runSql() {
  if (!runnable()) return;
  showError("");
  $("run").disabled = true;
  try {
    const res = await api("/ui/run", { sample: state.sample.name, sql: currentSql() });
    renderResult(res);
  } catch (e) {
    $("result").classList.add("hidden");
    showError(`Run failed: ${e.message}`);
  } finally {
    updateRunButton();
  }
}

function renderResult(res) {
  const n = res.rows.length;
  $("result-meta").textContent = `${n} row${n === 1 ? "" : "s"}${res.truncated ? " (more rows were cut)" : ""} · ${res.elapsed_ms.toFixed(1)} ms · read-only`;
  const numeric = res.columns.map((_, i) => n > 0 && res.rows.every((r) => r[i] === "NULL" || isNumber(r[i])));
  const head = `<thead><tr>${res.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr></thead>`;
  const body = res.rows.map((r) => `<tr>${r.map((v, i) =>
    `<td class="${v === "NULL" ? "null" : numeric[i] ? "num" : ""}">${escapeHtml(v)}</td>`).join("")}</tr>`).join("");
  $("result-table").innerHTML = head + `<tbody>${body}</tbody>`;
  renderChart(res, numeric);
  $("result").classList.remove("hidden");
}

/** A bar chart when the result is label + number pairs. */
function renderChart(res, numeric) {
  const chart = $("chart");
  chart.innerHTML = "";
  const rows = res.rows.filter((r) => r[1] !== "NULL");
  if (res.columns.length !== 2 || numeric[0] || !numeric[1] || rows.length < 2 || rows.length > 40) return;
  const values = rows.map((r) => Number(r[1]));
  const max = Math.max(...values.map(Math.abs), 1e-9);
  const rowH = 22, labelW = 170, width = 640, barW = width - labelW - 70;
  const h = rows.length * rowH + 8;
  const bars = rows.map((r, i) => {
    const w = Math.max(1, (Math.abs(values[i]) / max) * barW);
    const y = i * rowH + 4;
    const label = r[0].length > 26 ? `${r[0].slice(0, 25)}…` : r[0];
    return `<text x="${labelW - 8}" y="${y + 14}" text-anchor="end">${escapeHtml(label)}</text>` +
      `<rect class="bar" x="${labelW}" y="${y + 2}" width="${w.toFixed(1)}" height="${rowH - 6}" rx="3"></rect>` +
      `<text x="${labelW + w + 6}" y="${y + 14}">${escapeHtml(r[1])}</text>`;
  }).join("");
  chart.innerHTML = `<svg viewBox="0 0 ${width} ${h}" role="img" aria-label="${escapeHtml(res.columns[1])} by ${escapeHtml(res.columns[0])}">${bars}</svg>`;
}

// ---------- API key dialog ----------
function openKeyDialog(reason) {
  const d = $("key-dialog");
  if (reason) $("key-reason").textContent = reason;
  $("api-key").value = localStorage.getItem(KEY_STORE) || "";
  if (!d.open) d.showModal();
}

function onKeyDialogClose() {
  const d = $("key-dialog");
  if (d.returnValue === "save") localStorage.setItem(KEY_STORE, $("api-key").value.trim());
  if (d.returnValue === "clear") localStorage.removeItem(KEY_STORE);
  if (d.returnValue === "save" || d.returnValue === "clear") init();
}

// ---------- wiring ----------
async function init() {
  showError("");
  await loadAdapters();
  if (!state.samples.length) await loadSamples();
}

document.addEventListener("DOMContentLoaded", () => {
  $("sample").addEventListener("change", selectSample);
  $("schema").addEventListener("input", updateRunButton);
  $("generate").addEventListener("click", generate);
  $("stop").addEventListener("click", () => state.controller && state.controller.abort());
  $("copy").addEventListener("click", copySql);
  $("edit").addEventListener("click", () => (state.editing ? stopEditing() : startEditing()));
  $("sql-editor").addEventListener("input", updateRunButton);
  $("run").addEventListener("click", runSql);
  $("show-prompt").addEventListener("click", () => {
    if (!state.prompt) state.prompt = buildPrompt($("schema").value, $("question").value);
    $("prompt").textContent = state.prompt;
    const hidden = $("prompt").classList.toggle("hidden");
    $("show-prompt").textContent = hidden ? "Show prompt" : "Hide prompt";
  });
  $("about-btn").addEventListener("click", () => $("about").showModal());
  $("key-btn").addEventListener("click", () => openKeyDialog());
  $("key-dialog").addEventListener("close", onKeyDialogClose);
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); generate(); }
    if ((e.ctrlKey || e.metaKey) && e.shiftKey && e.key.toLowerCase() === "r") { e.preventDefault(); runSql(); }
  });
  init();
});
