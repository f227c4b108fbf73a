import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cidrContains, parseCidr, parseIp } from '../../src/policy/index.js';

describe('IP and CIDR parsing', () => {
  it('parses IPv4, IPv6, compressed IPv6, scoped and IPv4-mapped addresses', () => {
    assert.deepEqual(parseIp('10.1.2.3'), { family: 4, value: 0x0a010203n });
    assert.deepEqual(parseIp('::1'), { family: 6, value: 1n });
    assert.deepEqual(parseIp('fe80::1%eth0'), { family: 6, value: (0xfe80n << 112n) | 1n });
    assert.deepEqual(parseIp('::ffff:10.1.2.3'), { family: 4, value: 0x0a010203n });
    assert.equal(parseIp('2001:db8:0:0:0:0:0:1')?.value, parseIp('2001:db8::1')?.value);
  });

  it('refuses malformed addresses', () => {
    for (const bad of ['', '10.1.2', '10.1.2.256', '01.1.2.3', '1.2.3.4.5', '1::2::3', '12345::', 'a:b:c:d:e:f:0:1:2', 'x.1.2.3', "1' OR '1'='1"]) {
      assert.equal(parseIp(bad), null, bad);
    }
  });

  it('parses CIDRs, requires zero host bits and matches only its own family', () => {
    const range = parseCidr('10.1.0.0/16');
    assert.ok(range);
    assert.equal(cidrContains(range, parseIp('10.1.255.7')!), true);
    assert.equal(cidrContains(range, parseIp('10.2.0.1')!), false);
    assert.equal(cidrContains(range, parseIp('fd00::1')!), false);
    assert.equal(parseCidr('10.1.0.1/16'), null);
    assert.equal(parseCidr('10.1.0.0/33'), null);
    assert.equal(parseCidr('10.1.0.0'), null);
    const v6 = parseCidr('fd00:2::/32');
    assert.ok(v6);
    assert.equal(cidrContains(v6, parseIp('fd00:2:1::5')!), true);
    assert.equal(cidrContains(parseCidr('0.0.0.0/0')!, parseIp('8.8.8.8')!), true);
  });
});
