// Picking 2-4 rows of a list (jobs, models) to open side by side on the compare page (#/compare?jobs=a,b…), as
// MLflow's run comparison does. The bar holds the button and says how many are ticked; each row gets a checkbox.
import { h } from './dom.js';

export const MIN_COMPARE = 2;
export const MAX_COMPARE = 4;

/** kind: the compare URL's key ('jobs' | 'models'); noun: 'job' | 'model'. */
export function compareBar({ kind, noun }) {
  const selected = new Set();
  const note = h('span', { class: 'muted', 'aria-live': 'polite' });
  const button = h(
    'button',
    { type: 'button', disabled: true, onClick: () => (location.hash = `#/compare?${kind}=${[...selected].join(',')}`) },
    `Compare selected ${noun}s`,
  );
  const update = () => {
    const n = selected.size;
    button.disabled = n < MIN_COMPARE || n > MAX_COMPARE;
    note.textContent =
      n === 0
        ? `Tick ${MIN_COMPARE} to ${MAX_COMPARE} ${noun}s to compare them side by side.`
        : n > MAX_COMPARE
          ? `${n} selected: compare at most ${MAX_COMPARE}.`
          : `${n} ${noun}${n === 1 ? '' : 's'} selected.`;
  };
  update();
  return {
    el: h('div', { class: 'compare-bar' }, button, ' ', note),
    /** A checkbox for one row; `label` names the row for screen readers ("job 1a2b3c4d"). */
    checkbox(id, label) {
      return h('input', {
        type: 'checkbox',
        'aria-label': `Compare ${label}`,
        checked: selected.has(id),
        onChange: (e) => {
          if (e.target.checked) selected.add(id);
          else selected.delete(id);
          update();
        },
      });
    },
  };
}
