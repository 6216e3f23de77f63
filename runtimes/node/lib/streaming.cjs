'use strict';
/**
 * Response streaming (`awslambda.streamifyResponse`): the handler writes to a stream
 * whose bytes go to POST /response as a chunked body with
 * `Lambda-Runtime-Function-Response-Mode: streaming`; a failure after the first byte is
 * reported in the `Lambda-Runtime-Function-Error-Type` / `-Error-Body` trailers.
 */
const { InvalidStreamingOperation, toRapidResponse } = require('./errors.cjs');

const WRITABLE_METHODS = [
  'cork', 'destroy', 'end', 'uncork', 'write',
  'addListener', 'emit', 'eventNames', 'getMaxListeners', 'listenerCount', 'listeners',
  'off', 'on', 'once', 'prependListener', 'prependOnceListener', 'rawListeners',
  'removeAllListeners', 'removeListener', 'setMaxListeners', 'setContentType',
];
const PROPS_READ_WRITE = ['destroyed', '_onBeforeFirstWrite'];
const PROPS_READ_ONLY = [
  'writable', 'writableFinished', 'writableObjectMode', 'writableBuffer', 'writableEnded',
  'writableNeedDrain', 'writableHighWaterMark', 'writableCorked', 'writableLength',
];

/**
 * Wrap the ClientRequest of a streamed /response into the object handed to the user:
 * only the Writable side, plus setContentType(). Returns {stream, fail}.
 */
function wrapResponseStream(req) {
  let written = false;
  req.setContentType = (contentType) => {
    if (written) throw new InvalidStreamingOperation('Cannot set content-type, too late.');
    req.setHeader('Content-Type', contentType);
  };
  const origWrite = req.write.bind(req);
  req.write = (chunk, encoding, callback) => {
    if (typeof chunk !== 'string' && !Buffer.isBuffer(chunk) && !(chunk instanceof Uint8Array)) {
      chunk = JSON.stringify(chunk);
    }
    if (!written && typeof req._onBeforeFirstWrite === 'function') {
      req._onBeforeFirstWrite((ch) => origWrite(ch));
    }
    written = true;
    return origWrite(chunk, encoding, callback);
  };
  const origEnd = req.end.bind(req);
  req.end = (chunk, encoding, callback) => {
    if (typeof chunk === 'function') return origEnd(chunk);
    if (chunk != null) req.write(chunk, encoding);
    else if (!written && typeof req._onBeforeFirstWrite === 'function') req.write('');
    return origEnd(typeof encoding === 'function' ? encoding : callback);
  };

  const stream = {};
  for (const fn of WRITABLE_METHODS) stream[fn] = req[fn].bind(req);
  for (const prop of PROPS_READ_WRITE) {
    Object.defineProperty(stream, prop, {
      get: () => req[prop],
      set: (v) => { req[prop] = v; },
    });
  }
  for (const prop of PROPS_READ_ONLY) {
    Object.defineProperty(stream, prop, { get: () => req[prop] });
  }

  const fail = (err) =>
    new Promise((resolve) => {
      const body = toRapidResponse(err);
      if (!req.writableEnded) {
        try {
          req.addTrailers({
            'Lambda-Runtime-Function-Error-Type': String(body.errorType).replace(/[^\x20-\x7e]/g, '?'),
            'Lambda-Runtime-Function-Error-Body': Buffer.from(JSON.stringify(body)).toString('base64'),
          });
        } catch (_e) {
          /* headers already gone: the error is only logged */
        }
        origEnd(resolve);
      } else {
        resolve();
      }
    });

  return { stream, fail };
}

const METADATA_PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const DELIMITER_LEN = 8;

/** `awslambda.HttpResponseStream.from(stream, {statusCode, headers, cookies})`. */
class HttpResponseStream {
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType(METADATA_PRELUDE_CONTENT_TYPE);
    const metadataPrelude = JSON.stringify(prelude);
    underlyingStream._onBeforeFirstWrite = (write) => {
      write(metadataPrelude);
      write(new Uint8Array(DELIMITER_LEN));
    };
    return underlyingStream;
  }
}

module.exports = { wrapResponseStream, HttpResponseStream };
