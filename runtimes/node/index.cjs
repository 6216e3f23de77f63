'use strict';
/**
 * openruntime Node.js runtime — entry point (see README.md).
 *
 *   node index.cjs [HANDLER]      HANDLER defaults to $_HANDLER
 *
 * Task root: $LAMBDA_TASK_ROOT, else the working directory. Talks to the Runtime API
 * at $AWS_LAMBDA_RUNTIME_API. Init failures are posted to /runtime/init/error and the
 * process exits 1.
 *
 * Lambda Managed Instances ($AWS_LAMBDA_MAX_CONCURRENCY above 1): this process forks that
 * many workers (node:cluster), each its own init and loop on its own connection, as
 * awslambdaric 4 does in Python; a worker that dies after its init is replaced (within a
 * budget), one that dies during it ends the runtime with its status.
 */
const LogPatch = require('./lib/log-patch.cjs');
const Errors = require('./lib/errors.cjs');
const UserFunction = require('./lib/user-function.cjs');
const { RapidClient } = require('./lib/rapid-client.cjs');
const { Runtime, beforeExit } = require('./lib/runtime.cjs');

function fatal(err) {
  process.stderr.write(`openruntime-node: fatal: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
}

async function main() {
  LogPatch.patchConsole();
  const handlerString = process.argv[2] || process.env._HANDLER || '';
  const appRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();

  let client;
  try {
    client = new RapidClient(process.env.AWS_LAMBDA_RUNTIME_API);
  } catch (err) {
    fatal(err);
    return;
  }

  // Until the first invocation, anything that escapes is an init error.
  const errorCallbacks = {
    uncaughtException: (error) => {
      client.postInitError(Errors.toRapidResponse(error)).finally(() => process.exit(129));
    },
    unhandledRejection: (error) => {
      client.postInitError(Errors.toRapidResponse(error)).finally(() => process.exit(128));
    },
  };
  process.on('uncaughtException', (error) => {
    LogPatch.structuredConsole.logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new Errors.UnhandledPromiseRejection(reason, promise);
    LogPatch.structuredConsole.logError('Unhandled Promise Rejection', error);
    errorCallbacks.unhandledRejection(error);
  });
  beforeExit.reset();
  process.on('beforeExit', beforeExit.invoke);

  if (process.env.OPENRUNTIME_DEBUG_PORT) {
    // As the Python runtime waits for debugpy (and sam local invoke -d breaks at once): the
    // handler's module loads only once a debugger is attached, so its breakpoints are hit.
    const inspector = require('node:inspector');
    if (inspector.url()) {
      process.stderr.write(`openruntime: waiting for a debugger on 127.0.0.1:${process.env.OPENRUNTIME_DEBUG_PORT} ` +
        '(Chrome DevTools or VS Code: attach)\n');
      inspector.waitForDebugger();
    } else {  // the port was taken (another sandbox's, say): run undebugged, as the Python runtime does
      process.stderr.write(`openruntime: the inspector could not open 127.0.0.1:${process.env.OPENRUNTIME_DEBUG_PORT}; ` +
        'running without a debugger\n');
    }
  }
  let handler;
  let metadata;
  try {
    handler = await UserFunction.load(appRoot, handlerString);
    metadata = UserFunction.getHandlerMetadata(handler);
  } catch (error) {
    LogPatch.structuredConsole.logError('Init Error', error);
    try {
      await client.postInitError(Errors.toRapidResponse(error));
    } catch (postError) {
      process.stderr.write(`openruntime-node: could not post the init error: ${postError.message}\n`);
    }
    process.exit(1);
  }

  if (process.send) process.send('initialised'); // a worker's word to the primary
  new Runtime(client, handler, metadata, errorCallbacks, fatal).scheduleIteration();
}

const RESPAWN_BUDGET = 20; // worker replacements within a minute before giving up

function primary(count) {
  const cluster = require('node:cluster');
  const initialised = new Set();
  let respawns = [];
  const fork = () => {
    const worker = cluster.fork();
    worker.on('message', (message) => {
      if (message === 'initialised') initialised.add(worker.id);
    });
  };
  cluster.on('exit', (worker, code, signal) => {
    const status = code !== null ? code : 128 + (require('node:os').constants.signals[signal] || 0);
    const now = Date.now();
    respawns = respawns.filter((t) => now - t < 60000).concat([now]);
    if (!initialised.has(worker.id) || respawns.length > RESPAWN_BUDGET) {
      for (const other of Object.values(cluster.workers)) other.process.kill('SIGKILL');
      process.exit(status);
    }
    fork();
  });
  for (let i = 0; i < count; i++) fork();
}

const workers = Number.parseInt(process.env.AWS_LAMBDA_MAX_CONCURRENCY || '1', 10);
if (workers > 1 && require('node:cluster').isPrimary) {
  primary(workers);
} else {
  main().catch(fatal);
}
