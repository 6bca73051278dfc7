// chargen-es dashboard: renders the page's embedded data, then applies its live event stream.
// Plain JS, no build step. Every value from the server is inserted as text (never as HTML).
"use strict";

const PAGE = document.body.dataset.page;
const TOKEN = document.querySelector('meta[name="chargen-token"]').content;
const DATA = JSON.parse(document.getElementById("page-data").textContent);
const main = document.getElementById("main");

// ------------------------------------------------------------------ helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function when(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "–"; }

function usd(x) { return x === null || x === undefined ? "–" : "$" + Number(x).toFixed(x < 1 ? 4 : 2); }

function span(seconds) {
  if (seconds === null || seconds === undefined || isNaN(seconds)) return "–";
  seconds = Math.max(0, Math.round(seconds));
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return h ? `${h} h ${m} min` : m ? `${m} min ${s} s` : `${s} s`;
}

function duration(row) {
  if (row.duration_s !== null && row.duration_s !== undefined) return span(row.duration_s);
  if (!row.started_at) return "–";
  const end = row.active ? Date.now() : Date.parse(row.updated_at || row.started_at);
  return span((end - Date.parse(row.started_at)) / 1000);
}

function eta(row) {
  if (!row.active || !row.pending) return "";
  if (!row.eta_at) return "estimating…";
  const left = (Date.parse(row.eta_at) - Date.now()) / 1000;
  return left > 0 ? `Est. ${span(left)} remaining` : "finishing…";
}

// done means applied: failed items are shown as failed, never counted towards 100 %
function percent(row) { return row.tasks ? Math.floor(100 * row.ok / row.tasks) : 100; }

function progressBar(row) {
  const total = row.tasks || 1;
  const bar = el("div", {class: "progress", "data-run": row.id, "data-percent": percent(row),
                         title: `${row.ok} ok, ${row.failed} failed, ${row.pending} pending`});
  const ok = el("span", {class: "ok"}), failed = el("span", {class: "failed"});
  ok.style.width = `${100 * row.ok / total}%`;  // CSSOM, which the page's CSP allows (style attributes not)
  failed.style.width = `${100 * row.failed / total}%`;
  bar.append(ok, failed);
  return el("div", {class: "progress-cell"}, bar,
            el("small", {class: "progress-text"}, `${percent(row)} % · ${row.ok} ok / ${row.failed} failed / ${row.pending} pending`));
}

function phaseBadge(row) {
  return el("span", {class: `phase phase-${row.phase}${row.active ? " active" : ""}`, "data-phase": row.phase},
            row.phase + (row.active ? " ●" : ""));
}

function connect(url, handlers) {
  const live = document.getElementById("live");
  const source = new EventSource(url);
  source.onopen = () => { live.textContent = "live"; live.classList.add("on"); };
  source.onerror = () => { live.textContent = "reconnecting…"; live.classList.remove("on"); };
  for (const [name, fn] of Object.entries(handlers)) {
    source.addEventListener(name, (e) => fn(JSON.parse(e.data)));
  }
  return source;
}

async function post(path) {
  const response = await fetch(path, {method: "POST", headers: {"X-Chargen-Token": TOKEN}});
  let body = {};
  try { body = await response.json(); } catch (e) { body = {message: response.statusText}; }
  return {ok: response.ok, message: body.message || response.statusText};
}

function imgUrl(run, key, which) {
  return `/img/${encodeURIComponent(run)}?key=${encodeURIComponent(key)}&n=${encodeURIComponent(which)}`;
}

// ------------------------------------------------------------------ runs page

function runsPage() {
  const rows = new Map(DATA.rows.map((r) => [r.id, r]));
  const tbody = el("tbody");
  main.replaceChildren(el("h1", {}, "Runs"),
    el("table", {class: "runs", id: "runs"},
      el("thead", {}, el("tr", {}, ...["Run", "Mode", "Runner", "Phase", "Progress", "ETA", "Cost est. / actual",
                                       "Started", "Duration"].map((h) => el("th", {}, h)))),
      tbody),
    el("p", {class: "empty", id: "no-runs", hidden: rows.size ? true : null},
       "No runs yet: start one with chargen-es run; it appears here by itself."));

  function render() {
    const sorted = [...rows.values()].sort((a, b) =>
      (b.active - a.active) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    tbody.replaceChildren(...sorted.map((r) => el("tr", {"data-run": r.id, class: r.active ? "active" : ""},
      el("td", {}, el("a", {href: `/run/${encodeURIComponent(r.id)}`}, r.id),
         r.name && r.name !== r.id ? el("div", {class: "name"}, r.name) : null,
         r.error ? el("div", {class: "error"}, r.error) : null),
      el("td", {}, r.mode), el("td", {}, r.runner), el("td", {class: "phase-cell"}, phaseBadge(r)),
      el("td", {}, progressBar(r)), el("td", {class: "eta"}, eta(r)),
      el("td", {}, `${usd(r.cost_estimated_usd)} / ${usd(r.cost_actual_usd)}`),
      el("td", {}, when(r.started_at)), el("td", {class: "duration"}, duration(r)))));
    document.getElementById("no-runs").hidden = rows.size > 0;
  }

  render();
  connect("/api/stream", {
    snapshot: (all) => { rows.clear(); for (const r of all) rows.set(r.id, r); render(); },
    rows: (changed) => { for (const r of changed) rows.set(r.id, r); render(); },
    removed: (ids) => { for (const id of ids) rows.delete(id); render(); },  // `chargen-es delete`
  });
  setInterval(() => {  // the clock ticks here; data only ever comes from the stream
    for (const tr of tbody.children) {
      const r = rows.get(tr.dataset.run);
      if (r && r.active) {
        tr.querySelector(".eta").textContent = eta(r);
        tr.querySelector(".duration").textContent = duration(r);
      }
    }
  }, 1000);
}

// ------------------------------------------------------------------ run page

const STATES = ["queued", "submitted", "processing", "done", "failed", "skipped"];
const ICONS = {queued: "○", submitted: "◔", processing: "◐", done: "✓", failed: "✗", skipped: "–"};

function analysisList(fields) {
  if (!fields) return null;
  const dl = el("dl", {class: "analysis"});
  for (const [k, v] of Object.entries(fields)) {
    dl.append(el("dt", {}, k), el("dd", {}, typeof v === "string" ? v : JSON.stringify(v)));
  }
  return dl;
}

function runPage() {
  let summary = DATA.summary;
  let chunks = DATA.chunks;
  const items = new Map(DATA.items.map((i) => [i.key, i]));
  const runId = summary.id;
  const head = el("section", {id: "summary"});
  const controls = el("section", {id: "controls"});
  const message = el("p", {id: "message", class: "message", role: "status"});
  const chunkTable = el("section", {id: "chunks"});
  const stateSel = el("select", {id: "filter-state"}, el("option", {value: ""}, "all states"),
                      ...STATES.map((s) => el("option", {value: s}, s)));
  const entitySel = el("select", {id: "filter-entity"}, el("option", {value: ""}, "all entities"));
  const search = el("input", {id: "search", type: "search", placeholder: "search key or scene"});
  const counts = el("span", {id: "shown"});
  const tbody = el("tbody");
  const dialog = el("dialog", {id: "confirm-cancel"},
    el("p", {}, `Cancel run ${runId}? Its remote jobs are cancelled and the run cannot be resumed.`),
    el("form", {method: "dialog"},
      el("button", {id: "confirm-no", value: "no"}, "Keep running"),
      el("button", {id: "confirm-yes", value: "yes", class: "danger"}, "Cancel the run")));

  const title = summary.name && summary.name !== runId ? `Run ${runId} (${summary.name})` : `Run ${runId}`;
  main.replaceChildren(el("h1", {}, title), head, controls, message, dialog, chunkTable,
    el("section", {id: "items-section"}, el("h2", {}, "Items"),
      el("div", {class: "filters"}, stateSel, entitySel, search, counts),
      el("table", {class: "items", id: "items"},
        el("thead", {}, el("tr", {}, ...["", "State", "Entity", "Scene", "Key", "Image", "Details"].map(
          (h) => el("th", {}, h)))), tbody)));

  async function act(action) {
    message.textContent = `${action}…`;
    const result = await post(`/api/batches/${encodeURIComponent(runId)}/${action}`);
    message.textContent = result.message;
    message.className = result.ok ? "message" : "message error";
  }

  dialog.addEventListener("close", () => { if (dialog.returnValue === "yes") act("cancel"); });

  function renderHead() {
    const s = summary;
    head.replaceChildren(el("dl", {class: "summary"},
      el("dt", {}, "Phase"), el("dd", {}, phaseBadge(s), s.ended ? el("small", {}, " " + s.ended) : null),
      el("dt", {}, "Mode"), el("dd", {}, `${s.mode} (${s.runner})`),
      el("dt", {}, "Progress"), el("dd", {}, progressBar(s)),
      el("dt", {}, "ETA"), el("dd", {class: "eta"}, eta(s) || "–"),
      el("dt", {}, "Tasks"), el("dd", {}, `${s.tasks} planned, ${s.skipped} skipped, ${s.in_flight} in flight`),
      el("dt", {}, "Cost"), el("dd", {}, `estimated ${usd(s.cost_estimated_usd)}, actual ${usd(s.cost_actual_usd)}`),
      el("dt", {}, "Started"), el("dd", {}, when(s.started_at)),
      el("dt", {}, "Duration"), el("dd", {class: "duration"}, duration(s)),
      s.error ? el("dt", {}, "Error") : null, s.error ? el("dd", {class: "error"}, s.error) : null));
    const finished = s.phase === "completed" || s.phase === "cancelled";
    controls.replaceChildren(
      el("button", {id: "pause", disabled: !s.active, onclick: () => act("pause")}, "Pause"),
      el("button", {id: "resume", disabled: s.active || finished, onclick: () => act("resume")}, "Resume"),
      el("button", {id: "cancel", class: "danger", disabled: finished, onclick: () => dialog.showModal()}, "Cancel"));
  }

  function renderChunks() {
    if (!chunks.length) { chunkTable.replaceChildren(); return; }
    chunkTable.replaceChildren(el("h2", {}, summary.runner === "live" ? "Chunks" : "Chunks and jobs"),
      el("table", {class: "chunks"},
        el("thead", {}, el("tr", {}, ...["Chunk", "Tasks", "Attempt", "Job", "State", "Done", "Failed", "Results"].map(
          (h) => el("th", {}, h)))),
        el("tbody", {}, ...chunks.map((c) => el("tr", {"data-chunk": c.chunk},
          el("td", {}, c.chunk), el("td", {}, c.tasks), el("td", {}, c.attempt || "–"),
          el("td", {}, c.job_name || "–"), el("td", {class: "job-state"}, c.job_state || "not submitted",
            c.error ? el("div", {class: "error"}, c.error) : null),
          el("td", {}, c.applied), el("td", {}, c.failed), el("td", {}, c.results_downloaded ? "downloaded" : "–"))))));
  }

  function itemRow(i) {
    const image = i.outputs.find((o) => o.image);
    let thumb = null;
    if (image) {
      const url = imgUrl(runId, i.key, String(image.n));
      thumb = el("a", {href: url, target: "_blank", class: "view"},
                 el("img", {class: "thumb", src: url, alt: i.scene, loading: "lazy"}), el("span", {}, "View"));
    } else if (i.input_image) {
      const url = imgUrl(runId, i.key, "input");
      thumb = el("a", {href: url, target: "_blank", class: "view"},
                 el("img", {class: "thumb", src: url, alt: i.scene, loading: "lazy"}), el("span", {}, "View"));
    }
    const details = el("td", {class: "details"},
      i.reason ? el("div", {class: i.state === "failed" ? "error reason" : "reason"}, i.reason) : null,
      analysisList(i.analysis),
      i.title ? el("div", {class: "title"}, i.title) : null);
    return el("tr", {"data-key": i.key, "data-state": i.state, class: `state-${i.state}`},
      el("td", {class: "icon"}, ICONS[i.state] || ""), el("td", {class: "state"}, i.state),
      el("td", {}, el("a", {href: `/gallery/${encodeURIComponent(i.entity_type)}/${encodeURIComponent(i.slug)}`},
                      `${i.entity_type}/${i.slug}`)),
      el("td", {}, i.scene), el("td", {class: "key"}, i.key), el("td", {}, thumb), details);
  }

  const rowCache = new Map();  // key -> [item, tr]: unchanged items keep their element (and image)

  function renderItems() {
    const entities = [...new Set([...items.values()].map((i) => `${i.entity_type}/${i.slug}`))].sort();
    const chosen = entitySel.value;
    entitySel.replaceChildren(el("option", {value: ""}, "all entities"),
      ...entities.map((e) => el("option", {value: e, selected: e === chosen ? true : null}, e)));
    const st = stateSel.value, q = search.value.trim().toLowerCase();
    const shown = [];
    for (const i of items.values()) {
      if (st && i.state !== st) continue;
      if (chosen && `${i.entity_type}/${i.slug}` !== chosen) continue;
      if (q && !i.key.toLowerCase().includes(q) && !String(i.scene).toLowerCase().includes(q)) continue;
      let cached = rowCache.get(i.key);
      if (!cached || cached[0] !== i) { cached = [i, itemRow(i)]; rowCache.set(i.key, cached); }
      shown.push(cached[1]);
    }
    tbody.replaceChildren(...shown);
    counts.textContent = `${shown.length} of ${items.size} shown`;
  }

  for (const control of [stateSel, entitySel]) control.addEventListener("change", renderItems);
  search.addEventListener("input", renderItems);

  function renderAll() { renderHead(); renderChunks(); renderItems(); }

  renderAll();
  connect(`/api/runs/${encodeURIComponent(runId)}/stream`, {
    snapshot: (d) => {
      summary = d.summary; chunks = d.chunks; items.clear();
      for (const i of d.items) items.set(i.key, i);
      renderAll();
    },
    update: (d) => {
      summary = d.summary; chunks = d.chunks;
      if (d.all) items.clear();
      for (const i of d.items) items.set(i.key, i);
      renderAll();
    },
    removed: () => { location.assign("/"); },  // this run was deleted (`chargen-es delete`): back to the list
  });
  setInterval(() => {
    if (!summary.active) return;
    head.querySelector(".eta").textContent = eta(summary) || "–";
    head.querySelector(".duration").textContent = duration(summary);
  }, 1000);
}

// ------------------------------------------------------------------ gallery

function entitiesPage() {
  main.replaceChildren(el("h1", {}, "Gallery"), entityLinks(DATA.entities));
  connect("/api/stream", {snapshot: () => {}, rows: () => {}});
}

function galleryPage() {
  main.replaceChildren(el("h1", {}, `${DATA.entity_type}/${DATA.slug}`),
    DATA.images.length ? el("div", {class: "gallery", id: "gallery"}, ...DATA.images.map((g) => {
      const url = imgUrl(g.run, g.key, g.which);
      return el("figure", {"data-key": g.key},
        el("a", {href: url, target: "_blank"}, el("img", {src: url, alt: g.scene, class: "full"})),
        el("figcaption", {},
          el("div", {class: "scene"}, g.which === "input" ? g.path : g.scene),
          g.prompt ? el("details", {class: "prompt"}, el("summary", {}, "prompt"), el("pre", {}, g.prompt)) : null,
          el("div", {class: "key"}, g.key),
          el("div", {}, "run ", el("a", {href: `/run/${encodeURIComponent(g.run)}`}, g.run)),
          g.analysis ? analysisList(g.analysis.fields) : null));
    })) : el("p", {class: "empty"}, "No images for this entity yet."));
  connect("/api/stream", {snapshot: () => {}, rows: () => {}});
}

// ------------------------------------------------------------------ review (the gallery's scene grid)

function entityLinks(entities) {
  return entities.length ? el("ul", {class: "entities", id: "entities"}, ...entities.map((e) =>
    el("li", {}, el("a", {href: `/gallery/${encodeURIComponent(e.entity_type)}/${encodeURIComponent(e.slug)}`},
                    `${e.entity_type}/${e.slug}`), ` (${e.images} image${e.images === 1 ? "" : "s"})`)))
    : el("p", {class: "empty"}, "No entities in any run yet.");
}

function reviewPage() {
  let scenes = DATA.scenes, seen = JSON.stringify(scenes), filter = "";
  const message = el("div", {class: "message", id: "review-message"});
  const filters = el("div", {class: "filters", id: "review-filters"}, "Show ",
    ...["", "waiting", "picked", "rejected"].map((state) => el("button", {
      "data-filter": state, class: state === filter ? "on" : null,
      onclick: () => { filter = state; render(); }}, state || "all")));
  const grid = el("div", {class: "scenes", id: "scenes"});

  async function decide(image, decision, note) {
    const answer = await fetch("/api/review", {method: "POST", headers: {"X-Chargen-Token": TOKEN,
      "Content-Type": "application/json"}, body: JSON.stringify({image, decision, note})});
    const body = await answer.json();
    message.textContent = body.ok ? `${image}: ${body.state}` : body.message;
    await refresh(true);
  }

  function take(t) {
    const note = el("input", {class: "note", placeholder: "why not (for the next round)", value: t.note || ""});
    return el("figure", {class: `take state-${t.state}`, "data-image": t.image, "data-state": t.state},
      el("a", {href: t.url, target: "_blank"}, el("img", {src: t.url, alt: t.image, class: "full"})),
      el("figcaption", {},
        el("div", {class: "path"}, t.image),
        el("div", {class: "verdict"}, t.state + (t.note ? `: ${t.note}` : "")),
        el("div", {class: "decide"},
          el("button", {class: "pick", onclick: () => decide(t.image, "pick", "")}, "Pick"),
          note,
          el("button", {class: "reject danger", onclick: () => decide(t.image, "reject", note.value)}, "Reject"),
          t.state !== "waiting" ? el("button", {class: "clear", onclick: () => decide(t.image, "clear", "")}, "Clear") : null),
        t.analysis ? el("details", {class: "analysis-of"}, el("summary", {}, "analysis"),
          analysisList(t.analysis)) : null,
        t.prompt ? el("details", {class: "prompt"}, el("summary", {}, "prompt"), el("pre", {}, t.prompt)) : null));
  }

  function render() {
    filters.querySelectorAll("button").forEach((b) => b.classList.toggle("on", b.dataset.filter === filter));
    const shown = scenes.filter((s) => !filter || s.state === filter);
    grid.replaceChildren(...(shown.length ? shown.map((s) => el("section", {class: `scene state-${s.state}`,
        "data-scene": s.scene, "data-state": s.state},
      el("h2", {}, s.scene, " ", el("span", {class: `badge state-${s.state}`}, s.state)),
      el("div", {class: "takes"}, ...s.takes.map(take))))
      : [el("p", {class: "empty"}, filter ? `No scene is ${filter}.` : "No images yet.")]));
  }

  async function refresh(force) {
    const typing = [...grid.querySelectorAll("input.note")].some((i) => i === document.activeElement);
    if (typing && !force) return;
    try {
      const answer = await fetch("/api/review", {cache: "no-store"});
      const body = await answer.json();
      const text = JSON.stringify(body.scenes);
      document.getElementById("live").textContent = "live";
      document.getElementById("live").classList.add("on");
      if (text !== seen || force) { seen = text; scenes = body.scenes; render(); }
    } catch (e) {
      document.getElementById("live").textContent = "reconnecting…";
      document.getElementById("live").classList.remove("on");
    }
  }

  main.replaceChildren(el("h1", {}, "Gallery"), filters, message, grid, el("h2", {}, "By entity"),
                       entityLinks(DATA.entities));
  render();
  setInterval(() => refresh(false), 1000);  // live: verdicts from the cli and new takes from runs
  refresh(false);
}

({runs: runsPage, run: runPage, entities: entitiesPage, gallery: galleryPage, review: reviewPage})[PAGE]();
