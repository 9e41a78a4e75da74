/** A plaintext marker the demo server writes every 4 KiB of its body, to be looked for on the wire. */
export const MARKER = 'SRV6PIPES-DEMO-PLAINTEXT-MARKER';
