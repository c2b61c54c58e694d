import { describe, expect, it } from 'vitest';
import { mcpttWarning, WARNING_TEXT } from '#core/warning-codes.ts';

describe('Function: mcpttWarning', () => {
  it('formats the TS 24.379 §4.4.2 Warning header value', () => {
    expect(mcpttWarning('primary.example', 148)).toBe('399 primary.example "148 MCPTT group is regrouped"');
  });
  it('has the texts of the codes the project uses', () => {
    expect(WARNING_TEXT[111]).toBe('group call proceeded without all required group members');
    expect(WARNING_TEXT[112]).toBe(
      'group call abandoned due to required group members not part of the group session',
    );
    expect(WARNING_TEXT[120]).toBe('user is not affiliated to this group');
  });
});
