// The function's handler. pipeline.yml runs openruntime's middlewares around it:
//
// * `http` turns API Gateway, Function URL and ALB events into one request shape
//   (method, path, query, headers, cookies, body …) and what this handler returns into the
//   response that front door expects; if the handler throws, the caller gets an HTTP 500.
// * `log` writes one JSON line for the event and one for the response, secrets redacted.
//
// Other events (SQS, S3, EventBridge …) reach the handler as AWS sent them.

export const handler = async (event, context) => {
  if (event.method && event.source) return httpRequest(event, context); // as `http` normalised it
  if (event.Records) return sqsBatch(event);
  return { message: 'Hello from openruntime!', event };
};

function httpRequest(request, context) {
  const name = request.query.name?.[0] ?? 'world';
  return {
    statusCode: 200,
    headers: { 'Cache-Control': 'no-store' },
    // Any JSON value: `http` serialises it and adds Content-Type: application/json.
    body: {
      message: `Hello, ${name}!`,
      method: request.method,
      path: request.path,
      via: request.source, // apigw-v1, apigw-v2, function-url or alb
      requestId: context.awsRequestId,
    },
  };
}

function sqsBatch(event) {
  const failed = [];
  for (const record of event.Records) {
    try {
      const body = record.body;
      const message = /^[[{]/.test(body) ? JSON.parse(body) : body;
      console.info(`message ${record.messageId}:`, message);
    } catch (err) {
      console.error(`message ${record.messageId} failed:`, err);
      failed.push({ itemIdentifier: record.messageId });
    }
  }
  // A partial batch response (with ReportBatchItemFailures on the SQS event source):
  // only the failed messages go back to the queue.
  return { batchItemFailures: failed };
}
