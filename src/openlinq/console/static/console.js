// The console's own script: actions, live updates and partial reloads. No framework.
//
// Markup conventions the pages use:
//   <form data-action="/console/…" [data-method="PUT"] [data-refresh="#a,#b"] [data-reset]>
//       posts its fields as JSON (a chosen file makes it multipart); inputs with
//       data-type="number" / "json" / "list" are converted; unchecked boxes send false.
//   <button data-action="/console/…" [data-method] [data-body='{"k":1}'] [data-refresh] [data-confirm]>
//   <div id="x" data-src="/console/…fragment" data-live="message.,reaction." [data-live-chat="chat id"]>
//       reloaded from data-src when a matching event arrives ("*" matches every event).
//   An action answering {"shown_once": {"label": …, "value": …}} shows that secret once.
//   After an action, its form or button fires "olq:done" with the answer as event.detail.
(() => {
  "use strict";
  const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? "";
  const token = meta("olq-token");
  const account = meta("olq-account");
  // Every request names the page's account, so an action never lands on another one
  // (the picker's remembered choice may differ from a page opened with ?account=).
  function withAccount(url) {
    const target = new URL(url, location.href);
    if (account && !target.searchParams.has("account")) target.searchParams.set("account", account);
    return target.pathname + target.search;
  }

  function toast(text, kind = "info") {
    const box = document.querySelector("[data-toasts]");
    if (!box) return;
    const item = document.createElement("div");
    item.className = `toast toast-${kind}`;
    item.textContent = text;
    box.append(item);
    setTimeout(() => item.remove(), kind === "error" ? 8000 : 3000);
  }

  function showOnce(secret) {
    const dialog = document.createElement("dialog");
    dialog.className = "shown-once";
    dialog.innerHTML = `<h2></h2><p>Copy it now: it is shown this once and never again.</p>
      <input readonly aria-label="secret"><div class="row"><button data-copy>Copy</button>
      <button data-close>Close</button></div>`;
    dialog.querySelector("h2").textContent = secret.label;
    const input = dialog.querySelector("input");
    input.value = secret.value;
    dialog.querySelector("[data-copy]").onclick = () => navigator.clipboard?.writeText(secret.value);
    dialog.querySelector("[data-close]").onclick = () => { dialog.close(); dialog.remove(); };
    document.body.append(dialog);
    dialog.showModal();
    input.select();
  }

  async function act(url, { method = "POST", json, form } = {}) {
    const headers = { "X-Console-Token": token, Accept: "application/json" };
    let body;
    if (form) body = form;
    else if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
    const response = await fetch(withAccount(url), { method, headers, body, credentials: "same-origin" });
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = text; }
    if (!response.ok) {
      const message = data?.error ? `${data.error.code}: ${data.error.message}` : `HTTP ${response.status}`;
      toast(message, "error");
      throw new Error(message);
    }
    if (data?.shown_once) showOnce(data.shown_once);
    if (data?.message && typeof data.message === "string") toast(data.message);
    return data;
  }

  function fieldValue(input) {
    if (input.type === "checkbox") return input.checked;
    const raw = input.value;
    switch (input.dataset.type) {
      case "number": return raw === "" ? null : Number(raw);
      case "json": return raw === "" ? null : JSON.parse(raw);
      case "list": return raw.split(/[\s,]+/).filter(Boolean);
      default: return raw === "" && input.dataset.optional !== undefined ? null : raw;
    }
  }

  function formPayload(form) {
    const files = [...form.querySelectorAll("input[type=file]")].filter((i) => i.files?.length);
    if (files.length) return { form: new FormData(form) };
    const json = {};
    for (const input of form.querySelectorAll("input[name], select[name], textarea[name]")) {
      if (input.type === "radio" && !input.checked) continue;
      json[input.name] = fieldValue(input);
    }
    return { json };
  }

  const timers = new WeakMap();
  async function reload(element) {
    const src = element.dataset.src;
    if (!src) return;
    const atBottom = element.scrollHeight - element.scrollTop - element.clientHeight < 40;
    const response = await fetch(withAccount(src), { headers: { Accept: "text/html" }, credentials: "same-origin" });
    if (!response.ok) return;
    element.innerHTML = await response.text();
    if (atBottom && element.dataset.stickBottom !== undefined) element.scrollTop = element.scrollHeight;
    element.dispatchEvent(new CustomEvent("olq:reloaded", { bubbles: true }));
  }
  function reloadSoon(element) {
    clearTimeout(timers.get(element));
    timers.set(element, setTimeout(() => reload(element), 100));
  }
  function refresh(selectors) {
    for (const selector of (selectors || "").split(",").map((s) => s.trim()).filter(Boolean)) {
      document.querySelectorAll(selector).forEach(reloadSoon);
    }
    document.querySelectorAll("[data-live-clock][data-src]").forEach(reloadSoon);
  }

  function matches(element, update) {
    const wanted = (element.dataset.live || "").split(",").map((s) => s.trim()).filter(Boolean);
    const chat = element.dataset.liveChat;
    if (chat && update.chat_id && update.chat_id !== chat) return false;
    return wanted.some((w) => w === "*" || update.type.startsWith(w));
  }

  function connect() {
    const status = document.querySelector("[data-live-status]");
    const source = new EventSource(withAccount("/console/live"));
    // What happened between rendering the page (or losing the connection) and this
    // connection opening came with no event: catch up by reloading the live parts once.
    source.onopen = () => {
      status?.classList.add("on");
      document.querySelectorAll("[data-src][data-live]").forEach(reloadSoon);
    };
    source.onerror = () => status?.classList.remove("on");
    source.addEventListener("update", (message) => {
      const update = JSON.parse(message.data);
      document.querySelectorAll("[data-src][data-live]").forEach((el) => { if (matches(el, update)) reloadSoon(el); });
      document.dispatchEvent(new CustomEvent("olq:update", { detail: update }));
    });
    source.addEventListener("resync", () => document.querySelectorAll("[data-src][data-live]").forEach(reloadSoon));
    window.addEventListener("pagehide", () => source.close());
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-action]");
    if (!form) return;
    event.preventDefault();
    if (form.dataset.confirm && !confirm(form.dataset.confirm)) return;
    const button = form.querySelector("[type=submit]");
    if (button) button.disabled = true;
    try {
      const data = await act(form.dataset.action, { method: form.dataset.method || "POST", ...formPayload(form) });
      if (form.dataset.reset !== undefined) form.reset();
      refresh(form.dataset.refresh);
      form.dispatchEvent(new CustomEvent("olq:done", { bubbles: true, detail: data }));
    } catch (error) {
      if (error instanceof SyntaxError) toast(`Not valid JSON: ${error.message}`, "error");
    } finally {
      if (button) button.disabled = false;
    }
  });

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || button.form?.dataset.action) return;
    if (button.dataset.confirm && !confirm(button.dataset.confirm)) return;
    button.disabled = true;
    try {
      const json = button.dataset.body ? JSON.parse(button.dataset.body) : undefined;
      const data = await act(button.dataset.action, { method: button.dataset.method || "POST", json });
      refresh(button.dataset.refresh);
      button.dispatchEvent(new CustomEvent("olq:done", { bubbles: true, detail: data }));
    } catch { /* the toast said why */ } finally {
      button.disabled = false;
    }
  });

  document.addEventListener("change", async (event) => {
    const picker = event.target.closest("[data-account-picker]");
    if (!picker) return;
    await act(`/console/account?account=${encodeURIComponent(picker.value)}`); // names its own account
    const url = new URL(location.href);
    url.searchParams.delete("account");
    location.href = url.pathname.split("/").slice(0, 3).join("/") || "/console";
  });

  window.Console = { act, toast, refresh, reload, withAccount };
  connect();
})();
