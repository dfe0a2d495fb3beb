// /console/lines: a new account joins the header's account picker at once, and "Show"
// switches to an account through that picker (console.js does the switching).
(() => {
  "use strict";
  const picker = () => document.querySelector("[data-account-picker]");

  document.addEventListener("olq:done", (event) => {
    const account = event.detail?.account;
    const select = picker();
    if (!event.target.closest("[data-account-create]") || !account || !select) return;
    const option = new Option(`${account.name} (0 lines)`, account.id);
    select.append(option);
  });

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-choose-account]");
    const select = picker();
    if (!button || !select) return;
    select.value = button.dataset.chooseAccount;
    select.dispatchEvent(new Event("change", { bubbles: true }));
  });
})();
