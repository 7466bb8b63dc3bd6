// KnowledgeBeast search page. Plain JS, no build step, nothing from a CDN.
// Document text only ever reaches the page as text nodes (textContent / append(string)), never as
// HTML. Every URL is relative to the <base href> the server computed, so the page works at "/",
// behind an API Gateway stage and under a base path alike. The API key lives in sessionStorage
// (this tab only) and travels in the X-API-Key header, never in a URL.
"use strict";

(() => {
  const KEY_STORAGE = "knowledgebeast.apiKey";
  const STOP_WORDS = new Set(
    ("a an and are as at be by can do does for from how i in is it me my of on or the this that to was " +
      "what when where which who why will with you your").split(" ")
  );
  const $ = (id) => document.getElementById(id);
  // Answers can arrive out of order (a listing sent before a delete may return after it): only the
  // latest request of each kind may render.
  const latest = { collections: 0, documents: 0, search: 0 };

  // ---- API access -------------------------------------------------------------------------------
  function apiKey() {
    try {
      return sessionStorage.getItem(KEY_STORAGE) || "";
    } catch {
      return "";
    }
  }

  function authHeaders(extra) {
    const headers = Object.assign({ Accept: "application/json" }, extra || {});
    const key = apiKey();
    if (key) headers["X-API-Key"] = key;
    return headers;
  }

  class ApiError extends Error {
    constructor(status, body, fallback) {
      const error = body && body.error ? body.error : null;
      super(describe(status, error, fallback));
      this.status = status;
      this.code = error ? error.code : "";
      this.requestId = error ? error.request_id : "";
    }
  }

  function describe(status, error, fallback) {
    if (!error) return fallback || `the server answered HTTP ${status}`;
    let message = error.message || error.code || `HTTP ${status}`;
    const first = error.details && Array.isArray(error.details.errors) ? error.details.errors[0] : null;
    if (first && first.msg) {
      const field = (first.loc || []).filter((part) => part !== "body").join(".");
      message += field ? ` (${field}: ${first.msg})` : ` (${first.msg})`;
    }
    if (status === 401) message += ". Enter an API key at the top of the page.";
    return message;
  }

  function parseJson(text) {
    try {
      return text ? JSON.parse(text) : null;
    } catch {
      return null;
    }
  }

  async function api(method, path, body) {
    const init = { method, headers: authHeaders(body ? { "Content-Type": "application/json" } : {}), cache: "no-store" };
    if (body) init.body = JSON.stringify(body);
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, null, `cannot reach the server (${err.message})`);
    }
    const data = parseJson(await response.text());
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function showError(element, err) {
    let text = err instanceof Error ? err.message : String(err);
    if (err && err.requestId) text += ` [request ${err.requestId}]`;
    element.textContent = text;
    element.hidden = false;
  }

  function clearError(element) {
    element.textContent = "";
    element.hidden = true;
  }

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  // ---- API key ----------------------------------------------------------------------------------
  function setupKey() {
    const input = $("api-key");
    input.value = apiKey();
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      try {
        if (input.value) sessionStorage.setItem(KEY_STORAGE, input.value);
        else sessionStorage.removeItem(KEY_STORAGE);
      } catch {
        /* storage disabled: the key is not kept */
      }
      loadCollections();
    });
    $("api-key-clear").addEventListener("click", () => {
      input.value = "";
      try {
        sessionStorage.removeItem(KEY_STORAGE);
      } catch {
        /* nothing stored */
      }
    });
  }

  // ---- tabs -------------------------------------------------------------------------------------
  function setupTabs() {
    const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
    const select = (tab, focus) => {
      for (const other of tabs) {
        const selected = other === tab;
        other.setAttribute("aria-selected", String(selected));
        other.tabIndex = selected ? 0 : -1;
        $(other.getAttribute("aria-controls")).hidden = !selected;
      }
      if (focus) tab.focus();
      if (tab.id === "tab-documents") loadCollections();
    };
    tabs.forEach((tab, index) => {
      tab.addEventListener("click", () => select(tab, false));
      tab.addEventListener("keydown", (event) => {
        const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
        if (!(event.key in moves)) return;
        event.preventDefault();
        select(tabs[(moves[event.key] + tabs.length) % tabs.length], true);
      });
    });
  }

  // ---- search -----------------------------------------------------------------------------------
  function queryWords(query) {
    const words = (query.toLowerCase().match(/[\p{L}\p{N}]+/gu) || []).filter(
      (word) => (word.length > 1 || /\p{N}/u.test(word)) && !STOP_WORDS.has(word)
    );
    return Array.from(new Set(words)).sort((a, b) => b.length - a.length);
  }

  /** Append ``text`` to ``parent`` with every word starting with a query word wrapped in <mark>. */
  function appendHighlighted(parent, text, words) {
    if (!words.length) {
      parent.append(text);
      return;
    }
    const alternatives = words.map((word) => word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
    const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives})[\\p{L}\\p{N}]*`, "giu");
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      if (match.index > last) parent.append(text.slice(last, match.index));
      parent.append(el("mark", { text: match[0] }));
      last = match.index + match[0].length;
    }
    if (last < text.length) parent.append(text.slice(last));
  }

  function sourceLink(source) {
    try {
      const url = new URL(source);
      if (url.protocol === "http:" || url.protocol === "https:") {
        return el("a", { href: url.href, rel: "noopener noreferrer", target: "_blank", text: source });
      }
    } catch {
      /* a path or an s3:// key: shown as text */
    }
    return document.createTextNode(source);
  }

  function score(value) {
    return value === null || value === undefined ? "n/a" : Number(value).toFixed(4);
  }

  function definitionList(rows) {
    const list = el("dl");
    for (const [term, value] of rows) {
      if (value === null || value === undefined || value === "") continue;
      list.append(el("dt", { text: term }), el("dd", {}, value));
    }
    return list;
  }

  function renderResult(result, rank, words, mode) {
    const citation = result.citation;
    const title = citation.title || citation.source.split("/").pop() || citation.document_id;
    const where = [];
    if (citation.page) where.push(`page ${citation.page}`);
    if (citation.heading_path.length) where.push(citation.heading_path.join(" › "));
    const passage = el("p", { className: "passage" });
    appendHighlighted(passage, result.text, words);
    const breakdown = el(
      "details",
      { className: "breakdown" },
      el("summary", { text: "Score breakdown" }),
      definitionList([
        [`Final score (${mode})`, score(result.score)],
        ["Dense (cosine similarity)", score(result.dense_score)],
        ["Lexical (BM25)", score(result.lexical_score)],
        ["Rerank (cross-encoder)", score(result.rerank_score)],
      ])
    );
    const cite = el(
      "div",
      { className: "citation" },
      el("h4", { className: "visually-hidden", text: `Citation for result ${rank}` }),
      definitionList([
        ["Source", sourceLink(citation.source)],
        ["Title", citation.title],
        ["Page", citation.page === null ? null : String(citation.page)],
        ["Heading path", citation.heading_path.join(" › ")],
        ["Offsets", `characters ${citation.start}–${citation.end} (chunk ${citation.chunk_index})`],
        ["Document id", citation.document_id],
      ])
    );
    return el(
      "li",
      { className: "result", "data-document-id": citation.document_id },
      el("h3", {}, `${rank}. ${title}`),
      where.length ? el("p", { className: "where", text: where.join(" · ") }) : null,
      passage,
      el("p", { className: "where" }, "Score ", el("span", { className: "score", text: score(result.score) })),
      cite,
      breakdown
    );
  }

  async function search(event) {
    event.preventDefault();
    const form = event.currentTarget;
    if (!form.reportValidity()) return;
    const status = $("search-status");
    const error = $("search-error");
    const results = $("results");
    const query = $("q").value.trim();
    const body = {
      query,
      collection: $("collection").value.trim(),
      mode: $("mode").value,
      top_k: Number($("top-k").value),
      rerank: $("rerank").checked,
    };
    clearError(error);
    status.textContent = "Searching…";
    results.setAttribute("aria-busy", "true");
    const ticket = ++latest.search;
    try {
      const response = await api("POST", "api/v1/query", body);
      if (ticket !== latest.search) return;
      const words = queryWords(query);
      results.replaceChildren(...response.results.map((r, i) => renderResult(r, i + 1, words, response.mode)));
      const count = response.results.length;
      status.textContent = count
        ? `${count} result${count === 1 ? "" : "s"} in ${response.took_ms.toFixed(1)} ms (${response.mode}` +
          `${response.cached ? ", cached" : ""})`
        : `No results in collection "${response.collection}". Upload documents in the Documents tab.`;
    } catch (err) {
      if (ticket !== latest.search) return;
      results.replaceChildren();
      status.textContent = "";
      if (err.code === "collection_not_found") {
        err.message += ": upload documents into it in the Documents tab first.";
      }
      showError(error, err);
    } finally {
      if (ticket === latest.search) results.removeAttribute("aria-busy");
    }
  }

  // ---- collections and documents ----------------------------------------------------------------
  let shownCollection = "";

  async function loadCollections() {
    const ticket = ++latest.collections;
    const error = $("docs-error");
    const table = $("collections").closest("table");
    table.setAttribute("aria-busy", "true"); // rows are about to be replaced
    try {
      const data = await api("GET", "api/v1/collections");
      if (ticket !== latest.collections) return;
      clearError(error);
      renderCollections(data.collections);
    } catch (err) {
      if (ticket === latest.collections) showError(error, err);
    } finally {
      if (ticket === latest.collections) table.removeAttribute("aria-busy");
    }
  }

  function renderCollections(collections) {
    $("collection-names").replaceChildren(...collections.map((c) => el("option", { value: c.name })));
    $("collections-empty").hidden = collections.length > 0;
    $("collections").replaceChildren(
      ...collections.map((c) =>
        el(
          "tr",
          { "data-collection": c.name },
          el("th", { scope: "row", text: c.name }),
          el("td", { className: "num", text: String(c.chunks) }),
          el(
            "td",
            { className: "actions" },
            button(`Documents`, `Show the documents of ${c.name}`, () => showDocuments(c.name)),
            button("Delete", `Delete collection ${c.name}`, () => deleteCollection(c.name), "danger")
          )
        )
      )
    );
    if (shownCollection && !collections.some((c) => c.name === shownCollection)) {
      shownCollection = "";
      $("documents-box").hidden = true;
    }
  }

  function button(text, label, onClick, className) {
    const node = el("button", { type: "button", "aria-label": label, text });
    if (className) node.className = className;
    node.addEventListener("click", onClick);
    return node;
  }

  async function showDocuments(name, keepFocus) {
    const ticket = ++latest.documents;
    const error = $("docs-error");
    try {
      const data = await api("GET", `api/v1/collections/${encodeURIComponent(name)}/documents`);
      if (ticket !== latest.documents) return;
      clearError(error);
      shownCollection = name;
      const count = data.documents.length;
      $("documents-title").textContent = `${count} document${count === 1 ? "" : "s"} in ${name}`;
      $("documents").replaceChildren(
        ...data.documents.map((d) =>
          el(
            "li",
            { "data-document-id": d.document_id },
            el(
              "div",
              {},
              el("strong", { text: d.title || d.source }),
              el("div", { className: "meta" }, sourceLink(d.source), ` · ${d.chunk_count} chunks · ${d.media_type}`)
            ),
            button("Delete", `Delete document ${d.title || d.source}`, () => deleteDocument(d), "danger")
          )
        )
      );
      $("documents-box").hidden = false;
      if (!keepFocus) $("documents-title").focus();
    } catch (err) {
      showError(error, err);
    }
  }

  async function deleteDocument(doc) {
    if (!window.confirm(`Delete "${doc.title || doc.source}" and all its chunks?`)) return;
    try {
      await api("DELETE", `api/v1/documents/${encodeURIComponent(doc.document_id)}`);
      await loadCollections();
      if (shownCollection) await showDocuments(shownCollection, true);
      $("documents-title").focus();
    } catch (err) {
      showError($("docs-error"), err);
    }
  }

  async function deleteCollection(name) {
    if (!window.confirm(`Delete collection "${name}" and every document in it?`)) return;
    try {
      await api("DELETE", `api/v1/collections/${encodeURIComponent(name)}`);
      await loadCollections();
    } catch (err) {
      showError($("docs-error"), err);
    }
  }

  // ---- upload -----------------------------------------------------------------------------------
  let uploadQueue = Promise.resolve();

  function queueUploads(files) {
    const form = $("upload-form");
    if (!form.reportValidity()) return;
    const collection = $("upload-collection").value.trim();
    for (const file of files) {
      const row = uploadRow(file);
      uploadQueue = uploadQueue.then(() => upload(file, collection, row));
    }
    uploadQueue = uploadQueue.then(loadCollections);
  }

  function uploadRow(file) {
    const progress = el("progress", { max: "100", value: "0", "aria-label": `Upload progress of ${file.name}` });
    const state = el("span", { className: "state", text: "waiting" });
    const row = el("li", { "data-file": file.name }, el("span", { className: "name", text: file.name }), progress, state);
    $("uploads").prepend(row);
    return { row, progress, state };
  }

  function upload(file, collection, { row, progress, state }) {
    return new Promise((resolve) => {
      const data = new FormData();
      data.append("file", file, file.name);
      data.append("collection", collection);
      const request = new XMLHttpRequest();
      request.open("POST", "api/v1/documents/upload");
      for (const [name, value] of Object.entries(authHeaders())) request.setRequestHeader(name, value);
      state.textContent = "uploading";
      const fail = (err) => {
        progress.remove();
        state.className = "state failed";
        state.setAttribute("role", "alert");
        state.textContent = `Refused: ${err.message}`;
        row.dataset.status = "failed";
        resolve();
      };
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) progress.value = Math.round((event.loaded / event.total) * 100);
      });
      request.addEventListener("load", () => {
        const body = parseJson(request.responseText);
        if (request.status >= 200 && request.status < 300) {
          progress.value = 100;
          state.className = "state done";
          state.textContent = `${body.outcome}: ${body.chunks} chunks`;
          row.dataset.status = "done";
          resolve();
        } else {
          fail(new ApiError(request.status, body));
        }
      });
      request.addEventListener("error", () => fail(new ApiError(0, null, "cannot reach the server")));
      request.send(data);
    });
  }

  function setupUpload() {
    const zone = $("drop-zone");
    const input = $("files");
    $("choose-files").addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      queueUploads(Array.from(input.files));
      input.value = "";
    });
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      queueUploads(Array.from(event.dataTransfer.files));
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    setupKey();
    setupTabs();
    setupUpload();
    $("search-form").addEventListener("submit", search);
    loadCollections();
  });
})();
