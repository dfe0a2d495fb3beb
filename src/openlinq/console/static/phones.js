// /console/phones/{handle}: the replies STOP / START and stopping a location share.
(() => {
  "use strict";
  const screen = document.getElementById("screen");
  if (screen) screen.scrollTop = screen.scrollHeight;

  document.addEventListener("click", (event) => {
    const say = event.target.closest("[data-say]");
    if (say) {
      const form = say.closest("form");
      form.querySelector("textarea[name=text]").value = say.dataset.say;
      form.requestSubmit();
      return;
    }
    const stop = event.target.closest("[data-stop-location]");
    if (stop) {
      const form = stop.closest("form");
      const target = form.querySelector("[name=target]").value;
      window.Console.act(`${form.dataset.action}/stop`, { json: { target } }).catch(() => {});
    }
  });

  document.addEventListener("olq:done", (event) => {
    // New settings change the summary at the top too: show the page afresh.
    if (event.target.closest?.("form.settings")) { location.reload(); return; }
    // After this phone sends, show the newest message.
    if (event.target.closest?.(".compose") && screen) {
      screen.addEventListener("olq:reloaded", () => { screen.scrollTop = screen.scrollHeight; }, { once: true });
    }
  });
})();
