/**
 * IEEE 754 binary16 conversion by hand (no dependency): float32 → float16 with round-to-nearest-even,
 * overflow to ±Infinity, gradual underflow to subnormals, NaN kept NaN.
 */
const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

export function float32ToFloat16Bits(value: number): number {
  f32[0] = value
  const x = u32[0]
  const sign = (x >>> 16) & 0x8000
  const exp = (x >>> 23) & 0xff
  const mant = x & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0) // Inf / NaN
  const e = exp - 127 + 15 // re-biased exponent
  if (e >= 0x1f) return sign | 0x7c00 // overflow → Inf
  if (e <= 0) {
    // subnormal half (or zero): value = m · 2^-24 with m the 10-bit mantissa
    if (e < -10) return sign // below half of the smallest subnormal → ±0
    const m = mant | 0x800000 // implicit leading 1
    const shift = 14 - e // 24-bit significand → position of 2^-24
    let half = m >>> shift
    const rem = m & ((1 << shift) - 1)
    const mid = 1 << (shift - 1)
    if (rem > mid || (rem === mid && (half & 1) === 1)) half++
    return sign | half
  }
  let half = (e << 10) | (mant >>> 13)
  const rem = mant & 0x1fff
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++ // may carry into the exponent (→ Inf at the top): correct
  return sign | half
}

export function float16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1
  const exp = (h >>> 10) & 0x1f
  const mant = h & 0x3ff
  if (exp === 0) return sign * mant * 2 ** -24
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN
  return sign * (1 + mant / 1024) * 2 ** (exp - 15)
}

export function toFloat16Array(data: Float32Array): Uint16Array {
  const out = new Uint16Array(data.length)
  for (let i = 0; i < data.length; i++) out[i] = float32ToFloat16Bits(data[i])
  return out
}

export function fromFloat16Array(data: Uint16Array): Float32Array {
  const out = new Float32Array(data.length)
  for (let i = 0; i < data.length; i++) out[i] = float16BitsToFloat32(data[i])
  return out
}
