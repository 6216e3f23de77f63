exports.handler = (event, context, callback) => {
  callback(null, { from: 'app.cjs', moduleType: typeof require === 'undefined' ? 'module' : 'commonjs' });
};
