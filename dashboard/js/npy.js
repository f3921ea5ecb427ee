// Reads the first rows of a NumPy .npy file over HTTP without downloading the rest: the response body is read
// until the header and `rows` rows have arrived, then the download is canceled.

const TYPES = {
  '|u1': Uint8Array,
  '|i1': Int8Array,
  '<u2': Uint16Array,
  '<i2': Int16Array,
  '<u4': Uint32Array,
  '<i4': Int32Array,
  '<f4': Float32Array,
  '<f8': Float64Array,
  '<i8': BigInt64Array,
  '<u8': BigUint64Array,
  '|b1': Uint8Array,
};

/** Parses the .npy header at the start of `bytes`: { descr, shape, fortranOrder, dataOffset } or null if incomplete. */
export function parseNpyHeader(bytes) {
  if (bytes.length < 10) return null;
  if (bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY') throw new Error('not a .npy file');
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) return null;
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataOffset = 8 + lenBytes + headerLen;
  if (bytes.length < dataOffset) return null;
  const header = new TextDecoder('latin1').decode(bytes.subarray(8 + lenBytes, dataOffset));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shape = /'shape':\s*\(([^)]*)\)/
    .exec(header)?.[1]
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const fortranOrder = /'fortran_order':\s*True/.test(header);
  if (!descr || !shape) throw new Error(`unreadable .npy header: ${header}`);
  return { descr, shape, fortranOrder, dataOffset };
}

/** The first `rows` rows of the .npy at `url`: { descr, shape (of the whole file), rowShape, rows, data }. */
export async function fetchNpyRows(url, rows) {
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new Error(`download failed: HTTP ${res.status}`);
  const reader = res.body.getReader();
  let buf = new Uint8Array(0);
  let header = null;
  let need = Infinity;
  try {
    while (buf.length < need) {
      const { done, value } = await reader.read();
      if (done) break;
      const next = new Uint8Array(buf.length + value.length);
      next.set(buf);
      next.set(value, buf.length);
      buf = next;
      if (!header && (header = parseNpyHeader(buf))) {
        const Type = TYPES[header.descr];
        if (!Type) throw new Error(`unsupported dtype ${header.descr}`);
        if (header.fortranOrder) throw new Error('Fortran-ordered arrays are not supported');
        const rowSize = header.shape.slice(1).reduce((a, b) => a * b, 1);
        header.count = Math.min(rows, header.shape[0] ?? 1);
        header.Type = Type;
        header.rowSize = rowSize;
        need = header.dataOffset + header.count * rowSize * Type.BYTES_PER_ELEMENT;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  if (!header) throw new Error('truncated .npy file');
  const { Type, dataOffset, count, rowSize } = header;
  const have = Math.min(count, Math.floor((buf.length - dataOffset) / (rowSize * Type.BYTES_PER_ELEMENT)));
  // Copy: the data offset need not be aligned to the element size.
  const bytes = buf.slice(dataOffset, dataOffset + have * rowSize * Type.BYTES_PER_ELEMENT);
  let data = new Type(bytes.buffer);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) data = Float64Array.from(data, Number);
  return { descr: header.descr, shape: header.shape, rowShape: header.shape.slice(1), rows: have, data };
}

/** Class index of each row of a label array: integers as they are, one-hot rows by argmax. */
export function labelsOf({ rowShape, rows, data }) {
  const width = rowShape.reduce((a, b) => a * b, 1);
  return Array.from({ length: rows }, (_, r) => {
    if (width === 1) return Number(data[r]);
    let best = 0;
    for (let k = 1; k < width; k++) if (data[r * width + k] > data[r * width + best]) best = k;
    return best;
  });
}

/** Draws row `r` of an image array ([h, w] or [h, w, 1|3|4]) on a new canvas; floats in 0..1 are scaled to 0..255. */
export function imageCanvas({ rowShape, data }, r, scale) {
  const [height, width, channels = 1] = rowShape;
  const size = height * width * channels;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(width, height);
  for (let p = 0; p < height * width; p++) {
    const at = r * size + p * channels;
    const px = (c) => Math.max(0, Math.min(255, data[at + c] * scale));
    const [red, green, blue] = channels >= 3 ? [px(0), px(1), px(2)] : [px(0), px(0), px(0)];
    img.data.set([red, green, blue, channels === 4 ? px(3) : 255], p * 4);
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

/** True for rows that look like images: [h, w] or [h, w, 1|3|4], at least 4 pixels a side. */
export const isImageShape = (s) => (s.length === 2 || (s.length === 3 && [1, 3, 4].includes(s[2]))) && s[0] >= 4 && s[1] >= 4;
