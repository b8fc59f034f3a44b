// Differential-privacy noise that is deterministic per figure. Each released figure gets
// noise drawn from a stream keyed by HMAC(noise key, figure id), so:
//   - a replay after a crash, or a second processor instance, releases the identical value
//     (re-drawing would let anyone average repeated releases back to the true figure);
//   - the noise key is a secret of the processor: without it the noise is unpredictable.
// Counts get the discrete Laplace (two-sided geometric) mechanism: integer noise with
// P(z) ∝ exp(−ε·|z|/Δ), which is ε-DP for a count of L1 sensitivity Δ (Ghosh, Roughgarden,
// Sundararajan 2009). Doubles come from 53 bits of HMAC output; floating-point attacks on
// *continuous* Laplace (Mironov 2012) do not apply to integer outputs, but the inverse-CDF
// sampling below is still an approximation of the ideal distribution, as docs/privacy.md says.
import { createHmac } from 'node:crypto';

/** Uniform doubles in (0, 1), reproducible from a key and an id. */
export interface UniformStream {
  next(): number;
}

export interface NoiseSource {
  /** The random stream of one figure; the same id always gives the same stream. */
  stream(id: string): UniformStream;
}

export function createNoiseSource(key: Buffer): NoiseSource {
  if (key.length < 16) throw new Error('The noise key must be at least 16 bytes (128 bits) of secret randomness.');
  const secret = Buffer.from(key);
  return {
    stream(id) {
      let block = 0;
      let buffer = Buffer.alloc(0);
      let offset = 0;
      return {
        next() {
          if (offset + 8 > buffer.length) {
            buffer = createHmac('sha256', secret).update(`${id}\u0000${block++}`).digest();
            offset = 0;
          }
          // 53 random bits → (0, 1): never 0, so log() stays finite.
          const bits = buffer.readBigUInt64BE(offset) >> 11n;
          offset += 8;
          return (Number(bits) + 0.5) / 2 ** 53;
        },
      };
    },
  };
}

/** Number of failures before the first success, P(k) = (1 − α)·αᵏ. */
function geometric(u: number, alpha: number): number {
  return Math.floor(Math.log(u) / Math.log(alpha));
}

/**
 * Discrete Laplace noise for a count with L1 sensitivity `sensitivity` under budget `epsilon`:
 * the difference of two geometric variables with α = exp(−ε/Δ).
 */
export function discreteLaplace(stream: UniformStream, epsilon: number, sensitivity: number): number {
  if (!(epsilon > 0) || !(sensitivity > 0)) throw new Error(`discreteLaplace needs ε > 0 and Δ > 0 (got ε=${epsilon}, Δ=${sensitivity})`);
  const alpha = Math.exp(-epsilon / sensitivity);
  return geometric(stream.next(), alpha) - geometric(stream.next(), alpha);
}

/** Standard deviation of discreteLaplace(ε, Δ): √(2α)/(1 − α). */
export function discreteLaplaceStdDev(epsilon: number, sensitivity: number): number {
  const alpha = Math.exp(-epsilon / sensitivity);
  return Math.sqrt(2 * alpha) / (1 - alpha);
}

/** The |noise| that is exceeded with probability at most `p`: P(|Z| ≥ t) = 2αᵗ/(1 + α). */
export function discreteLaplaceBound(epsilon: number, sensitivity: number, p: number): number {
  const alpha = Math.exp(-epsilon / sensitivity);
  return Math.ceil(Math.log((p * (1 + alpha)) / 2) / Math.log(alpha));
}
