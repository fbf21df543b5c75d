// The dev console: plain JavaScript over the host's API and /console/api/.
"use strict";

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined) e.append(kid);
  return e;
};
const pretty = (v) => JSON.stringify(v, null, 2);

const state = { apps: [], tools: {}, current: null, history: [] };

async function getJSON(url, opts) {
  const resp = await fetch(url, opts);
  return { status: resp.status, headers: resp.headers, body: await resp.json() };
}

// ── functions ──────────────────────────────────────────────────────────────

async function loadFunctions() {
  const { body } = await getJSON("/v1/extensions");
  state.apps = body.extensions;
  const side = $("#functions");
  side.replaceChildren();
  for (const app of state.apps) {
    const manifest = (await getJSON(`/v1/extensions/${encodeURIComponent(app.app_id)}/manifest`)).body;
    state.tools[app.app_id] = Object.fromEntries(manifest.tools.map((t) => [t.name, t]));
    side.append(el("h2", {}, app.name || app.app_id), el("div", { class: "app" }, `${app.app_id} ${app.version}`));
    for (const t of manifest.tools) {
      side.append(el("button", { "data-function": t.name, onclick: () => selectFunction(app.app_id, t.name) },
        t.name, el("span", { class: `badge ${t.action_type}` }, t.action_type)));
    }
  }
}

// selectFunction shows a function's card: its form, or with raw set the
// raw JSON editor holding exactly params (a replay sends what was sent).
function selectFunction(appID, name, params, raw = false) {
  const card = $("#function");
  const tool = (state.tools[appID] || {})[name];
  document.querySelectorAll("aside button").forEach((b) => b.classList.toggle("active", !!tool && b.dataset.function === name));
  if (!tool) {
    state.current = null;
    card.replaceChildren(el("h2", {}, `${appID} · ${name}`),
      el("p", { class: "problem", id: "unknown-function" }, "This host does not serve this function (any more): choose another."));
    return;
  }
  state.current = { appID, tool };
  const schema = tool.params_schema || { properties: {} };
  const form = buildForm(schema, params || {});
  const editor = el("textarea", { id: "raw", class: "hidden", "aria-label": "parameters as JSON", spellcheck: "false" });
  const problem = el("p", { class: "problem hidden", id: "params-problem", role: "alert" });
  const say = (message) => {
    problem.textContent = message || "";
    problem.classList.toggle("hidden", !message);
  };
  // parsed is the editor's object, or an error that names what is wrong.
  const parsed = () => {
    const text = editor.value.trim() || "{}";
    let v;
    try { v = JSON.parse(text); } catch (e) { throw new Error(`The parameters are not valid JSON: ${e.message}`); }
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("The parameters must be a JSON object.");
    return v;
  };
  let rawMode = false;
  const setRaw = (on) => {
    rawMode = on;
    formNode.noValidate = on; // the hidden form's constraints do not apply to what the editor sends
    form.node.classList.toggle("hidden", on);
    editor.classList.toggle("hidden", !on);
    toggle.textContent = on ? "form" : "raw JSON";
  };
  const toggle = el("button", { type: "button", id: "raw-toggle", onclick: () => {
    try {
      if (rawMode) form.set(parsed());
      else editor.value = pretty(form.values());
      say("");
      setRaw(!rawMode);
    } catch (e) { say(e.message); }
  } }, "raw JSON");
  const submit = (ev) => {
    ev.preventDefault();
    try {
      if (rawMode) { say(""); callFunction(parsed()); return; }
      if (!ev.target.reportValidity()) return;
      const values = form.values();
      say("");
      callFunction(values);
    } catch (e) { say(e.message); }
  };
  const formNode = el("form", { id: "params", onsubmit: submit }, form.node, editor, problem,
    el("div", { class: "actions" }, el("button", { class: "primary", id: "call" }, `Call ${name}`), toggle));
  const meta = el("div", { class: "meta" },
    el("span", { class: `badge ${tool.action_type}` }, tool.action_type),
    (tool.effects || []).map((e) => el("span", { class: "badge" }, `effect ${e}`)),
    tool.event ? el("span", { class: "badge" }, `event ${tool.event}`) : null,
    tool.background ? el("span", { class: "badge" }, "background") : null);
  card.replaceChildren(
    el("h2", {}, `${appID} · ${name}`), el("p", { class: "muted" }, tool.description || ""), meta,
    formNode);
  if (raw) {
    editor.value = pretty(params || {});
    setRaw(true);
  }
}

// buildForm renders a parameter schema as inputs: defaults filled,
// required marked, types enforced; lists, objects and anything without a
// single type (oneOf, anyOf, untyped) as JSON. An optional checkbox is
// sent only once touched or when the values set it.
function buildForm(schema, values) {
  const node = el("div", { class: "fields" });
  const props = schema.properties || {};
  const required = new Set(schema.required || []);
  const getters = {};
  const setters = {};
  for (const [name, prop] of Object.entries(props)) {
    const type = Array.isArray(prop.type) ? (prop.type.length === 2 ? prop.type.find((t) => t !== "null") : undefined) : prop.type;
    const id = `p-${name}`;
    const initial = name in values ? values[name] : prop.default;
    let input;
    if (prop.enum && prop.enum.every((v) => typeof v === "string")) {
      input = el("select", { id, name, required: required.has(name) }, required.has(name) ? null : el("option", { value: "" }, ""),
        prop.enum.map((v) => el("option", { value: v }, v)));
      getters[name] = () => (input.value === "" ? undefined : input.value);
      setters[name] = (v) => { input.value = v ?? ""; };
    } else if (type === "boolean") {
      input = el("input", { id, name, type: "checkbox" });
      let chosen = required.has(name) || name in values;
      input.addEventListener("change", () => { chosen = true; });
      getters[name] = () => (chosen ? input.checked : undefined);
      setters[name] = (v) => { input.checked = !!v; chosen = chosen || v !== undefined; };
    } else if (type === "integer" || type === "number") {
      input = el("input", { id, name, type: "number", step: type === "integer" ? "1" : "any",
        min: prop.minimum, max: prop.maximum, required: required.has(name) });
      getters[name] = () => (input.value === "" ? undefined : Number(input.value));
      setters[name] = (v) => { input.value = v ?? ""; };
    } else if (type === "string") {
      input = el("input", { id, name, type: "text", required: required.has(name), minlength: prop.minLength,
        maxlength: prop.maxLength, spellcheck: "false" });
      getters[name] = () => (input.value === "" && !required.has(name) ? undefined : input.value);
      setters[name] = (v) => { input.value = v ?? ""; };
    } else {
      input = el("textarea", { id, name, rows: 2, spellcheck: "false", required: required.has(name),
        placeholder: type === "array" ? "[]" : type === "object" ? "{}" : "any JSON value" });
      getters[name] = () => {
        if (input.value.trim() === "") return undefined;
        try { return JSON.parse(input.value); } catch (e) { throw new Error(`${name} is not valid JSON: ${e.message}`); }
      };
      setters[name] = (v) => { input.value = v === undefined ? "" : JSON.stringify(v); };
    }
    setters[name](initial);
    node.append(el("div", { class: "field" },
      el("label", { for: id }, name, required.has(name) ? el("span", { class: "req", title: "required" }, "*") : null),
      input, prop.description ? el("small", {}, prop.description) : null));
  }
  if (!Object.keys(props).length) node.append(el("p", { class: "muted" }, "No parameters."));
  return {
    node,
    values: () => Object.fromEntries(Object.keys(getters).map((k) => [k, getters[k]()]).filter(([, v]) => v !== undefined)),
    set: (v) => Object.keys(setters).forEach((k) => setters[k](v[k] ?? undefined)),
  };
}

// ── calls ──────────────────────────────────────────────────────────────────

async function callFunction(params, confirmationToken) {
  const { appID, tool } = state.current;
  const body = { user_id: $("#user").value, tenant_id: $("#tenant").value, function: tool.name, params };
  if (confirmationToken) body.confirmation_token = confirmationToken;
  const headers = { "Content-Type": "application/json" };
  const token = $("#token").value.trim();
  if (token) headers.Authorization = `ImperalCallToken ${token.replace(/^ImperalCallToken\s+/, "")}`;
  const resp = await getJSON(`/v1/extensions/${encodeURIComponent(appID)}/call`, { method: "POST", headers, body: JSON.stringify(body) });
  // In call_token mode each call needs a token: the field appears once one is asked for.
  if (resp.status === 401 || resp.status === 403) $("#token-label").classList.remove("hidden");
  const requestID = resp.headers.get("X-Request-ID");
  const recorded = requestID ? (await getJSON(`/console/api/calls?${new URLSearchParams({ request_id: requestID })}`)).body.calls[0] : null;
  showCall(recorded || { function: tool.name, app_id: appID, answer: resp.body, params, user_id: body.user_id }, resp.status);
  loadCache();
}

function showCall(call, httpStatus) {
  const res = call.answer || {};
  const box = $("#result");
  box.classList.remove("hidden");
  const kids = [el("h2", {}, el("span", { class: `status ${res.status}`, id: "result-status" }, res.status || "?"),
    `${call.function}`, res.error_code ? el("span", { class: "badge destructive" }, res.error_code) : null,
    httpStatus && httpStatus !== 200 ? el("span", { class: "badge" }, `HTTP ${httpStatus}`) : null,
    call.duration_ms !== undefined ? el("span", { class: "muted" }, `${call.duration_ms} ms · ${call.user_id}`) : null)];
  if (res.summary || res.error) kids.push(el("div", { class: "chat", id: "summary" }, res.summary || res.error));
  if (res.error_code === "CONFIRMATION_REQUIRED" && res.data && res.data.confirmation) {
    kids.push(el("div", { class: "confirm" }, el("span", {}, "This call waits for the user's confirmation."),
      el("button", { class: "danger", id: "confirm", onclick: () => {
        selectFunction(call.app_id, call.function, call.params, true);
        if (state.current) callFunction(call.params, res.data.confirmation.token);
      } }, "Confirm")));
  }
  if (res.data && res.data.task_id && res.data.background) kids.push(taskProgress(res.data.task_id, call.user_id));
  if (call.refresh_panels) kids.push(el("h3", {}, "refresh panels"),
    el("p", { id: "refresh" }, call.refresh_panels.length ? call.refresh_panels.join(", ") : "none"));
  if (call.event) kids.push(el("h3", {}, "event"), el("pre", { id: "event" }, pretty(call.event)));
  if (call.cache_reads) {
    kids.push(el("h3", {}, `cache · ${call.cache_hits} hit, ${call.cache_misses} miss`),
      call.cache_reads.length ? el("table", { id: "cache-reads" }, el("thead", {}, el("tr", {}, ["", "model", "key", "size"].map((h) => el("th", {}, h)))),
        el("tbody", {}, call.cache_reads.map((r) => el("tr", {},
          el("td", {}, el("span", { class: `badge ${r.hit ? "hit" : "miss"}` }, r.hit ? "hit" : "miss")),
          el("td", {}, r.model), el("td", {}, r.key), el("td", {}, r.bytes ? `${r.bytes} B` : "—"))))) : el("p", { class: "muted" }, "No cache reads."));
  }
  if (call.upstream && call.upstream.length) {
    kids.push(el("h3", {}, "upstream"), el("table", { id: "upstream" }, el("tbody", {}, call.upstream.map((u) => el("tr", {},
      el("td", {}, u.method), el("td", {}, u.url), el("td", {}, String(u.status || u.error)), el("td", {}, `${u.duration_ms} ms`))))));
  }
  if (call.store && call.store.length) {
    kids.push(el("h3", {}, "store"), el("table", {}, el("tbody", {}, call.store.map((o) => el("tr", {},
      el("td", {}, o.op), el("td", {}, o.collection), el("td", {}, o.outcome), el("td", {}, `${o.duration_ms} ms`))))));
  }
  kids.push(el("h3", {}, "ActionResult"), el("pre", { id: "answer" }, pretty(res)));
  if (call.seq) kids.push(el("div", { class: "actions" }, el("button", { id: "replay", onclick: () => replay(call) }, "Replay (edit first)")));
  box.replaceChildren(...kids);
}

// taskProgress follows a background task to its end: a bar while it
// runs, then its result.
function taskProgress(taskID, user) {
  const bar = el("progress", { id: "task-progress", max: 100, value: 0 });
  const note = el("span", { id: "task-message", class: "muted" }, "started");
  const result = el("pre", { id: "task-result", class: "hidden" });
  const box = el("div", { class: "task" }, el("h3", {}, `background task ${taskID}`), el("div", { class: "bar" }, bar, note), result);
  const poll = async () => {
    const { status, body } = await getJSON(`/v1/tasks/${encodeURIComponent(taskID)}?user_id=${encodeURIComponent(user)}`);
    if (status !== 200) { note.textContent = body.error || `HTTP ${status}`; return; }
    bar.value = body.progress.percent || 0;
    note.textContent = `${body.status}${body.progress.message ? " · " + body.progress.message : ""}`;
    if (body.status === "running") { setTimeout(poll, 400); return; }
    bar.value = 100;
    result.textContent = pretty(body.result);
    result.classList.remove("hidden");
    loadCache();
  };
  setTimeout(poll, 200);
  return box;
}

// toast shows a notification for a few seconds.
function toast(n) {
  const t = el("div", { class: "toast", role: "status" }, el("strong", {}, `${n.source_app} → ${n.user_id}`), el("div", {}, n.message));
  $("#toasts").append(t);
  setTimeout(() => t.remove(), 6000);
}

// clock shows the harness clock, when the host runs in harness mode, with
// a button that moves it a minute on.
async function clock() {
  const { status, body } = await getJSON("/v1/harness/clock");
  if (status !== 200) return;
  const now = el("span", { id: "clock" }, body.now);
  const advance = el("button", { class: "link", id: "clock-advance", onclick: async () => {
    const r = await getJSON("/v1/harness/clock", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ advance: "61s" }) });
    now.textContent = r.body.now;
    loadCache();
  } }, "+61 s");
  $("header nav").prepend(el("span", { class: "clock", title: "the harness clock" }, "clock ", now), advance);
}

// replay opens a past call for editing: its user, and its parameters
// exactly as they were sent, in the raw editor.
function replay(call) {
  $("#user").value = call.user_id;
  selectFunction(call.app_id, call.function, call.params, true);
  $("#function").scrollIntoView({ block: "start" }); // at once: a smooth scroll would move the button under a click
}

// ── history and live tail ──────────────────────────────────────────────────

function filters() {
  return { function: $("#f-function").value.trim(), user_id: $("#f-user").value.trim(), status: $("#f-status").value };
}
const matches = (c, f) => (!f.function || c.function === f.function) && (!f.user_id || c.user_id === f.user_id) && (!f.status || c.status === f.status);

// loadHistory fetches the recorded calls the filters select, keeping any
// newer one the tail delivered meanwhile.
async function loadHistory() {
  const f = filters();
  const q = new URLSearchParams(Object.entries(f).filter(([, v]) => v));
  const fetched = (await getJSON(`/console/api/calls?${q}`)).body.calls;
  const newest = fetched.length ? fetched[0].seq : 0;
  state.history = [...state.history.filter((c) => c.seq > newest && matches(c, f)), ...fetched];
  renderHistory();
}

function renderHistory() {
  $("#history").replaceChildren(...state.history.slice(0, 100).map((c) => el("li", { class: c.status, onclick: () => showCall(c) },
    el("span", { class: "fn" }, c.function), el("span", { class: "sub" }, `${c.duration_ms} ms`),
    el("span", { class: "sub" }, `${c.user_id} · ${c.status}${c.error_code ? " " + c.error_code : ""}`),
    el("span", { class: "sub" }, `${c.cache_hits} hit · ${c.cache_misses} miss`))));
}

// tail follows new calls and notifications. The browser reopens a lost
// stream by itself; each (re)open fetches the history, which covers what
// happened while it was closed.
function tail() {
  const source = new EventSource("/console/api/calls/stream");
  source.addEventListener("open", () => {
    $("#tail").classList.remove("off");
    loadHistory();
  });
  source.addEventListener("error", () => $("#tail").classList.add("off"));
  source.addEventListener("notification", (ev) => toast(JSON.parse(ev.data)));
  source.addEventListener("call", (ev) => {
    const call = JSON.parse(ev.data);
    if (matches(call, filters()) && !state.history.some((c) => c.seq === call.seq)) {
      state.history.unshift(call);
      renderHistory();
    }
  });
}

// ── cache ──────────────────────────────────────────────────────────────────

async function loadCache() {
  const user = $("#user").value;
  $("#cache-user").textContent = user;
  const { status, body } = await getJSON(`/console/api/cache?user_id=${encodeURIComponent(user)}`);
  const rows = status === 200 ? body.entries.map((e) => el("tr", {}, el("td", {}, e.model), el("td", {}, e.key || "(hash)"),
    el("td", { class: "num" }, `${e.ttl_seconds}s`), el("td", { class: "num" }, `${e.bytes} B`),
    el("td", {}, el("button", { class: "small", title: "delete this entry", "aria-label": `delete ${e.key || e.storage_key}`, onclick: async () => {
      await fetch(`/console/api/cache?${new URLSearchParams({ user_id: user, app_id: e.app_id, storage_key: e.storage_key })}`, { method: "DELETE" });
      loadCache();
    } }, "×")))) : [el("tr", {}, el("td", { colspan: 5 }, body.error || "unavailable"))];
  $("#cache tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 5, class: "muted" }, "No entries."))]));
}

// ── catalogs ───────────────────────────────────────────────────────────────

async function showCatalog(kind) {
  const app = state.current ? state.current.appID : state.apps[0].app_id;
  const url = kind === "manifest" ? `/v1/extensions/${encodeURIComponent(app)}/manifest` : `/v1/tools?format=${kind}`;
  $("#catalog-title").textContent = kind === "manifest" ? `${app} manifest` : `${kind === "mcp" ? "MCP" : "OpenAI"} tools`;
  $("#catalog-body").textContent = pretty((await getJSON(url)).body);
  $("#catalog").showModal();
}

document.querySelectorAll("[data-catalog]").forEach((b) => b.addEventListener("click", () => showCatalog(b.dataset.catalog)));
$("#catalog-copy").addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText($("#catalog-body").textContent));
["#f-function", "#f-user", "#f-status"].forEach((s) => $(s).addEventListener("change", loadHistory));
$("#cache-refresh").addEventListener("click", loadCache);
$("#user").addEventListener("change", loadCache);

loadFunctions().then(() => {
  const first = state.apps[0];
  if (first && first.functions.length) selectFunction(first.app_id, first.functions.includes("list_inbox") ? "list_inbox" : first.functions[0]);
});
loadCache();
tail();
clock();
