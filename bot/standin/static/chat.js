// Chat page of the Telegram stand-in. Plain DOM, no innerHTML for anything that comes from the bot or a user.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  };
  const SVG = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs) => {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  };

  const FALLBACK_USERS = [
    { id: 1001, first_name: "骑手小王" },
    { id: 2001, first_name: "网格员老李" },
    { id: 3001, first_name: "社区书记" },
    { id: 4001, first_name: "驿站站长老陈" },
  ];
  const LIVE_PERIOD = 900;

  const state = {
    users: [],
    user: null,
    seq: 0,
    gen: 0,
    abort: null,
    presets: [],
    replyKb: null,
    kbHidden: false,
    bot: { first_name: "骑手助手", username: "rider_helper_bot" },
  };

  const transcript = $("transcript");
  const input = $("composer-input");
  // The page's own words follow its <html lang>: an error toast never mixes in a server's English message.
  const PAGE_EN = (document.documentElement.lang || "").toLowerCase().startsWith("en");
  const L = (zh, en) => (PAGE_EN ? en : zh);

  // ------------------------------------------------------------------ helpers

  async function api(path, options) {
    const opts = Object.assign({ headers: { "Content-Type": "application/json" } }, options || {});
    const res = await fetch(path, opts);
    let body = null;
    try {
      body = await res.json();
    } catch (_) {
      body = null;
    }
    if (!res.ok) {
      const msg = (body && (body.error || body.description)) || `请求失败（${res.status}）`;
      throw new Error(msg);
    }
    return body;
  }

  let toastTimer = null;
  function toast(text) {
    const node = $("toast");
    node.textContent = text;
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { node.hidden = true; }, 2600);
  }

  function alertBox(text) {
    $("alert-title").textContent = state.bot.first_name;
    $("alert-text").textContent = text;
    $("alert").hidden = false;
    $("alert-ok").focus();
  }
  $("alert-ok").addEventListener("click", () => { $("alert").hidden = true; });

  function hhmm(epoch) {
    const d = new Date(epoch * 1000);
    return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
  }

  function safeUrl(url) {
    return typeof url === "string" && /^(https?:\/\/|tg:\/\/)/i.test(url) ? url : null;
  }

  function fmtCoord(lat, lon) {
    return `${Number(lat).toFixed(5)}, ${Number(lon).toFixed(5)}`;
  }

  function fmtSize(n) {
    if (n === undefined || n === null) return "";
    if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
    if (n >= 1024) return `${(n / 1024).toFixed(0)} KB`;
    return `${n} B`;
  }

  // ------------------------------------------------------------------ entities -> DOM

  // Chinese landlines (0516-85771266), mobiles (13812345678) and 400 numbers in plain bot text become tel: links.
  const PHONE_RE = /(?<![\w.+\-])(?:\+?86[\- ]?)?(?:0\d{2,3}[\- ]?\d{7,8}|1[3-9]\d{9}|400[\- ]?\d{3}[\- ]?\d{4})(?![\w.\-])/g;
  const NO_PHONE_LINKS = new Set(["url", "text_link", "email", "phone_number", "bot_command", "code", "pre"]);

  function telLink(number, child) {
    const a = el("a", "tel");
    a.href = `tel:${number.replace(/[^\d+]/g, "")}`;
    a.appendChild(child || document.createTextNode(number));
    return a;
  }

  function linkPhones(text) {
    const frag = document.createDocumentFragment();
    let last = 0;
    for (const match of text.matchAll(PHONE_RE)) {
      if (match.index > last) frag.appendChild(document.createTextNode(text.slice(last, match.index)));
      frag.appendChild(telLink(match[0]));
      last = match.index + match[0].length;
    }
    if (last < text.length) frag.appendChild(document.createTextNode(text.slice(last)));
    return frag;
  }

  function renderText(text, entities) {
    const frag = document.createDocumentFragment();
    const ents = (entities || []).filter((e) => e && e.length > 0);
    const cuts = new Set([0, text.length]);
    for (const e of ents) {
      cuts.add(Math.max(0, Math.min(text.length, e.offset)));
      cuts.add(Math.max(0, Math.min(text.length, e.offset + e.length)));
    }
    const points = [...cuts].sort((a, b) => a - b);
    for (let i = 0; i < points.length - 1; i++) {
      const a = points[i];
      const b = points[i + 1];
      if (a === b) continue;
      const active = ents
        .filter((e) => e.offset <= a && e.offset + e.length >= b)
        .sort((x, y) => (y.offset - x.offset) || (x.length - y.length)); // innermost first
      const plain = !active.some((e) => NO_PHONE_LINKS.has(e.type));
      let node = plain ? linkPhones(text.slice(a, b)) : document.createTextNode(text.slice(a, b));
      for (const e of active) node = wrap(node, e, text.substr(e.offset, e.length));
      frag.appendChild(node);
    }
    return frag;
  }

  function wrap(child, entity, whole) {
    let outer;
    switch (entity.type) {
      case "bold": outer = el("strong"); break;
      case "italic": outer = el("em"); break;
      case "underline": outer = el("u"); break;
      case "strikethrough": outer = el("s"); break;
      case "code": outer = el("code"); break;
      case "pre": outer = el("code", "pre"); break;
      case "blockquote":
      case "expandable_blockquote": outer = el("span", "quote"); break;
      case "spoiler":
        outer = el("span", "spoiler");
        outer.addEventListener("click", () => outer.classList.add("revealed"));
        break;
      case "text_link":
      case "url": {
        const href = safeUrl(entity.type === "url" ? whole : entity.url);
        if (!href) return child;
        outer = el("a");
        outer.href = href;
        outer.target = "_blank";
        outer.rel = "noopener noreferrer";
        break;
      }
      case "bot_command":
        outer = el("span", "cmd-link");
        outer.addEventListener("click", () => sendText(whole.replace(/@\w+$/, "")));
        break;
      case "phone_number":
        return telLink(whole, child);
      case "mention":
      case "hashtag":
      case "cashtag":
      case "email":
        outer = el("span", "link");
        break;
      default:
        return child;
    }
    outer.appendChild(child);
    return outer;
  }

  // ------------------------------------------------------------------ mini map (offline, drawn)

  function hash(str) {
    let h = 2166136261;
    for (let i = 0; i < str.length; i++) {
      h ^= str.charCodeAt(i);
      h = Math.imul(h, 16777619);
    }
    return () => {
      h ^= h << 13; h ^= h >>> 17; h ^= h << 5;
      return ((h >>> 0) % 10000) / 10000;
    };
  }

  function miniMap(lat, lon, live) {
    const rnd = hash(`${Number(lat).toFixed(3)},${Number(lon).toFixed(3)}`);
    const W = 300;
    const H = 120;
    const map = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "minimap", preserveAspectRatio: "xMidYMid slice",
      role: "img", "aria-label": `地图 ${fmtCoord(lat, lon)}` });
    map.appendChild(svg("rect", { width: W, height: H, fill: "#eef0e6" }));
    // blocks
    map.appendChild(svg("rect", { x: rnd() * 120, y: rnd() * 40, width: 70 + rnd() * 60, height: 34 + rnd() * 20,
      rx: 6, fill: "#cfe8bf" }));
    if (rnd() > 0.45) {
      map.appendChild(svg("path", { d: `M0 ${90 + rnd() * 20} C 80 ${70 + rnd() * 30}, 180 ${110 + rnd() * 10}, ${W} ${80 + rnd() * 20} L ${W} ${H} L 0 ${H} Z`,
        fill: "#b9daf2" }));
    }
    for (let i = 0; i < 3; i++) {
      const x = 30 + rnd() * (W - 60);
      map.appendChild(svg("line", { x1: x, y1: 0, x2: x + (rnd() - 0.5) * 60, y2: H, stroke: "#fff", "stroke-width": 7 }));
    }
    for (let i = 0; i < 2; i++) {
      const y = 15 + rnd() * (H - 30);
      map.appendChild(svg("line", { x1: 0, y1: y, x2: W, y2: y + (rnd() - 0.5) * 40, stroke: "#fff", "stroke-width": 9 }));
    }
    map.appendChild(svg("line", { x1: 0, y1: 20 + rnd() * 80, x2: W, y2: 20 + rnd() * 80, stroke: "#ffd98a",
      "stroke-width": 6 }));
    const cx = W / 2;
    const cy = H / 2 + 8;
    if (live) {
      const ring = svg("circle", { cx, cy: cy + 2, r: 22, fill: "rgba(255,87,34,.18)", stroke: "rgba(255,87,34,.5)" });
      map.appendChild(ring);
    }
    map.appendChild(svg("ellipse", { cx, cy: cy + 2, rx: 7, ry: 3, fill: "rgba(0,0,0,.25)" }));
    map.appendChild(svg("path", {
      d: `M${cx} ${cy} C ${cx - 4} ${cy - 10}, ${cx - 13} ${cy - 15}, ${cx - 13} ${cy - 25} A 13 13 0 1 1 ${cx + 13} ${cy - 25} C ${cx + 13} ${cy - 15}, ${cx + 4} ${cy - 10}, ${cx} ${cy} Z`,
      fill: live ? "#ff5722" : "#e53935", stroke: "#fff", "stroke-width": 2,
    }));
    map.appendChild(svg("circle", { cx, cy: cy - 25, r: 5, fill: "#fff" }));
    return map;
  }

  // ------------------------------------------------------------------ rendering messages

  function describe(m) {
    if (!m) return "";
    if (m.text) return m.text;
    if (m.caption) return m.caption;
    if (m.venue) return `📍 ${m.venue.title}`;
    if (m.location) return "📍 位置";
    if (m.photo) return "🖼 图片";
    if (m.document) return `📄 ${m.document.file_name || "文件"}`;
    return "消息";
  }

  function renderMessage(m) {
    const fromBot = !!m._from_bot;
    const row = el("div", `row ${fromBot ? "row-bot" : "row-user"}`);
    row.dataset.mid = String(m.message_id);
    const bubble = el("div", `msg ${fromBot ? "msg-bot" : "msg-user"}`);
    bubble.dataset.testid = "msg";
    bubble.setAttribute("data-testid", "msg");
    bubble.dataset.messageId = String(m.message_id);
    row.appendChild(bubble);

    if (m.reply_to_message) {
      const q = el("div", "reply-quote");
      const r = m.reply_to_message;
      q.appendChild(el("div", "who", r.from && r.from.is_bot ? state.bot.first_name : (r.from ? r.from.first_name : "")));
      q.appendChild(el("div", "what", describe(r)));
      bubble.appendChild(q);
    }

    let media = false;
    if (Array.isArray(m.photo) && m.photo.length) {
      media = true;
      const big = m.photo[m.photo.length - 1];
      const img = el("img", "photo");
      img.alt = m.caption || "图片";
      img.loading = "lazy";
      img.src = `/_standin/files/${encodeURIComponent(big.file_id)}`;
      if (big.width && big.height) img.style.aspectRatio = `${big.width} / ${big.height}`;
      img.addEventListener("click", () => window.open(img.src, "_blank", "noopener"));
      bubble.appendChild(img);
      row.classList.add("wide");
    }
    if (m.venue) {
      media = true;
      const v = m.venue;
      const card = el("div", "venue-card");
      card.setAttribute("data-testid", "venue-card");
      card.appendChild(miniMap(v.location.latitude, v.location.longitude, false));
      const body = el("div", "venue-body");
      body.appendChild(el("div", "venue-title", `📍 ${v.title}`));
      if (v.address) body.appendChild(el("div", "venue-address", v.address));
      body.appendChild(el("div", "coords", fmtCoord(v.location.latitude, v.location.longitude)));
      card.appendChild(body);
      bubble.appendChild(card);
      row.classList.add("wide");
    } else if (m.location) {
      media = true;
      const loc = m.location;
      const live = !!loc.live_period;
      const card = el("div", "loc-card");
      card.setAttribute("data-testid", "location-card");
      card.appendChild(miniMap(loc.latitude, loc.longitude, live));
      const body = el("div", "venue-body");
      if (live) body.appendChild(el("div", "live-badge", "实时位置"));
      else body.appendChild(el("div", "venue-title", "📍 位置"));
      body.appendChild(el("div", "coords", fmtCoord(loc.latitude, loc.longitude)));
      card.appendChild(body);
      if (live && !fromBot) {
        const move = el("button", "live-move", "🚲 移动一下（更新实时位置）");
        move.type = "button";
        move.setAttribute("data-testid", "live-move");
        move.addEventListener("click", () => moveLive(m.message_id, loc));
        card.appendChild(move);
      }
      bubble.appendChild(card);
      row.classList.add("wide");
    }
    if (m.document) {
      const d = el("div", "doc");
      d.appendChild(el("div", "doc-icon", "📄"));
      const info = el("div");
      info.appendChild(el("div", "doc-name", m.document.file_name || "文件"));
      info.appendChild(el("div", "doc-size", fmtSize(m.document.file_size)));
      d.appendChild(info);
      bubble.appendChild(d);
    }
    if (media) bubble.classList.add("has-media");

    const body = m.text !== undefined ? m.text : m.caption;
    const entities = m.text !== undefined ? m.entities : m.caption_entities;
    if (body) {
      const t = el("div", "text");
      t.appendChild(renderText(body, entities));
      bubble.appendChild(t);
    }

    const meta = el("div", "meta-line");
    if (m.edit_date) meta.appendChild(el("span", "edited", "已编辑"));
    meta.appendChild(el("span", "time", hhmm(m.edit_date && m.location ? m.edit_date : m.date)));
    if (!fromBot) {
      const ticks = svg("svg", { viewBox: "0 0 18 10", width: 18, height: 10, class: "ticks", "aria-label": "已读" });
      ticks.appendChild(svg("path", { d: "M1 5.5 4 8.5 10 1.5M7.5 7.2 8.8 8.5 14.8 1.5", fill: "none",
        stroke: "currentColor", "stroke-width": 1.6, "stroke-linecap": "round", "stroke-linejoin": "round" }));
      meta.appendChild(ticks);
    }
    bubble.appendChild(meta);

    const kb = m.reply_markup && m.reply_markup.inline_keyboard;
    if (Array.isArray(kb) && kb.length) {
      const box = el("div", "inline-kb");
      for (const rowDef of kb) {
        const r = el("div", "inline-row");
        for (const b of rowDef) r.appendChild(inlineButton(m, b));
        box.appendChild(r);
      }
      row.appendChild(box);
      row.classList.add("wide");
    }
    return row;
  }

  function inlineButton(m, b) {
    const btn = el("button", "inline-button", b.text);
    btn.type = "button";
    btn.setAttribute("data-testid", "inline-button");
    const url = safeUrl(b.url);
    if (url) {
      btn.appendChild(el("span", "ext", "↗"));
      btn.addEventListener("click", () => window.open(url, "_blank", "noopener"));
    } else if (typeof b.callback_data === "string") {
      btn.dataset.callback = b.callback_data;
      btn.addEventListener("click", () => pressCallback(btn, m.message_id, b.callback_data));
    } else {
      btn.addEventListener("click", () => toast("演示页不支持这种按钮"));
    }
    return btn;
  }

  function upsert(m) {
    $("empty").hidden = true;
    const existing = transcript.querySelector(`.row[data-mid="${m.message_id}"]`);
    if (m._deleted) {
      if (existing) existing.remove();
      return;
    }
    const node = renderMessage(m);
    if (existing) {
      existing.replaceWith(node);
      const bubble = node.querySelector(".msg");
      if (bubble) bubble.classList.add("flash");
      return;
    }
    const rows = transcript.querySelectorAll(".row");
    for (const r of rows) {
      if (Number(r.dataset.mid) > m.message_id) {
        transcript.insertBefore(node, r);
        return;
      }
    }
    transcript.appendChild(node);
  }

  function nearBottom() {
    return transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 160;
  }

  function scrollToBottom() {
    transcript.scrollTop = transcript.scrollHeight;
  }

  // "New message ↓": an answer that lands while the reader is scrolled up does not yank them down.
  const badge = el("button", "new-badge", L("新消息 ↓", "New message ↓"));
  badge.type = "button";
  badge.hidden = true;
  badge.setAttribute("data-testid", "new-badge");
  transcript.parentNode.insertBefore(badge, transcript.nextSibling);
  let unseen = null;
  function revealTop(row) {
    // a long answer is read from its first line: its top at the top of the screen, not its last line
    const gap = row.getBoundingClientRect().top - transcript.getBoundingClientRect().top;
    transcript.scrollTop += gap - 8;
  }
  badge.addEventListener("click", () => {
    if (unseen && unseen.isConnected) revealTop(unseen);
    else scrollToBottom();
    unseen = null;
    badge.hidden = true;
  });
  transcript.addEventListener("scroll", () => {
    if (!badge.hidden && (nearBottom() || (unseen && unseen.isConnected && unseen.getBoundingClientRect().top
        < transcript.getBoundingClientRect().bottom))) {
      badge.hidden = true;
      unseen = null;
    }
  });

  function showBadge(row) {
    unseen = unseen && unseen.isConnected ? unseen : row;
    const above = $("app").getBoundingClientRect().bottom - transcript.getBoundingClientRect().bottom;
    badge.style.bottom = `${Math.max(0, above) + 12}px`;
    badge.hidden = false;
  }

  // What the reader ends up seeing must not depend on how the messages were cut into batches (that is network
  // timing): the badge means "a new message landed out of sight below", whether it came in a later batch while the
  // reader was up the transcript, or in the same batch as a long answer that is shown from its top.
  function applyBatch(body, forceScroll) {
    const stick = forceScroll || nearBottom();
    const fresh = [];
    for (const m of body.messages || []) {
      const known = transcript.querySelector(`.row[data-mid="${m.message_id}"]`);
      upsert(m);
      if (!known && m._from_bot && !m._deleted) {
        const row = transcript.querySelector(`.row[data-mid="${m.message_id}"]`);
        if (row) fresh.push(row);
      }
    }
    const firstNew = fresh[0] || null;
    if (typeof body.last_seq === "number") state.seq = Math.max(state.seq, body.last_seq);
    setReplyKeyboard(body.reply_keyboard || null);
    if (!transcript.querySelector(".row")) $("empty").hidden = false;
    if (stick) {
      scrollToBottom();
      if (!forceScroll && firstNew && firstNew.getBoundingClientRect().top < transcript.getBoundingClientRect().top) {
        revealTop(firstNew);
        const fold = transcript.getBoundingClientRect().bottom;
        const below = fresh.find((row) => row.getBoundingClientRect().top >= fold);
        if (below) showBadge(below);
      }
    } else if (firstNew) {
      showBadge(firstNew);
    }
  }

  function archiveTranscript() {
    // The bot (and its stand-in) restarted: message ids start again, so what is on screen stays as history
    // (its buttons can no longer be answered) and new messages append below a divider.
    for (const row of transcript.querySelectorAll(".row[data-mid]")) {
      row.dataset.oldMid = row.dataset.mid;
      delete row.dataset.mid;
      row.classList.add("archived");
      for (const b of row.querySelectorAll("button")) b.disabled = true;
    }
    const divider = el("div", "restart-divider", L("— 机器人已重启 —", "— the bot restarted —"));
    divider.setAttribute("data-testid", "restart-divider");
    transcript.appendChild(divider);
    state.seq = 0;
  }

  // ------------------------------------------------------------------ reply keyboard

  function setReplyKeyboard(kb) {
    const same = JSON.stringify(kb) === JSON.stringify(state.replyKb);
    if (!same) {
      state.replyKb = kb;
      state.kbHidden = false;
    }
    const box = $("reply-kb");
    if (!same) {
      box.replaceChildren();
      if (kb && Array.isArray(kb.keyboard)) {
        for (const rowDef of kb.keyboard) {
          const r = el("div", "reply-kb-row");
          for (const raw of rowDef) {
            const b = typeof raw === "string" ? { text: raw } : raw;
            const cls = `reply-kb-button${b.request_location ? " location" : ""}${kb.resize_keyboard ? " compact" : ""}`;
            const btn = el("button", cls, b.text);
            btn.type = "button";
            btn.setAttribute("data-testid", "reply-kb-button");
            btn.addEventListener("click", () => pressReplyButton(b));
            r.appendChild(btn);
          }
          box.appendChild(r);
        }
      }
      input.placeholder = (kb && kb.input_field_placeholder) || "输入消息…";
    }
    const has = !!(kb && Array.isArray(kb.keyboard) && kb.keyboard.length);
    box.hidden = !has || state.kbHidden;
    $("kb-toggle").hidden = !has;
  }

  function pressReplyButton(b) {
    if (state.replyKb && state.replyKb.one_time_keyboard) {
      state.kbHidden = true;
      $("reply-kb").hidden = true;
    }
    if (b.request_location) {
      openSheet();
      return;
    }
    if (b.request_contact || b.request_users || b.request_chat || b.request_poll || b.web_app) {
      toast("演示页不支持这种按钮，已按文字发送");
    }
    sendText(b.text);
  }

  $("kb-toggle").addEventListener("click", () => {
    state.kbHidden = !state.kbHidden;
    $("reply-kb").hidden = state.kbHidden;
    if (!state.kbHidden) scrollToBottom();
  });

  // ------------------------------------------------------------------ sending

  function who() {
    return { first_name: state.user.first_name, language_code: "zh-hans" };
  }

  async function postMessage(payload) {
    try {
      const msg = await api(`/_standin/users/${state.user.id}/messages`, {
        method: "POST",
        body: JSON.stringify(Object.assign(who(), payload)),
      });
      upsert(Object.assign({}, msg, { _from_bot: false, _seq: 0 }));
      scrollToBottom();
      return msg;
    } catch (_) {
      toast(L("发送失败，内容已保留，请重试", "Not sent; your text is kept, please try again"));
      return null;
    }
  }

  function sendText(text) {
    const t = String(text || "");
    if (!t.trim()) return null;
    hideCommands();
    return postMessage({ text: t });
  }

  $("composer").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = input.value;
    if (!t.trim()) {
      input.focus();
      return;
    }
    input.value = "";
    input.focus();
    Promise.resolve(sendText(t)).then((sent) => {
      if (!sent && !input.value) input.value = t; // a failed send gives the typed words back
    });
  });

  $("empty-start").addEventListener("click", () => sendText("/start"));

  async function pressCallback(btn, messageId, data) {
    if (btn.classList.contains("busy")) return;
    btn.classList.add("busy");
    try {
      const ans = await api(`/_standin/users/${state.user.id}/callbacks`, {
        method: "POST",
        body: JSON.stringify({ message_id: messageId, data }),
      });
      if (ans && ans.url && safeUrl(ans.url)) window.open(ans.url, "_blank", "noopener");
      if (ans && ans.text) {
        if (ans.show_alert) alertBox(ans.text);
        else toast(ans.text);
      }
    } catch (err) {
      toast(L("操作失败，请重试", "That did not work, please try again"));
    } finally {
      btn.classList.remove("busy");
    }
  }

  async function moveLive(messageId, loc) {
    const step = 0.0004 + Math.random() * 0.0003;
    const angle = Math.random() * Math.PI * 2;
    const lat = Number(loc.latitude) + step * Math.cos(angle);
    const lon = Number(loc.longitude) + step * Math.sin(angle);
    try {
      await api(`/_standin/users/${state.user.id}/location_edits`, {
        method: "POST",
        body: JSON.stringify({ message_id: messageId, latitude: lat, longitude: lon }),
      });
      toast("实时位置已更新");
    } catch (err) {
      toast(L("更新失败，请重试", "Update failed, please try again"));
    }
  }

  // photo (随手拍)
  $("photo-btn").addEventListener("click", () => $("photo-input").click());
  $("photo-input").addEventListener("change", () => {
    const file = $("photo-input").files[0];
    if (!file) return;
    if (file.size > 10 * 1024 * 1024) {
      toast("图片太大（最大 10 MB）");
      return;
    }
    const reader = new FileReader();
    reader.onload = () => {
      const caption = input.value.trim();
      input.value = "";
      postMessage({ photo_base64: String(reader.result), caption: caption || undefined });
      $("photo-input").value = "";
    };
    reader.readAsDataURL(file);
  });

  // ------------------------------------------------------------------ commands menu

  function hideCommands() { $("command-menu").hidden = true; }

  $("cmd-btn").addEventListener("click", async () => {
    const menu = $("command-menu");
    if (!menu.hidden) {
      hideCommands();
      return;
    }
    let cmds = [];
    try {
      cmds = await api(`/_standin/commands?language_code=zh-hans`);
    } catch (_) {
      cmds = [];
    }
    if (!cmds.length) {
      if (!input.value.startsWith("/")) input.value = `/${input.value}`;
      input.focus();
      return;
    }
    menu.replaceChildren();
    for (const c of cmds) {
      const item = el("button", "command-item");
      item.type = "button";
      item.setAttribute("data-testid", "command-item");
      item.appendChild(el("span", "c", `/${c.command}`));
      item.appendChild(el("span", "d", c.description));
      item.addEventListener("click", () => sendText(`/${c.command}`));
      menu.appendChild(item);
    }
    menu.hidden = false;
  });

  // ------------------------------------------------------------------ location sheet

  function openSheet() {
    hideCommands();
    $("loc-error").textContent = "";
    $("preset-search").value = "";
    renderPresets("");
    $("sheet").hidden = false;
  }

  function closeSheet() { $("sheet").hidden = true; }

  $("open-location").addEventListener("click", openSheet);
  $("sheet-close").addEventListener("click", closeSheet);
  $("sheet").addEventListener("click", (ev) => { if (ev.target === $("sheet")) closeSheet(); });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") {
      closeSheet();
      hideCommands();
      $("alert").hidden = true;
    }
  });

  const KIND_LABELS = { station: "驿站", canteen: "食堂", community: "小区", merchant: "商家", hospital: "医院" };

  function presetLat(p) { return Number(p.lat !== undefined ? p.lat : p.latitude); }
  function presetLon(p) { return Number(p.lon !== undefined ? p.lon : p.longitude); }

  function renderPresets(query) {
    const list = $("preset-list");
    list.replaceChildren();
    const q = query.trim().toLowerCase();
    const found = state.presets.filter((p) => {
      if (!q) return true;
      return [p.name, p.address, p.district, p.city, p.kind, KIND_LABELS[p.kind], p.category]
        .filter(Boolean).some((s) => String(s).toLowerCase().includes(q));
    });
    if (!found.length) {
      list.appendChild(el("li", "preset-empty", state.presets.length ? "没有匹配的地点" : "没有预设地点，请手动输入坐标"));
      return;
    }
    for (const p of found) {
      const li = el("li", "preset-item");
      li.setAttribute("data-testid", "preset-item");
      li.tabIndex = 0;
      li.setAttribute("role", "button");
      li.appendChild(el("div", "preset-pin", "📍"));
      const text = el("div");
      text.appendChild(el("div", "preset-name", p.name || "未命名地点"));
      const where = [p.city, p.district || p.address, KIND_LABELS[p.kind] || p.kind].filter(Boolean).join(" · ");
      const sub = where || fmtCoord(presetLat(p), presetLon(p));
      text.appendChild(el("div", "preset-sub", sub));
      li.appendChild(text);
      const pick = () => sendLocation(presetLat(p), presetLon(p));
      li.addEventListener("click", pick);
      li.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); pick(); } });
      list.appendChild(li);
    }
  }

  $("preset-search").addEventListener("input", (ev) => renderPresets(ev.target.value));

  function parseCoord(raw, min, max, name) {
    const s = String(raw || "").trim().replace("，", ",");
    if (!s) return { error: `请输入${name}` };
    if (!/^[-+]?\d+(\.\d+)?$/.test(s)) return { error: `${name}必须是数字，例如 ${name === "纬度" ? "31.2304" : "121.4737"}` };
    const v = Number(s);
    if (v < min || v > max) return { error: `${name}必须在 ${min} 到 ${max} 之间` };
    return { value: v };
  }

  $("location-send").addEventListener("click", () => {
    const latIn = $("lat-input");
    const lonIn = $("lon-input");
    // allow "31.23, 121.47" pasted into the latitude box
    if (latIn.value.includes(",") && !lonIn.value.trim()) {
      const [a, b] = latIn.value.split(",");
      latIn.value = a.trim();
      lonIn.value = (b || "").trim();
    }
    const lat = parseCoord(latIn.value, -90, 90, "纬度");
    const lon = parseCoord(lonIn.value, -180, 180, "经度");
    latIn.setAttribute("aria-invalid", lat.error ? "true" : "false");
    lonIn.setAttribute("aria-invalid", lon.error ? "true" : "false");
    if (lat.error || lon.error) {
      $("loc-error").textContent = lat.error || lon.error;
      return;
    }
    sendLocation(lat.value, lon.value);
  });

  async function sendLocation(lat, lon) {
    if (!Number.isFinite(lat) || !Number.isFinite(lon)) {
      $("loc-error").textContent = "这个地点没有有效坐标";
      return;
    }
    const live = $("live-toggle").checked;
    const location = { latitude: lat, longitude: lon };
    if (live) location.live_period = LIVE_PERIOD;
    closeSheet();
    const msg = await postMessage({ location });
    if (msg && live) toast("正在共享实时位置，可点“移动一下”模拟骑行");
  }

  // ------------------------------------------------------------------ users & polling

  function loadCustomUsers() {
    try {
      return JSON.parse(localStorage.getItem("standin.customUsers") || "[]");
    } catch (_) {
      return [];
    }
  }

  function renderSwitcher() {
    const sel = $("user-switcher");
    sel.replaceChildren();
    for (const u of state.users) {
      const opt = el("option", null, u.first_name);
      opt.value = String(u.id);
      sel.appendChild(opt);
    }
    const custom = el("option", null, "+ 自定义");
    custom.value = "custom";
    sel.appendChild(custom);
    sel.value = String(state.user.id);
  }

  $("user-switcher").addEventListener("change", (ev) => {
    const value = ev.target.value;
    if (value === "custom") {
      const idRaw = window.prompt("用户 ID（正整数）", "4001");
      const id = Number(idRaw);
      if (!idRaw || !Number.isInteger(id) || id <= 0) {
        if (idRaw !== null) toast("用户 ID 必须是正整数");
        ev.target.value = String(state.user.id);
        return;
      }
      const name = (window.prompt("显示名称", `用户${id}`) || `用户${id}`).trim();
      const existing = state.users.find((u) => u.id === id);
      if (existing) existing.first_name = name;
      else state.users.push({ id, first_name: name, custom: true });
      localStorage.setItem("standin.customUsers", JSON.stringify(state.users.filter((u) => u.custom)));
      switchUser(id);
      return;
    }
    switchUser(Number(value));
  });

  function switchUser(id) {
    state.user = state.users.find((u) => u.id === id) || state.users[0];
    localStorage.setItem("standin.user", String(state.user.id));
    renderSwitcher();
    transcript.querySelectorAll(".row").forEach((r) => r.remove());
    $("empty").hidden = false;
    state.seq = 0;
    state.replyKb = undefined;
    setReplyKeyboard(null);
    hideCommands();
    closeSheet();
    $("alert").hidden = true;
    clearTimeout(toastTimer);
    $("toast").hidden = true; // a toast or alert belongs to the person who tapped, not the one switched to
    startPolling();
  }

  function startPolling() {
    state.gen += 1;
    if (state.abort) state.abort.abort();
    const gen = state.gen;
    const ctrl = new AbortController();
    state.abort = ctrl;
    const chatId = state.user.id;
    (async () => {
      let first = true;
      while (gen === state.gen) {
        try {
          const wait = first ? 0 : 20;
          const res = await fetch(`/_standin/chats/${chatId}/messages?after=${state.seq}&wait=${wait}`,
            { signal: ctrl.signal });
          if (!res.ok) throw new Error(String(res.status));
          const body = await res.json();
          if (gen !== state.gen) return;
          if (body.boot && state.boot && body.boot !== state.boot) {
            state.boot = body.boot;
            archiveTranscript();
            continue; // fetch the new stand-in's messages from its start
          }
          if (body.boot) state.boot = body.boot;
          applyBatch(body, first);
          first = false;
          $("bot-status").textContent = "机器人";
        } catch (err) {
          if (gen !== state.gen || (err && err.name === "AbortError")) return;
          $("bot-status").textContent = "连接中…";
          first = true; // after an outage ask without waiting: a restarted stand-in answers at once
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    })();
  }

  async function boot() {
    let info = null;
    try {
      info = await api("/_standin/info");
    } catch (_) {
      info = null;
    }
    if (info && info.bot) state.bot = info.bot;
    for (const link of (info && info.links) || []) {
      const a = document.createElement("a");
      a.className = "topbar-link";
      a.href = link.url;
      a.target = "_blank";
      a.rel = "noopener";
      a.textContent = link.label;
      a.title = link.title || "";
      a.dataset.testid = "page-link";
      document.querySelector(".topbar .switcher").before(a);
    }
    const base = (info && info.users && info.users.length ? info.users : FALLBACK_USERS)
      .map((u) => ({ id: u.id, first_name: u.first_name }));
    state.users = base.concat(loadCustomUsers().filter((c) => !base.some((u) => u.id === c.id)));
    $("bot-name").textContent = state.bot.first_name;
    $("empty-title").textContent = state.bot.first_name;
    const initial = state.bot.first_name.slice(0, 1);
    $("bot-avatar").textContent = initial;
    document.querySelector(".empty-avatar").textContent = initial;
    document.title = `${state.bot.first_name} · 离线演示`;
    try {
      state.presets = await api("/_standin/presets");
    } catch (_) {
      state.presets = [];
    }
    const params = new URLSearchParams(location.search);
    const wanted = Number(params.get("user") || localStorage.getItem("standin.user") || state.users[0].id);
    if (!state.users.some((u) => u.id === wanted) && Number.isInteger(wanted) && wanted > 0) {
      state.users.push({ id: wanted, first_name: params.get("name") || `用户${wanted}`, custom: true });
    }
    state.user = state.users.find((u) => u.id === wanted) || state.users[0];
    renderSwitcher();
    startPolling();
  }

  window.standinChat = { state, sendText, sendLocation, switchUser };
  boot();
})();
