/* Weir job page, part 1 of 4: formatting helpers, and the fold of a run's events (the live
   stream of a running job, or the log embedded in a history report) into its state and
   the figures derived from it (per stage, per worker, the shuffle matrix). Loaded before
   charts.js, timeline.js and app.js; plain scripts sharing one scope, no build step. */
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
  if (e.worker != null) tr.worker = e.worker;
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
