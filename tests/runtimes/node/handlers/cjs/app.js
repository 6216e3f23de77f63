// CommonJS handlers used by tests/runtimes/node/test_node_runtime.py
'use strict';

let invocations = 0;

exports.echo = async (event) => ({ event });

exports.context = async (event, context) => ({
  awsRequestId: context.awsRequestId,
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  invokedFunctionArn: context.invokedFunctionArn,
  memoryLimitInMB: context.memoryLimitInMB,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  identity: context.identity ?? null,
  clientContext: context.clientContext ?? null,
  tenantId: context.tenantId ?? null,
  callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
  remaining: context.getRemainingTimeInMillis(),
  traceEnv: process.env._X_AMZN_TRACE_ID ?? null,
});

exports.remaining = async (event, context) => {
  const before = context.getRemainingTimeInMillis();
  await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
  return { before, after: context.getRemainingTimeInMillis() };
};

exports.counter = async () => ({ invocations: ++invocations, pid: process.pid });

exports.throws = async () => {
  throw new TypeError('bad thing happened');
};

exports.syncThrows = () => {
  throw new RangeError('thrown synchronously');
};

class OrderError extends Error {
  constructor(message) {
    super(message);
    this.name = 'OrderError';
  }
}
exports.customError = async () => {
  throw new OrderError('order 42 is invalid');
};

class ÜberError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ÜberError ✓';
  }
}
// Non-ASCII in the error name and message: they travel in HTTP headers too
// (error type, X-Ray cause), which must stay valid.
exports.unicodeError = async () => {
  throw new ÜberError('échec ✓ 失败 \u0000 end');
};

exports.rejectsString = () => Promise.reject('plain string reason');

exports.promise = (event) => new Promise((resolve) => setTimeout(() => resolve({ viaPromise: event.n * 2 }), 10));

exports.callback = (event, context, callback) => {
  setTimeout(() => callback(null, { viaCallback: event.n + 1 }), 10);
};

exports.callbackError = (event, context, callback) => {
  callback(new Error('callback failure'));
};

// The callback is called at once, but a timer keeps the event loop busy for
// event.timerMs: Lambda answers only when the loop is empty...
exports.callbackWaits = (event, context, callback) => {
  setTimeout(() => {}, event.timerMs);
  callback(null, 'waited');
};

// ...unless callbackWaitsForEmptyEventLoop is false.
exports.callbackNoWait = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  setTimeout(() => {}, event.timerMs);
  callback(null, 'did not wait');
};

exports.callbackTwice = (event, context, callback) => {
  callback(null, 'first');
  callback(null, 'second');
};

exports.contextSucceed = (event, context) => {
  context.succeed({ legacy: 'succeed' });
};

exports.contextFail = (event, context) => {
  context.fail(new Error('legacy fail'));
};

exports.contextDone = (event, context) => {
  context.done(null, { legacy: 'done' });
};

exports.noResult = () => {
  // neither a promise nor the callback
};

exports.returnsUndefined = async () => undefined;

// A plain (non-async) return value is ignored, as on Lambda: the response is null.
exports.syncReturn = () => 42;

// A promise that never settles: once the event loop is empty the answer is null.
exports.neverSettles = () => new Promise(() => {});

exports.circular = async () => {
  const a = { name: 'a' };
  a.self = a;
  return a;
};

exports.uncaughtInTimer = async () => {
  setTimeout(() => {
    throw new EvalError('thrown from a timer');
  }, 10);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  return 'unreachable';
};

exports.unhandledRejection = async () => {
  Promise.reject(new Error('nobody handles me'));
  await new Promise((resolve) => setTimeout(resolve, 2000));
  return 'unreachable';
};

exports.logs = async (event) => {
  console.log('hello from the handler', { n: event.n });
  console.error('an error line\nwith two lines');
  return 'logged';
};

exports.size = async (event) => ({ length: event.data.length, tail: event.data.slice(-5) });

exports.nested = {
  deeper: {
    handler: async () => 'nested handler',
  },
};

exports.notAFunction = 42;
