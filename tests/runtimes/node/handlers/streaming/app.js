exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.setContentType('text/plain');
  for (let i = 0; i < event.chunks; i++) {
    responseStream.write(`chunk ${i};`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  responseStream.end();
});
