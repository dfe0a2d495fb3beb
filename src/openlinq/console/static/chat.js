// The conversation page: older pages on demand, staying at the newest message as things
// arrive, and the other side's typing indicator (it is an event, never stored).
(() => {
  "use strict";
  const phone = document.querySelector(".phone[data-chat]");
  if (!phone) return;
  const chatId = phone.dataset.chat;
  const latest = document.getElementById("latest");
  const older = document.getElementById("older");
  const olderButton = document.querySelector("button[data-older]");
  const typing = document.querySelector("[data-typing]");
  const typers = new Set();

  const nearBottom = () => window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
  const toBottom = () => window.scrollTo(0, document.body.scrollHeight);
  let stick = true;
  window.addEventListener("scroll", () => { stick = nearBottom(); }, { passive: true });
  toBottom();

  latest.addEventListener("olq:reloaded", () => { if (stick) toBottom(); });

  olderButton?.addEventListener("click", async () => {
    const cursor = olderButton.dataset.cursor;
    if (!cursor) return;
    olderButton.disabled = true;
    try {
      const url = `${olderButton.dataset.src}?cursor=${encodeURIComponent(cursor)}`;
      const response = await fetch(window.Console.withAccount(url), { headers: { Accept: "text/html" }, credentials: "same-origin" });
      if (!response.ok) { window.Console?.toast(`Could not load older messages (HTTP ${response.status})`, "error"); return; }
      const holder = document.createElement("div");
      holder.innerHTML = await response.text();
      const list = holder.querySelector("ol.bubbles");
      const before = document.body.scrollHeight;
      if (list) older.prepend(list);
      window.scrollBy(0, document.body.scrollHeight - before);  // keep what was on screen in place
      const next = list?.dataset.nextCursor || "";
      olderButton.dataset.cursor = next;
      olderButton.hidden = !next;
    } finally {
      olderButton.disabled = false;
    }
  });

  function showTyping() {
    typing.hidden = typers.size === 0;
    typing.textContent = typers.size ? `${[...typers].join(", ")} ${typers.size > 1 ? "are" : "is"} typing…` : "";
    if (!typing.hidden && stick) toBottom();
  }

  document.addEventListener("olq:update", (event) => {
    const update = event.detail;
    if (update.chat_id !== chatId) return;
    if (update.type === "chat.typing_indicator.started" || update.type === "chat.typing_indicator.stopped") {
      const who = update.actor || "Someone";
      if (update.type.endsWith("started")) typers.add(who); else typers.delete(who);
      showTyping();
    } else if (update.type === "message.received") {
      if (update.actor) typers.delete(update.actor); else typers.clear();
      showTyping();
    }
  });
})();
