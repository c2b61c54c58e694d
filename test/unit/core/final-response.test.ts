import { describe, expect, it } from 'vitest';
import type { FinalCommencementDecision } from '#core/commencement-policy.ts';
import { type FinalResponse, type FinalResponseInput, finalResponseFor } from '#core/final-response.ts';
import type { GroupCallAuthorization } from '#core/group-call-authorization.ts';
import { mcpttWarning } from '#core/warning-codes.ts';
import { catchError } from './fixtures.ts';

describe('Function: finalResponseFor', () => {
  it.each<[string, FinalResponseInput, FinalResponse]>([
    ['proceed', { decision: 'proceed' }, { status: 200, reason: 'OK' }],
    [
      'proceed with 111',
      { decision: 'proceed', warningCode: 111 },
      { status: 200, reason: 'OK', warning: 111 },
    ],
    [
      'abandon for the minimum',
      { decision: 'abandon', status: 480, warningCode: undefined, reason: 'minimum not reached' },
      { status: 480, reason: 'Temporarily Unavailable' },
    ],
    [
      'abandon for required members',
      { decision: 'abandon', status: 480, warningCode: 112, reason: 'required declined' },
      { status: 480, reason: 'Temporarily Unavailable', warning: 112 },
    ],
    [
      'unknown temporary group',
      { ok: false, status: 404, reason: 'unknown' },
      { status: 404, reason: 'Not Found' },
    ],
    [
      'not a member',
      { ok: false, status: 403, warningCode: 116, reason: 'not a member' },
      { status: 403, reason: 'Forbidden', warning: 116 },
    ],
    [
      'not affiliated',
      { ok: false, status: 403, warningCode: 120, reason: 'not affiliated' },
      { status: 403, reason: 'Forbidden', warning: 120 },
    ],
    [
      'not authorised to initiate',
      { ok: false, status: 403, warningCode: 119, reason: 'receive only' },
      { status: 403, reason: 'Forbidden', warning: 119 },
    ],
  ])('maps %s', (_label, input, expected) => {
    // Arrange / Act
    const response = finalResponseFor(input);
    // Assess
    expect(response).toEqual(expected);
  });

  it('gives a Warning value the edge can send', () => {
    // Arrange
    const response = finalResponseFor({ decision: 'abandon', status: 480, warningCode: 112, reason: 'x' });
    // Act
    const header = response.warning === undefined ? '' : mcpttWarning('primary.example', response.warning);
    // Assess
    expect(header).toBe(
      '399 primary.example "112 group call abandoned due to required group members not part of the group session"',
    );
  });

  it('refuses a decision that does not end the call setup', () => {
    // Arrange
    const wait = { decision: 'wait' } as unknown as FinalCommencementDecision;
    const ok = {
      ok: true,
      viaGroup: 'sip:fire-1@primary.example',
    } as GroupCallAuthorization as FinalResponseInput;
    // Act / Assess
    expect(catchError(() => finalResponseFor(wait)).code).toBe('bad_request');
    expect(catchError(() => finalResponseFor(ok)).code).toBe('bad_request');
  });
});
