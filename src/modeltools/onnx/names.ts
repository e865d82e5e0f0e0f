/**
 * Unique node and value names. ONNX Runtime names nodes it creates during graph rewrites after an existing
 * node plus a number; if one of our names already looks like that ("conv" and "conv1") the session fails with
 * "two nodes with same node name". Node names made here therefore never end in a digit, so no name can equal
 * another name followed by digits.
 */
export class NameAllocator {
  private readonly taken = new Set<string>();

  constructor(existing: Iterable<string> = []) {
    for (const n of existing) this.taken.add(n);
  }

  reserve(name: string): void {
    if (this.taken.has(name)) throw new Error(`name ${JSON.stringify(name)} is already in use`);
    this.taken.add(name);
  }

  has(name: string): boolean {
    return this.taken.has(name);
  }

  /** A fresh node name derived from base, ending in a letter. */
  node(base: string): string {
    return this.fresh(/[0-9]$/.test(base) || base === '' ? `${base}_n` : base);
  }

  /** A fresh value (tensor) name derived from base. */
  value(base: string): string {
    return this.fresh(base === '' ? 'v' : base);
  }

  private fresh(base: string): string {
    let name = base;
    for (let k = 0; this.taken.has(name); k++) name = `${base}_${letters(k)}`;
    this.taken.add(name);
    return name;
  }
}

/** 0 → "a", 25 → "z", 26 → "ba": a suffix that never ends in a digit. */
function letters(k: number): string {
  let s = '';
  do {
    s = String.fromCharCode(97 + (k % 26)) + s;
    k = Math.floor(k / 26);
  } while (k > 0);
  return s;
}
