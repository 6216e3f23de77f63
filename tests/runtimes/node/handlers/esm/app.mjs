// An ES module (.mjs) with top-level await.
const greeting = await Promise.resolve('hello from esm');

export const handler = async (event, context) => ({
  greeting,
  event,
  awsRequestId: context.awsRequestId,
  moduleType: typeof require === 'undefined' ? 'module' : 'commonjs',
});

export const throws = async () => {
  throw new SyntaxError('esm handler failed');
};
