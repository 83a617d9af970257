// The live page: uses only the public Binance-shaped API of this server (REST for the
// first picture, one combined WebSocket for every change after it) and, for a user who
// gives a key and secret, the signed endpoints and the user data stream. No reloads.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  symbol: null, ws: null, bids: new Map(), asks: new Map(), lastUpdateId: 0,
  buffered: [], synced: false, trades: [], key: null, secret: null, userWs: null,
};
const LEVELS = 12;
const TRADES = 30;

// -- the chart --------------------------------------------------------------------------------
const chart = LightweightCharts.createChart($("chart"), {
  layout: { background: { color: "#161b26" }, textColor: "#d8dee9" },
  grid: { vertLines: { color: "#1f2636" }, horzLines: { color: "#1f2636" } },
  timeScale: { timeVisible: true, secondsVisible: false },
  autoSize: true,
});
const candles = chart.addSeries(LightweightCharts.CandlestickSeries, {
  upColor: "#4caf7d", downColor: "#e25c5c", wickUpColor: "#4caf7d",
  wickDownColor: "#e25c5c", borderVisible: false,
});

function bar(k) {
  return { time: Math.floor(k.t / 1000), open: +k.o, high: +k.h, low: +k.l, close: +k.c };
}

// -- REST --------------------------------------------------------------------------------------
async function get(path, params = {}) {
  const query = new URLSearchParams(params).toString();
  const resp = await fetch(`/api/v3/${path}${query ? "?" + query : ""}`);
  const body = await resp.json();
  if (!resp.ok) throw new Error(body.msg || resp.statusText);
  return body;
}

async function hmac(secret, text) {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const sig = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text));
  return Array.from(new Uint8Array(sig)).map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function signed(method, path, params = {}) {
  const all = { ...params, timestamp: Date.now() };
  const text = new URLSearchParams(all).toString();
  const sig = await hmac(state.secret, text);
  const body = `${text}&signature=${sig}`;
  const resp = await fetch(`/api/v3/${path}${method === "POST" ? "" : "?" + body}`, {
    method, headers: { "X-MBX-APIKEY": state.key,
                       "Content-Type": "application/x-www-form-urlencoded" },
    body: method === "POST" ? body : undefined,
  });
  const reply = await resp.json();
  if (!resp.ok) throw new Error(`${reply.code}: ${reply.msg}`);
  return reply;
}

// -- the book ------------------------------------------------------------------------------------
function applyDepth(event) {
  for (const [side, book] of [["b", state.bids], ["a", state.asks]]) {
    for (const [price, qty] of event[side]) {
      if (+qty === 0) book.delete(price); else book.set(price, qty);
    }
  }
  state.lastUpdateId = event.u;
}

function drawLadder() {
  const asks = [...state.asks.entries()].sort((a, b) => +a[0] - +b[0]).slice(0, LEVELS).reverse();
  const bids = [...state.bids.entries()].sort((a, b) => +b[0] - +a[0]).slice(0, LEVELS);
  const rows = asks.map(([p, q]) => `<tr><td></td><td class="price">${p}</td><td class="ask">${q}</td></tr>`)
    .concat(bids.map(([p, q]) => `<tr><td class="bid">${q}</td><td class="price">${p}</td><td></td></tr>`));
  $("ladder").tBodies[0].innerHTML = rows.join("");
}

function drawTrades() {
  $("trades").tBodies[0].innerHTML = state.trades.map((t) =>
    `<tr class="${t.m ? "sell" : "buy"}"><td>${new Date(t.T).toLocaleTimeString()}</td>` +
    `<td class="p">${t.p}</td><td>${t.q}</td></tr>`).join("");
}

function drawQuote(t) {
  $("quote").textContent = `bid ${t.b} x ${t.B}  ask ${t.a} x ${t.A}`;
}

// -- the market stream -------------------------------------------------------------------------------
async function open(symbol) {
  if (state.ws) state.ws.close();
  Object.assign(state, { symbol, bids: new Map(), asks: new Map(), buffered: [],
                         synced: false, trades: [] });
  const id = symbol.toLowerCase();
  const streams = [`${id}@depth`, `${id}@trade`, `${id}@kline_1m`, `${id}@bookTicker`];
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}` +
                           `/stream?streams=${streams.join("/")}`);
  state.ws = ws;
  ws.onmessage = (msg) => {
    if (ws !== state.ws) return;
    const { stream, data } = JSON.parse(msg.data);
    if (stream.endsWith("@depth")) {
      if (!state.synced) { state.buffered.push(data); return; }
      if (data.u <= state.lastUpdateId) return;
      applyDepth(data);
      drawLadder();
    } else if (stream.endsWith("@trade")) {
      state.trades.unshift(data);
      state.trades.length = Math.min(state.trades.length, TRADES);
      drawTrades();
    } else if (stream.includes("@kline_")) {
      candles.update(bar(data.k));
    } else if (stream.endsWith("@bookTicker")) {
      drawQuote(data);
    }
  };
  ws.onopen = async () => {
    $("conn").textContent = "live";
    // Snapshot after the stream is open: updates buffered meanwhile are applied on top.
    const depth = await get("depth", { symbol, limit: 1000 });
    for (const [p, q] of depth.bids) state.bids.set(p, q);
    for (const [p, q] of depth.asks) state.asks.set(p, q);
    state.lastUpdateId = depth.lastUpdateId;
    for (const event of state.buffered) if (event.u > state.lastUpdateId) applyDepth(event);
    state.synced = true;
    drawLadder();
    const trades = await get("trades", { symbol, limit: TRADES });
    state.trades = trades.reverse().map((t) => ({ p: t.price, q: t.qty, T: t.time, m: t.isBuyerMaker }))
      .concat(state.trades).slice(0, TRADES);
    drawTrades();
    const klines = await get("klines", { symbol, interval: "1m", limit: 300 });
    candles.setData(klines.map((k) => bar({ t: k[0], o: k[1], h: k[2], l: k[3], c: k[4] })));
    const book = await get("ticker/bookTicker", { symbol });
    drawQuote({ b: book.bidPrice, B: book.bidQty, a: book.askPrice, A: book.askQty });
  };
  ws.onclose = () => { if (ws === state.ws) $("conn").textContent = "disconnected"; };
}

// -- the user's side ------------------------------------------------------------------------------------
function say(text) { $("message").textContent = text; }

async function refresh() {
  const [account, orders, fills] = await Promise.all([
    signed("GET", "account"), signed("GET", "openOrders"),
    signed("GET", "myTrades", { symbol: state.symbol, limit: 20 }),
  ]);
  $("balance").tBodies[0].innerHTML = account.balances
    .filter((b) => +b.free || +b.locked)
    .map((b) => `<tr><td>${b.asset}</td><td>${b.free}</td><td>${+b.locked ? "held " + b.locked : ""}</td></tr>`)
    .join("");
  $("orders").tBodies[0].innerHTML = orders.map((o) =>
    `<tr data-order="${o.orderId}" data-symbol="${o.symbol}"><td>${o.orderId}</td><td>${o.side}</td>` +
    `<td>${o.price}</td><td>${o.origQty}</td><td>${o.executedQty}</td>` +
    `<td><button class="cancel" type="button">cancel</button></td></tr>`).join("");
  $("fills").tBodies[0].innerHTML = fills.reverse().map((f) =>
    `<tr><td>${f.orderId}</td><td>${f.isBuyer ? "BUY" : "SELL"}</td><td>${f.price}</td><td>${f.qty}</td></tr>`)
    .join("");
}

async function userStream() {
  const resp = await fetch("/api/v3/userDataStream", { method: "POST",
                                                       headers: { "X-MBX-APIKEY": state.key } });
  const { listenKey } = await resp.json();
  if (state.userWs) state.userWs.close();
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/${listenKey}`);
  state.userWs = ws;
  let pending = null;
  ws.onmessage = () => {  // any report: redraw once the burst is over
    clearTimeout(pending);
    pending = setTimeout(() => refresh().catch((e) => say(e.message)), 50);
  };
  setInterval(() => fetch(`/api/v3/userDataStream?listenKey=${listenKey}`,
                          { method: "PUT", headers: { "X-MBX-APIKEY": state.key } }), 30 * 60 * 1000);
}

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  state.key = $("key").value.trim();
  state.secret = $("secret").value.trim();
  try {
    await refresh();
    await userStream();
    $("entry").hidden = false;
    $("private").hidden = false;
    say(`trading as ${state.key}`);
  } catch (err) {
    say(err.message);
  }
});

$("entry").addEventListener("submit", async (e) => {
  e.preventDefault();
  const params = { symbol: state.symbol, side: $("side").value, type: $("type").value,
                   quantity: $("qty").value.trim() };
  if (params.type === "LIMIT") { params.price = $("price").value.trim(); params.timeInForce = "GTC"; }
  try {
    const order = await signed("POST", "order", { ...params, newOrderRespType: "RESULT" });
    say(`order ${order.orderId}: ${order.status}`);
    await refresh();
  } catch (err) {
    say(err.message);
  }
});

$("orders").addEventListener("click", async (e) => {
  if (!e.target.classList.contains("cancel")) return;
  const row = e.target.closest("tr");
  try {
    const order = await signed("DELETE", "order", { symbol: row.dataset.symbol,
                                                    orderId: row.dataset.order });
    say(`order ${order.orderId}: ${order.status}`);
    await refresh();
  } catch (err) {
    say(err.message);
  }
});

$("symbol").addEventListener("change", () => {
  open($("symbol").value);
  if (state.key) refresh().catch((e) => say(e.message));
});

(async () => {
  const info = await get("exchangeInfo");
  $("symbol").innerHTML = info.symbols.map((s) => `<option>${s.symbol}</option>`).join("");
  const wanted = new URLSearchParams(location.search).get("symbol");
  if (wanted) $("symbol").value = wanted;
  open($("symbol").value);
})();
