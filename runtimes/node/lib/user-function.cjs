'use strict';
/**
 * Find and load the handler, as Lambda's Node.js runtime does.
 *
 * Handler string: `[dir/]module.function[.nested]`. The module file is looked up under
 * the task root, in this order (the official runtime's):
 *   1. `module` with no extension (or a directory), with require()
 *   2. `module.js` with require(), unless the nearest package.json says "type":"module"
 *   3. `module.js` with import() when it does, then `module.mjs` with import(),
 *      then `module.cjs` with require()
 *   4. Node's own resolution of `module` from the task root (node_modules, ...)
 */
const path = require('node:path');
const fs = require('node:fs');
const { pathToFileURL } = require('node:url');
const {
  HandlerNotFound,
  MalformedHandlerName,
  ImportModuleError,
  UserCodeSyntaxError,
  MalformedStreamingHandler,
} = require('./errors.cjs');

const FUNCTION_EXPR = /^([^.]*)\.(.*)$/;
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HANDLER_HIGHWATERMARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const STREAM_RESPONSE = 'response';

function tryRequireFile(file, extension) {
  const p = file + (extension || '');
  return fs.existsSync(p) ? require(p) : undefined;
}

async function tryImport(file, extension) {
  const p = file + (extension || '');
  return fs.existsSync(p) ? await import(pathToFileURL(p).href) : undefined;
}

function folderHasTypeModule(folder) {
  if (folder.endsWith('/node_modules')) return false;
  const pj = path.join(folder, 'package.json');
  if (fs.existsSync(pj)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(pj, 'utf8'));
      if (pkg) return pkg.type === 'module';
    } catch (e) {
      console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
      return false;
    }
  }
  if (folder === path.dirname(folder)) return false;
  return folderHasTypeModule(path.dirname(folder));
}

function jsIsModule(file) {
  const js = file + '.js';
  return fs.existsSync(js) ? folderHasTypeModule(path.dirname(path.resolve(js))) : false;
}

async function tryLoad(appRoot, moduleRoot, moduleName) {
  const lambdaStylePath = path.resolve(appRoot, moduleRoot, moduleName);
  const extensionless = tryRequireFile(lambdaStylePath);
  if (extensionless) return extensionless;

  const isModule = jsIsModule(lambdaStylePath);
  if (!isModule) {
    const js = tryRequireFile(lambdaStylePath, '.js');
    if (js) return js;
  }
  const loaded =
    (isModule && (await tryImport(lambdaStylePath, '.js'))) ||
    (await tryImport(lambdaStylePath, '.mjs')) ||
    tryRequireFile(lambdaStylePath, '.cjs');
  if (loaded) return loaded;

  const nodeStylePath = require.resolve(moduleName, {
    paths: [appRoot, path.resolve(appRoot, moduleRoot)],
  });
  return require(nodeStylePath);
}

function installGlobals() {
  const off = process.env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA;
  if (off === '1' || off === 'true') return;
  const { HttpResponseStream } = require('./streaming.cjs');
  globalThis.awslambda = {
    ...globalThis.awslambda,
    streamifyResponse(handler, options) {
      handler[HANDLER_STREAMING] = STREAM_RESPONSE;
      if (typeof options?.highWaterMark === 'number') {
        handler[HANDLER_HIGHWATERMARK] = parseInt(options.highWaterMark, 10);
      }
      return handler;
    },
    HttpResponseStream,
  };
}

async function loadUserApp(appRoot, moduleRoot, moduleName) {
  installGlobals();
  try {
    return await tryLoad(appRoot, moduleRoot, moduleName);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(e);
    if (e && (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND')) {
      throw new ImportModuleError(e);
    }
    throw e;
  }
}

function findIn(object, nestedProperty) {
  return nestedProperty
    .split('.')
    .reduce((nested, key) => (nested == null ? undefined : nested[key]), object);
}

/** Load the module and return the handler function (throws Runtime.* errors). */
async function load(appRoot, fullHandlerString) {
  if (fullHandlerString.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const handlerString = path.basename(fullHandlerString);
  const moduleRoot = fullHandlerString.substring(0, fullHandlerString.indexOf(handlerString));
  const match = handlerString.match(FUNCTION_EXPR);
  if (!match || match.length !== 3) throw new MalformedHandlerName('Bad handler');
  const [, moduleName, handlerPath] = match;

  const app = await loadUserApp(appRoot, moduleRoot, moduleName);
  let handler = findIn(app, handlerPath);
  if (!handler && app && typeof app === 'object' && 'default' in app) {
    handler = findIn(app.default, handlerPath);
  }
  if (!handler) throw new HandlerNotFound(`${fullHandlerString} is undefined or not exported`);
  if (typeof handler !== 'function') {
    throw new HandlerNotFound(`${fullHandlerString} is not a function`);
  }
  return handler;
}

function getHandlerMetadata(handler) {
  const streaming = handler[HANDLER_STREAMING];
  let isStreaming = false;
  if (streaming != null && streaming !== false) {
    if (streaming !== STREAM_RESPONSE) {
      throw new MalformedStreamingHandler('Only response streaming is supported.');
    }
    isStreaming = true;
  }
  const hwm = parseInt(handler[HANDLER_HIGHWATERMARK], 10);
  return { streaming: isStreaming, highWaterMark: Number.isNaN(hwm) ? undefined : hwm };
}

module.exports = { load, getHandlerMetadata };
