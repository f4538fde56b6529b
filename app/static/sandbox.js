// The sandbox chat: renders what the bot really sent, and turns typing and tapping into the
// webhooks Meta would send (the server builds and signs them). Polls for new messages, and
// redraws only the messages that changed.
let phone = null;
const $ = (s) => document.querySelector(s);

function post(url, body) {
  return fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})
    .then((r) => r.json());
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function tapButton(label, id, kind, context) {
  const b = el("button", "", label);
  b.addEventListener("click", () => post("/sandbox/api/tap", {phone, id, title: label, kind, context}).then(refresh));
  return b;
}

function renderBot(m) {
  const bubble = el("div", "bubble bot");
  const p = m.payload;
  if (p.type === "text") bubble.append(el("span", "", p.text.body));
  if (p.type === "interactive") {
    bubble.append(el("span", "", p.interactive.body.text));
    const choices = el("div", "choices");
    if (p.interactive.type === "button") {
      for (const b of p.interactive.action.buttons) choices.append(tapButton(b.reply.title, b.reply.id, "button_reply", m.id));
    } else if (p.interactive.type === "flow") {  // a WhatsApp Flow: here, its one field, a date
      const day = el("input", "flow-date");
      day.type = "date";
      const send = el("button", "", p.interactive.action.parameters.flow_cta);
      send.addEventListener("click", () => day.value && post("/sandbox/api/form", {phone, context: m.id,
        answers: {date: day.value, flow_token: p.interactive.action.parameters.flow_token}}).then(refresh));
      choices.append(day, send);
    } else {
      const rows = el("div", "choices rows");
      const open = el("button", "", "☰ " + p.interactive.action.button);
      open.addEventListener("click", () => rows.classList.toggle("open"));
      for (const s of p.interactive.action.sections) for (const r of s.rows) rows.append(tapButton(r.title, r.id, "list_reply", m.id));
      choices.append(open, rows);
    }
    bubble.append(choices);
  }
  if (p.type === "template") {  // shown as the templates file registers it, in the language it was sent in
    bubble.append(el("span", "template", "template " + p.template.name + " (" + p.template.language.code + ")"));
    const shown = m.shown || {body: "", buttons: []};
    bubble.append(el("span", "", shown.body));
    const choices = el("div", "choices");
    for (const b of shown.buttons) choices.append(tapButton(b.title, b.id, "quick_reply", m.id));
    bubble.append(choices);
  }
  bubble.append(el("span", "meta", statusText(m)));
  return bubble;
}

// The bubbles on screen, by message id, with what each was drawn from: a refresh redraws only a
// message that changed (its status, say), so an open list menu stays open while the chat updates.
let drawn = new Map();

const TICKS = {sent: "✓", delivered: "✓✓", read: "✓✓ read", failed: "failed"};

function clock(at) {  // the time a message was sent, as the phone shows it (its own time zone)
  return new Date(at * 1000).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", hour12: false});
}

function statusText(m) {
  return m.from === "bot" ? clock(m.at) + " " + (TICKS[m.status] || m.status) : clock(m.at);
}

function drawMessage(m) {
  const signature = JSON.stringify({...m, status: undefined});  // a new status only changes the tick
  const known = drawn.get(m.id);
  if (known && known.signature === signature) {
    const meta = known.node.querySelector(".meta");
    if (meta && meta.textContent !== statusText(m)) meta.textContent = statusText(m);
    return known.node;
  }
  const node = m.from === "bot" ? renderBot(m) : el("div", "bubble person", m.text);
  if (m.from !== "bot") node.append(el("span", "meta", statusText(m)));
  node.dataset.id = m.id;
  drawn.set(m.id, {signature, node});
  return node;
}

function refresh() {
  if (!phone) return Promise.resolve();
  const asked = phone;
  return fetch("/sandbox/api/chat/" + phone).then((r) => r.json()).then((chat) => {
    if (asked !== phone) return;  // another person was chosen meanwhile
    const box = $("#messages");
    const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 20;
    const nodes = chat.messages.map(drawMessage);
    const kept = new Set(chat.messages.map((m) => m.id));
    for (const id of [...drawn.keys()]) if (!kept.has(id)) drawn.delete(id);
    nodes.forEach((node, i) => { if (box.children[i] !== node) box.insertBefore(node, box.children[i] || null); });
    while (box.children.length > nodes.length) box.lastChild.remove();
    if (atEnd) box.scrollTop = box.scrollHeight;
    if (chat.messages.some((m) => m.from === "bot" && m.status !== "read")) post("/sandbox/api/read/" + phone, {});
  });
}

function refreshGrid() {
  return fetch("/sandbox/api/tradinggrid").then((r) => r.json()).then((tg) => {
    $("#cases tbody").replaceChildren(...tg.cases.map((c) => {
      const tr = el("tr");
      tr.dataset.case = c.id;
      for (const v of [c.id, c.partner_id, c.reference, c.issue_type, c.expected_date || "", c.status]) tr.append(el("td", "", v));
      return tr;
    }));
    const audit = [];
    const from = (x) => (x.wa_message_id ? ` [WhatsApp ${x.wa_message_id}]` : "");
    for (const c of tg.audit.cases || []) if (c.source === "lens") audit.push([c.updated_at, `case ${c.id} opened from a failed transaction in Lens: ${c.summary}`]);
    for (const c of tg.audit.comments || []) audit.push([c.created_at, `comment on ${c.case_id} by ${c.author.name}: ${c.body}${from(c)}`]);
    for (const r of tg.audit.references || []) audit.push([r.created_at, `${r.kind} ${r.value} added to ${r.case_id}`]);
    for (const t of tg.audit.tasks || []) audit.push([t.created_at, `task ${t.id}: ${t.title}`]);
    for (const f of tg.audit.attachments || []) audit.push([f.created_at, `file ${f.filename} (${Math.round(f.size / 1024)} KB) ${f.case_id ? "on " + f.case_id : "as " + f.document_type} by ${f.author.name}${f.caption ? ": " + f.caption : ""}`]);
    for (const a of tg.audit.acknowledgments || []) audit.push([a.created_at, `${a.subject_type} ${a.subject_id} ${a.response} by ${a.responder.name} at ${a.responded_at}${from(a)}`]);
    audit.sort();
    $("#audit").replaceChildren(...audit.map(([at, text]) => el("li", "", at.slice(11, 19) + " " + text)));
  });
}

document.querySelectorAll(".person").forEach((b) => b.addEventListener("click", () => {
  document.querySelectorAll(".person").forEach((x) => x.classList.remove("active"));
  b.classList.add("active");
  phone = b.dataset.phone;
  drawn = new Map();
  $("#messages").replaceChildren();
  $("#chat-title").textContent = b.dataset.name + " (+" + phone + ")";
  $("#text").disabled = $("#send").disabled = $("#file").disabled = false;
  showTab("chat");
  refresh();
}));

// At phone width one panel shows at a time, behind tabs; picking a person opens the chat.
function showTab(name) {
  document.body.dataset.tab = name;
  document.querySelectorAll("#tabs button").forEach((t) => t.classList.toggle("active", t.dataset.tab === name));
}
document.querySelectorAll("#tabs button").forEach((t) => t.addEventListener("click", () => showTab(t.dataset.tab)));
showTab("people");

$("#compose").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("#text").value;
  if (!text.trim()) return;
  $("#text").value = "";
  post("/sandbox/api/say", {phone, text}).then(refresh);
});

// A file, as the person would attach one: the text box, if filled, is its caption.
$("#file").addEventListener("change", (e) => {
  const file = e.target.files[0];
  if (!file || !phone) return;
  const form = new FormData();
  form.append("phone", phone);
  form.append("file", file);
  form.append("caption", $("#text").value);
  $("#text").value = "";
  e.target.value = "";
  fetch("/sandbox/api/file", {method: "POST", body: form}).then((r) => r.json()).then(refresh);
});

// Why an event was not sent, in words: the sandbox's own refusal, or each field the webhook named.
function refusal(r) {
  if (r.error) return "Not sent: " + r.error;
  const answer = r.answer || {};
  const fields = (answer.errors || []).map((e) => (e.field ? e.field + " " : "") + e.message);
  return "The webhook refused it (" + r.status + "): " + (fields.join("; ") || answer.error || "no reason given");
}

$("#event-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const type = form.get("type");
  const fields = {partner_id: form.get("partner_id"), case_id: form.get("case_id")};
  if (type === "schedule.revised") fields.proposed_date = form.get("proposed_date");
  if (type === "case.assigned") { fields.assignee_id = form.get("assignee_id"); delete fields.partner_id; }
  if (type === "document.uploaded") fields.approver_id = form.get("assignee_id");
  post("/sandbox/api/event", {type, fields}).then((r) => {
    const result = $("#event-result");
    result.className = r.status === 202 ? "" : "refused";
    result.textContent = r.status === 202 ? "sent " + type + " (" + r.event.id + ")" : refusal(r);
    refresh(); refreshGrid();
  });
});

setInterval(() => { refresh(); refreshGrid(); }, 1000);
refreshGrid();
