// /console/webhooks: the create form, the log's filters and pages, and keeping the log live.
//
// The log reloads on every live event (data-live="*"), but an attempt is not an event:
// while the log shows a delivery still pending or retrying, it is fetched again every
// POLL_MS (only while the tab is visible) and swapped in only when it changed. Opened
// deliveries and attempts stay open across reloads.
(() => {
  "use strict";
  const POLL_MS = 1000;
  const log = document.getElementById("log");
  const filters = document.getElementById("log-filters");
  const open = new Set();
  let cursor = "";
  let lastHtml = "";

  function logUrl() {
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(filters)) if (value) params.set(name, value);
    if (cursor) params.set("cursor", cursor);
    const query = params.toString();
    return "/console/webhooks/log" + (query ? `?${query}` : "");
  }

  function reopen() {
    log.querySelectorAll("details[data-delivery], details[data-attempt]").forEach((details) => {
      if (open.has(details.dataset.delivery || details.dataset.attempt)) details.open = true;
    });
  }

  document.addEventListener("toggle", (event) => {
    const details = event.target;
    const key = details.dataset?.delivery || details.dataset?.attempt;
    if (!key) return;
    if (details.open) open.add(key); else open.delete(key);
  }, true);

  document.addEventListener("olq:reloaded", (event) => {
    if (event.target === log) reopen();
    if (event.target.id === "subscriptions") syncChoices();
  });

  // The subscription pickers follow the table: a new or deleted subscription shows at once.
  function syncChoices() {
    const rows = [...document.querySelectorAll("#subscriptions tr[data-subscription]")];
    document.querySelectorAll("select[data-subscription-choice]").forEach((select) => {
      const chosen = select.value;
      select.replaceChildren();
      if (select.dataset.all) select.append(new Option(select.dataset.all, ""));
      for (const row of rows) {
        const target = row.querySelector(".target")?.textContent ?? row.dataset.subscription;
        select.append(new Option(target, row.dataset.subscription));
      }
      if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
    });
  }

  filters?.addEventListener("change", () => {
    cursor = "";
    log.dataset.src = logUrl();
    window.Console.reload(log);
  });

  log?.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-log-cursor]");
    if (!button) return;
    cursor = button.dataset.logCursor;
    log.dataset.src = logUrl();
    window.Console.reload(log).then(() => log.scrollIntoView({ block: "start" }));
  });

  // Checkbox groups become lists (the shared form handling sends one value per name).
  document.getElementById("create-subscription")?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const checked = (name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
    const json = {
      target_url: form.elements.target_url.value,
      subscribed_events: checked("subscribed_events"),
      phone_numbers: checked("phone_numbers"),
      routing_key_header: form.elements.routing_key_header.value || null,
    };
    const button = form.querySelector("[type=submit]");
    button.disabled = true;
    try {
      await window.Console.act(form.dataset.create, { json });
      form.elements.target_url.value = "";
      form.closest("details")?.removeAttribute("open");
      window.Console.refresh(form.dataset.refresh);
    } catch { /* the toast said why */ } finally {
      button.disabled = false;
    }
  });

  async function poll() {
    if (document.visibilityState === "visible" && log.querySelector("[data-busy]")) {
      try {
        const response = await fetch(window.Console.withAccount(log.dataset.src), { headers: { Accept: "text/html" }, credentials: "same-origin" });
        const html = response.ok ? await response.text() : lastHtml;
        if (html !== lastHtml) {
          lastHtml = html;
          log.innerHTML = html;
          reopen();
          window.Console.reload(document.getElementById("subscriptions"));
        }
      } catch { /* the next poll tries again */ }
    }
    setTimeout(poll, POLL_MS);
  }
  if (log) setTimeout(poll, POLL_MS);
})();
