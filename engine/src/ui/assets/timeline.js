/* Weir job page, part 3 of 4: the task timeline, one row per worker slot and one bar per
   task attempt (shuffle read, compute, shuffle write), with lost workers, recomputations
   and rollbacks marked. */
'use strict';

/* ------------------------------------------------------------------ view: task timeline */

var TL = { W: 1200, L: 78, R: 1188, TOP: 46, RH: 14, PITCH: 18 };

function timelineRows(s) {
  var rows = new Map();
  var add = function (w, slot) {
    var key = w + ':' + slot;
    if (!rows.has(key)) rows.set(key, { key: key, worker: w, slot: slot });
  };
  s.workers.forEach(function (w) { for (var i = 0; i < w.slots; i++) add(w.id, i); });
  s.attempts.forEach(function (a) { add(a.worker, a.slot); });
  return Array.from(rows.values()).sort(function (a, b) {
    return a.worker - b.worker || a.slot - b.slot;
  });
}

function attemptsByRow(s) {
  var by = new Map();
  s.attempts.forEach(function (a) {
    var key = a.worker + ':' + a.slot;
    if (!by.has(key)) by.set(key, []);
    by.get(key).push(a);
  });
  return by;
}

function taskTitle(a, now) {
  var lines = ['stage ' + a.stage + ' · partition ' + a.partition + ' · task ' + a.task,
               'worker ' + a.worker + ' slot ' + a.slot + ' · attempt ' + a.attempt +
               (a.locality ? ' · ' + a.locality : '')];
  if (a.end == null) {
    lines.push('running for ' + fmtSecs(now - a.start) + ' (started t=' + a.start.toFixed(2) + ' s)');
    return lines.join('\n');
  }
  lines.push(fmtSecs(a.seconds) + ' (compute ' + fmtSecs(a.compute) + ', shuffle read ' +
             fmtSecs(a.readSecs) + ', shuffle write ' + fmtSecs(a.writeSecs) + ')');
  if (!a.lost) {
    lines.push('records ' + fmtCount(a.recordsIn) + ' in / ' + fmtCount(a.recordsOut) + ' out');
    lines.push('input ' + fmtBytes(a.bytesIn) + ' · shuffle read ' + fmtBytes(a.readBytes) +
               ' · shuffle write ' + fmtBytes(a.writeBytes) + ' · spill ' + fmtBytes(a.spill));
    lines.push('peak memory ' + fmtBytes(a.peakRss));
  }
  if (!a.ok) lines.push('failed: ' + (a.failure || ''));
  return lines.join('\n');
}

/* The escaped tooltip of an attempt; a finished attempt's is kept until the attempt changes. */
function attemptTitle(a, now) {
  if (a.end == null) return esc(taskTitle(a, now));
  if (!a.title) a.title = esc(taskTitle(a, now));
  return a.title;
}

function taskSegments(a, x0, w) {
  var parts = [['seg-shuffle-read', num(a.readSecs), 'read'], ['seg-compute', num(a.compute), 'compute'],
               ['seg-shuffle-write', num(a.writeSecs), 'write']];
  var sum = parts.reduce(function (t, p) { return t + p[1]; }, 0);
  if (!(sum > 0)) parts = [['seg-shuffle-read', 0, 'read'], ['seg-compute', 1, 'compute'],
                           ['seg-shuffle-write', 0, 'write']];
  sum = sum > 0 ? sum : 1;
  var x = x0, out = '';
  parts.forEach(function (p) {
    var pw = w * p[1] / sum;
    out += svgRect(p[0], x, 0, pw, TL.RH, stageColor(a.stage, p[2]));
    x += pw;
  });
  return out;
}

function taskBar(a, xOf, now) {
  var running = a.end == null;
  var x0 = xOf(a.start);
  var w = Math.max(1, xOf(running ? now : a.end) - x0);
  var cls = 'task-bar' + (a.ok === false ? ' failed' : '') + (a.attempt > 0 ? ' retry' : '') +
            (running ? ' running' : '');
  var body = running ? svgRect('seg-running', x0, 0, w, TL.RH, stageColor(a.stage))
                     : taskSegments(a, x0, w);
  if (a.ok === false) body += svgRect('fail-overlay', x0, 0, w, TL.RH, 'url(#fail-hatch)');
  return '<g class="' + cls + '" data-task="' + esc(a.task) + '" data-stage="' + esc(a.stage) +
    '" data-attempt="' + esc(a.attempt) + '"><title>' + attemptTitle(a, now) + '</title>' + body + '</g>';
}

function timelineRow(s, r, i, attempts, xOf, now) {
  var w = s.workers.get(r.worker);
  var gone = w && w.endT != null && w.state !== 'alive';
  var out = '<g class="timeline-row' + (gone ? ' lost' : '') + '" data-worker="' + esc(r.worker) +
    '" data-slot="' + esc(r.slot) + '" transform="translate(0,' + (TL.TOP + i * TL.PITCH) + ')">' +
    svgText('row-label', TL.L - 8, TL.RH - 3, 'w' + r.worker + ' · s' + r.slot, 'end') +
    svgRect('row-bg', TL.L, 0, TL.R - TL.L, TL.RH);
  if (gone) {
    out += '<g class="lost-shade-group"><title>worker ' + esc(r.worker) + ' ' + esc(w.state) +
      ' at t=' + w.endT.toFixed(2) + ' s</title>' +
      svgRect('lost-shade', xOf(w.endT), -2, TL.R - xOf(w.endT), TL.RH + 4) + '</g>';
  }
  return out + attempts.map(function (a) { return taskBar(a, xOf, now); }).join('') + '</g>';
}

function timelineAxis(tMax, xOf, H) {
  var t = ticks(0, tMax, 10);
  var out = '<g class="axis">';
  t.values.forEach(function (v) {
    out += svgLine('tick', xOf(v), TL.TOP - 6, xOf(v), H - 6) +
           svgText('tick-label', xOf(v), TL.TOP - 10, fmtTick(v, t.step) + ' s', 'middle');
  });
  return out + '</g>';
}

function timelineMarkers(s, xOf, H) {
  var out = '';
  s.markers.forEach(function (m, i) {
    var x = xOf(m.t);
    var cls = m.kind + (m.evicted ? ' evicted' : '');
    out += '<g class="marker">' + svgLine(cls, x, 4 + (i % 2) * 11, x, H - 4,
      m.worker != null ? ' data-worker="' + esc(m.worker) + '"' : '') +
      markerLabel('marker-label ' + m.kind, x, 12 + (i % 2) * 11, m.label, TL.R) +
      '<title>' + esc(m.title + ' (t=' + m.t.toFixed(2) + ' s)') + '</title></g>';
  });
  return out;
}

var TIMELINE_DEFS = '<defs><pattern id="fail-hatch" width="5" height="5" patternUnits="userSpaceOnUse" ' +
  'patternTransform="rotate(45)"><rect width="2.2" height="5" fill="#d93025" fill-opacity=".55"/>' +
  '</pattern></defs>';

function renderTimeline(s, d, ctx) {
  var rows = timelineRows(s);
  if (!rows.length) return '<p class="empty">no tasks yet</p>';
  var tMax = Math.max(ctx.now, s.lastT, 1e-3);
  var xOf = function (t) { return TL.L + Math.max(0, Math.min(t, tMax)) / tMax * (TL.R - TL.L); };
  var H = TL.TOP + rows.length * TL.PITCH + 10;
  var by = attemptsByRow(s);
  var out = svgOpen('timeline-svg', 'timeline', TL.W, H) + TIMELINE_DEFS + timelineAxis(tMax, xOf, H);
  out += '<g class="rows">' + rows.map(function (r, i) {
    return timelineRow(s, r, i, by.get(r.key) || [], xOf, ctx.now);
  }).join('') + '</g>' + timelineMarkers(s, xOf, H);
  if (!s.end && ctx.mode === 'live' && !ctx.gone) {
    out += svgLine('now-line', xOf(ctx.now), TL.TOP - 6, xOf(ctx.now), H - 4);
  }
  return out + '</svg>' + timelineLegend(s);
}

function timelineLegend(s) {
  var out = '<div class="legend">';
  var stages = Array.from(s.stages.values()).sort(byId);
  stages.slice(0, 40).forEach(function (st) {
    out += legendItem(keySpan('', 'background:' + stageColor(st.id)), 'stage ' + st.id + ' ' +
                      (st.name.length > 30 ? st.name.slice(0, 29) + '…' : st.name));
  });
  if (stages.length > 40) out += '<span class="item muted">… ' + (stages.length - 40) + ' more</span>';
  return out + '</div><div class="legend">' +
    legendItem(keySpan('', 'background:linear-gradient(90deg,' + stageColor(0, 'read') + ' 33%,' +
      stageColor(0) + ' 33% 66%,' + stageColor(0, 'write') + ' 66%)'),
      'shuffle read (light) · compute · shuffle write (dark)') +
    legendItem(keySpan('k-running'), 'running') + legendItem(keySpan('k-failed'), 'failed') +
    legendItem(keySpan('k-retry'), 'retry (attempt > 0)') +
    legendItem(keySpan('k-line k-lost'), 'worker lost') +
    legendItem(keySpan('k-line k-recompute'), 'recompute') +
    legendItem(keySpan('k-line k-session'), 'session lost') + '</div>';
}
