// The staff console: a small single-page app over the gateway's own public API (the same calls, roles and audit as
// any client). Plain ES modules, no build step; text is set through textContent, never parsed as HTML.
import { translator } from "./i18n.js";

const state = {
  lang: localStorage.getItem("cdp.lang") || "vi",
  token: sessionStorage.getItem("cdp.access"),
  refresh: sessionStorage.getItem("cdp.refresh"),
  me: null,
};
let t = translator(state.lang);
const view = document.getElementById("view");
const STAGES = ["subscriber", "lead", "marketing_qualified_lead", "sales_qualified_lead", "opportunity", "customer",
  "evangelist", "other"];
const LEAD = ["new", "open", "in_progress", "open_deal", "unqualified", "attempted_to_contact", "connected",
  "bad_timing"];
const CHANNELS = ["email", "sms", "phone", "push", "post", "zalo", "messenger"];
const PURPOSES = ["newsletter", "marketing", "transactional", "profiling", "partner_sharing"];

// ---- small DOM helpers ----------------------------------------------------------------------------------------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}
const card = (title, ...body) => el("section", { class: "card" }, title ? el("h2", { text: title }) : null, ...body);
const dl = (pairs) => el("dl", {}, pairs.filter(([, v]) => v !== undefined && v !== null && v !== "")
  .flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]));
const select = (name, options, value) => el("select", { name },
  options.map((o) => el("option", { value: o, selected: o === value, text: o.replaceAll("_", " ") })));
const when = (iso) => (iso ? new Date(iso).toLocaleString(state.lang === "vi" ? "vi-VN" : "en-GB") : "");
const money = (v) => (v === null || v === undefined ? "" : Number(v).toLocaleString("vi-VN") + " ₫");

function toast(message, isError = false) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.className = isError ? "error" : "";
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 4000);
}

// ---- the API, with the token refreshed once when it expired -----------------------------------------------------
async function api(method, path, body, retry = true) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401 && retry && state.refresh) {
    if (await refreshTokens()) return api(method, path, body, false);
  }
  if (response.status === 401) { signOut(); throw new Error(t("login.failed")); }
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const problem = data && (data.detail || data.title);
    throw new Error(problem || `${response.status}`);
  }
  return data;
}

async function refreshTokens() {
  const r = await fetch("/v1/auth/refresh", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: state.refresh }) });
  if (!r.ok) return false;
  keep(await r.json());
  return true;
}

function keep(tokens) {
  state.token = tokens.access_token;
  state.refresh = tokens.refresh_token;
  sessionStorage.setItem("cdp.access", state.token);
  sessionStorage.setItem("cdp.refresh", state.refresh);
}

function signOut() {
  if (state.refresh) fetch("/v1/auth/logout", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: state.refresh }) }).catch(() => {});
  state.token = state.refresh = state.me = null;
  sessionStorage.clear();
  route();
}

// ---- pages ------------------------------------------------------------------------------------------------------
function loginPage() {
  const error = el("p", { class: "error", role: "alert" });
  const form = el("form", { class: "card login", id: "login" },
    el("h2", { text: t("login.title") }),
    el("label", {}, t("login.user"), el("input", { name: "username", autocomplete: "username", required: true })),
    el("label", {}, t("login.password"),
      el("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
    el("button", { type: "submit", text: t("login.submit") }), error);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const r = await fetch("/v1/auth/token", { method: "POST", body: new URLSearchParams(new FormData(form)) });
    if (!r.ok) { error.textContent = t("login.failed"); return; }
    keep(await r.json());
    location.hash = "#/contacts";
    route();
  });
  view.replaceChildren(form);
}

async function contactsPage(params) {
  const q = params.get("q") || "";
  const input = el("input", { type: "search", name: "q", value: q, placeholder: t("search.placeholder"),
    "aria-label": t("search.submit") });
  const form = el("form", { class: "row", role: "search" }, input, el("button", { type: "submit", text: t("search.submit") }));
  form.addEventListener("submit", (e) => { e.preventDefault(); location.hash = `#/contacts?q=${encodeURIComponent(input.value)}`; });
  const body = el("tbody");
  const table = el("table", { id: "results" }, el("thead", {}, el("tr", {},
    el("th", { text: t("col.name") }), el("th", { text: t("col.email"), class: "wide" }),
    el("th", { text: t("col.phone") }), el("th", { text: t("col.stage"), class: "wide" }))), body);
  const more = el("button", { class: "secondary", hidden: true, text: t("search.more") });
  view.replaceChildren(card(t("nav.contacts"), form, table, more));
  let cursor = null;
  async function load() {
    const qs = new URLSearchParams({ limit: "25" });
    // one box for everything: an email, a phone in any format, or a name with or without accents
    const typed = q.trim();
    if (typed.includes("@")) qs.set("email", typed);
    else if (/^[+()\d\s.-]{6,}$/.test(typed)) qs.set("phone", typed);
    else if (typed) qs.set("name", typed);
    if (cursor) qs.set("cursor", cursor);
    const page = await api("GET", `/v1/contacts?${qs}`);
    for (const c of page.items) {
      body.append(el("tr", {},
        el("td", {}, el("a", { href: `#/contact/${c.id}`, text: c.full_name || c.id })),
        el("td", { class: "wide", text: (c.emails[0] || {}).address || "" }),
        el("td", { text: (c.phones[0] || {}).number || "" }),
        el("td", { class: "wide" }, el("span", { class: "pill", text: c.lifecycle_stage || "" }))));
    }
    if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: 4, class: "muted", text: t("search.empty") })));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  }
  more.addEventListener("click", () => load().catch((e) => toast(e.message, true)));
  await load();
}

function profileSections(c) {
  const d = c.descriptive || {};
  const q = c.quantitative || {};
  const occupation = d.occupation ? [d.occupation.position, d.occupation.company].filter(Boolean).join(", ") : "";
  return el("div", { class: "grid" },
    card(t("c.identification"), dl([
      [t("c.birth_date"), c.birth_date], [t("c.gender"), c.gender],
      [t("c.emails"), (c.emails || []).map((e) => e.address + (e.verified ? " ✓" : "")).join(", ")],
      [t("c.phones"), (c.phones || []).map((p) => p.number + (p.verified ? " ✓" : "")).join(", ")],
      [t("c.addresses"), (c.addresses || []).map((a) => [a.line1, a.ward, a.district, a.city].filter(Boolean).join(", ")).join(" · ")],
      [t("c.preferred"), c.preferred_channel], [t("c.interests"), (c.interests || []).join(", ")],
      [t("c.social"), (c.social_profiles || []).map((s) => s.url || s.handle).join(", ")],
      [t("c.owner"), c.owner], [t("c.tags"), (c.tags || []).join(", ")],
    ])),
    card(t("c.descriptive"), Object.values(d).some((x) => x !== null && x !== undefined && x !== "") ? null
      : el("p", { class: "muted", text: t("c.none") }), dl([
      ["education", d.education_level], ["occupation", occupation], ["income", d.income_band],
      ["family", [d.marital_status, d.children !== undefined && d.children !== null ? `${d.children} children` : ""].filter(Boolean).join(", ")],
      ["lifestyle", d.lifestyle_notes],
    ])),
    card(t("c.quantitative"), dl([
      ["purchases", q.purchases], ["total spent", money(q.total_spent)], ["average order", money(q.average_order_value)],
      ["support requests", q.support_requests_total], ["support requests / 30 d", q.support_requests_30d],
      ["website visits / 30 d", q.web_visits_30d],
      ["social interactions / 30 d", q.social_interactions_30d], ["first purchase", when(q.first_purchase_at)],
      ["last purchase", when(q.last_purchase_at)],
    ])),
    card(t("c.qualitative"), (c.survey_answers || []).length
      ? el("ul", {}, c.survey_answers.map((a) => el("li", {}, `${a.question}: ${a.answer || a.score || ""} `, el("small", { class: "muted", text: when(a.answered_at) }))))
      : el("p", { class: "muted", text: t("c.none") })),
    card(t("c.health"), c.health ? dl([["score", c.health.score], ["completeness", c.health.completeness],
      ["freshness", c.health.freshness], ["missing", (c.health.missing || []).join(", ")]]) : null),
  );
}

function describe(item) {
  // one line per interaction, from its own data: what was bought, asked, said
  const d = item.data || {};
  if (d.total) return money(d.total.amount);
  if (d.value) return money(d.value.amount);
  if (d.subject) return d.subject;
  if (d.answers) return d.answers.map((a) => (a.score ?? a.answer)).join(" · ");
  if (d.text) return d.text;
  if (d.outcome) return `${d.direction} ${d.outcome}`;
  return d.url || d.network || d.form_id || d.reason || "";
}

function historyList(entries) {
  return el("ul", { class: "timeline" }, (entries || []).map((h) => el("li", {},
    `${h.from || "∅"} → ${h.to} `, el("small", { class: "muted", text: `${when(h.at)} · ${h.by || ""} ${h.reason || h.note || ""}` }))));
}

async function contactPage(id) {
  const v = await api("GET", `/v1/contacts/${id}/360`);
  const c = v.profile || v.contact || v;
  const lifecycle = el("form", { class: "row", id: "lifecycle" }, select("stage", STAGES, c.lifecycle_stage),
    el("input", { name: "reason", placeholder: t("c.reason"), required: true, minlength: 3 }),
    el("button", { type: "submit", text: t("c.save") }));
  lifecycle.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(lifecycle);
    try {
      await api("PUT", `/v1/contacts/${id}/lifecycle`, { stage: f.get("stage"), reason: f.get("reason") });
      toast(t("saved")); contactPage(id);
    } catch (err) { toast(err.message, true); }
  });
  const lead = el("form", { class: "row", id: "lead" }, select("status", LEAD, c.lead_status),
    el("input", { name: "note", placeholder: t("c.note") }), el("button", { type: "submit", text: t("c.save") }));
  lead.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(lead);
    try {
      await api("POST", `/v1/contacts/${id}/lead-status`, { status: f.get("status"), note: f.get("note") || null });
      toast(t("saved")); contactPage(id);
    } catch (err) { toast(err.message, true); }
  });
  const [stageHistory, leadHistory] = await Promise.all([
    api("GET", `/v1/contacts/${id}/lifecycle/history`).catch(() => []),
    api("GET", `/v1/contacts/${id}/lead-status/history`).catch(() => []),
  ]);
  const consentRows = Object.values(v.consent || {}).map((s) => el("tr", {},
    el("td", { text: `${s.channel} / ${s.purpose}` }), el("td", { class: s.status === "granted" ? "yes" : "no", text: s.status }),
    el("td", { class: "wide muted", text: s.reason || "" })));
  const proof = el("div", { id: "proof" });
  const showProof = el("button", { class: "secondary", text: t("c.proof"), onclick: async () => {
    try { proof.replaceChildren(ledgerTable(await api("GET", `/v1/consent/subjects/${id}`))); }
    catch (err) { proof.textContent = err.message; }
  } });
  const mergeForm = el("form", { class: "row", id: "merge" },
    el("input", { name: "merged_id", placeholder: t("k.person"), required: true }),
    el("button", { type: "submit", class: "secondary", text: t("c.merge") }));
  mergeForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("POST", "/v1/merges", { survivor_id: id, merged_id: new FormData(mergeForm).get("merged_id") });
      toast(t("saved")); contactPage(id);
    } catch (err) { toast(err.message, true); }
  });
  const identity = v.identity || {};
  const links = Object.values(identity.records || identity || {}).filter((r) => r && r.source);
  const person = await api("GET", `/v1/persons/${id}`).catch(() => null);
  const merges = (person && person.merges) || [];
  const timeline = v.recent_timeline || [];
  view.replaceChildren(
    el("h1", { text: c.full_name || id }),
    el("p", {}, el("span", { class: "pill", text: c.lifecycle_stage || "" }), " ",
      el("span", { class: "pill", text: c.lead_status || "" })),
    profileSections(c),
    el("div", { class: "grid" },
      card(t("c.lifecycle"), lifecycle, el("h3", { text: t("c.history") }), historyList(stageHistory)),
      card(t("c.lead"), lead, el("h3", { text: t("c.history") }), historyList(leadHistory))),
    card(t("c.consent"), consentRows.length ? el("table", { id: "consent" }, el("tbody", {}, consentRows))
      : el("p", { class: "muted", text: t("c.none") }), showProof, proof),
    card(t("c.identity"),
      el("ul", {}, links.map((r) => el("li", {}, `${r.source} · ${r.record_id} `,
        el("small", { class: "muted", text: `${r.rule || ""} ${r.score ?? ""}` })))),
      el("ul", { id: "merges" }, merges.map((m) => el("li", {}, `${t("c.merged_from")} ${m.merged_id} (${m.by || ""}) `,
        m.undone_at ? el("span", { class: "muted", text: when(m.undone_at) }) : el("button", { class: "secondary",
          text: t("c.undo"), onclick: async () => {
            try { await api("POST", `/v1/merges/${m.merge_id}/undo`); toast(t("saved")); contactPage(id); }
            catch (err) { toast(err.message, true); }
          } })))), mergeForm),
    card(t("c.scores"), dl(Object.entries(v.scores || {}).map(([k, s]) => [k, typeof s === "object" ? JSON.stringify(s) : s])),
      el("p", { id: "segments-of" }, Object.entries(v.segments || {}).filter(([, g]) => g.member)
        .map(([sid, g]) => el("span", { class: "pill", title: g.name, text: sid })))),
    card(t("c.timeline"), el("ul", { class: "timeline", id: "timeline" }, timeline.map((i) => el("li", {},
      el("b", { text: i.type }), " ", describe(i), " ", el("small", { class: "muted", text: when(i.at) }))))),
  );
}

function ledgerTable(subject) {
  return el("table", {}, el("thead", {}, el("tr", {}, ["channel", "purpose", t("k.status"), t("k.time"), t("k.source"),
    t("c.proof")].map((h) => el("th", { text: h })))), el("tbody", {}, subject.statements.map((st) => el("tr", {},
    el("td", { text: st.channel }), el("td", { text: st.purpose }), el("td", { text: st.status }),
    el("td", { text: when(st.event_time) }), el("td", { text: st.source }),
    el("td", { class: "muted", text: JSON.stringify(st.proof) })))));
}

async function reviewsPage() {
  const items = await api("GET", "/v1/reviews?status=open&limit=50");
  const list = el("div", { id: "reviews" });
  for (const r of items) {
    const decide = async (decision, personId) => {
      try {
        await api("POST", `/v1/reviews/${r.review_id}`, personId ? { decision, person_id: personId } : { decision });
        toast(t("saved")); reviewsPage();
      } catch (err) { toast(err.message, true); }
    };
    const candidates = (r.candidates || []).map((c) => el("div", { class: "candidate" },
      el("p", {}, el("a", { href: `#/contact/${c.person_id}`, text: c.person_id }),
        ` · ${t("r.score")} ${c.score} · ${c.rule}${c.conflict ? ` · ${c.conflict}` : ""}`),
      el("table", {}, el("thead", {}, el("tr", {}, ["field", "comparison", "weight"].map((h) => el("th", { text: h })))),
        el("tbody", {}, (c.evidence || []).map((e) => el("tr", {}, el("td", { text: e.field }),
          el("td", { text: e.comparison }), el("td", { class: e.weight < 0 ? "no" : "yes", text: String(e.weight) }))))),
      el("div", { class: "row" }, el("button", { onclick: () => decide("accept", c.person_id), text: t("r.accept") }))));
    list.append(card(`${r.record_key} → ${r.person_id}`, el("p", { class: "muted", text: r.reason }), candidates,
      el("div", { class: "row" }, el("button", { class: "secondary", onclick: () => decide("reject"), text: t("r.reject") }))));
  }
  if (!items.length) list.append(el("p", { class: "muted", text: t("r.empty") }));
  view.replaceChildren(el("h1", { text: t("r.title") }), list);
}

async function consentPage() {
  const answer = el("p", { id: "answer", role: "status" });
  const check = el("form", { class: "row", id: "check" },
    el("input", { name: "person_id", placeholder: t("k.person"), required: true }),
    select("channel", CHANNELS, "email"), select("purpose", PURPOSES, "newsletter"),
    el("button", { type: "submit", text: t("k.ask") }));
  check.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const a = await api("GET", `/v1/consent/check?${new URLSearchParams(new FormData(check))}`);
      answer.replaceChildren(el("b", { class: a.allowed ? "yes" : "no", text: a.allowed ? t("k.allowed") : t("k.denied") }),
        ` · ${a.status} · ${a.reason}`);
    } catch (err) { answer.textContent = err.message; }
  });
  const record = el("form", { class: "row", id: "record" },
    el("input", { name: "person_id", placeholder: t("k.person"), required: true }),
    select("channel", CHANNELS, "email"), select("purpose", PURPOSES, "newsletter"),
    select("status", ["granted", "denied", "withdrawn"], "granted"),
    el("input", { name: "source", placeholder: t("k.source"), value: "console", required: true }),
    el("input", { name: "event_time", type: "datetime-local", required: true, "aria-label": t("k.time") }),
    el("input", { name: "text_version", placeholder: t("k.proof_text"), required: true }),
    el("button", { type: "submit", text: t("c.save") }));
  record.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(record);
    try {
      await api("POST", "/v1/consent/statements", {
        person_id: f.get("person_id"), channel: f.get("channel"), purpose: f.get("purpose"), status: f.get("status"),
        source: f.get("source"), event_time: new Date(f.get("event_time")).toISOString(), legal_basis: "consent",
        proof: { text_version: f.get("text_version") } });
      toast(t("saved"));
    } catch (err) { toast(err.message, true); }
  });
  const suppress = el("form", { class: "row", id: "suppress" },
    el("input", { name: "person_id", placeholder: t("k.person"), required: true }),
    el("input", { name: "reason", placeholder: t("p.reason"), required: true, minlength: 3 }),
    el("button", { type: "submit", class: "danger", text: t("c.save") }));
  suppress.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(suppress);
    try { await api("PUT", `/v1/consent/suppressions/${encodeURIComponent(f.get("person_id"))}`, { reason: f.get("reason") }); toast(t("saved")); }
    catch (err) { toast(err.message, true); }
  });
  const ledger = el("div", { id: "ledger" });
  const lookup = el("form", { class: "row" }, el("input", { name: "person_id", placeholder: t("k.person"), required: true }),
    el("button", { type: "submit", class: "secondary", text: t("c.history") }));
  lookup.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const s = await api("GET", `/v1/consent/subjects/${encodeURIComponent(new FormData(lookup).get("person_id"))}`);
      ledger.replaceChildren(ledgerTable(s));
    } catch (err) { ledger.textContent = err.message; }
  });
  view.replaceChildren(el("h1", { text: t("nav.consent") }), card(t("k.check"), check, answer), card(t("k.record"), record),
    card(t("k.suppress"), suppress), card(t("c.history"), lookup, ledger));
}

async function privacyPage() {
  const progress = el("div", { id: "progress" });
  const form = el("form", { class: "row", id: "privacy" },
    el("select", { name: "kind" }, el("option", { value: "erasure", text: t("p.erasure") }),
      el("option", { value: "export", text: t("p.export") })),
    el("input", { name: "person_id", placeholder: t("k.person"), required: true }),
    el("input", { name: "reason", placeholder: t("p.reason") }), el("button", { type: "submit", text: t("p.open") }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    try {
      const body = { kind: f.get("kind"), person_id: f.get("person_id") };
      if (f.get("reason")) body.reason = f.get("reason");
      const r = await api("POST", "/v1/privacy/requests", body);
      follow(r.request_id);
    } catch (err) { toast(err.message, true); }
  });
  async function follow(requestId) {
    for (let i = 0; i < 60; i++) {
      const r = await api("GET", `/v1/privacy/requests/${requestId}`);
      progress.replaceChildren(el("p", {}, `${requestId} · `, el("b", { text: r.status })),
        el("table", {}, el("tbody", {}, Object.entries(r.services || {}).map(([svc, s]) => el("tr", {},
          el("td", { text: svc }), el("td", { class: s.status === "done" || s.done ? "yes" : "muted",
            text: s.status || (s.done ? "done" : "pending") }), el("td", { class: "muted", text: JSON.stringify(s.counts || s.result || "") }))))));
      if (r.status === "completed") return;
      await new Promise((ok) => setTimeout(ok, 500));
    }
  }
  view.replaceChildren(el("h1", { text: t("p.title") }), card(t("p.open"), form), card(t("p.progress"), progress));
}

const charts = [];
async function dashboardPage(params) {
  const today = new Date();
  const to = params.get("to") || today.toISOString().slice(0, 10);
  const from = params.get("from") || new Date(today - 29 * 864e5).toISOString().slice(0, 10);
  const form = el("form", { class: "row" }, el("label", {}, t("d.from"), " ", el("input", { type: "date", name: "from", value: from })),
    el("label", {}, t("d.to"), " ", el("input", { type: "date", name: "to", value: to })),
    el("button", { type: "submit", text: t("d.show") }));
  form.addEventListener("submit", (e) => { e.preventDefault(); location.hash = `#/dashboard?${new URLSearchParams(new FormData(form))}`; });
  const [kpis, daily, dormant] = await Promise.all([
    api("GET", `/v1/analytics/kpis?from=${from}&to=${to}`),
    api("GET", `/v1/analytics/new-contacts?from=${from}&to=${to}`),
    api("GET", "/v1/analytics/dormant?limit=20").catch(() => ({ items: [] })),
  ]);
  const segmentList = await api("GET", "/v1/analytics/segments").catch(() => ({ items: [] }));
  const journeyOf = await api("GET", `/v1/analytics/journey?from=${from}&to=${to}`).catch(() => ({ stages: [] }));
  const silent = el("table", { id: "dormant" }, el("tbody", {}, dormant.items.map((d) => el("tr", {},
    el("td", {}, el("a", { href: `#/contact/${d.contact_id}`, text: d.contact_id.slice(0, 8) })),
    el("td", { text: `${d.silent_days} / ${d.expected_gap_days} ${t("d.days")}` }),
    el("td", { class: "muted", text: d.rfm ? `RFM ${d.rfm}` : "" })))));
  const figures = kpis.kpis || {};
  const previous = kpis.previous || {};
  const number = (k) => (k !== null && typeof k === "object" ? k.value : k);
  const fmt = (v) => (v === null || v === undefined ? "–"
    : Number(v).toLocaleString(state.lang === "vi" ? "vi-VN" : "en-GB", { maximumFractionDigits: 2 }));
  const cards = el("div", { class: "kpis", id: "kpis" }, Object.entries(figures).map(([name, k]) =>
    el("div", { class: "kpi", title: (k && k.formula) || "" }, el("small", { text: name.replaceAll("_", " ") }),
      el("b", { text: fmt(number(k)) }),
      el("small", { text: `${t("d.previous")}: ${fmt(number(previous[name]))}` }))));
  const trend = el("canvas", { id: "trend", "aria-label": t("d.trend") });
  const funnel = el("canvas", { id: "funnel", "aria-label": t("d.funnel") });
  const sizes = el("canvas", { id: "segments", "aria-label": t("d.segments") });
  view.replaceChildren(el("h1", { text: t("d.title") }), form, cards,
    el("div", { class: "grid" }, card(t("d.trend"), trend), card(t("d.funnel"), funnel), card(t("d.segments"), sizes)),
    card(t("d.dormant"), dormant.items.length ? silent : el("p", { class: "muted", text: t("c.none") })));
  charts.splice(0).forEach((c) => c.destroy());
  if (!window.Chart) return;
  const days = daily.days || daily.items || daily;
  charts.push(new window.Chart(trend, { type: "line", data: {
    labels: days.map((d) => d.day || d.date), datasets: [{ label: t("d.trend"), data: days.map((d) => d.count), tension: 0.25 }] },
    options: { plugins: { legend: { display: false } }, animation: false } }));
  // the journey funnel of the people first seen in the period: how many reached each stage
  const steps = (journeyOf.stages || []).map((g) => [t(`j.${g.stage}`), g.reached,
    g.conversion_to_next === null ? "" : `${g.conversion_to_next}%`]);
  charts.push(new window.Chart(funnel, { type: "bar", data: { labels: steps.map(([s, , c]) => (c ? `${s} (${c} →)` : s)),
    datasets: [{ label: t("d.funnel"), data: steps.map(([, v]) => v) }] },
    options: { indexAxis: "y", plugins: { legend: { display: false } }, animation: false } }));
  charts.push(new window.Chart(sizes, { type: "bar", data: { labels: segmentList.items.map((g) => g.id),
    datasets: [{ label: t("d.segments"), data: segmentList.items.map((g) => g.size) }] },
    options: { plugins: { legend: { display: false } }, animation: false } }));
}

// ---- routing ----------------------------------------------------------------------------------------------------
function translateStatic() {
  document.documentElement.lang = state.lang;
  document.querySelectorAll("[data-t]").forEach((n) => { n.textContent = t(n.dataset.t); });
  document.querySelectorAll("[data-t-aria]").forEach((n) => n.setAttribute("aria-label", t(n.dataset.tAria)));
}

async function route() {
  translateStatic();
  const nav = document.getElementById("nav");
  document.getElementById("logout").hidden = !state.token;
  if (!state.token) { nav.hidden = true; document.getElementById("who").textContent = ""; return loginPage(); }
  if (!state.me) {
    try { state.me = await api("GET", "/v1/auth/me"); } catch { return; }
  }
  document.getElementById("who").textContent = `${state.me.subject || state.me.username || ""} · ${state.me.role || ""}`;
  const [path, query] = (location.hash.slice(1) || "/contacts").split("?");
  const params = new URLSearchParams(query || "");
  nav.querySelectorAll("a").forEach((a) => a.classList.toggle("active", a.getAttribute("href") === `#${path}`));
  // on a phone the menu folds away when the person goes somewhere, not when the same page is drawn again (a second
  // draw after signing in used to close a menu the person had just opened)
  const navigated = state.path !== path;
  state.path = path;
  if (!window.matchMedia("(max-width: 700px)").matches) nav.hidden = false;
  else if (navigated) nav.hidden = true;
  try {
    if (path.startsWith("/contact/")) await contactPage(decodeURIComponent(path.slice(9)));
    else if (path === "/reviews") await reviewsPage();
    else if (path === "/consent") await consentPage();
    else if (path === "/privacy") await privacyPage();
    else if (path === "/dashboard") await dashboardPage(params);
    else await contactsPage(params);
  } catch (err) {
    view.replaceChildren(card(t("failed"), el("p", { class: "error", text: err.message })));
  }
}

document.getElementById("lang").value = state.lang;
document.getElementById("lang").addEventListener("change", (e) => {
  state.lang = e.target.value;
  localStorage.setItem("cdp.lang", state.lang);
  t = translator(state.lang);
  route();
});
document.getElementById("logout").addEventListener("click", signOut);
document.getElementById("menu").addEventListener("click", () => {
  const nav = document.getElementById("nav");
  nav.hidden = !nav.hidden;
});
window.addEventListener("hashchange", route);
route();
