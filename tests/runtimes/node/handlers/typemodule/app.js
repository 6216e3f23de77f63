// A .js file in a "type": "module" package: loaded as an ES module.
export const handler = async (event) => ({
  event,
  moduleType: typeof require === 'undefined' ? 'module' : 'commonjs',
});
