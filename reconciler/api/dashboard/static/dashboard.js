// reconciler dashboard: live updates over server-sent events, and action buttons.
// No framework: on an event, the page is fetched again and each [data-live] region whose
// content changed is swapped in place, keeping keyboard focus where it was.
"use strict";
(function () {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
  const status = (text) => {
    const el = document.getElementById("live-status");
    if (el) el.textContent = text;
  };
  let pending = null;

  async function refresh() {
    pending = null;
    const response = await fetch(location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const region of document.querySelectorAll("[data-live][id]")) {
      const next = fresh.getElementById(region.id);
      if (!next || next.innerHTML === region.innerHTML) continue;
      const focused = region.contains(document.activeElement) ? document.activeElement : null;
      const focusId = focused && focused.id;
      const focusText = focused && focused.textContent;
      region.innerHTML = next.innerHTML;
      if (focused) {
        const again = (focusId && document.getElementById(focusId)) ||
          [...region.querySelectorAll("a, button")].find((el) => el.textContent === focusText);
        if (again) again.focus();
      }
    }
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
    status("Updated " + new Date().toLocaleTimeString());
  }

  function schedule() {
    if (pending === null) pending = setTimeout(refresh, 250);
  }

  function listen() {
    if (document.body.dataset.liveStream !== "on" || !window.EventSource) return;
    const stream = new EventSource("/api/v1/stream");
    stream.onopen = () => { document.body.dataset.streaming = "open"; };
    stream.onmessage = schedule;
    stream.addEventListener("resync", schedule);
    stream.onerror = () => { document.body.dataset.streaming = "retrying"; };
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-action")) return;
    event.preventDefault();
    const button = form.querySelector("button");
    if (button) button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
        body: form.dataset.body || "{}",
      });
      let message = response.statusText;
      try { const body = await response.json(); message = body.error || JSON.stringify(body); } catch (e) { /* not JSON */ }
      status((response.ok ? "Done: " : "Refused (" + response.status + "): ") + message);
      schedule();
    } finally {
      if (button) {
        button.disabled = false;
        if (document.activeElement === document.body && button.isConnected) button.focus();
      }
    }
  });

  listen();
})();
