/**
 * ULIDs (https://github.com/ulid/spec): 48 bits of milliseconds and 80 random bits, Crockford
 * base32, 26 characters. They sort by creation time as plain strings, which is what the usage
 * ledger's records and objects need; randomness comes from WebCrypto (through shared/random.ts), so
 * both runtimes share it.
 */
import { randomBytes } from './random';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID's shape: 26 Crockford base32 characters, the first at most `7` (48-bit time). */
export const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

/** A new ULID for the instant `now` (ms). */
export function ulid(now: number = Date.now()): string {
  let time = '';
  let t = Math.floor(now);
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const random = randomBytes(16);
  let rest = '';
  for (const byte of random) rest += ALPHABET[byte % 32];
  return time + rest;
}
