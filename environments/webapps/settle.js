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
  const end = (token) => () => setTimeout0(() => { state.inflight.delete(token); state.lastMutation = performance.now(); }, 0);
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
  // A form submitted in this tab navigates in a LATER task (Chromium plans the submission; 'navigate' fires
  // only then), so a settle right after the click would find nothing going on: the submission itself counts
  // as a navigation on its way, unless a handler prevented it (read when settling) or it opens elsewhere.
  // form.submit() fires no event: it is wrapped. Like 'navigate', it stops counting after 2 s.
  state.submits = [];
  const planned = (form, submitter) => {
    const target = (submitter && submitter.getAttribute('formtarget')) || form.target;
    const method = ((submitter && submitter.getAttribute('formmethod')) || form.method || '').toLowerCase();
    return !opensTab(target) && method !== 'dialog';
  };
  document.addEventListener('submit', (e) => {
    if (planned(e.target, e.submitter)) state.submits.push({ event: e, since: performance.now() });
  }, true);
  const submit0 = HTMLFormElement.prototype.submit;
  HTMLFormElement.prototype.submit = function (...args) {
    if (planned(this, null)) state.submits.push({ event: null, since: performance.now() });
    return submit0.apply(this, args);
  };
  document.addEventListener('click', (e) => {
    const link = e.target.closest && e.target.closest('a[href], area[href]');
    if (link && (opensTab(link.target) || e.ctrlKey || e.metaKey || e.shiftKey || e.button === 1)) state.popup = performance.now();
  }, true);
  document.addEventListener('submit', (e) => { if (opensTab(e.target.target)) state.popup = performance.now(); }, true);
  const open0 = window.open;
  window.open = function (...args) { state.popup = performance.now(); return open0.apply(this, args); };
  // Follow-up work the page has scheduled. A pending timeout due soon, a pending animation-frame or idle
  // callback or a short interval is work still to come; a source this script cannot follow (string
  // timers, workers, sockets, message channels, scheduler tasks) makes the page 'unknown' for good.
  // Only a page with nothing pending and nothing unknown may count as settled before the quiet period.
  state.timers = new Map();  // timeout id -> when it is due
  state.frames = new Set();  // pending requestAnimationFrame / requestIdleCallback ids
  state.intervals = new Map();  // interval id -> [start, period]
  state.unknown = false;
  const track = (fn, done) => (typeof fn === 'function' ? function (...a) { done(); return fn.apply(this, a); }
                                                          : (state.unknown = true, fn));
  const setTimeout0 = window.setTimeout, clearTimeout0 = window.clearTimeout;
  window.setTimeout = function (fn, delay, ...args) {
    let id;
    id = setTimeout0(track(fn, () => state.timers.delete(id)), delay, ...args);
    const ms = Number(delay) || 0;
    state.timers.set(id, performance.now() + (ms > 2147483647 ? 0 : ms));  // past 2**31 - 1 it fires at once
    return id;
  };
  const forget = (id) => { state.timers.delete(id); state.intervals.delete(id); };
  window.clearTimeout = function (id) { forget(id); return clearTimeout0(id); };
  const setInterval0 = window.setInterval, clearInterval0 = window.clearInterval;
  window.setInterval = function (fn, delay, ...args) {
    const id = setInterval0(track(fn, () => {}), delay, ...args);
    state.intervals.set(id, [performance.now(), Math.max(1, Number(delay) || 0)]);
    return id;
  };
  window.clearInterval = function (id) { forget(id); return clearInterval0(id); };
  const requestAnimationFrame0 = window.requestAnimationFrame;
  for (const [request, cancel] of [['requestAnimationFrame', 'cancelAnimationFrame'], ['requestIdleCallback', 'cancelIdleCallback']]) {
    const request0 = window[request], cancel0 = window[cancel];
    if (!request0) continue;
    window[request] = function (fn, ...args) {
      const key = {};
      const id = request0.call(window, track(fn, () => state.frames.delete(key)), ...args);
      key.id = id; key.kind = request; state.frames.add(key);
      return id;
    };
    window[cancel] = function (id) {
      for (const key of state.frames) if (key.id === id && key.kind === request) state.frames.delete(key);
      return cancel0.call(window, id);
    };
  }
  for (const name of ['Worker', 'SharedWorker', 'WebSocket', 'EventSource', 'MessageChannel', 'BroadcastChannel']) {
    const Original = window[name];
    if (!Original) continue;
    window[name] = new Proxy(Original, { construct(target, args, newTarget) {
      state.unknown = true; return Reflect.construct(target, args, newTarget); } });
  }
  if (window.scheduler && window.scheduler.postTask) {
    const postTask0 = window.scheduler.postTask.bind(window.scheduler);
    window.scheduler.postTask = (...args) => { state.unknown = true; return postTask0(...args); };
  }
  // Nothing left to run: no timeout due within `quiet`, no frame/idle callback, no short interval, no
  // unknown source, no image or font still loading, no frame or plugin (they post messages).
  const idle = (quiet) => {
    if (state.unknown || state.frames.size) return false;
    const now = performance.now();
    for (const due of state.timers.values()) if (due - now <= quiet) return false;
    for (const [start, period] of state.intervals.values()) {
      if (period <= quiet || period - ((now - start) % period) <= quiet) return false;
    }
    if (document.fonts && document.fonts.status === 'loading') return false;
    for (const img of document.images) if (!img.complete) return false;
    return !document.querySelector('iframe, frame, object, embed');
  };
  // Two rendered frames, or false after 100 ms (a page in a background tab renders none).
  const twoFrames = () => new Promise((resolve) => {
    const late = setTimeout0(() => resolve(false), 100);
    requestAnimationFrame0(() => requestAnimationFrame0(() => { clearTimeout0(late); resolve(true); }));
  });
  const finite = (a) => {
    if (a.playState !== 'running') return false;
    const end = a.effect && a.effect.getComputedTiming().endTime;
    return Number.isFinite(end);
  };
  const busy = (quiet) => {
    if (state.navigating && performance.now() - state.navigating < 2000) return 'navigation';
    // prevented or expired submissions never count again: drop them, so a long-lived page's list stays short
    state.submits = state.submits.filter((s) => !(s.event && s.event.defaultPrevented) && performance.now() - s.since < 2000);
    if (state.submits.length) return 'navigation';
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
      const check = () => (state.wheels > n || performance.now() - t0 >= timeout ? resolve(state.wheels > n) : setTimeout0(check, 5));
      check();
    }),
    settle: (quiet, timeout) => new Promise((resolve) => {
      const t0 = performance.now();
      const check = async () => {
        let b = busy(quiet);
        if (b === 'dom' && idle(quiet)) {
          // Nothing is left to run, so no further change is coming from the page itself: two frames for
          // the rendering steps' own callbacks (resize/intersection observers), and settled if still so.
          const seen = state.lastMutation;
          const rendered = await twoFrames();
          if (rendered && state.lastMutation === seen && idle(quiet) && busy(0) === null) b = null;
          else b = busy(quiet);
        }
        // visible canvas, video and frames change pixels this script cannot see: the caller compares
        // screenshots of the viewport region they cover (null: none is visible, no screenshots needed)
        const opaque = opaqueRegion();
        if (!b || b === 'popup' || performance.now() - t0 >= timeout) resolve({ busy: b, opaque, early: !b && idle(quiet), ms: performance.now() - t0 });
        else setTimeout0(check, 5);
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
