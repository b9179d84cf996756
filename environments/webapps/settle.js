// Installed in every document by BrowserEnvironment: observes whether the page is still changing.
(() => {
  if (window.__guiAgent) return;
  const state = { lastMutation: performance.now(), navigating: 0 };
  const watch = () => new MutationObserver(() => { state.lastMutation = performance.now(); })
    .observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  watch();
  // scrolling (wheel, keyboard, smooth scroll) moves pixels without a mutation: count it as activity
  window.addEventListener('scroll', () => { state.lastMutation = performance.now(); }, { capture: true, passive: true });
  state.wheels = 0;  // wheel input reaches the page asynchronously; the caller waits to see it arrive
  window.addEventListener('wheel', () => { state.wheels += 1; state.lastMutation = performance.now(); },
                          { capture: true, passive: true });
  // fetch and XHR in flight, until the response body has arrived; the quiet period restarts when one
  // ends, so the page's handlers get to render the response before the page counts as settled
  // (a request open for over 2 s, a long poll or a stream, stops counting)
  state.inflight = new Set();
  const begin = () => { const token = { since: performance.now() }; state.inflight.add(token); return token; };
  const end = (token) => () => setTimeout(() => { state.inflight.delete(token); state.lastMutation = performance.now(); }, 0);
  const fetch0 = window.fetch;
  if (fetch0) {
    window.fetch = function (...args) {
      const done = end(begin());
      const p = fetch0.apply(this, args);
      p.then((r) => r.clone().arrayBuffer().then(done, done), done);
      return p;
    };
  }
  const send0 = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (...args) {
    this.addEventListener('loadend', end(begin()), { once: true });
    return send0.apply(this, args);
  };
  // a cross-document navigation started by the page (link, form, location): the document will go away
  // (a cancelled navigation, e.g. a 204 response, stops counting after 2 s)
  if (window.navigation) {
    window.navigation.addEventListener('navigate', (e) => {
      if (!e.destination.sameDocument && !e.downloadRequest) state.navigating = performance.now();
    });
  }
  // a new tab on its way (target=_blank link or form, window.open): the caller waits for the browser's event
  const opensTab = (t) => t && t !== '_self' && t !== '_parent' && t !== '_top';
  document.addEventListener('click', (e) => {
    const link = e.target.closest && e.target.closest('a[href], area[href]');
    if (link && (opensTab(link.target) || e.ctrlKey || e.metaKey || e.shiftKey || e.button === 1)) state.popup = performance.now();
  }, true);
  document.addEventListener('submit', (e) => { if (opensTab(e.target.target)) state.popup = performance.now(); }, true);
  const open0 = window.open;
  window.open = function (...args) { state.popup = performance.now(); return open0.apply(this, args); };
  const finite = (a) => {
    if (a.playState !== 'running') return false;
    const end = a.effect && a.effect.getComputedTiming().endTime;
    return Number.isFinite(end);
  };
  const busy = (quiet) => {
    if (state.navigating && performance.now() - state.navigating < 2000) return 'navigation';
    if (state.popup) return 'popup';
    if (document.readyState !== 'complete') return 'loading';
    for (const t of state.inflight) if (performance.now() - t.since < 2000) return 'network';
    if (performance.now() - state.lastMutation < quiet) return 'dom';
    if (document.getAnimations && document.getAnimations().some(finite)) return 'animation';
    return null;
  };
  const describe = (el) => {
    let name = el.tagName.toLowerCase();
    if (el.id) name += '#' + el.id;
    const label = (el.getAttribute('aria-label') || el.innerText || el.value || '').trim().slice(0, 40);
    return label ? `${name} "${label}"` : name;
  };
  // The viewport rectangle [x0, y0, x1, y1] (CSS px) covering every visible canvas, video, frame or plugin,
  // or null. Hidden ones (display:none here or above, visibility:hidden, opacity 0, zero size, scrolled out
  // of view) cannot change what a screenshot shows, so they cost no pixel comparisons.
  const opaqueRegion = () => {
    let box = null;
    for (const el of document.querySelectorAll('canvas, video, iframe, embed, object')) {
      if (el.checkVisibility ? !el.checkVisibility({ opacityProperty: true, visibilityProperty: true })
                             : getComputedStyle(el).visibility === 'hidden') continue;
      const r = el.getBoundingClientRect();
      const x0 = Math.max(0, r.left), y0 = Math.max(0, r.top);
      const x1 = Math.min(window.innerWidth, r.right), y1 = Math.min(window.innerHeight, r.bottom);
      if (x1 <= x0 || y1 <= y0) continue;
      box = box ? [Math.min(box[0], x0), Math.min(box[1], y0), Math.max(box[2], x1), Math.max(box[3], y1)]
                : [x0, y0, x1, y1];
    }
    return box;
  };
  window.__guiAgent = {
    state,
    popupSeen: () => { state.popup = 0; },
    wheelSeen: (n, timeout) => new Promise((resolve) => {
      const t0 = performance.now();
      const check = () => (state.wheels > n || performance.now() - t0 >= timeout ? resolve(state.wheels > n) : setTimeout(check, 5));
      check();
    }),
    settle: (quiet, timeout) => new Promise((resolve) => {
      const t0 = performance.now();
      const check = () => {
        const b = busy(quiet);
        // visible canvas, video and frames change pixels this script cannot see: the caller compares
        // screenshots of the viewport region they cover (null: none is visible, no screenshots needed)
        const opaque = opaqueRegion();
        if (!b || b === 'popup' || performance.now() - t0 >= timeout) resolve({ busy: b, opaque, ms: performance.now() - t0 });
        else setTimeout(check, 10);
      };
      check();
    }),
    hit: (x, y) => {
      const el = document.elementFromPoint(x, y);
      if (!el) return null;
      const r = el.getBoundingClientRect();
      return { box: [r.left, r.top, r.right, r.bottom], name: describe(el) };
    },
  };
})();
