'use strict';
/**
 * console.* the way Lambda's Node.js runtime writes it, so CloudWatch (and anything
 * reading the function's stdout) sees the usual lines:
 *   text (default):  <ISO time>\t<request id>\t<LEVEL>\t<message, newlines as \r>
 *   JSON:            {"timestamp","level","requestId"[,"tenantId"],"message"...}
 * AWS_LAMBDA_LOG_FORMAT=JSON selects JSON, AWS_LAMBDA_LOG_LEVEL filters, and when
 * _LAMBDA_TELEMETRY_LOG_FD is set the lines go to that fd as telemetry frames.
 */
const util = require('node:util');
const fs = require('node:fs');
const { intoError, toFormatted } = require('./errors.cjs');

const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
const TENANT_ID = Symbol.for('aws.lambda.runtime.tenantId');

const LEVELS = Object.freeze({
  TRACE: { name: 'TRACE', priority: 1, tlvMask: 0b00100 },
  DEBUG: { name: 'DEBUG', priority: 2, tlvMask: 0b01000 },
  INFO: { name: 'INFO', priority: 3, tlvMask: 0b01100 },
  WARN: { name: 'WARN', priority: 4, tlvMask: 0b10000 },
  ERROR: { name: 'ERROR', priority: 5, tlvMask: 0b10100 },
  FATAL: { name: 'FATAL', priority: 6, tlvMask: 0b11000 },
});

const structuredConsole = {};

function jsonErrorReplacer(_key, value) {
  if (value instanceof Error) {
    return Object.assign(
      {
        errorType: value?.constructor?.name ?? 'UnknownError',
        errorMessage: value.message,
        stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
      },
      value,
    );
  }
  return value;
}

function formatJson(requestId, timestamp, level, tenantId, ...params) {
  const result = { timestamp, level: level.name, requestId };
  if (tenantId != null) result.tenantId = tenantId;
  if (params.length === 1) {
    result.message = params[0];
    try {
      return JSON.stringify(result, jsonErrorReplacer);
    } catch (_err) {
      result.message = util.format(result.message);
      return JSON.stringify(result);
    }
  }
  result.message = util.format(...params);
  for (const param of params) {
    if (param instanceof Error) {
      result.errorType = param?.constructor?.name ?? 'UnknownError';
      result.errorMessage = param.message;
      result.stackTrace = typeof param.stack === 'string' ? param.stack.split('\n') : [];
      break;
    }
  }
  return JSON.stringify(result);
}

function textLine(level, params) {
  return `${new Date().toISOString()}\t${globalThis[REQUEST_ID]}\t${level.name}\t${util.format(
    ...params,
  )}`;
}

function jsonLine(level, params) {
  return formatJson(
    globalThis[REQUEST_ID],
    new Date().toISOString(),
    level,
    globalThis[TENANT_ID],
    ...params,
  );
}

function toStdout(format) {
  return (level, params) => {
    process.stdout.write(format(level, params).replace(/\n/g, '\r') + '\n');
  };
}

function toTelemetryFd(fd, format, frameType) {
  const header = Buffer.alloc(16);
  return (level, params) => {
    const now = Date.now();
    const line = format(level, params) + (format === textLine ? '\n' : '');
    const bytes = Buffer.from(line, 'utf8');
    header.writeUInt32BE((frameType | level.tlvMask) >>> 0, 0);
    header.writeInt32BE(bytes.length, 4);
    header.writeBigInt64BE(BigInt(now) * 1000n, 8);
    fs.writeSync(fd, header);
    fs.writeSync(fd, bytes);
  };
}

function patchConsole() {
  const json = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
  const format = json ? jsonLine : textLine;
  let log;
  const fdVar = process.env._LAMBDA_TELEMETRY_LOG_FD;
  if (fdVar != null) {
    delete process.env._LAMBDA_TELEMETRY_LOG_FD;
    log = toTelemetryFd(parseInt(fdVar, 10), format, json ? 0xa55a0002 : 0xa55a0003);
  } else {
    log = toStdout(format);
  }
  const threshold =
    LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] ?? LEVELS.TRACE;
  const nop = () => {};
  const method = (level) =>
    level.priority >= threshold.priority ? (...params) => log(level, params) : nop;
  console.trace = method(LEVELS.TRACE);
  console.debug = method(LEVELS.DEBUG);
  console.info = method(LEVELS.INFO);
  console.log = console.info;
  console.warn = method(LEVELS.WARN);
  console.error = method(LEVELS.ERROR);
  console.fatal = (...params) => log(LEVELS.FATAL, params);
  structuredConsole.logError = json
    ? (_msg, err) => console.error(intoError(err))
    : (msg, err) => console.error(msg, toFormatted(intoError(err)));
}

function setCurrentRequestId(id) {
  globalThis[REQUEST_ID] = id;
}

function setCurrentTenantId(id) {
  globalThis[TENANT_ID] = id;
}

module.exports = { patchConsole, structuredConsole, setCurrentRequestId, setCurrentTenantId };
