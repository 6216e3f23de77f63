'use strict';
/**
 * A small Lambda Runtime API client on node:http with one keep-alive connection.
 *
 * - GET /next has no timeout: the sandbox is frozen between invocations.
 * - `Lambda-Runtime-Invocation-Id` from /next is echoed on /response and /error.
 * - Any non-2xx from /next, any 5xx from a post, and any connection failure are fatal
 *   (`RuntimeApiFatal`): the Runtime API says "exit now". A 4xx on a post (stale or
 *   unknown request id, response too large) is logged and the loop goes on, since
 *   Lambda has already settled that invocation.
 */
const http = require('node:http');

const PREFIX = '/2018-06-01/runtime';
const HEADER_ERROR_TYPE = 'Lambda-Runtime-Function-Error-Type';
const HEADER_XRAY_CAUSE = 'Lambda-Runtime-Function-XRay-Error-Cause';
const HEADER_INVOCATION_ID = 'Lambda-Runtime-Invocation-Id';
// Header values must be latin-1 without control characters; keep the X-Ray cause
// well under the header limits of Runtime API servers (the official clients send it
// unbounded; awslambdaric drops it from 1 MiB on).
const MAX_XRAY_CAUSE = 32 * 1024;

class RuntimeApiFatal extends Error {}
RuntimeApiFatal.prototype.name = 'RuntimeApiFatal';

function parseHostPort(value) {
  if (!value) throw new RuntimeApiFatal('AWS_LAMBDA_RUNTIME_API is not set');
  const colon = value.lastIndexOf(':');
  let hostname = colon > 0 ? value.slice(0, colon) : value;
  const port = colon > 0 ? Number(value.slice(colon + 1)) : 80;
  if (hostname.startsWith('[') && hostname.endsWith(']')) hostname = hostname.slice(1, -1);
  if (!hostname || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RuntimeApiFatal(`Invalid AWS_LAMBDA_RUNTIME_API: ${value}`);
  }
  return { hostname, port };
}

/** Make any string a legal HTTP header value (ASCII, no control characters). */
function headerSafe(value) {
  return String(value).replace(
    /[^\x20-\x7e]/g,
    (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'),
  );
}

/** JSON with every non-ASCII character escaped, so that it fits in a header. */
function asciiJson(json) {
  return json.replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

class RapidClient {
  constructor(hostPort) {
    const { hostname, port } = parseHostPort(hostPort);
    this.hostname = hostname;
    this.port = port;
    this.http = http;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  /** @returns {Promise<{body: Buffer, headers: Object}>} */
  next() {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          hostname: this.hostname,
          port: this.port,
          path: `${PREFIX}/invocation/next`,
          method: 'GET',
          agent: this.agent,
        },
        (res) => {
          const chunks = [];
          res.on('data', (chunk) => chunks.push(chunk));
          res.on('error', (err) => reject(new RuntimeApiFatal(`GET /next failed: ${err.message}`)));
          res.on('end', () => {
            const body = Buffer.concat(chunks);
            if (res.statusCode !== 200) {
              reject(
                new RuntimeApiFatal(
                  `GET /next returned HTTP ${res.statusCode}: ${body.toString('utf8').slice(0, 500)}`,
                ),
              );
              return;
            }
            resolve({ body, headers: res.headers });
          });
        },
      );
      req.on('error', (err) => reject(new RuntimeApiFatal(`GET /next failed: ${err.message}`)));
      req.end();
    });
  }

  postResponse(requestId, bodyString, invocationId) {
    const headers = { 'Content-Type': 'application/json' };
    if (invocationId) headers[HEADER_INVOCATION_ID] = invocationId;
    return this._post(`${PREFIX}/invocation/${encodeURIComponent(requestId)}/response`, headers, bodyString);
  }

  /** @param errorResponse the {errorType, errorMessage, trace} object */
  postError(requestId, errorResponse, xrayCause, invocationId) {
    const headers = {
      'Content-Type': 'application/json',
      [HEADER_ERROR_TYPE]: headerSafe(errorResponse.errorType ?? 'Unknown'),
    };
    if (xrayCause) {
      const cause = asciiJson(xrayCause);
      if (cause.length <= MAX_XRAY_CAUSE) headers[HEADER_XRAY_CAUSE] = cause;
    }
    if (invocationId) headers[HEADER_INVOCATION_ID] = invocationId;
    return this._post(
      `${PREFIX}/invocation/${encodeURIComponent(requestId)}/error`,
      headers,
      serializeErrorResponse(errorResponse),
    );
  }

  postInitError(errorResponse) {
    return this._post(
      `${PREFIX}/init/error`,
      {
        'Content-Type': 'application/json',
        [HEADER_ERROR_TYPE]: headerSafe(errorResponse.errorType ?? 'Unknown'),
      },
      serializeErrorResponse(errorResponse),
    );
  }

  /**
   * Start a streamed /response: chunked body, error trailers. Returns the
   * http.ClientRequest and a promise of the Runtime API's answer.
   */
  streamResponse(requestId, invocationId, highWaterMark) {
    const headers = {
      'Lambda-Runtime-Function-Response-Mode': 'streaming',
      Trailer: ['Lambda-Runtime-Function-Error-Type', 'Lambda-Runtime-Function-Error-Body'],
      'Content-Type': 'application/octet-stream',
      'Transfer-Encoding': 'chunked',
    };
    if (invocationId) headers[HEADER_INVOCATION_ID] = invocationId;
    let req;
    const done = new Promise((resolve, reject) => {
      req = http.request(
        {
          hostname: this.hostname,
          port: this.port,
          path: `${PREFIX}/invocation/${encodeURIComponent(requestId)}/response`,
          method: 'POST',
          headers,
          agent: this.agent,
          highWaterMark,
        },
        (res) => this._settle(res, 'POST /response (streaming)', resolve, reject),
      );
      req.on('error', (err) =>
        reject(new RuntimeApiFatal(`POST /response (streaming) failed: ${err.message}`)),
      );
    });
    return { req, done };
  }

  _post(path, headers, bodyString) {
    const body = Buffer.from(bodyString, 'utf8');
    headers['Content-Length'] = body.length;
    return new Promise((resolve, reject) => {
      const req = http.request(
        { hostname: this.hostname, port: this.port, path, method: 'POST', headers, agent: this.agent },
        (res) => this._settle(res, `POST ${path}`, resolve, reject),
      );
      req.on('error', (err) => reject(new RuntimeApiFatal(`POST ${path} failed: ${err.message}`)));
      req.end(body);
    });
  }

  _settle(res, what, resolve, reject) {
    const chunks = [];
    res.on('data', (chunk) => chunks.push(chunk));
    res.on('error', (err) => reject(new RuntimeApiFatal(`${what} failed: ${err.message}`)));
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (res.statusCode >= 500) {
        reject(new RuntimeApiFatal(`${what} returned HTTP ${res.statusCode}: ${text.slice(0, 500)}`));
      } else {
        if (res.statusCode >= 300) {
          process.stderr.write(
            `openruntime-node: ${what} returned HTTP ${res.statusCode}: ${text.slice(0, 500)}\n`,
          );
        }
        resolve({ status: res.statusCode, body: text });
      }
    });
  }
}

function serializeErrorResponse(errorResponse) {
  try {
    return JSON.stringify(errorResponse);
  } catch (_err) {
    return JSON.stringify({
      errorType: String(errorResponse.errorType),
      errorMessage: String(errorResponse.errorMessage),
      trace: [],
    });
  }
}

module.exports = { RapidClient, RuntimeApiFatal, parseHostPort };
