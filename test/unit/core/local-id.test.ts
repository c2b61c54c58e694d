import { describe, expect, it } from 'vitest';
import { DomainError } from '#core/errors.ts';
import { localIdentity } from '#core/local-id.ts';

describe('Function: localIdentity', () => {
  it('normalizes short and full forms of a local identity', () => {
    expect(localIdentity('alice', 'primary.example', 'user')).toBe('sip:alice@primary.example');
    expect(localIdentity('fire-1@PRIMARY.example', 'primary.example', 'group')).toBe(
      'sip:fire-1@primary.example',
    );
  });
  it('refuses an identity of another system, naming the kind', () => {
    const act = () => localIdentity('sip:carol@partner.example', 'primary.example', 'user');
    expect(act).toThrow(DomainError);
    expect(act).toThrow('sip:carol@partner.example is not a user of primary.example');
  });
});
