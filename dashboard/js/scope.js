// A page's (or a part of a page's) cleanups: subscriptions, timers, charts; disposed on navigation or redraw.
export class Scope {
  constructor() {
    this.cleanups = [];
    this.alive = true;
  }
  /** Runs fn when the page is left. */
  add(fn) {
    if (this.alive) this.cleanups.push(fn);
    else fn();
  }
  interval(fn, ms) {
    const t = setInterval(fn, ms);
    this.add(() => clearInterval(t));
  }
  dispose() {
    this.alive = false;
    for (const fn of this.cleanups.splice(0)) fn();
  }
}
