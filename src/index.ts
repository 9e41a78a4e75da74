/**
 * srv6pipes as a library: the client, the function SDK, the codecs, the errors.
 * Test helpers for function authors are in 'srv6pipes/testing'.
 */
export { connect, type ConnectOptions } from './client/connect.js';
export { listen, replyPlan, type SrServerOptions, type SrConnectionInfo } from './server/index.js';
export { clientReturnPathTlv, returnPathTlv, decodeReturnPathTlv, findReturnPath, TLV_RETURN_PATH } from './codec/return-path.js';
export * from './sdk/types.js';
export { SrError, isSrError, ERROR_CODES, type ErrorCode, type ErrorKind } from './core/errors.js';
export { decodeSrh, encodeSrh, srhForPath, pathOf, describeSrh, hmacTlv, decodeHmacTlv, type Srh, type SrhTlv } from './codec/srh.js';
export { sidLayout, encodeSid, decodeSid, formatSid, argumentBits, type SidLayout } from './codec/sid.js';
export { BUILTIN_FUNCTIONS } from './functions/all.js';
export { describeFunction, type FunctionInfo, type OptionInfo } from './sdk/describe.js';
export { resolve, resolveAndConnect, type ResolveOptions } from './client/resolve.js';
