// Draws one graph view with vis-network and shows a node's card on click.
// Data comes from the JSON block #qz-graph-data; text goes in through textContent only.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("qz-graph-data").textContent);
  var container = document.getElementById("qz-graph");
  var card = document.getElementById("qz-card");
  var nodes = new vis.DataSet(data.nodes);
  var edges = new vis.DataSet(data.edges);
  var network = new vis.Network(container, { nodes: nodes, edges: edges }, data.options);
  window.quanziNetwork = network;
  window.quanziNodes = nodes;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function hideCard() { card.hidden = true; delete card.dataset.nodeId; }

  // A card's "more" URL (same origin only) answers {fields, chips} that complete it.
  var completed = {};
  function completeCard(id, c) {
    var url = c.more;
    if (completed[id] || typeof url !== "string" || url.charAt(0) !== "/" || url.charAt(1) === "/") {
      return;
    }
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (more) {
        if (!more) { return; }
        completed[id] = more;
        if (card.dataset.nodeId === String(id)) { showCard(id); }
      })
      .catch(function () { /* the card keeps what it had */ });
  }

  function showCard(id) {
    var node = nodes.get(id);
    if (!node || !node.card) { hideCard(); return; }
    var more = completed[id];
    var c = Object.assign({}, node.card, more ? { fields: more.fields || node.card.fields, chips: more.chips || node.card.chips } : {});
    completeCard(id, node.card);
    card.replaceChildren();
    var close = el("button", "qz-card-close", "×");
    close.type = "button";
    close.setAttribute("aria-label", "Close");
    close.addEventListener("click", hideCard);
    card.appendChild(close);
    card.appendChild(el("h2", null, c.title));
    if (c.subtitle) { card.appendChild(el("p", "qz-card-sub", c.subtitle)); }
    if (c.fields && c.fields.length) {
      var dl = el("dl");
      c.fields.forEach(function (f) { dl.appendChild(el("dt", null, f[0])); dl.appendChild(el("dd", null, f[1])); });
      card.appendChild(dl);
    }
    if (c.reasons && c.reasons.length) {
      var ul = el("ul", "qz-reasons");
      c.reasons.forEach(function (r) { ul.appendChild(el("li", null, r)); });
      card.appendChild(ul);
    }
    if (c.chips && c.chips.length) {
      var chips = el("div", "qz-chips");
      c.chips.forEach(function (t) { chips.appendChild(el("span", "qz-chip", t)); });
      card.appendChild(chips);
    }
    if (c.link && typeof c.link.href === "string" && c.link.href.charAt(0) === "/" && c.link.href.charAt(1) !== "/") {
      var a = el("a", null, c.link.text + " →");
      a.href = c.link.href;
      a.target = "_top";
      card.appendChild(a);
    }
    card.dataset.nodeId = String(id);
    card.dataset.loaded = more ? "true" : "false";
    card.hidden = false;
  }

  network.on("click", function (p) { if (p.nodes.length) { showCard(p.nodes[0]); } else { hideCard(); } });
  network.on("doubleClick", function (p) {
    if (!p.nodes.length) { return; }
    var c = nodes.get(p.nodes[0]).card;
    if (c && c.link && c.link.href.charAt(0) === "/" && c.link.href.charAt(1) !== "/") { window.top.location.href = c.link.href; }
  });

  function ready() { document.body.dataset.ready = "true"; }
  var physics = data.options.physics;
  if (physics && physics.enabled !== false) {
    network.once("stabilizationIterationsDone", function () {
      network.setOptions({ physics: { enabled: false } });
      network.fit();
      ready();
    });
  } else {
    network.once("afterDrawing", ready);
  }
  window.quanziShowCard = showCard;
})();
