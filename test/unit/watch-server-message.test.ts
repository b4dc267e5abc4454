import { describe, expect, it } from 'vitest';
import { parseServerMessage, traceProblem } from '../../src/watch/server-message.js';
import { receiverHalf } from '../fixtures/watch-traces.js';

describe('parseServerMessage', () => {
  it('reads each message type of the protocol', () => {
    expect(parseServerMessage('{"type":"hello","node":"node-1","version":"0.1.0","sample":64}')).toEqual({ type: 'hello', node: 'node-1', version: '0.1.0', sample: 64 });
    expect(parseServerMessage('{"type":"subscribed","filter":{"limit":100},"refused":"budget"}')).toEqual({ type: 'subscribed', filter: { limit: 100 }, refused: 'budget' });
    expect(parseServerMessage('{"type":"subscribed","filter":{},"granted":{"ip":"10.244.1.11","until":"2026-01-01T00:00:00Z","budget_events_per_s":5000}}')).toMatchObject({
      granted: { ip: '10.244.1.11', budget_events_per_s: 5000 },
    });
    expect(parseServerMessage('{"type":"dropped","count":3,"total":7}')).toEqual({ type: 'dropped', count: 3, total: 7 });
    expect(parseServerMessage('{"type":"error","error":"filter: path: bad"}')).toEqual({ type: 'error', error: 'filter: path: bad' });
    expect(parseServerMessage(JSON.stringify({ type: 'trace', trace: receiverHalf() }))).toEqual({ type: 'trace', trace: receiverHalf() });
  });

  it('turns anything else into an invalid message instead of throwing', () => {
    expect(parseServerMessage('nope')).toEqual({ type: 'invalid', error: 'not JSON' });
    expect(parseServerMessage('[1]')).toEqual({ type: 'invalid', error: 'not an object' });
    expect(parseServerMessage('{"type":"boom"}')).toEqual({ type: 'invalid', error: 'unknown message type "boom"' });
    expect(parseServerMessage('{"type":"dropped"}')).toEqual({ type: 'invalid', error: 'dropped without a count' });
    const noHops = { ...receiverHalf(), hops: [{ ...receiverHalf().hops[0], t: 5 }] };
    expect(parseServerMessage(JSON.stringify({ type: 'trace', trace: noHops }))).toEqual({ type: 'invalid', error: 'trace: hops[0].t is not a string' });
  });

  it('checks the trace fields watch reads', () => {
    expect(traceProblem(receiverHalf())).toBeUndefined();
    expect(traceProblem({ ...receiverHalf(), latency_ns: '5' })).toBe('latency_ns is not a number');
    expect(traceProblem({ ...receiverHalf(), dst: {} })).toBe('dst.ip is not a string');
    expect(traceProblem({ ...receiverHalf(), packet: null })).toBe('packet is not an object');
  });
});
