exports.handler = async (event) => ({ from: 'sub/dir/mod.js', event });
