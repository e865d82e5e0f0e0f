import { ByteBuffer } from 'flatbuffers';

/**
 * Bounds-checked reads over a flatbuffer. The flatbuffers runtime trusts its input (a truncated file reads
 * as zeros or garbage), so every offset is checked here and a bad one becomes an Error naming the field.
 */
export class TfliteFormatError extends Error {
  override name = 'TfliteFormatError';
}

export class FlatTable {
  constructor(
    readonly bb: ByteBuffer,
    readonly pos: number,
    /** where this table sits in the model, for error messages, e.g. "subgraphs[0].tensors[12]" */
    readonly path: string,
  ) {}

  static root(bytes: Uint8Array, what: string): FlatTable {
    if (bytes.length < 8) throw new TfliteFormatError(`${what}: ${bytes.length} bytes is too short for a flatbuffer`);
    const bb = new ByteBuffer(bytes);
    const t = new FlatTable(bb, 0, what);
    const rootPos = t.u32(0, 'root offset');
    t.check(rootPos, 4, 'root table');
    const table = new FlatTable(bb, rootPos, what);
    table.vtable();
    return table;
  }

  check(offset: number, size: number, what: string): void {
    if (!Number.isInteger(offset) || offset < 0 || offset + size > this.bb.capacity()) {
      throw new TfliteFormatError(
        `${this.path}: ${what} at byte ${offset} (+${size}) lies outside the ${this.bb.capacity()}-byte file (truncated or corrupt)`,
      );
    }
  }

  private u32(at: number, what: string): number {
    this.check(at, 4, what);
    return this.bb.readUint32(at);
  }

  /** Validates the vtable and returns [vtablePos, vtableSize]. */
  private vtable(): [number, number] {
    this.check(this.pos, 4, 'table');
    const vt = this.pos - this.bb.readInt32(this.pos);
    this.check(vt, 4, 'vtable');
    const vtSize = this.bb.readUint16(vt);
    const objSize = this.bb.readUint16(vt + 2);
    if (vtSize < 4 || vtSize % 2 !== 0) throw new TfliteFormatError(`${this.path}: malformed vtable (size ${vtSize})`);
    this.check(vt, vtSize, 'vtable');
    this.check(this.pos, objSize, 'table body');
    return [vt, vtSize];
  }

  /** Byte position of field `id` (schema order, 0-based), or 0 when absent. */
  field(id: number): number {
    const [vt, vtSize] = this.vtable();
    const slot = 4 + 2 * id;
    if (slot >= vtSize) return 0;
    const rel = this.bb.readUint16(vt + slot);
    return rel === 0 ? 0 : this.pos + rel;
  }

  int8(id: number, dflt: number): number {
    const p = this.field(id);
    if (!p) return dflt;
    this.check(p, 1, `field ${id}`);
    return this.bb.readInt8(p);
  }

  uint8(id: number, dflt: number): number {
    const p = this.field(id);
    if (!p) return dflt;
    this.check(p, 1, `field ${id}`);
    return this.bb.readUint8(p);
  }

  int32(id: number, dflt: number): number {
    const p = this.field(id);
    if (!p) return dflt;
    this.check(p, 4, `field ${id}`);
    return this.bb.readInt32(p);
  }

  uint32(id: number, dflt: number): number {
    const p = this.field(id);
    if (!p) return dflt;
    this.check(p, 4, `field ${id}`);
    return this.bb.readUint32(p);
  }

  uint64(id: number, dflt: number): number {
    const p = this.field(id);
    if (!p) return dflt;
    this.check(p, 8, `field ${id}`);
    return Number(this.bb.readUint64(p));
  }

  private indirect(id: number, what: string): number {
    const p = this.field(id);
    if (!p) return 0;
    const target = p + this.u32(p, what);
    this.check(target, 4, what);
    return target;
  }

  /** [start of elements, length] of a vector field, checked against the file size. */
  private vector(id: number, elemSize: number, what: string): [number, number] | null {
    const v = this.indirect(id, what);
    if (!v) return null;
    const len = this.bb.readUint32(v);
    this.check(v + 4, len * elemSize, `${what} (${len} elements)`);
    return [v + 4, len];
  }

  string(id: number, what: string): string {
    const v = this.vector(id, 1, what);
    if (!v) return '';
    return new TextDecoder().decode(this.bb.bytes().subarray(v[0], v[0] + v[1]));
  }

  int32s(id: number, what: string): number[] {
    const v = this.vector(id, 4, what);
    if (!v) return [];
    const out: number[] = [];
    for (let i = 0; i < v[1]; i++) out.push(this.bb.readInt32(v[0] + 4 * i));
    return out;
  }

  float32s(id: number, what: string): number[] {
    const v = this.vector(id, 4, what);
    if (!v) return [];
    const out: number[] = [];
    for (let i = 0; i < v[1]; i++) out.push(this.bb.readFloat32(v[0] + 4 * i));
    return out;
  }

  int64s(id: number, what: string): number[] {
    const v = this.vector(id, 8, what);
    if (!v) return [];
    const out: number[] = [];
    for (let i = 0; i < v[1]; i++) out.push(Number(this.bb.readInt64(v[0] + 8 * i)));
    return out;
  }

  /** A view (no copy) of a [ubyte] vector. */
  bytes(id: number, what: string): Uint8Array | null {
    const v = this.vector(id, 1, what);
    if (!v) return null;
    return this.bb.bytes().subarray(v[0], v[0] + v[1]);
  }

  table(id: number, what: string): FlatTable | null {
    const t = this.indirect(id, what);
    if (!t) return null;
    const table = new FlatTable(this.bb, t, `${this.path}.${what}`);
    table.vtable();
    return table;
  }

  tables(id: number, what: string): FlatTable[] {
    const v = this.vector(id, 4, what);
    if (!v) return [];
    const out: FlatTable[] = [];
    for (let i = 0; i < v[1]; i++) {
      const at = v[0] + 4 * i;
      const t = at + this.bb.readUint32(at);
      const table = new FlatTable(this.bb, t, `${this.path}.${what}[${i}]`);
      this.check(t, 4, `${what}[${i}]`);
      table.vtable();
      out.push(table);
    }
    return out;
  }
}
