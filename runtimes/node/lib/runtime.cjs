'use strict';
/**
 * The invocation loop: GET /next → call the handler → POST /response or /error.
 * Semantics follow the official Node.js runtime (aws-lambda-ric 3.x, the line that runs
 * Node 20): promise results settle the invocation at once; callback results wait for
 * the event loop to empty unless context.callbackWaitsForEmptyEventLoop is false; a
 * handler that returns neither gets a null response when the event loop empties.
 */
const { toRapidResponse, xrayCause, JSONStringifyError } = require('./errors.cjs');
const {
  structuredConsole,
  setCurrentRequestId,
  setCurrentTenantId,
} = require('./log-patch.cjs');
const { wrapResponseStream } = require('./streaming.cjs');

const H = {
  clientContext: 'lambda-runtime-client-context',
  cognitoIdentity: 'lambda-runtime-cognito-identity',
  arn: 'lambda-runtime-invoked-function-arn',
  requestId: 'lambda-runtime-aws-request-id',
  deadlineMs: 'lambda-runtime-deadline-ms',
  traceId: 'lambda-runtime-trace-id',
  tenantId: 'lambda-runtime-aws-tenant-id',
  invocationId: 'lambda-runtime-invocation-id',
};

// Called when the event loop empties (process 'beforeExit'); replaced per invocation.
let beforeExitListener = () => {};
const beforeExit = {
  invoke: () => beforeExitListener(),
  reset: () => {
    beforeExitListener = () => {};
  },
  set: (fn) => {
    beforeExitListener = fn;
  },
};

function parseJsonHeader(value, name) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

function serialize(result) {
  let body;
  try {
    body = JSON.stringify(result === undefined ? null : result);
  } catch (err) {
    throw new JSONStringifyError(`Unable to stringify response body: ${err.message}`);
  }
  // JSON.stringify gives undefined for functions and symbols: Lambda would see null.
  return body === undefined ? 'null' : body;
}

class Invocation {
  constructor(headers) {
    this.headers = headers; // node:http lower-cases header names
    this.requestId = headers[H.requestId];
    this.invocationId = headers[H.invocationId];
    this.tenantId = headers[H.tenantId];
    if (!this.requestId) throw new Error('invocation id is missing or invalid');
  }

  /** Fill the context object the handler receives (may throw on bad JSON headers). */
  attachEnvironmentData(context) {
    const traceId = this.headers[H.traceId];
    if (traceId) process.env._X_AMZN_TRACE_ID = traceId;
    else delete process.env._X_AMZN_TRACE_ID;
    const deadline = Number(this.headers[H.deadlineMs]);
    return Object.assign(
      context,
      {
        functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
        functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
        memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
        logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
        logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      },
      {
        clientContext: parseJsonHeader(this.headers[H.clientContext], 'ClientContext'),
        identity: parseJsonHeader(this.headers[H.cognitoIdentity], 'CognitoIdentity'),
        invokedFunctionArn: this.headers[H.arn],
        awsRequestId: this.requestId,
        tenantId: this.tenantId,
        getRemainingTimeInMillis() {
          return deadline - Date.now();
        },
      },
    );
  }
}

class Runtime {
  constructor(client, handler, metadata, errorCallbacks, onFatal) {
    this.client = client;
    this.handler = handler;
    this.metadata = metadata;
    this.errorCallbacks = errorCallbacks;
    this.onFatal = onFatal;
    this.handleOnce = metadata.streaming ? this.handleOnceStreaming : this.handleOnceBuffered;
  }

  scheduleIteration() {
    setImmediate(() => {
      this.handleOnce().catch((err) => this.onFatal(err));
    });
  }

  /** Post an invocation error; the next iteration starts once Lambda has it. */
  postError(invocation, err) {
    structuredConsole.logError('Invoke Error', err);
    return this.client.postError(
      invocation.requestId,
      toRapidResponse(err),
      xrayCause(err),
      invocation.invocationId,
    );
  }

  postResult(invocation, result) {
    let body;
    try {
      body = serialize(result);
    } catch (err) {
      return this.postError(invocation, err);
    }
    return this.client.postResponse(invocation.requestId, body, invocation.invocationId);
  }

  /** The callback, and the callback-related part of the context, for one invocation. */
  buildCallbackContext(invocation) {
    let finished = false; // only the first of callback/succeed/fail/done counts
    let completed = false;
    let waitForEmptyEventLoop = true;

    const settle = (promise) => {
      promise.then(
        () => this.scheduleIteration(),
        (err) => this.onFatal(err),
      );
    };
    const postError = (err) => settle(this.postError(invocation, err));
    const complete = (result) => {
      if (completed) {
        console.error(
          'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
        );
        return;
      }
      completed = true;
      settle(this.postResult(invocation, result));
    };

    const callback = (err, result) => {
      beforeExit.reset();
      if (err !== undefined && err !== null) {
        postError(err);
      } else if (!waitForEmptyEventLoop) {
        complete(result);
      } else {
        beforeExit.set(() => setImmediate(() => complete(result)));
      }
    };
    const done = (err, result) => {
      beforeExit.reset();
      if (err !== undefined && err !== null) postError(err);
      else complete(result);
    };
    const once = (fn) =>
      function (...args) {
        if (!finished) {
          finished = true;
          fn(...args);
        }
      };
    const context = {
      get callbackWaitsForEmptyEventLoop() {
        return waitForEmptyEventLoop;
      },
      set callbackWaitsForEmptyEventLoop(value) {
        waitForEmptyEventLoop = value;
      },
      succeed: once((result) => done(null, result)),
      fail: once((err) => (err === undefined || err === null ? done('handled') : done(err, null))),
      done: once(done),
    };
    const markCompleted = () => {
      completed = true;
    };
    return { callback: once(callback), context, markCompleted };
  }

  setErrorCallbacks(invocation) {
    const fatalAfterPost = (code) => (error) => {
      this.postError(invocation, error).then(
        () => process.exit(code),
        () => process.exit(code),
      );
    };
    this.errorCallbacks.uncaughtException = fatalAfterPost(129);
    this.errorCallbacks.unhandledRejection = fatalAfterPost(128);
  }

  async nextInvocation() {
    const { body, headers } = await this.client.next();
    const invocation = new Invocation(headers);
    setCurrentRequestId(invocation.requestId);
    setCurrentTenantId(invocation.tenantId);
    return { body, invocation };
  }

  async handleOnceBuffered() {
    const { body, invocation } = await this.nextInvocation();
    const { callback, context, markCompleted } = this.buildCallbackContext(invocation);
    try {
      this.setErrorCallbacks(invocation);
      // Neither a promise nor the callback: answer null once the event loop is empty.
      beforeExit.set(() => {
        markCompleted();
        this.postResult(invocation, null).then(
          () => this.scheduleIteration(),
          (err) => this.onFatal(err),
        );
      });
      const result = this.handler(
        JSON.parse(body.toString('utf8')),
        invocation.attachEnvironmentData(context),
        callback,
      );
      if (result && typeof result.then === 'function') {
        result.then(context.succeed, context.fail).catch(context.fail);
      }
    } catch (err) {
      callback(err);
    }
  }

  async handleOnceStreaming() {
    const { body, invocation } = await this.nextInvocation();
    const { req, done: rapidResponse } = this.client.streamResponse(
      invocation.requestId,
      invocation.invocationId,
      this.metadata.highWaterMark,
    );
    const { stream, fail } = wrapResponseStream(req);
    let failed = false;
    const failWith = async (err) => {
      if (failed) return;
      failed = true;
      structuredConsole.logError('Invoke Error', err);
      await fail(err);
    };
    rapidResponse.catch(() => {}); // awaited below; a fatal failure is reported there
    this.setErrorCallbacks(invocation);
    this.errorCallbacks.uncaughtException = (error) => {
      failWith(error).finally(() => process.exit(129));
    };
    this.errorCallbacks.unhandledRejection = (error) => {
      failWith(error).finally(() => process.exit(128));
    };
    beforeExit.set(() => this.scheduleIteration());
    try {
      const ctx = invocation.attachEnvironmentData({
        callbackWaitsForEmptyEventLoop: true,
      });
      const handlerResult = this.handler(JSON.parse(body.toString('utf8')), stream, ctx);
      if (!handlerResult || typeof handlerResult.then !== 'function') {
        await failWith(new Error('Streaming does not support non-async handlers.'));
      } else {
        const result = await handlerResult;
        if (result !== undefined) console.warn('Streaming handlers ignore return values.');
        if (!req.writableEnded) {
          await failWith(new Error('Response stream is not finished.'));
        }
      }
    } catch (err) {
      await failWith(err);
    }
    beforeExit.reset();
    await rapidResponse;
    this.scheduleIteration();
  }
}

module.exports = { Runtime, beforeExit };
