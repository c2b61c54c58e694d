import { describe, expect, it } from 'vitest';
import { SipHeaders } from '../../../../sip/message/types.ts';

const sample = (): SipHeaders =>
  new SipHeaders([
    ['v', 'SIP/2.0/UDP a.example;branch=z9hG4bK1'],
    ['Via', 'SIP/2.0/UDP b.example;branch=z9hG4bK2'],
    ['call-id', 'abc@x'],
    ['Route', '<sip:p1.example;lr>'],
    ['Route', '<sip:p2.example;lr>'],
    ['CSeq', '1 INVITE'],
  ]);

describe('SipHeaders', () => {
  it('keeps fields in order with canonical names (§7.3.1, §7.3.3) and counts them', () => {
    const h = sample();
    expect(h.size).toBe(6);
    expect(h.entries.map(([n]) => n)).toEqual(['Via', 'Via', 'Call-ID', 'Route', 'Route', 'CSeq']);
    expect(h.get('VIA')).toBe('SIP/2.0/UDP a.example;branch=z9hG4bK1');
    expect(h.getAll('route')).toEqual(['<sip:p1.example;lr>', '<sip:p2.example;lr>']);
    expect(h.has('i')).toBe(true);
    expect(h.has('Contact')).toBe(false);
  });

  it('entries is a copy: changing it leaves the message as it was', () => {
    const h = sample();
    const copy = h.entries;
    copy.push(['Contact', '<sip:x@y>']);
    (copy[0] as [string, string])[1] = 'changed';
    expect(h.size).toBe(6);
    expect(h.get('Via')).toBe('SIP/2.0/UDP a.example;branch=z9hG4bK1');
  });

  it('set replaces every field of the name where the first stood; prepend puts one first among its name', () => {
    const h = sample().set('Via', 'SIP/2.0/TCP c.example');
    expect(h.entries.map(([n]) => n)).toEqual(['Via', 'Call-ID', 'Route', 'Route', 'CSeq']);
    h.prepend('Route', '<sip:p0.example;lr>');
    expect(h.getAll('Route')).toEqual(['<sip:p0.example;lr>', '<sip:p1.example;lr>', '<sip:p2.example;lr>']);
    expect(h.entries[1]).toEqual(['Call-ID', 'abc@x']);
    h.prepend('Contact', '<sip:x@y>');
    expect(h.entries[0]).toEqual(['Contact', '<sip:x@y>']);
    h.set('Max-Forwards', '70');
    expect(h.entries.at(-1)).toEqual(['Max-Forwards', '70']);
  });

  it('remove drops every field of the name; replaceFirst rewrites only the first, where it stands', () => {
    const h = sample();
    expect(h.replaceFirst('v', 'SIP/2.0/UDP a.example;branch=z9hG4bK1;received=192.0.2.1')).toBe(true);
    expect(h.getAll('Via')).toEqual([
      'SIP/2.0/UDP a.example;branch=z9hG4bK1;received=192.0.2.1',
      'SIP/2.0/UDP b.example;branch=z9hG4bK2',
    ]);
    expect(h.replaceFirst('Contact', 'x')).toBe(false);
    h.remove('route');
    expect(h.entries.map(([n]) => n)).toEqual(['Via', 'Via', 'Call-ID', 'CSeq']);
  });

  it('pick keeps the named fields in order; clone is independent of the original', () => {
    const h = sample();
    const picked = h.pick(new Set(['Via', 'CSeq']));
    expect(picked.entries).toEqual([
      ['Via', 'SIP/2.0/UDP a.example;branch=z9hG4bK1'],
      ['Via', 'SIP/2.0/UDP b.example;branch=z9hG4bK2'],
      ['CSeq', '1 INVITE'],
    ]);
    const c = h.clone();
    c.add('Contact', '<sip:x@y>').remove('Via');
    expect(h.size).toBe(6);
    expect(c.size).toBe(5);
    expect(h.entries).not.toEqual(c.entries);
  });

  it('forEach visits each field once, in order', () => {
    const seen: string[] = [];
    sample().forEach((n, v) => {
      seen.push(`${n}=${v.length}`);
    });
    expect(seen).toEqual(['Via=37', 'Via=37', 'Call-ID=5', 'Route=19', 'Route=19', 'CSeq=8']);
  });
});
