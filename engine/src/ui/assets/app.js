/* Weir job page: folds a run's events (the live SSE stream of a running job, or the event
   log embedded in a history report) into a view of the run, and renders its sections:
   job summary, stages, stage graph, task timeline, workers, Pregel and parameter server. */
'use strict';

/* ------------------------------------------------------------------ formatting */

var ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function esc(v) {
  return String(v == null ? '' : v).replace(/[&<>"']/g, function (c) { return ESCAPES[c]; });
}

function num(v) {
  var n = Number(v);
  return isFinite(n) ? n : 0;
}

function fmtBytes(v) {
  var n = num(v);
  if (Math.abs(n) < 1024) return Math.round(n) + ' B';
  var units = ['KB', 'MB', 'GB', 'TB', 'PB'];
  var i = -1;
  do { n /= 1024; i++; } while (Math.abs(n) >= 1024 && i < units.length - 1);
  return n.toFixed(Math.abs(n) < 100 ? 1 : 0) + ' ' + units[i];
}

function fmtCount(v) {
  var n = num(v);
  var a = Math.abs(n);
  if (a < 1000) return Number.isInteger(n) ? String(n) : n.toFixed(2);
  if (a < 1e6) return (n / 1e3).toFixed(1) + 'k';
  if (a < 1e9) return (n / 1e6).toFixed(1) + 'M';
  return (n / 1e9).toFixed(1) + 'G';
}

function fmtSecs(v) {
  var s = num(v);
  if (s <= 0) return '0 s';
  if (s < 1) return Math.max(1, Math.round(s * 1000)) + ' ms';
  if (s < 60) return s.toFixed(1) + ' s';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + pad2(Math.floor(s % 60)) + 's';
  return Math.floor(s / 3600) + 'h ' + pad2(Math.floor((s % 3600) / 60)) + 'm';
}

function pad2(n) { return n < 10 ? '0' + n : String(n); }

/* An axis label for t seconds, with as many decimals as the tick step needs. */
function fmtTick(v, step) {
  var d = step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step)));
  return v.toFixed(d);
}

function fmtArgs(args) {
  return (args || []).map(function (a) {
    return /[\s"']/.test(a) || a === '' ? JSON.stringify(a) : a;
  }).join(' ');
}

/* Stage colours: the golden angle spreads hues; tones tell task phases apart. */
function stageHue(id) { return (num(id) * 137.508 + 205) % 360; }

var COLOR_CACHE = new Map();

function stageColor(id, tone) {
  var key = id + '/' + (tone || 'compute');
  var c = COLOR_CACHE.get(key);
  if (!c) {
    var light = { read: 80, compute: 55, write: 34 }[tone || 'compute'];
    c = 'hsl(' + stageHue(id).toFixed(0) + ',62%,' + light + '%)';
    COLOR_CACHE.set(key, c);
  }
  return c;
}

function byId(a, b) { return a.id - b.id; }

/* ------------------------------------------------------------------ folding */

function newState() {
  return {
    job: null, end: null, lastT: 0, count: 0,
    workers: new Map(), stages: new Map(), attempts: new Map(),
    markers: [], recomputes: [],
    supersteps: new Map(), stepSeconds: new Map(), sessions: new Map(),
    checkpoints: new Map(), sessionLosses: [],
    trainers: new Map(), restores: []
  };
}

function ensureWorker(s, id, t) {
  var w = s.workers.get(id);
  if (!w) {
    w = { id: id, host: '', pid: null, slots: 0, address: '', joined: t, known: false,
          state: 'alive', reason: '', endT: null };
    s.workers.set(id, w);
  }
  return w;
}

function ensureStage(s, id, t) {
  var st = s.stages.get(id);
  if (!st) {
    st = { id: id, name: 'stage ' + id, total: 0, parents: [], shuffleMap: false,
           submitted: t, submissions: 0, completedT: null };
    s.stages.set(id, st);
  }
  return st;
}

function attemptKey(e) { return e.task + ':' + (e.attempt || 0); }

/* A worker left: its running attempts end there, failed. */
function workerGone(s, e, kind) {
  var w = ensureWorker(s, e.worker, e.t);
  w.state = kind;
  w.reason = e.reason || '';
  w.endT = e.t;
  s.attempts.forEach(function (a) {
    if (a.worker !== e.worker || a.end != null) return;
    a.end = e.t;
    a.ok = false;
    a.lost = true;
    a.seconds = Math.max(0, e.t - a.start);
    a.failure = 'worker ' + e.worker + ' ' + kind + (w.reason ? ': ' + w.reason : '');
    a.title = null;
  });
  s.markers.push({ kind: 'worker-lost', evicted: kind === 'evicted', t: e.t, worker: e.worker,
                   label: 'w' + e.worker + ' ' + kind, title: 'worker ' + e.worker + ' ' + kind +
                   (w.reason ? ': ' + w.reason : '') });
}

function foldTaskStart(s, e) {
  var w = ensureWorker(s, e.worker, e.t);
  if (!w.known) w.slots = Math.max(w.slots, num(e.slot) + 1);
  ensureStage(s, e.stage, e.t);
  s.attempts.set(attemptKey(e), {
    task: e.task, stage: e.stage, partition: e.partition, worker: e.worker, slot: num(e.slot),
    attempt: num(e.attempt), locality: e.locality || '', start: e.t, end: null, ok: null
  });
}

function foldTaskEnd(s, e) {
  var key = attemptKey(e);
  var a = s.attempts.get(key);
  if (!a) {
    foldTaskStart(s, Object.assign({}, e, { t: Math.max(0, e.t - num(e.seconds)) }));
    a = s.attempts.get(key);
  }
  Object.assign(a, {
    worker: e.worker, slot: num(e.slot), end: e.t, ok: !!e.ok, lost: false,
    seconds: num(e.seconds), compute: num(e.compute_seconds),
    readSecs: num(e.shuffle_read_seconds), writeSecs: num(e.shuffle_write_seconds),
    recordsIn: num(e.records_in), recordsOut: num(e.records_out), bytesIn: num(e.bytes_in),
    readBytes: num(e.shuffle_read_bytes), writeBytes: num(e.shuffle_write_bytes),
    spill: num(e.spill_bytes), peakRss: num(e.peak_rss_bytes),
    readFrom: Array.isArray(e.shuffle_read_from) ? e.shuffle_read_from : [],
    failure: e.ok ? '' : (e.failure || 'failed'), title: null
  });
}

function foldStageSubmitted(s, e) {
  var st = ensureStage(s, e.stage, e.t);
  if (st.submissions === 0) st.submitted = e.t;
  st.name = e.name || st.name;
  st.parents = Array.isArray(e.parents) ? e.parents : st.parents;
  st.shuffleMap = !!e.shuffle_map;
  st.total = Math.max(st.total, num(e.tasks));
  st.submissions += 1;
  st.completedT = null;
}

function foldSuperstep(s, e) {
  var prev = s.supersteps.get(e.step);
  s.supersteps.set(e.step, {
    step: e.step, active: num(e.active_vertices), messages: num(e.messages),
    delivered: num(e.delivered), t: e.t, runs: prev ? prev.runs + 1 : 1
  });
}

function foldCheckpoint(s, e) {
  var key = e.session + ':' + e.step;
  var prev = s.checkpoints.get(key);
  s.checkpoints.set(key, { session: e.session, step: e.step, t: prev ? prev.t : e.t,
                           complete: !!e.complete || !!(prev && prev.complete) });
}

function foldSessionLost(s, e) {
  var restore = e.restore_step == null ? null : e.restore_step;
  s.sessionLosses.push({ t: e.t, session: e.session, step: e.step,
                         workers: e.workers || [], restore: restore });
  s.markers.push({ kind: 'session-lost', t: e.t, label: 'session ' + e.session + ' lost',
                   title: 'session ' + e.session + ' lost workers ' + (e.workers || []).join(', ') +
                   ' at step ' + e.step + (restore == null ? ', restarts from 0'
                                                            : ', restores step ' + restore) });
}

function foldClock(s, e) {
  var tr = s.trainers.get(e.trainer);
  if (!tr) {
    tr = { id: e.trainer, clock: 0, loss: null, staleness: 0, maxStaleness: 0, clocks: 0, points: [] };
    s.trainers.set(e.trainer, tr);
  }
  tr.clock = num(e.clock);
  tr.staleness = num(e.staleness);
  tr.maxStaleness = Math.max(tr.maxStaleness, tr.staleness);
  tr.clocks += 1;
  if (typeof e.loss === 'number' && isFinite(e.loss)) {
    tr.loss = e.loss;
    tr.points.push([e.t, e.loss, tr.clock]);
  }
}

var HANDLERS = {
  job_start: function (s, e) {
    s.job = { name: e.job || '', args: e.args || [], workers: e.workers, threads: e.threads,
              unix: num(e.unix_seconds), pid: e.pid, version: e.version };
  },
  job_end: function (s, e) { s.end = { t: e.t, ok: !!e.ok, error: e.error || '' }; },
  worker_joined: function (s, e) {
    var w = ensureWorker(s, e.worker, e.t);
    Object.assign(w, { host: e.host || '', pid: e.pid, slots: num(e.slots), address: e.address || '',
                       joined: e.t, known: true, state: 'alive', reason: '', endT: null });
  },
  worker_lost: function (s, e) { workerGone(s, e, 'lost'); },
  worker_evicted: function (s, e) { workerGone(s, e, 'evicted'); },
  stage_submitted: foldStageSubmitted,
  stage_completed: function (s, e) { ensureStage(s, e.stage, e.t).completedT = e.t; },
  task_start: foldTaskStart,
  task_end: foldTaskEnd,
  recompute: function (s, e) {
    var r = { t: e.t, reason: e.reason || '', mapOutputs: num(e.map_outputs),
              cached: num(e.cached_partitions) };
    s.recomputes.push(r);
    s.markers.push({ kind: 'recompute', t: e.t, label: 'recompute',
                     title: 'recompute: ' + r.reason + ' (' + r.mapOutputs + ' map outputs, ' +
                     r.cached + ' cached partitions)' });
  },
  session_step: function (s, e) {
    s.stepSeconds.set(e.step, num(e.seconds));
    var ss = s.sessions.get(e.session) || { id: e.session, name: e.name || '', steps: 0, last: 0 };
    ss.steps += 1;
    ss.last = e.step;
    s.sessions.set(e.session, ss);
  },
  superstep: foldSuperstep,
  checkpoint: foldCheckpoint,
  session_lost: foldSessionLost,
  clock: foldClock,
  server_restore: function (s, e) {
    s.restores.push({ t: e.t, shards: e.shards || [], clock: num(e.clock) });
  }
};

/* Folds one event into the state; unknown kinds only move the clock. */
function fold(s, e) {
  if (!e || typeof e !== 'object') return s;
  if (typeof e.t === 'number' && isFinite(e.t)) s.lastT = Math.max(s.lastT, e.t);
  else e = Object.assign({}, e, { t: s.lastT });
  if (Object.prototype.hasOwnProperty.call(HANDLERS, e.event)) {
    HANDLERS[e.event](s, e);
    s.count += 1;
  }
  return s;
}

function foldAll(events) {
  var s = newState();
  (events || []).forEach(function (e) { fold(s, e); });
  return s;
}

/* ------------------------------------------------------------------ derived figures */

function emptyAgg() {
  return { done: 0, failed: 0, running: 0, tasks: 0, recordsIn: 0, recordsOut: 0, bytesIn: 0,
           readBytes: 0, writeBytes: 0, busy: 0, peak: 0 };
}

function addAttempt(d, a) {
  var st = d.stages.get(a.stage) || emptyAgg();
  d.stages.set(a.stage, st);
  var w = d.workers.get(a.worker) || emptyAgg();
  d.workers.set(a.worker, w);
  if (a.end == null) { d.tasks.running++; st.running++; w.running++; return; }
  w.tasks++;
  w.busy += num(a.seconds);
  w.peak = Math.max(w.peak, num(a.peakRss));
  w.readBytes += num(a.readBytes);
  w.writeBytes += num(a.writeBytes);
  if (!a.ok) { d.tasks.failed++; st.failed++; w.failed++; }
  else {
    // A stage's progress counts partitions done: a partition computed again (its output
    // lost with a worker) counts once.
    d.tasks.done++;
    st.parts = st.parts || new Set();
    st.parts.add(a.partition);
    st.done = st.parts.size;
    st.recordsIn += num(a.recordsIn); st.recordsOut += num(a.recordsOut);
    st.bytesIn += num(a.bytesIn); st.readBytes += num(a.readBytes); st.writeBytes += num(a.writeBytes);
  }
  (a.readFrom || []).forEach(function (p) {
    var key = a.worker + '>' + p[0];
    d.matrix.set(key, (d.matrix.get(key) || 0) + num(p[1]));
  });
}

/* Aggregates the attempts per stage and worker, and the shuffle matrix. */
function derive(s) {
  var d = { tasks: { done: 0, failed: 0, running: 0 }, stages: new Map(), workers: new Map(),
            matrix: new Map(), alive: 0, lost: 0 };
  s.attempts.forEach(function (a) { addAttempt(d, a); });
  s.workers.forEach(function (w) { if (w.state === 'alive') d.alive++; else d.lost++; });
  return d;
}

function stageState(s, st, agg) {
  if (st.completedT != null) return 'completed';
  if (s.end && !s.end.ok) return 'failed';
  if (s.end) return agg.done >= st.total ? 'completed' : 'incomplete';
  if (agg.running > 0 || agg.done + agg.failed > 0) return 'running';
  return 'pending';
}

/* The end of the run's time range: the job end, or now while it runs. */
function endOr(s, now) { return s.end ? s.end.t : now; }

function workerIdle(s, w, agg, now) {
  var end = w.endT != null ? w.endT : endOr(s, now);
  return Math.max(0, num(w.slots) * (end - num(w.joined)) - agg.busy);
}

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

/* ------------------------------------------------------------------ view: job */

function jobStateText(s, ctx) {
  if (s.end) return s.end.ok ? 'finished' : 'failed' + (s.end.error ? ': ' + s.end.error : '');
  if (ctx.mode === 'history' || ctx.gone) return 'incomplete';
  return s.job ? 'running' : 'waiting';
}

function renderJob(s, d, ctx) {
  var job = s.job || { name: '', args: [] };
  var state = jobStateText(s, ctx);
  var stCls = 'st-' + state.split(':')[0];
  var note = !s.end && state === 'incomplete'
    ? '(log ends at t=' + s.lastT.toFixed(1) + ' s' + (ctx.gone ? '; driver gone' : '') + ')' : '';
  var started = job.unix ? new Date(job.unix * 1000).toLocaleString() : '';
  return '<div class="job-head"><span class="job-name" id="job-name">' + esc(job.name || '—') +
    '</span><code class="job-args" id="job-args">' + esc(fmtArgs(job.args)) + '</code></div>' +
    '<dl class="kv">' +
    kv('state', '<span id="job-state" class="' + stCls + '">' + esc(state) + '</span> ' +
       '<span id="job-note">' + esc(note) + '</span>') +
    kv('elapsed', '<span id="job-elapsed" data-seconds="' + ctx.now.toFixed(3) + '">' +
       fmtSecs(ctx.now) + '</span>') +
    kv('workers', '<span id="workers-alive">' + d.alive + '</span> alive · <span id="workers-lost"' +
       (d.lost ? ' class="bad"' : '') + '>' + d.lost + '</span> lost') +
    kv('tasks', '<span id="tasks-done">' + d.tasks.done + '</span> done · <span id="tasks-failed"' +
       (d.tasks.failed ? ' class="bad"' : '') + '>' + d.tasks.failed + '</span> failed · ' +
       '<span id="tasks-running">' + d.tasks.running + '</span> running') +
    kv('stages', String(s.stages.size)) +
    (s.recomputes.length ? kv('recomputes', String(s.recomputes.length)) : '') +
    kv('driver', esc('pid ' + (job.pid == null ? '?' : job.pid) + ' · ' + (job.threads || '?') +
       ' threads · ' + (job.workers || '?') + ' workers asked')) +
    (started ? kv('started', esc(started)) : '') +
    '</dl>';
}

function kv(label, html) {
  return '<div><dt>' + esc(label) + '</dt><dd>' + html + '</dd></div>';
}

/* ------------------------------------------------------------------ view: stages */

function progressBar(agg, total) {
  var den = Math.max(total, agg.done + agg.failed + agg.running, 1);
  var pct = function (n) { return (100 * n / den).toFixed(2) + '%'; };
  return '<div class="progress"><div class="bar" title="' + agg.done + ' done, ' + agg.failed +
    ' failed, ' + agg.running + ' running of ' + total + '">' +
    '<span class="done" style="width:' + pct(Math.min(agg.done, den)) + '"></span>' +
    '<span class="failed" style="width:' + pct(agg.failed) + '"></span>' +
    '<span class="running" style="width:' + pct(agg.running) + '"></span></div>' +
    '<span class="label">' + agg.done + '/' + total +
    (agg.failed ? ' <span class="bad">(' + agg.failed + ' failed)</span>' : '') +
    (agg.running ? ' <span class="muted">' + agg.running + ' running</span>' : '') + '</span></div>';
}

function stageRow(s, st, agg, now) {
  var state = stageState(s, st, agg);
  var end = st.completedT != null ? st.completedT : endOr(s, now);
  var cell = function (v) { return '<td class="num">' + v + '</td>'; };
  return '<tr class="stage ' + state + '" data-stage="' + esc(st.id) + '">' +
    '<td class="num"><span class="swatch" style="background:' + stageColor(st.id) + '"></span>' +
    esc(st.id) + '</td>' +
    '<td class="name" title="' + esc(st.name) + '">' + esc(st.name) +
    (st.submissions > 1 ? ' <span class="note rerun">resubmitted ×' + (st.submissions - 1) + '</span>' : '') +
    '</td><td>' + progressBar(agg, st.total) + '</td>' +
    cell(fmtCount(agg.recordsIn)) + cell(fmtCount(agg.recordsOut)) + cell(fmtBytes(agg.bytesIn)) +
    cell(fmtBytes(agg.readBytes)) + cell(fmtBytes(agg.writeBytes)) +
    cell(fmtSecs(Math.max(0, end - st.submitted))) +
    '<td><span class="badge ' + state + '">' + state + '</span></td></tr>';
}

function renderStages(s, d, ctx) {
  var stages = Array.from(s.stages.values()).sort(byId);
  if (!stages.length) return '<p class="empty">no stages yet</p>';
  var rows = stages.map(function (st) {
    return stageRow(s, st, d.stages.get(st.id) || emptyAgg(), ctx.now);
  }).join('');
  return '<div class="table-wrap"><table class="stages-table"><thead><tr><th>Stage</th><th>Name</th>' +
    '<th>Tasks</th><th class="num">Records in</th><th class="num">Records out</th>' +
    '<th class="num">Input</th><th class="num">Shuffle read</th><th class="num">Shuffle write</th>' +
    '<th class="num">Duration</th><th>State</th></tr></thead><tbody>' + rows + '</tbody></table></div>';
}

/* ------------------------------------------------------------------ view: stage graph */

var DAG = { NW: 210, NH: 54, GX: 84, GY: 18, PAD: 16 };

function stageDepths(s) {
  var depth = new Map();
  var visit = function (id, seen) {
    if (depth.has(id)) return depth.get(id);
    var st = s.stages.get(id);
    if (!st || seen.has(id)) return -1;
    seen.add(id);
    var d = 0;
    st.parents.forEach(function (p) { d = Math.max(d, visit(p, seen) + 1); });
    depth.set(id, d);
    return d;
  };
  s.stages.forEach(function (st) { visit(st.id, new Set()); });
  return depth;
}

function dagLayout(s) {
  var depth = stageDepths(s);
  var cols = [];
  Array.from(s.stages.values()).sort(byId).forEach(function (st) {
    var c = depth.get(st.id) || 0;
    (cols[c] = cols[c] || []).push(st.id);
  });
  var pos = new Map(), rows = 0;
  cols.forEach(function (ids, c) {
    rows = Math.max(rows, ids.length);
    ids.forEach(function (id, r) {
      pos.set(id, { x: DAG.PAD + c * (DAG.NW + DAG.GX), y: DAG.PAD + r * (DAG.NH + DAG.GY) });
    });
  });
  return { pos: pos, width: DAG.PAD * 2 + cols.length * DAG.NW + Math.max(0, cols.length - 1) * DAG.GX,
           height: DAG.PAD * 2 + rows * DAG.NH + Math.max(0, rows - 1) * DAG.GY };
}

function dagEdges(s, pos) {
  var out = '';
  s.stages.forEach(function (st) {
    var to = pos.get(st.id);
    st.parents.forEach(function (p) {
      var from = pos.get(p);
      if (!from || !to) return;
      var x1 = from.x + DAG.NW, y1 = from.y + DAG.NH / 2, x2 = to.x - 2, y2 = to.y + DAG.NH / 2;
      var mx = (x1 + x2) / 2;
      out += '<g class="dag-edge-group" data-from="' + esc(p) + '" data-to="' + esc(st.id) + '">' +
        '<path class="dag-edge shuffle" marker-end="url(#dag-arrow)" d="M' + f2(x1) + ',' + f2(y1) +
        ' C' + f2(mx) + ',' + f2(y1) + ' ' + f2(mx) + ',' + f2(y2) + ' ' + f2(x2) + ',' + f2(y2) + '"/>' +
        svgText('dag-edge-label', mx, (y1 + y2) / 2 - 4, 'shuffle', 'middle') +
        '<title>stage ' + esc(st.id) + ' reads the shuffle output of stage ' + esc(p) + '</title></g>';
    });
  });
  return out;
}

function dagNode(s, st, agg, p) {
  var state = stageState(s, st, agg);
  var name = st.name.length > 23 ? st.name.slice(0, 22) + '…' : st.name;
  var frac = st.total ? Math.min(1, agg.done / st.total) : 0;
  var barW = DAG.NW - 22;
  return '<g class="dag-node ' + state + '" data-stage="' + esc(st.id) + '" transform="translate(' +
    f2(p.x) + ',' + f2(p.y) + ')"><title>' + esc('stage ' + st.id + ': ' + st.name + '\n' + state +
    ', ' + agg.done + '/' + st.total + ' tasks' + (st.shuffleMap ? ', writes a shuffle' : ', result stage')) +
    '</title>' + svgRect('node-box', 0, 0, DAG.NW, DAG.NH, '', ' rx="6"') +
    svgRect('node-color', 0, 0, 6, DAG.NH, stageColor(st.id), ' rx="2"') +
    svgText('node-title', 14, 18, '#' + st.id + ' ' + name) +
    svgText('node-sub', 14, 33, agg.done + '/' + st.total + ' tasks · ' + state) +
    svgRect('node-track', 14, 41, barW, 5, '', ' rx="2"') +
    svgRect('node-done', 14, 41, barW * frac, 5, '', ' rx="2"') + '</g>';
}

function renderDag(s, d) {
  if (!s.stages.size) return '<p class="empty">no stages yet</p>';
  var lay = dagLayout(s);
  var out = svgOpen('dag-svg', 'dag', lay.width, lay.height).replace('<svg ', '<svg style="max-width:' +
    lay.width + 'px" ') +
    '<defs><marker id="dag-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" ' +
    'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>' +
    dagEdges(s, lay.pos);
  Array.from(s.stages.values()).sort(byId).forEach(function (st) {
    out += dagNode(s, st, d.stages.get(st.id) || emptyAgg(), lay.pos.get(st.id));
  });
  return out + '</svg><div class="legend">' +
    legendItem(keySpan('', 'background:#e6f4ea;border:1.5px solid #2e9e5b'), 'completed') +
    legendItem(keySpan('', 'background:#e8f0fe;border:1.5px solid #1a73e8'), 'running') +
    legendItem(keySpan('', 'background:#f1f3f4;border:1.5px solid #9aa0a6'), 'pending') +
    legendItem(keySpan('', 'background:#fce8e6;border:1.5px solid #d93025'), 'failed') +
    legendItem(keySpan('k-line', 'border-top:2px dashed #80868b'), 'shuffle dependency') + '</div>';
}

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

/* ------------------------------------------------------------------ view: workers */

function workerRow(s, w, agg, now) {
  var cell = function (v) { return '<td class="num">' + v + '</td>'; };
  return '<tr class="worker ' + esc(w.state) + '" data-worker="' + esc(w.id) + '">' +
    '<td class="num">w' + esc(w.id) + '</td><td title="' + esc(w.address) + '">' + esc(w.host || '?') +
    '</td>' + cell(esc(w.pid == null ? '?' : w.pid)) + cell(esc(w.slots)) +
    '<td><span class="badge ' + esc(w.state) + '">' + esc(w.state) + '</span>' +
    (w.reason ? '<span class="reason">' + esc(w.reason) + '</span>' : '') + '</td>' +
    cell(agg.tasks + (agg.running ? ' <span class="muted">+' + agg.running + '</span>' : '')) +
    cell(agg.failed ? '<span class="bad">' + agg.failed + '</span>' : '0') +
    cell(fmtSecs(agg.busy)) + cell(fmtSecs(workerIdle(s, w, agg, now))) + cell(fmtBytes(agg.peak)) +
    cell(fmtBytes(agg.readBytes)) + cell(fmtBytes(agg.writeBytes)) + '</tr>';
}

function renderWorkers(s, d, ctx) {
  var workers = Array.from(s.workers.values()).sort(byId);
  if (!workers.length) return '<p class="empty">no workers yet</p>';
  var rows = workers.map(function (w) {
    return workerRow(s, w, d.workers.get(w.id) || emptyAgg(), ctx.now);
  }).join('');
  return '<div class="table-wrap"><table class="workers-table"><thead><tr><th>Worker</th><th>Host</th>' +
    '<th class="num">PID</th><th class="num">Slots</th><th>State</th><th class="num">Tasks</th>' +
    '<th class="num">Failed</th><th class="num">Busy</th><th class="num">Idle</th>' +
    '<th class="num">Peak memory</th><th class="num">Shuffle read</th><th class="num">Shuffle write</th>' +
    '</tr></thead><tbody>' + rows + '</tbody></table></div>';
}

function renderShuffleMatrix(s, d) {
  if (!d.matrix.size) return '<p class="empty">no shuffle</p>';
  var ids = new Set(), max = 0;
  d.matrix.forEach(function (v, k) {
    k.split('>').forEach(function (x) { ids.add(Number(x)); });
    max = Math.max(max, v);
  });
  var list = Array.from(ids).sort(function (a, b) { return a - b; });
  var head = '<tr><th>reader \\ source</th>' + list.map(function (c) {
    return '<th class="num">w' + esc(c) + '</th>';
  }).join('') + '<th class="num">total</th></tr>';
  var body = list.map(function (r) {
    var total = 0;
    var cells = list.map(function (c) {
      var v = d.matrix.get(r + '>' + c) || 0;
      total += v;
      var alpha = v ? (0.1 + 0.8 * v / (max || 1)).toFixed(3) : 0;
      return '<td class="num cell' + (r === c ? ' local' : '') + '" data-reader="' + r + '" data-source="' +
        c + '" data-bytes="' + v + '" style="background:rgba(230,81,0,' + alpha + ')" title="w' + r +
        ' read ' + fmtBytes(v) + ' from w' + c + '">' + (v ? fmtBytes(v) : '·') + '</td>';
    }).join('');
    return '<tr class="matrix-row" data-worker="' + r + '"><th>w' + r + '</th>' + cells +
      '<td class="num">' + fmtBytes(total) + '</td></tr>';
  }).join('');
  return '<table class="matrix"><thead>' + head + '</thead><tbody>' + body + '</tbody></table>';
}

/* ------------------------------------------------------------------ view: pregel */

function pregelChart(s, steps) {
  var lo = steps[0].step, hi = Math.max(steps[steps.length - 1].step, lo + 1);
  var ymax = 1;
  steps.forEach(function (p) { ymax = Math.max(ymax, p.active, p.messages); });
  var series = [['active vertices', 'active', '#1a73e8'], ['messages', 'messages', '#e8710a']];
  var marks = [];
  s.checkpoints.forEach(function (c) {
    marks.push({ x: c.step, cls: 'checkpoint', label: 'ckpt ' + c.step + (c.complete ? ' ✓' : ''),
                 title: 'session ' + c.session + ' checkpoint at step ' + c.step +
                 (c.complete ? ' (complete)' : ' (taken)') });
  });
  s.sessionLosses.forEach(function (l) {
    marks.push({ x: l.step, cls: 'session-lost', label: 'lost → ' + (l.restore == null ? 0 : l.restore),
                 title: 'session ' + l.session + ' lost workers ' + l.workers.join(', ') + ' at step ' + l.step });
  });
  return lineChart({
    id: 'superstep-chart', width: 1200, height: 260, x: [lo, hi], y: [0, ymax * 1.05], xInt: true,
    xFmt: function (v) { return String(v); }, yFmt: function (v) { return fmtCount(v); },
    xTitle: 'superstep', marks: marks.filter(function (m) { return m.x >= lo && m.x <= hi; }),
    series: series.map(function (se) {
      return { cls: 'series-' + se[1], color: se[2], label: se[0], points: steps.map(function (p) {
        return [p.step, p[se[1]], 'step ' + p.step + ': ' + fmtCount(p[se[1]]) + ' ' + se[0]];
      }) };
    })
  });
}

function superstepNotes(s, step) {
  var out = '';
  s.checkpoints.forEach(function (c) {
    if (c.step === step.step) out += '<span class="note ckpt">checkpoint' + (c.complete ? ' ✓' : '') + '</span>';
  });
  s.sessionLosses.forEach(function (l) {
    if (l.step === step.step) {
      out += '<span class="note lost">lost w' + l.workers.join(', w') + ' → step ' +
        (l.restore == null ? 0 : l.restore) + '</span>';
    }
  });
  if (step.runs > 1) out += '<span class="note rerun">run ×' + step.runs + '</span>';
  return out;
}

function renderPregel(s) {
  var steps = Array.from(s.supersteps.values()).sort(function (a, b) { return a.step - b.step; });
  if (!steps.length) return '';
  var rows = steps.map(function (p) {
    var secs = s.stepSeconds.get(p.step);
    return '<tr class="superstep" data-step="' + esc(p.step) + '"><td class="num">' + esc(p.step) +
      '</td><td class="num">' + fmtCount(p.active) + '</td><td class="num">' + fmtCount(p.messages) +
      '</td><td class="num">' + fmtCount(p.delivered) + '</td><td class="num">' +
      (secs == null ? '–' : fmtSecs(secs)) + '</td><td class="num">' + p.t.toFixed(2) + ' s</td><td>' +
      superstepNotes(s, p) + '</td></tr>';
  }).join('');
  return pregelChart(s, steps) + '<div class="legend">' +
    legendItem(keySpan('', 'background:#1a73e8'), 'active vertices') +
    legendItem(keySpan('', 'background:#e8710a'), 'messages') +
    legendItem(keySpan('k-line k-checkpoint'), 'checkpoint') +
    legendItem(keySpan('k-line k-session'), 'session lost (→ restore step)') + '</div>' +
    '<div class="table-wrap"><table class="supersteps"><thead><tr><th class="num">Step</th>' +
    '<th class="num">Active vertices</th><th class="num">Messages</th><th class="num">Delivered</th>' +
    '<th class="num">Step time</th><th class="num">At</th><th>Notes</th></tr></thead><tbody>' +
    rows + '</tbody></table></div>';
}

/* ------------------------------------------------------------------ view: parameter server */

function trainerColor(id) { return 'hsl(' + ((num(id) * 137.508 + 20) % 360).toFixed(0) + ',65%,45%)'; }

function lossChart(s, trainers, ctx) {
  var lo = Infinity, hi = -Infinity, ymax = 0, ymin = 0;
  trainers.forEach(function (tr) {
    tr.points.forEach(function (p) {
      lo = Math.min(lo, p[0]); hi = Math.max(hi, p[0]);
      ymax = Math.max(ymax, p[1]); ymin = Math.min(ymin, p[1]);
    });
  });
  if (!isFinite(lo)) { lo = 0; hi = Math.max(ctx.now, 1); }
  hi = Math.max(hi, lo + 1e-3);
  s.restores.forEach(function (r) { hi = Math.max(hi, r.t); lo = Math.min(lo, r.t); });
  return lineChart({
    id: 'loss-chart', width: 1200, height: 260, x: [lo, hi], y: [ymin, (ymax || 1) * 1.05],
    xFmt: function (v, step) { return fmtTick(v, step) + ' s'; },
    yFmt: function (v, step) { return step < 0.01 ? v.toExponential(1) : String(+v.toFixed(3)); },
    xTitle: 't (s)',
    marks: s.restores.map(function (r) {
      return { x: r.t, cls: 'server-restore', label: 'restore @' + r.clock,
               title: 'shards ' + r.shards.join(', ') + ' restored at clock ' + r.clock };
    }),
    series: trainers.map(function (tr) {
      return { cls: 'series-trainer', color: trainerColor(tr.id), label: 'trainer ' + tr.id,
               points: tr.points.map(function (p) {
                 return [p[0], p[1], 'trainer ' + tr.id + ', clock ' + p[2] + ': loss ' + p[1].toPrecision(4)];
               }) };
    })
  });
}

function renderPs(s, d, ctx) {
  var trainers = Array.from(s.trainers.values()).sort(byId);
  if (!trainers.length) return '';
  var rows = trainers.map(function (tr) {
    return '<tr class="trainer" data-trainer="' + esc(tr.id) + '"><td class="num">' +
      '<span class="swatch" style="background:' + trainerColor(tr.id) + '"></span>' + esc(tr.id) +
      '</td><td class="num">' + esc(tr.clock) + '</td><td class="num">' +
      (tr.loss == null ? '–' : tr.loss.toPrecision(4)) + '</td><td class="num">' + esc(tr.staleness) +
      '</td><td class="num">' + esc(tr.maxStaleness) + '</td><td class="num">' + esc(tr.clocks) + '</td></tr>';
  }).join('');
  var restores = s.restores.map(function (r) {
    return '<li>t=' + r.t.toFixed(2) + ' s: shards ' + esc(r.shards.join(', ')) + ' restored at clock ' +
      esc(r.clock) + '</li>';
  }).join('');
  return lossChart(s, trainers, ctx) + '<div class="legend">' + trainers.slice(0, 40).map(function (tr) {
    return legendItem(keySpan('', 'background:' + trainerColor(tr.id)), 'trainer ' + tr.id);
  }).join('') + legendItem(keySpan('k-line k-session'), 'server restore') + '</div>' +
    '<div class="table-wrap"><table class="trainers"><thead><tr><th class="num">Trainer</th>' +
    '<th class="num">Clock</th><th class="num">Loss</th><th class="num">Staleness</th>' +
    '<th class="num">Max staleness</th><th class="num">Clocks</th></tr></thead><tbody>' + rows +
    '</tbody></table></div>' + (restores ? '<h3>Server restores</h3><ul class="restores">' + restores +
    '</ul>' : '');
}

/* ------------------------------------------------------------------ page */

function setBody(id, html) {
  var el = document.querySelector('#' + id + ' > .body');
  if (el) el.innerHTML = html;
}

function renderConn(ctx, s) {
  var el = document.getElementById('conn-state');
  var text = ctx.mode === 'history' ? 'history' : ctx.gone ? 'driver gone' : ctx.conn;
  el.textContent = text;
  el.className = 'conn' + (text === 'live' ? ' live' : text === 'driver gone' ? ' gone' : '');
  var job = s.job ? s.job.name : '';
  document.getElementById('topbar-job').textContent = job;
  document.title = (job ? job + ' · ' : '') + 'Weir';
}

function renderAll(s, ctx) {
  var d = derive(s);
  renderConn(ctx, s);
  setBody('job', renderJob(s, d, ctx));
  setBody('stages', renderStages(s, d, ctx));
  setBody('dag', renderDag(s, d, ctx));
  setBody('timeline', renderTimeline(s, d, ctx));
  setBody('workers', renderWorkers(s, d, ctx));
  document.getElementById('shuffle-matrix').innerHTML = renderShuffleMatrix(s, d);
  var pregel = document.getElementById('pregel');
  pregel.hidden = s.supersteps.size === 0;
  setBody('pregel', renderPregel(s, d, ctx));
  var ps = document.getElementById('ps');
  ps.hidden = s.trainers.size === 0;
  setBody('ps', renderPs(s, d, ctx));
}

function tokenSuffix(search) {
  var token = new URLSearchParams(search || '').get('token');
  return token ? '?token=' + encodeURIComponent(token) : '';
}

/* Calls fn at most every `ms` milliseconds (longer when a call itself is slow, so a big
   job's page stays responsive), on an animation frame. */
function throttled(fn, ms) {
  var pending = false, last = 0, gap = ms;
  return function () {
    if (pending) return;
    pending = true;
    var wait = Math.max(0, gap - (Date.now() - last));
    setTimeout(function () {
      requestAnimationFrame(function () {
        pending = false;
        var start = Date.now();
        fn();
        last = Date.now();
        gap = Math.max(ms, 3 * (last - start));
      });
    }, wait);
  };
}

function liveNow(app) {
  var s = app.state;
  if (s.end) return s.end.t;
  if (app.gone || !s.job || !s.job.unix) return s.lastT;
  return Math.max(s.lastT, Date.now() / 1000 - s.job.unix);
}

function startLive() {
  var app = { state: newState(), conn: 'connecting…', gone: false, lastId: -1, es: null };
  var render = throttled(function () {
    renderAll(app.state, { mode: 'live', conn: app.conn, gone: app.gone, now: liveNow(app) });
  }, 250);
  var es = new EventSource('api/v1/stream' + tokenSuffix(location.search));
  es.onopen = function () { app.conn = 'live'; app.gone = false; render(); };
  es.onmessage = function (m) { onLiveMessage(app, es, m); render(); };
  es.onerror = function () {
    app.gone = true;
    if (app.state.end || es.readyState === EventSource.CLOSED) es.close();
    render();
  };
  var timer = setInterval(function () {
    if (app.state.end || es.readyState === EventSource.CLOSED) clearInterval(timer);
    else if (!app.gone && app.state.job) render();
  }, 500);
  render();
}

function onLiveMessage(app, es, m) {
  var id = m.lastEventId === '' ? NaN : Number(m.lastEventId);
  if (!isNaN(id)) {
    if (id <= app.lastId) return;
    app.lastId = id;
  }
  var ev;
  try { ev = JSON.parse(m.data); } catch (err) { return; }
  fold(app.state, ev);
  if (ev && ev.event === 'job_end') {
    es.close();
    app.conn = 'ended';
  }
}

function startHistory(el) {
  var events = [];
  try { events = JSON.parse(el.textContent); } catch (err) { events = []; }
  var s = foldAll(Array.isArray(events) ? events : []);
  renderAll(s, { mode: 'history', conn: 'history', gone: false, now: s.end ? s.end.t : s.lastT });
}

function boot() {
  var embedded = document.getElementById('weir-events');
  if (embedded) startHistory(embedded);
  else startLive();
}

if (typeof document !== 'undefined') {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
  else boot();
}

if (typeof module !== 'undefined' && module.exports) {
  module.exports = {
    fold: fold, foldAll: foldAll, newState: newState, derive: derive, stageState: stageState,
    workerIdle: workerIdle, jobStateText: jobStateText, tokenSuffix: tokenSuffix,
    renderJob: renderJob, renderStages: renderStages, renderDag: renderDag,
    renderTimeline: renderTimeline, renderWorkers: renderWorkers,
    renderShuffleMatrix: renderShuffleMatrix, renderPregel: renderPregel, renderPs: renderPs,
    fmtBytes: fmtBytes, fmtCount: fmtCount, fmtSecs: fmtSecs, esc: esc
  };
}
