import { describe, expect, it } from 'vitest';
import {
  MAX_DOMAIN_LENGTH,
  stackIdFor,
  systemsFromConfig,
  validateDomain,
} from '../../lib/systems-from-config.ts';

describe('Module: systems-from-config', () => {
  describe('systemsFromConfig(config)', () => {
    it('reads systems[].domain in order, ignoring other fields', () => {
      const config = {
        systems: [
          { domain: 'primary.example', users: [{ mcpttId: 'sip:alice@primary.example' }] },
          { domain: 'partner.example', agreements: [] },
        ],
        other: true,
      };
      expect(systemsFromConfig(config)).toEqual(['primary.example', 'partner.example']);
    });

    it('lower-cases and trims domains', () => {
      expect(systemsFromConfig({ systems: [{ domain: ' Primary.Example ' }] })).toEqual(['primary.example']);
    });

    it.each([
      [undefined, /expected a JSON object/],
      [null, /expected a JSON object/],
      [[], /expected a JSON object/],
      [{}, /"systems" must be an array/],
      [{ systems: {} }, /"systems" must be an array/],
      [{ systems: [] }, /"systems" is empty/],
      [{ systems: ['primary.example'] }, /systems\[0\] must be an object/],
      [{ systems: [{ name: 'primary.example' }] }, /systems\[0\]\.domain: expected a domain name string/],
      [
        { systems: [{ domain: 'primary.example' }, { domain: 'bad_domain.example' }] },
        /systems\[1\]\.domain/,
      ],
    ])('rejects a malformed config %j', (config, message) => {
      expect(() => systemsFromConfig(config)).toThrow(message);
    });

    it('rejects duplicate domains (case-insensitively)', () => {
      expect(() =>
        systemsFromConfig({ systems: [{ domain: 'primary.example' }, { domain: 'PRIMARY.example' }] }),
      ).toThrow('duplicate system domain "primary.example"');
    });

    it('rejects two domains that would deploy as the same stack', () => {
      expect(() =>
        systemsFromConfig({ systems: [{ domain: 'a-b.example' }, { domain: 'a.b-example' }] }),
      ).toThrow(/"a-b\.example" and "a\.b-example" would both deploy as stack "Mcptt-a-b-example"/);
    });
  });

  describe('systemsFromConfig(config, override)', () => {
    it('replaces the config list by the comma-separated override', () => {
      const config = { systems: [{ domain: 'primary.example' }] };
      expect(systemsFromConfig(config, 'partner.example, third.example')).toEqual([
        'partner.example',
        'third.example',
      ]);
    });

    it('does not need a config when overridden', () => {
      expect(systemsFromConfig(undefined, 'primary.example')).toEqual(['primary.example']);
      expect(systemsFromConfig(undefined, ['primary.example', 'partner.example'])).toHaveLength(2);
    });

    it('ignores empty entries but rejects an empty list', () => {
      expect(systemsFromConfig(undefined, 'primary.example,,')).toEqual(['primary.example']);
      expect(() => systemsFromConfig(undefined, '')).toThrow(/no domain given/);
      expect(() => systemsFromConfig(undefined, ' , ')).toThrow(/no domain given/);
    });

    it('validates and de-duplicates override domains', () => {
      expect(() => systemsFromConfig(undefined, 'primary.example,localhost')).toThrow(
        /context "systems" entry 2: "localhost" is not a fully qualified domain name/,
      );
      expect(() => systemsFromConfig(undefined, 'primary.example,primary.example')).toThrow(/duplicate/);
    });
  });

  describe('validateDomain', () => {
    it.each([
      'primary.example',
      'partner.example',
      'a.b.c.example',
      'xn--bcher-kva.example',
      'sys-1.example.org',
    ])('accepts %s', (domain) => {
      expect(validateDomain(domain)).toBe(domain);
    });

    it.each([
      ['', /empty domain/],
      ['example', /not a fully qualified/],
      ['-primary.example', /invalid label "-primary"/],
      ['primary-.example', /invalid label "primary-"/],
      ['primary..example', /invalid label ""/],
      ['primary.example.', /invalid label ""/],
      ['pri mary.example', /invalid label/],
      ['primary_1.example', /invalid label/],
      ['sip:alice@primary.example', /invalid label/],
      ['10.0.0.1', /IP address/],
      [`${'a'.repeat(64)}.example`, /invalid label/],
      [`${'a.'.repeat(61)}example`, /longer than 122/],
    ])('rejects %j', (domain, message) => {
      expect(() => validateDomain(domain)).toThrow(message);
    });

    it('rejects non-strings', () => {
      expect(() => validateDomain(42, 'where')).toThrow('where: expected a domain name string, got 42');
      expect(() => validateDomain(undefined)).toThrow(/expected a domain name string/);
    });
  });

  describe('stackIdFor', () => {
    it('prefixes Mcptt- and replaces dots by dashes', () => {
      expect(stackIdFor('primary.example')).toBe('Mcptt-primary-example');
    });

    it('yields valid CloudFormation stack names for every valid domain', () => {
      const longest = `${'a'.repeat(60)}.${'b'.repeat(61)}`;
      expect(longest).toHaveLength(MAX_DOMAIN_LENGTH);
      for (const domain of [
        'primary.example',
        'xn--bcher-kva.example',
        '1.example',
        validateDomain(longest),
      ]) {
        const name = stackIdFor(domain);
        expect(name).toMatch(/^[A-Za-z][A-Za-z0-9-]*$/);
        expect(name.length).toBeLessThanOrEqual(128);
      }
    });
  });
});
