// Node handlers for the same behavioural checks as the Python and shell ones.
exports.ok = async (event, context) => ({
  got: event,
  requestId: context.awsRequestId,
  arn: context.invokedFunctionArn,
  remainingMs: context.getRemainingTimeInMillis(),
});

exports.fail = async () => {
  throw new TypeError("node handler failed on purpose");
};
