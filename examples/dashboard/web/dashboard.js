// The dashboard's script, plain JavaScript with no build step. The page
// works without it: the server renders every figure and order, and the
// form posts and is redirected back. With it, amounts and times are shown
// in the reader's locale, the page follows the server's event stream (a
// new order or a metrics collection changes it without a reload), and the
// form is sent with fetch, its errors shown beside the fields.
(() => {
  "use strict";

  const byId = (id) => document.getElementById(id);

  let data = null;
  try {
    data = JSON.parse(byId("sprag-data")?.textContent || "null");
  } catch {
    data = null; // an error page's data, or none: nothing to follow
  }

  const money = new Intl.NumberFormat(undefined, { style: "currency", currency: data?.currency || "USD" });
  const count = new Intl.NumberFormat();
  const decimal = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const full = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });
  const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
  const dayAndTime = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "short" });

  // setTime shows a <time> in the reader's locale: the time alone today,
  // the date and time otherwise, and both in full as its tooltip.
  function setTime(el, iso) {
    if (iso) el.setAttribute("datetime", iso);
    const d = new Date(el.getAttribute("datetime") || "");
    if (Number.isNaN(d.getTime())) return;
    el.textContent = d.toDateString() === new Date().toDateString() ? timeOnly.format(d) : dayAndTime.format(d);
    el.title = full.format(d);
  }
  function setCents(el, cents) {
    el.dataset.cents = String(cents);
    el.textContent = money.format(cents / 100);
  }
  function setCount(el, n) {
    el.dataset.count = String(n);
    el.textContent = count.format(n);
  }
  function formatBytes(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return i === 0 ? `${n} B` : `${decimal.format(n)} ${units[i]}`;
  }

  document.querySelectorAll("time[datetime]").forEach((el) => setTime(el));
  document.querySelectorAll("[data-cents]").forEach((el) => setCents(el, Number(el.dataset.cents)));
  document.querySelectorAll("[data-count]").forEach((el) => setCount(el, Number(el.dataset.count)));

  if (!document.querySelector('[data-page="dashboard"]') || !data?.stats) return;

  // A redirected form post left ?placed= in the address: the notice is
  // shown, the address need not keep it.
  if (new URLSearchParams(location.search).has("placed")) {
    history.replaceState(null, "", location.pathname + location.hash);
  }

  // The figures. Each total only grows, and events can arrive in another
  // order than their transactions committed: keep the largest.
  const totals = { orders: data.stats.orders, revenue: data.stats.revenue_cents, sent: data.stats.emails_sent };

  function flash(el) {
    el.classList.remove("changed");
    void el.offsetWidth; // restart the animation
    el.classList.add("changed");
    el.addEventListener("animationend", () => el.classList.remove("changed"), { once: true });
  }
  function applyTotals(t) {
    if (t.orders > totals.orders) {
      totals.orders = t.orders;
      totals.revenue = t.revenue_cents;
      setCount(byId("stat-orders"), totals.orders);
      setCents(byId("stat-revenue"), totals.revenue);
      flash(byId("stat-orders"));
      flash(byId("stat-revenue"));
    }
    if (t.emails_sent > totals.sent) {
      totals.sent = t.emails_sent;
      setCount(byId("stat-emails"), totals.sent);
    }
    setCount(byId("stat-pending"), Math.max(0, totals.orders - totals.sent));
  }
  function applyStats(s) {
    applyTotals(s);
    if (s.collected_at && !s.collected_at.startsWith("0001-")) {
      const collected = byId("stat-collected");
      setTime(collected, s.collected_at);
      flash(collected);
    }
    setCount(byId("stat-goroutines"), s.goroutines);
    byId("stat-heap").textContent = formatBytes(s.heap_bytes);
  }

  // The recent orders, newest first, as many as the server rendered.
  const rows = byId("orders-body");
  const limit = 10;

  function cell(className) {
    const td = document.createElement("td");
    td.className = className;
    return td;
  }
  function orderRow(o) {
    const tr = document.createElement("tr");
    tr.dataset.id = String(o.id);
    const id = cell("id");
    id.textContent = `#${o.id}`;
    const narrow = document.createElement("time");
    narrow.className = "when-narrow";
    setTime(narrow, o.placed_at);
    id.append(narrow);
    const who = cell("who");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = o.customer;
    const mail = document.createElement("span");
    mail.className = "mail";
    mail.textContent = o.email;
    mail.title = o.email;
    who.append(name, mail);
    const amount = cell("num");
    setCents(amount, o.total_cents);
    const when = cell("num when");
    const time = document.createElement("time");
    setTime(time, o.placed_at);
    when.append(time);
    tr.append(id, who, amount, when);
    return tr;
  }
  function addOrder(o) {
    if (rows.querySelector(`tr[data-id="${Number(o.id)}"]`)) return; // the form's answer and the event both bring it
    const before = Array.from(rows.rows).find((tr) => Number(tr.dataset.id) < o.id) || null;
    if (!before && rows.rows.length >= limit) return; // older than every order shown
    const row = orderRow(o);
    row.className = "new"; // highlighted while its animation runs
    row.addEventListener("animationend", () => row.classList.remove("new"), { once: true });
    rows.insertBefore(row, before);
    while (rows.rows.length > limit) rows.deleteRow(-1);
    byId("orders-empty").hidden = true;
  }

  // refresh reloads the data after the stream said events were missed.
  async function refresh() {
    try {
      const res = await fetch("/dashboard", { headers: { Accept: "application/json" } });
      if (!res.ok) return;
      const view = await res.json();
      rows.replaceChildren(...view.recent_orders.map(orderRow));
      byId("orders-empty").hidden = view.recent_orders.length > 0;
      totals.orders = -1;
      totals.sent = -1;
      applyStats(view.stats);
    } catch {
      // the server is away; the stream's reconnection brings the next try
    }
  }

  // The event stream.
  const live = byId("live");
  const liveText = byId("live-text");
  function setLive(state, text) {
    live.dataset.state = state;
    liveText.textContent = text;
  }
  live.hidden = false;

  let lastId = data.last_event_id || "";
  function connect() {
    const url = new URL("/events", location.href);
    if (lastId) url.searchParams.set("last_event_id", lastId);
    const events = new EventSource(url);
    const track = (handler) => (e) => {
      if (e.lastEventId) lastId = e.lastEventId;
      handler(JSON.parse(e.data));
    };
    events.addEventListener("open", () => setLive("live", "Live"));
    events.addEventListener("error", () => {
      if (events.readyState === EventSource.CLOSED) {
        // refused (the server stopping, or too many streams): try again later
        setLive("offline", "Offline");
        setTimeout(connect, 5000);
      } else {
        setLive("connecting", "Reconnecting…");
      }
    });
    events.addEventListener("order:completed", track((p) => {
      addOrder(p.order);
      applyTotals(p.totals);
    }));
    events.addEventListener("mail:sent", track(applyTotals));
    events.addEventListener("metrics:updated", track(applyStats));
    events.addEventListener("sprag:stream:gap", track(refresh));
  }
  connect();

  // The form, sent with fetch: the server answers JSON, or a problem whose
  // errors name the fields.
  const form = byId("order-form");
  const alertBox = byId("form-alert");
  const status = byId("form-status");
  const button = form.querySelector('button[type="submit"]');

  function clearErrors() {
    alertBox.hidden = true;
    alertBox.textContent = "";
    status.textContent = "";
    form.querySelectorAll("[data-field]").forEach((field) => {
      field.querySelector("input").removeAttribute("aria-invalid");
      field.querySelector(".error").textContent = "";
    });
  }
  function showProblem(problem) {
    let first = null;
    for (const fe of problem?.errors || []) {
      const field = form.querySelector(`[data-field="${CSS.escape(fe.field)}"]`);
      if (!field) continue;
      const input = field.querySelector("input");
      const error = field.querySelector(".error");
      input.setAttribute("aria-invalid", "true");
      if (!error.textContent) error.textContent = `${field.dataset.label} ${fe.message}`;
      first = first || input;
    }
    alertBox.textContent = first
      ? "The order was not placed: correct the fields marked below."
      : `The order was not placed: ${problem?.detail || problem?.title || "the server could not be reached"}.`;
    alertBox.hidden = false;
    (first || alertBox).focus();
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors();
    button.disabled = true;
    try {
      const res = await fetch(form.action, {
        method: "POST",
        headers: { Accept: "application/json" },
        body: new URLSearchParams(new FormData(form)),
      });
      if (res.ok) {
        const placed = await res.json();
        addOrder(placed.order);
        applyTotals(placed.totals);
        form.reset();
        status.textContent = `Order #${placed.order.id} is placed.`;
        return;
      }
      let problem = null;
      try {
        problem = await res.json();
      } catch {
        problem = { title: res.statusText };
      }
      showProblem(problem);
    } catch {
      showProblem(null);
    } finally {
      button.disabled = false;
    }
  });
})();
