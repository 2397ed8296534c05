import { describe, expect, it } from 'vitest';
import { StopSequenceTrimmer } from './stop-sequences';

/** Feeds `pieces` and returns what was emitted, piece by piece, plus the end flush. */
function run(stops: string[], pieces: string[]): string[] {
  const t = new StopSequenceTrimmer(stops);
  return [...pieces.map((p) => t.push(p)), t.end()];
}

describe('StopSequenceTrimmer', () => {
  it('passes text straight through without stop sequences', () => {
    expect(run([], ['a', 'b'])).toEqual(['a', 'b', '']);
  });

  it('cuts before a stop sequence that spans pieces and drops what follows', () => {
    expect(run(['END'], ['one E', 'N', 'D two', ' three']).join('')).toBe('one ');
  });

  it('holds back only what could still start a stop sequence', () => {
    expect(run(['END'], ['abcE', 'x', 'EN'])).toEqual(['abc', 'Ex', '', 'EN']);
  });

  it('releases held-back text at the end when no stop sequence came', () => {
    expect(run(['END'], ['abEN'])).toEqual(['ab', 'EN']);
  });

  it('cuts at the earliest of several stop sequences', () => {
    expect(run(['zz', '.'], ['hello. zz'])).toEqual(['hello', '']);
  });

  it('never splits a surrogate pair when holding back', () => {
    const out = run(['XY'], ['a🙂', 'b']);
    expect(out.join('')).toBe('a🙂b');
    for (const part of out) expect(part).not.toMatch(/[\uD800-\uDBFF]$/);
  });

  it('trims a whole text at its first stop sequence', () => {
    expect(StopSequenceTrimmer.trim('a, b. c', ['.', ','])).toBe('a');
    expect(StopSequenceTrimmer.trim('abc', ['x'])).toBe('abc');
  });
});
