// Per-sequence key/value cache: for each layer K and V as (capacity, nKvHeads*headDim) rows.
// Grows by doubling up to the model's context length.

export class KVCache {
  readonly keys: Float32Array[] = [];
  readonly values: Float32Array[] = [];
  /** Number of positions already stored. */
  length = 0;
  private capacity: number;

  constructor(readonly numLayers: number, readonly rowSize: number, readonly maxLength: number, initial = 64) {
    this.capacity = Math.min(Math.max(1, initial), maxLength);
    for (let l = 0; l < numLayers; l++) {
      this.keys.push(new Float32Array(this.capacity * rowSize));
      this.values.push(new Float32Array(this.capacity * rowSize));
    }
  }

  /** Makes room for `extra` more positions (called once per forward, before any layer writes). */
  reserve(extra: number): void {
    const need = this.length + extra;
    if (need > this.maxLength) {
      throw new RangeError(`sequence of ${need} positions exceeds the model's context of ${this.maxLength}`);
    }
    if (need <= this.capacity) return;
    let cap = this.capacity;
    while (cap < need) cap *= 2;
    cap = Math.min(cap, this.maxLength);
    for (let l = 0; l < this.numLayers; l++) {
      const k = new Float32Array(cap * this.rowSize), v = new Float32Array(cap * this.rowSize);
      k.set(this.keys[l].subarray(0, this.length * this.rowSize));
      v.set(this.values[l].subarray(0, this.length * this.rowSize));
      this.keys[l] = k;
      this.values[l] = v;
    }
    this.capacity = cap;
  }

  /** Drops positions from `length` on (e.g. to reuse a shared prompt prefix). */
  truncate(length: number): void {
    if (length < 0 || length > this.length) throw new RangeError(`cannot truncate cache of ${this.length} to ${length}`);
    this.length = length;
  }

  /** A deep copy (used to fork one prompt's cache into several samples). */
  clone(): KVCache {
    const c = new KVCache(this.numLayers, this.rowSize, this.maxLength, Math.max(1, this.length));
    c.reserve(this.length);
    for (let l = 0; l < this.numLayers; l++) {
      c.keys[l].set(this.keys[l].subarray(0, this.length * this.rowSize));
      c.values[l].set(this.values[l].subarray(0, this.length * this.rowSize));
    }
    c.length = this.length;
    return c;
  }
}
