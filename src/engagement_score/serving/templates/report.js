// Engagement report: the advocate tab, search and CSV export over the embedded columnar data.
// Everything shown at load is static HTML; this script only ever builds one advocate's panel, a
// few search suggestions, or a CSV string, so it stays quick with 100,000 advocates.
(function () {
  "use strict";
  var started = performance.now();
  var D = JSON.parse(document.getElementById("report-data").textContent);
  var HDAYS = D.history_days;

  function $(sel) { return document.querySelector(sel); }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function label(name) {
    var t = String(name).replace(/_/g, " ");
    return t.charAt(0).toUpperCase() + t.slice(1);
  }
  function reasonHtml(r) {
    var m = /^([+\-\u2212]?)(\d+(?:\.\d+)?\s*pts?)(:?)/.exec(r);
    if (!m) return esc(r);
    var kind = m[1] === "-" || m[1] === "\u2212" ? "neg" : "pos";
    return '<span class="pts ' + kind + '">' + esc(m[0]) + "</span>" + esc(r.slice(m[0].length));
  }
  function fmtTrend(t) {
    if (t === null || t === undefined) return "new";
    return t > 0 ? "+" + t : (t === 0 ? "0" : "\u2212" + (-t));
  }

  // ------------------------------------------------------------------ lookup (ids are sorted)
  function lowerBound(id) {
    var lo = 0, hi = D.n;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (D.id[mid] < id) lo = mid + 1; else hi = mid;
    }
    return lo;
  }
  function indexOf(id) {
    var i = lowerBound(id);
    return i < D.n && D.id[i] === id ? i : -1;
  }
  function history(i) {
    var out = [], base = i * HDAYS * 2;
    for (var d = 0; d < HDAYS; d++) {
      var v = parseInt(D.history.substr(base + 2 * d, 2), 16);
      out.push(v === 255 ? null : v);
    }
    return out;
  }
  function weekly(i, source) {
    var w = D.weeks, arr = D.weekly[source];
    return arr.slice(i * w, (i + 1) * w); // oldest week first
  }

  // ------------------------------------------------------------------ tabs and routing
  function showTab(name) {
    document.querySelectorAll("#tabs button").forEach(function (b) {
      b.setAttribute("aria-selected", b.dataset.tab === name ? "true" : "false");
    });
    document.querySelectorAll(".tab").forEach(function (t) {
      t.hidden = t.id !== "tab-" + name;
    });
  }
  function route() {
    var h = decodeURIComponent(location.hash.replace(/^#/, ""));
    if (h.indexOf("advocate=") === 0) {
      var id = h.slice(9);
      showTab("advocate");
      $("#advocate-search").value = id;
      openAdvocate(id);
    } else if (h.indexOf("tab=") === 0) {
      showTab(h.slice(4));
    }
  }
  document.querySelectorAll("#tabs button").forEach(function (b) {
    b.addEventListener("click", function () {
      history_replace("tab=" + b.dataset.tab);
      showTab(b.dataset.tab);
    });
  });
  function history_replace(hash) {
    try { window.history.replaceState(null, "", "#" + hash); } catch (e) { /* file:// quirks */ }
  }
  window.addEventListener("hashchange", route);
  document.addEventListener("click", function (ev) {
    var row = ev.target.closest("tr[data-advocate]");
    if (row && !ev.target.closest("a")) location.hash = "advocate=" + row.dataset.advocate;
  });

  // ------------------------------------------------------------------ advocate panel
  function trendSvg(h, tierNow) {
    var w = 520, ht = 190, pl = 34, pr = 10, pt = 10, pb = 26;
    var sx = function (d) { return pl + (w - pl - pr) * d / (HDAYS - 1); };
    var sy = function (v) { return pt + (ht - pt - pb) * (1 - v / 100); };
    var out = ['<svg id="advocate-trend" viewBox="0 0 ' + w + " " + ht + '" role="img" ' +
      'aria-label="Score over the last 30 days">'];
    // tier bands behind the line, highest first, labelled on top of the grid
    var labels = [];
    D.tier_floors.forEach(function (floor, k) {
      var ceil = k === 0 ? 100 : D.tier_floors[k - 1];
      out.push('<rect x="' + pl + '" width="' + (w - pl - pr) + '" y="' + sy(ceil).toFixed(1) +
        '" height="' + (sy(floor) - sy(ceil)).toFixed(1) + '" fill="' + D.tier_colours[k] +
        '" fill-opacity="0.09"/>');
      labels.push('<text x="' + (w - pr - 4) + '" y="' + (sy((ceil + floor) / 2) + 3.5).toFixed(1) +
        '" class="band-label" text-anchor="end">' + esc(label(D.tiers[k])) + "</text>");
    });
    [0, 25, 50, 75, 100].forEach(function (v) {
      out.push('<line x1="' + pl + '" x2="' + (w - pr) + '" y1="' + sy(v) + '" y2="' + sy(v) +
        '" class="grid"/><text x="' + (pl - 5) + '" y="' + (sy(v) + 4) +
        '" class="axis" text-anchor="end">' + v + "</text>");
    });
    out.push(labels.join(""));
    var pts = [], segs = [];
    h.forEach(function (v, d) {
      if (v === null) { if (pts.length) segs.push(pts); pts = []; return; }
      pts.push(sx(d).toFixed(1) + "," + sy(v).toFixed(1));
    });
    if (pts.length) segs.push(pts);
    var colour = D.tier_colours[tierNow] || "#2f5fd0";
    segs.forEach(function (s) {
      out.push('<polyline points="' + s.join(" ") + '" fill="none" stroke="' + colour +
        '" stroke-width="2.5" stroke-linejoin="round"/>');
    });
    var last = h[HDAYS - 1];
    if (last !== null) {
      out.push('<circle cx="' + sx(HDAYS - 1) + '" cy="' + sy(last) + '" r="4" fill="' + colour +
        '"/>');
    }
    out.push('<text x="' + sx(0) + '" y="' + (ht - 8) + '" class="axis">30 days ago</text>');
    out.push('<text x="' + sx(HDAYS - 1) + '" y="' + (ht - 8) +
      '" class="axis" text-anchor="end">today</text></svg>');
    return out.join("");
  }

  function activitySvg(i) {
    var w = 520, ht = 170, pl = 30, pb = 26, pt = 10, weeks = D.weeks, srcs = D.sources;
    var series = srcs.map(function (s) { return weekly(i, s); });
    var top = 1;
    series.forEach(function (s) { s.forEach(function (v) { if (v > top) top = v; }); });
    var group = (w - pl - 6) / weeks, bw = (group - 6) / srcs.length;
    var colours = { portal: "#3a6fd8", community: "#a34fc9" };
    var out = ['<svg id="advocate-activity-chart" viewBox="0 0 ' + w + " " + ht + '" role="img" ' +
      'aria-label="Weekly events by source">'];
    [0, 1].forEach(function (f) {
      var y = pt + (ht - pt - pb) * (1 - f);
      out.push('<line x1="' + pl + '" x2="' + (w - 6) + '" y1="' + y + '" y2="' + y +
        '" class="grid"/><text x="' + (pl - 5) + '" y="' + (y + 4) +
        '" class="axis" text-anchor="end">' + Math.round(top * f) + "</text>");
    });
    for (var k = 0; k < weeks; k++) {
      series.forEach(function (s, j) {
        var v = s[k], bh = (ht - pt - pb) * v / top;
        var x = pl + k * group + 3 + j * bw;
        out.push('<rect x="' + x.toFixed(1) + '" y="' + (ht - pb - bh).toFixed(1) + '" width="' +
          (bw - 1).toFixed(1) + '" height="' + bh.toFixed(1) + '" fill="' +
          (colours[srcs[j]] || "#888") + '" data-source="' + srcs[j] + '" data-week="' +
          (weeks - k) + '" data-count="' + v + '"><title>' + srcs[j] + ", " +
          (weeks - k === 1 ? "last week" : (weeks - k) + " weeks ago") + ": " + v +
          " events</title></rect>");
      });
      var lab = weeks - k === 1 ? "last wk" : "\u2212" + (weeks - k) + "w";
      out.push('<text x="' + (pl + k * group + group / 2).toFixed(1) + '" y="' + (ht - 8) +
        '" class="axis" text-anchor="middle">' + lab + "</text>");
    }
    out.push("</svg>");
    return out.join("");
  }

  function fact(name, title, value, extra) {
    return '<div><span>' + title + '</span><b data-field="' + name + '"' + (extra || "") + ">" +
      esc(value) + "</b></div>";
  }

  function openAdvocate(id) {
    var panel = $("#advocate-panel");
    var i = indexOf(id);
    if (i < 0) {
      panel.dataset.advocateId = "";
      panel.innerHTML = '<p class="muted" id="advocate-missing">No advocate with id <b>' +
        esc(id) + "</b> in this report.</p>";
      return;
    }
    var tier = D.tier[i], h = history(i), trend = D.trend[i];
    var tierName = tier >= 0 ? D.tiers[tier] : "?";
    var colour = D.tier_colours[tier] || "#888";
    var ago = h[0];
    var reasons = D.reasons[i].map(function (r) { return D.reason_vocab[r]; });
    var attrs = Object.keys(D.attributes).map(function (c) {
      var a = D.attributes[c], code = a.codes[i];
      return fact("attr-" + c, esc(c), code >= 0 ? a.values[code] : "\u2013");
    }).join("");
    var coverage = D.coverage[i] >= 0 ? D.coverage_names[D.coverage[i]] : "\u2013";
    var counts = D.sources.map(function (s) {
      return fact(s + "_30d", esc(s) + " events, last 30 days", D[s + "_30d"][i]);
    }).join("");
    var legend = D.sources.map(function (s) {
      return '<span><i style="background:' + ({ portal: "#3a6fd8", community: "#a34fc9" }[s] ||
        "#888") + '"></i>' + esc(s) + "</span>";
    }).join("");
    panel.dataset.advocateId = D.id[i];
    panel.innerHTML =
      '<div class="panel-head"><h2 data-field="advocate_id">' + esc(D.id[i]) + "</h2>" +
      '<span class="big" data-field="score">' + D.score[i] + "</span>" +
      '<span class="pill" data-field="tier" data-tier="' + esc(tierName) + '" style="background:' +
      colour + '">' + esc(label(tierName)) + "</span>" +
      (D.at_risk[i] ? '<span class="pill risk" data-field="at_risk" data-value="true">at risk</span>'
        : '<span data-field="at_risk" data-value="false" hidden></span>') + "</div>" +
      '<div class="facts">' +
      fact("probability", "chance engaged, next 30 days", Math.round(D.probability[i] * 100) + "%",
        ' data-value="' + D.probability[i] + '"') +
      fact("trend_30d", "change in 30 days", fmtTrend(trend),
        ' data-value="' + (trend === null ? "" : trend) + '"') +
      fact("score_30d_ago", "score 30 days ago", ago === null ? "\u2013" : ago) +
      fact("momentum", "momentum", D.momentum_names[D.momentum[i]] || "\u2013") +
      fact("coverage", "data seen", coverage) +
      fact("last_event", "last activity", D.last_event[i] || "none") + counts + attrs +
      "</div>" +
      '<div class="panel-grid"><div><h3>Score, last 30 days</h3>' + trendSvg(h, tier) +
      '<h3>Why this score</h3><ul class="plain" id="advocate-reasons">' +
      (reasons.length ? reasons.map(function (r) {
        return '<li data-field="reason" data-text="' + esc(r) + '">' + reasonHtml(r) + "</li>";
      }).join("") : '<li class="muted">No strong drivers: close to the program average.</li>') +
      "</ul></div>" +
      '<div id="advocate-activity"><h3>Recent activity by source, per week</h3>' +
      activitySvg(i) + '<div class="legend">' + legend + "</div>" +
      (coverage === "portal only" ? '<p class="muted">Community account not connected: ' +
        "community activity is unknown, not zero.</p>" : "") + "</div></div>";
  }

  // ------------------------------------------------------------------ search
  var search = $("#advocate-search"), sugg = $("#advocate-suggestions");
  function suggest() {
    var q = search.value.trim();
    sugg.innerHTML = "";
    if (!q) return;
    var i = lowerBound(q), items = [];
    for (var k = i; k < D.n && items.length < 8 && D.id[k].indexOf(q) === 0; k++) {
      items.push('<li data-id="' + esc(D.id[k]) + '">' + esc(D.id[k]) + "</li>");
    }
    sugg.innerHTML = items.join("") || '<li class="muted">no match</li>';
  }
  search.addEventListener("input", suggest);
  search.addEventListener("keydown", function (e) {
    if (e.key === "Enter") location.hash = "advocate=" + search.value.trim();
  });
  $("#advocate-go").addEventListener("click", function () {
    location.hash = "advocate=" + search.value.trim();
  });
  sugg.addEventListener("click", function (e) {
    var li = e.target.closest("li[data-id]");
    if (li) location.hash = "advocate=" + li.dataset.id;
  });

  // ------------------------------------------------------------------ segments and CSV
  function inSegment(seg, i) {
    var t = D.trend[i], m = D.momentum_names[D.momentum[i]];
    if (seg === "all") return true;
    if (seg === "at-risk") return D.at_risk[i] === 1;
    if (seg === "fallers") return m === "slipping" && t !== null && t < 0;
    if (seg === "rising") return m === "gaining" && t !== null && t > 0;
    if (seg === "champions") return D.tier[i] === 0;
    if (seg.indexOf("tier:") === 0) return D.tiers[D.tier[i]] === seg.slice(5);
    return false;
  }
  function selectRows(seg, attr, value) {
    var rows = [], a = attr ? D.attributes[attr] : null, code = -2;
    if (a && value !== "") code = a.values.indexOf(value);
    for (var i = 0; i < D.n; i++) {
      if (!inSegment(seg, i)) continue;
      if (a && code !== -2 && a.codes[i] !== code) continue;
      rows.push(i);
    }
    return rows;
  }
  function csvCell(v) {
    if (v === null || v === undefined) return "";
    var s = String(v);
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  function toCsv(rows) {
    var attrs = Object.keys(D.attributes);
    var head = ["advocate_id", "score", "probability", "tier", "trend_30d", "momentum", "at_risk",
      "coverage", "last_event"].concat(attrs, ["reason_1", "reason_2", "reason_3"]);
    var lines = [head.join(",")];
    rows.forEach(function (i) {
      var r = D.reasons[i];
      var rec = [D.id[i], D.score[i], D.probability[i], D.tiers[D.tier[i]], D.trend[i],
        D.momentum_names[D.momentum[i]], D.at_risk[i] ? "true" : "false",
        D.coverage[i] >= 0 ? D.coverage_names[D.coverage[i]] : "", D.last_event[i]];
      attrs.forEach(function (c) {
        var a = D.attributes[c];
        rec.push(a.codes[i] >= 0 ? a.values[a.codes[i]] : "");
      });
      for (var k = 0; k < 3; k++) rec.push(r[k] === undefined ? "" : D.reason_vocab[r[k]]);
      lines.push(rec.map(csvCell).join(","));
    });
    return lines.join("\r\n") + "\r\n";
  }
  function download(name, text) {
    var blob = new Blob(["\ufeff" + text], { type: "text/csv;charset=utf-8" });
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }
  function exportSegment(seg, attr, value) {
    var rows = selectRows(seg, attr, value);
    var name = "segment-" + seg.replace(/[^a-z0-9_-]+/gi, "-") +
      (attr && value ? "-" + attr + "-" + value : "") + "-" + D.as_of + ".csv";
    download(name.replace(/[^A-Za-z0-9_.-]+/g, "-"), toCsv(rows));
    return rows.length;
  }
  window.engagementReport = { data: D, selectRows: selectRows, toCsv: toCsv, open: openAdvocate };

  var segSel = $("#segment-select"), attrSel = $("#segment-attribute"), valSel = $("#segment-value");
  function updateCount() {
    var rows = selectRows(segSel.value, attrSel.value, valSel.value);
    var out = $("#segment-count");
    out.dataset.count = rows.length;
    out.textContent = rows.length.toLocaleString("en") + " advocates in this segment" +
      (rows.length > 10 ? "; the first 10 below." : ".");
    var body = rows.slice(0, 10).map(function (i) {
      var t = D.tier[i];
      return '<tr data-advocate="' + esc(D.id[i]) + '"><td class="id"><a href="#advocate=' +
        encodeURIComponent(D.id[i]) + '">' + esc(D.id[i]) + '</a></td><td class="num score">' +
        D.score[i] + '</td><td><i class="dot" style="background:' + D.tier_colours[t] + '"></i>' +
        esc(label(D.tiers[t])) + '</td><td class="num">' + fmtTrend(D.trend[i]) + "</td>" +
        '<td class="reasons">' + (D.reasons[i].length ? reasonHtml(D.reason_vocab[D.reasons[i][0]])
          : "") + "</td></tr>";
    }).join("");
    $("#segment-preview").innerHTML = rows.length ? '<thead><tr><th>advocate</th>' +
      '<th class="num">score</th><th>tier</th><th class="num">change</th><th>top reason</th>' +
      "</tr></thead><tbody>" + body + "</tbody>" : "";
  }
  attrSel.addEventListener("change", function () {
    var a = D.attributes[attrSel.value];
    valSel.innerHTML = '<option value="">(any)</option>' + (a ? a.values.map(function (v) {
      return '<option value="' + esc(v) + '">' + esc(v) + "</option>";
    }).join("") : "");
    valSel.disabled = !a;
    updateCount();
  });
  segSel.addEventListener("change", updateCount);
  valSel.addEventListener("change", updateCount);
  $("#segment-download").addEventListener("click", function () {
    exportSegment(segSel.value, attrSel.value, valSel.value);
  });
  document.querySelectorAll("button.export").forEach(function (b) {
    b.addEventListener("click", function () { exportSegment(b.dataset.segment, "", ""); });
  });

  updateCount();
  route();
  // how long the script took, and when the page was ready (ms since navigation started)
  document.documentElement.dataset.scriptMs = Math.round(performance.now() - started);
  document.documentElement.dataset.readyMs = Math.round(performance.now());
})();
