'use strict';
/**
 * openruntime Node.js runtime — entry point (see README.md).
 *
 *   node index.cjs [HANDLER]      HANDLER defaults to $_HANDLER
 *
 * Task root: $LAMBDA_TASK_ROOT, else the working directory. Talks to the Runtime API
 * at $AWS_LAMBDA_RUNTIME_API. Init failures are posted to /runtime/init/error and the
 * process exits 1.
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

  new Runtime(client, handler, metadata, errorCallbacks, fatal).scheduleIteration();
}

main().catch(fatal);
