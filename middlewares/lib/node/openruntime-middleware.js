'use strict';
/**
 * openruntime middleware SDK for Node.js (CommonJS, no dependencies): one file serves
 * exec mode and persistent mode (docs/middleware-protocol.md).
 *
 *   #!/usr/bin/env node
 *   const mw = require(require('path').join(__dirname, '..', 'lib', 'node', 'openruntime-middleware.js'));
 *   mw.before((event, ctx) => {
 *     if (event.ping) return mw.respond({ pong: true }); // short-circuit
 *     ctx.state = { seen: true };                         // handed to after/error
 *     return { ...event, taggedBy: ctx.middleware };
 *   });
 *   mw.after(async (response, ctx) => undefined);         // undefined: unchanged bytes
 *   mw.run();
 *
 * A hook function gets the parsed JSON value when the content type is JSON
 * (application/json, type/x+json, or none: Lambda's default) and the payload parses;
 * otherwise (or with `{ raw: true }`) a Buffer. It may be async. It returns:
 *   undefined                 the received payload, byte-identical
 *   Buffer / Uint8Array       the new payload as is; string: as UTF-8
 *   anything else (null too)  the new payload as JSON
 *   respond(payload, {contentType})      short-circuit (before) / recover (error)
 *   replace(payload, {contentType})      a new payload with a new content type
 * and throws `new Fail(message, errorType, details)` (or any error) to fail the invocation
 * with that error object: errorType, errorMessage and the `details` keys (for another
 * error its name, message and stackTrace).
 *
 * Exec mode (`NAME <hook>`): payload on STDIN, new payload on STDOUT, exit 0 (continue),
 * 3 (respond) or 4 (fail: STDOUT is the error object, which becomes the invocation's
 * error as it is). The last STDERR line is then `<errorType>: <errorMessage>`, for the
 * logs and for orchestrators that predate exit status 4 (they report any status other
 * than 0 and 3 as Middleware.ExitError, quoting the STDERR tail). Persistent mode
 * (`NAME --persistent`): a failing hook answers `fail` and the process keeps serving.
 *
 * `ctx.log(line)` writes one line to the function's log for this invocation: in the
 * answer frame in persistent mode (logged with the answer), on STDERR in exec mode.
 *
 * In both modes console.log and process.stdout.write go to STDERR: STDOUT carries the
 * protocol only.
 */

const fs = require('fs');
const path = require('path');

const HOOKS = ['before', 'after', 'error', 'received', 'done'];
// Observers' hooks, once the answer is posted: what they answer is not used (only state).
const OBSERVER_HOOKS = ['received', 'done'];
const PROTOCOL = 2;
const EXIT_CONTINUE = 0;
const EXIT_FAIL = 1; // no error object could be written, or the hook never finished
const EXIT_USAGE = 2;
const EXIT_RESPOND = 3;
const EXIT_FAIL_WITH_ERROR = 4; // exec mode: STDOUT is the error object
const MAX_HEADER_BYTES = 1 << 20;
// The orchestrator reads answer headers up to 64 KiB, a state up to 32 KiB among them:
// log lines beyond this share of an answer go to STDERR instead.
const MAX_ANSWER_LOG_BYTES = 24 * 1024;
const NEWLINE = 0x0a;

class Fail extends Error {
  constructor(message, errorType = 'Middleware.Failed', details = undefined) {
    super(message);
    this.name = 'Fail';
    this.errorType = errorType;
    this.details = details || {};
  }

  toError() {
    return { ...this.details, errorType: this.errorType, errorMessage: this.message };
  }
}

class Outcome {
  constructor(action, payload, contentType) {
    this.action = action;
    this.payload = payload;
    this.contentType = contentType;
  }
}

function respond(payload, options = {}) {
  return new Outcome('respond', payload, options.contentType);
}

function replace(payload, options = {}) {
  return new Outcome('continue', payload, options.contentType);
}

function isJsonContentType(contentType) {
  if (!contentType) return true;
  const media = contentType.split(';', 1)[0].trim().toLowerCase();
  return media === 'application/json' || (media.endsWith('+json') && media.includes('/'));
}

// An object or array: one compact JSON line (a structured line, as in the Python SDK);
// anything else as String() gives it.
function logText(value) {
  if (value !== null && typeof value === 'object') {
    try {
      const text = JSON.stringify(value, (key, v) => (typeof v === 'bigint' ? v.toString() : v));
      if (typeof text === 'string') return text;
    } catch (err) {
      // a cycle: as String() gives it
    }
  }
  return String(value);
}

function parseStages(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch (err) {
    return null;
  }
}

class Context {
  constructor(fields) {
    this.hook = fields.hook;
    this.requestId = fields.requestId || '';
    this.deadlineMs = Number.isInteger(fields.deadlineMs) ? fields.deadlineMs : null;
    this.functionArn = fields.functionArn || '';
    this.traceId = fields.traceId || '';
    this.contentType = fields.contentType || '';
    this.middleware = fields.middleware || '';
    this.tenantId = fields.tenantId || null; // the caller's tenant (tenant isolation mode), else null
    // The stages the orchestrator timed so far in this invocation, each
    // [middleware name or null, hook or "handler", start Unix µs, duration µs]; null from
    // an orchestrator that does not report them.
    this.stages = Array.isArray(fields.stages) ? fields.stages : null;
    // The invocation's event as Lambda delivered it, in bytes (before any middleware changed it).
    this.eventBytes = Number.isSafeInteger(fields.eventBytes) && fields.eventBytes >= 0 ? fields.eventBytes : null;
    // Invocation-scoped and private to this middleware; any JSON value.
    this.state = fields.state === undefined ? null : fields.state;
    // In a `done` hook, what was posted: 'response', 'error' (the payload is the error JSON)
    // or 'stream' (a streamed response: no payload); null in the other hooks.
    this.outcome = typeof fields.outcome === 'string' ? fields.outcome : null;
    // Persistent mode: lines for the answer frame (not enumerable: not part of the context's data).
    Object.defineProperty(this, '_log', { value: null, writable: true });
    Object.defineProperty(this, '_logSize', { value: 0, writable: true });
  }

  /**
   * One line for the function's log, tagged with this invocation's request id (a value
   * that is not a string is logged as `String(value)`). In persistent mode it travels in
   * the answer frame (`log`): the orchestrator logs it with the answer, inside the
   * invocation. In exec mode, once a hook's lines pass what one frame header holds
   * (24 KiB), and after the answer (a callback that kept ctx), it goes to STDERR at once;
   * the lines held until then go first, so a hook's lines keep their order.
   */
  log(line) {
    const text = typeof line === 'string' ? line : logText(line);
    let pending = [];
    if (this._log !== null) {
      const room = MAX_ANSWER_LOG_BYTES - this._logSize;
      // Its length first: a huge line must not be encoded only to be refused.
      const size = text.length >= room ? text.length + 1 : Buffer.byteLength(JSON.stringify(text), 'utf8') + 1;
      if (size <= room) {
        this._log.push(text);
        this._logSize += size;
        return;
      }
      pending = this._log;
      this._log = null; // from now on STDERR, after what was held: in order
    }
    process.stderr.write(`${[...pending, text].join('\n')}\n`);
  }

  /** Milliseconds until the deadline (never negative), null when unknown. */
  remainingTimeMs() {
    return this.deadlineMs === null ? null : Math.max(0, this.deadlineMs - Date.now());
  }

  get isJson() {
    return isJsonContentType(this.contentType);
  }
}

// ------------------------------------------------------------------------ registry

const handlers = new Map();

function register(hook, fn, options) {
  if (typeof fn !== 'function') throw new TypeError(`${hook}() needs a function`);
  if (handlers.has(hook)) throw new Error(`a '${hook}' hook is already registered`);
  handlers.set(hook, { fn, raw: Boolean(options && options.raw) });
}

const before = (fn, options) => register('before', fn, options);
const after = (fn, options) => register('after', fn, options);
const error = (fn, options) => register('error', fn, options);
// Once the answer is posted: an observer's hook (its answer is not used, nobody waits for it).
const done = (fn, options) => register('done', fn, options);
// The event as Lambda delivered it, for an observer, just before its `done` (state carries over).
const received = (fn, options) => register('received', fn, options);

// ------------------------------------------------------------------------ calling

function encode(value, received) {
  if (value === undefined) return received;
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return Buffer.from(JSON.stringify(value), 'utf8');
}

async function call(handler, ctx, payload) {
  let arg = payload;
  if (!handler.raw && payload.length && isJsonContentType(ctx.contentType)) {
    try {
      arg = JSON.parse(payload.toString('utf8'));
    } catch (_) {
      arg = payload; // documented: unparseable JSON payloads arrive as a Buffer
    }
  }
  const result = await handler.fn(arg, ctx);
  if (result instanceof Outcome) {
    // `respond` means something only in before (short-circuit) and error (recovery).
    const action = result.action === 'respond' && ctx.hook === 'after' ? 'continue' : result.action;
    return { action, data: encode(result.payload, payload), contentType: result.contentType };
  }
  return { action: 'continue', data: encode(result, payload), contentType: undefined };
}

function errorOf(err) {
  if (err instanceof Fail) return err.toError();
  if (err instanceof Error) {
    return {
      errorType: err.name || 'Error',
      errorMessage: err.message,
      stackTrace: (err.stack || '').split('\n').slice(1).map((l) => l.trim()),
    };
  }
  return { errorType: 'Error', errorMessage: String(err) };
}

/** The error object as JSON; without its extra keys when they are not JSON (BigInt, cycles). */
function errorPayload(e) {
  try {
    return Buffer.from(JSON.stringify(e), 'utf8');
  } catch (err) {
    process.stderr.write(`openruntime-middleware: error details dropped, not JSON: ${err.message}\n`);
    return Buffer.from(JSON.stringify({ errorType: String(e.errorType), errorMessage: String(e.errorMessage) }), 'utf8');
  }
}

/** Keep STDOUT for the protocol; everything else written to it goes to STDERR. */
function claimStdout() {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr);
  return write;
}

function writeAll(write, chunks) {
  return new Promise((resolve, reject) => {
    const last = chunks.length - 1;
    chunks.forEach((chunk, i) => {
      if (i === last) write(chunk, (err) => (err ? reject(err) : resolve()));
      else write(chunk);
    });
  });
}

// ------------------------------------------------------------------------ exec mode

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks)));
    process.stdin.on('error', reject);
  });
}

function readState(file) {
  if (!file) return { state: null, stored: '' };
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (_) {
    return { state: null, stored: '' };
  }
  if (!text.trim()) return { state: null, stored: text };
  try {
    return { state: JSON.parse(text), stored: text };
  } catch (_) {
    return { state: text, stored: text }; // not written by this SDK: hand over the text
  }
}

function writeState(file, state, stored) {
  if (!file) return;
  const text = state === null || state === undefined ? '' : JSON.stringify(state);
  if (text !== stored) fs.writeFileSync(file, text);
}

async function runExec(hook) {
  const payload = await readStdin();
  const write = claimStdout();
  const handler = handlers.get(hook);
  if (!handler) {
    // A hook this middleware does not implement passes through (what `done` writes is not used).
    if (!OBSERVER_HOOKS.includes(hook)) await writeAll(write, [payload]);
    return EXIT_CONTINUE;
  }
  const env = process.env;
  const ctx = new Context({
    hook,
    requestId: env.OPENRUNTIME_REQUEST_ID,
    deadlineMs: env.OPENRUNTIME_DEADLINE_MS ? Number(env.OPENRUNTIME_DEADLINE_MS) : null,
    functionArn: env.OPENRUNTIME_FUNCTION_ARN,
    traceId: env._X_AMZN_TRACE_ID,
    contentType: env.OPENRUNTIME_CONTENT_TYPE,
    middleware: env.OPENRUNTIME_MIDDLEWARE || path.basename(process.argv[1] || ''),
    tenantId: env.OPENRUNTIME_TENANT_ID,
    stages: parseStages(env.OPENRUNTIME_STAGES),
    eventBytes: env.OPENRUNTIME_EVENT_BYTES ? Number(env.OPENRUNTIME_EVENT_BYTES) : null,
    outcome: env.OPENRUNTIME_OUTCOME,
  });
  const stateFile = env.OPENRUNTIME_STATE_FILE;
  const { state, stored } = readState(stateFile);
  ctx.state = state;
  let outcome;
  let failed = false; // a flag, not `failure`'s truth: `throw undefined` fails too
  let failure = null;
  try {
    outcome = await call(handler, ctx, payload);
  } catch (err) {
    failed = true;
    failure = err;
  }
  try {
    writeState(stateFile, ctx.state, stored); // even after a failure: error hooks may need it
  } catch (err) {
    if (!failed) failure = new Fail(`state is not JSON: ${err.message}`);
    failed = true;
  }
  if (failed) {
    if (!(failure instanceof Fail)) process.stderr.write(`${(failure && failure.stack) || failure}\n`);
    const e = errorOf(failure);
    // For the logs, and for orchestrators without exit status 4, which quote the tail of
    // STDERR in a Middleware.ExitError: end it with the Lambda-style pair.
    process.stderr.write(`${e.errorType}: ${e.errorMessage}\n`);
    try {
      await writeAll(write, [errorPayload(e)]);
    } catch (_) {
      return EXIT_FAIL; // STDOUT is gone: the STDERR line is all there is
    }
    return EXIT_FAIL_WITH_ERROR;
  }
  if (OBSERVER_HOOKS.includes(hook)) return EXIT_CONTINUE; // what it answers is not used
  await writeAll(write, [outcome.data]); // exec mode cannot carry a new content type
  return outcome.action === 'respond' ? EXIT_RESPOND : EXIT_CONTINUE;
}

// ------------------------------------------------------------------------ persistent mode

/** Collects STDIN chunks and cuts frames out of them without re-copying the buffer. */
class FrameReader {
  constructor() {
    this.chunks = [];
    this.size = 0;
    this.scanned = 0; // bytes already searched for the header's newline
    this.header = null;
  }

  push(chunk) {
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  take(n) {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0];
    let out;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0];
        const k = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, k);
        filled += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.size -= n;
    return out;
  }

  newlineAt() {
    let base = 0;
    for (const c of this.chunks) {
      if (base + c.length > this.scanned) {
        const i = c.indexOf(NEWLINE, Math.max(0, this.scanned - base));
        if (i !== -1) return base + i;
      }
      base += c.length;
    }
    this.scanned = this.size;
    return -1;
  }

  /** The next complete frame, or null when more input is needed. Throws on garbage. */
  next() {
    if (this.header === null) {
      const nl = this.newlineAt();
      if (nl === -1) {
        if (this.size > MAX_HEADER_BYTES) throw new Error('frame header too long');
        return null;
      }
      const line = this.take(nl + 1).toString('utf8');
      this.scanned = 0;
      const header = JSON.parse(line);
      const length = header && header.length;
      if (!Number.isInteger(length) || length < 0) throw new Error(`frame header has no valid length: ${line.slice(0, 200)}`);
      this.header = header;
    }
    if (this.size < this.header.length) return null;
    const frame = { header: this.header, payload: this.take(this.header.length) };
    this.header = null;
    return frame;
  }
}

async function answer(header, payload) {
  const handler = handlers.get(header.hook);
  // An observer's answer is not used: no payload goes back.
  const answered = OBSERVER_HOOKS.includes(header.hook) ? Buffer.alloc(0) : payload;
  if (!handler) return { head: { action: 'continue', length: answered.length }, data: answered };
  const stateIn = header.state === undefined ? null : header.state;
  const ctx = new Context({
    hook: header.hook,
    requestId: header.request_id,
    deadlineMs: header.deadline_ms,
    functionArn: header.function_arn,
    traceId: header.trace_id,
    contentType: header.content_type,
    middleware: header.middleware,
    state: stateIn,
    tenantId: header.tenant_id,
    stages: header.stages,
    eventBytes: header.event_bytes,
    outcome: header.outcome,
  });
  ctx._log = [];
  let action;
  let data;
  let contentType;
  try {
    ({ action, data, contentType } = await call(handler, ctx, payload));
  } catch (err) {
    if (!(err instanceof Fail)) process.stderr.write(`${(err && err.stack) || err}\n`);
    action = 'fail';
    data = errorPayload(errorOf(err));
    contentType = undefined;
  }
  if (OBSERVER_HOOKS.includes(header.hook) && action !== 'fail') {
    action = 'continue';
    data = answered;
    contentType = undefined;
  }
  const head = { action, length: data.length };
  if (contentType && action !== 'fail') head.content_type = contentType;
  if (ctx.state !== null || stateIn !== null) head.state = ctx.state === undefined ? null : ctx.state;
  const lines = ctx._log;
  ctx._log = null; // a line logged later (a callback that kept ctx) goes to STDERR
  if (lines && lines.length) head.log = lines; // null: they went to STDERR, in order
  return { head, data };
}

async function runPersistent() {
  const write = claimStdout();
  const frame = (head, data) => {
    const line = Buffer.from(`${JSON.stringify(head)}\n`, 'utf8');
    return writeAll(write, data.length ? [line, data] : [line]);
  };
  const hooks = HOOKS.filter((h) => handlers.has(h));
  await frame({ ready: true, protocol: PROTOCOL, hooks, length: 0 }, Buffer.alloc(0));
  const reader = new FrameReader();
  for await (const chunk of process.stdin) {
    reader.push(chunk);
    for (;;) {
      let f;
      try {
        f = reader.next();
      } catch (err) {
        process.stderr.write(`openruntime-middleware: invalid request frame: ${err.message}\n`);
        return EXIT_FAIL; // out of sync: only a restart can fix it
      }
      if (f === null) break;
      let reply;
      try {
        reply = await answer(f.header, f.payload);
        await frame(reply.head, reply.data);
      } catch (err) {
        // e.g. state that JSON.stringify cannot encode: still exactly one answer
        const data = Buffer.from(JSON.stringify({ errorType: 'Middleware.Failed', errorMessage: String(err && err.message) }));
        const head = { action: 'fail', length: data.length };
        if (reply && reply.head.log) head.log = reply.head.log;
        await frame(head, data);
      }
    }
  }
  if (reader.size || reader.header) {
    process.stderr.write('openruntime-middleware: input ended inside a frame\n');
    return EXIT_FAIL;
  }
  return EXIT_CONTINUE;
}

// ------------------------------------------------------------------------ entry point

function usage() {
  const name = path.basename(process.argv[1] || 'middleware');
  return `usage: ${name} before|after|error|received|done  exec mode: payload on STDIN, result on STDOUT\n`
    + `       ${name} --persistent              persistent mode: framed protocol on STDIN/STDOUT\n`;
}

function main(argv) {
  const arg = argv[0];
  if (arg === '--persistent') return runPersistent();
  if (arg === '-h' || arg === '--help') {
    process.stdout.write(usage());
    return Promise.resolve(EXIT_CONTINUE);
  }
  if (arg) return runExec(arg);
  if (process.env.OPENRUNTIME_PROTOCOL === String(PROTOCOL)) return runPersistent();
  process.stderr.write(usage());
  return Promise.resolve(EXIT_USAGE);
}

/** Serve the registered hooks; the exit status follows the protocol. */
function run(argv = process.argv.slice(2)) {
  // A hook whose promise never settles would let Node exit 0 with nothing written:
  // until main() settles, the exit status says failure.
  let settled = false;
  process.exitCode = EXIT_FAIL;
  process.on('exit', () => {
    if (!settled) process.stderr.write('openruntime-middleware: the hook never finished (a promise that never settles?)\n');
  });
  main(argv).then(
    (code) => { settled = true; process.exitCode = code; },
    (err) => {
      settled = true;
      process.stderr.write(`${(err && err.stack) || err}\n`);
      process.exitCode = EXIT_FAIL;
    },
  );
}

module.exports = {
  Context, Fail, after, before, done, error, isJsonContentType, received, replace, respond, run,
};
