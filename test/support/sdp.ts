/**
 * A minimal SDP offer or answer (RFC 4566): one PCMU audio stream on loopback. For the user agents of
 * the tests, the demo and the benchmarks; the edge relays SDP and never builds it.
 */
export const sdp = (user: string, port = 49170): string =>
  [
    'v=0',
    `o=${user} 1 1 IN IP4 127.0.0.1`,
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} RTP/AVP 0`,
    'a=rtpmap:0 PCMU/8000',
    '',
  ].join('\r\n');
