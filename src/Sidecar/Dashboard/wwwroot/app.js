// InferenceSidecar dashboard: plain JavaScript, no build step. Reads the admin API with the token from sessionStorage
// (sent as a bearer header, never put in a URL). Every value goes into the page as text (textContent), never as HTML.
"use strict";
(function () {
  const KEY = "sidecarAdminToken";
  const $ = (id) => document.getElementById(id);
  const COLORS = ["#0969da", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7d8c", "#6e7781", "#fb8500", "#2da44e"];
  const views = ["usage", "users", "refusals", "cache", "clusters", "redis"];
  let current = "usage";

  function token() { return sessionStorage.getItem(KEY) || ""; }

  async function api(path, options) {
    const init = Object.assign({ headers: {} }, options || {});
    init.headers["Authorization"] = "Bearer " + token();
    const response = await fetch(path, init);
    if (response.status === 401 || response.status === 404) {
      signOut(response.status === 401 ? "The token was refused." : "The admin API is not enabled.");
      throw new Error("unauthorized");
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error((body.error && body.error.message) || ("HTTP " + response.status));
    }
    return body;
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function fillTable(id, rows, empty) {
    const body = $(id).tBodies[0];
    body.replaceChildren();
    if (rows.length === 0) {
      const tr = el("tr");
      const td = el("td", empty || "Nothing yet.");
      td.colSpan = $(id).tHead.rows[0].cells.length;
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    for (const row of rows) {
      const tr = el("tr");
      for (const cell of row) {
        if (cell instanceof Node) { const td = el("td"); td.appendChild(cell); tr.appendChild(td); }
        else if (typeof cell === "object" && cell !== null) { tr.appendChild(el("td", cell.text, cell.cls)); }
        else { tr.appendChild(el("td", cell)); }
      }
      body.appendChild(tr);
    }
  }

  const usd = (v) => Number(v || 0).toFixed(6);
  const num = (v) => Number(v || 0).toLocaleString("en-US");
  const isoDay = (date) => date.toISOString().slice(0, 10);
  function daysAgo(n) { const d = new Date(); d.setUTCDate(d.getUTCDate() - n); return isoDay(d); }

  async function usageRows(query) {
    const rows = [];
    let cursor = null, totals = null;
    for (let page = 0; page < 20; page++) {
      const q = new URLSearchParams(query);
      q.set("limit", "10000");
      if (cursor) q.set("cursor", cursor);
      const body = await api("/admin/usage?" + q.toString());
      rows.push(...body.rows);
      totals = body.totals;
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    return { rows, totals };
  }

  // A stacked bar chart in SVG: one bar per day, one colour per model.
  function stacked(containerId, days, models, value, format) {
    const box = $(containerId);
    box.replaceChildren();
    const W = 800, H = 260, left = 70, bottom = 40, top = 10;
    const totals = days.map((d) => models.reduce((s, m) => s + (value[d + "|" + m] || 0), 0));
    const max = Math.max(...totals, 0) || 1;
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const line = (x1, y1, x2, y2) => { const l = document.createElementNS(ns, "line"); l.setAttribute("x1", x1); l.setAttribute("y1", y1); l.setAttribute("x2", x2); l.setAttribute("y2", y2); l.setAttribute("stroke", "#d0d7de"); svg.appendChild(l); };
    const text = (x, y, s, anchor) => { const t = document.createElementNS(ns, "text"); t.setAttribute("x", x); t.setAttribute("y", y); t.setAttribute("font-size", "12"); t.setAttribute("fill", "#57606a"); t.setAttribute("text-anchor", anchor || "end"); t.textContent = s; svg.appendChild(t); };
    for (let i = 0; i <= 4; i++) {
      const y = top + (H - top - bottom) * (1 - i / 4);
      line(left, y, W - 5, y);
      text(left - 6, y + 4, format(max * i / 4));
    }
    const slot = (W - left - 5) / Math.max(days.length, 1);
    days.forEach((day, i) => {
      let y = H - bottom;
      models.forEach((model, j) => {
        const v = value[day + "|" + model] || 0;
        if (v <= 0) return;
        const h = (H - top - bottom) * v / max;
        const r = document.createElementNS(ns, "rect");
        r.setAttribute("x", left + i * slot + slot * 0.15);
        r.setAttribute("width", slot * 0.7);
        r.setAttribute("y", y - h);
        r.setAttribute("height", Math.max(h, 0.5));
        r.setAttribute("fill", COLORS[j % COLORS.length]);
        const title = document.createElementNS(ns, "title");
        title.textContent = `${day} ${model}: ${format(v)}`;
        r.appendChild(title);
        svg.appendChild(r);
        y -= h;
      });
      if (days.length <= 16 || i % 2 === 0) text(left + i * slot + slot / 2, H - bottom + 16, day.slice(5), "middle");
    });
    box.appendChild(svg);
    const legend = el("ul", null, "legend");
    models.forEach((m, j) => { const li = el("li"); const sw = el("span"); sw.style.background = COLORS[j % COLORS.length]; li.appendChild(sw); li.appendChild(document.createTextNode(m)); legend.appendChild(li); });
    box.appendChild(legend);
  }

  async function loadUsage() {
    const user = $("usage-user").value.trim();
    const span = Number($("usage-days").value);
    const query = { from: daysAgo(span - 1), to: daysAgo(0) };
    if (user) query.user = user;
    const { rows } = await usageRows(query);
    const days = [];
    for (let i = span - 1; i >= 0; i--) days.push(daysAgo(i));
    const models = [...new Set(rows.map((r) => r.model))].sort();
    const cost = {}, tokens = {}, table = {};
    for (const r of rows) {
      const k = r.day + "|" + r.model;
      cost[k] = (cost[k] || 0) + r.cost_usd;
      tokens[k] = (tokens[k] || 0) + r.input_tokens + r.output_tokens;
      const t = table[k] || (table[k] = { day: r.day, model: r.model, requests: 0, tokens: 0, cost: 0 });
      t.requests += r.requests; t.tokens += r.input_tokens + r.output_tokens; t.cost += r.cost_usd;
    }
    stacked("chart-cost", days, models, cost, (v) => "$" + (v >= 1 ? v.toFixed(2) : v.toFixed(4)));
    stacked("chart-tokens", days, models, tokens, (v) => v >= 1000 ? (v / 1000).toFixed(1) + "k" : v.toFixed(0));
    const list = Object.values(table).sort((a, b) => b.day.localeCompare(a.day) || a.model.localeCompare(b.model));
    fillTable("usage-table", list.map((t) => [t.day, t.model, { text: num(t.requests), cls: "num" }, { text: num(t.tokens), cls: "num" }, { text: usd(t.cost), cls: "num" }]), "No usage in this range.");
  }

  // The window of a user's limits that is most used up: requests or tokens per minute (per model), or the daily budgets.
  function binding(status) {
    let best = null;
    const consider = (name, w) => {
      if (!w || !(w.limit > 0)) return;
      const ratio = w.used / w.limit;
      // "At" the limit: not one more request (or token, or cent) fits; buckets refill continuously, so used is fractional.
      const at = name.startsWith("daily cost") ? w.remaining <= 0.0001 : w.remaining < 1;
      if (!best || ratio > best.ratio) best = { name, ratio, at, cost: name.startsWith("daily cost"), used: w.used, limit: w.limit };
    };
    for (const [model, m] of Object.entries(status.models || {})) {
      consider(`requests per minute (${model})`, m.requests_per_minute);
      consider(`tokens per minute (${model})`, m.tokens_per_minute);
    }
    if (status.daily) { consider("daily tokens", status.daily.tokens); consider("daily cost (USD)", status.daily.cost_usd); }
    return best;
  }

  async function loadUsers() {
    const today = daysAgo(0);
    const { rows } = await usageRows({ from: today, to: today });
    const byUser = {};
    for (const r of rows) {
      const u = byUser[r.user] || (byUser[r.user] = { user: r.user, requests: 0, tokens: 0, cost: 0 });
      u.requests += r.requests; u.tokens += r.input_tokens + r.output_tokens; u.cost += r.cost_usd;
    }
    const top = Object.values(byUser).sort((a, b) => b.cost - a.cost || b.tokens - a.tokens || a.user.localeCompare(b.user));
    fillTable("top-users", top.slice(0, 10).map((u) => [u.user, { text: num(u.requests), cls: "num" }, { text: num(u.tokens), cls: "num" }, { text: usd(u.cost), cls: "num" }]), "No spend today.");
    const refusals = await api("/admin/refusals?minutes=60");
    const candidates = [...new Set(top.slice(0, 20).map((u) => u.user).concat(refusals.recent.map((r) => r.user).filter((u) => u !== "-")))].slice(0, 30);
    const near = [];
    for (const user of candidates) {
      try {
        const b = binding(await api("/admin/limits/" + encodeURIComponent(user)));
        if (b && b.ratio >= 0.8) near.push({ user, b });
      } catch (e) { if (e.message === "unauthorized") throw e; }
    }
    near.sort((a, b) => b.b.ratio - a.b.ratio);
    fillTable("near-limits", near.map(({ user, b }) => {
      const state = b.at ? "at" : "near";
      const show = (v) => b.cost ? usd(v) : num(Math.round(v));
      return [user, b.name, { text: show(b.used), cls: "num" }, { text: show(b.limit), cls: "num" }, { text: Math.min(100, Math.round(b.ratio * 100)), cls: "num" }, { text: state === "at" ? "at limit" : "near limit", cls: "state-" + state }];
    }), "No user is at 80 % of a limit.");
  }

  async function loadRefusals() {
    const body = await api("/admin/refusals?minutes=60");
    fillTable("refusal-reasons", Object.entries(body.by_reason).map(([reason, count]) => [reason, { text: num(count), cls: "num" }]), "No 429s in the last hour.");
    fillTable("refusal-recent", body.recent.map((r) => [r.at.slice(11, 19), r.user, r.model, r.route, r.reason]), "No 429s in the last hour.");
  }

  async function loadCache() {
    const { totals } = await usageRows({ from: daysAgo(6), to: daysAgo(0) });
    const requests = totals ? totals.requests : 0, hits = totals ? totals.cache_hits : 0;
    $("cache-ratio").textContent = requests > 0 ? (100 * hits / requests).toFixed(1) + " %" : "-";
    $("cache-hits").textContent = num(hits);
    $("cache-requests").textContent = num(requests);
    $("cache-saved").textContent = "$" + usd(totals ? totals.saved_cost_usd : 0);
    $("cache-range").textContent = `Served requests over the last 7 UTC days (${daysAgo(6)} to ${daysAgo(0)}), every user.`;
  }

  async function loadClusters() {
    const body = await api("/admin/clusters");
    fillTable("clusters", body.clusters.map((c) => {
      const open = c.destinations.some((d) => d.passive === "Unhealthy");
      const button = el("button", "Reset circuit");
      button.type = "button";
      button.setAttribute("aria-label", "Reset circuit of " + c.id);
      button.addEventListener("click", async () => {
        button.disabled = true;
        try { await api("/admin/clusters/" + encodeURIComponent(c.id) + "/reset", { method: "POST" }); say("Circuit of " + c.id + " reset."); }
        catch (e) { say("Reset failed: " + e.message); }
        await loadClusters();
      });
      return [c.id, { text: open ? "open" : "closed", cls: open ? "state-open" : "state-closed" }, button, c.provider,
        { text: `${c.available_destinations}/${c.destinations.length}`, cls: "num" },
        c.destinations.map((d) => `${d.id}: ${d.active} / ${d.passive}`).join(", ")];
    }), "No clusters.");
  }

  async function loadRedis() {
    const body = await api("/admin/redis");
    const box = $("redis");
    box.replaceChildren();
    const tile = (name, value, cls) => { const d = el("div"); d.appendChild(el("dt", name)); d.appendChild(el("dd", value, cls)); box.appendChild(d); };
    tile("State", body.state, "state-" + body.state);
    if (body.configured) {
      tile("Limits", body.limits === "shared" ? "shared (Redis)" : body.limits === "local_fallback" ? "local fallback" : "refusing", "state-" + body.limits);
      tile("Connected", body.connected ? "yes" : "no");
      tile("Redis Cluster", body.cluster ? "yes" : "no");
    }
    tile("Failure mode", body.failure_mode);
  }

  const loaders = { usage: loadUsage, users: loadUsers, refusals: loadRefusals, cache: loadCache, clusters: loadClusters, redis: loadRedis };

  function say(text) { $("status").textContent = text; }

  async function show(view, focus) {
    current = view;
    for (const v of views) {
      const tab = $("tab-" + v), panel = $("view-" + v), on = v === view;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      panel.hidden = !on;
    }
    if (focus) $("tab-" + view).focus();
    document.body.dataset.loaded = "";
    say("Loading…");
    try { await loaders[view](); say("Updated " + new Date().toISOString().slice(11, 19) + " UTC."); }
    catch (e) { if (e.message !== "unauthorized") say("Could not load: " + e.message); }
    document.body.dataset.loaded = view;
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY);
    $("app").hidden = true;
    $("signout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("token").focus();
  }

  function signedIn() {
    $("login").hidden = true;
    $("app").hidden = false;
    $("signout").hidden = false;
    const wanted = (location.hash || "").slice(1);
    show(views.includes(wanted) ? wanted : "usage", false);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login").addEventListener("submit", async (e) => {
      e.preventDefault();
      sessionStorage.setItem(KEY, $("token").value.trim());
      $("token").value = "";
      try { await api("/admin/redis"); signedIn(); } catch (err) { if (err.message !== "unauthorized") $("login-error").textContent = err.message; }
    });
    $("signout").addEventListener("click", () => signOut("Signed out."));
    $("usage-filter").addEventListener("submit", (e) => { e.preventDefault(); show("usage", false); });
    const nav = document.querySelector("[role=tablist]");
    nav.addEventListener("click", (e) => { const t = e.target.closest("[role=tab]"); if (t) { location.hash = t.id.slice(4); show(t.id.slice(4), false); } });
    nav.addEventListener("keydown", (e) => {
      const i = views.indexOf(current);
      const next = e.key === "ArrowRight" ? views[(i + 1) % views.length] : e.key === "ArrowLeft" ? views[(i + views.length - 1) % views.length]
        : e.key === "Home" ? views[0] : e.key === "End" ? views[views.length - 1] : null;
      if (next) { e.preventDefault(); location.hash = next; show(next, true); }
    });
    if (token()) signedIn(); else signOut("");
  });
})();
