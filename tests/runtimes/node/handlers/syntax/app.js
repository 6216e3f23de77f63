exports.handler = async (event) => {
  return { oops: event. };
};
