// Label bookkeeping shared by the parsers: a growable int list and a label → class-index dictionary.
import { MAX_CLASSES, invalidDataset } from './limits.ts';

/** Append-only int32 list (labels are kept in memory: 4 bytes per example, far below the feature data). */
export class IntList {
  private data = new Int32Array(1024);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = value;
  }

  toInt32Array(): Int32Array {
    return this.data.slice(0, this.length);
  }
}

const isNumeric = (s: string) => s.trim() !== '' && Number.isFinite(Number(s));

/** Sorted class names: numeric order when every name is a number, else code-unit order. */
export function sortClassNames(names: Iterable<string>): string[] {
  const list = [...names];
  if (list.every(isNumeric)) return list.sort((a, b) => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0));
  return list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Gives each distinct label a provisional key in order of appearance; `finish` sorts them into class indices. */
export class LabelDictionary {
  private readonly keys = new Map<string, number>();

  keyOf(label: string): number {
    let key = this.keys.get(label);
    if (key === undefined) {
      if (this.keys.size >= MAX_CLASSES) throw invalidDataset(`more than ${MAX_CLASSES} distinct labels`);
      key = this.keys.size;
      this.keys.set(label, key);
    }
    return key;
  }

  /** classNames, plus `toClass(keys)` rewriting provisional keys into class indices. */
  finish(): { classNames: string[]; toClass: (keys: Int32Array) => Int32Array } {
    const classNames = sortClassNames(this.keys.keys());
    const byKey = new Int32Array(this.keys.size);
    classNames.forEach((name, index) => {
      byKey[this.keys.get(name)!] = index;
    });
    return { classNames, toClass: (keys) => keys.map((k) => byKey[k]) };
  }
}
