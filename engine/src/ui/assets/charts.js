/* Weir job page, part 2 of 4: SVG helpers and the line chart the Pregel and
   parameter-server views draw with. */
'use strict';

/* ------------------------------------------------------------------ svg helpers */

function niceStep(span, count) {
  var raw = Math.max(span, 1e-9) / Math.max(1, count);
  var mag = Math.pow(10, Math.floor(Math.log10(raw)));
  var norm = raw / mag;
  return (norm < 1.5 ? 1 : norm < 3.5 ? 2 : norm < 7.5 ? 5 : 10) * mag;
}

function ticks(min, max, count) {
  var step = niceStep(max - min, count);
  var out = [];
  for (var v = Math.ceil(min / step) * step; v <= max + step * 1e-6 && out.length < 60; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return { values: out, step: step };
}

function f2(v) { return (Math.round(v * 100) / 100).toString(); }

function svgLine(cls, x1, y1, x2, y2, extra) {
  return '<line class="' + cls + '" x1="' + f2(x1) + '" y1="' + f2(y1) + '" x2="' + f2(x2) +
         '" y2="' + f2(y2) + '"' + (extra || '') + '/>';
}

function svgText(cls, x, y, text, anchor) {
  return '<text class="' + cls + '" x="' + f2(x) + '" y="' + f2(y) + '"' +
         (anchor ? ' text-anchor="' + anchor + '"' : '') + '>' + esc(text) + '</text>';
}

/* A marker's label right of its line, or left of it near the right edge. */
function markerLabel(cls, x, y, text, right) {
  var nearEdge = x + 7 * text.length > right;
  return svgText(cls, nearEdge ? x - 3 : x + 3, y, text, nearEdge ? 'end' : null);
}

function svgRect(cls, x, y, w, h, fill, extra) {
  return '<rect class="' + cls + '" x="' + f2(x) + '" y="' + f2(y) + '" width="' + f2(Math.max(0, w)) +
         '" height="' + f2(h) + '"' + (fill ? ' fill="' + fill + '"' : '') + (extra || '') + '/>';
}

function svgOpen(id, cls, w, h) {
  return '<svg' + (id ? ' id="' + id + '"' : '') + ' class="chart ' + cls + '" viewBox="0 0 ' + w +
         ' ' + f2(h) + '" preserveAspectRatio="xMinYMin meet">';
}

function legendItem(keyHtml, label) {
  return '<span class="item">' + keyHtml + esc(label) + '</span>';
}

function keySpan(cls, style) {
  return '<span class="key ' + (cls || '') + '"' + (style ? ' style="' + style + '"' : '') + '></span>';
}

/* A line chart: o = {id, width, height, x: [lo, hi], y: [lo, hi], series: [{cls, color, label,
   points: [[x, y, title]]}], marks: [{x, cls, label, title}], xFmt, yFmt, xCount, xInt}. */
function lineChart(o) {
  var m = { l: 64, r: 16, t: 30, b: 30 };
  var W = o.width || 1200, H = o.height || 260;
  var px = function (x) { return m.l + (x - o.x[0]) / ((o.x[1] - o.x[0]) || 1) * (W - m.l - m.r); };
  var py = function (y) { return H - m.b - (y - o.y[0]) / ((o.y[1] - o.y[0]) || 1) * (H - m.t - m.b); };
  var out = svgOpen(o.id, 'line-chart', W, H) + chartAxes(o, m, W, H, px, py);
  (o.marks || []).forEach(function (mk, i) {
    out += '<g class="mark">' + svgLine(mk.cls, px(mk.x), m.t - 4, px(mk.x), H - m.b) +
           markerLabel('marker-label ' + mk.cls, px(mk.x), 10 + (i % 2) * 11, mk.label, W - m.r) +
           '<title>' + esc(mk.title || mk.label) + '</title></g>';
  });
  o.series.forEach(function (se) {
    var pts = se.points.map(function (p) { return f2(px(p[0])) + ',' + f2(py(p[1])); }).join(' ');
    out += '<g class="series-group ' + se.cls + '"><polyline class="series ' + se.cls + '" points="' +
           pts + '" stroke="' + se.color + '"/>';
    if (se.points.length <= 400) {
      se.points.forEach(function (p) {
        out += '<circle class="series-dot" cx="' + f2(px(p[0])) + '" cy="' + f2(py(p[1])) +
               '" r="3" fill="' + se.color + '"><title>' + esc(p[2] || '') + '</title></circle>';
      });
    }
    out += '</g>';
  });
  return out + '</svg>';
}

function chartAxes(o, m, W, H, px, py) {
  var out = '<g class="axis">';
  var yt = ticks(o.y[0], o.y[1], 5);
  yt.values.forEach(function (v) {
    out += svgLine('tick', m.l, py(v), W - m.r, py(v)) +
           svgText('tick-label', m.l - 6, py(v) + 3, o.yFmt(v, yt.step), 'end');
  });
  var xt = ticks(o.x[0], o.x[1], o.xCount || 10);
  if (o.xInt && xt.step < 1) xt = { values: xt.values.filter(Number.isInteger), step: 1 };
  xt.values.forEach(function (v) {
    out += svgLine('tick', px(v), m.t, px(v), H - m.b) +
           svgText('tick-label', px(v), H - m.b + 14, o.xFmt(v, xt.step), 'middle');
  });
  out += svgLine('axis-line', m.l, H - m.b, W - m.r, H - m.b, ' stroke="#9aa0a6"');
  out += svgLine('axis-line', m.l, m.t, m.l, H - m.b, ' stroke="#9aa0a6"');
  if (o.xTitle) out += svgText('tick-label', W - m.r, H - 4, o.xTitle, 'end');
  return out + '</g>';
}
