import missing from 'no-such-package-openruntime';

export const handler = async () => missing;
