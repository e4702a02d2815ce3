/* The WeChat simulator page. Plain JavaScript, no build step, no network besides this server.
 *
 * Text from the server only ever reaches the page through textContent and attributes set one
 * by one (never innerHTML): replies are shown the way WeChat shows them, HTML included. */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("sim-config").textContent);
  var STORE_KEY = "kjzy-simulator:v1";
  var MAX_NEW_USERS = 8;
  var OPENID = /^[A-Za-z0-9_-]{6,64}$/;
  // In text, WeChat makes <a href="...">label</a> and bare web addresses clickable.
  var ANCHOR_OR_URL = /<a\s[^>]*?href\s*=\s*(["'])(?<href>.*?)\1[^>]*>(?<label>[\s\S]*?)<\/a\s*>|(?<url>https?:\/\/[^\s<>"'“”‘’，。；：！？、）】》]+)/gi;
  var URL_ONLY = /(?<url>https?:\/\/[^\s<>"'“”‘’，。；：！？、）】》]+)/gi;

  function byId(id) { return document.getElementById(id); }

  var el = {
    phone: document.querySelector(".phone"),
    messages: byId("messages"),
    users: byId("users"),
    follow: byId("follow"),
    scan: byId("scan"),
    status: byId("status"),
    menubar: byId("menubar"),
    menuButtons: byId("menu-buttons"),
    submenu: byId("submenu"),
    inputbar: byId("inputbar"),
    input: byId("input"),
    send: byId("send"),
    speak: byId("speak"),
    toKeyboard: byId("to-keyboard"),
    toMenu: byId("to-menu"),
    scanModal: byId("scan-modal"),
    scanForm: byId("scan-form"),
    scene: byId("scene"),
    scanCancel: byId("scan-cancel"),
    scanActivity: byId("scan-activity"),
    checkinModal: byId("checkin-modal"),
    checkinForm: byId("checkin-form"),
    checkinActivity: byId("checkin-activity"),
    checkinHint: byId("checkin-hint"),
    checkinCancel: byId("checkin-cancel"),
    devUser: byId("dev-user"),
    devMode: byId("dev-mode"),
    devApi: byId("dev-api"),
    devMenu: byId("dev-menu"),
    devRequest: byId("dev-request"),
    devReply: byId("dev-reply"),
    devTiming: byId("dev-timing")
  };

  // ---- small helpers ------------------------------------------------------------------------

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function add(parent) {
    for (var i = 1; i < arguments.length; i++) {
      if (arguments[i]) parent.appendChild(arguments[i]);
    }
    return parent;
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function clock(seconds) {
    var d = new Date(seconds * 1000);
    return pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function day(seconds) {
    var d = new Date(seconds * 1000);
    return (d.getMonth() + 1) + "月" + d.getDate() + "日";
  }

  function randomId(length) {
    var chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    var bytes = new Uint8Array(length);
    crypto.getRandomValues(bytes);
    var out = "";
    for (var i = 0; i < length; i++) out += chars[bytes[i] % chars.length];
    return out;
  }

  function isWebUrl(value) { return typeof value === "string" && /^https?:\/\//i.test(value); }

  function fetchJson(url, options) {
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error(data.error || "HTTP " + response.status);
        return data;
      });
    });
  }

  // ---- simulated users: 用户A and 用户B from the server, new ones kept in this browser --------

  function loadSaved() {
    try {
      var saved = JSON.parse(localStorage.getItem(STORE_KEY) || "{}");
      var extra = Array.isArray(saved.extra) ? saved.extra : [];
      return {
        current: typeof saved.current === "string" ? saved.current : "",
        extra: extra.filter(function (u) {
          var openid = u && typeof u.openid === "string" ? u.openid : "";
          return typeof u.name === "string" && OPENID.test(openid) && openid.indexOf(cfg.openid_prefix) === 0;
        })
      };
    } catch (e) {
      return { current: "", extra: [] };
    }
  }

  var saved = loadSaved();
  var state = {
    extra: saved.extra,
    user: null,
    chat: null,
    queue: Promise.resolve(),
    openButton: null
  };

  function allUsers() { return cfg.users.concat(state.extra); }

  function save() {
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify({ current: state.user.openid, extra: state.extra }));
    } catch (e) { /* private mode: the choice is simply not remembered */ }
  }

  function renderUsers() {
    el.users.replaceChildren();
    allUsers().forEach(function (user) {
      var tab = make("button", "sim-user", user.name);
      tab.type = "button";
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-selected", String(user === state.user));
      tab.title = "openid: " + user.openid;
      tab.addEventListener("click", function () { if (user !== state.user) switchUser(user); });
      el.users.appendChild(tab);
    });
    var plus = make("button", "sim-user add", "＋新用户");
    plus.type = "button";
    plus.title = "以一个从未关注过的新用户身份进入";
    plus.addEventListener("click", addUser);
    el.users.appendChild(plus);
  }

  function addUser() {
    var names = allUsers().map(function (u) { return u.name; });
    var n = 1;
    while (names.indexOf("新用户" + n) >= 0) n++;
    var user = { name: "新用户" + n, openid: cfg.openid_prefix + "new-" + randomId(16), avatar: "新" };
    state.extra.push(user);
    if (state.extra.length > MAX_NEW_USERS) state.extra.shift();
    switchUser(user);
  }

  function switchUser(user) {
    state.user = user;
    save();
    renderUsers();
    el.devUser.textContent = user.name + "（openid " + user.openid + "）";
    el.devRequest.textContent = "（尚未发送消息）";
    el.devReply.textContent = "（无）";
    el.devTiming.textContent = "";
    closeSubmenu();
    startChat();
  }

  // ---- the chat: load, poll, show -------------------------------------------------------------

  function startChat() {
    if (state.chat) clearTimeout(state.chat.timer);
    state.chat = {
      openid: state.user.openid,
      seen: new Set(),
      pending: {},
      history: 0,
      api: 0,
      subscribed: false,
      loaded: false,
      timer: null
    };
    el.messages.replaceChildren(make("div", "wx-empty", "还没有消息。点击「关注」开始，或使用底部菜单。"));
    updateFollow();
    poll(state.chat);
  }

  function poll(chat) {
    var query = new URLSearchParams({ openid: chat.openid, history: chat.history, api: chat.api });
    fetchJson(cfg.urls.chat + "?" + query.toString())
      .then(function (data) {
        if (chat !== state.chat) return;
        if (data.reset && chat.loaded) { startChat(); return; }
        chat.loaded = true;
        data.items.forEach(function (item) { show(chat, item); });
        chat.history = data.cursor.history;
        chat.api = data.cursor.api;
        setApiStatus(data.api_status);
        setStatus("");
      })
      .catch(function () {
        if (chat === state.chat) setStatus("与模拟器服务器的连接中断，正在重试…");
      })
      .then(function () {
        if (chat !== state.chat) return;
        clearTimeout(chat.timer);
        chat.timer = setTimeout(function () { poll(chat); }, cfg.poll_ms);
      });
  }

  function show(chat, item) {
    if (item.id && chat.seen.has(item.id)) return;
    if (item.id) chat.seen.add(item.id);
    if (item.event === "subscribe") chat.subscribed = true;
    if (item.event === "unsubscribe") chat.subscribed = false;
    updateFollow();
    var pending = item.cid ? chat.pending[item.cid] : null;
    if (pending) {
      // The bubble drawn when the user pressed 发送 is this entry: keep it.
      delete chat.pending[item.cid];
      pending.classList.remove("pending");
      pending.dataset.id = item.id;
      return;
    }
    appendRow(renderItem(item));
  }

  function appendRow(row) {
    var empty = el.messages.querySelector(".wx-empty");
    if (empty) empty.remove();
    el.messages.appendChild(row);
    el.messages.scrollTop = el.messages.scrollHeight;
  }

  function renderItem(item) {
    if (item.side === "system") {
      var note = make("div", "row system");
      if (item.id) note.dataset.id = item.id;
      var text = make("span", "note", item.content);
      add(text, make("span", "time", clock(item.time)), item.ms !== undefined ? make("span", "time", item.ms + " ms") : null);
      note.appendChild(text);
      return note;
    }
    var mine = item.side === "user";
    var row = make("div", "row " + (mine ? "user" : "account") + " kind-" + item.type);
    if (item.id) row.dataset.id = item.id;
    var avatar = make("div", "avatar", mine ? state.user.avatar : (cfg.account_name || "公").charAt(0));
    var body = make("div", "body");
    body.appendChild(mine ? userContent(item) : accountContent(item));
    var meta = make("div", "meta", clock(item.time));
    if (item.ms !== undefined) add(meta, make("span", "ms", "· 回复耗时 " + item.ms + " ms"));
    if (item.source === "api") add(meta, make("span", "ms", "· 接口发送"));
    body.appendChild(meta);
    if (item.type === "news" || item.type === "template") body.classList.add("wide");
    return add(row, avatar, body);
  }

  function userContent(item) {
    var bubble = make("div", "bubble");
    if (item.type === "voice") {
      // A voice message: WeChat shows the recognised text under it.
      add(bubble, make("span", "voice-mark", "🎤 语音"), make("span", "voice-text", item.content || ""));
      return bubble;
    }
    richText(bubble, item.content || "", URL_ONLY);
    return bubble;
  }

  function accountContent(item) {
    switch (item.type) {
      case "text":
        var bubble = make("div", "bubble");
        richText(bubble, item.content || "", ANCHOR_OR_URL);
        return bubble;
      case "news":
        return newsCard(item.articles || []);
      case "template":
        return templateCard(item);
      case "image":
        var image = make("div", "image-reply");
        return add(image, add(placeholder("[图片]"), make("small", "", item.media_id || "")));
      case "media":
        return make("div", "bubble", { voice: "[语音]", video: "[视频]", music: "[音乐]" }[item.media] || "[媒体消息]");
      default:
        return make("div", "bubble", "[暂不支持的消息类型：" + (item.content || item.type) + "]");
    }
  }

  function richText(node, text, pattern) {
    var re = new RegExp(pattern.source, pattern.flags);
    var last = 0;
    var match;
    while ((match = re.exec(text)) !== null) {
      var url = match.groups.url;
      if (url) {
        // Sentence punctuation after an address is not part of it.
        var trail = /[.,;:!?)\]]+$/.exec(url);
        if (trail) {
          url = url.slice(0, -trail[0].length);
          re.lastIndex -= trail[0].length;
        }
      }
      node.appendChild(document.createTextNode(text.slice(last, match.index)));
      node.appendChild(url ? link(url, url) : link(match.groups.href, match.groups.label.replace(/<[^>]*>/g, "")));
      last = re.lastIndex;
    }
    node.appendChild(document.createTextNode(text.slice(last)));
  }

  function link(href, label) {
    if (isWebUrl(href)) {
      var a = make("a", "", label);
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      return a;
    }
    // weixin://bizmsgmenu?msgmenucontent=是&msgmenuid=1: a tap sends that text.
    var menu = /^weixin:\/\/bizmsgmenu\?(.*)$/i.exec(href);
    if (menu) {
      var content = new URLSearchParams(menu[1]).get("msgmenucontent") || label;
      var choice = make("a", "", label);
      choice.href = "#";
      choice.addEventListener("click", function (event) { event.preventDefault(); sendText(content); });
      return choice;
    }
    return document.createTextNode(label);
  }

  function linked(tag, className, url) {
    var node = make(isWebUrl(url) ? "a" : tag, className);
    if (isWebUrl(url)) {
      node.href = url;
      node.target = "_blank";
      node.rel = "noopener noreferrer";
    }
    return node;
  }

  function placeholder(label) { return make("div", "pic-placeholder", label); }

  function picture(url) {
    var box = make("div", "news-pic");
    if (!isWebUrl(url)) return add(box, placeholder("无图片"));
    var img = document.createElement("img");
    img.alt = "";
    img.referrerPolicy = "no-referrer";
    img.addEventListener("error", function () { box.replaceChildren(placeholder("图片")); });
    img.src = url;
    return add(box, img);
  }

  function newsCard(articles) {
    if (articles.length <= 1) {
      var only = articles[0] || { title: "" };
      var single = linked("div", "card news news-single", only.url);
      return add(single, make("div", "news-title", only.title), picture(only.picurl),
        only.description ? make("div", "news-desc", only.description) : null);
    }
    var card = make("div", "card news news-multi");
    var first = articles[0];
    card.appendChild(add(linked("div", "news-cover", first.url), picture(first.picurl), make("div", "news-title", first.title)));
    articles.slice(1).forEach(function (article) {
      card.appendChild(add(linked("div", "news-item", article.url), make("div", "news-title", article.title), picture(article.picurl)));
    });
    return card;
  }

  function templateCard(item) {
    var card = make("div", "card template");
    add(card, make("div", "tpl-title", item.title), make("div", "tpl-date", day(item.time)));
    var lines = make("dl", "tpl-lines");
    (item.lines || []).forEach(function (line) {
      if (!line.label) { lines.appendChild(make("div", "tpl-line", line.value)); return; }
      lines.appendChild(add(make("div", "tpl-line"), make("dt", "", line.label), make("dd", "", line.value)));
    });
    card.appendChild(lines);
    if (isWebUrl(item.url)) {
      card.appendChild(add(linked("div", "tpl-detail", item.url), make("span", "", "详情"), make("span", "chevron", "›")));
    }
    return card;
  }

  // ---- sending ----------------------------------------------------------------------------------

  // One message at a time, in order, as WeChat delivers them.
  function enqueue(payload, pendingRow) {
    var chat = state.chat;
    payload.openid = chat.openid;
    state.queue = state.queue.then(function () {
      return fetchJson(cfg.urls.send, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(payload)
      }).then(function (data) {
        if (chat !== state.chat) return;
        showExchange(data.exchange);
        data.items.forEach(function (item) { show(chat, item); });
      }).catch(function (error) {
        if (pendingRow) {
          pendingRow.classList.remove("pending");
          pendingRow.classList.add("failed");
        }
        if (chat === state.chat) {
          appendRow(renderItem({ side: "system", type: "note", content: "发送失败：" + error.message, time: Date.now() / 1000 }));
        }
      });
    });
    return state.queue;
  }

  function sendText(text) {
    if (!text.trim()) return;
    var cid = randomId(16);
    var row = renderItem({ side: "user", type: "text", content: text, time: Date.now() / 1000 });
    row.classList.add("pending");
    state.chat.pending[cid] = row;
    appendRow(row);
    enqueue({ type: "text", content: text, cid: cid }, row);
  }

  // The input's text, spoken: a voice message with WeChat's speech recognition.
  function sendVoice(text) {
    if (!text.trim()) return;
    var cid = randomId(16);
    var row = renderItem({ side: "user", type: "voice", content: text, time: Date.now() / 1000 });
    row.classList.add("pending");
    state.chat.pending[cid] = row;
    appendRow(row);
    enqueue({ type: "voice", content: text, cid: cid }, row);
  }

  function updateFollow() {
    var following = state.chat && state.chat.subscribed;
    el.follow.textContent = following ? "取消关注" : "关注";
    el.follow.classList.toggle("following", Boolean(following));
  }

  // ---- the bottom menu ----------------------------------------------------------------------

  function renderMenu() {
    var buttons = (cfg.menu || []).slice(0, 3);
    if (!buttons.length) {
      el.menubar.hidden = true;
      el.toMenu.hidden = true;
      setMode("keyboard");
      return;
    }
    buttons.forEach(function (button) {
      var node = make("button", "wx-menu-button");
      node.type = "button";
      var subs = Array.isArray(button.sub_button) ? button.sub_button : [];
      if (subs.length) {
        var icon = make("span", "icon", "≡");
        icon.setAttribute("aria-hidden", "true");
        add(node, icon, document.createTextNode(button.name));
        node.setAttribute("aria-haspopup", "menu");
        node.addEventListener("click", function () { toggleSubmenu(node, subs); });
      } else {
        node.textContent = button.name;
        node.addEventListener("click", function () { closeSubmenu(); act(button); });
      }
      el.menuButtons.appendChild(node);
    });
  }

  function toggleSubmenu(node, subs) {
    if (state.openButton === node) { closeSubmenu(); return; }
    closeSubmenu();
    subs.forEach(function (sub) {
      var item = make("button", "", sub.name);
      item.type = "button";
      item.addEventListener("click", function () { closeSubmenu(); act(sub); });
      el.submenu.appendChild(item);
    });
    el.submenu.hidden = false;
    var phone = el.phone.getBoundingClientRect();
    var rect = node.getBoundingClientRect();
    var inner = el.phone.clientWidth;
    var width = Math.max(rect.width - 10, 110);
    var left = rect.left - phone.left - el.phone.clientLeft + rect.width / 2 - width / 2;
    left = Math.min(Math.max(left, 6), inner - width - 6);
    el.submenu.style.width = width + "px";
    el.submenu.style.left = left + "px";
    node.classList.add("open");
    state.openButton = node;
  }

  function closeSubmenu() {
    el.submenu.hidden = true;
    el.submenu.replaceChildren();
    if (state.openButton) state.openButton.classList.remove("open");
    state.openButton = null;
  }

  function act(button) {
    if (button.type === "click") {
      enqueue({ type: "click", key: button.key });
    } else if (button.type === "view") {
      if (isWebUrl(button.url)) window.open(button.url, "_blank", "noopener");
      enqueue({ type: "view", url: button.url });
    } else {
      appendRow(renderItem({
        side: "system",
        type: "note",
        content: "模拟器暂不支持「" + button.type + "」类型的菜单按钮",
        time: Date.now() / 1000
      }));
    }
  }

  function setMode(mode) {
    var keyboard = mode === "keyboard";
    el.menubar.hidden = keyboard || !(cfg.menu || []).length;
    el.inputbar.hidden = !keyboard;
    closeSubmenu();
    if (keyboard) el.input.focus();
  }

  // ---- status and the developer panel -------------------------------------------------------

  function setStatus(text) {
    el.status.textContent = text;
    el.status.hidden = !text;
  }

  function setApiStatus(status) {
    var ok = status === "ok";
    el.devApi.textContent = ok ? "已连接模拟的微信接口，客服消息与模板消息会显示在聊天中" : "无法读取（未连接模拟的微信接口）";
    el.devApi.className = ok ? "good" : "bad";
  }

  function readableXml(xml) { return (xml || "").replace(/(<\/\w+>)(?=<)/g, "$1\n"); }

  function showExchange(exchange) {
    if (!exchange) return;
    var request = "POST " + exchange.url + "\n\n" + readableXml(exchange.request_xml);
    if (exchange.mode === "safe") request += "\n\n— 实际发送的加密报文 —\n" + exchange.request_body;
    el.devRequest.textContent = request;
    var reply = "HTTP " + exchange.status + "\n\n";
    if (exchange.reply_xml) {
      reply += readableXml(exchange.reply_xml);
      if (exchange.reply_body.trim() !== exchange.reply_xml.trim()) reply += "\n\n— 加密的原始回复 —\n" + exchange.reply_body;
    } else {
      reply += exchange.reply_body ? exchange.reply_body + "（微信不显示任何内容）" : "（空回复，微信不显示任何内容）";
    }
    el.devReply.textContent = reply;
    el.devTiming.textContent = exchange.ms + " ms";
  }

  function renderDevFacts() {
    el.devMode.textContent = cfg.mode === "safe" ? "安全模式（AES 加密）" : "明文模式";
    var problems = cfg.menu_problems || [];
    if (problems.length) {
      el.devMenu.className = "bad";
      el.devMenu.textContent = problems.join("\n");
    } else {
      el.devMenu.className = "good";
      el.devMenu.textContent = "menus.json 符合微信规则，每个按钮都有处理程序";
    }
  }

  // ---- wiring -------------------------------------------------------------------------------

  el.toKeyboard.addEventListener("click", function () { setMode("keyboard"); });
  el.toMenu.addEventListener("click", function () { setMode("menu"); });
  el.input.maxLength = cfg.max_text;
  el.inputbar.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = el.input.value;
    if (!text.trim()) return;
    el.input.value = "";
    sendText(text);
  });
  el.speak.addEventListener("click", function () {
    var text = el.input.value;
    if (!text.trim()) { el.input.focus(); return; }
    el.input.value = "";
    sendVoice(text);
  });
  el.follow.addEventListener("click", function () {
    enqueue({ type: state.chat.subscribed ? "unsubscribe" : "subscribe" });
  });
  el.scan.addEventListener("click", function () {
    el.scanModal.hidden = false;
    el.scene.value = "";
    el.scene.focus();
  });
  el.scanCancel.addEventListener("click", function () { el.scanModal.hidden = true; });
  el.scanForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var scene = el.scene.value.trim();
    if (!scene) return;
    el.scanModal.hidden = true;
    enqueue({ type: "scan", scene: scene });
  });
  // 扫描活动签到码: pick an activity whose printed codes exist, then 签到 or 签退.
  var checkinScenes = {};
  el.scanActivity.addEventListener("click", function () {
    el.checkinActivity.innerHTML = "";
    checkinScenes = {};
    el.checkinModal.hidden = false;
    fetch(cfg.urls.checkin_codes, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var found = data.activities || [];
        found.forEach(function (a) {
          var option = document.createElement("option");
          option.value = String(a.activity_id);
          option.textContent = "[" + a.activity_id + "] " + a.title + "（" + a.starts_at + "）";
          el.checkinActivity.appendChild(option);
          checkinScenes[String(a.activity_id)] = { "in": a["in"], "out": a["out"] };
        });
        el.checkinHint.textContent = found.length
          ? "已关注时发送 SCAN 事件；未关注时先关注，发送带 qrscene_ 前缀的 subscribe 事件。"
          : "暂无可扫描的签到码：请先在工作台「活动 → 签到与时长」或公众号「签到码 活动编号」生成。";
      })
      .catch(function () { el.checkinHint.textContent = "读取活动失败，请稍后重试。"; });
  });
  el.checkinCancel.addEventListener("click", function () { el.checkinModal.hidden = true; });
  el.checkinForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var scenes = checkinScenes[el.checkinActivity.value];
    if (!scenes) return;
    var kind = el.checkinForm.querySelector("input[name=checkin-kind]:checked").value;
    el.checkinModal.hidden = true;
    enqueue({ type: "scan", scene: scenes[kind] });
  });
  document.addEventListener("click", function (event) {
    if (!state.openButton) return;
    if (el.submenu.contains(event.target) || state.openButton.contains(event.target)) return;
    closeSubmenu();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      closeSubmenu();
      el.scanModal.hidden = true;
      el.checkinModal.hidden = true;
    }
  });

  renderMenu();
  renderDevFacts();
  var users = allUsers();
  switchUser(users.filter(function (u) { return u.openid === saved.current; })[0] || users[0]);
})();
