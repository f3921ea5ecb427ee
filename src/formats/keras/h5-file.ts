// Reading Keras HDF5 files with h5wasm (libhdf5 compiled to wasm; its Node build reads real files by path, so a
// weight file is never copied whole into the wasm heap). A file is read as a flat list of its datasets and groups
// under normalised paths: Keras 3 saved on Windows can name groups "layers\dense\vars", which is one HDF5 group
// whose name holds backslashes; normalising '\' to '/' makes it look like the nested groups every other file has.
import h5wasm from 'h5wasm/node';
import { AppError } from '../../errors.ts';

type H5File = InstanceType<typeof h5wasm.File>;
type H5Group = InstanceType<typeof h5wasm.Group>;
type H5Dataset = InstanceType<typeof h5wasm.Dataset>;

export interface H5Array {
  shape: number[];
  data: Float32Array;
}

/** An opened HDF5 file, read through normalised '/'-separated paths. Close it when done. */
export class H5Reader {
  private readonly groups = new Map<string, H5Group>();
  private readonly datasets = new Map<string, H5Dataset>();
  private childIndex: Map<string, Set<string>> | null = null;

  private constructor(private readonly file: H5File) {
    this.walk(file, '');
  }

  static async open(localPath: string, label: string): Promise<H5Reader> {
    await h5wasm.ready;
    let file: H5File;
    try {
      file = new h5wasm.File(localPath, 'r');
    } catch (err) {
      throw new AppError('INVALID_MODEL', `${label} is not a readable HDF5 file: ${(err as Error).message}`);
    }
    try {
      return new H5Reader(file);
    } catch (err) {
      file.close();
      throw err;
    }
  }

  private walk(group: H5Group, prefix: string): void {
    this.groups.set(prefix, group);
    for (const key of group.keys()) {
      const entity = group.get(key);
      const path = normalisePath(prefix ? `${prefix}/${key}` : key);
      if (entity instanceof h5wasm.Group) this.walk(entity, path);
      else if (entity instanceof h5wasm.Dataset) this.datasets.set(path, entity);
    }
  }

  close(): void {
    this.file.close();
  }

  /** A group, or a path under which normalised groups or datasets exist. */
  hasGroup(path: string): boolean {
    const p = normalisePath(path);
    return this.groups.has(p) || this.children(p).length > 0;
  }

  /** Names directly under a group (groups and datasets), in HDF5's (alphabetical) order. */
  children(path: string): string[] {
    if (!this.childIndex) {
      // Built from the normalised paths, so "layers\dense" (one group) lists under "layers" like nested groups do.
      this.childIndex = new Map();
      for (const p of [...this.groups.keys(), ...this.datasets.keys()]) {
        const segments = p.split('/');
        for (let i = 0; i < segments.length && p !== ''; i++) {
          const parent = segments.slice(0, i).join('/');
          const list = this.childIndex.get(parent) ?? new Set<string>();
          list.add(segments[i]);
          this.childIndex.set(parent, list);
        }
      }
    }
    return [...(this.childIndex.get(normalisePath(path)) ?? [])];
  }

  /** A string (or list of strings) attribute of a group, e.g. model_config or weight_names; null when absent. */
  attr(path: string, name: string): string | string[] | null {
    const group = this.groups.get(normalisePath(path));
    if (!group || !(name in group.attrs)) return null;
    const value = group.get_attribute(name, false);
    if (typeof value === 'string') return value;
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    if (Array.isArray(value)) return value.map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : String(v as string)));
    return typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean' ? String(value) : null;
  }

  hasDataset(path: string): boolean {
    return this.datasets.has(normalisePath(path));
  }

  /** Every dataset path under a group prefix, in file order. */
  datasetsUnder(prefix: string): string[] {
    const p = normalisePath(prefix);
    return [...this.datasets.keys()].filter((k) => k.startsWith(`${p}/`));
  }

  /** A numeric dataset as float32 (Keras writes float32; float16/float64 are converted). */
  array(path: string): H5Array {
    const ds = this.datasets.get(normalisePath(path));
    if (!ds) throw new AppError('INVALID_MODEL', `HDF5 dataset ${path} is missing`);
    const value = ds.value;
    const shape = ds.shape ?? [];
    let data: Float32Array;
    if (value instanceof Float32Array) data = value;
    else if (ArrayBuffer.isView(value) && !(value instanceof BigInt64Array) && !(value instanceof BigUint64Array))
      data = Float32Array.from(value as unknown as ArrayLike<number>);
    else if (typeof value === 'number') data = Float32Array.of(value);
    else throw new AppError('INVALID_MODEL', `HDF5 dataset ${path} is not a numeric array`);
    return { shape, data };
  }
}

/** '/'-separated, no leading, trailing or doubled slashes; Windows backslashes become '/'. */
export const normalisePath = (p: string) =>
  p
    .replace(/\\/g, '/')
    .replace(/\/+/g, '/')
    .replace(/^\/|\/$/g, '');
