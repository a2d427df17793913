/* graphscope explorer: one page, every level of the graph, no network.
 *
 * Reads the page's data (the JSON block "gs-data", written by graphscope/explorer/_data.py and
 * _place.py) and one JSON block "gs-svg-K" per level (the level's SVG as a JSON string).
 * User text only ever reaches the page through textContent, attribute values and the
 * sanitised SVG parsed as XML, never as markup.
 *
 * State lives in the URL hash, "#<level id>" or "#<level id>/<n|g|f><index>" (a node, a group
 * or a finding), so the browser's back and forward buttons walk the levels.
 */
(function () {
  'use strict';

  var D = JSON.parse(document.getElementById('gs-data').textContent);
  var S = D.S, V = D.V, N = D.n;
  var C = {};
  Object.keys(D.nodes).forEach(function (k) { C[k] = column(D.nodes[k], N); });
  var P = {};
  Object.keys(D.place).forEach(function (k) { P[k] = column(D.place[k], N); });
  var PROFILE = D.profile;
  var view = document.getElementById('gs-view');
  var side = { findings: document.getElementById('gs-findings'),
               memory: document.getElementById('gs-memory'),
               inspector: document.getElementById('gs-inspector') };
  var cur = { level: -1, pz: null, els: new Map(), edges: [], sel: '', overlay: '' };
  var haystack = null;

  /* -- data access ------------------------------------------------------------------------ */

  function column(c, n) {  // a packed column (see _data.pack) as a plain array
    if (Array.isArray(c)) return c;
    var a = new Array(n), k, at = 0;
    if (c.r) {
      for (k = 0; k < c.r.length; k += 2) a.fill(c.r[k], at, at += c.r[k + 1]);
      return a;
    }
    a.fill(c.d);
    for (k = 0; k < c.i.length; k++) a[c.i[k]] = c.v[k];
    return a;
  }

  function nodeId(i) { var v = C.id[i]; return v === 0 ? 'n' + i : v; }
  function nameOf(i) { return C.nm[i] === -1 ? S[C.lb[i]] : S[C.nm[i]]; }
  function prof(i, key) { return V[C.pf[i]][PROFILE.indexOf(key)]; }

  function node(i) {
    var d = { index: i, id: nodeId(i), label: S[C.lb[i]], name: nameOf(i), module: S[C.md[i]],
              aliases: V[C.al[i]] || [], grad: C.gr[i], history: C.gh[i] || [], extra: V[C.x[i]], saved: [] };
    var p = V[C.pf[i]];
    PROFILE.forEach(function (k, j) { d[k] = p[j]; });
    (V[C.sv[i]] || []).forEach(function (s) { d.saved.push([s[0], s[1] === null ? -1 : i + s[1]]); });
    return d;
  }

  function placeRef(i) {  // the item drawn for node i on its level (a ref), or null
    if (P.level[i] < 0) return null;
    return P.rd[i] !== null ? i + P.rd[i] : -1 - P.pg[i];
  }

  function title(i) { var d = node(i); return d.name || d.label || d.id; }
  function group(g) { return D.groups[g]; }
  function groupTitle(g) { var G = group(g); return S[G.lb] || S[G.nm] || G.id; }
  function level(li) { return D.levels[li]; }

  /* -- small DOM helpers: text only ----------------------------------------------------------- */

  function el(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'cls') e.className = attrs[k];
      else if (k === 'on') e.addEventListener('click', attrs[k]);
      else e.setAttribute(k, attrs[k]);
    });
    for (var a = 2; a < arguments.length; a++) {
      var c = arguments[a];
      if (c === null || c === undefined || c === false) continue;
      e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return e;
  }

  function svgEl(tag, attrs) {
    var e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }

  function fmt(x) {
    if (x === null || x === undefined) return '?';
    if (typeof x === 'string') return x;
    if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
    return String(Number(x.toPrecision(4)));
  }

  function shapeText(s) {
    if (!s) return '?';
    return '(' + s.join(', ') + (s.length === 1 ? ',' : '') + ')';
  }

  function bytesText(b) {  // binary units, as the text report writes them (48.0 MiB)
    if (!b) return '0 B';
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], k = 0;
    while (b >= 1024 && k < u.length - 1) { b /= 1024; k++; }
    return (k ? b.toFixed(1) : Math.round(b)) + ' ' + u[k];
  }

  function gradText(g) {  // g = [numel, norm, min, max, nonfinite, first, call]
    if (!g) return 'None';
    var first = g[5] || [];
    if (g[0] != null && g[0] <= 4 && first.length === g[0]) return '[' + first.map(fmt).join(', ') + ']';
    var t = 'norm ' + fmt(g[1]);
    if (g[2] != null && g[3] != null) t += ', min ' + fmt(g[2]) + ', max ' + fmt(g[3]);
    return t;
  }

  function baseName(f) { return f ? String(f).split(/[\\/]/).pop() : '?'; }

  /* -- levels and the picture ----------------------------------------------------------------- */

  function loadSvg(li) {
    var text = JSON.parse(document.getElementById('gs-svg-' + li).textContent);
    var doc = new DOMParser().parseFromString(text, 'image/svg+xml');
    var svg = doc.documentElement;
    if (svg.nodeName !== 'svg') return svgEl('svg', {});
    return document.importNode(svg, true);
  }

  function showLevel(li) {
    if (cur.level === li) return;
    if (cur.pz) { cur.pz.destroy(); cur.pz = null; }
    var svg = loadSvg(li);
    svg.removeAttribute('width');
    svg.removeAttribute('height');
    view.replaceChildren(svg);
    cur.level = li;
    indexPicture(svg, level(li));
    cur.fitted = false;
    startPanZoom();
    document.body.setAttribute('data-level', level(li).id);
    renderCrumbs();
    applyOverlay();
  }

  function startPanZoom() {  // once the view has a size (a frame hidden while loading has none)
    var svg = view.querySelector('svg');
    if (cur.pz || !svg || !view.clientWidth || !view.clientHeight) return;
    cur.pz = svgPanZoom(svg, {
      zoomEnabled: true, panEnabled: true, controlIconsEnabled: false, fit: true, center: true,
      mouseWheelZoomEnabled: false, dblClickZoomEnabled: false, minZoom: 0.1, maxZoom: 40,
      zoomScaleSensitivity: 0.25
    });
    fitView();
    if (cur.first && cur.level === 0) readableStart();
    cur.first = false;
  }

  /* A big overview fitted to the window has unreadable text (a BERT: 3-4 px). When the fitted
   * picture's median text is under KEEP_FIT_PX, the page opens instead at a scale where it is
   * READABLE_PX high, centred on the first finding's node, else on the root (the loss); 0 or
   * the fit button shows the whole level. A small graph keeps its fit: all of it at a glance. */
  var READABLE_PX = 10, KEEP_FIT_PX = 7;

  function readableStart() {  // from pan-zoom's state, not the DOM (it redraws on a frame)
    var svg = view.querySelector('svg'), vp = svg.querySelector('.svg-pan-zoom_viewport');
    var fs = medianFontSize(svg), pz = cur.pz, real = pz.getSizes().realZoom;
    if (!fs || !vp || real * fs >= KEEP_FIT_PX) return;  // the fit is readable: keep it
    var T = READABLE_PX / fs, all = vp.getBBox(), ref = focusRef();
    var g = ref === null ? null : cur.els.get(ref), w = svg.clientWidth, h = svg.clientHeight;
    var at = g ? centreIn(vp, g) : { x: all.x + all.width / 2, y: all.y };  // no focus: the top
    pz.zoomBy(T / real);
    var pan = { x: w / 2 - T * at.x, y: g ? h / 2 - T * at.y : 16 - T * at.y };
    pan.x += fill(T * all.x + pan.x, T * (all.x + all.width) + pan.x, w);  // no empty margin
    pan.y += fill(T * all.y + pan.y, T * (all.y + all.height) + pan.y, h);
    pz.pan(pan);
    cur.fitted = false;
  }

  function centreIn(vp, g) {  // the centre of element g in the coordinates of vp
    var b = g.getBBox(), m = vp.getCTM().inverse().multiply(g.getCTM());
    var p = view.querySelector('svg').createSVGPoint();
    p.x = b.x + b.width / 2; p.y = b.y + b.height / 2;
    return p.matrixTransform(m);
  }

  function fill(lo, hi, size) {  // the shift that leaves no empty margin where there is more
    var m = 16;
    if (hi - lo + 2 * m <= size) return size / 2 - (lo + hi) / 2;
    if (lo > m) return m - lo;
    if (hi < size - m) return size - m - hi;
    return 0;
  }

  function medianFontSize(svg) {  // of the picture's text, in SVG units
    var sizes = [];
    svg.querySelectorAll('text').forEach(function (t) {
      var f = parseFloat(t.getAttribute('font-size'));
      if (f > 0) sizes.push(f);
    });
    sizes.sort(function (a, b) { return a - b; });
    return sizes.length ? sizes[Math.floor(sizes.length / 2)] : 0;
  }

  function focusRef() {  // the first finding's node as drawn here, else a root
    for (var k = 0; k < D.findings.length; k++) {
      var f = D.findings[k], ref = f.node >= 0 ? drawnRef(f.node) : null;
      if (ref !== null && ref !== undefined && cur.els.has(ref)) return ref;
    }
    var root = null;
    cur.els.forEach(function (g, ref) { if (root === null && ref >= 0 && prof(ref, 'role') === 'root') root = ref; });
    return root;
  }

  function fitView() {  // the whole level in the window (not blown up past 2x)
    var pz = cur.pz;
    if (!pz) return;
    cur.fitted = true;
    pz.resize();
    pz.fit();
    pz.center();
    var real = pz.getSizes().realZoom;
    if (real > 2) { pz.zoom(2 / real); pz.center(); }  // a tiny graph is not blown up
    pz.setMaxZoom(Math.max(40, 8 / Math.min(real, 2)));
  }

  function indexPicture(svg, L) {
    var byTitle = new Map();
    L.r.forEach(function (ref, k) { byTitle.set(L.t[k] === 0 ? nodeId(ref) : L.t[k], ref); });
    var boundary = new Set(L.b.map(function (k) { return L.r[k]; }));
    cur.els = new Map();
    svg.querySelectorAll('g.node').forEach(function (g) {
      var t = g.querySelector('title');
      var ref = t ? byTitle.get(t.textContent) : undefined;
      if (ref === undefined) return;
      g.setAttribute('data-ref', String(ref));
      if (boundary.has(ref)) g.classList.add('gs-boundary');
      cur.els.set(ref, g);
    });
    cur.edges = [];
    svg.querySelectorAll('g.edge').forEach(function (g) {
      var t = g.querySelector('title');
      var ends = t ? splitEdge(t.textContent, byTitle) : null;
      if (ends) cur.edges.push([ends[0], ends[1], g]);
    });
  }

  function splitEdge(text, byTitle) {  // "a->b", where a or b may hold "->" themselves
    var at = text.indexOf('->');
    while (at >= 0) {
      var a = text.slice(0, at), b = text.slice(at + 2);
      if (byTitle.has(a) && byTitle.has(b)) return [byTitle.get(a), byTitle.get(b)];
      at = text.indexOf('->', at + 1);
    }
    return null;
  }

  function chain(li) {
    var out = [];
    for (var k = li; k >= 0; k = level(k).parent) out.unshift(k);
    return out;
  }

  function renderCrumbs() {
    var box = document.getElementById('gs-crumbs');
    box.replaceChildren();
    chain(cur.level).forEach(function (k, pos) {
      if (pos) box.appendChild(el('span', { cls: 'gs-sep', text: '›' }));
      if (k === cur.level) box.appendChild(el('span', { cls: 'gs-here', 'aria-current': 'page', text: level(k).title }));
      else box.appendChild(el('button', { type: 'button', text: level(k).title, on: function () { go(k, ''); } }));
    });
  }

  /* -- navigation: the hash is the state -------------------------------------------------- */

  function hashFor(li, sel) { return '#' + encodeURIComponent(level(li).id) + (sel ? '/' + sel : ''); }

  function go(li, sel) {  // a new history entry
    var h = hashFor(li, sel);
    if (location.hash === h) { apply(h); return; }
    try { location.hash = h; } catch (e) { apply(h); return; }
    if (location.hash !== h) apply(h);  // a frame that keeps no history
  }

  function replace(li, sel) {  // same entry (a click on the current level)
    var h = hashFor(li, sel);
    try { history.replaceState(null, '', h); } catch (e) { /* a sandboxed frame */ }
    apply(h, true);
  }

  function apply(h, stay) {  // stay: keep the view as it is (no zoom to the selection)
    var parts = String(h || '').replace(/^#/, '').split('/');
    var id = decodeURIComponent(parts[0] || '');
    var li = D.levels.findIndex(function (L) { return L.id === id; });
    showLevel(li < 0 ? 0 : li);
    cur.zoomTo = !stay;
    select(li < 0 ? '' : (parts[1] || ''));
    cur.zoomTo = false;
  }

  function parentGroup(li) {  // the group of the level above that opens level li
    for (var g = 0; g < D.groups.length; g++) if (D.groups[g].ch === li) return g;
    return -1;
  }

  /* -- selection and highlight -------------------------------------------------------------- */

  function select(sel) {
    cur.sel = sel;
    view.querySelectorAll('.gs-sel, .gs-edge, .gs-mark').forEach(function (e) {
      e.classList.remove('gs-sel', 'gs-edge', 'gs-mark');
    });
    markFinding(sel);
    var m = /^([ngf])(\d+)$/.exec(sel || '');
    if (!m) { inspectLevel(); return; }
    var k = Number(m[2]);
    if (m[1] === 'f') { showFinding(k); return; }
    var ref = m[1] === 'g' ? -1 - k : k;
    highlight(drawnRef(ref));
    if (m[1] === 'g') inspectGroup(k); else inspectNode(k);
  }

  function drawnRef(ref) {  // the item drawn for ref on the current level
    if (cur.els.has(ref)) return ref;
    if (ref >= 0 && P.level[ref] === cur.level) return placeRef(ref);
    return null;
  }

  function highlight(ref) {
    if (ref === null || ref === undefined) return;
    var g = cur.els.get(ref);
    if (!g) return;
    g.classList.add('gs-sel');
    cur.edges.forEach(function (e) { if (e[0] === ref || e[1] === ref) e[2].classList.add('gs-edge'); });
    reveal(g);
  }

  function reveal(g) {  // pan the element to the middle when it is out of sight
    if (cur.zoomTo && cur.pz && cur.pz.getSizes().realZoom < 1) readable(g);
    var r = g.getBoundingClientRect(), v = view.getBoundingClientRect();
    var inside = r.left >= v.left && r.right <= v.right && r.top >= v.top && r.bottom <= v.bottom;
    if (!inside && cur.pz) {
      cur.pz.panBy({ x: (v.left + v.width / 2) - (r.left + r.width / 2),
                     y: (v.top + v.height / 2) - (r.top + r.height / 2) });
    }
  }

  function readable(g) {  // zoom in around the element until its text is at its own size
    var svg = view.querySelector('svg'), r = g.getBoundingClientRect();
    var p = svg.createSVGPoint();
    p.x = r.left + r.width / 2; p.y = r.top + r.height / 2;
    p = p.matrixTransform(svg.getScreenCTM().inverse());
    cur.pz.zoomAtPointBy(1 / cur.pz.getSizes().realZoom, { x: p.x, y: p.y });
  }

  function where(i) {  // [level, ref] that shows node i, or null
    return P.level[i] >= 0 ? [P.level[i], placeRef(i)] : null;
  }

  function goNode(i) {
    var w = where(i);
    go(w ? w[0] : cur.level, 'n' + i);
  }

  function goGroup(g) { go(group(g).lv, 'g' + g); }

  function onPictureClick(ev) {
    if (dragged) return;
    var g = ev.target.closest ? ev.target.closest('g.node') : null;
    if (!g || !g.hasAttribute('data-ref')) { replace(cur.level, ''); return; }
    var ref = Number(g.getAttribute('data-ref'));
    if (ref < 0) {
      var G = group(-1 - ref);
      if (G.ch >= 0) go(G.ch, ''); else replace(cur.level, 'g' + (-1 - ref));
      return;
    }
    replace(cur.level, 'n' + ref);
  }

  /* -- inspector ------------------------------------------------------------------------------- */

  function props(rows) {
    var dl = el('dl', { cls: 'gs-props' });
    rows.forEach(function (r) {
      if (r[1] === null || r[1] === undefined || r[1] === '') return;
      dl.appendChild(el('dt', { text: r[0] }));
      dl.appendChild(el('dd', null, r[1]));
    });
    return dl;
  }

  function yesNo(v) { return v === null || v === undefined ? null : (v ? 'True' : 'False'); }

  function inspectNode(i, shown) {  // shown: the finding already at the top of the panel
    var d = node(i), box = side.inspector;
    box.replaceChildren();
    box.appendChild(el('h2', { text: d.name || d.label || d.id }));
    box.appendChild(el('div', null, el('span', { cls: 'gs-chip', text: d.kind }),
      d.role ? el('span', { cls: 'gs-chip', text: d.role }) : null,
      el('span', { cls: 'gs-chip gs-mono', text: d.id })));
    placeNote(i, box);
    if (d.kind === 'tensor') tensorProps(d, box); else opProps(d, box);
    moduleSection(d.module, box);
    sourceSection(d.file, d.line, [], box);
    nodeFindings(i, shown, box);
  }

  function placeNote(i, box) {
    var w = where(i), chain = copyChain(i);
    if (chain.length) box.appendChild(el('p', { cls: 'gs-note', text: copyNote(i, chain, w) }));
    if (!w) box.appendChild(el('p', { cls: 'gs-note', text: 'Not drawn on any level.' }));
    else if (w[0] !== cur.level) {
      box.appendChild(el('p', { cls: 'gs-note' }, 'Drawn here as context; it lives in ',
        el('button', { cls: 'gs-link', type: 'button', text: level(w[0]).title, on: function () { goNode(i); } }), '.'));
    }
  }

  function copyChain(i) {  // [[copy number, fold], ...]: the folds node i is a copy in, outer first
    var out = [], k = i;
    while (P.ck[k] && out.length < 64) {
      out.push([P.ck[k], P.cg[k]]);
      if (P.tw[k] === null) break;
      k += P.tw[k];
    }
    return out;
  }

  function copyText(c) { return 'copy ' + c[0] + ' of ' + group(c[1]).rp; }

  function copyNote(i, chain, w) {
    var t = chain.map(function (c) { return copyText(c) + ' of ' + groupTitle(c[1]); }).join(', in it ');
    var shown = chain.map(function (c) { var u = group(c[1]).uk; return u ? 'copy ' + u : 'one copy'; });
    t = t.charAt(0).toUpperCase() + t.slice(1) + '. ' + (chain.length > 1 ? 'Their levels draw ' +
      shown.join(' and ') : 'Its level draws ' + shown[0]);
    if (w && cur.els.has(i)) t += '; this node is drawn here too, beside that copy.';
    else if (w && w[1] >= 0 && node(w[1]).kind !== node(i).kind) t += ': the highlighted node is the counterpart of the op that made it.';
    else t += ': the highlighted node is its counterpart there.';
    return t + ' The values shown here are its own.';
  }

  function tensorProps(d, box) {
    box.appendChild(props([
      ['shape', shapeText(d.shape)], ['dtype', d.dtype], ['device', d.device],
      ['is_leaf', yesNo(d.is_leaf)], ['requires_grad', yesNo(d.requires_grad)],
      ['retains_grad', yesNo(d.retains_grad)], ['grad_fn', d.grad_fn], ['version', d.version],
      ['aliases', d.aliases && d.aliases.length ? d.aliases.join(', ') : null],
      ['reached', d.reached === false ? 'no: backward never reached it' : null]
    ]));
    box.appendChild(el('h3', { text: 'gradient' }));
    var g = d.grad;
    box.appendChild(props([
      ['.grad', gradText(g)], ['numel', g ? g[0] : null], ['norm', g ? fmt(g[1]) : null],
      ['non-finite', g && g[4] ? 'yes: NaN or Inf inside' : null],
      ['set by call', d.grad_call]
    ]));
    if (d.history.length) box.appendChild(history(d.history));
  }

  function history(rows) {
    var wrap = el('div');
    var norms = rows.map(function (r) { return typeof r[1] === 'number' ? r[1] : null; });
    wrap.appendChild(el('div', { cls: 'gs-note', text: 'history (' + rows.length + ' backward calls changed .grad): ' +
      rows.map(function (r) { return gradText(r); }).join(' → ') }));
    var ok = norms.filter(function (x) { return x !== null; });
    if (ok.length >= 2) wrap.appendChild(sparkline(norms));
    return wrap;
  }

  function sparkline(values) {
    var w = 220, h = 40, pad = 4, ok = values.filter(function (x) { return x !== null; });
    var lo = Math.min.apply(null, ok), hi = Math.max.apply(null, ok), span = hi - lo || 1;
    var svg = svgEl('svg', { width: w, height: h, 'class': 'gs-spark', role: 'img',
                             'aria-label': 'gradient norm after each call' });
    var pts = [];
    values.forEach(function (v, k) {
      if (v === null) return;
      var x = pad + (values.length > 1 ? k * (w - 2 * pad) / (values.length - 1) : 0);
      var y = h - pad - (v - lo) * (h - 2 * pad) / span;
      pts.push(x.toFixed(1) + ',' + y.toFixed(1));
      svg.appendChild(svgEl('circle', { cx: x.toFixed(1), cy: y.toFixed(1), r: 2 }));
    });
    svg.insertBefore(svgEl('polyline', { points: pts.join(' ') }), svg.firstChild);
    return svg;
  }

  function opProps(d, box) {
    var attrs = d.attrs ? Object.keys(d.attrs).sort().map(function (k) { return k + '=' + d.attrs[k]; }).join(', ') : null;
    box.appendChild(props([
      ['backward node', d.label], ['forward op', d.op], ['attrs', attrs || null],
      ['freed', d.freed ? 'yes: backward freed its saved tensors' : null],
      ['custom', d.custom ? 'custom autograd.Function' : null],
      ['opaque', d.opaque ? 'its inside is hidden' : null],
      ['saved memory', d.bytes ? bytesText(d.bytes) : null]
    ]));
    if (d.saved.length) box.appendChild(savedTable(d.saved));
  }

  function savedTable(saved) {
    var wrap = el('div', null, el('h3', { text: 'saved tensors (' + saved.length + ')' }));
    var t = el('table', { cls: 'gs-saved' },
      el('tr', null, el('th', { text: 'name' }), el('th', { text: 'shape' }), el('th', { text: 'dtype' }),
        el('th', { text: 'version saved → now' }), el('th', { text: 'status' })));
    saved.forEach(function (pair) {
      var s = V[pair[0]] || {}, ref = pair[1];
      var name = s.name + (ref >= 0 ? ' = ' + title(ref) : (s.tensor_name ? ' = ' + s.tensor_name : ''));
      var cell = ref >= 0 ? el('button', { cls: 'gs-link', type: 'button', text: name, on: function () { goNode(ref); } }) : name;
      var known = function (v) { return v !== null && v !== undefined; };
      // an unchanged tensor's saved version is its version now (torch only records a mismatch)
      var vers = known(s.version_saved) ? 'v' + s.version_saved + ' → ' + (known(s.version_now) ? 'v' + s.version_now : '?')
        : (known(s.version_now) ? 'v' + s.version_now + (s.status === 'ok' ? ' (unchanged)' : '') : '?');
      t.appendChild(el('tr', { cls: s.status === 'stale' ? 'gs-stale' : '' }, el('td', null, cell),
        el('td', { text: shapeText(s.shape) }), el('td', { text: s.dtype || '' }), el('td', { text: vers }),
        el('td', { text: s.status || '' })));
    });
    wrap.appendChild(t);
    return wrap;
  }

  function moduleSection(path, box) {
    if (!path) return;
    box.appendChild(el('h3', { text: 'module' }));
    box.appendChild(el('div', { cls: 'gs-mono', text: path }));
  }

  function sourceSection(file, line, related, box) {
    if (!file) return;
    box.appendChild(el('h3', { text: 'source' }));
    box.appendChild(el('div', { cls: 'gs-mono', text: file + ':' + (line === null ? '?' : line) }));
    var code = excerpt(file, line, related);
    if (code) box.appendChild(code);
  }

  function excerpt(file, line, related) {
    var lines = D.sources[file];
    if (!lines || line === null || line === undefined) return null;
    var pre = el('pre', { cls: 'gs-code' }), any = false;
    for (var k = line - D.context; k <= line + D.context; k++) {
      var text = lines[String(k)];
      if (text === undefined) continue;
      any = true;
      var cls = k === line ? 'gs-line-here' : (related.indexOf(k) >= 0 ? 'gs-line-rel' : '');
      pre.appendChild(el('span', { cls: cls, 'data-line': String(k), text: String(k).padStart(4) + '  ' + text }));
    }
    return any ? pre : null;
  }

  function nodeFindings(i, shown, box) {
    D.findings.forEach(function (f, k) {
      if (marks(f).indexOf(i) < 0 || k === shown) return;
      box.appendChild(el('h3', { text: 'finding' }));
      box.appendChild(findingCard(f, k));
    });
  }

  function inspectGroup(g) {
    var G = group(g), box = side.inspector;
    box.replaceChildren();
    box.appendChild(el('h2', { text: groupTitle(g) }));
    box.appendChild(el('div', null, el('span', { cls: 'gs-chip', text: G.rp > 1 ? 'fold ×' + G.rp : 'group' })));
    box.appendChild(props([
      ['module', S[G.md]], ['ops inside', G.ops], ['nodes inside', G.n],
      ['repeats', G.rp > 1 ? G.rp + ' identical copies; its level draws ' + (G.uk ? 'copy ' + G.uk : 'one') + ' (' + G.un + ' nodes)' : null],
      ['saved memory', G.mb ? bytesText(G.mb) : null],
      ['largest grad norm', G.gn === null ? null : fmt(G.gn)],
      ['findings inside', G.fk.length ? G.fk.join(', ') : null]
    ]));
    if (G.pa.length) {
      box.appendChild(el('h3', { text: 'parameters (' + G.np + ')' }));
      var ul = el('ul', { cls: 'gs-mono' });
      G.pa.forEach(function (p) { ul.appendChild(el('li', { text: p[0] + ' ' + shapeText(V[p[1]]) })); });
      if (G.np > G.pa.length) ul.appendChild(el('li', { text: '… ' + (G.np - G.pa.length) + ' more (search finds them)' }));
      box.appendChild(ul);
    }
    if (G.ch >= 0 && G.ch !== cur.level) box.appendChild(el('button', { type: 'button', text: 'open ' + level(G.ch).title, on: function () { go(G.ch, ''); } }));
  }

  function inspectLevel() {
    var box = side.inspector, g = parentGroup(cur.level);
    if (g >= 0) { inspectGroup(g); box.insertBefore(el('h3', { text: 'this level' }), box.firstChild); return; }
    box.replaceChildren(el('h3', { text: 'this level' }), el('h2', { text: level(cur.level).title }),
      props([['nodes in the graph', N], ['levels', D.levels.length], ['graph', D.meta.graph],
             ['backward calls', D.meta.calls && D.meta.calls.length ? D.meta.calls.join(', ') : null]]),
      el('p', { cls: 'gs-note', text: 'Click a node to inspect it, a group or fold to open it. ' +
        'Drag or arrow keys pan; wheel, pinch or +/- zoom; 0 (or fit) shows the whole level; ' +
        '/ searches; u goes up.' }));
  }

  /* -- findings --------------------------------------------------------------------------------- */

  function renderFindings() {
    var box = side.findings, F = D.findings;
    var counts = {};
    F.forEach(function (f) { counts[f.severity] = (counts[f.severity] || 0) + 1; });
    var head = F.length ? 'findings (' + F.length + ': ' + Object.keys(counts).map(function (s) { return counts[s] + ' ' + s; }).join(', ') + ')' : 'findings: none';
    box.replaceChildren(el('h3', { text: head }));
    var ol = el('ol');
    F.forEach(function (f, k) {
      ol.appendChild(el('li', { cls: 'gs-' + f.severity, 'data-finding': String(k), on: function () { openFinding(k); } },
        el('span', { cls: 'gs-sev gs-' + f.severity, text: f.severity }), el('b', { text: f.kind }), ' ',
        el('span', { cls: 'gs-note', text: baseName(f.file) + ':' + (f.line === null ? '?' : f.line) }),
        el('div', { cls: 'gs-message', text: f.message }),
        el('div', { cls: 'gs-hint' }, el('b', { text: 'fix: ' }), el('span', { text: f.hint }))));
    });
    box.appendChild(ol);
  }

  function marks(f) {  // every node the finding names (its node first)
    return f.nodes && f.nodes.length ? f.nodes : (f.node >= 0 ? [f.node] : []);
  }

  function openFinding(k) {
    var f = D.findings[k], w = f.node >= 0 ? where(f.node) : null;
    go(w ? w[0] : cur.level, 'f' + k);
  }

  function markFinding(sel) {
    side.findings.querySelectorAll('li').forEach(function (li) {
      li.classList.toggle('gs-active', sel === 'f' + li.getAttribute('data-finding'));
    });
  }

  function findingCard(f, k, brief) {  // brief: the list above shows its message and fix
    var rel = (f.related || []).filter(function (r) { return r[0] === f.file; }).map(function (r) { return r[1]; });
    var card = el('div', { cls: 'gs-card gs-' + f.severity, 'data-finding': String(k) },
      el('div', null, el('span', { cls: 'gs-sev gs-' + f.severity, text: f.severity }), el('b', { text: f.kind })));
    if (!brief) {
      card.appendChild(el('div', { cls: 'gs-message', text: f.message }));
      card.appendChild(el('div', { cls: 'gs-hint' }, el('b', { text: 'fix: ' }), el('span', { text: f.hint })));
    } else {
      var n = marks(f).length;
      card.appendChild(el('div', { cls: 'gs-legend-mark' },
        el('span', { cls: 'gs-swatch gs-swatch-sel' }), ' outlined: the node' + (n > 1 ? 's' : '') +
        ' this finding names (' + n + ')' + (n > 1 ? '; the one inspected below glows' : '')));
    }
    if (f.file) {
      card.appendChild(el('div', { cls: 'gs-mono', text: f.file + ':' + (f.line === null ? '?' : f.line) }));
      var code = excerpt(f.file, f.line, rel);
      if (code) card.appendChild(code);
    }
    (f.related || []).forEach(function (r) {
      card.appendChild(el('div', { cls: 'gs-note gs-mono', text: 'related: ' + r[0] + ':' + r[1] + (r[2] ? ' (' + r[2] + ')' : '') }));
      var code = r[0] === f.file && Math.abs(r[1] - f.line) <= D.context ? null : excerpt(r[0], r[1], [r[1]]);
      if (code) card.appendChild(code);
    });
    return card;
  }

  function showFinding(k) {  // its nodes outlined, its lines in the inspector (the list has the text)
    var f = D.findings[k], box = side.inspector;
    if (f.node >= 0) { highlight(drawnRef(f.node)); inspectNode(f.node, k); } else box.replaceChildren();
    marks(f).forEach(function (i) {
      var ref = drawnRef(i), g = ref === null ? null : cur.els.get(ref);
      if (g) g.classList.add('gs-mark');
    });
    box.insertBefore(findingCard(f, k, true), box.firstChild);
  }

  /* -- search ------------------------------------------------------------------------------------ */

  function buildHaystack() {
    haystack = new Array(N);
    for (var i = 0; i < N; i++) {
      var f = prof(i, 'file'), ln = prof(i, 'line'), src = f && D.sources[f] ? D.sources[f][String(ln)] : null;
      haystack[i] = [nameOf(i) || '', S[C.md[i]] || '', S[C.lb[i]] || '', prof(i, 'op') || '',
        (f ? baseName(f) + ':' + ln : ''), (src || '').trim(), (V[C.al[i]] || []).join(' ')].map(function (s) { return dotted(String(s).toLowerCase()); });
    }
  }

  function score(fields, q) {  // lower is better; null: no match
    var best = null;
    fields.forEach(function (s, k) {
      if (!s) return;
      var at = s.indexOf(q);
      if (at < 0) return;
      var sc = s === q ? 0 : (s.endsWith('.' + q) ? 1 : (at === 0 ? 2 : 3));
      sc += [0, 0.5, 1, 1, 1.5, 2, 1][k];
      if (best === null || sc < best) best = sc;
    });
    return best;
  }

  function dotted(s) {  // model[2].weight reads as model.2.weight: either spelling finds it
    return s.replace(/\[(\d+)\]/g, '.$1');
  }

  function search(q) {
    q = dotted(q.trim().toLowerCase());
    if (!q) return [];
    if (!haystack) buildHaystack();
    var hits = [];
    for (var i = 0; i < N; i++) {
      var sc = score(haystack[i], q);
      if (sc !== null) hits.push([sc, i, 'n']);
    }
    D.groups.forEach(function (G, g) {
      var sc = score([String(S[G.nm] || '').toLowerCase(), String(S[G.md] || '').toLowerCase()], q);
      if (sc !== null) hits.push([sc + 0.25, g, 'g']);
    });
    hits.sort(function (a, b) { return a[0] - b[0] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : a[1] - b[1]); });
    return hits;
  }

  var results = { list: [], active: 0 };

  function renderResults(q) {
    var box = document.getElementById('gs-results');
    var hits = search(q);
    results.list = hits.slice(0, 50);
    results.active = 0;
    box.replaceChildren();
    if (!q.trim()) { box.hidden = true; return; }
    if (!hits.length) box.appendChild(el('li', { cls: 'gs-more', text: 'no node matches' }));
    results.list.forEach(function (h, k) { box.appendChild(resultItem(h, k)); });
    if (hits.length > results.list.length) box.appendChild(el('li', { cls: 'gs-more', text: (hits.length - results.list.length) + ' more: type more to narrow' }));
    box.hidden = false;
    markActive();
  }

  function resultItem(h, k) {
    var main, sub;
    if (h[2] === 'g') {
      var G = group(h[1]);
      main = groupTitle(h[1]);
      sub = (G.rp > 1 ? 'fold ×' + G.rp : 'group') + ' · in ' + level(G.lv).title;
    } else {
      var d = node(h[1]), w = where(h[1]), c = copyChain(h[1]).map(copyText).join(', ');
      main = d.name || d.label || d.id;
      sub = [d.kind === 'op' ? (d.op ? 'op ' + d.op : 'op') : d.role, d.module, d.file ? baseName(d.file) + ':' + d.line : null,
             w ? 'in ' + level(w[0]).title : 'not drawn', c || null]
        .filter(Boolean).join(' · ');
    }
    return el('li', { 'data-k': String(k), on: function () { choose(k); } },
      el('div', { cls: 'gs-mono', text: main }), el('div', { cls: 'gs-sub', text: sub }));
  }

  function markActive() {
    document.querySelectorAll('#gs-results li[data-k]').forEach(function (li) {
      li.classList.toggle('gs-active', Number(li.getAttribute('data-k')) === results.active);
    });
  }

  function choose(k) {
    var h = results.list[k];
    if (!h) return;
    document.getElementById('gs-results').hidden = true;
    if (h[2] === 'g') goGroup(h[1]); else goNode(h[1]);
  }

  function onSearchKey(ev) {
    var n = results.list.length;
    if (ev.key === 'ArrowDown' && n) { results.active = (results.active + 1) % n; markActive(); ev.preventDefault(); }
    else if (ev.key === 'ArrowUp' && n) { results.active = (results.active + n - 1) % n; markActive(); ev.preventDefault(); }
    else if (ev.key === 'Enter') { choose(results.active); ev.preventDefault(); }
    else if (ev.key === 'Escape') { document.getElementById('gs-results').hidden = true; ev.target.blur(); }
  }

  /* -- memory: what the graph holds for backward, ranked (D.memory: _memory.py) ----------------- */

  function showTab(name) {
    document.querySelectorAll('#gs-tabs button').forEach(function (b) {
      b.setAttribute('aria-selected', String(b.getAttribute('data-tab') === name));
    });
    side.findings.hidden = name !== 'findings';
    side.memory.hidden = name !== 'memory';
  }

  function share(b, whole) {
    if (!whole) return '';
    var p = 100 * b / whole;
    return p > 0 && p < 1 ? '<1%' : Math.round(p) + '%';
  }

  function memoryRow(text, sub, b, whole, i) {
    var li = el('li', { 'data-node': String(i), title: i >= 0 ? 'open its node' : '', on: function () { if (i >= 0) goNode(i); } },
      el('div', null, el('span', { cls: 'gs-bytes', text: bytesText(b) }), el('span', { cls: 'gs-note', text: share(b, whole) })),
      el('div', { cls: 'gs-mono', text: text }));
    if (sub) li.appendChild(el('div', { cls: 'gs-note', text: sub }));
    var bar = el('div', { cls: 'gs-bar' });
    bar.style.width = (whole ? Math.max(1, Math.round(100 * b / whole)) : 0) + '%';
    li.appendChild(bar);
    return li;
  }

  function renderMemory() {
    var box = side.memory, M = D.memory;
    if (!M) { box.replaceChildren(el('div', { cls: 'gs-note', text: 'no saved-tensor figures for this graph' })); return; }
    var whole = M.saved;
    box.replaceChildren(el('h3', { text: 'saved for backward: ' + bytesText(M.saved) }),
      el('div', { cls: 'gs-note', text: 'each storage counted once, at the backward call: activations ' + bytesText(M.activation) +
        ', parameters ' + bytesText(M.param) + ', inputs ' + bytesText(M.input) }));
    var lines = el('ol', { cls: 'gs-mem-lines' });
    M.lines.forEach(function (r) {
      var src = r[0] && D.sources[r[0]] ? D.sources[r[0]][String(r[1])] : null;
      var where = (r[0] ? baseName(r[0]) + ':' + r[1] : '(no source line)') + (src ? '  ' + src.trim() : '');
      lines.appendChild(memoryRow(where, (r[5] || []).join(', ') + (r[4] ? ' in ' + r[4] : ''), r[2], whole, r[3]));
    });
    box.appendChild(el('h3', { text: 'by line' }));
    box.appendChild(M.lines.length ? lines : el('div', { cls: 'gs-note', text: 'no activation saved' }));
    var mods = el('ol', { cls: 'gs-mem-modules' });
    M.modules.forEach(function (r) { mods.appendChild(memoryRow(r[0] || '(outside any module)', null, r[1], whole, r[2])); });
    box.appendChild(el('h3', { text: 'by module (its own ops)' }));
    box.appendChild(mods);
    if (M.checkpoint.length) {
      var ck = el('ol', { cls: 'gs-mem-checkpoint' });
      M.checkpoint.forEach(function (r) {
        var what = r[4] > 1 ? 'each of ' + r[0] + ' (' + r[4] + ')' : r[0];
        ck.appendChild(memoryRow(what, 'frees this; recomputes ' + r[2] + ' ops in backward', r[1], whole, r[3]));
      });
      box.appendChild(el('h3', { text: 'checkpointing would free' }));
      box.appendChild(ck);
    }
  }

  /* -- overlays ------------------------------------------------------------------------------------ */

  var RAMP = { grad: ['#2c7bb6', '#abd9e9', '#ffffbf', '#fdae61', '#d7191c'],
               mem: ['#fff5eb', '#fdd0a2', '#fd8d3c', '#d94801', '#8c2d04'] };
  var PALETTE = ['#8dd3c7', '#ffffb3', '#bebada', '#fb8072', '#80b1d3', '#fdb462', '#b3de69',
                 '#fccde5', '#bc80bd', '#ccebc5', '#ffed6f', '#a6cee3', '#b2df8a', '#fb9a99',
                 '#fdbf6f', '#cab2d6', '#e5d8bd', '#c7e9c0', '#fdd0a2', '#d9d9d9'];

  function overlayValue(mode, ref) {
    if (mode === 'grad') {
      var n = ref < 0 ? group(-1 - ref).gn : (C.gr[ref] ? C.gr[ref][1] : null);
      return typeof n === 'number' && n > 0 ? Math.log10(n) : null;
    }
    var b = ref < 0 ? group(-1 - ref).mb : prof(ref, 'bytes');
    return b > 0 ? Math.log10(b) : null;
  }

  function rampColour(stops, t) {
    t = Math.max(0, Math.min(1, t)) * (stops.length - 1);
    var k = Math.min(Math.floor(t), stops.length - 2), f = t - k;
    var a = hex(stops[k]), b = hex(stops[k + 1]);
    return 'rgb(' + [0, 1, 2].map(function (c) { return Math.round(a[c] + (b[c] - a[c]) * f); }).join(',') + ')';
  }

  function hex(h) { return [1, 3, 5].map(function (k) { return parseInt(h.slice(k, k + 2), 16); }); }

  function paint(g, colour) {
    g.querySelectorAll('polygon, path, ellipse').forEach(function (s) {
      if (s.getAttribute('fill') === 'none') return;
      s.style.fill = colour || '';
    });
  }

  function applyOverlay() {
    var mode = cur.overlay, legend = document.getElementById('gs-legend');
    cur.els.forEach(function (g) { paint(g, ''); });
    legend.replaceChildren();
    legend.hidden = !mode;
    if (mode === 'module') return moduleOverlay(legend);
    if (!mode) return;
    var vals = new Map(), lo = Infinity, hi = -Infinity;
    cur.els.forEach(function (g, ref) {
      var v = overlayValue(mode, ref);
      if (v === null) return;
      vals.set(ref, v); lo = Math.min(lo, v); hi = Math.max(hi, v);
    });
    cur.els.forEach(function (g, ref) {
      paint(g, vals.has(ref) ? rampColour(RAMP[mode], hi > lo ? (vals.get(ref) - lo) / (hi - lo) : 0.5) : '#f1f2f4');
    });
    rampLegend(legend, mode, lo, hi, vals.size);
  }

  function rampLegend(legend, mode, lo, hi, count) {
    var what = mode === 'grad' ? 'gradient norm (log scale; a group: its largest)' : 'saved-tensor memory, each storage once (log scale; a group: its sum)';
    legend.appendChild(el('div', { text: what }));
    if (!count) { legend.appendChild(el('div', { cls: 'gs-note', text: 'no node on this level has one' })); return; }
    var bar = el('div', { cls: 'gs-ramp' });
    bar.style.background = 'linear-gradient(to right,' + RAMP[mode].join(',') + ')';
    legend.appendChild(bar);
    var show = function (v) { return mode === 'grad' ? fmt(Math.pow(10, v)) : bytesText(Math.pow(10, v)); };
    legend.appendChild(el('div', { cls: 'gs-ends' }, el('span', { text: show(lo) }), el('span', { text: show(hi) })));
    legend.appendChild(el('div', { cls: 'gs-note', text: 'grey: none' }));
  }

  function moduleOf(ref) { return ref < 0 ? S[group(-1 - ref).md] : S[C.md[ref]]; }

  function moduleOverlay(legend) {  // one colour per module one step below this level's own
    var keys = new Map(), depth = commonModule().length + 1;
    cur.els.forEach(function (g, ref) {
      var m = moduleOf(ref);
      if (!m) { paint(g, '#ffffff'); return; }
      var key = m.split('.').slice(0, depth).join('.');
      if (!keys.has(key)) keys.set(key, PALETTE[Math.min(keys.size, PALETTE.length - 1)]);
      paint(g, keys.get(key));
    });
    legend.appendChild(el('div', { text: 'module' + (keys.size >= PALETTE.length ? ' (the last colour: all others)' : '') }));
    Array.from(keys.keys()).sort().forEach(function (key) {
      var sw = el('span', { cls: 'gs-swatch' });
      sw.style.background = keys.get(key);
      legend.appendChild(el('div', { cls: 'gs-mono' }, sw, key));
    });
  }

  function commonModule() {  // the path every module drawn here (context aside) starts with
    var paths = [];
    cur.els.forEach(function (g, ref) {
      var m = moduleOf(ref);
      if (m && !g.classList.contains('gs-boundary')) paths.push(m.split('.'));
    });
    if (!paths.length) return [];
    var out = [];
    for (var k = 0; paths.every(function (p) { return p.length > k && p[k] === paths[0][k]; }); k++) out.push(paths[0][k]);
    return out;
  }

  /* -- input: pointer, wheel, keyboard ------------------------------------------------------------ */

  var dragged = false, down = null;

  function onWheel(ev) {
    if (!cur.pz) return;
    ev.preventDefault();
    var svg = view.querySelector('svg');
    var p = svg.createSVGPoint();
    p.x = ev.clientX; p.y = ev.clientY;
    p = p.matrixTransform(svg.getScreenCTM().inverse());
    var mouse = ev.deltaMode !== 0 || (ev.deltaX === 0 && Math.abs(ev.deltaY) >= 40 && Number.isInteger(ev.deltaY));
    if (ev.ctrlKey || ev.metaKey) cur.pz.zoomAtPointBy(Math.exp(-ev.deltaY * 0.01), { x: p.x, y: p.y });  // pinch
    else if (mouse) cur.pz.zoomAtPointBy(ev.deltaY < 0 ? 1.25 : 0.8, { x: p.x, y: p.y });
    else cur.pz.panBy({ x: -ev.deltaX, y: -ev.deltaY });  // two-finger scroll on a trackpad
  }

  function onKey(ev) {
    var t = ev.target;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA')) return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey || !cur.pz) return;
    var step = 80, keys = {
      ArrowLeft: function () { cur.pz.panBy({ x: step, y: 0 }); },
      ArrowRight: function () { cur.pz.panBy({ x: -step, y: 0 }); },
      ArrowUp: function () { cur.pz.panBy({ x: 0, y: step }); },
      ArrowDown: function () { cur.pz.panBy({ x: 0, y: -step }); },
      '+': function () { cur.pz.zoomBy(1.25); }, '=': function () { cur.pz.zoomBy(1.25); },
      '-': function () { cur.pz.zoomBy(0.8); }, '0': fitView,
      '/': function () { document.getElementById('gs-search').focus(); },
      u: function () { var p = level(cur.level).parent; if (p >= 0) go(p, ''); },
      Escape: function () { replace(cur.level, ''); }
    };
    if (keys[ev.key]) { keys[ev.key](); ev.preventDefault(); }
  }

  function wire() {
    view.addEventListener('click', onPictureClick);
    view.addEventListener('wheel', onWheel, { passive: false });
    view.addEventListener('pointerdown', function (e) { down = [e.clientX, e.clientY]; dragged = false; });
    view.addEventListener('pointermove', function (e) {
      if (down && Math.abs(e.clientX - down[0]) + Math.abs(e.clientY - down[1]) > 5) dragged = true;
    });
    view.addEventListener('pointerup', function () { down = null; });
    document.addEventListener('keydown', onKey);
    var input = document.getElementById('gs-search');
    input.addEventListener('input', function () { renderResults(input.value); });
    input.addEventListener('keydown', onSearchKey);
    document.getElementById('gs-overlay').addEventListener('change', function (e) {
      cur.overlay = e.target.value; applyOverlay();
    });
    document.getElementById('gs-fit').addEventListener('click', fitView);
    document.querySelectorAll('#gs-tabs button').forEach(function (b) {
      b.addEventListener('click', function () { showTab(b.getAttribute('data-tab')); });
    });
    window.addEventListener('hashchange', function () { apply(location.hash); });
    new ResizeObserver(function () {
      if (!view.clientWidth || !view.clientHeight) return;
      if (cur.pz) cur.pz.resize(); else startPanZoom();
    }).observe(view);
  }

  wire();
  renderFindings();
  renderMemory();
  cur.first = !/\//.test(location.hash);  // opened on a level, no node chosen: readableStart
  apply(location.hash);
  if (window.performance && performance.mark) {  // for benchmarks/bench_explorer.py
    performance.mark('gs-ready');
    requestAnimationFrame(function () { requestAnimationFrame(function () { performance.mark('gs-painted'); }); });
  }
  window.graphscopeExplorer = { data: D, go: go, search: search, node: node, state: cur };
})();
