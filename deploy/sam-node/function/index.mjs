// Example Node.js function for deploy/sam-node/template.yaml: returns what it was called
// with. Nothing in it knows about openruntime; the pipeline runs around it.
export const handler = async (event, context) => ({
  message: "Hello from Node.js behind the openruntime pipeline",
  node: process.version,
  event,
  requestId: context.awsRequestId,
});
