'use strict';
/**
 * Error classes and the error payloads posted to the Runtime API, in the shape of the
 * official Node.js runtime interface client (aws-lambda-ric):
 *   {"errorType": "...", "errorMessage": "...", "trace": ["Error: ...", "    at ..."]}
 */
const util = require('node:util');

function isErrorLike(obj) {
  return (
    !!obj &&
    typeof obj.name === 'string' &&
    typeof obj.message === 'string' &&
    typeof obj.stack === 'string' &&
    !!obj.name &&
    !!obj.message &&
    !!obj.stack
  );
}

const DEL = /\x7F/g;

/** The body of an /error or /init/error post. */
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      const stack = typeof error.stack === 'string' ? error.stack : String(error);
      return {
        errorType: error.name == null ? undefined : String(error.name).replace(DEL, '%7F'),
        errorMessage:
          error.message == null ? undefined : String(error.message).replace(DEL, '%7F'),
        trace: stack.replace(DEL, '%7F').split('\n'),
      };
    }
    return {
      errorType: typeof error,
      errorMessage: String(error),
      trace: [],
    };
  } catch (_err) {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving ' +
        'one or more of its message, name, and stack',
      trace: [],
    };
  }
}

function intoError(err) {
  return err instanceof Error ? err : new Error(err);
}

function withEnumerableProperties(value) {
  if (value instanceof Error) {
    const ret = Object.assign(
      { errorType: value.name, errorMessage: value.message, code: value.code },
      value,
    );
    if (typeof value.stack === 'string') ret.stack = value.stack.split('\n');
    return ret;
  }
  return value;
}

/** The tab-prefixed JSON the official runtime logs after "Invoke Error" / "Init Error". */
function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, (_k, v) => withEnumerableProperties(v));
  } catch (_err) {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

/** The X-Ray cause header the official client sends with invocation errors. */
function xrayCause(err) {
  try {
    const stack = [];
    if (err && typeof err.stack === 'string') {
      const lines = err.stack.replace(DEL, '%7F').split('\n');
      lines.shift();
      for (const stackLine of lines) {
        let line = stackLine.trim().replace(/\(|\)/g, '');
        line = line.substring(line.indexOf(' ') + 1);
        const space = line.lastIndexOf(' ');
        const label = space >= 0 ? line.slice(0, space) : null;
        const where = (label ? line.slice(space + 1) : line).split(':');
        stack.push({ path: where[0], line: parseInt(where[1], 10), label: label || 'anonymous' });
      }
    }
    const cause = {
      working_directory: process.cwd(),
      exceptions: [
        {
          type: err && err.name != null ? String(err.name).replace(DEL, '%7F') : typeof err,
          message:
            err && err.message != null ? String(err.message).replace(DEL, '%7F') : String(err),
          stack,
        },
      ],
      paths: [...new Set(stack.map((e) => e.path))],
    };
    return JSON.stringify(cause);
  } catch (_err) {
    return '';
  }
}

function runtimeError(name) {
  const cls = class extends Error {};
  Object.defineProperty(cls, 'name', { value: name });
  cls.prototype.name = `Runtime.${name}`;
  return cls;
}

const ImportModuleError = runtimeError('ImportModuleError');
const HandlerNotFound = runtimeError('HandlerNotFound');
const MalformedHandlerName = runtimeError('MalformedHandlerName');
const UserCodeSyntaxError = runtimeError('UserCodeSyntaxError');
const MalformedStreamingHandler = runtimeError('MalformedStreamingHandler');
const InvalidStreamingOperation = runtimeError('InvalidStreamingOperation');
const JSONStringifyError = runtimeError('JSONStringifyError');

class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';

module.exports = {
  toRapidResponse,
  toFormatted,
  intoError,
  xrayCause,
  ImportModuleError,
  HandlerNotFound,
  MalformedHandlerName,
  UserCodeSyntaxError,
  MalformedStreamingHandler,
  InvalidStreamingOperation,
  JSONStringifyError,
  UnhandledPromiseRejection,
};
