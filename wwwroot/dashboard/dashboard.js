// The dashboard: polls /dashboard/data once a second. Counters there are running totals; rates are the
// differences between two reads divided by the time between them (the server's monotonic uptime), so
// the server keeps no per-viewer state. Charts keep the last 60 rates.
"use strict";

(() => {
  const DATA_URL = "/dashboard/data";
  const PERIOD_MS = 1000;
  const HISTORY = 60;
  const COLORS = ["#2f6fdb", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#0b7285", "#e67700", "#5c7cfa"];

  // The per-thread columns the page knows; any other instrument of the transport's meter (loop hand-offs,
  // for instance) gets a column of its own after these.
  const KNOWN = [
    { key: "epoll.connections.active", title: "Connections", show: "value" },
    { key: "epoll.io.read", title: "Read/s", show: "rate", bytes: true },
    { key: "epoll.io.written", title: "Written/s", show: "rate", bytes: true },
    { key: "epoll.io.sends", title: "Sends/s", show: "rate" },
    { key: "epoll.waits", title: "Waits/s", show: "rate" },
    { key: "events-per-wait", title: "Events/wait", show: "ratio", of: ["epoll.events", "epoll.waits"],
      description: "Events epoll_wait returned per call, over the last second." },
    { key: "epoll.read.pauses", title: "Read pauses", show: "value" },
    { key: "epoll.accept.backoffs", title: "Accept back-offs", show: "value" },
    { key: "epoll.connections.reset", title: "Resets", show: "value" },
  ];
  const HIDDEN = new Set(["epoll.events", "epoll.connections.accepted", "epoll.connections.closed"]);

  const $ = (id) => document.getElementById(id);
  let previous = null;
  let columns = null;
  const history = { requests: [], connections: [], bytes: new Map(), waits: new Map() };

  function push(series, value) {
    series.push(value);
    if (series.length > HISTORY) series.shift();
  }

  function formatNumber(n) {
    if (n === null || n === undefined || Number.isNaN(n)) return "–";
    if (Math.abs(n) >= 100 || Number.isInteger(n)) return Math.round(n).toLocaleString("en-US");
    return n.toFixed(Math.abs(n) >= 10 ? 1 : 2);
  }

  function formatBytes(n) {
    if (n === null || n === undefined || Number.isNaN(n)) return "–";
    const units = ["B", "KiB", "MiB", "GiB"];
    let i = 0;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return `${i === 0 ? Math.round(n) : n.toFixed(n >= 100 ? 0 : 1)} ${units[i]}`;
  }

  function setStatus(state, text) {
    document.body.dataset.state = state;
    $("status").textContent = text;
  }

  // The columns: the known ones, then every other instrument the server lists.
  function buildColumns(data) {
    const listed = new Map(data.instruments.map((i) => [i.name, i]));
    const cols = KNOWN.filter((c) => c.of ? c.of.every((k) => listed.has(k)) : listed.has(c.key))
      .map((c) => ({ ...c, description: c.description ?? listed.get(c.key).description }));
    for (const instrument of data.instruments) {
      if (KNOWN.some((c) => c.key === instrument.name) || HIDDEN.has(instrument.name)) continue;
      const counter = instrument.kind === "counter";
      cols.push({
        key: instrument.name,
        title: instrument.name.replace(/^epoll\./, "") + (counter ? "/s" : ""),
        show: counter ? "rate" : "value",
        bytes: instrument.unit === "By",
        description: instrument.description,
      });
    }
    const row = document.querySelector("#threads thead tr");
    row.replaceChildren(...[{ title: "Thread", description: "The epoll thread (event loop)." }, ...cols].map((c) => {
      const th = document.createElement("th");
      th.textContent = c.title;
      th.title = c.description ?? "";
      if (c.key) th.dataset.metric = c.key;
      return th;
    }));
    return cols;
  }

  function rate(now, before, key, seconds) {
    if (!before || seconds <= 0 || !(key in now) || !(key in before)) return null;
    return (now[key] - before[key]) / seconds;
  }

  function cellText(col, now, before, seconds) {
    if (col.show === "value") return formatNumber(now[col.key]);
    if (col.show === "ratio") {
      const [num, den] = col.of;
      if (!before) return "–";
      const d = now[den] - before[den];
      return d > 0 ? formatNumber((now[num] - before[num]) / d) : "–";
    }
    const r = rate(now, before, col.key, seconds);
    return col.bytes ? (r === null ? "–" : `${formatBytes(r)}/s`) : formatNumber(r);
  }

  function renderThreads(data, seconds) {
    const beforeByName = new Map((previous?.threads ?? []).map((t) => [t.name, t.values]));
    const body = document.querySelector("#threads tbody");
    const rows = data.threads.map((thread, index) => {
      const now = thread.values;
      const before = beforeByName.get(thread.name);
      const tr = document.createElement("tr");
      tr.dataset.thread = thread.name;
      const name = document.createElement("td");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = COLORS[index % COLORS.length];
      name.append(swatch, thread.name);
      tr.append(name);
      for (const col of columns) {
        const td = document.createElement("td");
        td.dataset.metric = col.key;
        td.textContent = cellText(col, now, before, seconds);
        tr.append(td);
      }
      if (before && seconds > 0) {
        series(history.bytes, thread.name, (rate(now, before, "epoll.io.read", seconds) ?? 0) + (rate(now, before, "epoll.io.written", seconds) ?? 0));
        series(history.waits, thread.name, rate(now, before, "epoll.waits", seconds) ?? 0);
      }
      return tr;
    });
    body.replaceChildren(...rows);
  }

  function series(map, name, value) {
    if (!map.has(name)) map.set(name, []);
    push(map.get(name), value);
  }

  function renderOptions(data) {
    const rows = Object.entries(data.options).map(([name, value]) => {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.textContent = name;
      const td = document.createElement("td");
      td.textContent = value === null ? "unbounded" : String(value);
      td.dataset.option = name;
      tr.append(th, td);
      return tr;
    });
    document.querySelector("#options tbody").replaceChildren(...rows);
  }

  function render(data) {
    const seconds = previous ? data.uptimeSeconds - previous.uptimeSeconds : 0;
    const epoll = data.threads.length > 0;
    $("transport").textContent = data.transport;
    $("sockets-note").hidden = epoll;
    $("threads").hidden = !epoll;
    $("thread-charts").hidden = !epoll;
    renderOptions(data);

    const host = data.host;
    const before = previous?.host;
    let requestsRate = null;
    if (before && seconds > 0 && host.requests !== null && before.requests !== null
        && host.requestsCountedSinceSeconds === before.requestsCountedSinceSeconds) {
      requestsRate = (host.requests - before.requests) / seconds;
    }
    $("requests-rate").textContent = formatNumber(requestsRate);
    $("active-connections").textContent = formatNumber(host.activeConnections);
    if (requestsRate !== null) push(history.requests, requestsRate);
    push(history.connections, host.activeConnections);

    if (epoll) {
      if (!columns) columns = buildColumns(data);
      renderThreads(data, seconds);
    }

    draw($("chart-requests"), [{ values: history.requests, color: COLORS[0] }]);
    draw($("chart-connections"), [{ values: history.connections, color: COLORS[2] }]);
    if (epoll) {
      const names = data.threads.map((t) => t.name);
      draw($("chart-bytes"), names.map((n, i) => ({ values: history.bytes.get(n) ?? [], color: COLORS[i % COLORS.length] })), formatBytes);
      draw($("chart-waits"), names.map((n, i) => ({ values: history.waits.get(n) ?? [], color: COLORS[i % COLORS.length] })));
    }
  }

  // A line chart of the last HISTORY points, drawn at the device's pixel ratio; the scale starts at 0.
  function draw(canvas, lines, format = formatNumber) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || canvas.width;
    const height = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
    if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);

    const max = Math.max(1, ...lines.flatMap((l) => l.values));
    const top = 14, bottom = height - 4, left = 2, right = width - 2;
    const x = (i) => left + (right - left) * (i / (HISTORY - 1));
    const y = (v) => bottom - (bottom - top) * (v / max);

    ctx.strokeStyle = "#e2e4e8";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(left, bottom + 0.5);
    ctx.lineTo(right, bottom + 0.5);
    ctx.moveTo(left, top + 0.5);
    ctx.lineTo(right, top + 0.5);
    ctx.stroke();
    ctx.fillStyle = "#5b6472";
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillText(`max ${format(max)}`, left + 2, top - 3);

    for (const line of lines) {
      const offset = HISTORY - line.values.length;
      ctx.strokeStyle = line.color;
      ctx.lineWidth = 1.75;
      ctx.beginPath();
      line.values.forEach((v, i) => (i === 0 ? ctx.moveTo(x(i + offset), y(v)) : ctx.lineTo(x(i + offset), y(v))));
      ctx.stroke();
    }
  }

  async function poll() {
    try {
      const response = await fetch(DATA_URL, { cache: "no-store", headers: { Accept: "application/json" } });
      if (response.status === 403) {
        $("refused-reason").textContent = await response.text();
        $("refused").hidden = false;
        setStatus("refused", "Refused (403)");
        return; // The rule does not change while the page is open: stop polling.
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const data = await response.json();
      render(data);
      previous = data;
      document.body.dataset.updates = String(Number(document.body.dataset.updates) + 1);
      setStatus("live", `Live · ${new Date().toLocaleTimeString("en-GB")}`);
    } catch (error) {
      setStatus("error", `No data: ${error.message}`);
    }
    setTimeout(poll, PERIOD_MS);
  }

  poll();
})();
