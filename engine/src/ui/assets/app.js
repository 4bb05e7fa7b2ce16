/* Weir job page, part 4 of 4: the views (job summary, stages, stage graph, task timeline,
   workers, Pregel, parameter server), drawn from the folded state, and the start: the
   live event stream or the events embedded in a history report. */
'use strict';

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
      '</td><td class="num">' + (tr.worker == null ? '–' : 'w' + esc(tr.worker)) +
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
    '<th class="num">Worker</th><th class="num">Clock</th><th class="num">Loss</th><th class="num">Staleness</th>' +
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
