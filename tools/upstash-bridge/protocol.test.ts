/**
 * Unit tests of the request parsing and the response encoding (pure functions, no Redis).
 */
import { describe, expect, it } from 'vitest';
import { encodingOf, entriesBody, replyJson, resultBody } from './encoding';
import { parseJsonBody, pathCommand, ProtocolError, toCommand, toCommandList } from './protocol';

const texts = (args: readonly Buffer[]) => args.map((arg) => arg.toString());

describe('toCommand', () => {
  it('lower-cases the name and turns numbers and booleans into text', () => {
    const command = toCommand(['SET', 'k', 1.5, true, -0]);
    expect(command.name).toBe('set');
    expect(texts(command.args)).toEqual(['k', '1.5', 'true', '0']);
  });

  it.each([[{}], [[]], [['get', ['nested']]], [['get', Number.NaN]], [['']]])('rejects %j with a 400 ProtocolError', (value) => {
    expect(() => toCommand(value)).toThrow(ProtocolError);
    try {
      toCommand(value);
    } catch (err) {
      expect((err as ProtocolError).status).toBe(400);
    }
  });

  it('rejects a pipeline that is not a non-empty array of commands', () => {
    expect(() => toCommandList([])).toThrow(/empty pipeline/);
    expect(() => toCommandList([['get', 'a'], 'get'])).toThrow(/command 1 must be a JSON array/);
    expect(toCommandList([['get', 'a'], ['ping']]).map((c) => c.name)).toEqual(['get', 'ping']);
  });

  it('reports unparsable JSON as a 400', () => {
    expect(() => parseJsonBody(Buffer.from('[1,'))).toThrow(/failed to parse request body as JSON/);
  });
});

describe('pathCommand', () => {
  it('decodes segments, appends the body, then query parameters other than _token', () => {
    const command = pathCommand('/set/a%2Fb/', new URLSearchParams('EX=100&_token=t&NX'), Buffer.from('v'));
    expect(command.name).toBe('set');
    expect(texts(command.args)).toEqual(['a/b', 'v', 'EX', '100', 'NX']);
  });

  it('keeps empty inner segments and refuses a missing command or bad escapes', () => {
    expect(texts(pathCommand('/set/k//x', new URLSearchParams(), Buffer.alloc(0)).args)).toEqual(['k', '', 'x']);
    expect(() => pathCommand('/', new URLSearchParams(), Buffer.alloc(0))).toThrow(/empty command/);
    expect(() => pathCommand('/get/%E0%A4%A', new URLSearchParams(), Buffer.alloc(0))).toThrow(/percent-encoding/);
  });
});

describe('response encoding', () => {
  const ok = Buffer.from('OK');

  it('writes UTF-8 strings, digit strings as numbers, nil and nested errors', () => {
    expect(replyJson([Buffer.from('é'), '12', null, new Error('ERR boom'), [ok]], 'utf8')).toBe('["é",12,null,"ERR boom",["OK"]]');
  });

  it('base64-encodes every string but a top-level OK', () => {
    expect(resultBody(ok, 'base64')).toBe('{"result":"OK"}');
    expect(resultBody([ok], 'base64')).toBe('{"result":["T0s="]}');
    expect(resultBody(Buffer.from([0xff, 0x00]), 'base64')).toBe('{"result":"/wA="}');
    expect(resultBody('-3', 'base64')).toBe('{"result":-3}');
  });

  it('writes pipeline entries with unencoded errors', () => {
    expect(entriesBody([{ result: Buffer.from('v') }, { error: 'ERR x' }], 'base64')).toBe('[{"result":"dg=="},{"error":"ERR x"}]');
  });

  it('reads the Upstash-Encoding header case-insensitively', () => {
    expect(encodingOf('BASE64')).toBe('base64');
    expect(encodingOf(undefined)).toBe('utf8');
    expect(encodingOf('gzip')).toBe('utf8');
  });
});
